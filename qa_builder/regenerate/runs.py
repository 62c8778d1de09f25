"""Regeneration runs: rebuild the affected agreements of a workspace as new versions, in parallel, resumably.

A new version is built in a staging folder beside the agreement's versions and appears by one atomic rename,
so a killed run leaves either a whole version or none. A run's plan is kept in regenerations/pending.json until
it is complete; re-running `regenerate` continues the same run, and its summary covers every agreement of the
run whether built before or after the interruption. Earlier versions, signed PDFs and manifests are never
opened for writing.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import re
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa_builder.audit.events import Action, DetailValue
from qa_builder.audit.record import failure_sentence, record
from qa_builder.builds.pipeline import output_stem
from qa_builder.errors import InputError, failure_line
from qa_builder.files import read_small_file, write_bytes_atomic
from qa_builder.regenerate.analysis import Impact, analyse, record_impact
from qa_builder.regenerate.version import REGENERATION_SUFFIX, VersionBuilt, build_version, json_bytes
from qa_builder.render.pdf import PdfConverter
from qa_builder.workspace.inputs import Inputs, current_inputs, open_workspace_engine
from qa_builder.workspace.layout import Workspace

if TYPE_CHECKING:
    from qa_builder.render.typeset import PdfTypesetter

PENDING_FILE = "pending.json"


@dataclass
class RegenerationReport:
    """The outcome of `regenerate`."""

    run_id: str
    inputs: Inputs
    planned: list[Impact] = field(default_factory=list)
    built: list[VersionBuilt] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    summary: Path | None = None
    resumed: bool = False


Progress = Callable[[str, str | None], None]  # (agreement id, error or None)


def regenerate(workspace: Workspace, *, jobs: int = 1, dry_run: bool = False, only: list[str] | None = None,
               progress: Progress | None = None,
               converter: PdfConverter | PdfTypesetter | None = None) -> RegenerationReport:
    """Rebuild every affected agreement as a new version with a redline; skip unchanged ones (same model digest).

    One run at a time per workspace (a lock file). A run interrupted at any point is continued by the next call:
    partial staging folders are removed, finished versions are kept and recognised as up to date.
    """
    with planned_regeneration(workspace, only=only) as report:
        if not dry_run:
            run_regeneration(workspace, report, jobs=jobs, progress=progress, converter=converter)
        return report


@contextmanager
def planned_regeneration(workspace: Workspace, *, only: list[str] | None = None) -> Iterator[RegenerationReport]:
    """Lock the workspace, tidy up after an interrupted run, and analyse: the plan, before anything is built."""
    with _run_lock(workspace):
        workspace.clean_partial_versions()
        pending = workspace.regenerations / PENDING_FILE
        resumed = pending.is_file()
        run_id = _pending_run_id(pending) if resumed else _new_run_id()
        inputs = current_inputs(workspace)
        ids = _known(workspace, only)
        _record_unrecorded_versions(workspace)
        analyses = [a for i in ids if (a := analyse(workspace, inputs, i)) is not None]
        record_impact(workspace, inputs, analyses)
        report = RegenerationReport(run_id=run_id, inputs=inputs, resumed=resumed)
        report.planned = [a for a in analyses if a.affected]
        report.skipped = [a.agreement_id for a in analyses if not a.affected and a.error is None]
        report.failed = {a.agreement_id: a.error for a in analyses if a.error is not None}
        yield report


def _versions_or_none(workspace: Workspace, agreement_id: str) -> list[int]:
    """The agreement's versions, or none when its folder cannot be used (a link in it): that agreement's own
    analysis reports it; the others go on (one agreement's link refused the whole workspace: attack round 9)."""
    try:
        return workspace.versions(agreement_id)
    except InputError:
        return []


def _record_unrecorded_versions(workspace: Workspace) -> None:
    """Versions a killed run renamed into place just before it could append their audit event: record them now
    (marked as recorded late), so the trail misses no version."""
    seen = {(e.agreement_id, e.agreement_version) for e in workspace.trail.events()
            if e.action in ("build", "regenerate") and e.outcome == "ok"}
    for agreement_id in workspace.agreement_ids():
        for version in _versions_or_none(workspace, agreement_id):
            if (agreement_id, version) in seen:
                continue
            folder = workspace.version_dir(agreement_id, version)
            note = folder / f"{output_stem(agreement_id, version)}{REGENERATION_SUFFIX}"
            data = _read_note(note) or {}
            details: dict[str, DetailValue] = {"recorded_late": True, "reasons": data.get("reasons", [])}
            if "run_id" in data:
                details["run_id"] = str(data["run_id"])
            record(workspace.trail, "regenerate" if note.is_file() else "build", agreement_id=agreement_id,
                   agreement_version=version, files=sorted(folder.iterdir()), details=details)


def run_regeneration(workspace: Workspace, report: RegenerationReport, *, jobs: int = 1,
                     progress: Progress | None = None, converter: PdfConverter | PdfTypesetter | None = None) -> None:
    """Build the planned versions (inside `planned_regeneration`), then write the run's summary."""
    pending = workspace.regenerations / PENDING_FILE
    if report.planned and not report.resumed:
        write_bytes_atomic(pending, json_bytes({"run_id": report.run_id}))
    report.built = _build_all(workspace, report, jobs, progress, converter)
    report.summary = _write_summary(workspace, report)
    pending.unlink(missing_ok=True)  # the run is complete; only a kill leaves it for the next run to finish


def _build_all(workspace: Workspace, report: RegenerationReport, jobs: int, progress: Progress | None,
               converter: PdfConverter | PdfTypesetter | None) -> list[VersionBuilt]:
    plans = {a.agreement_id: a for a in report.planned}
    built, failed = _build_versions(
        workspace, list(plans), jobs, progress, converter, action="regenerate", extra={"run_id": report.run_id},
        build=lambda i, pool: build_version(workspace, report.inputs, i, pool, before=plans[i],
                                            run_id=report.run_id))
    report.failed.update(failed)
    return built


def _build_versions(workspace: Workspace, ids: list[str], jobs: int, progress: Progress | None,
                    converter: PdfConverter | PdfTypesetter | None, *, action: Action,
                    extra: dict[str, DetailValue], build: Callable[[str, PdfConverter | PdfTypesetter], VersionBuilt],
                    ) -> tuple[list[VersionBuilt], dict[str, str]]:
    """Build versions in parallel over one warm pool; a failure is recorded and reported, never fatal."""
    built: list[VersionBuilt] = []
    failed: dict[str, str] = {}
    if not ids:
        return built, failed
    jobs = max(1, min(jobs, len(ids)))
    pool = converter or open_workspace_engine(workspace, workers=jobs)
    pool.start()
    try:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix=f"qa-{action}") as executor:
            futures = {executor.submit(build, i, pool): i for i in ids}
            for future in as_completed(futures):
                agreement_id = futures[future]
                try:
                    built.append(future.result())
                    error = None
                except Exception as exc:  # one agreement's failure, whatever it is, never stops the others
                    error = failure_line(exc)
                    failed[agreement_id] = error
                    record(workspace.trail, action, outcome="failed", agreement_id=agreement_id,
                           details={"error": failure_sentence(exc), **extra})
                if progress is not None:
                    progress(agreement_id, error)
    finally:
        if converter is None:
            pool.close()
    return built, failed


def _write_summary(workspace: Workspace, report: RegenerationReport) -> Path | None:
    """regenerations/<run>.md: every version this run made (before and after any interruption), and failures."""
    entries = []
    for agreement_id in workspace.agreement_ids():
        for version in _versions_or_none(workspace, agreement_id):
            note = workspace.version_dir(agreement_id, version) / \
                f"{output_stem(agreement_id, version)}{REGENERATION_SUFFIX}"
            data = _read_note(note)
            if data is not None and data.get("run_id") == report.run_id:
                entries.append(data)
    if not entries and not report.failed:
        return None
    done_before = {str(d.get("agreement_id")) for d in entries}  # regenerated before an interruption of this run
    unchanged = len([i for i in report.skipped if i not in done_before])
    lines = [f"# Regeneration {report.run_id}", "",
             f"{len(entries)} agreement(s) regenerated as new versions; {unchanged} unchanged; "
             f"{len(report.failed)} failed.", "",
             "| agreement | version | why | changed clauses |", "|---|---|---|---|"]
    for data in sorted(entries, key=lambda d: str(d.get("agreement_id"))):
        other = [str(x) for x in data.get("other_changes", [])] or ["—"]
        clauses = "; ".join(str(x) for x in data.get("clause_changes", [])) or "none (" + "; ".join(other) + ")"
        lines.append(f"| {_cell(data.get('agreement_id', '?'))} | v{_cell(data.get('old_version', '?'))} → "
                     f"v{_cell(data.get('new_version', '?'))} | "
                     f"{_cell(', '.join(str(x) for x in data.get('reasons', [])))} | {_cell(clauses)} |")
    if report.failed:
        lines += ["", "## Failed", ""] + [f"- {_cell(i)}: {_cell(e)}" for i, e in sorted(report.failed.items())]
    path = workspace.regenerations / f"{report.run_id}.md"
    write_bytes_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return path


_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x85\u2028\u2029]")


def _cell(value: object) -> str:
    """`value` as the text of one Markdown table cell or list item: line breaks become spaces (a break ended the
    row, and a following "# ..." became a heading), a pipe or backslash is escaped, and < > & are written as
    entities so a library's text cannot add HTML. A library version, clause title or error message is free text
    (a version "| x | y |\\n# Heading <script>" broke the summary's table, session 7 attack)."""
    text = _LINE_BREAKS.sub(" ", str(value))
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_NOTE_LIMIT = 1 << 20


def _read_note(path: Path) -> dict[str, Any] | None:
    """A version's regeneration note (informational), or None when it is absent or cannot be used.

    The note sits in a workspace folder anyone may edit: a damaged, oversized or special file (a FIFO, a link to
    /dev/zero) must neither stop a regeneration nor hang it; the version itself and its build record stand.
    """
    try:
        data = json.loads(read_small_file(path, _NOTE_LIMIT))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k, []), list)
                                             for k in ("reasons", "clause_changes", "other_changes")):
        return None
    return data


def _pending_run_id(path: Path) -> str:
    """The id of the interrupted run `path` records, or a new one when the file cannot be used (bounded: a 700 MB
    pending.json in a shared workspace was read whole, 1.5 GB, session 6 attack)."""
    try:
        return str(json.loads(read_small_file(path, _NOTE_LIMIT))["run_id"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return _new_run_id()


def _new_run_id() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


@contextmanager
def _run_lock(workspace: Workspace) -> Iterator[None]:
    workspace.regenerations.mkdir(parents=True, exist_ok=True)
    with open(workspace.regenerations / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise InputError(f"{workspace.root}: another build or regeneration is running in this workspace") from exc
        yield


def build_new(workspace: Workspace, *, ids: list[str] | None = None, jobs: int = 1,
              progress: Progress | None = None, allow_findings: bool = False, allow_gaps: bool = False,
              converter: PdfConverter | PdfTypesetter | None = None) -> tuple[list[VersionBuilt], dict[str, str]]:
    """Build the first version of every agreement (or `ids`) that has none yet.

    `converter` is a warm LibreOffice pool to share; one of `jobs` workers is started and closed when None.
    """
    with _run_lock(workspace):
        workspace.clean_partial_versions()
        _record_unrecorded_versions(workspace)
        todo, refused = [], {}
        for agreement_id in _known(workspace, ids):
            try:
                if workspace.latest(agreement_id) is None:
                    todo.append(agreement_id)
            except InputError as exc:  # this agreement's folder cannot be used; the others are built
                refused[agreement_id] = str(exc).splitlines()[0]
        if not todo:
            return [], refused
        inputs = current_inputs(workspace)
        built, failed = _build_versions(
            workspace, todo, jobs, progress, converter, action="build", extra={},
            build=lambda i, pool: build_version(workspace, inputs, i, pool, allow_findings=allow_findings,
                                                allow_gaps=allow_gaps))
        return built, {**refused, **failed}


def _known(workspace: Workspace, ids: list[str] | None) -> list[str]:
    """`ids` (default: every agreement), refusing one the workspace does not have."""
    known = workspace.agreement_ids()
    ids = list(dict.fromkeys(ids)) if ids else None  # the same ID twice is one agreement
    for agreement_id in ids or []:
        if agreement_id not in known:
            raise InputError(f"{workspace.root}: no agreement {agreement_id} (agreements/{agreement_id}/answers.yaml)")
    return ids or known

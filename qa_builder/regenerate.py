"""Impact analysis and regeneration: rebuild affected agreements as new versions with redlines.

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
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from qa_builder import clock
from qa_builder.audit.events import Action, DetailValue
from qa_builder.audit.record import failure_sentence, record
from qa_builder.audit.store import AuditTrail
from qa_builder.errors import InputError, QABuilderError, failure_line
from qa_builder.files import fsync_dir, fsync_tree, read_small_file, sha256_file, write_bytes_atomic
from qa_builder.models.agreement import Agreement
from qa_builder.models.answers import RevisionEntry
from qa_builder.models.build import Artefact, AuditHead, ClauseUse
from qa_builder.negotiation.counter import write_counter_proposal
from qa_builder.negotiation.decisions import load_negotiation
from qa_builder.negotiation.overrides import OverrideConflict, OverrideState, apply_overrides, conflict_message
from qa_builder.pipeline import BuildSettings, build_answers, output_stem, prepare_agreement
from qa_builder.redline import ClauseChange, compare_agreements, write_redline
from qa_builder.render.pdf import PdfConverter
from qa_builder.workspace import MODEL_SUFFIX, PARTIAL_PREFIX, Workspace
from qa_builder.workspace_answers import Inputs as Inputs
from qa_builder.workspace_answers import current_inputs as current_inputs
from qa_builder.workspace_answers import effective_answers as effective_answers
from qa_builder.workspace_answers import history_of as history_of
from qa_builder.workspace_answers import load_workspace_answers as load_workspace_answers

Reason = Literal["answers changed", "clause changed", "template changed", "library version changed",
                 "negotiated override"]
PENDING_FILE = "pending.json"
REGENERATION_SUFFIX = ".regeneration.json"


@dataclass(frozen=True)
class Impact:
    """How an agreement's latest version differs from what the current inputs would produce."""

    agreement_id: str
    version: int
    affected: bool
    reasons: tuple[Reason, ...]
    clause_changes: tuple[ClauseChange, ...]
    other_changes: tuple[str, ...]
    candidate_digest: str
    error: str | None = None
    overrides: tuple[OverrideState, ...] = ()  # the negotiated clause overrides, applied or in conflict


# -- impact analysis -------------------------------------------------------------------------------------------------

def analyse(workspace: Workspace, inputs: Inputs, agreement_id: str) -> Impact | None:
    """The impact of the current inputs on one agreement's latest version (None when it has no version)."""
    latest = workspace.latest(agreement_id)
    if latest is None:
        return None
    try:
        record = workspace.record(agreement_id, latest)
        built = workspace.agreement(agreement_id, latest)
        answers_file = load_workspace_answers(workspace, agreement_id)
        same_frame = effective_answers(answers_file, latest, history_of(built))
        candidate = prepare_agreement(same_frame, inputs.library)
        candidate, overrides = apply_overrides(candidate, load_negotiation(workspace, agreement_id).overrides)
    except QABuilderError as exc:
        return Impact(agreement_id, latest, False, (), (), (), "", error=str(exc).splitlines()[0])
    if any(o.state != "applied" for o in overrides):
        return Impact(agreement_id, latest, False, (), (), (), "", overrides=tuple(overrides),
                      error=conflict_message(agreement_id, overrides).splitlines()[0])
    comparison = compare_agreements(built, candidate)
    reasons: list[Reason] = []
    answers_changed = record.answers_sha256 != answers_file.sha256
    if answers_changed:
        reasons.append("answers changed")
    before = {c.clause_id: c.paragraphs for s in built.sections for c in s.clauses}
    negotiated = {o.clause_id for o in overrides if o.state == "applied"
                  and before.get(o.clause_id) != next((c.paragraphs for s in candidate.sections for c in s.clauses
                                                       if c.clause_id == o.clause_id), None)}
    if negotiated:
        reasons.append("negotiated override")
    library_side = tuple(c for c in comparison.clause_changes
                         if not (c.clause_id in negotiated and c.kind == "new_text"))
    if _library_changed_clauses(record.clauses, library_side, answers_changed=answers_changed):
        reasons.append("clause changed")
    if record.template_sha256 != inputs.template_sha256:
        reasons.append("template changed")
    if record.library_version != inputs.library.info.version:
        reasons.append("library version changed")
    affected = _content_digest(candidate) != _content_digest(built) or "template changed" in reasons
    if affected and not reasons:
        reasons.append("clause changed")
    return Impact(agreement_id, latest, affected, tuple(reasons), comparison.clause_changes,
                  comparison.other_changes, candidate.model_digest, overrides=tuple(overrides))


def _content_digest(agreement: Agreement) -> str:
    """The model digest without the decisions about clauses left out: a new version of a clause that does not
    apply to an agreement changes its selection record, not the agreement."""
    included = [d for d in agreement.decisions if d.included]
    return agreement.model_copy(update={"decisions": included, "model_digest": ""}).with_digest().model_digest


def _library_changed_clauses(used: list[ClauseUse], changes: tuple[ClauseChange, ...], *,
                             answers_changed: bool) -> bool:
    """Whether a clause changed in the library: a new version, or (with the answers unchanged) new text or a
    different selection. With changed answers, new text and a different selection are put down to them."""
    if any(c.kind == "new_version" for c in changes):
        return True
    versions = {c.id: c.version for c in used}
    if any(c.kind == "added" and c.clause_id in versions and versions[c.clause_id] != c.new_version
           for c in changes):
        return True
    return not answers_changed and any(c.kind in ("new_text", "added", "removed") for c in changes)


def impact(workspace: Workspace, *, clause: str | None = None, only: list[str] | None = None) -> list[Impact]:
    """The impact on every built agreement (or `only` these), optionally only those where `clause` changed.

    Recorded in the audit trail, with a library_change / template_change event when the library version or
    the template differs from what the trail last saw.
    """
    inputs = current_inputs(workspace)
    found = [r for i in only or workspace.agreement_ids() if (r := analyse(workspace, inputs, i)) is not None]
    record_impact(workspace, inputs, found)
    if clause:
        found = [r for r in found if any(c.clause_id == clause for c in r.clause_changes)]
    return found


def record_impact(workspace: Workspace, inputs: Inputs, results: list[Impact]) -> None:
    """An `impact` event, preceded by library_change / template_change events for inputs new to the trail."""
    seen_library, seen_template = _last_seen_inputs(workspace.trail)
    library_file = workspace.library_dir / "library.yaml"
    if seen_library != inputs.library.info.version:
        record(workspace.trail, "library_change", files=[library_file],
               details={"from_version": seen_library, "to_version": inputs.library.info.version})
    if seen_template != inputs.template_sha256:
        record(workspace.trail, "template_change", files=[inputs.template],
               details={"from_sha256": seen_template, "to_sha256": inputs.template_sha256})
    affected = [r.agreement_id for r in results if r.affected]
    record(workspace.trail, "impact", details={
        "library_version": inputs.library.info.version, "template_sha256": inputs.template_sha256,
        "analysed": len(results), "affected": affected,
        "could_not_analyse": [r.agreement_id for r in results if r.error]})


def _last_seen_inputs(trail: AuditTrail) -> tuple[str | None, str | None]:
    """The library version and template sha256 the trail last recorded (from any event that names them)."""
    library = template = None
    for event in trail.events():
        details = event.details
        library = details.get("to_version", details.get("library_version", library)) \
            if event.action in ("library_change", "impact", "build", "regenerate") else library
        template = details.get("to_sha256", details.get("template_sha256", template)) \
            if event.action in ("template_change", "impact", "build", "regenerate") else template
    return (str(library) if library is not None else None, str(template) if template is not None else None)


# -- building a version ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VersionBuilt:
    """One new version, as the summary reports it."""

    agreement_id: str
    old_version: int | None
    new_version: int
    reasons: tuple[str, ...]
    clause_changes: tuple[ClauseChange, ...]
    other_changes: tuple[str, ...]


def build_version(workspace: Workspace, inputs: Inputs, agreement_id: str, converter: PdfConverter | None, *,
                  before: Impact | None = None, run_id: str | None = None, allow_findings: bool = False,
                  allow_gaps: bool = False) -> VersionBuilt:
    """Build the agreement's next version (its first when it has none) into a new version folder.

    Args:
        before: the impact analysis of the latest version, when already made (it is made here otherwise).

    Raises:
        QABuilderError: the build failed; no version folder was made.
    """
    answers_file = load_workspace_answers(workspace, agreement_id)
    latest = workspace.latest(agreement_id)
    previous = workspace.agreement(agreement_id, latest) if latest is not None else None
    if before is None and latest is not None:
        before = analyse(workspace, inputs, agreement_id)
    version = (latest + 1) if latest is not None else answers_file.answers.agreement.version
    history = history_of(previous) if previous is not None else list(answers_file.answers.revision_history)
    description = _revision_text(before) if before is not None else ""
    if description:
        history.append(RevisionEntry(version=version, date=clock.today(), description=description))
    staging = workspace.agreement_dir(agreement_id) / f"{PARTIAL_PREFIX}{version}-{secrets.token_hex(4)}"
    target = workspace.version_dir(agreement_id, version)
    try:
        settings = BuildSettings(out_dir=staging, library=inputs.library, template=inputs.template,
                                 allow_findings=allow_findings, allow_gaps=allow_gaps,
                                 pdf_engine="libreoffice")  # workspaces convert their own template's DOCX
        head = workspace.trail.head()  # the trail as this version is built: anchored in its record
        overrides = load_negotiation(workspace, agreement_id).overrides

        def negotiated(agreement: Agreement) -> Agreement:
            changed, states = apply_overrides(agreement, overrides)
            if any(s.state != "applied" for s in states):
                raise OverrideConflict(conflict_message(agreement_id, states))
            return changed

        result = build_answers(effective_answers(answers_file, version, history), settings, converter,
                               adjust=negotiated if overrides else None)
        assert result.agreement is not None and result.record is not None
        stem = output_stem(agreement_id, version)
        write_bytes_atomic(staging / f"{stem}{MODEL_SUFFIX}", result.agreement.model_dump_json(indent=1).encode())
        built = VersionBuilt(agreement_id, latest, version, before.reasons if before else (),
                             before.clause_changes if before else (), before.other_changes if before else ())
        build_record = result.record.model_copy(
            update={"audit_head": AuditHead(seq=head.seq, hash=head.hash) if head is not None else None})
        if previous is not None:
            redline = staging / f"{stem}.redline.docx"
            write_redline(previous, result.agreement, redline)
            build_record = build_record.model_copy(update={"artefacts": [*build_record.artefacts, Artefact(
                file=redline.name, role="redline", media_type=_DOCX, sha256=sha256_file(redline),
                size=redline.stat().st_size)]})
            counter = write_counter_proposal(workspace, previous, result.agreement, staging / f"{stem}.counter.docx")
            if counter is not None:
                build_record = build_record.model_copy(update={"artefacts": [*build_record.artefacts, Artefact(
                    file=counter.name, role="counter-proposal", media_type=_DOCX, sha256=sha256_file(counter),
                    size=counter.stat().st_size)]})
        write_bytes_atomic(staging / f"{stem}.build.json", _json(build_record.model_dump(mode="json")))
        if run_id is not None:
            note = {"run_id": run_id, **_summary_data(built)}
            write_bytes_atomic(staging / f"{stem}{REGENERATION_SUFFIX}", _json(note))
        if target.exists():
            raise InputError(f"{target} appeared while this version was being built; nothing was replaced")
        fsync_tree(staging)  # on disk before it has a name: a power cut cannot leave an empty PDF in a version
        os.rename(staging, target)  # the version appears whole, or not at all
        fsync_dir(target.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    facts: dict[str, DetailValue] = {"reasons": list(built.reasons),
                                     "clause_changes": _summary_data(built)["clause_changes"],  # type: ignore[dict-item]
                                     "previous_version": latest, "library_version": inputs.library.info.version,
                                     "template_sha256": inputs.template_sha256}
    if run_id is not None:
        facts["run_id"] = run_id
    record(workspace.trail, "regenerate" if latest is not None else "build", agreement_id=agreement_id,
           agreement_version=version, files=sorted(target.iterdir()), details=facts)
    return built


_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _revision_text(before: Impact) -> str:
    """The revision-history line: what changed and why."""
    changed = [f"{c.number} {c.title} ({_KIND_WORDS[c.kind]})" for c in before.clause_changes]
    why = ", ".join(before.reasons) or "regenerated"
    what = "; ".join(changed) if changed else "no clause text changed"
    text = f"Regenerated ({why}): {what}."
    return text if len(text) <= 900 else text[:897] + "..."


_KIND_WORDS = {"added": "added", "removed": "removed", "new_version": "new clause version",
               "new_text": "text changed", "moved": "moved"}


# -- regeneration runs -----------------------------------------------------------------------------------------------

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
               progress: Progress | None = None, converter: PdfConverter | None = None) -> RegenerationReport:
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


def _record_unrecorded_versions(workspace: Workspace) -> None:
    """Versions a killed run renamed into place just before it could append their audit event: record them now
    (marked as recorded late), so the trail misses no version."""
    seen = {(e.agreement_id, e.agreement_version) for e in workspace.trail.events()
            if e.action in ("build", "regenerate") and e.outcome == "ok"}
    for agreement_id in workspace.agreement_ids():
        for version in workspace.versions(agreement_id):
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
                     progress: Progress | None = None, converter: PdfConverter | None = None) -> None:
    """Build the planned versions (inside `planned_regeneration`), then write the run's summary."""
    pending = workspace.regenerations / PENDING_FILE
    if report.planned and not report.resumed:
        write_bytes_atomic(pending, _json({"run_id": report.run_id}))
    report.built = _build_all(workspace, report, jobs, progress, converter)
    report.summary = _write_summary(workspace, report)
    pending.unlink(missing_ok=True)  # the run is complete; only a kill leaves it for the next run to finish


def _build_all(workspace: Workspace, report: RegenerationReport, jobs: int, progress: Progress | None,
               converter: PdfConverter | None) -> list[VersionBuilt]:
    plans = {a.agreement_id: a for a in report.planned}
    built, failed = _build_versions(
        workspace, list(plans), jobs, progress, converter, action="regenerate", extra={"run_id": report.run_id},
        build=lambda i, pool: build_version(workspace, report.inputs, i, pool, before=plans[i],
                                            run_id=report.run_id))
    report.failed.update(failed)
    return built


def _build_versions(workspace: Workspace, ids: list[str], jobs: int, progress: Progress | None,
                    converter: PdfConverter | None, *, action: Action, extra: dict[str, DetailValue],
                    build: Callable[[str, PdfConverter], VersionBuilt]) -> tuple[list[VersionBuilt], dict[str, str]]:
    """Build versions in parallel over one warm pool; a failure is recorded and reported, never fatal."""
    built: list[VersionBuilt] = []
    failed: dict[str, str] = {}
    if not ids:
        return built, failed
    jobs = max(1, min(jobs, len(ids)))
    pool = converter or PdfConverter(workers=jobs)
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
        for version in workspace.versions(agreement_id):
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
        lines.append(f"| {data.get('agreement_id', '?')} | v{data.get('old_version', '?')} → "
                     f"v{data.get('new_version', '?')} | {', '.join(str(x) for x in data.get('reasons', []))} | "
                     f"{clauses} |")
    if report.failed:
        lines += ["", "## Failed", ""] + [f"- {i}: {e}" for i, e in sorted(report.failed.items())]
    path = workspace.regenerations / f"{report.run_id}.md"
    write_bytes_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return path


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


def _summary_data(built: VersionBuilt) -> dict[str, object]:
    return {"agreement_id": built.agreement_id, "old_version": built.old_version,
            "new_version": built.new_version, "reasons": list(built.reasons),
            "clause_changes": [f"{c.number} {c.title} ({_KIND_WORDS[c.kind]})" for c in built.clause_changes],
            "other_changes": list(built.other_changes)}


def _pending_run_id(path: Path) -> str:
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["run_id"])
    except (OSError, ValueError, KeyError):
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


def _json(data: object) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def build_new(workspace: Workspace, *, ids: list[str] | None = None, jobs: int = 1,
              progress: Progress | None = None, allow_findings: bool = False, allow_gaps: bool = False,
              converter: PdfConverter | None = None) -> tuple[list[VersionBuilt], dict[str, str]]:
    """Build the first version of every agreement (or `ids`) that has none yet.

    `converter` is a warm LibreOffice pool to share; one of `jobs` workers is started and closed when None.
    """
    with _run_lock(workspace):
        workspace.clean_partial_versions()
        _record_unrecorded_versions(workspace)
        todo = [i for i in _known(workspace, ids) if workspace.latest(i) is None]
        if not todo:
            return [], {}
        inputs = current_inputs(workspace)
        return _build_versions(
            workspace, todo, jobs, progress, converter, action="build", extra={},
            build=lambda i, pool: build_version(workspace, inputs, i, pool, allow_findings=allow_findings,
                                                allow_gaps=allow_gaps))


def _known(workspace: Workspace, ids: list[str] | None) -> list[str]:
    """`ids` (default: every agreement), refusing one the workspace does not have."""
    known = workspace.agreement_ids()
    ids = list(dict.fromkeys(ids)) if ids else None  # the same ID twice is one agreement
    for agreement_id in ids or []:
        if agreement_id not in known:
            raise InputError(f"{workspace.root}: no agreement {agreement_id} (agreements/{agreement_id}/answers.yaml)")
    return ids or known

"""One agreement end to end: answers → Agreement → DOCX → PDF/A with signature fields → build record."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from qa_builder import __version__, clock
from qa_builder.answers.load import AnswersFile, load_answers
from qa_builder.errors import (
    ConversionError,
    CoverageError,
    Hint,
    OutputExistsError,
    OutputFolderError,
    Remedy,
    ReviewError,
    TemplateError,
)
from qa_builder.files import folder_lock, fsync_dir, fsync_tree, inside, sha256_file, write_bytes_atomic, write_problem
from qa_builder.models.agreement import Agreement
from qa_builder.models.build import Artefact, BuildRecord, ClauseUse
from qa_builder.models.findings import Finding
from qa_builder.models.library import ClauseLibrary
from qa_builder.render.docx import default_template_path, render_docx, template_sha256
from qa_builder.render.pdf import PdfConverter
from qa_builder.review.checks import COVERAGE_GAP, review_with_preflight
from qa_builder.review.preflight import Preflight, preflight

if TYPE_CHECKING:
    from qa_builder.render.typeset import PdfTypesetter

Format = Literal["docx", "pdf", "both"]
STAGING_PREFIX = ".qa-builder-staging-"
MOVING_PREFIX = ".qa-builder-moving-"
"""A build's outputs are moved into place under a marker `.qa-builder-moving-<build record name>`, removed once the
build record is in place: an output without its record is what an interrupted build left only when the marker is
there too; any other file of that name is someone's own, and is replaced only with --force."""
"""Staging folders inside the output folder: a build's outputs before they are moved into place."""
PdfEngine = Literal["libreoffice", "typst"]
PDF_ENGINES: tuple[PdfEngine, ...] = ("libreoffice", "typst")
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "build-record": "application/json",
}


@dataclass(frozen=True)
class BuildSettings:
    """What every build in a run shares."""

    out_dir: Path
    library: ClauseLibrary
    template: Path
    fmt: Format = "both"
    force: bool = False
    allow_findings: bool = False
    allow_gaps: bool = False
    today: dt.date | None = None  # the date review checks judge by; None: clock.today() at build time
    now: dt.datetime | None = None  # the build record's created_at; None: clock.now() at build time
    pdf_engine: PdfEngine = "typst"


def default_pdf_engine(template: Path, *, sha256: str | None = None) -> PdfEngine:
    """The engine a build uses when none is asked for: Typst, unless the DOCX template is a custom one.

    Typst typesets the bundled layout, so with a custom template only LibreOffice's conversion of the DOCX
    makes a PDF that says what that DOCX says.

    Args:
        template: the DOCX template the build fills.
        sha256: the template's sha256 (hex) when the caller already has it; the template is not read again then.
    """
    if (sha256 or template_sha256(template)) == template_sha256(default_template_path()):
        return "typst"
    return "libreoffice"


def open_pdf_engine(engine: PdfEngine, *, workers: int = 1) -> PdfConverter | PdfTypesetter:
    """The PDF maker for `engine`: a warm LibreOffice pool converting the DOCX, or Typst typesetting the model.

    Both are context managers with start() and close(); neither starts a process yet.

    Raises:
        ConversionError: the engine's programs or fonts are not installed.
    """
    if engine == "typst":
        from qa_builder.render.typeset import PdfTypesetter

        return PdfTypesetter(workers=workers)
    return PdfConverter(workers=workers)


def check_engine_template(settings: BuildSettings) -> None:
    """Refuse Typst with a custom DOCX template: the typeset PDF follows the bundled layout, not the template's.

    Raises:
        TemplateError: settings.template is not (a copy of) the bundled template and the PDF is typeset.
    """
    if settings.pdf_engine != "typst" or settings.fmt == "docx":
        return
    if template_sha256(settings.template) != template_sha256(default_template_path()):
        raise TemplateError(f"{settings.template}: the typst engine typesets the bundled layout, so its PDF "
                            "would not say what this custom template's DOCX says",
                            hint=Hint(Remedy.LIBREOFFICE_ENGINE))


@dataclass(frozen=True)
class BuildResult:
    """What one build wrote."""

    answers: Path
    agreement_id: str
    version: int
    files: list[Path] = field(default_factory=list)
    record: BuildRecord | None = None
    timings: dict[str, float] = field(default_factory=dict)
    agreement: Agreement | None = None
    notes: list[str] = field(default_factory=list)


def output_stem(agreement_id: str, version: int) -> str:
    """'QA-1', 3 → 'QA-1_v3'."""
    return f"{agreement_id}_v{version}"


_MOVES = threading.Lock()
"""Serialises the final check-and-move of the builds of one process."""
_CLAIMS: dict[Path, set[str]] = {}
"""Output stems already built into a locked folder during this run (guarded by _MOVES)."""


@contextmanager
def locked_output_folder(out_dir: Path, notice: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold `out_dir`'s build lock (flock on the folder) for a run, and first remove what killed runs left in it.

    A second run into the same folder waits until the first has finished (`notice` is told), then sees
    its outputs: a build of the same agreement version is refused (or replaced with `force`), others go
    ahead. Staging folders found while holding the lock belong to no running build: they are removed.

    Raises:
        OutputFolderError: the folder cannot be made or written (disk full, read-only, permission).
    """
    def waiting() -> None:
        if notice is not None:
            notice(f"waiting for another qa-builder run that is building into {out_dir} to finish")

    _make_output_folder(out_dir)
    key = out_dir.resolve()
    try:
        with folder_lock(out_dir, waiting):
            for staging in sorted(out_dir.glob(f"{STAGING_PREFIX}*")):
                shutil.rmtree(staging, ignore_errors=True)
                if notice is not None and not staging.exists():
                    notice(f"removed {staging.name} in {out_dir}, left by an interrupted build")
            with _MOVES:
                _CLAIMS[key] = set()
            try:
                yield
            finally:
                with _MOVES:
                    _CLAIMS.pop(key, None)
    except OSError as exc:
        raise OutputFolderError(write_problem(out_dir, exc) or _cannot_write(out_dir, exc)) from exc


def _make_output_folder(out_dir: Path) -> None:
    """Create `out_dir` (and its parents) if missing.

    Raises:
        OutputFolderError: a part of the path is a file, or the folder cannot be created there.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = write_problem(out_dir, exc)
        if problem is None:
            if exc.errno == errno.ENOTDIR or isinstance(exc, FileExistsError):
                problem = f"{out_dir}: is not a folder (a part of this path is a file); choose a folder"
            else:
                problem = f"{out_dir}: cannot be created as a folder ({exc.strerror}); choose another folder"
        raise OutputFolderError(problem) from exc


def prepare_agreement(answers_file: AnswersFile, library: ClauseLibrary, *, allow_gaps: bool = False,
                      checked: Preflight | None = None) -> Agreement:
    """Select clauses and assemble the Agreement model for validated answers (the shared `preflight`).

    Args:
        checked: the preflight of these answers and this library, when the caller already ran it.

    Raises:
        CoverageError: an applicable requirement is satisfied by no included clause (unless allow_gaps).
        AnswersError, RenderError, LibraryError: as `preflight`.
    """
    if checked is None:
        checked = preflight(answers_file, library)
    if checked.gaps and not allow_gaps:
        lines = [f"{answers_file.path}: requirement {r.id} ({r.source}) applies but no included clause satisfies it"
                 for r in checked.gaps]
        lines.append(f"{answers_file.path}: not built because of {len(checked.gaps)} coverage gap(s); add or enable "
                     "clauses that cite them (see `qa-builder library coverage`)")
        raise CoverageError(lines, hint=Hint(Remedy.ACCEPT_GAPS))
    return checked.agreement


def planned_outputs(settings: BuildSettings, agreement_id: str, version: int) -> dict[str, Path]:
    """The files a build will write, by role.

    Raises:
        OutputExistsError: an output's name in the folder is a symbolic link leading out of it (never written
            through, nor replaced, even with --force).
    """
    stem = output_stem(agreement_id, version)
    names = {"build-record": f"{stem}.build.json"}
    if settings.fmt in ("docx", "both"):
        names["docx"] = f"{stem}.docx"
    if settings.fmt in ("pdf", "both"):
        names["pdf"] = f"{stem}.pdf"
    roles: dict[str, Path] = {}
    for role in ("docx", "pdf", "build-record"):
        if role in names:
            try:
                roles[role] = inside(settings.out_dir, names[role])
            except ValueError:
                raise OutputExistsError(f"{settings.out_dir / names[role]}: is a symbolic link leading out of "
                                        f"{settings.out_dir}; qa-builder never writes through it: remove it or "
                                        "choose another folder") from None
    return roles


def _cannot_write(folder: Path, exc: OSError) -> str:
    """One line for an OSError in an output folder that `write_problem` has no sentence for."""
    return f"{folder}: cannot be written ({exc.strerror or type(exc).__name__}); choose another folder"


def build_one(answers_path: Path, settings: BuildSettings,
              converter: PdfConverter | PdfTypesetter | None = None) -> BuildResult:
    """Build one agreement from its answers file into settings.out_dir.

    Outputs are made in a staging folder inside the output folder and moved into place only when all
    of them are complete; the build record is moved last. Existing outputs are refused unless `force`.
    A PDF is converted by `converter` (a warm pool shared by many builds) or, when it is None, by a
    LibreOffice started for this build and closed after it (~2 s more).

    Raises:
        QABuilderError: any failure, naming the culprit.
    """
    return build_answers(load_answers(answers_path), settings, converter)


def build_answers(answers_file: AnswersFile, settings: BuildSettings,
                  converter: PdfConverter | PdfTypesetter | None = None, *,
                  adjust: Callable[[Agreement], Agreement] | None = None) -> BuildResult:
    """Build one agreement from loaded (possibly adjusted) answers; see `build_one`.

    `converter` makes the PDF: a LibreOffice pool converts the DOCX; a Typst typesetter typesets the
    Agreement itself (then the DOCX is rendered only when it is wanted as an output). When it is None,
    the engine of `settings.pdf_engine` is started for this build and closed after it. `adjust` changes the
    assembled Agreement before anything is rendered (a workspace applies its negotiated clause overrides).
    """
    answers_path = answers_file.path
    timings: dict[str, float] = {}
    lap_start = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal lap_start
        now = time.perf_counter()
        timings[stage] = now - lap_start
        lap_start = now

    findings, checked = review_with_preflight(answers_file, settings.library, today=settings.today or clock.today())
    if settings.allow_gaps:  # accepted gaps are recorded as uncovered_requirements, not as review findings
        findings = [f for f in findings if f.id != COVERAGE_GAP]
    errors = [f for f in findings if f.severity == "error"]
    if errors and not settings.allow_findings:
        raise ReviewError(_review_message(answers_path, errors), hint=Hint(Remedy.ACCEPT_FINDINGS))
    agreement = prepare_agreement(answers_file, settings.library, allow_gaps=settings.allow_gaps, checked=checked)
    if adjust is not None:
        agreement = adjust(agreement)
    lap("assemble")
    targets = planned_outputs(settings, agreement.id, agreement.version)
    notes = answers_file.notices + _check_existing(targets, settings.force)
    try:
        settings.out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=settings.out_dir))
        try:
            record = _build_staged(answers_file, agreement, settings, converter, findings, targets, staging, lap)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        problem = write_problem(settings.out_dir, exc) or _cannot_write(settings.out_dir, exc)
        raise OutputFolderError(f"{answers_path}: not built: {problem}") from exc
    return BuildResult(answers=answers_path, agreement_id=agreement.id, version=agreement.version,
                       files=list(targets.values()), record=record, timings=timings, agreement=agreement, notes=notes)


def _moving_marker(targets: dict[str, Path]) -> Path:
    record = targets["build-record"]
    return record.with_name(MOVING_PREFIX + record.name)


def _check_existing(targets: dict[str, Path], force: bool) -> list[str]:
    """Refuse to replace a finished build, or a file of an output's name that no build of ours left (unless
    `force`); outputs an interrupted build left (its moving marker is there, its build record not) are replaced.
    """
    existing = [p for p in targets.values() if p.exists()]
    if not existing or force:
        return []
    if targets["build-record"].exists():
        raise OutputExistsError(f"{existing[0]} already exists",
                                hint=Hint(Remedy.REPLACE_OUTPUT, alternative="raise agreement.version"))
    if not _moving_marker(targets).exists():  # attack round 9: the user's own file of that name was replaced
        raise OutputExistsError(f"{existing[0]} already exists and no build record says a build made it; it is kept",
                                hint=Hint(Remedy.REPLACE_OUTPUT, alternative="raise agreement.version"))
    return [f"{p} has no build record (an interrupted build left it); it is replaced" for p in existing]


def _build_staged(answers_file: AnswersFile, agreement: Agreement, settings: BuildSettings,
                  converter: PdfConverter | PdfTypesetter | None, findings: list[Finding], targets: dict[str, Path],
                  staging: Path, lap: Callable[[str], None]) -> BuildRecord:
    """Make every output in `staging`, then move them into place, the build record last."""
    staged: dict[str, Path] = {}
    docx = staging / targets.get("docx", Path("draft.docx")).name
    if "docx" in targets or isinstance(converter, PdfConverter):
        render_docx(agreement, settings.template, docx)
        lap("docx")
    if "docx" in targets:
        staged["docx"] = docx
    fields: list[str] = []
    if "pdf" in targets:
        pdf = staging / targets["pdf"].name
        with contextlib.ExitStack() as stack:
            maker = converter
            if maker is None:  # no shared engine: start one for this build, and close it after
                maker = open_pdf_engine(settings.pdf_engine)
                stack.callback(maker.close)
            if isinstance(maker, PdfConverter):
                try:
                    maker.convert(docx, pdf)
                except ConversionError as exc:
                    if _disk_full(staging):  # LibreOffice only says it failed
                        raise OSError(28, "No space left on device") from exc
                    raise
            else:
                check_engine_template(replace(settings, pdf_engine="typst"))
                maker.typeset(agreement, pdf)
        lap("pdf")
        from qa_builder.render.fields import add_signature_fields  # pyHanko: ~1.3 s of imports, PDF only

        fields = [s.field_name for s in agreement.signatories]
        add_signature_fields(pdf, fields, {
            s.field_name: f"{s.name}, {s.title}, for {s.party_name}: {s.meaning}" for s in agreement.signatories})
        lap("fields")
        staged["pdf"] = pdf
    artefacts = [_artefact(role, path, targets[role].name) for role, path in staged.items()]
    record = _record(answers_file, agreement, settings, artefacts, fields, findings)
    staged["build-record"] = staging / targets["build-record"].name
    write_bytes_atomic(staged["build-record"], _json_bytes(record))
    if "docx" not in targets:
        docx.unlink(missing_ok=True)
    fsync_tree(staging)  # on disk before it has its name: a power cut cannot leave an empty output
    with _MOVES:
        claims = _CLAIMS.get(settings.out_dir.resolve())
        if claims is not None:
            if targets["build-record"].name in claims:
                raise OutputExistsError(f"{targets['build-record']} is built twice in this run (two answers files "
                                        f"for {agreement.id} v{agreement.version}); nothing was replaced")
            claims.add(targets["build-record"].name)
        if targets["build-record"].exists() and not settings.force:  # appeared while this build ran
            raise OutputExistsError(f"{targets['build-record']} appeared while this build ran; nothing was replaced")
        marker = _moving_marker(targets)
        marker.touch()
        fsync_dir(settings.out_dir)  # the marker is on disk before any output is
        for role, path in staged.items():  # the build record last: without it, the outputs are incomplete
            os.replace(path, targets[role])
        fsync_dir(settings.out_dir)
        marker.unlink()
    lap("record")
    return record


def _disk_full(folder: Path) -> bool:
    try:
        stats = os.statvfs(folder)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 1024 * 1024


def _artefact(role: str, path: Path, name: str) -> Artefact:
    return Artefact(file=name, role=role, media_type=MEDIA_TYPES[role],  # type: ignore[arg-type]
                    sha256=sha256_file(path), size=path.stat().st_size)


def _review_message(path: Path, errors: list[Finding]) -> list[str]:
    lines = [f"{path} line {f.line}: {f.id} {f.field}: {f.message}" for f in errors]
    lines.append(f"{path}: not built because of {len(errors)} review error(s); see `qa-builder check {path}`, "
                 "fix them")
    return lines


def _record(answers_file: AnswersFile, agreement: Agreement, settings: BuildSettings,
            artefacts: list[Artefact], fields: list[str], findings: list[Finding]) -> BuildRecord:
    clauses = [ClauseUse(id=c.clause_id, version=c.version, position=c.position, number=c.number)
               for s in agreement.sections for c in s.clauses]
    return BuildRecord(
        tool_version=__version__,
        agreement_id=agreement.id,
        agreement_version=agreement.version,
        answers_file=answers_file.path.name,
        answers_sha256=answers_file.sha256,
        library_name=agreement.library_name,
        library_version=agreement.library_version,
        clauses=clauses,
        template_file=settings.template.name,
        template_sha256=template_sha256(settings.template),
        model_digest=agreement.model_digest,
        artefacts=artefacts,
        signature_fields=fields,
        review_findings=findings,
        findings_accepted=any(f.severity == "error" for f in findings),
        uncovered_requirements=[t.requirement_id for t in agreement.traceability if not t.clause_numbers],
        created_at=clock.utc_text(settings.now or clock.now()),
    )


def _json_bytes(record: BuildRecord) -> bytes:
    return (json.dumps(record.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n").encode("utf-8")

"""One agreement end to end: answers → Agreement → DOCX → PDF/A with signature fields → build record."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from qa_builder import __version__, clock
from qa_builder.answers import AnswersFile, load_answers
from qa_builder.checks import COVERAGE_GAP, review_answers
from qa_builder.errors import CoverageError, OutputExistsError, ReviewError
from qa_builder.files import inside, sha256_file, write_bytes_atomic
from qa_builder.models.agreement import Agreement
from qa_builder.models.build import Artefact, BuildRecord, ClauseUse
from qa_builder.models.findings import Finding
from qa_builder.models.library import ClauseLibrary
from qa_builder.preflight import preflight
from qa_builder.render.docx import render_docx, template_sha256
from qa_builder.render.pdf import PdfConverter

Format = Literal["docx", "pdf", "both"]
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


def output_stem(agreement_id: str, version: int) -> str:
    """'QA-1', 3 → 'QA-1_v3'."""
    return f"{agreement_id}_v{version}"


def prepare_agreement(answers_file: AnswersFile, library: ClauseLibrary, *, allow_gaps: bool = False) -> Agreement:
    """Select clauses and assemble the Agreement model for validated answers (the shared `preflight`).

    Raises:
        CoverageError: an applicable requirement is satisfied by no included clause (unless allow_gaps).
        AnswersError, RenderError, LibraryError: as `preflight`.
    """
    checked = preflight(answers_file, library)
    if checked.gaps and not allow_gaps:
        lines = [f"{answers_file.path}: requirement {r.id} ({r.source}) applies but no included clause satisfies it"
                 for r in checked.gaps]
        lines.append(f"{answers_file.path}: not built because of {len(checked.gaps)} coverage gap(s); add or enable "
                     "clauses that cite them (see `qa-builder library coverage`), or pass --allow-gaps")
        raise CoverageError("\n".join(lines))
    return checked.agreement


def planned_outputs(settings: BuildSettings, agreement_id: str, version: int) -> dict[str, Path]:
    """The files a build will write, by role."""
    stem = output_stem(agreement_id, version)
    roles: dict[str, Path] = {}
    if settings.fmt in ("docx", "both"):
        roles["docx"] = inside(settings.out_dir, f"{stem}.docx")
    if settings.fmt in ("pdf", "both"):
        roles["pdf"] = inside(settings.out_dir, f"{stem}.pdf")
    roles["build-record"] = inside(settings.out_dir, f"{stem}.build.json")
    return roles


def build_one(answers_path: Path, settings: BuildSettings, converter: PdfConverter | None = None) -> BuildResult:
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
                  converter: PdfConverter | None = None) -> BuildResult:
    """Build one agreement from loaded (possibly adjusted) answers; see `build_one`."""
    answers_path = answers_file.path
    timings: dict[str, float] = {}
    lap_start = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal lap_start
        now = time.perf_counter()
        timings[stage] = now - lap_start
        lap_start = now

    findings = review_answers(answers_file, settings.library, today=settings.today or clock.today())
    if settings.allow_gaps:  # accepted gaps are recorded as uncovered_requirements, not as review findings
        findings = [f for f in findings if f.id != COVERAGE_GAP]
    errors = [f for f in findings if f.severity == "error"]
    if errors and not settings.allow_findings:
        raise ReviewError(_review_message(answers_path, errors))
    agreement = prepare_agreement(answers_file, settings.library, allow_gaps=settings.allow_gaps)
    lap("assemble")
    targets = planned_outputs(settings, agreement.id, agreement.version)
    existing = [p for p in targets.values() if p.exists()]
    if existing and not settings.force:
        raise OutputExistsError(f"{existing[0]} already exists; use --force to replace it or raise agreement.version")
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".qa-builder-staging-", dir=settings.out_dir))
    try:
        staged: dict[str, Path] = {}
        docx = staging / targets.get("docx", Path("draft.docx")).name
        render_docx(agreement, settings.template, docx)
        lap("docx")
        if "docx" in targets:
            staged["docx"] = docx
        fields: list[str] = []
        if "pdf" in targets:
            pdf = staging / targets["pdf"].name
            if converter is None:  # no shared pool: start LibreOffice for this one build, and close it
                with PdfConverter(workers=1) as own:
                    own.convert(docx, pdf)
            else:
                converter.convert(docx, pdf)
            lap("pdf")
            from qa_builder.render.fields import add_signature_fields  # pyHanko: ~1.3 s of imports, PDF only

            fields = [s.field_name for s in agreement.signatories]
            add_signature_fields(pdf, fields, {
                s.field_name: f"{s.name}, {s.title}, for {s.party_name}: {s.meaning}" for s in agreement.signatories})
            lap("fields")
            staged["pdf"] = pdf
        artefacts = [_artefact(role, path, targets[role].name) for role, path in staged.items()]
        record = _record(answers_file, agreement, settings, artefacts, fields, findings)
        for role, path in staged.items():
            os.replace(path, targets[role])
        write_bytes_atomic(targets["build-record"], _json_bytes(record))
        lap("record")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(answers=answers_path, agreement_id=agreement.id, version=agreement.version,
                       files=list(targets.values()), record=record, timings=timings, agreement=agreement)


def _artefact(role: str, path: Path, name: str) -> Artefact:
    return Artefact(file=name, role=role, media_type=MEDIA_TYPES[role],  # type: ignore[arg-type]
                    sha256=sha256_file(path), size=path.stat().st_size)


def _review_message(path: Path, errors: list[Finding]) -> str:
    lines = [f"{path} line {f.line}: {f.id} {f.field}: {f.message}" for f in errors]
    lines.append(f"{path}: not built because of {len(errors)} review error(s); see `qa-builder check {path}`, "
                 "fix them, or pass --allow-findings to build anyway and record them as accepted")
    return "\n".join(lines)


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

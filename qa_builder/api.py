"""The library API's own functions: what the command line and the demo do, callable from Python.

Import these from `qa_builder` (``import qa_builder as qa; qa.build(...)``); this module holds the few
functions that compose stages, and `qa_builder/__init__.py` re-exports them with the stages' own entry points.
Heavy libraries (LibreOffice's pool, pyHanko) are imported only by the functions that need them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa_builder.answers.load import AnswersFile
    from qa_builder.audit.store import AuditTrail
    from qa_builder.builds.batch import BatchItem, ProgressCallback
    from qa_builder.builds.pipeline import BuildResult, BuildSettings, Format, PdfEngine
    from qa_builder.models.agreement import Agreement
    from qa_builder.models.findings import Finding
    from qa_builder.models.library import ClauseLibrary, Requirement
    from qa_builder.regenerate import Impact, Progress, RegenerationReport, VersionBuilt
    from qa_builder.render.pdf import PdfConverter
    from qa_builder.verify.policy import VerifySettings
    from qa_builder.verify.report import VerifyReport
    from qa_builder.workspace.layout import Workspace

__all__ = ["AgreementReview", "assemble_agreement", "build", "build_many", "build_settings", "build_workspace",
           "check_answers", "regenerate_workspace", "review_agreement", "verify_files", "workspace_impact"]


def _answers(answers: Path | AnswersFile) -> AnswersFile:
    from qa_builder.answers.load import load_answers

    return load_answers(answers) if isinstance(answers, Path) else answers


def _library(library: Path | ClauseLibrary | None) -> ClauseLibrary:
    from qa_builder.library.loader import load_library

    return load_library(library) if library is None or isinstance(library, Path) else library


def check_answers(answers: Path | AnswersFile, *, library: Path | ClauseLibrary | None = None,
          today: dt.date | None = None) -> list[Finding]:
    """Review one answers file for the common Quality Agreement mistakes (what `qa-builder check` prints).

    Args:
        answers: an answers file (YAML or JSON), or answers already loaded with `load_answers`.
        library: a clause library folder or a loaded library; default the bundled one. Its
            ``review.yaml`` holds the thresholds.
        today: the date date-dependent checks judge by (an overdue periodic review); default `clock.today()`.

    Returns:
        The findings sorted by line, then id; each has its id, severity, field path, line, message, regulatory
        reason, fix and sources (requirement ids, e.g. ``EUGMP7.14``). Empty when nothing was found.

    Raises:
        AnswersError: the answers file cannot be read or does not validate (file, line and field named).
        LibraryError: the clause library is invalid.
    """
    from qa_builder.review.checks import review_answers

    return review_answers(_answers(answers), _library(library), today=today)


def assemble_agreement(answers: Path | AnswersFile, *, library: Path | ClauseLibrary | None = None,
             allow_gaps: bool = False) -> Agreement:
    """Select and fill the clauses for one answers file: the Agreement model the documents are rendered from.

    Args:
        answers: an answers file, or answers loaded with `load_answers`.
        library: a clause library folder or a loaded library; default the bundled one.
        allow_gaps: assemble even when an applicable regulatory requirement is satisfied by no clause.

    Returns:
        The Agreement: numbered sections and clauses, RACI, timelines, signatories, traceability, and its
        ``model_digest`` (sha256 of its canonical JSON).

    Raises:
        AnswersError: unreadable or invalid answers. CoverageError: a requirement gap (without `allow_gaps`).
        RenderError: a clause text failed to render.
    """
    from qa_builder.builds.pipeline import prepare_agreement

    return prepare_agreement(_answers(answers), _library(library), allow_gaps=allow_gaps)


@dataclass(frozen=True)
class AgreementReview:
    """What a reviewer reads before a build: the findings, the coverage gaps and the clause selection.

    Attributes:
        findings: as `check_answers` returns them (errors and warnings, each with reason, fix and sources).
        agreement: the Agreement assembled as `build` would (gaps allowed, so it exists even with gaps); its
            ``decisions`` say why each library clause is in or out, its ``traceability`` which clauses
            satisfy each applicable requirement.
        gaps: the applicable requirements no included clause satisfies (empty when fully covered).
    """

    findings: list[Finding]
    agreement: Agreement
    gaps: list[Requirement]


def review_agreement(answers: Path | AnswersFile, *, library: Path | ClauseLibrary | None = None,
                     today: dt.date | None = None) -> AgreementReview:
    """Review one agreement as a whole: findings, requirement gaps and why each clause is in or out.

    Args:
        answers: an answers file, or answers loaded with `load_answers`.
        library: a clause library folder or a loaded library; default the bundled one.
        today: the date date-dependent checks judge by; default `clock.today()`.

    Raises:
        AnswersError: unreadable or invalid answers, or answers naming what the library lacks.
        RenderError / LibraryError: a clause does not render or a condition fails for these answers.
    """
    from qa_builder.review.checks import review_answers
    from qa_builder.review.preflight import preflight

    answers_file, loaded = _answers(answers), _library(library)
    checked = preflight(answers_file, loaded)
    return AgreementReview(findings=review_answers(answers_file, loaded, today=today), agreement=checked.agreement,
                           gaps=checked.gaps)


def workspace_impact(workspace: Path | Workspace, *, ids: Sequence[str] | None = None) -> list[Impact]:
    """What `qa-builder impact` reports, without recording it in the audit trail (for a page that shows it).

    Args:
        workspace: the workspace folder, or one opened with `open_workspace`.
        ids: agreement ids; default all. Agreements with no version yet are left out.

    Returns:
        One `Impact` per built agreement: whether the current library, template or answers would change its
        latest version, why (``reasons``), and the clause changes; ``error`` names an agreement that cannot
        be analysed (its answers no longer load, say).

    Raises:
        InputError: not a workspace. LibraryError: the workspace's library is invalid.
    """
    from qa_builder.regenerate import analyse, current_inputs

    opened = _workspace(workspace)
    inputs = current_inputs(opened)
    return [found for agreement_id in ids or opened.agreement_ids()
            if (found := analyse(opened, inputs, agreement_id)) is not None]


def build_settings(out_dir: Path, *, library: Path | ClauseLibrary | None = None, template: Path | None = None,
                   fmt: Format = "both", force: bool = False, allow_findings: bool = False, allow_gaps: bool = False,
                   today: dt.date | None = None, pdf_engine: PdfEngine | None = None) -> BuildSettings:
    """What every build of a run shares, with the library loaded and the template checked once.

    Args:
        out_dir: the folder the documents and build records are written to (made when missing).
        library: a clause library folder or a loaded library; default the bundled one.
        template: a DOCX template; default the bundled one. It is checked to use only Agreement fields.
        fmt: "docx", "pdf" or "both".
        force: replace outputs that exist (otherwise a build refuses them).
        allow_findings: build despite review errors; they are recorded as accepted in the build record.
        allow_gaps: build despite requirement gaps; they are recorded.
        today: the date review checks judge by; default `clock.today()` at build time.
        pdf_engine: "typst" typesets the PDF from the Agreement model; "libreoffice" converts the DOCX. Default:
            typst, or libreoffice with a custom template (the typeset PDF follows the bundled layout).

    Raises:
        LibraryError: the library is invalid. TemplateError: the template is unreadable or uses unknown fields,
        or it is a custom template and pdf_engine is "typst".
    """
    from qa_builder.builds.pipeline import BuildSettings, check_engine_template, default_pdf_engine
    from qa_builder.render.docx import default_template_path, load_template

    template_path = template if template is not None else default_template_path()
    load_template(template_path)
    settings = BuildSettings(out_dir=out_dir, library=_library(library), template=template_path, fmt=fmt,
                             force=force, allow_findings=allow_findings, allow_gaps=allow_gaps, today=today,
                             pdf_engine=pdf_engine or default_pdf_engine(template_path))
    check_engine_template(settings)
    return settings


def build(answers: Path | AnswersFile, settings: BuildSettings, *,
          converter: PdfConverter | None = None) -> BuildResult:
    """Build one agreement: ``<id>_v<version>.docx``, ``.pdf`` (PDF/A-2b, one empty signature field per
    signatory) and ``.build.json`` in ``settings.out_dir``.

    Args:
        answers: an answers file, or answers loaded (and possibly adjusted) with `load_answers`.
        settings: from `build_settings`.
        converter: a warm `PdfConverter` shared by many builds (the PDF is then LibreOffice's conversion of the
            DOCX); when None and a PDF is wanted, the engine of ``settings.pdf_engine`` is started for this build
            and closed after it (LibreOffice: about 2 s more; Typst: about 0.3 s).

    Returns:
        The files written, the build record and the Agreement model.

    Raises:
        QABuilderError: any failure, naming the culprit; an `InputError` (answers, review errors, coverage
        gaps, an existing output) means the input must change. Nothing half-written is left behind.
    """
    from qa_builder.builds.pipeline import build_answers

    return build_answers(_answers(answers), settings, converter)


def build_many(answers: Sequence[Path], settings: BuildSettings, *, jobs: int = 1,
               converter: PdfConverter | None = None, progress: ProgressCallback | None = None) -> list[BatchItem]:
    """Build many answers files in parallel; one failure never stops the others.

    Args:
        answers: answers files and folders of them (a folder stands for its .yaml, .yml and .json files).
        settings: from `build_settings`.
        jobs: builds at once (and LibreOffice workers, when such a pool is made here).
        converter: a warm `PdfConverter` to share; when None and PDFs are wanted, the engine of
            ``settings.pdf_engine`` is started and closed (for LibreOffice, a pool of `jobs` workers).
        progress: called with each outcome as it completes.

    Returns:
        One item per answers file, in order: its result, or its error message.

    Raises:
        AnswersError: a folder holds no answers files.
    """
    from qa_builder.answers.load import collect_answers_paths
    from qa_builder.builds.batch import build_many as run_batch

    return run_batch(collect_answers_paths(list(answers)), settings, jobs=jobs, progress=progress,
                     converter=converter)


def _workspace(workspace: Path | Workspace) -> Workspace:
    from qa_builder.workspace.layout import open_workspace

    return open_workspace(workspace) if isinstance(workspace, Path) else workspace


def build_workspace(workspace: Path | Workspace, *, ids: Sequence[str] | None = None, jobs: int = 1,
                    converter: PdfConverter | None = None, allow_findings: bool = False, allow_gaps: bool = False,
                    progress: Progress | None = None) -> tuple[list[VersionBuilt], dict[str, str]]:
    """Build, in a workspace, the first version of every agreement (or of `ids`) that has none yet.

    Args:
        workspace: the workspace folder, or one opened with `open_workspace`.
        ids: agreement ids; default all.
        jobs: builds at once. converter: a warm pool to share (one is started and closed when None).
        allow_findings, allow_gaps: as in `build_settings`.
        progress: called with (agreement id, error or None) as each finishes.

    Returns:
        The versions built, and an error message per agreement that failed.

    Raises:
        InputError: not a workspace, or an unknown agreement id.
    """
    from qa_builder.regenerate import build_new

    return build_new(_workspace(workspace), ids=list(ids) if ids else None, jobs=jobs, progress=progress,
                     allow_findings=allow_findings, allow_gaps=allow_gaps, converter=converter)


def regenerate_workspace(workspace: Path | Workspace, *, jobs: int = 1, dry_run: bool = False,
               only: Sequence[str] | None = None, converter: PdfConverter | None = None,
               progress: Progress | None = None) -> RegenerationReport:
    """Rebuild every agreement the current library, template or answers change, as a new version with a redline.

    Earlier versions and signed files are never touched; an interrupted run is finished by the next call.

    Args:
        workspace: the workspace folder, or one opened with `open_workspace`.
        jobs: builds at once. dry_run: plan only. only: limit to these agreement ids.
        converter: a warm pool to share (one is started and closed when None).
        progress: called with (agreement id, error or None) as each finishes.

    Returns:
        The plan, the versions built, the failures and the run summary's path.

    Raises:
        InputError: not a workspace, or another run holds its lock.
    """
    from qa_builder.regenerate import regenerate as run

    return run(_workspace(workspace), jobs=jobs, dry_run=dry_run, only=list(only) if only else None,
               progress=progress, converter=converter)


def verify_files(files: Sequence[Path], settings: VerifySettings | None = None, *,
                 trail: AuditTrail | None = None) -> VerifyReport:
    """Verify signed PDFs (from any tool) and signed manifests with every artefact they list.

    Verification writes nothing unless asked: with `trail`, each file read is recorded there as a "verify"
    event (its name, sha256 and verdict), as 21 CFR 11.10(e) asks for actions on a workspace's records.

    Args:
        files: signed PDFs and ``.manifest.json`` files.
        settings: trust roots (PEM files), system trust, validation time, online fetching, limits per file;
            default: no trust roots (signatures then verify as intact but untrusted).
        trail: an audit trail to record the verifications in (``workspace.trail``, or
            ``trail_of(file)`` for the workspace holding a file); default None records nothing.

    Returns:
        One report per file with an ETSI EN 319 102-1 indication (TOTAL-PASSED, TOTAL-FAILED or INDETERMINATE
        with a sub-indication), per signature and timestamp. `exit_code(report.results)` gives the CLI's code.

    Raises:
        InputError: a trust root cannot be loaded. AuditError: `trail` cannot be written (the verdicts are
        then lost to this call; a caller that must keep them, like the CLI, verifies first with
        `qa_builder.verify.api.verify` and records with `qa_builder.audited.record_verifications`).
    """
    from qa_builder.verify.api import verify
    from qa_builder.verify.policy import VerifySettings

    chosen = settings or VerifySettings()
    report = verify(list(files), chosen)
    if trail is not None:
        from qa_builder.audited import record_verifications

        record_verifications(trail, list(files), report.results, chosen)
    return report

"""`qa-builder build`: answers files → DOCX, PDF/A and build records."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from qa_builder.cli.errors import hint_text
from qa_builder.cli.options import jobs_option
from qa_builder.cli.progress import batch_progress
from qa_builder.errors import InputError
from qa_builder.printable import printable
from qa_builder.render.pdf import PdfConverter

if TYPE_CHECKING:
    from qa_builder.builds.batch import BatchItem
    from qa_builder.builds.pipeline import PdfEngine
    from qa_builder.render.typeset import PdfTypesetter


@click.command("build")
@click.argument("answers", nargs=-1, type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the DOCX, PDF and build record.")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path),
              help="Build, in this workspace, the agreements (IDs given, or all) that have no version yet.")
@click.option("--format", "fmt", type=click.Choice(["docx", "pdf", "both"]), default="both", show_default=True,
              help="Which documents to produce.")
@click.option("--library", "library_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Clause library folder (default: the bundled library).")
@click.option("--template", type=click.Path(dir_okay=False, path_type=Path),
              help="DOCX template (default: the bundled template).")
@jobs_option("Agreements built in parallel (with --pdf-engine libreoffice, one LibreOffice worker each).")
@click.option("--pdf-engine", type=click.Choice(["libreoffice", "typst"]), default=None,
              help="How the PDF is made: typst typesets the agreement directly (the default: faster, same text "
                   "and layout); libreoffice converts the DOCX (the default with a custom --template).")
@click.option("--force", is_flag=True, help="Replace outputs that already exist.")
@click.option("--allow-findings", is_flag=True,
              help="Build despite review errors; they are recorded as accepted in the build record.")
@click.option("--allow-gaps", is_flag=True,
              help="Build even if an applicable regulatory requirement is covered by no clause (recorded).")
def build_command(answers: tuple[Path, ...], out_dir: Path | None, workspace: Path | None,
                  fmt: Literal["docx", "pdf", "both"], library_dir: Path | None, template: Path | None, jobs: int,
                  pdf_engine: PdfEngine | None, force: bool, allow_findings: bool, allow_gaps: bool) -> None:
    """Build Quality Agreements from ANSWERS files (or folders of them), or in a workspace.

    Writes OUT/<id>_v<version>.docx, .pdf (PDF/A-2b with one empty signature field per signatory)
    and .build.json (inputs, clause versions and hashes). With --workspace, ANSWERS are agreement IDs
    (default: all) and each is built as its first version folder. Exit status 0 only when every one built.
    """
    if workspace is not None:
        if out_dir or library_dir or template or force or fmt != "both" or pdf_engine is not None:
            raise click.UsageError("--workspace builds with the workspace's own library, template and folders "
                                   "(and LibreOffice); leave out -o, --library, --template, --format, --pdf-engine "
                                   "and --force")
        from qa_builder.cli.workspace import build_in_workspace

        build_in_workspace(workspace, [str(a) for a in answers], jobs, allow_findings, allow_gaps)
        return
    if out_dir is None or not answers:
        raise click.UsageError("give ANSWERS files and -o OUT (or --workspace W)")
    from qa_builder.answers.load import collect_answers_paths

    paths = collect_answers_paths(list(answers))  # folders expand to their files: size the pool by those
    if pdf_engine is None:  # Typst, unless a custom template's DOCX must be converted (an unreadable one is
        pdf_engine = "typst"  # reported by the build)
        if template is not None and template.is_file():
            from qa_builder.builds.pipeline import default_pdf_engine

            pdf_engine = default_pdf_engine(template)
    # LibreOffice takes ~2 s to start: boot it first, so that it starts while the heavier stages are
    # imported and the library is loaded (and a missing LibreOffice is reported before any work).
    converter: PdfConverter | PdfTypesetter | None = None
    if fmt != "docx" and pdf_engine == "typst":
        from qa_builder.render.typeset import PdfTypesetter

        # finds its fonts now: a missing font is reported before any work
        converter = PdfTypesetter(workers=max(1, min(jobs, len(paths))))
        converter.start()
    elif fmt != "docx":
        converter = PdfConverter(workers=max(1, min(jobs, len(paths))))
        converter.start()
    try:
        _build(paths, out_dir, fmt, library_dir, template, jobs, force, allow_findings, allow_gaps, converter,
               pdf_engine)
    finally:
        if converter is not None:
            converter.close()


def _build(paths: list[Path], out_dir: Path, fmt: Literal["docx", "pdf", "both"], library_dir: Path | None,
           template: Path | None, jobs: int, force: bool, allow_findings: bool, allow_gaps: bool,
           converter: PdfConverter | PdfTypesetter | None, pdf_engine: PdfEngine) -> None:
    from qa_builder.builds.batch import build_many
    from qa_builder.builds.pipeline import BuildSettings, check_engine_template
    from qa_builder.library.loader import load_library
    from qa_builder.render.docx import default_template_path, load_template

    _refuse_duplicate_inputs(paths)
    library = load_library(library_dir)
    template_path = template if template is not None else default_template_path()
    load_template(template_path)
    settings = BuildSettings(out_dir=out_dir, library=library, template=template_path, fmt=fmt, force=force,
                             allow_findings=allow_findings, allow_gaps=allow_gaps, pdf_engine=pdf_engine)
    check_engine_template(settings)
    with batch_progress(len(paths)) as progress:
        items = build_many(paths, settings, jobs=jobs, progress=progress, converter=converter,
                           notice=lambda text: click.echo(f"note: {text}", err=True))
    _summarise(items)


def _refuse_duplicate_inputs(paths: list[Path]) -> None:
    seen: set[Path] = set()
    for path in paths:
        key = path.resolve()
        if key in seen:
            raise InputError(f"{path} is given twice")
        seen.add(key)


def _summarise(items: list[BatchItem]) -> None:
    failed = [i for i in items if i.error is not None]
    for item in items:
        if item.result is not None:
            names = ", ".join(p.name for p in item.result.files)
            click.echo(f"built {item.result.agreement_id} v{item.result.version}: {names}")
            for note in item.result.notes:
                click.echo(f"note: {note}", err=True)
    for item in failed:
        for line in ((item.error or "") + hint_text(item.hint)).splitlines():
            click.secho(f"error: {printable(line)}", fg="red", err=True)
    click.echo(f"{len(items) - len(failed)} built, {len(failed)} failed", err=True)
    if failed:
        sys.exit(2 if all(i.input_error for i in failed) else 1)

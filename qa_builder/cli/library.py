"""`qa-builder library`: validate a clause library; show requirement coverage for an answers file."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group("library")
def library_group() -> None:
    """Validate clause libraries and show which clauses satisfy which regulatory requirements."""


@library_group.command("check")
@click.option("--library", "library_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Clause library folder (default: the bundled library).")
def library_check_command(library_dir: Path | None) -> None:
    """Validate a clause library (also an edited copy): every problem, with file and line.

    Then lint it: render every clause under a matrix of arrangements and refuse truncated paragraphs, empty
    items, unrendered Jinja, doubled spaces, '1 Days' plurals, undefined or unused defined terms, and clocks
    stated in a clause but missing from Annex B (or the reverse). Exit status 1 when the lint finds anything,
    2 when the library does not load or a clause fails to render for one of the bundled examples.
    """
    from qa_builder.library.lint import lint_library
    from qa_builder.library.loader import default_library_dir, load_library
    from qa_builder.library.trial import check_renders

    library = load_library(library_dir)
    where = library_dir if library_dir is not None else default_library_dir()
    check_renders(library, where)  # a clause that fails to render for a bundled example is an input error (exit 2)
    statuses = {s: sum(c.status == s for c in library.clauses) for s in ("approved", "draft", "retired")}
    click.echo(f"{where}: {library.info.name}, version {library.info.version}: valid")
    click.echo(f"  {len(library.clauses)} clauses ({statuses['approved']} approved, {statuses['draft']} draft, "
               f"{statuses['retired']} retired) in {len(library.info.sections)} sections")
    click.echo(f"  {len(library.requirements)} requirements, {len(library.raci)} RACI activities")
    report = lint_library(library)
    click.echo(f"  lint: {report.contexts} arrangements, {report.clauses} clauses, {report.paragraphs} rendered "
               f"paragraphs: {len(report.findings)} finding{'s' * (len(report.findings) != 1)}")
    for finding in report.findings:
        click.secho(f"lint: {finding.line()}", fg="red", err=True)
    if report.findings:
        sys.exit(1)


@library_group.command("coverage")
@click.argument("answers", type=click.Path(path_type=Path))
@click.option("--library", "library_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Clause library folder (default: the bundled library).")
def library_coverage_command(answers: Path, library_dir: Path | None) -> None:
    """For one ANSWERS file: every applicable requirement and the clauses that satisfy it, then the gaps.

    Exit status: 0 no gaps, 1 gaps, 2 unreadable input.
    """
    from qa_builder.answers.load import load_answers
    from qa_builder.builds.pipeline import prepare_agreement
    from qa_builder.library.coverage import requirement_coverage
    from qa_builder.library.loader import load_library
    from qa_builder.library.select import check_answer_references, select_clauses

    library = load_library(library_dir)
    answers_file = load_answers(answers)
    check_answer_references(answers_file, library)
    selection = select_clauses(library, answers_file.answers)
    agreement = prepare_agreement(answers_file, library, allow_gaps=True)
    numbers = {c.clause_id: c.number for s in agreement.sections for c in s.clauses}
    coverage = requirement_coverage(library, answers_file.answers, selection)
    width = max((len(c.requirement.id) for c in coverage), default=10)
    for item in coverage:
        clauses = ", ".join(f"{numbers[cid]} {cid}" for cid in item.clause_ids) or click.style("GAP", fg="red")
        click.echo(f"{item.requirement.id:<{width}}  {clauses}")
    gaps = [c for c in coverage if c.is_gap]
    click.echo(f"\n{len(coverage)} applicable requirements, {len(coverage) - len(gaps)} covered, {len(gaps)} gaps")
    for gap in gaps:
        click.secho(f"gap: {gap.requirement.id} ({gap.requirement.source}): {gap.requirement.summary}", fg="red")
    if gaps:
        sys.exit(1)

"""`qa-builder check`: review answers files for the common Quality Agreement mistakes."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qa_builder import __version__
from qa_builder.printable import printable, printable_json

if TYPE_CHECKING:
    from qa_builder.models.findings import FileFindings


@click.command("check")
@click.argument("answers", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON (a list with one entry per file).")
@click.option("--library", "library_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Clause library folder whose RACI matrix and review thresholds apply (default: bundled).")
def check_command(answers: tuple[Path, ...], as_json: bool, library_dir: Path | None) -> None:
    """Review ANSWERS files (or folders of them) before anyone signs.

    Exit status: 0 no errors (warnings allowed), 1 at least one error, 2 an unreadable file.
    """
    from qa_builder.answers.load import collect_answers_paths
    from qa_builder.library.loader import load_library
    from qa_builder.review.many import review_files

    results = review_files(collect_answers_paths(list(answers)), load_library(library_dir))
    if as_json:
        payload = {"tool_version": __version__, "results": [r.model_dump(mode="json") for r in results]}
        click.echo(printable_json(json.dumps(payload, indent=2, ensure_ascii=False)))
    else:
        for result in results:
            _print_human(result)
    if any(r.error for r in results):
        sys.exit(2)
    if any(r.errors for r in results):
        sys.exit(1)


def _print_human(result: FileFindings) -> None:
    if result.error is not None:
        for line in result.error.splitlines():
            click.secho(f"error: {printable(line)}", fg="red", err=True)
        return
    verdict = "no findings" if not result.findings else (
        f"{result.errors} error{'s' * (result.errors != 1)}, {result.warnings} warning{'s' * (result.warnings != 1)}")
    click.secho(f"{result.file}: {verdict}", bold=True, fg="green" if not result.errors else "red")
    for notice in result.notices:
        click.echo(f"note: {printable(notice)}", err=True)
    if not result.findings:
        return
    width = max(60, min(shutil.get_terminal_size((100, 20)).columns, 120))
    for finding in result.findings:
        colour = "red" if finding.severity == "error" else "yellow"
        where = f"line {finding.line}" if finding.line else "-"
        click.echo(f"  {click.style(finding.severity.upper().ljust(7), fg=colour)} {finding.id:<18} "
                   f"{where:<9} {finding.field}")
        for label, text in (("", finding.message), ("why: ", finding.reason), ("fix: ", finding.fix)):
            body = textwrap.fill(label + text, width=width - 12, initial_indent=" " * 12,
                                 subsequent_indent=" " * (12 + len(label)))
            click.echo(body)
        click.echo(f"{' ' * 12}sources: {', '.join(finding.sources)}")

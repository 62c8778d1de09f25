"""`qa-builder questionnaire`: the guided interview that writes a commented answers file."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import click

from qa_builder.errors import AnswersError, InputError, OutputExistsError
from qa_builder.printable import printable


class TerminalAsker:
    """Asks on the terminal; re-asks until the answer validates. Before a question it prints the question's
    help (what the answer decides, the sources), once for a run of questions that share it."""

    def __init__(self) -> None:
        self._shown: object = None

    def section(self, title: str, note: str = "") -> None:
        click.secho(f"\n{title}", bold=True)
        if note:
            click.echo(f"  ({note})")
        self._shown = None

    def ask(self, key: str, prompt: str, default: str | None, parse: Any) -> Any:
        from qa_builder.questionnaire.help import question_help

        found = question_help(key)
        if found is not None and found is not self._shown:
            self._shown = found
            for line in found.lines():
                click.secho(textwrap.fill(line, width=100, initial_indent="  ", subsequent_indent="    "),
                            dim=True)
        while True:
            raw = click.prompt(f"  {prompt}", default=default if default is not None else "",
                               show_default=default is not None)
            try:
                return parse(raw)
            except ValueError as exc:
                click.secho(f"  ✗ {exc}", fg="red")


@click.command("questionnaire")
@click.option("-o", "--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The answers file to write.")
@click.option("--from", "from_file", type=click.Path(dir_okay=False, path_type=Path),
              help="An existing answers file whose values become the defaults.")
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
def questionnaire_command(out_file: Path, from_file: Path | None, force: bool) -> None:
    """Write an answers file by answering questions; only the questions that apply are asked.

    Each answer is checked as you type it; typical values from industry practice are offered as defaults.
    """
    from qa_builder.answers.load import load_answers
    from qa_builder.files import write_bytes_atomic
    from qa_builder.library.loader import load_library
    from qa_builder.questionnaire.questions import Interview, render_answers
    from qa_builder.review.many import review_files
    from qa_builder.yaml_source import SourceError, read_source

    if not sys.stdin.isatty():
        raise InputError("the questionnaire asks its questions in a terminal, and standard input is not one; run "
                         "it in a terminal, or write the answers file by hand from examples/ "
                         "(`qa-builder schema` lists every field)")
    if out_file.exists() and not force:
        raise OutputExistsError(f"{out_file} already exists; use --force to replace it")
    start: dict[str, Any] = {}
    if from_file is not None:
        try:
            start = read_source(from_file).data or {}
        except SourceError as exc:
            raise AnswersError(f"{from_file}{f' line {exc.line}' if exc.line else ''}: {exc}") from exc
    click.echo("qa-builder questionnaire: press Enter to accept the value in [brackets]; Ctrl-C to stop "
               "(nothing is written until the end).")
    data = Interview(TerminalAsker(), start).run()
    text = render_answers(data).encode("utf-8")
    while True:  # a file of that name may have appeared during the interview: never lose it, nor the answers
        try:
            write_bytes_atomic(out_file, text, replace=force)
            break
        except OutputExistsError:
            click.echo(printable(f"{out_file} was created by something else while you answered; it is kept."))
            out_file = click.prompt("Write the answers to another file", type=click.Path(dir_okay=False,
                                                                                         path_type=Path))
    load_answers(out_file)  # the interview validated each field; this validates the whole file
    click.secho(f"\nwrote {out_file}", bold=True)
    result = review_files([out_file], load_library())[0]
    if result.findings:
        click.echo(f"review: {result.errors} error(s), {result.warnings} warning(s):")
        for finding in result.findings:
            click.echo(f"  {finding.severity.upper()} {finding.id} {finding.field}: {finding.message}")
        click.echo(f"see `qa-builder check {out_file}` for the reasons and fixes")
    else:
        click.echo(f"review: no findings. Next: qa-builder build {out_file} -o OUT")

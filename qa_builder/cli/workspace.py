"""Workspace commands: `init`, `add`, `impact`, `regenerate`, and `build --workspace`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qa_builder.cli.options import jobs_option
from qa_builder.printable import printable

if TYPE_CHECKING:
    from qa_builder.regenerate import RegenerationReport
    from qa_builder.render.pdf import PdfConverter
    from qa_builder.render.typeset import PdfTypesetter
    from qa_builder.workspace.layout import Workspace

_WORKSPACE = click.Path(file_okay=False, path_type=Path)


@click.command("init")
@click.argument("workspace", type=_WORKSPACE)
def init_command(workspace: Path) -> None:
    """Create WORKSPACE with copies of the default clause library, template and examples, and a settings file.

    Keep WORKSPACE/clause_library and WORKSPACE/templates under your own version control: they are what your
    agreements are built from. Add agreements with `qa-builder add`.
    """
    from qa_builder.workspace.layout import init_workspace

    opened = init_workspace(workspace)
    click.echo(f"created workspace {opened.root}")
    click.echo(f"  library  {opened.library_dir}\n  template {opened.template}\n  examples {opened.root / 'examples'}")
    click.echo(f"next: qa-builder add {opened.root} ANSWERS.yaml, then qa-builder build --workspace {opened.root}")


@click.command("add")
@click.argument("workspace", type=_WORKSPACE)
@click.argument("answers", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def add_command(workspace: Path, answers: tuple[Path, ...]) -> None:
    """Add agreements to WORKSPACE: each ANSWERS file becomes agreements/<ID>/answers.yaml."""
    from qa_builder.workspace.layout import add_agreement, open_workspace

    opened = open_workspace(workspace)
    for path in answers:
        agreement_id = add_agreement(opened, path)
        click.echo(f"added {agreement_id} ({opened.answers_path(agreement_id)})")


def _unbuilt(opened: Workspace, agreement_id: str) -> bool:
    """Whether the agreement has no version yet (one whose folder cannot be used counts: its build fails)."""
    from qa_builder.errors import InputError

    try:
        return opened.latest(agreement_id) is None
    except InputError:
        return True


def build_in_workspace(workspace: Path, ids: list[str], jobs: int, allow_findings: bool, allow_gaps: bool) -> None:
    """`build --workspace`: first versions of the agreements that have none."""
    from qa_builder.cli.progress import progress
    from qa_builder.regenerate import build_new
    from qa_builder.workspace.layout import open_workspace

    opened = open_workspace(workspace)
    todo = [i for i in (ids or opened.agreement_ids()) if _unbuilt(opened, i)]
    with progress(len(todo), "Building", _label) as callback:
        built, failed = build_new(opened, ids=ids or None, jobs=jobs, progress=lambda i, e: callback((i, e)),
                                  allow_findings=allow_findings, allow_gaps=allow_gaps)
    for version in sorted(built, key=lambda v: v.agreement_id):
        click.echo(f"built {version.agreement_id} v{version.new_version} "
                   f"({opened.version_dir(version.agreement_id, version.new_version)})")
    for agreement_id, error in sorted(failed.items()):
        click.secho(f"error: {printable(agreement_id)}: {printable(error)}", fg="red", err=True)
    click.echo(f"{len(built)} built, {len(failed)} failed", err=True)
    if failed:
        sys.exit(1)


@click.command("impact")
@click.argument("workspace", type=_WORKSPACE)
@click.option("--clause", help="Only agreements in which this clause id changed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def impact_command(workspace: Path, clause: str | None, as_json: bool) -> None:
    """List the agreements whose latest version differs from what the current library, template and answers
    would produce, with the clauses that changed and why. Exit 0 when none is affected, 1 when some are."""
    from qa_builder.regenerate import impact
    from qa_builder.workspace.layout import open_workspace

    results = impact(open_workspace(workspace), clause=clause)
    affected = [r for r in results if r.affected]
    errors = [r for r in results if r.error]
    if as_json:
        click.echo(json.dumps([_impact_json(r) for r in results if r.affected or r.error], indent=2))
    else:
        for result in affected:
            click.echo(f"{result.agreement_id} v{result.version}: {', '.join(result.reasons)}")
            for change in result.clause_changes:
                click.echo(f"  {change.number} {change.title}: {change.kind.replace('_', ' ')}"
                           f"{_versions(change.old_version, change.new_version)}")
            for other in result.other_changes:
                click.echo(f"  {other}")
            for kept in result.overrides:
                if kept.state == "applied" and kept.library_changed:
                    click.echo(f"  {kept.number} {kept.title}: negotiated override kept (the clause text it "
                               "replaced did not change)")
        for result in errors:
            click.secho(f"error: {printable(result.agreement_id)}: {printable(result.error or '')}", fg="red", err=True)
            if any(o.state != "applied" for o in result.overrides):
                from qa_builder.negotiation.overrides import conflict_message

                for line in conflict_message(result.agreement_id, result.overrides).splitlines()[1:]:
                    click.echo(printable(line), err=True)
        conflicts = [r for r in errors if any(o.state != "applied" for o in r.overrides)]
        stopped = f"{len(conflicts)} stopped by a negotiated override conflict, " if conflicts else ""
        click.echo(f"{len(affected)} affected, {len(results) - len(affected) - len(errors)} unchanged, {stopped}"
                   f"{len(errors) - len(conflicts)} could not be analysed", err=True)
    sys.exit(1 if affected or errors else 0)


@click.command("regenerate")
@click.argument("workspace", type=_WORKSPACE)
@jobs_option("Agreements rebuilt in parallel (one LibreOffice worker each).")
@click.option("--dry-run", is_flag=True, help="Only say what would be regenerated.")
@click.option("--only", "only", multiple=True, help="Only this agreement ID (repeatable).")
def regenerate_command(workspace: Path, jobs: int, dry_run: bool, only: tuple[str, ...]) -> None:
    """Rebuild every affected agreement as a new version with a redline against the previous one.

    Unchanged agreements are skipped; earlier versions and every signed file are left untouched. An interrupted
    run is finished by running the command again. Exit 1 if any agreement failed.
    """
    from qa_builder.workspace.inputs import open_workspace_engine
    from qa_builder.workspace.layout import open_workspace

    # The PDF engine (Typst for the bundled template, LibreOffice for a team's own) starts while the library loads
    # and every agreement is analysed (as in `build`).
    converter = None if dry_run else open_workspace_engine(open_workspace(workspace), workers=jobs)
    if converter is not None:
        converter.start()
    try:
        report = _regenerate(workspace, jobs, dry_run, list(only), converter)
    finally:
        if converter is not None:
            converter.close()
    if report.resumed:
        click.echo(f"continued interrupted run {report.run_id}", err=True)
    if dry_run:
        for planned in report.planned:
            click.echo(f"would regenerate {planned.agreement_id} v{planned.version} → v{planned.version + 1}: "
                       f"{', '.join(planned.reasons)}")
    for version in sorted(report.built, key=lambda v: v.agreement_id):
        click.echo(f"regenerated {version.agreement_id} v{version.old_version} → v{version.new_version}")
    for agreement_id, error in sorted(report.failed.items()):
        click.secho(f"error: {printable(agreement_id)}: {printable(error)}", fg="red", err=True)
    if report.summary is not None:
        click.echo(f"summary: {report.summary}")
    built = len(report.planned) if dry_run else len(report.built)
    click.echo(f"{built} {'to regenerate' if dry_run else 'regenerated'}, {len(report.skipped)} unchanged, "
               f"{len(report.failed)} failed", err=True)
    if report.failed:
        sys.exit(1)


def _regenerate(workspace: Path, jobs: int, dry_run: bool, only: list[str],
                converter: PdfConverter | PdfTypesetter | None) -> RegenerationReport:
    from qa_builder.cli.progress import progress
    from qa_builder.regenerate import planned_regeneration, run_regeneration
    from qa_builder.workspace.layout import open_workspace

    opened = open_workspace(workspace)
    with planned_regeneration(opened, only=only or None) as report:
        if not dry_run:
            with progress(len(report.planned), "Regenerating", _label) as callback:
                run_regeneration(opened, report, jobs=jobs, progress=lambda i, e: callback((i, e)),
                                 converter=converter)
    return report


def _label(item: tuple[str, str | None]) -> str:
    agreement_id, error = item
    return f"FAILED {printable(agreement_id)}" if error else printable(agreement_id)


def _versions(old: int | None, new: int | None) -> str:
    if old is not None and new is not None and old != new:
        return f" (v{old} → v{new})"
    return ""


def _impact_json(result: object) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(result)  # type: ignore[call-overload, no-any-return]

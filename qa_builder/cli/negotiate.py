"""`qa-builder negotiate import`: read the counterparty's marked-up DOCX against the version it came from."""

from __future__ import annotations

from pathlib import Path

import click

_LABELS = {"formatting_only": "formatting only", "library_position": "another library position",
           "deletes_clause": "deletes the clause", "non_standard": "non-standard text",
           "comments_only": "comments only"}


@click.group("negotiate")
def negotiate_group() -> None:
    """Negotiation round trip: read a returned DOCX's tracked changes and comments, clause by clause."""


@negotiate_group.command("import")
@click.argument("workspace", type=click.Path(file_okay=False, path_type=Path))
@click.argument("agreement_id")
@click.argument("returned", type=click.Path(dir_okay=False, path_type=Path))
def import_command(workspace: Path, agreement_id: str, returned: Path) -> None:
    """Read RETURNED (a DOCX with Word tracked changes and comments) for agreement AGREEMENT_ID in WORKSPACE.

    Lists every changed clause with its classification, changes (author, date) and comments, and every edit
    made without change tracking. The full report is kept as
    WORKSPACE/agreements/ID/negotiation/v<version>-import-<n>.json. Exit 3 if there are untracked edits.
    """
    from qa_builder.files import write_bytes_atomic
    from qa_builder.negotiation.importer import import_returned
    from qa_builder.workspace import open_workspace

    opened = open_workspace(workspace)
    report = import_returned(opened, agreement_id, returned)
    folder = opened.agreement_dir(agreement_id) / "negotiation"
    folder.mkdir(exist_ok=True)
    number = 1 + sum(1 for _ in folder.glob(f"v{report.version}-import-*.json"))
    target = folder / f"v{report.version}-import-{number}.json"
    write_bytes_atomic(target, report.to_json())
    click.echo(f"{returned.name}: agreement {agreement_id} version {report.version}; "
               f"{len(report.clauses)} clause(s) changed or commented")
    for finding in report.clauses:
        click.echo(f"  {finding.number} {finding.title} [{finding.clause_id}]: {_LABELS[finding.classification]}"
                   f" — {finding.detail}")
        for change in finding.changes:
            text = f" “{_short(change.text)}”" if change.text else ""
            who = f"{_short(change.author) or '?'} {_short(change.date)}"
            click.echo(f"      {change.kind.replace('_', ' ')} by {who}{text}")
        for comment in finding.comments:
            reply = f" (reply to comment {comment.reply_to})" if comment.reply_to else ""
            who = f"{_short(comment.author) or '?'} {_short(comment.date)}"
            click.echo(f"      comment {_short(comment.comment_id)} by {who}{reply}: {_short(comment.text)}")
    if report.outside_changes or report.outside_comments:
        click.echo(f"  outside the clauses (cover, annexes, signatures): {len(report.outside_changes)} change(s), "
                   f"{len(report.outside_comments)} comment(s)")
    for edit in report.untracked:
        click.secho(f"  untracked edit in {edit.where}: sent “{_short(edit.sent)}”, returned “{_short(edit.returned)}”",
                    fg="yellow")
    click.echo(f"report: {target}")
    if report.untracked:
        raise SystemExit(3)


def _short(text: str, limit: int = 80) -> str:
    flat = "".join(ch if ch.isprintable() else "?" for ch in " ".join(text.split()))  # no terminal escapes
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"

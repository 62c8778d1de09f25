"""`qa-builder negotiate`: read the counterparty's marked-up DOCX, decide its points, and log the negotiation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from qa_builder.printable import printable

_LABELS = {"formatting_only": "formatting only", "library_position": "another library position",
           "answer_value": "another answer value", "deletes_clause": "deletes the clause",
           "non_standard": "non-standard text", "comments_only": "comments only"}
_WORKSPACE = click.Path(file_okay=False, path_type=Path)


@click.group("negotiate")
def negotiate_group() -> None:
    """Negotiation round trip: import a returned DOCX's tracked changes and comments, decide each point clause by
    clause (accept, reject, counter), build the next version with them, and log the negotiation."""


def _agreement_arguments(function: Callable[..., None]) -> Callable[..., None]:
    """WORKSPACE AGREEMENT_ID: the arguments every `negotiate` command starts with."""
    return click.argument("workspace", type=_WORKSPACE)(click.argument("agreement_id")(function))


def _decision_command(name: str) -> Callable[[Callable[..., None]], click.Command]:
    """A `negotiate` command that decides one point: WORKSPACE AGREEMENT_ID CLAUSE --by NAME --reason TEXT."""
    def decorate(function: Callable[..., None]) -> click.Command:
        function = click.option("--reason", required=True, help="Why (kept in the record and the audit trail).")(
            function)
        function = click.option("--by", required=True, help="Who decides: the approver's name as they sign.")(
            function)
        return negotiate_group.command(name)(_agreement_arguments(click.argument("clause")(function)))
    return decorate


def _text_options(text_help: str, file_help: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """`--text` and `--text-file`: a clause text given inline or from a UTF-8 file (read by `_text_option`)."""
    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        function = click.option("--text-file", type=click.Path(dir_okay=False, path_type=Path), help=file_help)(
            function)
        return click.option("--text", help=text_help)(function)
    return decorate


@negotiate_group.command("import")
@_agreement_arguments
@click.argument("returned", type=click.Path(dir_okay=False, path_type=Path))
def import_command(workspace: Path, agreement_id: str, returned: Path) -> None:
    """Read RETURNED (a DOCX with Word tracked changes and comments) for agreement AGREEMENT_ID in WORKSPACE.

    Lists every changed clause with its classification, changes (author, date) and comments, and every edit
    made without change tracking. The full report is kept as
    WORKSPACE/agreements/ID/negotiation/v<version>-import-<n>.json. Exit 3 if there are untracked edits.
    """
    from qa_builder.negotiation.decide import record_import
    from qa_builder.workspace.layout import open_workspace

    opened = open_workspace(workspace)
    report, target, again, unreadable = record_import(opened, agreement_id, returned)
    for name in unreadable:
        click.secho(f"warning: the earlier import report {name} cannot be read; it is not reused"
                    + ("" if again else f" (this import is kept as {target.name})"), fg="yellow", err=True)
    returned_name = printable(returned.name)  # a received file's name, chosen by whoever sent it
    if again:
        click.echo(f"{returned_name}: already imported as {target.name}; that report and its decisions stand "
                   f"(see `qa-builder negotiate status {opened.root} {agreement_id}`)")
    click.echo(f"{returned_name}: agreement {agreement_id} version {report.version}; "
               f"{len(report.clauses)} clause(s) changed or commented")
    for finding in report.clauses:
        click.echo(f"  {finding.number} {finding.title} [{finding.clause_id}]: {_LABELS[finding.classification]}"
                   f" — {finding.detail}")
        _print_changes(finding.changes, "      ", dates=True)
        for comment in finding.comments:
            reply = f" (reply to comment {comment.reply_to})" if comment.reply_to else ""
            who = f"{_short(comment.author) or '?'} {_short(comment.date)}"
            click.echo(f"      comment {_short(comment.comment_id)} by {who}{reply}: {_short(comment.text)}")
    if report.outside_changes or report.outside_comments:
        click.echo(f"  outside the clauses ({', '.join(report.outside_places())}): "
                   f"{len(report.outside_changes)} change(s), {len(report.outside_comments)} comment(s)")
        _print_changes(report.outside_changes, "      ", dates=True)
        for comment in report.outside_comments:
            who = f"{_short(comment.author) or '?'} {_short(comment.date)}"
            where = f" in {comment.part}" if comment.part else ""
            click.echo(f"      comment {_short(comment.comment_id)} by {who}{where}: {_short(comment.text)}")
    for edit in report.untracked:
        was, now = edit.excerpts()
        click.secho(f"  untracked edit in {edit.where}: sent “{_short(was, 160)}”, returned “{_short(now, 160)}”",
                    fg="yellow")
    left_out = report.left_out()
    if left_out:
        click.secho(f"  {left_out}", fg="yellow")
    click.echo(f"report: {target}")
    if report.clauses or report.outside_changes or report.outside_comments:
        click.echo(f"next: qa-builder negotiate status {opened.root} {agreement_id}, then accept, reject or counter "
                   "each point")
    if report.untracked:
        raise SystemExit(3)


def _print_changes(changes: Any, indent: str, *, dates: bool = True) -> None:
    """One line per change; inserted and deleted paragraph marks (one per paragraph) summed up in one line."""
    marks: dict[str, int] = {}
    for change in changes:
        if change.kind in ("paragraph_inserted", "paragraph_deleted"):
            marks[change.kind] = marks.get(change.kind, 0) + 1
            continue
        text = f" “{_short(change.text)}”" if change.text else ""
        when = f" {_short(change.date)}" if dates else ""
        where = f" in {change.part}" if change.part else ""
        click.echo(f"{indent}{change.kind.replace('_', ' ')} by {_short(change.author) or '?'}{when}{text}{where}")
    if marks:
        words = [f"{n} paragraph(s) {kind.split('_')[1]}" for kind, n in marks.items()]
        click.echo(f"{indent}{', '.join(words)}")


def _short(text: str, limit: int = 80) -> str:
    flat = "".join(ch if ch.isprintable() else "?" for ch in " ".join(text.split()))  # no terminal escapes
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


_EFFECTS = {"none": "no change to the agreement", "answer": "answers changed", "position": "answers: position",
            "override": "clause override", "override_removed": "override removed"}
_STATUS = {"accept": "accepted", "reject": "rejected", "counter": "countered", "keep_override": "override kept",
           "drop_override": "override dropped"}


@negotiate_group.command("status")
@_agreement_arguments
def status_command(workspace: Path, agreement_id: str) -> None:
    """List the points of the latest returned DOCX of AGREEMENT_ID per clause (change, author, classification,
    comments), which are open and how the others were decided; and the agreement's negotiated overrides, with any
    conflict against the current library shown three-way. Exit 1 while a point is open or an override conflicts."""
    from qa_builder.negotiation.decisions import latest_import, load_negotiation, open_points
    from qa_builder.negotiation.overrides import conflict_message
    from qa_builder.regenerate import analyse, current_inputs
    from qa_builder.workspace.layout import open_workspace

    opened = open_workspace(workspace)
    _known_agreement(opened, agreement_id)
    negotiation = load_negotiation(opened, agreement_id)
    found = latest_import(opened, agreement_id)
    still_open = 0
    if found is None:
        click.echo(f"{agreement_id}: no returned DOCX imported (negotiate import {opened.root} {agreement_id} FILE)")
    else:
        name, report = found
        points = open_points(report, name, negotiation)
        still_open = sum(1 for p in points if p.decision is None)
        click.echo(f"{agreement_id} version {report.version}, {name} ({_short(Path(report.returned).name)}): "
                   f"{len(points)} point(s), {still_open} open")
        for point in points:
            state = "OPEN" if point.decision is None else _STATUS[point.decision.verdict]
            finding = point.finding
            label = _LABELS[finding.classification] if finding else "outside the clauses"
            click.echo(f"  [{state}] {point.number} {_short(point.title)} [{point.clause_id}]: {label}"
                       + (f" — {_short(finding.detail, 120)}" if finding else ""))
            if finding is not None and point.decision is None:
                _print_changes(finding.changes, "      ")
                for comment in finding.comments:
                    click.echo(f"      comment by {_short(comment.author) or '?'}: {_short(comment.text)}")
            elif finding is None and point.decision is None:
                for change in report.outside_changes:
                    where = (f"in {change.part}, which comes from the template and the answers" if change.part
                             else "cover, annexes and signature blocks come from the answers")
                    click.echo(f"      {change.kind.replace('_', ' ')} by {_short(change.author) or '?'}"
                               f" “{_short(change.text)}” ({where}: edit them to take it)")
            if point.decision is not None:
                d = point.decision
                click.echo(f"      decided by {_short(d.by)} on {d.time[:10]}: {_short(d.reason)}"
                           f" ({_EFFECTS[d.effect]})")
        if report.untracked:
            click.secho(f"  {len(report.untracked)} untracked edit(s) in the returned file: ask the counterparty to "
                        "send them as tracked changes", fg="yellow")
    conflicts = 0
    impact = analyse(opened, current_inputs(opened), agreement_id) if negotiation.overrides or found else None
    if negotiation.overrides:
        click.echo(f"negotiated overrides: {len(negotiation.overrides)}")
        states = {s.clause_id: s for s in (impact.overrides if impact else ())}
        for clause_id, override in negotiation.overrides.items():
            known = states.get(clause_id)
            shown = "applied" if known is None or known.state == "applied" else "CONFLICT"
            click.echo(f"  {clause_id}: {shown}; approved by {_short(override.approved_by)} on "
                       f"{override.decided_at[:10]}: {_short(override.reason)}")
        bad = [s for s in states.values() if s.state != "applied"]
        conflicts = len(bad)
        for line in conflict_message(agreement_id, bad).splitlines()[1:] if bad else []:
            click.echo(printable(line)[:600])
    if found is not None and not still_open and not conflicts and impact is not None and impact.error is None:
        if impact.affected:
            click.echo(f"next: qa-builder regenerate {opened.root} --only {agreement_id} builds the next version "
                       "with every decision")
        else:
            click.echo(f"next: no decision changes the agreement; qa-builder negotiate proposal {opened.root} "
                       f"{agreement_id} writes our answer to the returned file")
    if still_open or conflicts:
        raise SystemExit(1)


def _known_agreement(opened: Any, agreement_id: str) -> None:
    from qa_builder.errors import InputError

    known = opened.agreement_ids()
    if agreement_id not in known:
        raise InputError(f"{opened.root}: has no agreement '{_short(agreement_id)}' (it has: "
                         f"{', '.join(known) or 'none'})")


def _decide(workspace: Path, agreement_id: str, clause: str, verdict: str, by: str, reason: str,
            counter: Any = None) -> None:
    from qa_builder.negotiation.decide import decide
    from qa_builder.workspace.layout import open_workspace

    opened = open_workspace(workspace)
    _known_agreement(opened, agreement_id)
    decision = decide(opened, agreement_id, clause, verdict, by=by, reason=reason, counter=counter)  # type: ignore[arg-type]
    effect = {"none": "nothing in the agreement changes",
              "answer": f"answers: {decision.answer_field} = {decision.answer_value}",
              "position": f"answers: positions.{decision.clause_id} = {decision.position}",
              "override": "the clause text is overridden for this agreement",
              "override_removed": "the library text stands"}[decision.effect]
    click.echo(f"{agreement_id} {clause}: {_STATUS[decision.verdict]} by {_short(by)} ({effect})")
    if decision.effect != "none":
        click.echo(f"next: qa-builder regenerate {opened.root} --only {agreement_id} builds the next version with "
                   "every decision")


@_decision_command("accept")
def accept_command(workspace: Path, agreement_id: str, clause: str, by: str, reason: str) -> None:
    """Accept the counterparty's change to CLAUSE (a clause id from `negotiate status`, or 'outside').

    Another library position or answer value is written into the answers file; other text becomes an override
    of that clause for this agreement, approved by --by; formatting and comments change nothing."""
    _decide(workspace, agreement_id, clause, "accept", by, reason)


@_decision_command("reject")
def reject_command(workspace: Path, agreement_id: str, clause: str, by: str, reason: str) -> None:
    """Reject the counterparty's change to CLAUSE: the next version keeps our text (shown as a tracked change
    against theirs in the counter-proposal DOCX)."""
    _decide(workspace, agreement_id, clause, "reject", by, reason)


@_decision_command("counter")
@_text_options("Our text for the clause (blank lines between paragraphs; '- ' starts an item).",
               "Our text, from a file.")
@click.option("--position", help="A library position of the clause.")
@click.option("--answer", help="An answer and its value, e.g. audits.notice_business_days=45.")
def counter_command(workspace: Path, agreement_id: str, clause: str, by: str, reason: str, text: str | None,
                    text_file: Path | None, position: str | None, answer: str | None) -> None:
    """Counter the counterparty's change to CLAUSE with our own proposal: a text (an override of the clause for
    this agreement), a library position or an answer value (both written into the answers file)."""
    from qa_builder.errors import InputError
    from qa_builder.negotiation.decide import Counter, parse_answer_value

    given = [x for x in (text, text_file, position, answer) if x is not None]
    if len(given) != 1:
        raise InputError("counter: give exactly one of --text, --text-file, --position, --answer FIELD=VALUE")
    text = _text_option(text, text_file)
    if answer is not None:
        field, equals, raw = answer.partition("=")
        if not equals:
            raise InputError(f"--answer '{_short(answer)}': write FIELD=VALUE, e.g. audits.notice_business_days=45")
        counter = Counter(answer_field=field.strip(), answer_value=parse_answer_value(field.strip(), raw))
    else:
        counter = Counter(text=text, position=position)
    _decide(workspace, agreement_id, clause, "counter", by, reason, counter)


@_decision_command("keep-override")
@_text_options("A merged text to agree instead (blank lines between paragraphs; '- ' starts an item).",
               "The merged text, from a file.")
def keep_override_command(workspace: Path, agreement_id: str, clause: str, by: str, reason: str, text: str | None,
                          text_file: Path | None) -> None:
    """The library clause under CLAUSE's negotiated override changed: keep the override over the new library text
    (or agree a merged --text), so that the agreement builds again."""
    _resolve(workspace, agreement_id, clause, True, by, reason, _text_option(text, text_file))


@_decision_command("drop-override")
def drop_override_command(workspace: Path, agreement_id: str, clause: str, by: str, reason: str) -> None:
    """Remove CLAUSE's negotiated override: the library text stands again from the next version."""
    _resolve(workspace, agreement_id, clause, False, by, reason)


def _text_option(text: str | None, text_file: Path | None) -> str | None:
    from qa_builder.errors import InputError
    from qa_builder.files import read_small_file

    if text is not None and text_file is not None:
        raise InputError("give --text or --text-file, not both")
    if text_file is not None:
        try:
            return read_small_file(text_file, 1024 * 1024).decode("utf-8-sig")  # Notepad starts a file with a BOM
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{text_file}: cannot be read as UTF-8 text of at most 1 MiB ({exc})") from exc
    return text


def _resolve(workspace: Path, agreement_id: str, clause: str, keep: bool, by: str, reason: str,
             text: str | None = None) -> None:
    from qa_builder.negotiation.decide import resolve_override
    from qa_builder.workspace.layout import open_workspace

    opened = open_workspace(workspace)
    _known_agreement(opened, agreement_id)
    resolve_override(opened, agreement_id, clause, keep=keep, by=by, reason=reason, text=text)
    click.echo(f"{agreement_id} {clause}: override {'kept over the new library text' if keep else 'dropped'} by "
               f"{_short(by)}")


@negotiate_group.command("log")
@_agreement_arguments
@click.option("--format", "fmt", type=click.Choice(["docx", "pdf"]),
              help="docx or pdf; default: the --output file's extension, else docx.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Default: WORKSPACE/agreements/ID/negotiation/ID-negotiation-log.<format>.")
@click.option("--force", is_flag=True, help="Replace the -o file if it exists (never one of the workspace's records).")
def log_command(workspace: Path, agreement_id: str, fmt: str | None, output: Path | None, force: bool) -> None:
    """Write the negotiation log of AGREEMENT_ID: each point (round, clause, issue), its status and resolution."""
    from qa_builder.errors import InputError
    from qa_builder.negotiation.log import write_log
    from qa_builder.workspace.layout import open_workspace
    from qa_builder.workspace.records import check_output

    suffix = output.suffix.lower().lstrip(".") if output is not None else ""
    if fmt is None:
        fmt = suffix if suffix in ("docx", "pdf") else "docx"
    elif suffix in ("docx", "pdf") and suffix != fmt:  # a DOCX named .pdf opens in no PDF reader
        raise InputError(f"{output}: --format {fmt} would write a {fmt.upper()} file named .{suffix}; name it "
                         f".{fmt} or leave out --format")
    opened = open_workspace(workspace)
    _known_agreement(opened, agreement_id)
    if output is not None:
        check_output(output, opened.root, force=force)
    target = output or opened.agreement_dir(agreement_id) / "negotiation" / f"{agreement_id}-negotiation-log.{fmt}"
    write_log(opened, agreement_id, target, fmt, replace=force or output is None)
    click.echo(f"negotiation log: {target}")


@negotiate_group.command("proposal")
@_agreement_arguments
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Default: WORKSPACE/agreements/ID/negotiation/ID_v<latest>.counter.docx.")
@click.option("--force", is_flag=True, help="Replace the -o file if it exists (never one of the workspace's records).")
def proposal_command(workspace: Path, agreement_id: str, output: Path | None, force: bool) -> None:
    """Write our answer to the latest returned DOCX without building a version: the latest version as tracked
    changes against the text the counterparty returned (e.g. when every point was rejected). `regenerate` writes
    the same file into each new version folder."""
    from qa_builder.builds.pipeline import output_stem
    from qa_builder.errors import InputError
    from qa_builder.negotiation.counter import write_latest_proposal
    from qa_builder.regenerate import analyse, current_inputs
    from qa_builder.workspace.layout import open_workspace
    from qa_builder.workspace.records import check_output

    opened = open_workspace(workspace)
    _known_agreement(opened, agreement_id)
    if output is not None:
        check_output(output, opened.root, force=force)
    impact = analyse(opened, current_inputs(opened), agreement_id)
    if impact is not None and (impact.affected or impact.error):
        raise InputError(f"agreement {agreement_id}: version {impact.version} does not hold every decision and "
                         f"library change yet; run `qa-builder regenerate {opened.root} --only {agreement_id}` first")
    latest = opened.latest(agreement_id) or 0
    target = output or opened.agreement_dir(agreement_id) / "negotiation" / \
        f"{output_stem(agreement_id, latest)}.counter.docx"
    returned, proposed = write_latest_proposal(opened, agreement_id, target, replace=force or output is None)
    click.echo(f"counter-proposal: {target} (version {proposed} against the text returned for version {returned})")

"""`qa-builder audit`: read, verify, export and seal a workspace's Part 11 audit trail."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qa_builder.cli.options import KeyChoice, key_options
from qa_builder.printable import printable, printable_json, shown

if TYPE_CHECKING:
    from qa_builder.audit.events import AuditEvent

_WORKSPACE = click.Path(file_okay=False, path_type=Path)
_FILE = click.Path(dir_okay=False, path_type=Path)


_SINCE_YEARS = (1900, 9998)
"""Years --since may name: any later one, with a time zone, would overflow on conversion to UTC."""


def _parse_since(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{shown(value)}' is not an ISO 8601 date or time (e.g. 2025-03-01 or "
                                 "2025-03-01T09:30:00Z)") from None
    if not _SINCE_YEARS[0] <= moment.year <= _SINCE_YEARS[1]:
        raise click.BadParameter(f"the year {moment.year} is outside {_SINCE_YEARS[0]}-{_SINCE_YEARS[1]}")
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@click.group("audit")
def audit_group() -> None:
    """The workspace's audit trail (21 CFR 11.10(e)): hash-chained, append-only, sealed by signature.

    \b
    Example:
        qa-builder audit log WORKSPACE --agreement QA-2025-001
        qa-builder audit verify WORKSPACE --trust root.pem
    """


@audit_group.command("log")
@click.argument("workspace", type=_WORKSPACE)
@click.option("--agreement", "agreement_id", help="Only this agreement's events.")
@click.option("--since", callback=_parse_since, help="Only events at or after this ISO 8601 time (UTC if no zone).")
@click.option("--json", "as_json", is_flag=True, help="Print the events as a JSON array.")
def log_command(workspace: Path, agreement_id: str | None, since: dt.datetime | None, as_json: bool) -> None:
    """List the events of WORKSPACE's audit trail, oldest first.

    \b
    Example:
        qa-builder audit log WORKSPACE --since 2025-03-01 --json
    """
    from qa_builder.audit.store import AuditTrail

    events = AuditTrail(workspace).events(agreement_id, since)
    if as_json:
        listed = json.dumps([e.model_dump(mode="json") for e in events], indent=2, ensure_ascii=False)
        click.echo(printable_json(listed))
        return
    if not events:
        click.echo(f"{workspace}: no audit events")
    for event in events:
        click.echo(_log_line(event))


def _log_line(event: AuditEvent) -> str:
    agreement = f"{event.agreement_id} v{event.agreement_version}" if event.agreement_version is not None else (
        event.agreement_id or "-")
    who = event.actor + (f" (signer {event.signer})" if event.signer else "")
    details = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(event.details.items()))
    files = f" files={len(event.files)}" if event.files else ""
    line = f"{event.seq:>6}  {event.time}  {event.action:<15} {event.outcome:<7} {agreement:<20} {who}{files}" + (
        f"  {details}" if details else "")
    return printable(line)  # details quote file names and messages: a bidi override was printed as it was


@audit_group.command("verify")
@click.argument("workspace", type=_WORKSPACE)
@click.option("--trust", "trust_roots", multiple=True, type=_FILE,
              help="Trust root certificate (PEM/DER) the seals must chain to; repeatable.")
@click.pass_context
def verify_command(ctx: click.Context, workspace: Path, trust_roots: tuple[Path, ...]) -> None:
    """Recompute WORKSPACE's hash chain and check every seal; exit 0 when intact, 1 when tampered.

    The first bad event is named in a sentence, e.g. "event 17 was changed after it was written".

    \b
    Example:
        qa-builder audit verify WORKSPACE --trust signatures/trust/root.pem
    """
    from qa_builder.audit.verify import verify_trail

    verdict = verify_trail(workspace, trust_roots)
    click.echo(verdict.summary())
    if not verdict.intact:
        ctx.exit(1)


@audit_group.command("export")
@click.argument("workspace", type=_WORKSPACE)
@click.option("--format", "fmt", type=click.Choice(["csv", "pdf"]), required=True, help="CSV or a PDF/A report.")
@click.option("-o", "--out", type=_FILE,
              help="File to write; default WORKSPACE/audit/exports/audit-trail-<UTC time>.<format>.")
@click.option("--trust", "trust_roots", multiple=True, type=_FILE,
              help="Trust root for the chain status printed in the PDF report; repeatable.")
@click.option("--force", is_flag=True, help="Replace the -o file if it exists (never one of the workspace's records).")
def export_command(workspace: Path, fmt: str, out: Path | None, trust_roots: tuple[Path, ...], force: bool) -> None:
    """Export WORKSPACE's audit trail for an inspector (the export is itself recorded in the trail).

    The PDF is PDF/A, so `qa-builder sign` can sign it.

    \b
    Example:
        qa-builder audit export WORKSPACE --format pdf -o audit-trail.pdf
    """
    from qa_builder.audit.export import export_csv_flagged, export_pdf
    from qa_builder.audit.store import exports_folder
    from qa_builder.errors import OutputFolderError
    from qa_builder.workspace.records import check_output

    if out is not None:
        check_output(out, workspace, force=force)
    else:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        out = exports_folder(workspace) / f"audit-trail-{stamp}.{fmt}"
    flagged: list[str] = []
    try:
        if fmt == "csv":
            written, flagged = export_csv_flagged(workspace, out, replace=force)
        else:
            written = export_pdf(workspace, out, trust_roots=trust_roots, replace=force)
    except OSError as exc:
        raise OutputFolderError(f"{out}: cannot write the export there ({exc.strerror or exc})") from exc
    click.echo(f"wrote {written}")
    if flagged:
        click.secho(printable(f"warning: {len(flagged)} event(s) could not be read or were changed, flagged in the "
                              f"problem column (first: {flagged[0]}); run `qa-builder audit verify`"),
                    fg="yellow", err=True)


@audit_group.command("seal")
@click.argument("workspace", type=_WORKSPACE)
@key_options
@click.option("--tsa", "tsa_url", help="RFC 3161 timestamp authority URL for a timestamp on the seal.")
@click.option("--trust", "trust_roots", multiple=True, type=_FILE,
              help="Trust root certificate, repeatable: the sealer's certificate is first checked not revoked, and "
                   "the seal carries the OCSP/CRL answers, so `audit verify --trust` checks them offline.")
def seal_command(workspace: Path, key: KeyChoice, tsa_url: str | None, trust_roots: tuple[Path, ...]) -> None:
    """Sign the head of WORKSPACE's audit trail, so a rewrite of the whole trail shows when it is verified.

    Writes audit/seals/seal-<seq>.json and its detached CMS signature seal-<seq>.p7s. Anyone can check it with:
    openssl cms -verify -binary -inform DER -in seal-N.p7s -content seal-N.json -CAfile ROOT.pem -purpose any

    \b
    Example:
        qa-builder audit seal WORKSPACE --key qa-head.p12 --tsa http://tsa.example/tsr
    """
    from qa_builder.audit.seal import seal_trail

    signing_key = key.load()
    seal = seal_trail(workspace, signing_key, tsa_url=tsa_url, trust_roots=trust_roots)
    click.echo(f"sealed event {seal.seq} (hash {seal.hash[:16]}…) as {printable(signing_key.identity.common_name)}"
               f"{', timestamped' if seal.timestamped else ''}: {seal.files.document}, {seal.files.signature}")

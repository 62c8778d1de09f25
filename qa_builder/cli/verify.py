"""`qa-builder verify`: check signed agreements and manifests from anyone, in ETSI EN 319 102-1 terms."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qa_builder.cli.options import jobs_option
from qa_builder.printable import printable, printable_json, shown

if TYPE_CHECKING:
    from qa_builder.audit.store import AuditTrail
    from qa_builder.verify.policy import VerifySettings
    from qa_builder.verify.report import FileReport


def _parse_time(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"'{shown(value)}' is not an ISO-8601 time such as 2026-01-31T12:00:00Z") from exc
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    # judged in UTC, the time the validation uses ("9000-12-31T23:59:59-23:59" is 9001 in UTC)
    try:
        year = moment.astimezone(dt.UTC).year
    except OverflowError:  # past datetime's own range (year 1 or 9999 with an offset): out of range anyway
        year = moment.year
    if not _EARLIEST_AT <= year <= _LATEST_AT:
        # Certificates and timestamps carry years 1950-9999 (RFC 5280); validation arithmetic past them overflows.
        raise click.BadParameter(f"the year {year} (UTC) is outside {_EARLIEST_AT}-{_LATEST_AT}")
    return moment


_EARLIEST_AT, _LATEST_AT = 1950, 9000


@click.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--trust", "trust_roots", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trust root certificate (PEM/DER), repeatable. Nothing is trusted otherwise.")
@click.option("--system-trust", is_flag=True, help="Also trust the operating system's CA bundle.")
@click.option("--at", "at", callback=_parse_time, metavar="ISO-8601-TIME",
              help="Validate as of this time: a past one is a point-in-time check (e.g. for expired certificates); "
                   "a future one shows how the file will verify then.")
@click.option("--online", is_flag=True, help="Fetch revocation data (OCSP/CRL) from the network; offline otherwise.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema in the README).")
@jobs_option("Files verified in parallel.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(1, 3600), default=120, show_default=True,
              callback=lambda _ctx, _param, value: _finite(value),
              help="Seconds allowed per file.")
@click.option("--memory", "memory_mb", type=click.IntRange(128, 65536), default=2048, show_default=True,
              help="MiB of memory allowed per file.")
@click.option("--workspace", "workspace_root", type=click.Path(file_okay=False, path_type=Path), metavar="W",
              help="Record every file's verification in workspace W's audit trail, also files from outside it "
                   "(e.g. a countersigned copy received by e-mail).")
@click.option("--no-audit", is_flag=True,
              help="Record nothing, not even for files inside a workspace.")
def verify_command(files: tuple[Path, ...], trust_roots: tuple[Path, ...], system_trust: bool,
                   at: dt.datetime | None, online: bool, as_json: bool, jobs: int, timeout_s: float,
                   memory_mb: int, workspace_root: Path | None, no_audit: bool) -> None:
    """Verify signed PDFs and signed manifests (<id>_v<n>.manifest.json or its .p7s).

    Every signature gets an ETSI indication (TOTAL-PASSED / TOTAL-FAILED / INDETERMINATE) with the reasons in
    plain words. A path that cannot be read (missing, a directory, a symlink loop) gets its own INDETERMINATE
    result line; the other files are still verified. Exit code: 0 all passed, 1 any failed, 3 otherwise
    indeterminate, 2 usage errors.

    A file inside a workspace is an action on its records: its verification is recorded in that workspace's
    audit trail (file, sha256, verdict), unless --no-audit. Files outside any workspace are recorded nowhere,
    unless --workspace names the trail. A trail that cannot be written is a warning; the verdict and the
    exit code stay those of the verification.
    """
    from qa_builder.cli.progress import progress
    from qa_builder.verify import api

    if workspace_root is not None and no_audit:
        raise click.UsageError("--workspace records the verification and --no-audit records nothing: "
                               "give one of them")
    chosen = _chosen_trail(workspace_root)
    settings = api.VerifySettings(trust_roots=trust_roots, system_trust=system_trust, at=at, online=online,
                                  timeout_s=timeout_s, memory_mb=memory_mb, jobs=jobs)
    show = len(files) > 1 and not as_json
    with progress(len(files), "Verifying", _label) as callback:
        report = api.verify(list(files), settings, on_result=callback if show else None)
    if not no_audit:
        _record(list(files), report.results, settings, chosen)
    if as_json:
        click.echo(printable_json(report.model_dump_json(indent=2)))
    else:
        for result in report.results:
            for line in api.describe(result):
                click.echo(line)
        if not trust_roots and not system_trust:
            click.echo("Note: no --trust root was given, so no signer can be trusted (INDETERMINATE at best).",
                       err=True)
    sys.exit(api.exit_code(report.results))


def _chosen_trail(workspace_root: Path | None) -> AuditTrail | None:
    """The trail --workspace names (checked before any file is verified), or None."""
    if workspace_root is None:
        return None
    from qa_builder.workspace.layout import open_workspace

    return open_workspace(workspace_root).trail


def _record(files: list[Path], results: list[FileReport], settings: VerifySettings,
            chosen: AuditTrail | None) -> None:
    """Record each verification in `chosen`, or else in the trail of the workspace holding the file; a trail
    that cannot be written is one warning line (per trail), never a change of the verdict's exit code."""
    from qa_builder.audit.record import trail_of
    from qa_builder.audited import record_verification
    from qa_builder.errors import AuditError

    failed: set[Path] = set()
    for path, result in zip(files, results, strict=True):
        if result.sha256 is None:
            continue  # never read (missing, a folder, a symlink loop): nothing was verified, nothing to record
        trail = chosen if chosen is not None else trail_of(path)
        if trail is None or trail.workspace in failed:
            continue
        try:
            record_verification(trail, path, result, settings)
        except AuditError as exc:
            failed.add(trail.workspace)
            reason = printable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            click.secho(f"warning: the verification was not recorded in the audit trail of "
                        f"{printable(str(trail.workspace))}: {reason}; the verdict stands", fg="yellow", err=True)


def _label(result: object) -> str:
    return f"{getattr(result, 'indication', '')} {Path(getattr(result, 'file', '')).name}"


def _finite(value: float) -> float:
    """click's FloatRange lets NaN through (every comparison with NaN is false): refuse it as out of range."""
    if value != value:  # NaN
        raise click.BadParameter("must be a number of seconds from 1 to 3600")
    return value

"""`qa-builder verify`: check signed agreements and manifests from anyone, in ETSI EN 319 102-1 terms."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from qa_builder.cli.options import jobs_option
from qa_builder.printable import shown


def _parse_time(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"'{shown(value)}' is not an ISO-8601 time such as 2026-01-31T12:00:00Z") from exc
    if not _EARLIEST_AT <= moment.year <= _LATEST_AT:
        # Certificates and timestamps carry years 1950-9999 (RFC 5280); validation arithmetic past them overflows.
        raise click.BadParameter(f"the year {moment.year} is outside {_EARLIEST_AT}-{_LATEST_AT}")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


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
def verify_command(files: tuple[Path, ...], trust_roots: tuple[Path, ...], system_trust: bool,
                   at: dt.datetime | None, online: bool, as_json: bool, jobs: int, timeout_s: float,
                   memory_mb: int) -> None:
    """Verify signed PDFs and signed manifests (<id>_v<n>.manifest.json or its .p7s).

    Every signature gets an ETSI indication (TOTAL-PASSED / TOTAL-FAILED / INDETERMINATE) with the reasons in
    plain words. A path that cannot be read (missing, a directory, a symlink loop) gets its own INDETERMINATE
    result line; the other files are still verified. Exit code: 0 all passed, 1 any failed, 3 otherwise
    indeterminate, 2 usage errors.
    """
    from qa_builder.cli.progress import progress
    from qa_builder.verify import api

    settings = api.VerifySettings(trust_roots=trust_roots, system_trust=system_trust, at=at, online=online,
                                  timeout_s=timeout_s, memory_mb=memory_mb, jobs=jobs)
    show = len(files) > 1 and not as_json
    with progress(len(files), "Verifying", _label) as callback:
        report = api.verify(list(files), settings, on_result=callback if show else None)
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        for result in report.results:
            for line in api.describe(result):
                click.echo(line)
        if not trust_roots and not system_trust:
            click.echo("Note: no --trust root was given, so no signer can be trusted (INDETERMINATE at best).",
                       err=True)
    sys.exit(api.exit_code(report.results))


def _label(result: object) -> str:
    return f"{getattr(result, 'indication', '')} {Path(getattr(result, 'file', '')).name}"


def _finite(value: float) -> float:
    """click's FloatRange lets NaN through (every comparison with NaN is false): refuse it as out of range."""
    if value != value:  # NaN
        raise click.BadParameter("must be a number of seconds from 1 to 3600")
    return value

"""`qa-builder sign`: a Part 11-style PAdES signature into a pre-created field."""

from __future__ import annotations

from pathlib import Path

import click

from qa_builder.cli.options import KeyChoice, key_options
from qa_builder.errors import InputError
from qa_builder.printable import printable, shown


@click.command("sign")
@click.argument("pdf", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_pdf", type=click.Path(dir_okay=False, path_type=Path),
              help="The signed PDF to write (an incremental update of PDF).")
@click.option("--field", help="The signature field to fill; without it, the fields are listed.")
@click.option("--meaning", type=click.Choice(["authorship", "review", "approval", "responsibility"]),
              help="Meaning of the signature (21 CFR 11.50).")
@click.option("--certify", is_flag=True, help="Make this the certification signature (the first signature only).")
@click.option("--level", type=click.Choice(["B-B", "B-T", "B-LT", "B-LTA"]), default="B-B", show_default=True,
              help="PAdES baseline level.")
@click.option("--tsa", "tsa_url", help="RFC 3161 timestamp authority URL (needed from B-T up; not at B-B).")
@click.option("--trust", "trust_roots", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Trust root certificate (PEM/DER), repeatable; needed for B-LT and B-LTA. With it the "
                   "certificate's revocation status is checked before signing at every level.")
@click.option("--check-revocation", is_flag=True,
              help="Refuse a revoked certificate, asking its OCSP responder or CRL before signing: done anyway "
                   "whenever --trust is given (kept for existing scripts); needs --trust.")
@key_options
@click.option("--renew-archive-timestamp", "renew", is_flag=True,
              help="Add no signature: add validation data for the newest document timestamp and a new document "
                   "timestamp (PAdES B-LTA), to keep a signed agreement verifiable; needs -o, --tsa and --trust. "
                   "Repeat before the printed TSA certificate expiry.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def sign_command(pdf: Path, out_pdf: Path | None, field: str | None, meaning: str | None, certify: bool,
                 level: str, tsa_url: str | None, trust_roots: tuple[Path, ...], check_revocation: bool,
                 key: KeyChoice, renew: bool, force: bool) -> None:
    """Sign PDF in a pre-created signature field, or list its fields when --field is not given.

    The visible stamp shows the signer's printed name, title and organisation, the meaning, the date and
    time of signing in UTC (the TSA's time when timestamped) and the certificate's issuer and serial.
    """
    from qa_builder.audit.record import trail_of
    from qa_builder.audited import sign_file
    from qa_builder.signing.pades import SignatureRequest, list_signature_fields

    if renew:
        signing_options = [name for name, value in (("--field", field), ("--meaning", meaning), ("--certify", certify))
                           if value] + key.given()
        if signing_options:
            raise InputError(f"--renew-archive-timestamp adds no signature; drop {', '.join(signing_options)}")
        if out_pdf is None:
            raise InputError("--renew-archive-timestamp needs -o/--out")
        _renew(pdf, out_pdf, tsa_url, trust_roots, force)
        return
    if field is None:
        states = list_signature_fields(pdf)
        if not states:
            click.echo(f"{printable(str(pdf))}: no signature fields")
        for state in states:  # names and texts come from the PDF: escaped, so they cannot add lines or codes
            status = "signed" if state.signed else "empty"
            click.echo(f"{shown(state.name, 200):<28} {status:<7} {shown(state.intended_for, 200)}")
        return
    missing = [name for name, value in (("-o/--out", out_pdf), ("--meaning", meaning)) if value is None]
    if missing:
        raise InputError(f"signing needs {', '.join(missing)}")
    assert out_pdf is not None and meaning is not None
    request = SignatureRequest(field=field, meaning=meaning, certify=certify, level=level,  # type: ignore[arg-type]
                               tsa_url=tsa_url, trust_roots=trust_roots, check_revocation=check_revocation)
    # a signature made in a workspace is an action on its records: recorded in its trail
    outcome = sign_file(pdf, out_pdf, request, key.load, force=force, trail=trail_of(out_pdf))
    if not outcome.signer_is_intended:
        click.secho(f"warning: field {shown(outcome.field, 200)} is meant for {shown(outcome.intended_for, 200)}; "
                    f"it was signed by {printable(outcome.signer)}", fg="yellow", err=True)
    kind = "certified" if outcome.certified else "signed"
    click.echo(f"{kind} field {printable(outcome.field)} as {printable(outcome.signer)} ({outcome.meaning}) at "
               f"{outcome.signed_at:%Y-%m-%d %H:%M:%S} UTC ({outcome.time_source}), level {outcome.level}: "
               f"{printable(str(out_pdf))}")


def _renew(pdf: Path, out_pdf: Path, tsa_url: str | None, trust_roots: tuple[Path, ...], force: bool) -> None:
    from qa_builder.audit.record import trail_of
    from qa_builder.audited import renew_file

    outcome = renew_file(pdf, out_pdf, tsa_url, trust_roots, force=force, trail=trail_of(out_pdf))
    if outcome.previous_at is not None and outcome.previous_tsa_expiry is not None:
        click.echo(f"previous archive timestamp: {outcome.previous_at:%Y-%m-%d %H:%M:%S} UTC (its TSA certificate "
                   f"expires {outcome.previous_tsa_expiry:%Y-%m-%d})")
    click.echo(f"renewed the archive timestamp at {outcome.renewed_at:%Y-%m-%d %H:%M:%S} UTC (tsa); renew again "
               f"before {outcome.tsa_expiry:%Y-%m-%d}, when its TSA certificate expires: {out_pdf}")

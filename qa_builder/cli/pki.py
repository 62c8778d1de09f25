"""`qa-builder pki`: a throwaway TEST PKI (root, intermediate, signers, TSA, OCSP) for demos and tests."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("pki")
def pki_group() -> None:
    """Create and serve a TEST-ONLY PKI with a timestamp authority, OCSP responder and CRLs on 127.0.0.1."""


@pki_group.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(1024, 65535), default=8780, show_default=True,
              help="Port of the TSA/OCSP/CRL server on 127.0.0.1 (written into the certificates).")
@click.option("--serve", is_flag=True, help="Then serve the TSA, OCSP and CRL endpoints until Ctrl-C.")
def pki_init_command(directory: Path, port: int, serve: bool) -> None:
    """Create a TEST PKI in DIRECTORY: root-ca.pem, sponsor.p12, contract-acceptor.p12, PASSPHRASE (mode 600)."""
    from qa_builder.errors import OutputFolderError
    from qa_builder.testing.pki import create_test_pki

    try:
        pki = create_test_pki(directory, port=port)
    except OSError as exc:
        raise OutputFolderError(f"{directory}: cannot create the test PKI there ({exc.strerror or exc})") from exc
    click.echo(f"TEST ONLY PKI in {pki.directory}:")
    click.echo(f"  trust root      {pki.root_pem}")
    for name in ("sponsor", "contract-acceptor"):
        click.echo(f"  signer          {pki.p12(name)}")
    click.echo(f"  passphrase file {pki.passphrase_file} (mode 600)")
    click.echo(f"  TSA {pki.tsa_url}   OCSP {pki.ocsp_url}")
    if serve:
        _serve(directory)


@pki_group.command("serve")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def pki_serve_command(directory: Path) -> None:
    """Serve the TSA, OCSP and CRL endpoints of the TEST PKI in DIRECTORY until Ctrl-C."""
    _serve(directory)


def _serve(directory: Path) -> None:
    from qa_builder.testing.pki import load_test_pki
    from qa_builder.testing.services import serve

    serve(load_test_pki(directory))

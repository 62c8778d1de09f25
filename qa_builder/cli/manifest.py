"""`qa-builder manifest`: a signed, canonical manifest of what a build produced from which inputs."""

from __future__ import annotations

from pathlib import Path

import click

from qa_builder.printable import printable


@click.command("manifest")
@click.argument("build_json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path), help="PKCS#12 key file.")
@click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
              help="File holding the PKCS#12 passphrase; asked without echo when omitted.")
@click.option("--pkcs11-module", type=click.Path(dir_okay=False, path_type=Path), help="PKCS#11 library.")
@click.option("--token-label", help="Label of the PKCS#11 token.")
@click.option("--key-label", help="Label of the key on the token.")
@click.option("--pin-file", type=click.Path(dir_okay=False, path_type=Path), help="File holding the token PIN.")
@click.option("--tsa", "tsa_url", help="RFC 3161 timestamp authority URL for a timestamp on the signature.")
@click.option("--force", is_flag=True, help="Replace an existing manifest.")
def manifest_command(build_json: Path, key_file: Path | None, passphrase_file: Path | None,
                     pkcs11_module: Path | None, token_label: str | None, key_label: str | None,
                     pin_file: Path | None, tsa_url: str | None, force: bool) -> None:
    """Write <id>_v<version>.manifest.json (RFC 8785) and its detached CMS signature .manifest.json.p7s.

    The manifest lists the tool version, answers and template hashes, library and clause versions, the model
    digest, every artefact beside BUILD_JSON (including <id>_v<version>.signed.pdf) with sha256 and size, and the
    signatures in the signed PDF. Anyone can check it with:
    openssl cms -verify -binary -inform DER -in X.manifest.json.p7s -content X.manifest.json -CAfile ROOT.pem
    -purpose any
    """
    from qa_builder.audit.record import trail_of
    from qa_builder.audited import write_signed_manifest
    from qa_builder.cli.sign import load_key_from_options

    key = load_key_from_options(key_file, passphrase_file, pkcs11_module, token_label, key_label, pin_file)
    files = write_signed_manifest(build_json, key, tsa_url=tsa_url, force=force, trail=trail_of(build_json))
    click.echo(f"wrote {files.manifest}")
    click.echo(f"wrote {files.signature} (signed by {printable(key.identity.common_name)}"
               f"{', timestamped' if tsa_url else ''})")

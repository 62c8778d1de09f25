"""`qa-builder manifest`: a signed, canonical manifest of what a build produced from which inputs."""

from __future__ import annotations

from pathlib import Path

import click

from qa_builder.errors import InputError


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
    from qa_builder.cli.sign import read_secret
    from qa_builder.signing.keys import SigningKey, load_pkcs11_key, load_pkcs12_key
    from qa_builder.signing.manifest import write_signed_manifest

    key: SigningKey
    if key_file is not None and pkcs11_module is None:
        key = load_pkcs12_key(key_file, read_secret(passphrase_file, "passphrase"))
    elif pkcs11_module is not None and key_file is None:
        if not token_label or not key_label:
            raise InputError("a PKCS#11 key needs --token-label and --key-label")
        key = load_pkcs11_key(pkcs11_module, token_label, key_label, read_secret(pin_file, "pin"))
    else:
        raise InputError("signing the manifest needs one key: --key FILE.p12, or --pkcs11-module LIB")
    files = write_signed_manifest(build_json, key, tsa_url=tsa_url, force=force)
    click.echo(f"wrote {files.manifest}")
    click.echo(f"wrote {files.signature} (signed by {key.identity.common_name}"
               f"{', timestamped' if tsa_url else ''})")

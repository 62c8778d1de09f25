"""`qa-builder manifest`: a signed, canonical manifest of what a build produced from which inputs."""

from __future__ import annotations

from pathlib import Path

import click

from qa_builder.cli.options import KeyChoice, key_options
from qa_builder.printable import printable


@click.command("manifest")
@click.argument("build_json", type=click.Path(dir_okay=False, path_type=Path))
@key_options
@click.option("--tsa", "tsa_url", help="RFC 3161 timestamp authority URL for a timestamp on the signature.")
@click.option("--trust", "trust_roots", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Trust root certificate, repeatable: the signer's certificate is first checked not revoked, and "
                   "the signature carries the OCSP/CRL answers, so the manifest verifies offline.")
@click.option("--force", is_flag=True, help="Replace an existing manifest.")
def manifest_command(build_json: Path, key: KeyChoice, tsa_url: str | None, trust_roots: tuple[Path, ...],
                     force: bool) -> None:
    """Write <id>_v<version>.manifest.json (RFC 8785) and its detached CMS signature .manifest.json.p7s.

    The manifest lists the tool version, answers and template hashes, library and clause versions, the model
    digest, every artefact beside BUILD_JSON (including <id>_v<version>.signed.pdf) with sha256 and size, and the
    signatures in the signed PDF. Anyone can check it with:
    openssl cms -verify -binary -inform DER -in X.manifest.json.p7s -content X.manifest.json -CAfile ROOT.pem
    -purpose any
    """
    from qa_builder.audit.record import trail_of
    from qa_builder.audited import write_signed_manifest

    signing_key = key.load()
    files = write_signed_manifest(build_json, signing_key, tsa_url=tsa_url, force=force, trail=trail_of(build_json),
                                  trust_roots=trust_roots)
    click.echo(f"wrote {files.manifest}")
    click.echo(f"wrote {files.signature} (signed by {printable(signing_key.identity.common_name)}"
               f"{', timestamped' if tsa_url else ''})")

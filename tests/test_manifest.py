"""Signed manifests: canonical JSON, a detached CMS that openssl verifies, and every artefact listed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from asn1crypto import cms

from qa_builder.errors import ManifestError
from qa_builder.files import sha256_file
from qa_builder.signing.keys import load_pkcs12_key
from qa_builder.signing.manifest import build_manifest, canonical_bytes, write_signed_manifest
from tests.conftest import CliResult, run_cli

pytestmark = pytest.mark.libreoffice


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, signed_build: Path) -> Path:
    """A build whose PDF is signed by both parties (<stem>.signed.pdf), like `make demo` leaves it."""
    out = tmp_path_factory.mktemp("manifest") / "build"
    shutil.copytree(signed_build, out)  # manifests are written beside the record: a copy of the session build
    return out / "QA-MIN-1_v1.build.json"


def _openssl_verify(manifest: Path, signature: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature),
                           "-content", str(manifest), "-CAfile", str(root), "-purpose", "any", "-out", "/dev/null"],
                          capture_output=True, text=True, timeout=60)


def test_manifest_lists_inputs_artefacts_and_signatures(built: Path) -> None:
    manifest = build_manifest(built)
    record = json.loads(built.read_text(encoding="utf-8"))
    assert manifest.agreement_id == "QA-MIN-1" and manifest.model_digest == record["model_digest"]
    assert [c.id for c in manifest.library.clauses] == ["scope", "audits", "release"]
    roles = {a.role: a for a in manifest.artefacts}
    assert set(roles) == {"docx", "pdf", "build-record", "signed-pdf"}
    for artefact in manifest.artefacts:
        path = built.parent / artefact.file
        assert artefact.sha256 == sha256_file(path) and artefact.size == path.stat().st_size
    assert [(s.field, s.signer, s.meaning, s.time_source) for s in manifest.signatures] == [
        ("sig_sponsor_1", "Dr. Ilse Verhoeven", "approval", "tsa"),
        ("sig_contract_acceptor_1", "Dr. Matthias Brenner", "approval", "tsa")]
    assert manifest.created_at.endswith("Z")


def test_canonical_json_is_rfc8785(built: Path) -> None:
    data = canonical_bytes(build_manifest(built))
    parsed = json.loads(data)
    assert bytes(rfc8785.dumps(parsed)) == data, "canonical form is a fixed point"
    # for ASCII strings and integers RFC 8785 is sorted keys without whitespace
    assert data == json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def test_signed_manifest_verifies_with_openssl_and_detects_tampering(built: Path, test_pki: Any,
                                                                     tmp_path: Path) -> None:
    files = write_signed_manifest(built, load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase()),
                                  tsa_url=test_pki.tsa_url, force=True)
    ok = _openssl_verify(files.manifest, files.signature, test_pki.root_pem)
    assert ok.returncode == 0 and "Verification successful" in ok.stderr, ok.stderr
    signed_data = cms.ContentInfo.load(files.signature.read_bytes())["content"]
    assert signed_data["encap_content_info"]["content"].native is None, "detached"
    signer_info = signed_data["signer_infos"][0]
    signed_types = {a["type"].native for a in signer_info["signed_attrs"]}
    assert {"signing_certificate_v2", "signing_time", "message_digest"} <= signed_types
    assert "signature_time_stamp_token" in {a["type"].native for a in signer_info["unsigned_attrs"]}
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(files.manifest.read_bytes().replace(b'"QA-MIN-1"', b'"QA-MIN-2"'))
    bad = _openssl_verify(tampered, files.signature, test_pki.root_pem)
    assert bad.returncode != 0


def test_manifest_cli_refuses_overwrite_and_bad_records(built: Path, test_pki: Any, tmp_path: Path) -> None:
    def cli(*args: str) -> CliResult:
        return run_cli(*args)

    key = ["--key", str(test_pki.p12("contract-acceptor")), "--passphrase-file", str(test_pki.passphrase_file)]
    first = cli("manifest", str(built), *key, "--force")
    assert first.returncode == 0, first.stderr
    assert "manifest.json.p7s (signed by Dr. Matthias Brenner)" in first.stdout
    again = cli("manifest", str(built), *key)
    assert again.returncode == 2 and "already exists; use --force" in again.stderr
    bogus = tmp_path / "x.build.json"
    bogus.write_text('{"hello": 1}', encoding="utf-8")
    bad = cli("manifest", str(bogus), *key)
    assert bad.returncode == 2 and "is not a qa-builder build record" in bad.stderr and "Traceback" not in bad.stderr
    with pytest.raises(ManifestError, match="build record not found"):
        build_manifest(tmp_path / "missing.build.json")

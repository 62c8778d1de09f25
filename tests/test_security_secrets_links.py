"""Issue 12, security round: secrets in a TSA URL never shown or stored; audit/exports and audit/seals never
followed when they are symbolic links.

A TSA URL can carry a user name and password (``http://user:password@host/tsr``) or a token in its query
(``?api_key=...``). Every message naming the URL, and every audit event, shows it without them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from qa_builder.audit import AuditTrail
from qa_builder.signing.tsa import shown_tsa_url
from qa_builder.workspace.layout import init_workspace
from tests.conftest import free_port, run_cli

SECRETS = ("TSAPASSWORD123", "QUERYSECRET", "tsauser")


def _secret_url() -> str:
    """A TSA URL with a user, a password and a query token, on a port nothing listens on."""
    return f"http://tsauser:TSAPASSWORD123@127.0.0.1:{free_port()}/tsr?api_key=QUERYSECRET"


def _trail_text(workspace: Path) -> str:
    return "\n".join(event.canonical_json().decode() for event in AuditTrail(workspace).events())


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text)


def test_shown_tsa_url_masks_userinfo_and_query_values() -> None:
    assert shown_tsa_url("http://admin:pw@127.0.0.1:9/tsr?api_key=tok&b=2") == "http://***@127.0.0.1:9/tsr?api_key=***&b=***"
    assert shown_tsa_url("https://tsa.example/tsr") == "https://tsa.example/tsr"
    assert shown_tsa_url("http://token@tsa.example/") == "http://***@tsa.example/"


def test_a_malformed_tsa_url_is_refused_without_its_password(tmp_path: Path, test_pki: Any) -> None:
    ws = init_workspace(tmp_path / "ws").root
    AuditTrail(ws).append("init")
    result = run_cli("audit", "seal", str(ws), "--key", str(test_pki.p12("sponsor")),
                     "--passphrase-file", str(test_pki.passphrase_file), "--tsa", "ftp://u:TSAPASSWORD123@h/x")
    assert result.returncode != 0 and "ftp://***@h/x" in result.stderr, result.stderr
    _assert_no_secret(result.stdout, result.stderr, _trail_text(ws))


def test_seal_with_an_unreachable_tsa_shows_and_stores_no_secret(tmp_path: Path, test_pki: Any) -> None:
    ws = init_workspace(tmp_path / "ws").root
    AuditTrail(ws).append("init")
    url = _secret_url()
    result = run_cli("audit", "seal", str(ws), "--key", str(test_pki.p12("sponsor")),
                     "--passphrase-file", str(test_pki.passphrase_file), "--tsa", url)
    assert result.returncode != 0, result.stderr
    assert f"the timestamp authority {shown_tsa_url(url)} gave no timestamp: cannot connect" in result.stderr
    failed = AuditTrail(ws).events()[-1]
    assert failed.action == "seal" and failed.outcome == "failed"
    assert failed.details["tsa"] == shown_tsa_url(url)
    _assert_no_secret(result.stdout, result.stderr, _trail_text(ws))


def test_sign_with_an_unreachable_tsa_shows_and_stores_no_secret(tmp_path: Path, minimal_build: Path,
                                                                  test_pki: Any) -> None:
    ws = init_workspace(tmp_path / "ws").root
    pdf = ws / "QA-MIN-1_v1.pdf"
    shutil.copy(minimal_build / "QA-MIN-1_v1.pdf", pdf)
    url = _secret_url()
    result = run_cli("sign", str(pdf), "-o", str(ws / "signed.pdf"), "--field", "sig_sponsor_1",
                     "--meaning", "approval", "--key", str(test_pki.p12("sponsor")),
                     "--passphrase-file", str(test_pki.passphrase_file), "--level", "B-T", "--tsa", url)
    assert result.returncode == 1, result.stderr
    assert f"the timestamp authority {shown_tsa_url(url)} gave no timestamp: cannot connect" in result.stderr
    failed = AuditTrail(ws).events()[-1]
    assert failed.action == "sign" and failed.outcome == "failed" and "gave no timestamp" in str(failed.details)
    _assert_no_secret(result.stdout, result.stderr, _trail_text(ws))
    assert not (ws / "signed.pdf").exists()


@pytest.mark.parametrize("folder", ["exports", "seals"])
def test_a_link_in_place_of_an_audit_folder_is_refused(tmp_path: Path, test_pki: Any, folder: str) -> None:
    ws = init_workspace(tmp_path / "ws").root
    AuditTrail(ws).append("init")
    outside = tmp_path / "outside"
    outside.mkdir()
    link = ws / "audit" / folder
    if link.exists():
        shutil.rmtree(link)
    link.symlink_to(outside, target_is_directory=True)
    if folder == "exports":
        result = run_cli("audit", "export", str(ws), "--format", "csv")
    else:
        result = run_cli("audit", "seal", str(ws), "--key", str(test_pki.p12("sponsor")),
                         "--passphrase-file", str(test_pki.passphrase_file))
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode != 0 and len(errors) == 1, result.stderr
    assert f"{link}: is a symbolic link" in errors[0], errors
    assert "Traceback" not in result.stderr
    assert list(outside.iterdir()) == []

"""Files and the audit trail under attack: locks, killed runs, full or read-only disks, paths from records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS, ROOT


def _cli(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qa_builder", *args], capture_output=True, text=True, cwd=ROOT,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, timeout=timeout)


def _build_docx(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _cli("build", str(MINIMAL_ANSWERS), "-o", str(out), "--library", str(MINI_LIBRARY), "--format", "docx",
                *extra)


def _one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors, result.stderr
    return errors[0]


# --- manifest: artefact names in a build record are plain names inside their folder -----------------------------

def test_manifest_refuses_a_record_whose_artefact_climbs_out(tmp_path: Path, test_pki: Any) -> None:
    out = tmp_path / "out"
    assert _build_docx(out).returncode == 0
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the output folder", encoding="utf-8")
    record_path = out / "QA-MIN-1_v1.build.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["artefacts"][0]["file"] = "../secret.txt"
    record_path.write_text(json.dumps(record), encoding="utf-8")
    result = _cli("manifest", str(record_path), "--key", str(test_pki.p12("sponsor")),
                  "--passphrase-file", str(test_pki.passphrase_file))
    line = _one_clear_line(result)
    assert "../secret.txt" in line and "not a plain file name" in line
    assert not list(out.glob("*.manifest.json*"))


# --- secrets: a passphrase file that is not UTF-8 ---------------------------------------------------------------

def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_a_passphrase_file_that_is_not_utf8_leaks_no_byte_of_it(tmp_path: Path, test_pki: Any) -> None:
    workspace = tmp_path / "ws"
    assert _cli("init", str(workspace)).returncode == 0
    secret = b"\xffgeheim-Passwort\xfe"
    passphrase_file = tmp_path / "passphrase.bin"
    passphrase_file.write_bytes(secret + b"\n")
    target = workspace / "agreements" / "QA-X_v1.signed.pdf"
    result = _cli("sign", str(workspace / "agreements" / "QA-X_v1.pdf"), "--field", "sig_sponsor_1",
                  "--meaning", "approval", "-o", str(target), "--key", str(test_pki.p12("sponsor")),
                  "--passphrase-file", str(passphrase_file))
    line = _one_clear_line(result)
    assert "passphrase.bin: the passphrase file is not UTF-8 text" in line
    forms = [secret, b"geheim", b"0xff", b"\\xff", b"0xfe", b"\\xfe", "\xff".encode(), "\xfe".encode()]
    output = (result.stdout + result.stderr).encode()
    assert not [f for f in forms if f in output]
    stored = _files_under(workspace)  # the trail's database (and its WAL, if one is left), and everything else
    assert any(p.name.startswith("trail.sqlite3") for p in stored), "the audit database was not found"
    for path in stored:
        data = path.read_bytes()
        assert not [f for f in forms if f in data], path
    log = _cli("audit", "log", str(workspace))
    assert "sign" in log.stdout and "failed" in log.stdout and "passphrase" in log.stdout
    assert not target.exists()


def test_failed_attempts_keep_no_foreign_error_text(test_pki: Any) -> None:
    import pytest

    from qa_builder.audit.record import failure_sentence
    from qa_builder.errors import SigningError
    from qa_builder.signing.keys import load_pkcs12_key

    assert failure_sentence(ValueError("the secret is hunter2")) == "internal error: ValueError"
    assert failure_sentence(SigningError("k.p12: wrong passphrase\nsecond line\x1b[2J")) == "k.p12: wrong passphrase"
    with pytest.raises(SigningError, match="wrong passphrase") as caught:
        load_pkcs12_key(test_pki.p12("sponsor"), b"\xff\xfe-not-text")
    assert "xff" not in str(caught.value) and caught.value.__cause__ is None

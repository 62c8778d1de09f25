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

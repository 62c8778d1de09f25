"""Side effects explicit (issue 16 item 2): signing, manifests and verification record in an audit trail only
when their caller passes one; the CLI passes the trail of the workspace a file is in, and a trail that cannot
be written never changes a verification's verdict or exit code."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import qa_builder as qa
from qa_builder.audit import AuditTrail
from tests.conftest import run_cli

STEM = "QA-MIN-1_v1"


@pytest.fixture(scope="module")
def signed_in_workspace(tmp_path_factory: pytest.TempPathFactory, minimal_build: Path, test_pki: Any) -> Path:
    """A workspace whose folder `received/` holds QA-MIN-1_v1.pdf and its B-LT signed copy, signed with the CLI.

    Shared by the tests of this module: they copy it before writing into it.
    """
    root = tmp_path_factory.mktemp("signed-ws") / "ws"
    qa.init_workspace(root)
    folder = root / "received"
    folder.mkdir()
    shutil.copy(minimal_build / f"{STEM}.pdf", folder / f"{STEM}.pdf")
    passphrase = root.parent / "passphrase"
    passphrase.write_bytes(test_pki.passphrase())
    before = len(AuditTrail(root).events())
    result = run_cli("sign", str(folder / f"{STEM}.pdf"), "-o", str(folder / f"{STEM}.signed.pdf"),
                     "--field", "sig_sponsor_1", "--meaning", "approval", "--certify", "--level", "B-LT",
                     "--tsa", test_pki.tsa_url, "--trust", str(test_pki.root_pem),
                     "--key", str(test_pki.p12("sponsor")), "--passphrase-file", str(passphrase))
    assert result.returncode == 0, result.stderr
    events = AuditTrail(root).events()
    (root / "sign-events").write_text(str(len(events) - before), encoding="utf-8")
    return root


def _copy(workspace: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    return copy


def _events(workspace: Path) -> list[Any]:
    return AuditTrail(workspace).events()


def test_signing_in_a_workspace_records_exactly_one_event(signed_in_workspace: Path) -> None:
    assert (signed_in_workspace / "sign-events").read_text(encoding="utf-8") == "1"
    last = _events(signed_in_workspace)[-1]
    assert (last.action, last.outcome) == ("sign", "ok")
    assert last.signer and "Ilse Verhoeven" in last.signer
    assert (last.agreement_id, last.agreement_version) == ("QA-MIN-1", 1)
    assert {f.name for f in last.files} == {f"received/{STEM}.pdf", f"received/{STEM}.signed.pdf"}


def test_signing_a_file_outside_any_workspace_records_nothing(minimal_build: Path, test_pki: Any,
                                                               tmp_path: Path) -> None:
    source = tmp_path / f"{STEM}.pdf"
    shutil.copy(minimal_build / f"{STEM}.pdf", source)
    key = qa.load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase())
    request = qa.SignatureRequest(field="sig_sponsor_1", meaning="approval")
    qa.sign_file(source, tmp_path / f"{STEM}.signed.pdf", request, lambda: key, trail=qa.trail_of(source))
    assert (tmp_path / f"{STEM}.signed.pdf").is_file()
    assert not list(tmp_path.rglob("audit"))


def test_the_library_verifies_without_writing_unless_given_a_trail(signed_in_workspace: Path, test_pki: Any,
                                                                    tmp_path: Path) -> None:
    root = _copy(signed_in_workspace, tmp_path)
    signed = root / "received" / f"{STEM}.signed.pdf"
    settings = qa.VerifySettings(trust_roots=(test_pki.root_pem,))
    before = len(_events(root))
    report = qa.verify_files([signed], settings)
    assert report.results[0].indication == "TOTAL-PASSED"
    assert len(_events(root)) == before, "verify_files wrote an event nobody asked for"
    qa.verify_files([signed], settings, trail=qa.open_workspace(root).trail)
    events = _events(root)
    assert len(events) == before + 1
    assert events[-1].action == "verify" and events[-1].details["indication"] == "TOTAL-PASSED"
    assert [f.name for f in events[-1].files] == [f"received/{STEM}.signed.pdf"]


def test_cli_verify_records_workspace_files_unless_no_audit(signed_in_workspace: Path, test_pki: Any,
                                                            tmp_path: Path) -> None:
    root = _copy(signed_in_workspace, tmp_path)
    signed = root / "received" / f"{STEM}.signed.pdf"
    before = len(_events(root))
    quiet = run_cli("verify", "--no-audit", "--trust", str(test_pki.root_pem), str(signed))
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert len(_events(root)) == before
    recorded = run_cli("verify", "--trust", str(test_pki.root_pem), str(signed))
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    events = _events(root)
    assert len(events) == before + 1 and events[-1].action == "verify"


def test_cli_verify_of_a_received_file_records_only_with_workspace(signed_in_workspace: Path, test_pki: Any,
                                                                   tmp_path: Path) -> None:
    root = _copy(signed_in_workspace, tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    received = inbox / f"{STEM}.signed.pdf"
    shutil.copy(root / "received" / f"{STEM}.signed.pdf", received)
    before = len(_events(root))
    plain = run_cli("verify", "--trust", str(test_pki.root_pem), str(received))
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert len(_events(root)) == before and not (inbox / "audit").exists()
    asked = run_cli("verify", "--workspace", str(root), "--trust", str(test_pki.root_pem), str(received))
    assert asked.returncode == 0, asked.stdout + asked.stderr
    events = _events(root)
    assert len(events) == before + 1
    assert [f.name for f in events[-1].files] == [received.name]
    both = run_cli("verify", "--workspace", str(root), "--no-audit", str(received))
    assert both.returncode == 2 and "--no-audit" in both.stderr
    not_one = run_cli("verify", "--workspace", str(inbox), str(received))
    assert not_one.returncode == 2 and "is not a qa-builder workspace" in not_one.stderr


@contextmanager
def _read_only(paths: list[Path]) -> Iterator[None]:
    """Files and folders nobody may write. Root ignores file modes, so as root they are made immutable
    (chattr +i); otherwise their write bits are removed."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
    else:
        modes = {path: path.stat().st_mode for path in paths}
        for path in paths:
            path.chmod(modes[path] & ~0o222)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)


@pytest.mark.parametrize("has_trail", [True, False], ids=["read-only trail", "no audit folder yet"])
def test_an_unwritable_trail_keeps_the_verdicts_exit_code(signed_in_workspace: Path, test_pki: Any,
                                                          tmp_path: Path, has_trail: bool) -> None:
    """A file that passed verified with exit 3 (INDETERMINATE) when its workspace's trail could not be written."""
    root = _copy(signed_in_workspace, tmp_path)
    signed = root / "received" / f"{STEM}.signed.pdf"
    trail = root / "audit" / "trail.sqlite3"
    if not has_trail:
        shutil.rmtree(trail.parent)
    before = trail.read_bytes() if has_trail else None
    with _read_only([trail, trail.parent, signed.parent, root] if has_trail else [signed.parent, root]):
        result = run_cli("verify", "--trust", str(test_pki.root_pem), str(signed))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{signed}: PASSED" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    assert f"was not recorded in the audit trail of {root}: " in warnings[0], warnings[0]
    assert warnings[0].endswith("; the verdict stands")
    assert (trail.read_bytes() if has_trail else None) == before
    assert has_trail or not trail.parent.exists()

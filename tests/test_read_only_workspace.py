"""A read-only copy of a workspace (an archived one, a read-only mount): its trail is listed and verified; commands
that must record in it say plainly that they cannot, and leave nothing behind."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import MINIMAL_ANSWERS, run_cli


@contextmanager
def _read_only(folder: Path) -> Iterator[Path]:
    """`folder` seen read-only: a read-only bind mount where this machine allows mounting (CI runs as root);
    elsewhere the folder and its audit folder are made immutable (root) or r-x (anyone else)."""
    view = folder.with_name(folder.name + "-ro")
    view.mkdir()
    if os.geteuid() == 0 and shutil.which("mount") and subprocess.run(
            ["mount", "--bind", "-o", "ro", str(folder), str(view)], capture_output=True).returncode == 0:
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True, capture_output=True)
            yield view
        finally:
            subprocess.run(["umount", str(view)], check=True)
        return
    view.rmdir()
    folders = [folder, folder / "audit"]
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, folders)], check=True)
    else:
        for each in folders:
            each.chmod(0o555)
    try:
        yield folder
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", *map(str, folders)], check=True)
        else:
            for each in folders:
                each.chmod(0o755)


def test_a_read_only_copy_of_a_workspace_is_listed_and_verified(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run_cli("init", str(ws)).returncode == 0
    assert run_cli("add", str(ws), str(MINIMAL_ANSWERS)).returncode == 0
    assert not list((ws / "audit").glob("trail.sqlite3-*"))  # closed: nothing left in a -wal file
    export = tmp_path / "export.csv"
    with _read_only(ws) as archived:
        listed = run_cli("audit", "log", str(archived))
        assert listed.returncode == 0, listed.stderr
        assert [line.split()[2] for line in listed.stdout.splitlines()] == ["init", "add"]
        verified = run_cli("audit", "verify", str(archived))
        assert verified.returncode == 0, verified.stderr
        assert "verdict: INTACT" in verified.stdout
        for args in (["impact", str(archived)], ["audit", "export", str(archived), "--format", "csv", "-o",
                                                  str(export)]):
            refused = run_cli(*args)
            assert refused.returncode == 3, refused.stderr
            assert refused.stderr.splitlines() == [
                f"error: {archived / 'audit' / 'trail.sqlite3'}: the audit trail cannot be written: the workspace "
                "is read-only here (a read-only mount or an archived copy); this command records what it does in "
                "the trail, so run it on a writable copy (`audit log` and `audit verify` read a read-only copy)"]
        assert not export.exists()  # no export is left that the trail does not record
        assert not list((archived / "audit").glob("trail.sqlite3-*"))

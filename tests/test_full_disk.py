"""Every command that writes, on a full disk: one line naming the file and what to do, exit 1, nothing left behind.

The disk is a real tmpfs filled to the last block where this machine allows mounting (CI runs as root); elsewhere
folders that refuse new files fail the same commands, and are reported alike.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS, answers_data, run_cli, write_answers

AGREEMENT = "QA-MIN-1"


@contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[bool]:
    """A small tmpfs mounted at `where` (True), or False where this machine does not allow mounting."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(where)], check=True)


@contextmanager
def _full(disk: Path, mounted: bool) -> Iterator[str]:
    """`disk` with no byte left; yields the words of the refusal. Where no tmpfs can be mounted, every folder on
    `disk` but the audit trail's refuses new files instead (`_unwritable`), which is reported alike."""
    if mounted:
        filler = disk / "filler"
        with filler.open("wb", buffering=0) as handle, pytest.raises(OSError):
            while True:
                handle.write(b"\0" * 4096)
        try:
            yield "the disk is full (no space left); free some space and run again"
        finally:
            filler.unlink()
    else:
        folders = [f for f in (disk, *disk.rglob("*")) if f.is_dir() and f.name != "audit"]
        with _unwritable(folders) as words:
            yield words


@contextmanager
def _unwritable(folders: list[Path]) -> Iterator[str]:
    """Folders nobody may write into, and the words of the refusal. Root ignores file modes, so as root the
    folders are made immutable (chattr +i); otherwise their mode is r-x."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, folders)], check=True)
        try:
            yield "cannot be written (operation not permitted); choose a folder you may write to"
        finally:
            subprocess.run(["chattr", "-i", *map(str, folders)], check=True)
    else:
        for folder in folders:
            folder.chmod(0o555)
        try:
            yield "cannot be written (permission denied); choose a folder you may write to"
        finally:
            for folder in folders:
                folder.chmod(0o755)


def _tree(folder: Path) -> set[str]:
    """Every path under `folder`, but the audit trail's database files (a refused command records its attempt)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if not p.name.startswith("trail.sqlite3") and p.name != "filler"}


def test_every_command_that_writes_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path,
                                                                                  test_pki: Any) -> None:
    disk = tmp_path / "disk"
    with _tmpfs(disk, "4m") as mounted:
        ws = disk / "ws"
        assert run_cli("init", str(ws)).returncode == 0
        shutil.rmtree(ws / "clause_library")
        shutil.copytree(MINI_LIBRARY, ws / "clause_library")
        assert run_cli("add", str(ws), str(MINIMAL_ANSWERS)).returncode == 0
        built = run_cli("build", "--workspace", str(ws))
        assert built.returncode == 0, built.stderr
        version = ws / "agreements" / AGREEMENT / "v1"
        returned = tmp_path / "returned.docx"
        shutil.copy(version / f"{AGREEMENT}_v1.docx", returned)
        other = answers_data()
        other["agreement"]["id"] = "QA-MIN-2"
        other_answers = write_answers(tmp_path, other, "other.yaml")
        key = ("--key", str(test_pki.p12("sponsor")), "--passphrase-file", str(test_pki.passphrase_file))
        trail = ws / "audit" / "trail.sqlite3"  # commands that record in it check it first: it cannot be read
        commands: dict[str, tuple[list[str], Path]] = {
            "add": (["add", str(ws), str(other_answers)], trail),
            "sign": (["sign", str(version / f"{AGREEMENT}_v1.pdf"), "--field", "sig_sponsor_1", "--meaning",
                      "approval", "--certify", *key, "-o", str(disk / "signed" / "s.pdf")],
                     disk / "signed" / "s.pdf"),
            "manifest": (["manifest", str(version / f"{AGREEMENT}_v1.build.json"), *key], trail),
            "negotiate import": (["negotiate", "import", str(ws), AGREEMENT, str(returned)],
                                 ws / "agreements" / AGREEMENT / "negotiation" / "v1-import-1.json"),
            "negotiate log": (["negotiate", "log", str(ws), AGREEMENT, "-o", str(disk / "logs" / "log.docx")],
                              disk / "logs" / "log.docx"),
            "init": (["init", str(disk / "ws2")], disk / "ws2"),
        }
        before = _tree(disk)
        with _full(disk, mounted) as refusal:
            for name, (args, culprit) in commands.items():
                result = run_cli(*args)
                assert result.returncode == (3 if mounted and culprit == trail else 1), (name, result.stderr)
                assert "internal error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
                lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
                if mounted:
                    said = "the audit trail cannot be used: " if culprit == trail else ""
                    assert lines == [f"error: {culprit}: {said}{refusal}"], (name, result.stderr)
                else:  # the first folder that refuses is named: the file's, or one it would have made
                    assert len(lines) == 1 and refusal in lines[0] and str(disk) in lines[0], (name, result.stderr)
                assert _tree(disk) == before, (name, _tree(disk) ^ before)  # no empty folder, no temp file

"""Issue 12, "nothing ever lost or silently overwritten": a file named with -o is replaced only with --force, and
never when it is one of the workspace's records; `pki init` never writes through a symbolic link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import MINIMAL_ANSWERS, CliResult, run_cli


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding QA-MIN-1 (answers, no version) and an audit trail with its `init` and `add` events."""
    import qa_builder as qa

    root = tmp_path_factory.mktemp("records") / "ws"
    opened = qa.init_workspace(root)
    qa.add_agreement(opened, MINIMAL_ANSWERS)
    version = root / "agreements" / "QA-MIN-1" / "v1"
    version.mkdir()
    (version / "signed1.pdf").write_bytes(b"%PDF-1.7 signed by two people\n")  # stands for a signed PDF
    return root


def _one_line(result: CliResult) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


_WRITERS = {
    "audit export": lambda ws, out, *extra: ["audit", "export", str(ws), "--format", "csv", "-o", str(out), *extra],
    "negotiate log": lambda ws, out, *extra: ["negotiate", "log", str(ws), "QA-MIN-1", "-o", str(out), *extra],
    "negotiate proposal": lambda ws, out, *extra: ["negotiate", "proposal", str(ws), "QA-MIN-1", "-o", str(out),
                                                   *extra],
}


@pytest.mark.parametrize("command", sorted(_WRITERS))
def test_an_existing_output_is_kept_without_force(command: str, workspace: Path, tmp_path: Path) -> None:
    """Security test fault 9: each of these replaced keep.csv / keep.docx silently, with exit 0."""
    keep = tmp_path / "keep.out"
    keep.write_bytes(b"the user's own file")
    line = _one_line(run_cli(*_WRITERS[command](workspace, keep)))
    assert line == f"error: {keep} already exists; choose another -o or pass --force", line
    assert keep.read_bytes() == b"the user's own file"


@pytest.mark.parametrize("command", ["audit export", "negotiate log"])
def test_a_file_made_after_the_check_is_kept_too(command: str, workspace: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The check before the work is not enough: another program may create the -o file while the export or log is
    made. Without --force the file is only ever created, so that file is kept (before: silently replaced)."""
    from qa_builder.workspace import records

    out = tmp_path / "made-meanwhile.out"
    checked = records.check_output

    def check_then_someone_writes(path: Path, root: Path, *, force: bool) -> None:
        checked(path, root, force=force)
        path.write_bytes(b"written by another program meanwhile")

    monkeypatch.setattr(records, "check_output", check_then_someone_writes)
    line = _one_line(run_cli(*_WRITERS[command](workspace, out)))
    assert line.startswith(f"error: {out} already exists (another run wrote it meanwhile); it is kept"), line
    assert out.read_bytes() == b"written by another program meanwhile"
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


@pytest.mark.parametrize("command", ["audit export", "negotiate log"])
def test_force_replaces_an_existing_output(command: str, workspace: Path, tmp_path: Path) -> None:
    keep = tmp_path / "keep.out"
    keep.write_bytes(b"the user's own file")
    result = run_cli(*_WRITERS[command](workspace, keep, "--force"))
    assert result.returncode == 0, result.stderr
    assert keep.read_bytes() != b"the user's own file" and keep.stat().st_size > 0


@pytest.mark.parametrize("command", sorted(_WRITERS))
@pytest.mark.parametrize("record", ["agreements/QA-MIN-1/v1/signed1.pdf", "agreements/QA-MIN-1/answers.yaml",
                                    "audit/trail.sqlite3", "qa-builder.yaml"])
def test_a_record_is_never_written_over_even_with_force(command: str, record: str, workspace: Path) -> None:
    """Security test fault 10: `-o W/audit/trail.sqlite3` replaced the trail (every command then said it cannot be
    used), `-o W/agreements/ID/v1/signed1.pdf` a signed PDF, `-o W/agreements/ID/answers.yaml` the answers."""
    target = workspace / record
    before = target.read_bytes()
    line = _one_line(run_cli(*_WRITERS[command](workspace, target, "--force")))
    assert line.startswith(f"error: {target}: is one of the workspace's own records ({record}); "), line
    assert target.read_bytes() == before
    assert run_cli("audit", "verify", str(workspace)).returncode == 0


def test_a_link_to_a_record_from_outside_is_a_record(workspace: Path, tmp_path: Path) -> None:
    link = tmp_path / "innocent.csv"
    link.symlink_to(workspace / "audit" / "trail.sqlite3")
    line = _one_line(run_cli(*_WRITERS["audit export"](workspace, link, "--force")))
    assert "(audit/trail.sqlite3)" in line, line
    assert link.is_symlink()


def test_reports_in_the_negotiation_folder_may_be_replaced(workspace: Path) -> None:
    target = workspace / "agreements" / "QA-MIN-1" / "negotiation" / "for-legal.docx"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(b"an earlier log")
    assert run_cli(*_WRITERS["negotiate log"](workspace, target, "--force")).returncode == 0
    assert target.read_bytes().startswith(b"PK")


@pytest.mark.parametrize("name", ["PASSPHRASE", "root-ca.pem", "sponsor.p12", "contract-acceptor.p12"])
def test_pki_init_never_writes_through_a_symbolic_link(name: str, tmp_path: Path) -> None:
    """Security test fault 8: a link at p/PASSPHRASE got the passphrase written into (and chmod 600 on) its target;
    a link at p/root-ca.pem overwrote its target."""
    leak = tmp_path / "leak"
    leak.write_bytes(b"someone else's file")
    leak.chmod(0o644)
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / name).symlink_to(leak)
    line = _one_line(run_cli("pki", "init", str(folder)))
    assert line.startswith(f"error: {folder} already holds other files"), line  # refused before any write
    from qa_builder.testing import pki

    with pytest.raises(OSError):  # and the writer itself never follows a link (O_NOFOLLOW)
        pki._write_private(folder / name, b"secret")
    assert leak.read_bytes() == b"someone else's file"
    assert stat.S_IMODE(os.stat(leak).st_mode) == 0o644
    assert (folder / name).is_symlink()

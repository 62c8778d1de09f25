"""Files and the audit trail under attack: locks, killed runs, full or read-only disks, paths from records."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from qa_builder.builds.pipeline import MOVING_PREFIX, STAGING_PREFIX
from qa_builder.files import folder_lock, sha256_file
from tests.conftest import (
    MINI_LIBRARY,
    MINIMAL_ANSWERS,
    ROOT,
    CliResult,
    answers_data,
    run_cli,
    self_signed_p12,
    write_answers,
)


def _cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """The command in this process (Click's runner, no input): its real exit code, stdout and stderr, without
    ~1 s of interpreter start-up per call. Runs that must be separate processes (killed, locked, size-limited)
    start `_build_args` with subprocess below."""
    return run_cli(*args, env=env)


def _build_args(out: Path, *extra: str, fmt: str = "docx") -> list[str]:
    return [sys.executable, "-m", "qa_builder", "build", str(MINIMAL_ANSWERS), "-o", str(out), "--library",
            str(MINI_LIBRARY), "--format", fmt, *extra]


def _build_docx(out: Path, *extra: str) -> CliResult:
    return _cli(*_build_args(out, *extra)[3:])


def _record_matches_outputs(out: Path, stem: str = "QA-MIN-1_v1") -> bool:
    record = json.loads((out / f"{stem}.build.json").read_text(encoding="utf-8"))
    return all(sha256_file(out / a["file"]) == a["sha256"] for a in record["artefacts"])


def _one_clear_line(result: CliResult | subprocess.CompletedProcess[str]) -> str:
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


def test_manifest_refuses_a_record_listing_a_file_twice_or_thousands(tmp_path: Path, test_pki: Any) -> None:
    """An artefact listed twice ended in 'internal error: ValidationError'; 200,000 entries were hashed for 34 s."""
    out = tmp_path / "out"
    assert _build_docx(out).returncode == 0
    record_path = out / "QA-MIN-1_v1.build.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    key = ["--key", str(test_pki.p12("sponsor")), "--passphrase-file", str(test_pki.passphrase_file)]
    twice = dict(record, artefacts=record["artefacts"] + record["artefacts"][:1])
    record_path.write_text(json.dumps(twice), encoding="utf-8")
    line = _one_clear_line(_cli("manifest", str(record_path), *key))
    assert "more than once" in line and record["artefacts"][0]["file"] in line
    many = dict(record, artefacts=[dict(record["artefacts"][0], file=f"f{i}.docx") for i in range(5000)])
    record_path.write_text(json.dumps(many), encoding="utf-8")
    assert "5,000 artefacts" in _one_clear_line(_cli("manifest", str(record_path), *key))
    assert not list(out.glob("*.manifest.json*"))


# --- secrets: a passphrase file that is not UTF-8 ---------------------------------------------------------------

def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_a_passphrase_file_that_is_not_utf8_leaks_no_byte_of_it(tmp_path: Path, test_pki: Any) -> None:
    workspace = tmp_path / "ws"
    assert _cli("init", str(workspace)).returncode == 0
    copied = {path: path.read_bytes() for path in _files_under(workspace)}  # what init copied before any secret
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
        if copied.get(path) == data:  # a copied template's compressed bytes may hold "\xfe" as UTF-8 by chance
            continue
        assert not [f for f in forms if f in data], path
    log = _cli("audit", "log", str(workspace))
    assert "sign" in log.stdout and "failed" in log.stdout and "passphrase" in log.stdout
    assert not target.exists()
    token = _cli("sign", str(workspace / "agreements" / "QA-X_v1.pdf"), "--field", "sig_sponsor_1",
                 "--meaning", "approval", "-o", str(target), "--pkcs11-module", "/nonexistent/libtoken.so",
                 "--token-label", "t", "--key-label", "k", "--pin-file", str(passphrase_file))
    assert "passphrase.bin: the pin file is not UTF-8 text" in _one_clear_line(token)
    assert not [f for f in forms if f in (token.stdout + token.stderr).encode()]


def test_a_passphrase_with_a_nul_character_is_one_line_that_quotes_none_of_it(tmp_path: Path, test_pki: Any) -> None:
    """A NUL in a passphrase made cryptography's Rust core panic: a traceback listing every byte of the secret."""
    workspace = tmp_path / "ws"
    assert _cli("init", str(workspace)).returncode == 0
    passphrase_file = tmp_path / "pp"
    passphrase_file.write_bytes(b"SECRETPW\0x\n")
    forms = ["SECRETPW", "83, 69, 67", "NulError", "Traceback"]
    key = ["--key", str(test_pki.p12("sponsor")), "--passphrase-file", str(passphrase_file)]
    signed = _cli("sign", str(workspace / "agreements" / "QA-X_v1.pdf"), "--field", "sig_sponsor_1", "--meaning",
                  "approval", "-o", str(tmp_path / "s.pdf"), *key)
    sealed = _cli("audit", "seal", str(workspace), *key)
    for result in (signed, sealed):
        line = _one_clear_line(result)
        assert "wrong passphrase" in line and "NUL" in line, line
        assert not [f for f in forms if f in result.stdout + result.stderr]
    assert not (tmp_path / "s.pdf").exists()


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


# --- one output folder, one build at a time; killed runs; full and read-only disks -------------------------------

def test_a_second_build_into_a_locked_folder_waits_for_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with folder_lock(out):
        waiting = subprocess.Popen(_build_args(out), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        time.sleep(6)  # a docx build takes about 2 s
        assert waiting.poll() is None, "the build did not wait for the folder's lock"
        assert not list(out.glob("QA-MIN-1_v1*"))
    _, stderr = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, stderr
    assert f"note: waiting for another qa-builder run that is building into {out} to finish" in stderr
    assert _record_matches_outputs(out)


def test_two_builds_of_one_version_at_once_never_both_succeed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runs = [subprocess.Popen(_build_args(out), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)]
    results = [(run.wait(timeout=120), run.stderr.read() if run.stderr else "") for run in runs]
    assert sorted(code for code, _ in results) == [0, 2, 2], results
    for code, stderr in results:
        if code:
            assert "QA-MIN-1_v1.docx already exists; use --force" in stderr
    assert _record_matches_outputs(out)


def test_two_answers_files_for_one_version_in_one_run_do_not_both_succeed(tmp_path: Path) -> None:
    other = write_answers(tmp_path, answers_data(), "same-id.yaml")
    out = tmp_path / "out"
    result = _cli("build", str(MINIMAL_ANSWERS), str(other), "-o", str(out), "--library", str(MINI_LIBRARY),
                  "--format", "docx", "-j", "2")
    assert result.returncode == 2, result.stderr
    assert "1 built, 1 failed" in result.stderr
    assert "is built twice in this run" in result.stderr or "already exists" in result.stderr
    assert _record_matches_outputs(out)


def test_a_rerun_cleans_up_what_an_interrupted_build_left(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    leftover = out / f"{STAGING_PREFIX}killed"
    leftover.mkdir()
    (leftover / "QA-MIN-1_v1.docx").write_bytes(b"half a docx")
    (out / "QA-MIN-1_v1.docx").write_bytes(b"a docx whose build record was never written")
    (out / f"{MOVING_PREFIX}QA-MIN-1_v1.build.json").touch()  # the killed build was moving its outputs into place
    result = _build_docx(out)
    assert result.returncode == 0, result.stderr
    assert f"note: removed {leftover.name} in {out}, left by an interrupted build" in result.stderr
    assert f"note: {out / 'QA-MIN-1_v1.docx'} has no build record (an interrupted build left it); it is replaced" \
        in result.stderr
    assert not leftover.exists()
    assert _record_matches_outputs(out)
    again = _build_docx(out)  # a finished build is still protected
    assert again.returncode == 2 and "already exists; use --force" in again.stderr
    assert not (out / f"{MOVING_PREFIX}QA-MIN-1_v1.build.json").exists()


def test_a_file_of_an_outputs_name_that_no_build_left_is_kept(tmp_path: Path) -> None:
    """Attack round 9: a user's own QA-MIN-1_v1.docx in the -o folder (no build record) was taken for an interrupted
    build's leftover and replaced without --force (the demo did the same to a PDF). Only a file our interrupted
    build left (its moving marker beside it) is replaced; any other is kept unless --force."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "QA-MIN-1_v1.docx").write_bytes(b"the user's own document")
    result = _build_docx(out)
    assert result.returncode == 2, result.stderr
    assert "QA-MIN-1_v1.docx already exists and no build record says a build made it; it is kept" in result.stderr
    assert (out / "QA-MIN-1_v1.docx").read_bytes() == b"the user's own document"
    forced = _build_docx(out, "--force")
    assert forced.returncode == 0, forced.stderr
    assert _record_matches_outputs(out)


@pytest.mark.libreoffice
def test_kill_9_during_build_then_rerun(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = subprocess.Popen(_build_args(out, fmt="both"), cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob(f"{STAGING_PREFIX}*/*.docx")) and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    assert run.poll() is None, "the build ended before it could be killed"
    os.killpg(run.pid, signal.SIGKILL)  # the build and its LibreOffice worker, as a crash would
    run.wait(timeout=30)
    assert list(out.glob(f"{STAGING_PREFIX}*")), "the killed run left no staging folder to clean"
    rerun = _cli(*_build_args(out, fmt="both")[3:])
    assert rerun.returncode == 0, rerun.stderr
    assert "left by an interrupted build" in rerun.stderr
    assert not list(out.glob(f"{STAGING_PREFIX}*"))
    assert _record_matches_outputs(out)


@contextmanager
def _tmpfs(where: Path, options: str) -> Iterator[bool]:
    """A small tmpfs mounted at `where` (True), or False where this machine does not allow mounting."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(where)], check=True)


def test_a_full_disk_is_one_line(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    with _tmpfs(disk, "size=256k") as mounted:
        if mounted:
            with (disk / "filler").open("wb", buffering=0) as filler, pytest.raises(OSError):
                while True:
                    filler.write(b"\0" * 4096)
            result = _build_docx(disk / "out")
            line = _one_clear_line(result)
            assert "the disk is full (no space left)" in line
        else:  # no mounting here: a file size limit fails the same writes (EFBIG), and is reported alike
            result = subprocess.run(_build_args(disk / "out"), cwd=ROOT, capture_output=True, text=True,
                                    preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)))
            line = _one_clear_line(result)
            assert "file size limit" in line
    assert "minimal.yaml: not built:" in line and str(disk / "out") in line


def test_a_file_size_limit_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(_build_args(out), cwd=ROOT, capture_output=True, text=True,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)))
    line = _one_clear_line(result)
    assert f"{out}: a file would be larger than this system allows (file size limit)" in line
    assert not any(out.iterdir())


def test_a_read_only_output_folder_is_one_line(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    with _tmpfs(disk, "ro,size=64k") as mounted:
        if mounted:
            _check_refused(disk, "read-only file system")
        else:  # no mounting here: a folder that refuses writes is reported alike
            with _unwritable(disk) as expected:
                _check_refused(disk, expected)


def test_a_folder_that_refuses_writes_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    with _unwritable(folder) as expected:
        _check_refused(folder, expected)


@contextmanager
def _unwritable(folder: Path) -> Iterator[str]:
    """A folder nobody may write into, and the words the refusal is reported with. Root ignores file modes,
    so as root the folder is made immutable (chattr +i); otherwise its mode is r-x."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
        try:
            yield "operation not permitted"
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield "permission denied"
        finally:
            folder.chmod(0o755)


def _check_refused(folder: Path, expected: str) -> None:
    result = _build_docx(folder)
    line = _one_clear_line(result)
    assert f"{folder}: " in line and expected in line, line
    assert not any(folder.iterdir())


# --- text from files reaches the terminal escaped; certificate names beyond Unicode 3.2 ----------------------------

HOSTILE_FIELD = "sig_a\x1b[2J"
HOSTILE_TOOLTIP = "Eve\x1b]0;owned\x07\nsig_b                        empty   Mallory \u202eevil"


def _hostile_pdf(path: Path) -> Path:
    """A one-page PDF whose signature field name and intended signatory (/TU) carry terminal codes and a fake line."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field

    writer = PdfFileWriter()
    writer.insert_page(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 595, 842)]),
        generic.NameObject("/Resources"): generic.DictionaryObject(),
    }))
    append_signature_field(writer, SigFieldSpec(HOSTILE_FIELD, on_page=0, box=(50, 50, 250, 120)))
    for ref in writer.root["/AcroForm"]["/Fields"]:
        ref.get_object()["/TU"] = generic.TextStringObject(HOSTILE_TOOLTIP)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def _no_raw_codes(text: str) -> None:
    for char in ("\x1b", "\x07", "\u202e"):
        assert char not in text
    assert "\\u001b]0;owned\\u0007\\u000asig_b" in text


def test_sign_prints_field_texts_from_the_pdf_escaped(tmp_path: Path, test_pki: Any) -> None:
    pdf = _hostile_pdf(tmp_path / "received.pdf")
    listing = _cli("sign", str(pdf))
    assert listing.returncode == 0, listing.stderr
    assert len(listing.stdout.splitlines()) == 1  # the fake second line stays inside the first
    assert listing.stdout.startswith("sig_a\\u001b[2J ")
    _no_raw_codes(listing.stdout)
    signed = _cli("sign", str(pdf), "--field", HOSTILE_FIELD, "--meaning", "approval", "-o", str(tmp_path / "s.pdf"),
                  "--key", str(test_pki.p12("sponsor")), "--passphrase-file", str(test_pki.passphrase_file))
    assert signed.returncode == 0, signed.stderr
    warning = [line for line in signed.stderr.splitlines() if line.startswith("warning: field")]
    assert len(warning) == 1 and "is meant for Eve" in warning[0]
    _no_raw_codes(signed.stderr)
    assert "\x1b" not in signed.stdout


def test_a_certificate_name_newer_than_unicode_3_2_is_a_clear_signing_error(tmp_path: Path) -> None:
    pdf = _hostile_pdf(tmp_path / "received.pdf")
    p12 = self_signed_p12(tmp_path / "rupee.p12", "Dr. Anna Rao \u20b9")  # U+20B9 is from Unicode 6.0
    passphrase = tmp_path / "pw"
    passphrase.write_text("pw\n", encoding="utf-8")
    out = tmp_path / "s.pdf"
    result = _cli("sign", str(pdf), "--field", HOSTILE_FIELD, "--meaning", "approval", "-o", str(out),
                  "--key", str(p12), "--passphrase-file", str(passphrase))
    line = _one_clear_line(result)
    assert "rupee.p12: the certificate's subject name (CN=Dr. Anna Rao \u20b9) has characters newer than " \
           "Unicode 3.2" in line
    assert result.returncode == 2 and not out.exists()  # an unusable certificate is bad input


# --- the audit trail's head, anchored outside the database ----------------------------------------------------------

@pytest.fixture(scope="module")
def built_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with one agreement built as v1 (events: init, add, build)."""
    root = tmp_path_factory.mktemp("audit") / "ws"
    assert _cli("init", str(root)).returncode == 0
    assert _cli("add", str(root), str(root / "examples" / "contract-qc-laboratory.yaml")).returncode == 0
    built = _cli("build", "--workspace", str(root))
    assert built.returncode == 0, built.stderr
    return root


def _copy(workspace: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    return copy


def _trail(workspace: Path) -> Any:
    import sqlite3

    return sqlite3.connect(workspace / "audit" / "trail.sqlite3")


def _delete_newest(workspace: Path, count: int) -> None:
    """What someone with write access to the database can do: drop the trigger, delete, fix sqlite_sequence."""
    with _trail(workspace) as conn:
        conn.execute("DROP TRIGGER IF EXISTS events_no_delete")
        top = conn.execute("SELECT max(seq) FROM events").fetchone()[0]
        conn.execute("DELETE FROM events WHERE seq > ?", (top - count,))
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", (top - count,))


def _rewrite_from(workspace: Path, seq: int) -> None:
    """Change event `seq` and recompute the hash chain from there on, so the chain itself holds."""
    from qa_builder.audit.events import content_hash

    with _trail(workspace) as conn:
        conn.execute("DROP TRIGGER IF EXISTS events_no_update")
        previous = conn.execute("SELECT hash FROM events WHERE seq = ?", (seq - 1,)).fetchone()[0]
        for number, text in conn.execute("SELECT seq, event FROM events WHERE seq >= ? ORDER BY seq",
                                         (seq,)).fetchall():
            record = json.loads(text)
            if number == seq:
                record["actor"] = "mallory"
            record["prev_hash"] = previous
            record["hash"] = previous = content_hash(record)
            conn.execute("UPDATE events SET hash = ?, event = ? WHERE seq = ?",
                         (record["hash"], json.dumps(record), number))


def _verify(workspace: Path) -> subprocess.CompletedProcess[str]:
    result = _cli("audit", "verify", str(workspace))
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result


@pytest.mark.libreoffice
def test_the_build_record_carries_the_head_and_verify_says_what_it_cannot_prove(built_workspace: Path) -> None:
    record = json.loads(next(built_workspace.glob("agreements/*/v1/*.build.json")).read_text(encoding="utf-8"))
    assert record["audit_head"]["seq"] == 2 and len(record["audit_head"]["hash"]) == 64
    result = _verify(built_workspace)
    assert result.returncode == 0 and "verdict: INTACT" in result.stdout
    assert "note: event 3 is not covered by any seal or build record: had it been deleted or rewritten, this " \
           "could not be detected" in result.stdout


@pytest.mark.libreoffice
def test_deleting_the_newest_events_is_detected(built_workspace: Path, tmp_path: Path) -> None:
    workspace = _copy(built_workspace, tmp_path)
    _delete_newest(workspace, 1)  # the build event of v1
    result = _verify(workspace)
    assert result.returncode == 1 and "verdict: TAMPERED" in result.stdout
    assert "agreements/QA-SLV-LAB-004/v1 has no build event in the trail" in result.stdout
    _delete_newest(workspace, 1)  # and the event the build record anchors
    result = _verify(workspace)
    assert result.returncode == 1
    assert "was built when the trail ended at event 2, which is no longer in the trail" in result.stdout


@pytest.mark.libreoffice
def test_rewriting_an_anchored_event_is_detected(built_workspace: Path, tmp_path: Path) -> None:
    workspace = _copy(built_workspace, tmp_path)
    _rewrite_from(workspace, 2)
    result = _verify(workspace)
    assert result.returncode == 1 and "chain: intact" in result.stdout
    assert "the trail was rewritten: event 2 no longer has the hash that agreements/QA-SLV-LAB-004/v1/" \
           "QA-SLV-LAB-004_v1.build.json recorded when that version was built" in result.stdout



def _lose_audit_head(record: Path) -> None:
    data = json.loads(record.read_text(encoding="utf-8"))
    del data["audit_head"]
    record.write_text(json.dumps(data), encoding="utf-8")


def _replace_pdf(record: Path) -> None:
    pdf = record.with_name(record.name.replace(".build.json", ".pdf"))
    pdf.write_bytes(pdf.read_bytes().replace(b"/Producer", b"/Producex", 1))


def _docx_becomes_fifo(record: Path) -> None:
    docx = record.with_name(record.name.replace(".build.json", ".docx"))
    docx.unlink()
    os.mkfifo(docx)


def _docx_deleted(record: Path) -> None:
    record.with_name(record.name.replace(".build.json", ".docx")).unlink()


@pytest.mark.libreoffice
@pytest.mark.parametrize(("alter", "suffix", "state"), [
    (_lose_audit_head, ".build.json", "differs from what it recorded (the file was changed or replaced afterwards)"),
    (_replace_pdf, ".pdf", "differs from what it recorded (the file was changed or replaced afterwards)"),
    (_docx_becomes_fifo, ".docx", "cannot be read (not a regular file)"),
    (_docx_deleted, ".docx", "is missing"),
])
def test_a_version_folder_is_compared_with_its_build_event(built_workspace: Path, tmp_path: Path, alter: Any,
                                                           suffix: str, state: str) -> None:
    """A build record that lost its audit head, or a replaced DOCX or PDF, is caught by the hashes the build event
    recorded, even with no seal (issue 12: the head anchor alone missed both)."""
    workspace = _copy(built_workspace, tmp_path)
    assert _verify(workspace).returncode == 0
    record = next(workspace.glob("agreements/*/v1/*.build.json"))
    alter(record)
    result = subprocess.run([sys.executable, "-m", "qa_builder", "audit", "verify", str(workspace)],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    name = record.relative_to(workspace).as_posix().replace(".build.json", suffix)
    assert f"problem: {name}, written by event 3 (build), {state}" in result.stdout, result.stdout
    assert "verdict: TAMPERED" in result.stdout

@pytest.mark.libreoffice
def test_a_control_character_in_an_event_does_not_block_the_pdf_export(built_workspace: Path,
                                                                         tmp_path: Path) -> None:
    from qa_builder.audit import AuditTrail

    workspace = _copy(built_workspace, tmp_path)
    AuditTrail(workspace).append("verify", details={"file": "x\x1b[2J\x00y\nforged: line\u202e"})
    out = tmp_path / "trail.pdf"
    result = _cli("audit", "export", str(workspace), "--format", "pdf", "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "x\\u001b[2J\\u0000y\\u000aforged: line\\u202e" in text.replace("\n", "")


def test_seal_events_cannot_point_outside_the_workspace_or_forge_lines(tmp_path: Path) -> None:
    from qa_builder.audit import AuditTrail
    from qa_builder.audit.events import AuditFile

    workspace = tmp_path / "ws"
    assert _cli("init", str(workspace)).returncode == 0
    outside = tmp_path / "outside.txt"
    outside.write_text("not the workspace's", encoding="utf-8")
    trail = AuditTrail(workspace)
    trail.append("seal", details={"sealed_seq": 1}, files=[
        AuditFile(name="../outside.txt", sha256=sha256_file(outside)),
        AuditFile(name="x\x1b[2J\nproblem: forged", sha256="0" * 64)])
    result = _verify(workspace)
    assert result.returncode == 1
    assert "problem: ../outside.txt, recorded by event 2, is not a file inside the workspace" in result.stdout
    assert "\x1b" not in result.stdout and "\nproblem: forged" not in result.stdout


def test_a_malformed_event_is_named_not_a_crash(tmp_path: Path) -> None:
    from qa_builder.audit.events import content_hash

    workspace = tmp_path / "ws"
    assert _cli("init", str(workspace)).returncode == 0
    with _trail(workspace) as conn:
        seq, previous, text = conn.execute("SELECT seq, hash, event FROM events ORDER BY seq DESC").fetchone()
        record = {**json.loads(text), "seq": seq + 1, "prev_hash": previous, "details": "not a mapping"}
        record["hash"] = content_hash(record)
        conn.execute("INSERT INTO events (seq, hash, event) VALUES (?, ?, ?)",
                     (seq + 1, record["hash"], json.dumps(record)))
        conn.execute("INSERT INTO events (seq, hash, event) VALUES (?, ?, ?)", (seq + 2, "x", "{not json"))
    result = _verify(workspace)
    assert result.returncode == 1
    assert f"problem: event {seq + 1} was changed after it was written (it is no longer a well-formed audit " \
           "event)" in result.stdout


# --- an output folder that cannot be a folder -------------------------------------------------------------------

@pytest.mark.parametrize("case", ["under_a_file", "in_proc"])
def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path: Path, case: str) -> None:
    """`-o some_file/sub` (a file on the path) and `-o /proc/x` (a file system that makes no folders) were
    "internal error: NotADirectoryError / FileNotFoundError" (found attacking the CLI for issue 12)."""
    if case == "under_a_file":
        (tmp_path / "a_file").write_text("x", encoding="utf-8")
        folder, expected = tmp_path / "a_file" / "sub", "is not a folder"
    else:
        folder, expected = Path("/proc/qa-builder-test-folder"), "cannot be created as a folder"
    line = _one_clear_line(_build_docx(folder))
    assert f"{folder}: " in line and expected in line, line


def test_an_output_that_is_a_device_or_pipe_is_never_replaced(tmp_path: Path) -> None:
    """Found by the third attack session: as root, `audit export -o /dev/full` renamed a file over the device."""
    import stat

    from qa_builder.errors import OutputExistsError
    from qa_builder.files import write_bytes_atomic

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputExistsError, match="is not a regular file"):
        write_bytes_atomic(fifo, b"data")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temporary file left beside it


def test_pki_init_where_nothing_can_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x", encoding="utf-8")
    result = _cli("pki", "init", str(blocker / "pki"))
    assert result.returncode != 0
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_build_record_that_is_a_pipe_does_not_hang_impact(tmp_path: Path) -> None:
    """Found by the third attack session: `impact` hung on a FIFO build record and grew to 23 GB on /dev/zero."""
    from qa_builder.errors import InputError
    from qa_builder.workspace.layout import Workspace

    version = tmp_path / "agreements" / "QA-1" / "v1"
    version.mkdir(parents=True)
    os.mkfifo(version / "QA-1_v1.build.json")
    os.symlink("/dev/zero", version / "QA-1_v1.agreement.json")
    workspace = Workspace(root=tmp_path, settings=None)  # type: ignore[arg-type]
    started = time.monotonic()
    with pytest.raises(InputError, match="is not a readable build record"):
        workspace.record("QA-1", 1)
    with pytest.raises(InputError, match="is a symbolic link"):  # a link to /dev/zero is refused as a link
        workspace.agreement("QA-1", 1)
    assert time.monotonic() - started < 5


def test_a_damaged_regeneration_note_neither_stops_nor_hangs_regenerate(tmp_path: Path) -> None:
    """Found by the third attack session: invalid JSON or a list in a version's regeneration note made
    `regenerate` end in 'internal error' after it had built the new version."""
    from qa_builder.regenerate.runs import _read_note

    cases = {"bad.json": b"{\n", "list.json": b"[1]", "wrong.json": b'{"reasons": "x"}'}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert _read_note(tmp_path / name) is None, name
    os.mkfifo(tmp_path / "pipe.json")
    os.symlink("/dev/zero", tmp_path / "zero.json")
    started = time.monotonic()
    assert _read_note(tmp_path / "pipe.json") is None
    assert _read_note(tmp_path / "zero.json") is None
    assert _read_note(tmp_path / "missing.json") is None
    assert time.monotonic() - started < 5
    (tmp_path / "good.json").write_bytes(b'{"run_id": "r1", "reasons": ["clause changed"]}')
    assert _read_note(tmp_path / "good.json") == {"run_id": "r1", "reasons": ["clause changed"]}


def test_an_agreement_whose_answers_are_not_a_file_is_named_not_skipped(tmp_path: Path) -> None:
    """Found by the third attack session: `build --workspace` said '0 built, 0 failed' for an agreement whose
    answers.yaml was a folder or a pipe, and `impact` counted it nowhere."""
    from qa_builder.errors import QABuilderError
    from qa_builder.regenerate import load_workspace_answers
    from qa_builder.workspace.layout import init_workspace

    workspace = init_workspace(tmp_path / "w")
    (workspace.root / "agreements" / "QA-PIPE").mkdir(parents=True)
    os.mkfifo(workspace.answers_path("QA-PIPE"))
    (workspace.root / "agreements" / "QA-DIR" / "answers.yaml").mkdir(parents=True)
    assert {"QA-PIPE", "QA-DIR"} <= set(workspace.agreement_ids())
    started = time.monotonic()
    for agreement_id in ("QA-PIPE", "QA-DIR"):
        with pytest.raises(QABuilderError) as caught:
            load_workspace_answers(workspace, agreement_id)
        assert agreement_id in str(caught.value) and len(str(caught.value).splitlines()) == 1
    assert time.monotonic() - started < 5


def test_reading_a_small_file_under_a_large_limit_does_not_reserve_the_limit(tmp_path: Path) -> None:
    """read(n) allocates n bytes before reading: a verifier bounded to 2 GiB of address space could not read a
    2 KB PDF with a 2 GiB limit (every corpus file after the first was 'needs more than 2048 MiB')."""
    import subprocess
    import sys

    small = tmp_path / "small.pdf"
    small.write_bytes(b"%PDF-1.7\n" * 200)
    program = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from qa_builder.files import read_small_file\n"
        "pages = int(open('/proc/self/statm').read().split()[0])\n"
        "import os\n"
        "now = pages * os.sysconf('SC_PAGE_SIZE')\n"
        "resource.setrlimit(resource.RLIMIT_AS, (now + 256 * 1024 * 1024, resource.RLIM_INFINITY))\n"
        f"data = read_small_file(Path({str(small)!r}), 2048 * 1024 * 1024)\n"
        "print(len(data))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(len(small.read_bytes()))


def test_a_file_one_byte_over_the_limit_is_refused(tmp_path: Path) -> None:
    import errno

    from qa_builder.files import read_small_file

    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 1001)
    with pytest.raises(OSError) as info:
        read_small_file(big, 1000)
    assert info.value.errno == errno.EFBIG
    assert read_small_file(big, 1001) == b"x" * 1001


def test_read_validated_names_the_file_the_kind_the_field_and_the_remedy(tmp_path: Path) -> None:
    """One bounded read-and-validate for the files qa-builder keeps (build records, models, decisions, reports)."""
    from pydantic import BaseModel

    from qa_builder.errors import InputError
    from qa_builder.files import read_validated

    class Kept(BaseModel):
        version: int

    path = tmp_path / "kept.json"
    path.write_text('{"version": 3}', encoding="utf-8")
    assert read_validated(path, 100, Kept.model_validate_json, "kept file").version == 3
    path.write_text('{"version": "three"}', encoding="utf-8")
    with pytest.raises(InputError, match=r"kept\.json: is not a readable kept file \(version: Input should be a "
                                         r"valid integer.*\); build it again$"):
        read_validated(path, 100, Kept.model_validate_json, "kept file", "build it again")
    path.write_text('{"version": 3}' + " " * 100, encoding="utf-8")
    with pytest.raises(InputError, match=r"kept\.json: is not a readable kept file \(.*larger than"):
        read_validated(path, 100, Kept.model_validate_json, "kept file")
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(InputError, match=r"is not a readable kept file \(nested too deeply\)"):
        read_validated(path, 1_000_000, lambda data: Kept.model_validate(json.loads(data)), "kept file")

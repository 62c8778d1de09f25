"""The Part 11 audit trail: honest chains verify, every kind of tampering is named, seals catch rewrites."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qa_builder.audit import AuditTrail, export_csv, export_pdf, seal_trail, verify_trail
from qa_builder.audit.events import content_hash, make_event
from qa_builder.audit.export import CSV_COLUMNS
from qa_builder.audit.seal import seal_files
from qa_builder.cli import main
from qa_builder.errors import AuditError
from qa_builder.signing.keys import load_pkcs12_key
from tests.conftest import ROOT, run_cli

ACTIONS = ("init", "build", "sign", "manifest", "verify")


def _workspace(folder: Path, events: int = 20) -> Path:
    """A workspace whose trail holds `events` events over two agreements."""
    trail = AuditTrail(folder)
    for n in range(1, events + 1):
        trail.append(ACTIONS[n % len(ACTIONS)], agreement_id=f"QA-{n % 2}", agreement_version=1,
                     details={"n": n, "note": f"step {n}", "flags": ["a", "b"], "dry_run": False})
    return folder


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace with an honest trail of 20 events."""
    return _workspace(tmp_path / "ws")


@pytest.fixture
def attacker(workspace: Path) -> Iterator[sqlite3.Connection]:
    """Direct write access to the trail database, with the append-only triggers dropped (as an attacker would)."""
    with closing(sqlite3.connect(workspace / "audit" / "trail.sqlite3", isolation_level=None)) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("DROP TRIGGER events_no_delete")
        yield conn


def _record(conn: sqlite3.Connection, seq: int) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(conn.execute("SELECT event FROM events WHERE seq = ?", (seq,)).fetchone()[0])
    return record


def _store(conn: sqlite3.Connection, seq: int, record: dict[str, Any]) -> None:
    conn.execute("UPDATE events SET event = ?, hash = ? WHERE seq = ?", (json.dumps(record), record["hash"], seq))


def _rewrite_from(conn: sqlite3.Connection, first: int) -> None:
    """Recompute every hash from event `first` on, as someone rewriting the whole database would."""
    prev = _record(conn, first - 1)["hash"] if first > 1 else "0" * 64
    last = conn.execute("SELECT max(seq) FROM events").fetchone()[0]
    for seq in range(first, last + 1):
        record = _record(conn, seq)
        record["prev_hash"] = prev
        record["hash"] = content_hash(record)
        _store(conn, seq, record)
        prev = record["hash"]


# --- honest trail -----------------------------------------------------------------------------------------------


def test_honest_trail_verifies(workspace: Path) -> None:
    verdict = verify_trail(workspace)
    assert verdict.intact and verdict.chain_intact and verdict.first_bad_seq is None
    assert verdict.events == 20 and verdict.head is not None and verdict.head.seq == 20
    assert "verdict: INTACT" in verdict.summary()


def test_events_chain_and_read_back(workspace: Path) -> None:
    events = AuditTrail(workspace).events()
    assert [e.seq for e in events] == list(range(1, 21))
    assert events[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert all(e.hash == content_hash(e.model_dump(mode="json")) for e in events)
    first = events[0]
    assert first.time.endswith("Z") and len(first.time) == len("2025-01-01T00:00:00.000000Z")
    assert first.details == {"n": 1, "note": "step 1", "flags": ["a", "b"], "dry_run": False}


def test_events_filter_by_agreement_and_time(workspace: Path) -> None:
    trail = AuditTrail(workspace)
    assert [e.seq for e in trail.events(agreement_id="QA-0")] == list(range(2, 21, 2))
    later = dt.datetime.now(dt.UTC)
    trail.append("impact", agreement_id="QA-9")
    assert [e.seq for e in trail.events(since=later)] == [21]
    assert trail.events(agreement_id="QA-9", since=later)[0].action == "impact"


def test_files_are_named_relative_to_the_workspace_with_their_hash(workspace: Path, tmp_path: Path) -> None:
    inside = workspace / "agreements" / "QA-1.pdf"
    inside.parent.mkdir()
    inside.write_bytes(b"%PDF-1.7 test")
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes(b"x")
    event = AuditTrail(workspace).append("build", files=[inside, outside])
    assert [f.name for f in event.files] == ["agreements/QA-1.pdf", "elsewhere.csv"]
    assert event.files[0].sha256 == hashlib.sha256(b"%PDF-1.7 test").hexdigest()


def test_values_without_a_canonical_form_are_refused_and_nothing_is_written(workspace: Path, tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no canonical JSON form"):
        AuditTrail(workspace).append("build", details={"n": 2**60})
    assert AuditTrail(workspace).append("build").seq == 21
    fresh = AuditTrail(tmp_path / "fresh")
    with pytest.raises(AuditError, match="no canonical JSON form"):
        fresh.append("init", details={"n": -(2**60)})
    assert fresh.events() == [] and fresh.append("init").seq == 1


def test_database_refuses_update_and_delete(workspace: Path) -> None:
    with closing(sqlite3.connect(workspace / "audit" / "trail.sqlite3")) as conn:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE events SET hash = 'x' WHERE seq = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM events WHERE seq = 1")


def test_trail_is_in_wal_mode(workspace: Path) -> None:
    with closing(sqlite3.connect(workspace / "audit" / "trail.sqlite3")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- tampering --------------------------------------------------------------------------------------------------


def test_edited_event_is_named(workspace: Path, attacker: sqlite3.Connection) -> None:
    record = _record(attacker, 17)
    record["details"]["note"] = "something else"
    _store(attacker, 17, record)
    verdict = verify_trail(workspace)
    assert not verdict.intact and verdict.first_bad_seq == 17
    assert verdict.first_problem == "event 17 was changed after it was written (its hash no longer matches)"


def test_deleted_event_is_named(workspace: Path, attacker: sqlite3.Connection) -> None:
    attacker.execute("DELETE FROM events WHERE seq = 12")
    verdict = verify_trail(workspace)
    assert verdict.first_bad_seq == 12
    assert verdict.first_problem == "event 12 is missing: event 13 points to a predecessor that is not there"


def test_events_removed_from_the_end_are_named(workspace: Path, attacker: sqlite3.Connection) -> None:
    attacker.execute("DELETE FROM events WHERE seq > 17")
    verdict = verify_trail(workspace)
    assert verdict.first_bad_seq == 18
    assert verdict.first_problem is not None
    assert verdict.first_problem.startswith("events 18 to 20 are missing: the trail ends at event 17")


def test_forged_event_inserted_in_the_middle_is_named(workspace: Path, attacker: sqlite3.Connection) -> None:
    for seq in range(20, 10, -1):  # make room: every later row moves up one place
        attacker.execute("UPDATE events SET seq = ? WHERE seq = ?", (seq + 1, seq))
    forged = make_event(seq=11, prev_hash=_record(attacker, 10)["hash"], action="sign", outcome="ok",
                        signer="CN=Mallory", agreement_id="QA-1", agreement_version=1, files=[], details={})
    attacker.execute("INSERT INTO events (seq, hash, event) VALUES (?, ?, ?)",
                     (11, forged.hash, forged.canonical_json().decode()))
    verdict = verify_trail(workspace)
    assert verdict.first_bad_seq == 11
    assert verdict.first_problem == ("event 11 was inserted after the fact: the event stored after it points back "
                                     "to event 10")


def test_forged_event_appended_with_a_made_up_predecessor_is_named(workspace: Path,
                                                                  attacker: sqlite3.Connection) -> None:
    forged = make_event(seq=21, prev_hash="ab" * 32, action="sign", outcome="ok", signer=None, agreement_id=None,
                        agreement_version=None, files=[], details={})
    attacker.execute("INSERT INTO events (seq, hash, event) VALUES (?, ?, ?)",
                     (21, forged.hash, forged.canonical_json().decode()))
    verdict = verify_trail(workspace)
    assert verdict.first_bad_seq == 21
    assert verdict.first_problem is not None and verdict.first_problem.startswith(
        "event 21 does not belong to the chain")


def test_swapped_events_are_named(workspace: Path, attacker: sqlite3.Connection) -> None:
    attacker.execute("UPDATE events SET seq = -5 WHERE seq = 5")
    attacker.execute("UPDATE events SET seq = 5 WHERE seq = 6")
    attacker.execute("UPDATE events SET seq = 6 WHERE seq = -5")
    verdict = verify_trail(workspace)
    assert verdict.first_bad_seq == 5
    assert verdict.first_problem == ("event 5 is out of order: it was written after an event that is now stored "
                                     "later in the trail (events were reordered)")


def test_rewritten_chain_without_seal_goes_unnoticed(workspace: Path, attacker: sqlite3.Connection) -> None:
    """Why seals exist: a consistent rewrite of the whole database cannot be told from the chain alone."""
    record = _record(attacker, 3)
    record["details"]["note"] = "rewritten"
    _store(attacker, 3, record)
    _rewrite_from(attacker, 3)
    assert verify_trail(workspace).intact


# --- seals ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sponsor_key(test_pki: Any) -> Any:
    """The test PKI's sponsor key."""
    return load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase())


def test_seal_with_tsa_verifies_and_openssl_agrees(workspace: Path, test_pki: Any, sponsor_key: Any) -> None:
    seal = seal_trail(workspace, sponsor_key, tsa_url=test_pki.tsa_url, trust_roots=[test_pki.root_pem])
    assert seal.seq == 20 and seal.timestamped and seal.event.seq == 21 and seal.event.action == "seal"
    assert seal.files == seal_files(workspace, 20)
    verdict = verify_trail(workspace, [test_pki.root_pem])
    assert verdict.intact, verdict.summary()
    [status] = verdict.seals
    assert status.trusted is True and status.matches_chain and status.timestamp is not None
    assert "Ilse Verhoeven" in status.signer
    done = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(seal.files.signature),
                           "-content", str(seal.files.document), "-CAfile", str(test_pki.root_pem), "-purpose", "any",
                           "-out", "/dev/null"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Verification successful" in done.stderr, done.stderr


def test_a_seal_whose_revocation_cannot_be_checked_is_not_called_trusted(workspace: Path, test_pki: Any) -> None:
    """`audit seal` with a revoked certificate succeeded and `audit verify --trust` called the seal trusted: with
    --trust, sealing refuses a revoked certificate (as `sign --trust`); a seal that carries no revocation data is
    "chain trusted but revocation NOT checked", never "trusted"."""
    key = ("--key", str(test_pki.p12("revoked")), "--passphrase-file", str(test_pki.passphrase_file))
    refused = run_cli("audit", "seal", str(workspace), *key, "--trust", str(test_pki.root_pem))
    assert refused.returncode == 2, refused.stderr
    assert "is revoked" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert not list((workspace / "audit" / "seals").glob("seal-*"))
    assert run_cli("audit", "seal", str(workspace), *key).returncode == 0  # no trust root: nothing to check with
    verified = run_cli("audit", "verify", str(workspace), "--trust", str(test_pki.root_pem))
    [line] = [line for line in verified.stdout.splitlines() if line.startswith("seal of event")]
    assert "revoked signer" in line and ", trusted," not in line
    assert "chain trusted but revocation NOT checked (the seal carries no current revocation data" in line
    [status] = verify_trail(workspace, [test_pki.root_pem]).seals
    assert status.trusted is None and status.revocation_unchecked


def test_rewrite_after_seal_is_detected(workspace: Path, sponsor_key: Any) -> None:
    seal_trail(workspace, sponsor_key)  # seals event 20; the seal event is 21
    AuditTrail(workspace).append("build")  # 22
    with closing(sqlite3.connect(workspace / "audit" / "trail.sqlite3", isolation_level=None)) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        record = _record(conn, 3)
        record["details"]["note"] = "rewritten"
        _store(conn, 3, record)
        _rewrite_from(conn, 3)
    verdict = verify_trail(workspace)
    assert verdict.chain_intact and not verdict.intact
    assert verdict.first_bad_seq == 1
    assert verdict.first_problem is not None
    assert verdict.first_problem.startswith("the trail was rewritten after it was sealed: event 20 no longer has "
                                            "the hash sealed in seal-20.json")
    assert verdict.first_problem.endswith("(the change lies in events 1 to 20)")


def test_rewrite_is_bounded_by_the_last_good_seal(tmp_path: Path, sponsor_key: Any) -> None:
    workspace = _workspace(tmp_path / "ws", 10)
    seal_trail(workspace, sponsor_key)  # seals 10, event 11
    for _ in range(5):
        AuditTrail(workspace).append("build")  # 12..16
    seal_trail(workspace, sponsor_key)  # seals 16, event 17
    with closing(sqlite3.connect(workspace / "audit" / "trail.sqlite3", isolation_level=None)) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        record = _record(conn, 14)
        record["details"] = {"n": 999}
        _store(conn, 14, record)
        _rewrite_from(conn, 14)
    verdict = verify_trail(workspace)
    assert [s.matches_chain for s in verdict.seals] == [True, False]
    assert verdict.first_bad_seq == 11  # event 11 (the first seal's own event) is not covered by that seal
    assert verdict.first_problem is not None and verdict.first_problem.endswith("(the change lies in events 11 to 16)")


def test_altered_seal_document_is_reported(workspace: Path, sponsor_key: Any) -> None:
    seal = seal_trail(workspace, sponsor_key)
    document = json.loads(seal.files.document.read_bytes())
    document["sealed_at"] = "2000-01-01T00:00:00.000000Z"
    seal.files.document.write_text(json.dumps(document))
    verdict = verify_trail(workspace)
    assert not verdict.intact and verdict.chain_intact
    assert verdict.first_problem == "seal-20.p7s: the signature does not match seal-20.json (the seal was altered)"


def test_an_unreadable_trust_root_is_a_usage_error_not_a_broken_seal(workspace: Path, sponsor_key: Any,
                                                                        tmp_path: Path) -> None:
    """A wrong --trust path names that file (exit 2); it used to be reported as an unreadable seal, i.e. tampering."""
    seal_trail(workspace, sponsor_key)
    result = CliRunner().invoke(main, ["audit", "verify", str(workspace), "--trust", str(tmp_path / "nope.pem")])
    assert result.exit_code == 2, result.output
    assert "nope.pem: the trust root cannot be read" in result.output and "seal-20" not in result.output


def test_seal_refuses_a_broken_trail(workspace: Path, attacker: sqlite3.Connection, sponsor_key: Any) -> None:
    attacker.execute("DELETE FROM events WHERE seq = 4")
    with pytest.raises(AuditError, match="does not verify, so it was not sealed: event 4 is missing"):
        seal_trail(workspace, sponsor_key)


# --- concurrency and crashes ------------------------------------------------------------------------------------

_APPENDER = """
import sys, time
from pathlib import Path
from qa_builder.audit.store import AuditTrail
workspace, worker, count, go = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
while not go.exists():
    time.sleep(0.005)
trail = AuditTrail(workspace)
n = 0
while count < 0 or n < count:
    trail.append("build", details={"worker": worker, "n": n})
    n += 1
    if n == 1:
        print("appending", flush=True)
"""


def _appender(workspace: Path, worker: int, count: int, go: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _APPENDER, str(workspace), str(worker), str(count), str(go)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_four_processes_appending_at_once_never_fork_the_chain(tmp_path: Path) -> None:
    workspace, go = tmp_path / "ws", tmp_path / "go"
    workers = [_appender(workspace, w, 50, go) for w in range(4)]  # the trail does not exist yet
    go.touch()
    for process in workers:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    events = AuditTrail(workspace).events()
    assert [e.seq for e in events] == list(range(1, 201))
    assert sorted(e.details["worker"] for e in events) == sorted([0, 1, 2, 3] * 50)
    assert verify_trail(workspace).intact


@pytest.mark.slow
def test_kill_9_during_appends_leaves_a_verifiable_trail(tmp_path: Path) -> None:
    workspace, go = tmp_path / "ws", tmp_path / "go"
    go.touch()
    process = _appender(workspace, 0, -1, go)
    assert process.stdout is not None and process.stdout.readline() == "appending\n"
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    written = verify_trail(workspace)
    assert written.intact and written.events >= 1
    event = AuditTrail(workspace).append("verify")
    assert event.seq == written.events + 1 and verify_trail(workspace).intact


# --- secrets ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["passphrase", "PKCS12_Passphrase", "password", "db-passwd", "token_pin", "userPin",
                                 "pin", "so_pin", "private_key", "PrivateKey", "client_secret", "api-key"])
def test_details_naming_a_secret_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(AuditError, match="looks like a secret"):
        AuditTrail(tmp_path).append("sign", details={key: "hunter2"})
    assert not (tmp_path / "audit" / "trail.sqlite3").exists(), "a refused event does not even open the trail"


@pytest.mark.parametrize("key", ["shipping_terms", "mapping", "token_label", "key_file", "key_label", "spinner"])
def test_ordinary_details_are_accepted(tmp_path: Path, key: str) -> None:
    assert AuditTrail(tmp_path).append("build", details={key: "x"}).details == {key: "x"}


def test_pem_private_key_values_are_refused(tmp_path: Path) -> None:
    pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE...\n-----END EC PRIVATE KEY-----\n"
    with pytest.raises(AuditError, match="PEM private key"):
        AuditTrail(tmp_path).append("sign", details={"note": pem})
    with pytest.raises(AuditError, match="PEM private key"):
        AuditTrail(tmp_path).append("sign", details={"notes": ["fine", "-----BEGIN PRIVATE KEY-----"]})


def test_sealing_leaves_no_passphrase_in_the_audit_folder(workspace: Path, test_pki: Any) -> None:
    result = CliRunner().invoke(main, ["audit", "seal", str(workspace), "--key", str(test_pki.p12("sponsor")),
                                       "--passphrase-file", str(test_pki.passphrase_file), "--tsa", test_pki.tsa_url])
    assert result.exit_code == 0, result.output
    secret = test_pki.passphrase()
    files = [p for p in (workspace / "audit").rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"trail.sqlite3", "seal-20.json", "seal-20.p7s"}
    assert all(secret not in p.read_bytes() for p in files)


# --- exports ----------------------------------------------------------------------------------------------------


def test_export_csv_has_a_header_and_a_row_per_event(workspace: Path, tmp_path: Path) -> None:
    out = export_csv(workspace, tmp_path / "trail.csv")
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 21))
    assert json.loads(rows[1][CSV_COLUMNS.index("details")])["note"] == "step 1"
    last = AuditTrail(workspace).events()[-1]
    assert last.action == "export" and last.files[0].name == "trail.csv" and last.details["events"] == 20


def test_export_csv_shows_a_formula_like_cell_as_text(tmp_path: Path) -> None:
    """Session 6 attack: a PDF named '=HYPERLINK("http:__evil.example_x","Open").pdf' verified with --workspace put
    that name at the start of the `files` cell: a live formula when the inspector opens the export in Excel."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    evil = workspace / '=HYPERLINK("http:__evil.example_x","Open").pdf'
    evil.write_bytes(b"%PDF-1.7 not signed")
    AuditTrail(workspace).append("verify", files=[evil])
    AuditTrail(workspace).append("add", files=[], details={"added_from": "-2+3.yaml"})
    out = export_csv(workspace, tmp_path / "trail.csv")
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    cells = [cell for row in rows[1:] for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells), cells
    assert rows[1][CSV_COLUMNS.index("files")].startswith("'=HYPERLINK(")


@pytest.mark.libreoffice
def test_export_pdf_is_a_readable_report(workspace: Path, tmp_path: Path, converter: Any, sponsor_key: Any) -> None:
    seal_trail(workspace, sponsor_key)
    AuditTrail(workspace).append("sign", outcome="refused", signer="CN=Dr. Ilse Verhoeven",
                                 details={"reason": "certificate expired"})
    out = export_pdf(workspace, tmp_path / "trail.pdf", converter)
    assert out.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, timeout=60,
                          check=True).stdout
    assert "Audit trail report" in text and "VERIFIED" in text
    for word in ("init", "build", "sign", "manifest", "verify", "seal", "refused", "certificate expired"):
        assert word in text, word
    assert "pdfaid:part" in out.read_bytes().decode("latin-1")


# --- command line -----------------------------------------------------------------------------------------------


def test_cli_log_json_and_filters(workspace: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["audit", "log", str(workspace), "--json"])
    assert result.exit_code == 0, result.output
    events = json.loads(result.output)
    assert [e["seq"] for e in events] == list(range(1, 21)) and events[0]["prev_hash"] == "0" * 64
    only = json.loads(runner.invoke(main, ["audit", "log", str(workspace), "--agreement", "QA-1", "--json"]).output)
    assert {e["agreement_id"] for e in only} == {"QA-1"}
    text = runner.invoke(main, ["audit", "log", str(workspace), "--since", "2000-01-01"]).output
    assert len(text.splitlines()) == 20
    bad = runner.invoke(main, ["audit", "log", str(workspace), "--since", "yesterday"])
    assert bad.exit_code == 2 and "not an ISO 8601" in bad.output


def test_cli_verify_exit_codes(workspace: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", str(workspace)])
    assert ok.exit_code == 0 and "verdict: INTACT" in ok.output
    with closing(sqlite3.connect(workspace / "audit" / "trail.sqlite3", isolation_level=None)) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        record = _record(conn, 7)
        record["outcome"] = "failed"
        _store(conn, 7, record)
    bad = runner.invoke(main, ["audit", "verify", str(workspace)])
    assert bad.exit_code == 1 and "event 7 was changed after it was written" in bad.output
    missing = runner.invoke(main, ["audit", "verify", str(tmp_path / "nowhere")])
    assert missing.exit_code == 3 and "has no audit trail" in missing.output
    assert "Traceback" not in missing.output


def test_cli_export_csv(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["audit", "export", str(workspace), "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0 and f"wrote {out}" in result.output
    assert len(out.read_text(encoding="utf-8").splitlines()) == 21
    default = CliRunner().invoke(main, ["audit", "export", str(workspace), "--format", "csv"])
    assert default.exit_code == 0 and len(list((workspace / "audit" / "exports").glob("audit-trail-*.csv"))) == 1


def test_cli_seal_needs_a_key(workspace: Path) -> None:
    result = CliRunner().invoke(main, ["audit", "seal", str(workspace)])
    assert result.exit_code == 2 and "signing needs a key" in result.output


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


def _deep_json(path: Path) -> None:
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="ascii")


@pytest.mark.parametrize("part", ["document", "signature"])
@pytest.mark.parametrize("replace", [_fifo, _dev_zero, _deep_json])
def test_a_seal_file_replaced_by_a_fifo_a_device_or_deep_json_is_a_problem_not_a_hang(
        workspace: Path, sponsor_key: Any, part: str, replace: Callable[[Path], None]) -> None:
    # Before: a FIFO hung `audit verify`, a link to /dev/zero filled memory until the OOM killer came, and
    # 100 000 nested brackets were "internal error: RecursionError".
    seal = seal_trail(workspace, sponsor_key)
    replace(getattr(seal.files, part))
    verdict = verify_trail(workspace)
    assert verdict.chain_intact and not verdict.intact
    assert verdict.first_problem is not None and verdict.first_problem.startswith("seal-20.")


def test_a_deeply_nested_event_or_build_record_is_named_not_an_internal_error(
        workspace: Path, attacker: sqlite3.Connection) -> None:
    record = workspace / "agreements" / "QA-1" / "v1" / "QA-1_v1.build.json"
    record.parent.mkdir(parents=True)
    record.write_text("[" * 100_000 + "]" * 100_000, encoding="ascii")
    attacker.execute("UPDATE events SET event = ? WHERE seq = 7", ("[" * 100_000 + "]" * 100_000,))
    verdict = verify_trail(workspace)
    assert not verdict.intact and verdict.first_bad_seq == 7


@pytest.mark.parametrize("planted", [
    "CREATE TRIGGER evil AFTER INSERT ON events BEGIN SELECT count(*) FROM (WITH RECURSIVE c(x) AS "
    "(SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c); END",
    "CREATE VIEW shadow AS SELECT * FROM events",
])
def test_a_database_object_qa_builder_did_not_create_stops_every_command(workspace: Path, planted: str) -> None:
    """A foreign trigger on INSERT (a trail shared through git) hung every workspace write while `audit verify`
    said INTACT (session 6 attack): every command now refuses the trail in one line, at once."""
    with closing(sqlite3.connect(workspace / "audit" / "trail.sqlite3", isolation_level=None)) as conn:
        conn.execute(planted)
    started = time.monotonic()
    with pytest.raises(AuditError, match="did not create"):
        AuditTrail(workspace).append(ACTIONS[0], agreement_id="QA-1", agreement_version=1, details={})
    result = CliRunner().invoke(main, ["audit", "verify", str(workspace)])
    assert result.exit_code != 0 and "INTACT" not in result.output
    assert "did not create" in result.output and "Traceback" not in result.output
    assert time.monotonic() - started < 10


def test_one_of_our_trigger_names_over_another_statement_is_refused(workspace: Path) -> None:
    with closing(sqlite3.connect(workspace / "audit" / "trail.sqlite3", isolation_level=None)) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("CREATE TRIGGER events_no_update AFTER INSERT ON events WHEN (SELECT count(*) FROM events) > 0 "
                     "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: events cannot be changed'); END")
    with pytest.raises(AuditError, match="did not create"):
        AuditTrail(workspace).events()

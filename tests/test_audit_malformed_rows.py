"""A trail database edited by hand: malformed rows and oversized events are named in one line, never read whole."""

from __future__ import annotations

import csv
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa_builder.audit import AuditTrail, export_csv, verify_trail
from qa_builder.audit.export import CSV_COLUMNS
from qa_builder.audit.store import EVENT_SIZE_LIMIT, MalformedTrailError
from qa_builder.cli import main
from qa_builder.errors import AuditError


def _workspace(folder: Path, events: int = 4) -> Path:
    trail = AuditTrail(folder)
    for n in range(1, events + 1):
        trail.append("build", agreement_id="QA-1", agreement_version=1, details={"n": n})
    return folder


def _db(workspace: Path) -> Path:
    return workspace / "audit" / "trail.sqlite3"


@pytest.mark.parametrize("row", [("abc", 1, '{"action":1}'), (1.5, "x", "{}"), (None, "x", "{}"), (0, "x", "{}")])
def test_a_replaced_events_table_is_one_line_naming_the_trail_with_the_tampered_exit_code(
        tmp_path: Path, row: tuple[object, object, object]) -> None:
    workspace = _workspace(tmp_path / "ws")
    with closing(sqlite3.connect(_db(workspace), isolation_level=None)) as conn:
        conn.execute("DROP TABLE events")
        conn.execute("CREATE TABLE events(seq, hash, event)")
        conn.execute("INSERT INTO events VALUES (?, ?, ?)", row)
    with pytest.raises(MalformedTrailError, match="sequence number"):
        verify_trail(workspace)
    result = CliRunner().invoke(main, ["audit", "verify", str(workspace)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0] and str(_db(workspace)) in lines[0]
    logged = CliRunner().invoke(main, ["audit", "log", str(workspace)])
    assert logged.exit_code in (1, 3) and "internal error" not in logged.output


@pytest.mark.parametrize(("hash_value", "event", "expected"), [
    (1, "{}", "hash that is not text"),
    ("x", 7, "stored as integer"),
    ("x", b"{}", "stored as blob"),
])
def test_a_row_of_the_wrong_types_is_a_named_break_of_the_chain(tmp_path: Path, hash_value: object, event: object,
                                                                expected: str) -> None:
    workspace = _workspace(tmp_path / "ws")
    with closing(sqlite3.connect(_db(workspace), isolation_level=None)) as conn:
        conn.execute("ALTER TABLE events RENAME TO old")  # columns without type affinity, as a hand-made table has
        conn.execute("CREATE TABLE events(seq INTEGER PRIMARY KEY, hash, event)")
        conn.execute("INSERT INTO events SELECT seq, hash, event FROM old")
        conn.execute("UPDATE events SET hash = ?, event = ? WHERE seq = 2", (hash_value, event))
    verdict = verify_trail(workspace)
    assert not verdict.intact and verdict.first_bad_seq == 2 and expected in (verdict.first_problem or "")
    with pytest.raises(AuditError, match=expected):
        AuditTrail(workspace).events()


def test_an_oversized_event_is_refused_without_reading_it_and_flagged_in_the_csv_export(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    huge = '{"action":"add","actor":"' + "x" * (EVENT_SIZE_LIMIT + 10) + '"}'
    with closing(sqlite3.connect(_db(workspace), isolation_level=None)) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET event = ? WHERE seq = 2", (huge,))
    rows = AuditTrail(workspace).rows()
    assert rows[1].event == "" and "over the" in (rows[1].problem or "")
    assert all(len(row.event) < EVENT_SIZE_LIMIT for row in rows)
    verdict = verify_trail(workspace)
    assert verdict.first_bad_seq == 2 and "bytes" in (verdict.first_problem or "")
    with pytest.raises(AuditError, match="event 2 is"):
        AuditTrail(workspace).events(agreement_id="QA-1")  # a filter never hides the bad row
    out = tmp_path / "trail.csv"
    result = CliRunner().invoke(main, ["audit", "export", str(workspace), "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0 and "1 event(s) could not be read" in result.output
    with out.open(newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    problem = CSV_COLUMNS.index("problem")
    assert [row[0] for row in table[1:5]] == ["1", "2", "3", "4"]
    assert table[2][problem] and not table[1][problem] and not table[3][problem]


def test_the_csv_export_flags_a_tampered_event_instead_of_leaving_it_out(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    with closing(sqlite3.connect(_db(workspace), isolation_level=None)) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET event = replace(event, '\"n\":3', '\"n\":9') WHERE seq = 3")
        conn.execute("UPDATE events SET event = 'not json' WHERE seq = 2")
    out = export_csv(workspace, tmp_path / "trail.csv")
    with out.open(newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    problem = CSV_COLUMNS.index("problem")
    assert [row[0] for row in table[1:5]] == ["1", "2", "3", "4"]
    assert "cannot be read" in table[2][problem] and "changed after it was written" in table[3][problem]

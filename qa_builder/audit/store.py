"""The append-only audit trail of a workspace: one SQLite database, WORKSPACE/audit/trail.sqlite3."""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from qa_builder.audit.events import (
    GENESIS_HASH,
    Action,
    AuditEvent,
    AuditFile,
    DetailValue,
    Outcome,
    check_no_secrets,
    format_time,
    make_event,
)
from qa_builder.errors import AuditError
from qa_builder.files import sha256_file
from qa_builder.printable import printable

AUDIT_FOLDER = "audit"
TRAIL_FILE = "trail.sqlite3"
SEALS_FOLDER = "seals"
EXPORTS_FOLDER = "exports"
BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1
EVENT_SIZE_LIMIT = 1 << 20
"""The most bytes one stored event may hold: a real event is a few KB, so anything larger was put there by
editing the database, and reading it whole would let one row take gigabytes of memory."""
_ROW_COLUMNS = (f"seq, hash, typeof(event), length(CAST(event AS BLOB)), "
                f"CASE WHEN typeof(event) = 'text' AND length(CAST(event AS BLOB)) <= {EVENT_SIZE_LIMIT} "
                "THEN event END")
"""The columns every read of stored rows selects: an event's text only when it is text of a sane size."""

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        hash TEXT NOT NULL,
        event TEXT NOT NULL
    )""",
    """CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: events cannot be changed'); END""",
    """CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: events cannot be deleted'); END""",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)


def _normalised(sql: str) -> str:
    return " ".join(sql.replace(" IF NOT EXISTS", "").split())


_EXPECTED_OBJECTS = {_normalised(statement).split(" ")[2]: _normalised(statement)
                     for statement in _SCHEMA if statement.startswith("CREATE")}
_EXPECTED_OBJECTS["sqlite_sequence"] = "CREATE TABLE sqlite_sequence(name,seq)"  # made by SQLite for AUTOINCREMENT


def audit_folder(workspace: Path) -> Path:
    """WORKSPACE/audit."""
    return Path(workspace) / AUDIT_FOLDER


def seals_folder(workspace: Path) -> Path:
    """WORKSPACE/audit/seals.

    Raises:
        AuditError: it is a symbolic link (see `_refuse_link`).
    """
    return _refuse_link(audit_folder(workspace) / SEALS_FOLDER)


def exports_folder(workspace: Path) -> Path:
    """WORKSPACE/audit/exports, where `qa-builder audit export` writes unless told otherwise.

    Raises:
        AuditError: it is a symbolic link (see `_refuse_link`).
    """
    return _refuse_link(audit_folder(workspace) / EXPORTS_FOLDER)


def _refuse_link(folder: Path) -> Path:
    """`folder`, unless it is a symbolic link.

    A workspace is often shared through version control, which keeps symbolic links: a link named audit/seals
    or audit/exports would make sealing or exporting write wherever it points, outside the workspace.

    Raises:
        AuditError: `folder` is a symbolic link, named in one line.
    """
    if folder.is_symlink():
        raise AuditError(f"{folder}: is a symbolic link; the audit trail, its seals and exports are kept only as "
                         "plain files and folders inside the workspace, so qa-builder never writes through a link: "
                         "replace the link with a folder")
    return folder


@dataclass(frozen=True)
class Head:
    """The last event of the trail: its number and hash."""

    seq: int
    hash: str


@dataclass(frozen=True)
class StoredRow:
    """One row as stored: the seq and hash columns and the event's canonical JSON (what verification reads).

    A row whose hash or event column does not have the shape the trail writes (not text, or an event over
    EVENT_SIZE_LIMIT bytes) has `problem` set, and empty texts in place of what could not be read.
    """

    seq: int
    hash: str
    event: str
    problem: str | None = None


class AuditTrail:
    """The hash-chained, append-only audit trail of one workspace.

    Every `append` is one `BEGIN IMMEDIATE` transaction that reads the head and inserts the next event, so
    concurrent processes queue up instead of forking the chain. There is no API to change or delete an event,
    and triggers in the database refuse UPDATE and DELETE.
    """

    def __init__(self, workspace: Path) -> None:
        self.workspace = Path(workspace)
        self.path = audit_folder(self.workspace) / TRAIL_FILE
        self._schema_ready = False

    def exists(self) -> bool:
        """Whether the trail database exists (it is created by the first append).

        Raises:
            AuditError: something else has its name (a folder, a pipe, a device, a dangling link): the trail is
                neither missing nor usable, and saying "no events" would hide that.
        """
        if self.path.is_file():
            return True
        if self.path.exists() or self.path.is_symlink():
            raise AuditError(f"{self.path}: is not a database file (a folder, pipe, device or broken link has its "
                             "name); the audit trail cannot be used")
        return False

    def append(self, action: Action, *, outcome: Outcome = "ok", agreement_id: str | None = None,
               agreement_version: int | None = None, files: Iterable[AuditFile | Path] = (),
               details: Mapping[str, DetailValue] | None = None, signer: str | None = None) -> AuditEvent:
        """Record one action as the next event of the chain and return it.

        Args:
            action: What was done.
            outcome: "ok", "failed" or "refused".
            agreement_id: The agreement acted on, if any.
            agreement_version: Its version, if any.
            files: Files read or written: AuditFile entries, or paths to hash (named relative to the workspace).
            details: Flat facts about the action; keys naming secrets and PEM private keys are refused.
            signer: The certificate subject of a signature made by the action, if any.

        Raises:
            AuditError: a secret in the details, an unreadable file, or a trail that cannot be written.
        """
        entries = [item if isinstance(item, AuditFile) else self.file_entry(item) for item in files]
        facts = dict(details or {})
        check_no_secrets(facts, [signer, agreement_id])  # before the trail is even opened
        with self._transaction() as conn:
            head = _head(conn, self.path)
            event = make_event(seq=head.seq + 1, prev_hash=head.hash, action=action, outcome=outcome,
                               signer=signer, agreement_id=agreement_id, agreement_version=agreement_version,
                               files=entries, details=facts)
            conn.execute("INSERT INTO events (seq, hash, event) VALUES (?, ?, ?)",
                         (event.seq, event.hash, event.canonical_json().decode("utf-8")))
        return event

    def file_entry(self, path: Path) -> AuditFile:
        """A file as the trail names it: relative to the workspace when inside it, else its bare name, with sha256.

        Raises:
            AuditError: the file cannot be read.
        """
        path = Path(path)
        try:
            digest = sha256_file(path)
        except OSError as exc:
            raise AuditError(f"{path}: cannot be hashed for the audit trail ({exc.strerror})") from exc
        try:
            name = path.resolve().relative_to(self.workspace.resolve()).as_posix()
        except ValueError:
            name = path.name
        return AuditFile(name=name, sha256=digest)

    def events(self, agreement_id: str | None = None, since: dt.datetime | None = None) -> list[AuditEvent]:
        """The events in order, optionally only one agreement's and only those at or after `since` (UTC if naive).

        Raises:
            AuditError: the trail cannot be read or holds an event that no longer parses (run verify).
        """
        if not self.exists():
            return []
        sound = f"typeof(event) = 'text' AND length(CAST(event AS BLOB)) <= {EVENT_SIZE_LIMIT} AND json_valid(event)"
        query = (f"SELECT {_ROW_COLUMNS} FROM events WHERE (?1 IS NULL OR NOT ({sound}) OR "
                 f"json_extract(event, '$.agreement_id') = ?1) AND (?2 IS NULL OR NOT ({sound}) OR "
                 "json_extract(event, '$.time') >= ?2) ORDER BY seq")  # a malformed row is never filtered away
        after = format_time(since) if since is not None else None
        events = []
        with self._reading() as conn:
            for row in conn.execute(query, (agreement_id, after)):
                stored = _stored_row(row, self.path)
                if stored.problem is not None:
                    raise AuditError(f"{self.path}: {stored.problem}; run `qa-builder audit verify` on the workspace")
                events.append(_parse(stored.seq, stored.event, self.path))
        return events

    def head(self) -> Head | None:
        """The last event's seq and hash; None for an empty or missing trail."""
        if not self.exists():
            return None
        with self._reading() as conn:
            head = _head(conn, self.path)
        return head if head.seq else None

    def rows(self) -> list[StoredRow]:
        """Every stored row in seq order, unparsed (for verification).

        Raises:
            AuditError: the trail is missing or unreadable.
        """
        if not self.exists():
            raise AuditError(f"{self.workspace} has no audit trail ({self.path} does not exist)")
        with self._reading() as conn:
            found = conn.execute(f"SELECT {_ROW_COLUMNS} FROM events ORDER BY seq")
            return [_stored_row(row, self.path) for row in found]

    def highest_seq_issued(self) -> int:
        """The highest seq the database ever issued (SQLite's AUTOINCREMENT record), 0 when none."""
        with self._reading() as conn:
            try:
                found = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            except sqlite3.OperationalError:  # no AUTOINCREMENT table: the events table was re-created by hand
                return 0
        if found is not None and not (isinstance(found[0], int) and found[0] >= 0):
            raise MalformedTrailError(f"{self.path}: the trail's record of the highest event number issued is "
                                      f"{_shown(found[0])}, not a number (the database was edited)")
        return int(found[0]) if found else 0

    def _connect(self, *, create: bool) -> sqlite3.Connection:
        """A connection that writes (creating the database when missing), or one that only reads.

        Reading opens the database read-only, so that a read-only copy (an archived workspace, a read-only mount)
        can be listed and verified. A WAL database read-only still needs its -shm file made beside it; where the
        folder refuses that and no -wal file holds events, the file is read as immutable (it cannot change).
        """
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check_inside()
        if create:
            conn = self._open("rwc")
            _set_wal(conn)
            conn.execute("PRAGMA synchronous = FULL")
            return conn
        try:
            return self._open("ro")
        except sqlite3.OperationalError:
            wal = self.path.with_name(self.path.name + "-wal")
            if os.access(self.path.parent, os.W_OK) or (wal.exists() and wal.stat().st_size > 0):
                raise  # not a read-only copy, or one whose newest events only its -wal holds
            return self._open("ro&immutable=1")

    def _open(self, mode: str) -> sqlite3.Connection:
        """Open the database in an SQLite URI `mode` and check its schema (see `_check_schema`)."""
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_S,
                               isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            _check_schema(conn, self.path)
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_inside(self) -> None:
        """The database and its journal files are plain files inside the workspace, never reached through a link.

        A workspace is often shared through version control, which keeps symbolic links: a link named
        audit/trail.sqlite3 (or its -wal) would make every command create or write a database wherever it points.

        Raises:
            AuditError: a link, or a path leading out of the workspace.
        """
        names = [self.path] + [self.path.with_name(self.path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]
        linked = [path for path in names if path.is_symlink()]
        if linked or not self.path.resolve().is_relative_to(self.workspace.resolve()):
            culprit = linked[0] if linked else self.path
            raise AuditError(f"{culprit}: is a symbolic link or leads out of the workspace; the audit trail is kept "
                             "only as plain files inside the workspace")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that holds the trail's write lock from its first statement."""
        try:
            with closing(self._connect(create=True)) as conn:
                self._ensure_schema(conn)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._read_only():
                raise AuditError(_READ_ONLY.format(path=self.path)) from exc
            raise _trail_error(self.path, exc) from exc
        except OSError as exc:  # the audit folder cannot be made (a read-only workspace, a full disk)
            if self._read_only():
                raise AuditError(_READ_ONLY.format(path=self.path)) from exc
            raise AuditError(f"{self.path}: the audit trail cannot be written ({exc.strerror or exc})") from exc

    def check_writable(self) -> None:
        """Refuse a trail that can be read but not written: a read-only workspace (mount or archived copy).

        Raises:
            AuditError: the trail's folder refuses writing (one line saying so).
        """
        if self._read_only():
            raise AuditError(_READ_ONLY.format(path=self.path))

    def _read_only(self) -> bool:
        """Whether the trail's folder (or, before it exists, the workspace) refuses writing: a read-only copy."""
        folder = self.path.parent if self.path.parent.exists() else self.workspace
        return folder.exists() and not os.access(folder, os.W_OK)

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        """Create the table and triggers in a transaction of their own, so a refused first event leaves them."""
        if self._schema_ready or conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            self._schema_ready = True
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._schema_ready = True

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        try:
            with closing(self._connect(create=False)) as conn:
                yield conn
        except sqlite3.Error as exc:
            raise _trail_error(self.path, exc) from exc


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    """The database holds no trigger or view but the two triggers qa-builder creates, exactly as it creates them.

    A trail kept in version control can carry anything: a foreign trigger on INSERT ran a query without end on
    every workspace command while `audit verify` said INTACT (session 6 attack).

    Raises:
        MalformedTrailError: a trigger or view qa-builder did not create, or one of its triggers changed, in one line
            (the exit code of a tampered trail).
    """
    for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_master"):
        if kind not in ("trigger", "view"):
            continue  # tables and indexes run nothing; the rows of `events` are judged one by one (`_stored_row`)
        expected = _EXPECTED_OBJECTS.get(str(name))
        # the same statement, but for the table's name, which SQLite rewrites when the table is renamed
        stated = re.sub(r'^(CREATE TRIGGER \S+ BEFORE \S+ ON )("[^"]*"|\S+)( BEGIN )', r"\1events\3",
                        _normalised(str(sql or "")))
        if expected is None or stated != expected:
            raise MalformedTrailError(f"{path}: holds a {printable(str(kind))[:20]} '{printable(str(name))[:60]}' that "
                             "qa-builder did not create (or not as it created it); the "
                             "trail may have been tampered with: restore it from a copy (qa-builder runs nothing "
                             "it finds in the database)")


def _head(conn: sqlite3.Connection, path: Path) -> Head:
    """The newest event's seq and hash, which the next event chains to.

    Raises:
        AuditError: the newest row's seq or hash is malformed (the database was edited): no event can follow it.
    """
    row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None:
        return Head(0, GENESIS_HASH)
    seq, digest = row
    if not (isinstance(seq, int) and seq >= 1 and isinstance(digest, str) and _SHA256_HEX.fullmatch(digest)):
        raise AuditError(f"{path}: the newest event's sequence number or hash is malformed (the database was edited), "
                         "so no event can be chained to it; run `qa-builder audit verify` on the workspace")
    return Head(seq, digest)


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class MalformedTrailError(AuditError):
    """A stored row has no usable sequence number (the database was edited): the trail is broken, so `audit verify`
    ends with the exit code of a tampered trail (1), in one line naming the trail file."""

    exit_code = 1


def _stored_row(row: tuple[object, ...], path: Path) -> StoredRow:
    """One row of `_ROW_COLUMNS`, checked for the shape the trail writes.

    Raises:
        MalformedTrailError: the seq column is not a positive whole number, so the row cannot even be named.
    """
    seq, digest, kind, size, text = row
    if not (isinstance(seq, int) and seq >= 1):
        raise MalformedTrailError(f"{path}: holds an event whose sequence number is {_shown(seq)}, not a positive "
                                  "whole number (the database was edited)")
    if not isinstance(digest, str):
        return StoredRow(seq, "", "", f"event {seq} has a hash that is not text (the database was edited)")
    if kind != "text":
        return StoredRow(seq, digest, "", f"event {seq} is stored as {kind}, not as JSON text "
                                          "(the database was edited)")
    if not isinstance(text, str):
        return StoredRow(seq, digest, "", f"event {seq} is {size} bytes, over the {EVENT_SIZE_LIMIT} bytes no real "
                                          "event comes near (the database was edited)")
    return StoredRow(seq, digest, text)


def _shown(value: object) -> str:
    """A stored value in an error line: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _parse(seq: int, text: str, path: Path) -> AuditEvent:
    try:
        return AuditEvent.model_validate_json(text)
    except ValidationError as exc:
        raise AuditError(f"{path}: event {seq} cannot be read as an audit event; "
                         "run `qa-builder audit verify` on the workspace") from exc


_READ_ONLY = ("{path}: the audit trail cannot be written: the workspace is read-only here (a read-only mount or an "
              "archived copy); this command records what it does in the trail, so run it on a writable copy (`audit "
              "log` and `audit verify` read a read-only copy)")


def _trail_error(path: Path, exc: sqlite3.Error) -> AuditError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return AuditError(f"{path}: the audit trail stayed busy for more than {BUSY_TIMEOUT_S:.0f} s "
                          "(another qa-builder process holds it); try again")
    if "disk I/O error" in text or "disk is full" in text:
        try:
            full = os.statvfs(path.parent).f_bavail == 0
        except OSError:
            full = False
        if full:  # SQLite says only "disk I/O error" when it cannot grow its -shm file
            return AuditError(f"{path}: the audit trail cannot be used: the disk is full (no space left); free some "
                              "space and run again")
    return AuditError(f"{path}: the audit trail cannot be used ({text})")


def _set_wal(conn: sqlite3.Connection) -> None:
    """Put the trail in WAL mode. SQLite may answer "database is locked" at once, without waiting the busy
    timeout, while another process is creating the trail or switching its mode; retry until the timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)

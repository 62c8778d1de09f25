"""The hash-chain check: recompute every stored event and name the first one that breaks the chain."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from qa_builder.audit.events import GENESIS_HASH, AuditEvent, content_hash
from qa_builder.audit.store import Head, StoredRow
from qa_builder.errors import AuditError


@dataclass(frozen=True)
class ChainBreak:
    """The first event at which the chain stops holding, with a sentence saying what happened."""

    seq: int
    problem: str


@dataclass(frozen=True)
class ChainCheck:
    """What walking the stored rows found."""

    events: int
    head: Head | None
    first_break: ChainBreak | None
    hashes: dict[int, str] = field(default_factory=dict)
    """seq (as stored) → hash recomputed from the stored JSON, for every row whose JSON still parses."""
    parsed: list[AuditEvent] = field(default_factory=list)
    """The events verified before the first break, in order."""


@dataclass
class _Walk:
    """The last event that checked out, while walking."""

    seq: int = 0
    record_seq: int = 0
    hash: str = GENESIS_HASH


def check_chain(rows: Sequence[StoredRow], highest_issued: int = 0) -> ChainCheck:
    """Recompute the chain from the stored JSON and find the first bad event.

    Args:
        rows: The stored rows in seq order.
        highest_issued: The highest seq the database ever issued; larger than the last row's seq when events
            were removed from the end.
    """
    checked = [_Row.of(row) for row in rows]
    hashes = {row.stored.seq: row.recomputed for row in checked if row.recomputed is not None}
    claimed = {str(row.record.get("hash")) for row in checked if row.record is not None}
    verified: dict[str, int] = {GENESIS_HASH: 0}
    walk = _Walk()
    parsed: list[AuditEvent] = []
    for row in checked:
        problem = _row_problem(row, walk, verified, claimed)
        if problem is not None or row.event is None:
            return ChainCheck(len(rows), _head(rows), problem, hashes, parsed)
        parsed.append(row.event)
        walk = _Walk(row.stored.seq, row.event.seq, row.event.hash)
        verified[row.event.hash] = row.stored.seq
    tail = _tail_problem(walk.seq, highest_issued)
    return ChainCheck(len(rows), _head(rows), tail, hashes, parsed)


@dataclass(frozen=True)
class _Row:
    """A stored row with its parsed record, the hash recomputed from it, and the event when the hash holds."""

    stored: StoredRow
    record: dict[str, Any] | None
    recomputed: str | None
    event: AuditEvent | None

    @classmethod
    def of(cls, stored: StoredRow) -> _Row:
        record = _load(stored.event)
        recomputed = _recomputed(record)
        event = None
        if record is not None and recomputed == record.get("hash"):
            try:
                event = AuditEvent.model_validate(record)
            except ValidationError:
                event = None
        return cls(stored, record, recomputed, event)


def _load(text: str) -> dict[str, Any] | None:
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def _recomputed(record: dict[str, Any] | None) -> str | None:
    if record is None:
        return None
    try:
        return content_hash(record)
    except AuditError:
        return None


def _head(rows: Sequence[StoredRow]) -> Head | None:
    return Head(rows[-1].seq, rows[-1].hash) if rows else None


def _row_problem(row: _Row, walk: _Walk, verified: dict[str, int], claimed: set[str]) -> ChainBreak | None:
    """Why this row does not continue the chain, or None when it does."""
    seq = row.stored.seq
    if row.stored.problem is not None:
        return ChainBreak(seq, row.stored.problem)
    changed = _changed(row)
    if changed is not None or row.event is None:
        return ChainBreak(seq, changed or f"event {seq} was changed after it was written")
    number = row.event.seq
    if row.event.prev_hash == walk.hash:
        if seq != number or number != walk.record_seq + 1:
            return ChainBreak(seq, f"event {seq} was renumbered: its record says it is event {number}")
        return None
    return _unlinked(seq, row.event, walk, verified, claimed)


def _changed(row: _Row) -> str | None:
    """A sentence when the row's own content no longer matches its hash."""
    prefix = f"event {row.stored.seq} was changed after it was written"
    if row.record is None:
        return f"{prefix} (its stored record is no longer valid JSON)"
    if row.recomputed is None:
        return f"{prefix} (its record holds a value that has no canonical form)"
    if row.recomputed != row.record.get("hash"):
        return f"{prefix} (its hash no longer matches)"
    if row.stored.hash != row.recomputed:
        return f"{prefix} (the hash stored beside it no longer matches its record)"
    if row.event is None:
        return f"{prefix} (it is no longer a well-formed audit event)"
    return None


def _unlinked(seq: int, event: AuditEvent, walk: _Walk, verified: dict[str, int],
              claimed: set[str]) -> ChainBreak:
    """Explain a row whose prev_hash is not the hash of the event stored before it."""
    number = event.seq
    points_to = verified.get(event.prev_hash)
    if points_to is not None:  # it skips back over events that sit between: those were inserted
        first, last = points_to + 1, walk.seq
        which = f"event {first} was" if first == last else f"events {first} to {last} were"
        return ChainBreak(first, f"{which} inserted after the fact: the event stored after "
                                 f"{'it' if first == last else 'them'} points back to event {points_to}")
    if event.prev_hash in claimed:  # its predecessor exists but is stored after it
        return ChainBreak(seq, f"event {seq} is out of order: it was written after an event that is "
                               "now stored later in the trail (events were reordered)")
    if number > walk.record_seq + 1:
        first, last = walk.record_seq + 1, number - 1
        which = f"event {first} is" if first == last else f"events {first} to {last} are"
        return ChainBreak(first, f"{which} missing: event {number} points to a predecessor that is not there")
    return ChainBreak(seq, f"event {seq} does not belong to the chain: it points to a predecessor that "
                           "is not in the trail (a forged or inserted event)")


def _tail_problem(last_seq: int, highest_issued: int) -> ChainBreak | None:
    if highest_issued <= last_seq:
        return None
    first = last_seq + 1
    which = f"event {first} is" if first == highest_issued else f"events {first} to {highest_issued} are"
    return ChainBreak(first, f"{which} missing: the trail ends at event {last_seq}, but the database had already "
                             f"numbered event {highest_issued} (events were removed from the end)")

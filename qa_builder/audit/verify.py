"""Verify a workspace's audit trail: the hash chain from the stored JSON, every seal, and seals against events."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa_builder.audit.chain import ChainCheck, check_chain
from qa_builder.audit.events import AuditEvent
from qa_builder.audit.seal import SealFiles, check_seal_signature, list_seals, read_seal_document
from qa_builder.audit.store import AuditTrail, Head
from qa_builder.errors import AuditError
from qa_builder.files import inside_tree, read_small_file, sha256_file
from qa_builder.models.build import BUILD_RECORD_LIMIT
from qa_builder.printable import printable

_VERSION_RECORD = re.compile(r"agreements/([^/]+)/v([1-9][0-9]*)/[^/]+\.build\.json")
_VERSION_FILE = re.compile(r"agreements/[^/]+/v[1-9][0-9]*/[^/]+")
_WRITING_ACTIONS = ("build", "regenerate", "sign", "manifest")
"""The events that write files into a version folder; each records the files' sha256 as written."""


@dataclass(frozen=True)
class SealStatus:
    """One seal: is its signature sound, and does the chain still have the hash it sealed?"""

    seq: int
    document: Path
    sealed_at: str | None
    signer: str
    timestamp: str | None
    """The TSA's time when the seal is timestamped."""
    signature_intact: bool
    trusted: bool | None
    """None when verify was given no trust roots."""
    matches_chain: bool
    problem: str | None
    revocation_unchecked: bool = False
    """The chain holds but the sealer's revocation status could not be established (`trusted` is then None)."""

    @property
    def ok(self) -> bool:
        """Sound signature, matching the chain, and (when checked) trusted."""
        return self.problem is None


@dataclass(frozen=True)
class TrailVerdict:
    """The outcome of verifying a trail; each fact separate, `intact` the bottom line."""

    workspace: Path
    events: int
    head: Head | None
    chain_intact: bool
    first_bad_seq: int | None
    """The first bad event; for a rewrite caught only by a seal, the earliest event the change can lie in."""
    problems: tuple[str, ...]
    """Every problem as a sentence, the first chain problem first."""
    seals: tuple[SealStatus, ...]
    covered_to: int = 0
    """The last event whose deletion or rewriting would show: sealed, or anchored outside the database by the
    audit head a version's build record carries. (A version folder also needs its build event, which catches
    the deletion, not the rewriting, of that one event.)"""

    @property
    def intact(self) -> bool:
        """The bottom line: the chain holds and every seal checks out."""
        return not self.problems

    @property
    def first_problem(self) -> str | None:
        """The sentence naming the first bad event (or the first bad seal)."""
        return self.problems[0] if self.problems else None

    def summary(self) -> str:
        """A few lines for a person: events, head, chain, seals, verdict."""
        head = f"head event {self.head.seq} (hash {self.head.hash[:16]}…)" if self.head else "no events"
        lines = [f"audit trail of {self.workspace}: {self.events} events, {head}",
                 f"chain: {'intact' if self.chain_intact else 'BROKEN'}"]
        lines += [_seal_line(seal) for seal in self.seals]
        lines += [f"problem: {problem}" for problem in self.problems]
        if self.intact and self.head is not None and self.covered_to < self.head.seq:
            first = self.covered_to + 1
            which = f"event {first} is" if first == self.head.seq else f"events {first} to {self.head.seq} are"
            lines.append(f"note: {which} not covered by any seal or build record: had "
                         f"{'it' if first == self.head.seq else 'they'} been deleted or rewritten, this could not "
                         "be detected (`qa-builder audit seal` covers them)")
        lines.append("verdict: INTACT" if self.intact else "verdict: TAMPERED")
        return "\n".join(printable(line) for line in lines)  # texts from events and files cannot add lines


def verify_trail(workspace: Path, trust_roots: Sequence[Path] = ()) -> TrailVerdict:
    """Recompute the trail's chain from the stored JSON and check every seal.

    Args:
        workspace: The workspace folder (the trail is WORKSPACE/audit/trail.sqlite3).
        trust_roots: Root certificates (PEM/DER) the sealers' certificates must chain to; when empty, seal
            signatures are checked for integrity only.

    Raises:
        AuditError: the workspace has no trail and no seals, or the trail cannot be read.
        InputError: a trust root file cannot be used.
    """
    workspace = Path(workspace)
    trail = AuditTrail(workspace)
    seals = list_seals(workspace)
    if not trail.exists():
        if not seals:
            raise AuditError(f"{workspace} has no audit trail ({trail.path} does not exist)")
        problem = f"the audit trail {trail.path} is missing, but {len(seals)} seal(s) show it existed"
        return TrailVerdict(workspace, 0, None, False, 1, (problem,), ())
    check = check_chain(trail.rows(), trail.highest_seq_issued())
    statuses = _seal_statuses(seals, check, trust_roots)
    problems = [check.first_break.problem] if check.first_break else []
    problems += [s.problem for s in statuses if s.problem]
    anchors = _anchors(workspace)
    problems += _anchor_problems(anchors, check)
    version_events: dict[tuple[str, int], int] = {}
    if check.first_break is None:
        problems += _seal_event_problems(workspace, check.parsed, seals)
        version_events = {(e.agreement_id, e.agreement_version): e.seq for e in check.parsed
                          if e.action in ("build", "regenerate") and e.outcome == "ok"
                          and e.agreement_id is not None and e.agreement_version is not None}
        problems += _version_event_problems(anchors, version_events)
        problems += _version_file_problems(workspace, check.parsed)
    first_bad = check.first_break.seq if check.first_break else _first_unsealed(statuses)
    covered = [s.seq for s in statuses if s.ok] + [a.seq for a in anchors if check.hashes.get(a.seq) == a.hash]
    return TrailVerdict(workspace, check.events, check.head, check.first_break is None, first_bad,
                        tuple(problems), statuses, max(covered, default=0))


@dataclass(frozen=True)
class _Anchor:
    """The trail's head as a version's build record holds it."""

    record: str
    """The build record, relative to the workspace."""
    version: tuple[str, int]
    seq: int
    hash: str


def _anchors(workspace: Path) -> list[_Anchor]:
    """Every version folder's build record, with the audit head it carries (seq 0 when it carries none)."""
    anchors = []
    for path in sorted(workspace.glob("agreements/*/v*/*.build.json")):
        name = path.relative_to(workspace).as_posix()
        found = _VERSION_RECORD.fullmatch(name)
        if found is None:
            continue
        try:
            head = json.loads(read_small_file(path, BUILD_RECORD_LIMIT)).get("audit_head")
        except (OSError, ValueError, AttributeError, RecursionError):
            head = None
        seq, digest = (head.get("seq"), head.get("hash")) if isinstance(head, dict) else (0, "")
        if not (isinstance(seq, int) and not isinstance(seq, bool) and isinstance(digest, str)):
            seq, digest = -1, ""
        anchors.append(_Anchor(name, (found.group(1), int(found.group(2))), seq, digest))
    return anchors


def _anchor_problems(anchors: Sequence[_Anchor], check: ChainCheck) -> list[str]:
    """Each anchored head must still be in the trail, with the same hash."""
    problems = []
    for anchor in anchors:
        if anchor.seq < 0:
            problems.append(f"{anchor.record} holds an audit head that is not a sequence number and hash "
                            "(the build record was altered)")
        elif anchor.seq == 0:
            continue  # built before build records carried the head
        elif anchor.seq not in check.hashes:
            problems.append(f"{anchor.record} was built when the trail ended at event {anchor.seq}, which is no "
                            "longer in the trail (events were removed)")
        elif check.hashes[anchor.seq] != anchor.hash:
            problems.append(f"the trail was rewritten: event {anchor.seq} no longer has the hash that "
                            f"{anchor.record} recorded when that version was built")
    return problems


def _version_event_problems(anchors: Sequence[_Anchor], version_events: dict[tuple[str, int], int]) -> list[str]:
    """Each version folder needs its build (or regenerate) event."""
    return [f"{anchor.record.rsplit('/', 1)[0]} has no build event in the trail (events after event "
            f"{max(anchor.seq, 0)} may have been removed; if its build was interrupted, `qa-builder regenerate` "
            "records it late)" for anchor in anchors if anchor.version not in version_events]


def _version_file_problems(workspace: Path, events: Sequence[AuditEvent]) -> list[str]:
    """Every file a build, regeneration, signature or manifest wrote into a version folder must still be there
    with the sha256 its newest such event recorded: a replaced DOCX or PDF, or a build record whose audit head
    was removed, shows here even where no seal covers the event."""
    latest: dict[str, tuple[int, str, str]] = {}
    for event in events:
        if event.action in _WRITING_ACTIONS and event.outcome == "ok":
            for entry in event.files:
                if _VERSION_FILE.fullmatch(entry.name):
                    latest[entry.name] = (event.seq, event.action, entry.sha256)
    problems = []
    for name, (seq, action, digest) in sorted(latest.items()):
        state = _file_state(workspace, name, digest)
        if state is not None:
            problems.append(f"{name}, written by event {seq} ({action}), {state}")
    return problems


def _file_state(workspace: Path, name: str, sha256: str) -> str | None:
    """None when the file is there with `sha256`, else what is wrong with it, as the end of a sentence."""
    try:
        path = inside_tree(workspace, name)
    except ValueError:
        return "is not a file inside the workspace"
    if not path.exists() and not path.is_symlink():
        return "is missing"
    try:
        actual = sha256_file(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if actual != sha256:
        return "differs from what it recorded (the file was changed or replaced afterwards)"
    return None


def _seal_statuses(seals: Sequence[SealFiles], check: ChainCheck,
                   trust_roots: Sequence[Path]) -> tuple[SealStatus, ...]:
    """Check each seal in seq order; a seal that no longer matches is bounded by the last one that does."""
    statuses: list[SealStatus] = []
    last_good = 0
    for files in seals:
        status = _seal_status(files, check, trust_roots, since=last_good + 1)
        if status.matches_chain and status.signature_intact:
            last_good = files.seq
        statuses.append(status)
    return tuple(statuses)


def _seal_status(files: SealFiles, check: ChainCheck, trust_roots: Sequence[Path], *, since: int) -> SealStatus:
    try:
        document = read_seal_document(files)
    except AuditError as exc:
        return SealStatus(files.seq, files.document, None, "", None, False, None, False, str(exc))
    signature = check_seal_signature(files, trust_roots)
    matches = check.hashes.get(files.seq) == document["hash"]
    problem = signature.problem
    if problem is None and not matches:
        problem = _rewrite_sentence(files, document, check, since)
    return SealStatus(files.seq, files.document, str(document.get("sealed_at")), signature.signer,
                      signature.timestamp, signature.intact, signature.trusted, matches, problem,
                      revocation_unchecked=signature.revocation_unchecked)


def _rewrite_sentence(files: SealFiles, document: dict[str, Any], check: ChainCheck, since: int) -> str:
    if files.seq not in check.hashes:
        return (f"{files.document.name} seals event {files.seq}, which is no longer in the trail "
                "(events were removed)")
    where = f"event {since}" if since == files.seq else f"events {since} to {files.seq}"
    return (f"the trail was rewritten after it was sealed: event {files.seq} no longer has the hash sealed in "
            f"{files.document.name} at {document.get('sealed_at')} (the change lies in {where})")


def _first_unsealed(statuses: Sequence[SealStatus]) -> int | None:
    """The earliest event a rewrite can lie in: just after the last seal that still matches the chain."""
    last_good = 0
    for status in statuses:
        if status.signature_intact and not status.matches_chain:
            return last_good + 1
        if status.matches_chain:
            last_good = status.seq
    return None


def _seal_event_problems(workspace: Path, events: Sequence[AuditEvent], seals: Sequence[SealFiles]) -> list[str]:
    """Each seal file needs its `seal` event, and each `seal` event's files must still be there, unchanged."""
    problems: list[str] = []
    recorded = {sealed: event for event in events if event.action == "seal" and event.outcome == "ok"
                and isinstance(sealed := event.details.get("sealed_seq"), int)}
    for files in seals:
        if files.seq not in recorded:
            problems.append(f"{files.document.name} has no seal event in the trail (the events after event "
                            f"{files.seq} may have been removed, or sealing was interrupted)")
    for event in recorded.values():
        for entry in event.files:
            state = _file_state(workspace, entry.name, entry.sha256)
            if state is not None:
                problems.append(f"{entry.name}, recorded by event {event.seq}, {state}")
    return problems


UNCHECKED_REVOCATION = ("chain trusted but revocation NOT checked (the seal carries no current revocation data: "
                        "seal with --trust)")
"""What a seal's line says instead of "trusted" when the sealer's revocation status could not be established."""


def _seal_line(seal: SealStatus) -> str:
    trust = UNCHECKED_REVOCATION if seal.revocation_unchecked else {
        None: "trust not checked", True: "trusted", False: "NOT trusted"}[seal.trusted]
    stamp = f"timestamped {seal.timestamp}" if seal.timestamp else "no timestamp"
    state = "ok" if seal.ok else "BAD"
    chain = "matches the chain" if seal.matches_chain else "does NOT match the chain"
    return (f"seal of event {seal.seq}: {state}; signed by {seal.signer or '?'}, {stamp}, "
            f"signature {'intact' if seal.signature_intact else 'BROKEN'}, {trust}, {chain}")

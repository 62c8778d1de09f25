"""Record an action in an audit trail the caller passes in; with no trail (None) nothing is recorded.

The callers that own a workspace (workspace operations, regeneration, negotiation, and `qa_builder.audited` for
signing, manifests and verification) pass its `AuditTrail`; nothing here looks for a workspace on its own.
`trail_of` finds the trail of the workspace holding a file, for a caller (the CLI) that decides to record there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from qa_builder.audit.events import Action, AuditFile, DetailValue, Outcome
from qa_builder.audit.store import AuditTrail
from qa_builder.errors import AuditError, QABuilderError, first_line
from qa_builder.printable import printable

WORKSPACE_MARKER = "qa-builder.yaml"
"""The settings file that marks a workspace's root folder."""


def find_workspace(path: Path) -> Path | None:
    """The workspace folder that holds `path` (or is it), or None."""
    try:
        current = Path(path).resolve()
    except (OSError, RuntimeError):  # a symlink loop: look from where it is named
        current = Path(path).absolute()
    for folder in (current, *current.parents):
        if (folder / WORKSPACE_MARKER).is_file():
            return folder
    return None


def trail_of(path: Path) -> AuditTrail | None:
    """The audit trail of the workspace that holds `path` (or is it), or None outside any workspace."""
    root = find_workspace(path)
    return AuditTrail(root) if root is not None else None


def check_usable(trail: AuditTrail | None) -> None:
    """Refuse to start an action whose event could not be recorded: a trail that is not a database, holds what
    qa-builder did not create, or leads out of the workspace. Called before the action writes anything, so that a
    signed PDF, a manifest or an added agreement never exists without its event. Nothing to check when None or
    when the trail does not exist yet (the first event creates it).

    Raises:
        AuditError: the trail cannot be used (one line naming it).
    """
    if trail is not None:
        trail.head()
        trail.check_writable()  # a read-only copy reads (head) but cannot record


def record(trail: AuditTrail | None, action: Action, *, outcome: Outcome = "ok", agreement_id: str | None = None,
           agreement_version: int | None = None, files: Iterable[AuditFile | Path] = (),
           details: Mapping[str, DetailValue] | None = None, signer: str | None = None) -> None:
    """Append one event to `trail`; do nothing when `trail` is None. Files that do not exist are left out.

    Raises:
        AuditError: the trail cannot be written (the action is then not considered recorded).
    """
    if trail is None:
        return
    present = [f for f in files if isinstance(f, AuditFile) or Path(f).is_file()]
    trail.append(action, outcome=outcome, agreement_id=agreement_id, agreement_version=agreement_version,
                 files=present, details=details, signer=signer)


@contextmanager
def recorded(trail: AuditTrail | None, action: Action, *, agreement_id: str | None = None,
             agreement_version: int | None = None, details: Mapping[str, DetailValue] | None = None) -> Iterator[None]:
    """Record a failed attempt when the block raises (then re-raise); the block records its own success."""
    try:
        yield
    except Exception as exc:
        facts: dict[str, DetailValue] = {**(details or {}), "error": failure_sentence(exc)}
        try:
            record(trail, action, outcome="failed", agreement_id=agreement_id, agreement_version=agreement_version,
                   details=facts)
        except AuditError as audit_exc:  # the user still needs the original reason first
            exc.add_note(f"also: the failed attempt could not be recorded ({audit_exc})")
        raise


def failure_sentence(exc: BaseException) -> str:
    """What the trail keeps of an error: our own one-line message, or only the class of anything else.

    Our messages (QABuilderError) are written never to quote a secret. The text of any other exception
    is not kept at all: it can quote anything it was handed (a UnicodeDecodeError quotes the bytes of the
    passphrase it failed on), so only its class name goes into the trail.
    """
    if not isinstance(exc, QABuilderError):
        return f"internal error: {type(exc).__name__}"
    text = str(exc).strip()
    first = first_line(text.splitlines()[0]) if text else type(exc).__name__
    return printable(first)[:500]

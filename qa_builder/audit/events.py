"""Audit events: the record of one action, its canonical JSON, its hash, and the secret filter."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import rfc8785
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa_builder.errors import AuditError

Action = Literal["build", "regenerate", "sign", "manifest", "verify", "impact", "library_change",
                 "template_change", "init", "add", "seal", "export", "negotiate_import", "negotiate_decision"]
"""What was done."""

Outcome = Literal["ok", "failed", "refused"]
"""How it ended: done, attempted and failed, or refused before anything was done."""

DetailValue = str | int | bool | None | list[str]
"""A value in an event's details: flat and JSON-safe (no floats, so the canonical form is exact)."""

GENESIS_HASH = "0" * 64
"""The prev_hash of event 1."""

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_HEX64 = r"^[0-9a-f]{64}$"
_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"

# A details key is refused when, with case and separators ignored, it contains one of these ...
_SECRET_WORDS = ("passphrase", "password", "passwd", "secret", "privatekey", "apikey", "credential",
                 "tokenpin", "userpin", "sopin")
# ... or when one of its words (split at separators and camelCase) is one of these. "pin" is matched as a word
# so that "shipping" or "mapping" stay allowed.
_SECRET_TOKENS = frozenset({"pin", "pins", "pass", "pwd", "pw", "otp"})
_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


class AuditFile(BaseModel):
    """A file an action read or wrote, named relative to the workspace, with its sha256."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(min_length=1)
    sha256: str = Field(pattern=_HEX64)


class AuditEvent(BaseModel):
    """One entry of the audit trail (21 CFR 11.10(e)): who did what, when, to which files, and how it ended.

    `hash` is the sha256 of the RFC 8785 canonical JSON of every other field, and `prev_hash` is the hash of the
    event before it (`GENESIS_HASH` for event 1), so any change to a stored event breaks the chain.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    seq: int = Field(ge=1)
    time: str = Field(pattern=_TIME)
    actor: str
    signer: str | None
    action: Action
    outcome: Outcome
    agreement_id: str | None
    agreement_version: int | None
    files: list[AuditFile]
    details: dict[str, DetailValue]
    prev_hash: str = Field(pattern=_HEX64)
    hash: str = Field(pattern=_HEX64)

    def canonical_json(self) -> bytes:
        """RFC 8785 canonical JSON of the whole event (what the trail stores)."""
        return canonical(self.model_dump(mode="json"))


def canonical(data: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of a JSON object.

    Raises:
        AuditError: a value has no canonical form (e.g. an integer beyond ±2^53).
    """
    try:
        return bytes(rfc8785.dumps(dict(data)))
    except rfc8785.CanonicalizationError as exc:
        raise AuditError(f"an audit event value has no canonical JSON form ({exc})") from exc


def content_hash(record: Mapping[str, Any]) -> str:
    """The hash of an event record: sha256 hex of the canonical JSON of every field except `hash`."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds and a Z."""
    return format_time(dt.datetime.now(dt.UTC))


def format_time(moment: dt.datetime) -> str:
    """A datetime as the trail writes it (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime(TIME_FORMAT)


def current_actor() -> str:
    """The operating-system user running this process."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no USER variable and no passwd entry (some containers)
        return f"uid:{os.getuid()}"


def check_no_secrets(details: Mapping[str, DetailValue], strings: Iterable[str | None] = ()) -> None:
    """Refuse details keys that name a secret and any value holding a PEM private key.

    Raises:
        AuditError: naming the offending key (never the value).
    """
    for key, value in details.items():
        if not isinstance(key, str) or not key:
            raise AuditError(f"audit details key {key!r} is not a non-empty string")
        if secret_key(key):
            raise AuditError(f"audit details key {key!r} looks like a secret (passphrase, password, PIN, "
                             "private key); secrets are never written to the audit trail")
        values = value if isinstance(value, list) else [value]
        if any(isinstance(item, str) and _PEM_PRIVATE_KEY.search(item) for item in values):
            raise AuditError(f"audit details value of {key!r} holds a PEM private key; "
                             "secrets are never written to the audit trail")
    if any(text and _PEM_PRIVATE_KEY.search(text) for text in strings):
        raise AuditError("an audit event field holds a PEM private key; secrets are never written to the audit trail")


def secret_key(key: str) -> bool:
    """Whether a details key names a secret (case-insensitive; separators and camelCase ignored)."""
    compact = re.sub(r"[^a-z0-9]", "", key.lower())
    if any(word in compact for word in _SECRET_WORDS):
        return True
    return any(word.lower() in _SECRET_TOKENS for word in _WORDS.findall(key))


def make_event(*, seq: int, prev_hash: str, action: Action, outcome: Outcome, signer: str | None,
               agreement_id: str | None, agreement_version: int | None, files: Sequence[AuditFile],
               details: Mapping[str, DetailValue], time: str | None = None, actor: str | None = None) -> AuditEvent:
    """A new, hashed event that follows the event whose hash is `prev_hash`.

    Raises:
        AuditError: a secret in the details, or a field of the wrong type.
    """
    plain = {key: list(value) if isinstance(value, tuple) else value for key, value in details.items()}
    check_no_secrets(plain, [signer, agreement_id, *(f.name for f in files)])
    record: dict[str, Any] = {
        "seq": seq, "time": time or utc_now(), "actor": actor or current_actor(), "signer": signer,
        "action": action, "outcome": outcome, "agreement_id": agreement_id, "agreement_version": agreement_version,
        "files": [f.model_dump() for f in files], "details": plain, "prev_hash": prev_hash, "hash": GENESIS_HASH,
    }
    try:
        draft = AuditEvent.model_validate(record)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise AuditError(f"audit event refused: {field}: {first['msg']}") from exc
    return draft.model_copy(update={"hash": content_hash(draft.model_dump(mode="json"))})

"""Seals: the trail's head (seq + hash) signed as a detached CMS, so a wholesale rewrite of the trail shows."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa_builder.audit.chain import check_chain
from qa_builder.audit.events import AuditEvent, DetailValue, canonical, format_time
from qa_builder.audit.record import failure_sentence
from qa_builder.audit.store import AuditTrail, Head, seals_folder
from qa_builder.errors import AuditError, SigningError
from qa_builder.files import read_small_file, write_bytes_atomic

if TYPE_CHECKING:
    from qa_builder.signing.keys import SigningKey

SEAL_FORMAT = "qa-builder-audit-seal/1"
SEAL_FILE_LIMIT = 16 * 1024 * 1024
"""A seal document or signature is a few kilobytes; anything over 16 MiB is not one (bytes)."""
_SEAL_NAME = re.compile(r"seal-(\d+)\.json")


@dataclass(frozen=True)
class SealFiles:
    """The two files of one seal: the sealed head as canonical JSON, and its detached CMS signature."""

    seq: int
    document: Path
    signature: Path


@dataclass(frozen=True)
class Seal:
    """A seal just made."""

    files: SealFiles
    seq: int
    hash: str
    sealed_at: str
    signer: str
    timestamped: bool
    event: AuditEvent
    """The `seal` event appended to the trail after the seal files were written."""


@dataclass(frozen=True)
class SealSignature:
    """What checking one seal's CMS signature found."""

    intact: bool
    trusted: bool | None
    """None when no trust roots were given."""
    signer: str
    timestamp: str | None
    """The TSA's time (UTC) when the signature carries an RFC 3161 timestamp."""
    problem: str | None
    revocation_unchecked: bool = False
    """The chain holds, but the sealer's revocation status could not be established (then `trusted` is None): the
    seal carries no current revocation data (`audit seal --trust` puts it in)."""


def seal_files(workspace: Path, seq: int) -> SealFiles:
    """Where the seal of event `seq` lives: WORKSPACE/audit/seals/seal-<seq>.json and .p7s."""
    folder = seals_folder(workspace)
    return SealFiles(seq, folder / f"seal-{seq}.json", folder / f"seal-{seq}.p7s")


def list_seals(workspace: Path) -> list[SealFiles]:
    """Every seal document in the workspace, in seq order."""
    folder = seals_folder(workspace)
    found = [int(m.group(1)) for p in folder.glob("seal-*.json") if (m := _SEAL_NAME.fullmatch(p.name))]
    return [seal_files(workspace, seq) for seq in sorted(found)]


def seal_trail(workspace: Path, key: SigningKey, *, tsa_url: str | None = None,
               trust_roots: Sequence[Path] = ()) -> Seal:
    """Sign the trail's current head and record a `seal` event.

    The head (seq and hash) is written as canonical JSON to seal-<seq>.json with a detached CMS signature in
    seal-<seq>.p7s (RFC 3161 timestamped when `tsa_url` is given); both are written atomically before the
    `seal` event is appended. A trail that does not verify is not sealed. With `trust_roots`, the sealer's
    certificate is first checked not revoked (as `sign --trust` does), and the OCSP responses and CRLs that
    showed it are carried in the signature, so that `audit verify --trust` can check them offline.

    Raises:
        AuditError: no trail, an empty or broken trail, a head already sealed, or signing failed.
        SigningInputError: the sealer's certificate is revoked, or does not chain to `trust_roots`.
        InputError: a trust root file cannot be used.
    """
    from qa_builder.signing.tsa import shown_tsa_url

    trail = AuditTrail(workspace)
    head = _sealable_head(trail)
    files = seal_files(workspace, head.seq)
    if files.document.exists():
        raise AuditError(f"{files.document} already exists: event {head.seq} is already sealed")
    sealed_at = format_time(dt.datetime.now(dt.UTC))
    signer = key.identity.subject
    data = canonical({"format": SEAL_FORMAT, "seq": head.seq, "hash": head.hash, "sealed_at": sealed_at,
                      "signer": signer})
    tsa_shown = shown_tsa_url(tsa_url) if tsa_url else None  # never its password or token
    details: dict[str, DetailValue] = {"sealed_seq": head.seq, "sealed_hash": head.hash, "tsa": tsa_shown}
    try:
        signature = _sign(data, key, tsa_url, trust_roots)
    except (AuditError, SigningError) as exc:
        trail.append("seal", outcome="failed", signer=signer, details={**details, "error": failure_sentence(exc)})
        raise
    write_bytes_atomic(files.signature, signature)
    try:
        write_bytes_atomic(files.document, data)
    except BaseException:  # a signature without its document is half a seal: none is left
        files.signature.unlink(missing_ok=True)
        raise
    event = trail.append("seal", signer=signer, files=[files.document, files.signature], details=details)
    return Seal(files, head.seq, head.hash, sealed_at, signer, tsa_url is not None, event)


def _sealable_head(trail: AuditTrail) -> Head:
    check = check_chain(trail.rows(), trail.highest_seq_issued())
    if check.first_break is not None:
        raise AuditError(f"the audit trail of {trail.workspace} does not verify, so it was not sealed: "
                         f"{check.first_break.problem}")
    if check.head is None:
        raise AuditError(f"the audit trail of {trail.workspace} is empty; there is nothing to seal")
    return check.head


def _sign(data: bytes, key: SigningKey, tsa_url: str | None, trust_roots: Sequence[Path]) -> bytes:
    from qa_builder.signing.cms import sign_detached
    from qa_builder.signing.keys import check_not_revoked
    from qa_builder.signing.trust import load_trust_roots

    revocation = check_not_revoked(key, load_trust_roots(trust_roots)) if trust_roots else None
    try:
        return sign_detached(data, key, tsa_url, revocation)
    except RuntimeError as exc:
        raise AuditError(f"sealing the audit trail failed ({exc})") from exc


def read_seal_document(files: SealFiles) -> dict[str, Any]:
    """The sealed head: {format, seq, hash, sealed_at, signer}.

    Raises:
        AuditError: missing, not JSON, or not a seal of this trail's format.
    """
    try:
        data = json.loads(read_small_file(files.document, SEAL_FILE_LIMIT))
    except OSError as exc:
        raise AuditError(f"{files.document.name}: cannot be read ({exc.strerror})") from exc
    except (ValueError, RecursionError) as exc:
        raise AuditError(f"{files.document.name}: is not JSON") from exc
    if not isinstance(data, dict) or data.get("format") != SEAL_FORMAT:
        raise AuditError(f"{files.document.name}: is not a {SEAL_FORMAT} document")
    if data.get("seq") != files.seq or not isinstance(data.get("hash"), str):
        raise AuditError(f"{files.document.name}: does not seal event {files.seq}")
    return data


def check_seal_signature(files: SealFiles, trust_roots: Sequence[Path] = ()) -> SealSignature:
    """Check a seal's detached CMS over its document; trust is checked only when trust roots are given.

    Raises:
        InputError: a trust root file cannot be used (a usage error, not a fault of the seal).
    """
    from asn1crypto import cms
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from pyhanko_certvalidator import ValidationContext

    from qa_builder.signing.cms import carried_revocation
    from qa_builder.signing.trust import load_trust_roots
    from qa_builder.verify.chains import chain_state

    name = files.signature.name
    roots = load_trust_roots(trust_roots)
    unchecked = False
    try:
        signed_data = cms.ContentInfo.load(read_small_file(files.signature, SEAL_FILE_LIMIT))["content"]
        document = read_small_file(files.document, SEAL_FILE_LIMIT)
        ocsps, crls = carried_revocation(signed_data)
        # as for a PDF or a manifest, the sealer's revocation status must be established to call it trusted: from
        # the OCSP responses and CRLs the seal carries, at the time its trusted timestamp proves if they are stale
        context = ValidationContext(trust_roots=roots, allow_fetching=False)
        status = _validated(document, signed_data, roots, ocsps, crls, None, context, "require")
        proven = status.timestamp_validity.timestamp if (
            status.timestamp_validity is not None and status.timestamp_validity.trusted) else None
        if trust_roots and not status.trusted and not status.revoked and proven is not None:
            earlier = _validated(document, signed_data, roots, ocsps, crls, proven, context, "require")
            if earlier.trusted or earlier.revoked:
                status = earlier
        if trust_roots and not status.trusted and not status.revoked:
            lenient = _validated(document, signed_data, roots, ocsps, crls, None, context, "soft-fail")
            unchecked = bool(lenient.trusted) or (bool(ocsps or crls) and chain_state(  # stale data, sound chain
                lenient.signing_cert, [c.chosen for c in signed_data["certificates"] or ()
                                       if isinstance(c.chosen, asn1_x509.Certificate)], roots, None) == "trusted")
    except Exception as exc:  # asn1crypto and pyHanko raise many kinds on a damaged file: all mean "unreadable"
        return SealSignature(False, None, "", None, f"{name}: cannot be read as a CMS signature ({exc})")
    signer = x509.load_der_x509_certificate(status.signing_cert.dump()).subject.rfc4514_string()
    intact = bool(status.intact and status.valid)
    trusted = None if not trust_roots or unchecked else bool(status.trusted)
    timestamp, timestamp_problem = _timestamp_of(status, check_trust=bool(trust_roots))
    problem = None
    if not intact:
        problem = f"{name}: the signature does not match {files.document.name} (the seal was altered)"
    elif status.revoked and trust_roots:
        problem = f"{name}: the sealer's certificate is revoked"
    elif trusted is False:
        problem = f"{name}: the sealer's certificate does not chain to a trusted root"
    elif timestamp_problem:
        problem = f"{name}: {timestamp_problem}"
    return SealSignature(intact, trusted, signer, timestamp, problem, revocation_unchecked=unchecked)


def _validated(document: bytes, signed_data: Any, roots: list[Any], ocsps: list[Any], crls: list[Any],
               moment: dt.datetime | None, ts_context: Any, mode: str) -> Any:
    """pyHanko's status of a seal's detached CMS, its sealer judged at `moment` (None: now) in revocation `mode`
    with the revocation data the seal carries; the timestamp authority as `ts_context` judges it."""
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    context = ValidationContext(trust_roots=roots, allow_fetching=False, moment=moment, revocation_mode=mode,
                                ocsps=ocsps, crls=crls)
    return asyncio.run(async_validate_detached_cms(document, signed_data, signer_validation_context=context,
                                                   ts_validation_context=ts_context))


def _timestamp_of(status: Any, *, check_trust: bool) -> tuple[str | None, str | None]:
    """The TSA time of a signature (None when it has no timestamp) and what is wrong with the timestamp."""
    token = getattr(status, "timestamp_validity", None)
    if token is None:
        return None, None
    if not (token.intact and token.valid):
        return None, "the seal's RFC 3161 timestamp does not verify"
    if check_trust and not token.trusted:
        return format_time(token.timestamp), "the timestamp authority does not chain to a trusted root"
    return format_time(token.timestamp), None

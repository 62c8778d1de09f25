"""Signing, manifests and verification with their audit-trail event, in a trail the caller passes in.

21 CFR 11.10(e) asks for a record of every action that creates or modifies an electronic record. The signing
and verification stages themselves record nothing: they know files, not workspaces. The callers that own a
workspace (the CLI commands, the web app, a Python user's script) call these functions with the workspace's
`AuditTrail` (``workspace.trail``, or `qa_builder.audit.record.trail_of(path)` for the workspace holding a
file), or with None to record nothing. A failed attempt (a wrong passphrase, a refused field) is recorded too.

`sign_pdf` records nothing: it is the signing stage with the verifier's offline check wired in, which the signing
stage cannot import (verification comes after signing in the stages' order).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from qa_builder.audit.events import AuditFile, DetailValue
from qa_builder.audit.record import check_usable, record, recorded
from qa_builder.audit.store import AuditTrail
from qa_builder.signing import pades
from qa_builder.signing.keys import SigningKey
from qa_builder.signing.manifest import ManifestFiles
from qa_builder.signing.manifest import write_signed_manifest as write_manifest_files
from qa_builder.signing.pades import RenewalOutcome, SignatureOutcome, SignatureRequest, renew_archive_timestamp
from qa_builder.verify.policy import VerifySettings
from qa_builder.verify.report import FileReport

__all__ = ["record_verification", "record_verifications", "renew_file", "sign_file", "sign_pdf",
           "write_signed_manifest"]


def sign_pdf(source: Path, target: Path, request: SignatureRequest, key: SigningKey, *,
             force: bool = False) -> SignatureOutcome:
    """Sign `source` into `target` (`qa_builder.signing.pades.sign_pdf`, PAdES, ETSI EN 319 142-1); a B-LT or
    B-LTA signature is written only once it verifies TOTAL-PASSED offline with the request's trust roots alone,
    by the verifier's own rules (`qa_builder.verify.pdf.offline_problems`). Records nothing.

    Args:
        source: the PDF with an empty signature field. target: where the signed copy is written.
        request: field, meaning, level, TSA and trust roots. key: the signer's key.
        force: replace `target` if it exists.

    Returns:
        What was signed, by whom, when (UTC) and from which time source.

    Raises:
        SigningError: as the signing stage's `sign_pdf`, and when the new long-term signature does not verify
            offline (nothing is written then). InputError: a trust root cannot be loaded.
    """
    return pades.sign_pdf(source, target, request, key, force=force, offline_check=_offline_check())


def _offline_check() -> pades.OfflineCheck:
    """The verifier's offline check, imported when signing (pyHanko's validation)."""
    from qa_builder.verify.pdf import offline_problems

    return offline_problems


def sign_file(source: Path, target: Path, request: SignatureRequest, load_key: Callable[[], SigningKey], *,
              force: bool = False, trail: AuditTrail | None = None) -> SignatureOutcome:
    """Load the key and sign `source` into `target` (see `sign_pdf`), recording the signature in `trail`.

    Args:
        source: the PDF with an empty signature field. target: where the signed copy is written.
        request: field, meaning, level, TSA and trust roots. load_key: called once, inside the recorded
            attempt, so a wrong passphrase or PIN is recorded as a failed "sign" event.
        force: replace `target` if it exists.
        trail: the audit trail of the workspace the file belongs to; None records nothing.

    Returns:
        What was signed, by whom, when (UTC) and from which time source.

    Raises:
        SigningError / InputError: as `sign_pdf` and the key loader. AuditError: the trail cannot be used (then
        nothing is signed), or the event could not be written (the signed file is then already in place).
    """
    check_usable(trail)
    agreement_id, version = _agreement_of(target)
    details: dict[str, DetailValue] = {"field": request.field, "meaning": request.meaning, "level": request.level,
                                       "certify": request.certify, "check_revocation": request.check_revocation,
                                       "source": source.name}
    with recorded(trail, "sign", agreement_id=agreement_id, agreement_version=version, details=details):
        key = load_key()
        outcome = sign_pdf(source, target, request, key, force=force)
    record(trail, "sign", agreement_id=agreement_id, agreement_version=version, signer=key.identity.subject,
           files=[source, target], details={**details, "signed_at": f"{outcome.signed_at:%Y-%m-%dT%H:%M:%SZ}",
                                            "time_source": outcome.time_source})
    return outcome


def renew_file(source: Path, target: Path, tsa_url: str | None, trust_roots: tuple[Path, ...], *,
               force: bool = False, trail: AuditTrail | None = None) -> RenewalOutcome:
    """`renew_archive_timestamp` (PAdES B-LTA), recorded (or its failure) as a "sign" event in `trail`.

    Raises:
        SigningError / InputError: as `renew_archive_timestamp`. AuditError: the trail cannot be used (nothing
        is written), or the event could not be written.
    """
    check_usable(trail)
    agreement_id, version = _agreement_of(target)
    details: dict[str, DetailValue] = {"operation": "renew archive timestamp", "source": source.name}
    with recorded(trail, "sign", agreement_id=agreement_id, agreement_version=version, details=details):
        outcome = renew_archive_timestamp(source, target, tsa_url, trust_roots, force=force,
                                          offline_check=_offline_check())
    record(trail, "sign", agreement_id=agreement_id, agreement_version=version, files=[source, target],
           details={**details, "renewed_at": f"{outcome.renewed_at:%Y-%m-%dT%H:%M:%SZ}",
                    "tsa_certificate_expires": f"{outcome.tsa_expiry:%Y-%m-%d}"})
    return outcome


def write_signed_manifest(build_json: Path, key: SigningKey, *, tsa_url: str | None = None, force: bool = False,
                          trail: AuditTrail | None = None, trust_roots: Sequence[Path] = ()) -> ManifestFiles:
    """Write the signed manifest of a build (see `qa_builder.signing.manifest.write_signed_manifest`) and record
    a "manifest" event in `trail` (None records nothing).

    Raises:
        ManifestError / OutputExistsError / SigningError: as the manifest writer. AuditError: the trail cannot
        be used (nothing is written), or the event could not be written (the manifest files are then in place).
    """
    check_usable(trail)
    files = write_manifest_files(build_json, key, tsa_url=tsa_url, force=force, trust_roots=trust_roots)
    if trail is not None:
        from qa_builder.models.manifest import Manifest

        manifest = Manifest.model_validate_json(files.manifest.read_bytes())
        record(trail, "manifest", agreement_id=manifest.agreement_id,
               agreement_version=manifest.agreement_version, signer=key.identity.subject,
               files=[files.manifest, files.signature],
               details={"artefacts": [a.file for a in manifest.artefacts], "timestamped": tsa_url is not None})
    return files


def record_verification(trail: AuditTrail, path: Path, result: FileReport, settings: VerifySettings) -> None:
    """Record the verification of one file as a "verify" event: its name, sha256 and the verdict (no text of it).

    A file that could not be read (missing, a directory, a symlink loop) is not recorded: nothing was verified.

    Raises:
        AuditError: the trail cannot be written. The verdict stands regardless; the caller reports both.
    """
    if result.sha256 is None:
        return
    verified = [AuditFile(name=_trail_name(trail, path), sha256=result.sha256)] if result.sha256 else []
    record(trail, "verify", files=verified,
           details={"indication": result.indication, "sub_indication": result.sub_indication,
                    "error": result.error, "signatures": len(result.signatures),
                    "trust_roots": [p.name for p in settings.trust_roots], "online": settings.online})


def record_verifications(trail: AuditTrail, paths: Sequence[Path], results: Sequence[FileReport],
                         settings: VerifySettings) -> None:
    """`record_verification` for each (path, result) pair, in order.

    Raises:
        AuditError: the trail cannot be written (events before the failing one stay recorded).
    """
    for path, result in zip(paths, results, strict=True):
        record_verification(trail, path, result, settings)


def _trail_name(trail: AuditTrail, path: Path) -> str:
    """The file's name as the trail shows it: relative to the trail's workspace, or its own name when outside."""
    resolved = path.resolve()
    root = trail.workspace.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else path.name


def _agreement_of(path: Path) -> tuple[str | None, int | None]:
    """'QA-1_v3.signed.pdf' → ('QA-1', 3); (None, None) for other names."""
    found = _STEM.match(path.name)
    return (found.group(1), int(found.group(2))) if found else (None, None)


_STEM = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*?)_v([1-9][0-9]*)\.")

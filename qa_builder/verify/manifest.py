"""Verify a signed manifest: its detached CMS signature and every artefact it lists, found beside it."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pydantic import ValidationError
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from qa_builder.files import inside, read_small_file, sha256_file
from qa_builder.models.manifest import Manifest
from qa_builder.signing.cms import carried_revocation, signature_timestamp_token
from qa_builder.verify.chains import chain_state, token_chain_state
from qa_builder.verify.pdf_rules import CHAIN_SENTENCES, TSA_SENTENCES
from qa_builder.verify.policy import Policy
from qa_builder.verify.report import ArtefactCheck, FileReport, Indication, SignatureReport, utc_text

SIGNATURE_SUFFIX = ".p7s"


def manifest_files(path: Path) -> tuple[Path, Path]:
    """The manifest and its signature, whichever of the two was named."""
    if path.name.endswith(SIGNATURE_SUFFIX):
        return path.with_name(path.name.removesuffix(SIGNATURE_SUFFIX)), path
    return path, path.with_name(path.name + SIGNATURE_SUFFIX)


MAX_MANIFEST_BYTES = 64 * 1024 * 1024
"""Bytes at most of a manifest or its .p7s (a manifest lists a handful of artefacts: a few KiB)."""


def verify_manifest(path: Path, policy: Policy) -> FileReport:
    """Check the manifest's signature (trusted to the policy's roots) and each listed artefact beside it."""
    manifest_path, signature_path = manifest_files(path)
    data = read_small_file(manifest_path, MAX_MANIFEST_BYTES)  # a FIFO or device is refused, not waited on
    report = FileReport(file=str(path), sha256=hashlib.sha256(data).hexdigest(), kind="manifest",
                        indication="TOTAL-FAILED", sub_indication="FORMAT_FAILURE", error=None, signatures=[],
                        doc_timestamps=[])
    try:
        manifest = Manifest.model_validate(json.loads(data, object_pairs_hook=_no_key_twice))
    except (ValueError, ValidationError) as exc:
        return report.model_copy(update={"error": f"is not a qa-builder manifest ({_first_line(exc)})"})
    except RecursionError:  # was "could not be verified (RecursionError: …)", INDETERMINATE
        return report.model_copy(update={"error": "is not a qa-builder manifest (it nests too deeply)"})
    if not signature_path.is_file():
        return report.model_copy(update={"indication": "INDETERMINATE", "sub_indication": "SIGNED_DATA_NOT_FOUND",
                                         "error": f"has no detached signature {signature_path.name} beside it"})
    signature = _signature_report(data, signature_path, policy)
    artefacts = [_check_artefact(manifest_path.parent, a.file, a.sha256, a.size) for a in manifest.artefacts]
    indication, sub = signature.indication, signature.sub_indication
    if any(not (a.present and a.sha256_ok and a.size_ok) for a in artefacts) and indication != "TOTAL-FAILED":
        indication, sub = "TOTAL-FAILED", "HASH_FAILURE"
    return report.model_copy(update={"indication": indication, "sub_indication": sub, "signatures": [signature],
                                     "artefacts": artefacts})


def artefact_problems(report: FileReport) -> list[str]:
    """Plain sentences for the artefacts that are missing or changed."""
    problems = []
    for artefact in report.artefacts:
        if not artefact.present:
            problems.append(f"{artefact.file} is listed in the manifest but is not beside it.")
        elif not (artefact.sha256_ok and artefact.size_ok):
            problems.append(f"{artefact.file} differs from the manifest (its size or sha256 changed, or it is no "
                            "longer a regular file).")
    return problems


def _check_artefact(folder: Path, name: str, sha256: str, size: int) -> ArtefactCheck:
    try:
        path = inside(folder, name)
    except ValueError:
        return ArtefactCheck(file=name, present=False, sha256_ok=False, size_ok=False)
    if not path.exists() and not path.is_symlink():
        return ArtefactCheck(file=name, present=False, sha256_ok=False, size_ok=False)
    if not path.is_file():  # a FIFO, a device or a folder in its place: there, but not the file that was signed
        return ArtefactCheck(file=name, present=True, sha256_ok=False, size_ok=False)
    if path.stat().st_size != size:  # decided at once: a 20 GB file in its place was hashed first (41 s)
        return ArtefactCheck(file=name, present=True, sha256_ok=False, size_ok=False)
    try:
        same = sha256_file(path) == sha256
    except OSError:
        same = False
    return ArtefactCheck(file=name, present=True, sha256_ok=same, size_ok=True)


def _signature_report(data: bytes, signature_path: Path, policy: Policy) -> SignatureReport:
    base: dict[str, Any] = {"field": signature_path.name, "stated_name": None, "stated_meaning": None, "coverage": None,
            "modification": None, "docmdp_ok": None, "certification": None, "level": None,
            "part11_manifestation": False}
    try:
        signed_data = cms.ContentInfo.load(read_small_file(signature_path, MAX_MANIFEST_BYTES))["content"]
        signer_info = signed_data["signer_infos"][0]
        ocsps, crls = carried_revocation(signed_data)
        # the signer's revocation status must be established, as for a PDF signature: from the OCSP responses and
        # CRLs the signature carries (`manifest --trust`), or fetched with --online; the timestamp authority's is
        # taken as the PDF verifier takes it (soft-fail offline)
        signer_context = ValidationContext(trust_roots=list(policy.roots), allow_fetching=policy.online,
                                           moment=policy.at, revocation_mode="require", ocsps=ocsps, crls=crls,
                                           fetcher_backend=policy.fetcher_backend())
        context = ValidationContext(trust_roots=list(policy.roots), allow_fetching=policy.online, moment=policy.at,
                                    revocation_mode="require" if policy.online else "soft-fail",
                                    fetcher_backend=policy.fetcher_backend())
        status = asyncio.run(async_validate_detached_cms(data, signed_data, signer_validation_context=signer_context,
                                                         ts_validation_context=context))
        validated_at: dt.datetime | None = None
        proven = status.timestamp_validity.timestamp if (
            status.timestamp_validity is not None and status.timestamp_validity.trusted) else None
        if not status.trusted and not status.revoked and proven is not None and not policy.online:
            # past-signature validation (ETSI EN 319 102-1 5.6): the trusted timestamp proves the manifest was
            # signed at `proven`; the signer's certificate (it may have expired since) and the revocation data
            # it carries (issued then, stale since) are judged then
            then = ValidationContext(trust_roots=list(policy.roots), allow_fetching=False, moment=proven,
                                     revocation_mode="require", ocsps=ocsps, crls=crls)
            earlier = asyncio.run(async_validate_detached_cms(data, signed_data, signer_validation_context=then,
                                                              ts_validation_context=context))
            if (earlier.trusted or earlier.revoked) and earlier.intact and earlier.valid:
                status, validated_at = earlier, proven
        unchecked = False  # trusted but for revocation: the status could not be established
        if not status.trusted and not status.revoked:
            lenient = ValidationContext(trust_roots=list(policy.roots), allow_fetching=False, moment=policy.at,
                                        revocation_mode="soft-fail", ocsps=ocsps, crls=crls)
            unchecked = asyncio.run(async_validate_detached_cms(
                data, signed_data, signer_validation_context=lenient, ts_validation_context=context)).trusted
    except MemoryError:  # the per-file memory bound: reported by the runner
        raise
    except Exception as exc:  # any malformed CMS: the signature cannot be used
        return SignatureReport(**base, signer_subject="", signer_common_name="", claimed_time=None,
                               timestamp_time=None, timestamp_trusted=None, intact=False, valid=False,
                               trusted=False, revocation="not_checked", indication="TOTAL-FAILED",
                               sub_indication="FORMAT_FAILURE",
                               problems=[f"{signature_path.name} cannot be read as a CMS signature "
                                         f"({_first_line(exc)})."])
    certificate = status.signing_cert
    timestamp = status.timestamp_validity
    timestamp_matches = timestamp is None or (timestamp.intact and timestamp.valid)
    problems: list[str] = []
    indication: Indication
    sub: str | None
    if not status.intact:
        indication, sub = "TOTAL-FAILED", "HASH_FAILURE"
        problems.append(f"The manifest was changed after it was signed ({signature_path.name} does not match it).")
    elif not status.valid:
        indication, sub = "TOTAL-FAILED", "SIG_CRYPTO_FAILURE"
        problems.append("The manifest's signature does not verify with the signer's certificate.")
    elif not timestamp_matches:
        indication, sub = "TOTAL-FAILED", "HASH_FAILURE"
        problems.append("The manifest's timestamp does not match its signature (copied from another signature "
                        "or altered).")
    elif status.revoked:
        indication, sub = "TOTAL-FAILED", "REVOKED"
        problems.append("The signer's certificate is revoked.")
    elif not status.trusted:
        chain = chain_state(certificate, _others(signed_data, certificate), policy.roots, policy.at)
        if unchecked or (chain == "trusted" and bool(ocsps or crls)):  # as a B-B PDF signature offline
            indication, sub = "INDETERMINATE", "TRY_LATER"
            problems.append(_NO_REVOCATION if not (ocsps or crls) else _STALE_REVOCATION)
        else:
            indication, sub = "INDETERMINATE", ("OUT_OF_BOUNDS_NO_POE" if chain == "out_of_validity"
                                                else "NO_CERTIFICATE_CHAIN_FOUND")
            problems.append(CHAIN_SENTENCES["untrusted" if chain == "trusted" else chain])
    else:
        indication, sub = "TOTAL-PASSED", None
    if timestamp is not None and timestamp_matches and not timestamp.trusted:
        token = signature_timestamp_token(signer_info)
        state = token_chain_state(token["content"], policy.roots, policy.at) if token is not None else "untrusted"
        problems.append("The manifest's timestamp: its timestamp authority's certificate was not valid (expired) at "
                        "the validation time, so it no longer proves when the manifest was signed."
                        if state == "out_of_validity" else f"The manifest's timestamp: {TSA_SENTENCES[state]}")
    return SignatureReport(
        **base, signer_subject=str(certificate.subject.human_friendly) if certificate else "",
        signer_common_name=str(certificate.subject.native.get("common_name", "")) if certificate else "",
        claimed_time=utc_text(_signing_time(signer_info)), validation_time=utc_text(validated_at),
        timestamp_time=utc_text(timestamp.timestamp) if timestamp is not None else None,
        timestamp_trusted=bool(timestamp_matches and timestamp.trusted) if timestamp is not None else None,
        intact=status.intact, valid=status.valid, trusted=status.trusted,
        revocation="revoked" if status.revoked else ("good" if status.trusted else "not_checked"),
        indication=indication, sub_indication=sub, problems=problems)


_NO_REVOCATION = ("The signer's revocation status could not be checked: the manifest's signature carries no "
                  "revocation data (sign manifests with --trust to include it), and none was fetched (verify "
                  "--online).")
_STALE_REVOCATION = ("The signer's revocation status could not be checked: the revocation data the manifest's "
                     "signature carries is no longer current, and no trusted timestamp proves the signing time "
                     "(sign manifests with --tsa and --trust, or verify --online).")


def _others(signed_data: cms.SignedData, signer: object) -> list[asn1_x509.Certificate]:
    """The certificates a CMS signature carries besides its signer's (the path's intermediates)."""
    return [choice.chosen for choice in signed_data["certificates"] or ()
            if isinstance(choice.chosen, asn1_x509.Certificate) and choice.chosen is not signer
            and choice.chosen != signer]


def _signing_time(signer_info: cms.SignerInfo) -> dt.datetime | None:
    for attribute in signer_info["signed_attrs"]:
        if attribute["type"].native == "signing_time":
            moment: dt.datetime = attribute["values"][0].native
            return moment
    return None


def _no_key_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when it holds a key twice: readers differ on which one counts (Python's takes the last,
    others the first), so one signed manifest could name different files to different verifiers (session 6)."""
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            raise ValueError(f"has the key '{key[:80]}' twice in one object")
        seen.add(key)
    return dict(pairs)


def _first_line(exc: BaseException) -> str:
    """The problem in one line; for a validation error, the field and what is wrong with it (pydantic's own first
    line, "1 validation error for Manifest", named neither)."""
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}"[:300] if where else str(first["msg"])[:300]
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__

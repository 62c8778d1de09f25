"""Pure verdict rules of a PDF signature: from the facts validation established to the ETSI EN 319 102-1
indication and the sentences the report gives (no pyHanko calls here; `qa_builder.verify.pdf` gathers the facts).

The sub-indications are pyHanko's AdES enums, used as plain values (ETSI EN 319 102-1 §5.1.3 names them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed, AdESStatus

from qa_builder.verify.report import Coverage, Indication, Level, Modification, Revocation, Verdict

ChainState = Literal["trusted", "untrusted", "self_signed", "out_of_validity"]
"""The signer's chain at the validation time, revocation aside."""

REVOKED = frozenset({AdESFailure.REVOKED, AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE})
REVOCATION_UNKNOWN = frozenset({AdESIndeterminate.TRY_LATER, AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE,
                                AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE, AdESIndeterminate.NO_POE})
CHAIN_NOT_FOUND = frozenset({*REVOCATION_UNKNOWN, AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND})
CHAIN_PROBLEMS = frozenset({*CHAIN_NOT_FOUND, AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE})
TOTAL_FAILED_NAMES = frozenset({"HASH_FAILURE", "SIG_CRYPTO_FAILURE", "FORMAT_FAILURE"})
"""Sub-indications (by name) that prove a signature failed, whatever else is known."""

CHAIN_SENTENCES: dict[ChainState, str] = {
    "trusted": "The signer's certificate chain could not be validated.",
    "untrusted": "The signer's certificate does not chain to a trusted root (pass the issuing root with --trust).",
    "self_signed": "The signer's certificate is self-signed, not trusted (pass it with --trust only if you "
                   "know it belongs to the signer).",
    "out_of_validity": "The signer's certificate was not valid (expired or not yet valid) at the validation time, "
                       "and no timestamp that still holds proves the signature existed while it was valid.",
}

TSA_SENTENCES: dict[ChainState, str] = {
    "trusted": "its timestamp authority chains to a trusted root, but the authority's revocation status could not "
               "be established from the embedded data (verify with --online, or ask for a B-LT or B-LTA signature).",
    "untrusted": "its timestamp authority does not chain to a trusted root (pass the authority's root with --trust).",
    "self_signed": "its timestamp authority's certificate is self-signed, not trusted.",
    "out_of_validity": "its timestamp authority's certificate was not valid (expired) at the validation time, and no "
                       "later archive timestamp proves it was made while that certificate was valid (renew the "
                       "archive timestamp before the authority's certificate expires: sign "
                       "--renew-archive-timestamp).",
}
"""Why a timestamp (signature or document timestamp) is not trusted, by the state of its authority's chain."""

ADES_SENTENCES = {
    "EXPIRED": "The signer's certificate had expired at the validation time and no timestamp proves the "
               "signature existed before that.",
    "OUT_OF_BOUNDS_NO_POE": "The signer's certificate was not valid at the validation time and no proof of "
                            "existence covers the signing time.",
    "OUT_OF_BOUNDS_NOT_REVOKED": "The signer's certificate has expired; it was not revoked, but no proof of "
                                 "existence covers the signing time.",
    "NOT_YET_VALID": "The signer's certificate was not yet valid when the signature was made.",
    "NO_POE": "No proof of existence (timestamp) for the signature could be established.",
    "CRYPTO_CONSTRAINTS_FAILURE": "The signature uses an algorithm or key size the validation policy no longer "
                                  "accepts (for example SHA-1), so it was not checked further.",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "The signature uses an algorithm the validation policy no longer accepts, "
                                         "and no timestamp proves it was made while it was still accepted.",
    "SIG_CONSTRAINTS_FAILURE": "The signature's attributes do not meet the validation constraints "
                               "(e.g. a missing signing-certificate attribute).",
    "CHAIN_CONSTRAINTS_FAILURE": "The certificate chain does not meet the validation constraints "
                                 "(e.g. key usage).",
}


@dataclass(frozen=True)
class SignatureFacts:
    """Everything the verdict and the problem sentences of one signature depend on.

    Attributes:
        intact: The digest over the signed byte ranges matches (pyHanko's `intact`).
        valid: The signature value verifies with the signer's certificate.
        docmdp_ok: The changes after signing are allowed (None: not judged).
        trusted: The chain is trusted (also when only revocation data is missing).
        chain: The chain state, revocation aside.
        subindic: The ETSI sub-indication validation ended with (an AdES enum).
        revocation: What is known of revocation (see `revocation_state`).
        coverage: How much of the file the signature covers.
        modification: pyHanko's modification level of the changes after signing.
        diff_reason: The changes after signing no permission allows, in sentences ('' when none).
        has_name, has_meaning, has_time, visible: The Part 11 manifestation (21 CFR 11.50): printed name,
            meaning, signing time, a visible appearance.
        ts_trusted, ts_intact: The signature timestamp (None when there is none).
        ts_chain: Why an untrusted signature timestamp is not trusted (see `TSA_SENTENCES`).
    """

    intact: bool
    valid: bool
    docmdp_ok: bool | None
    trusted: bool
    chain: ChainState
    subindic: object
    revocation: Revocation
    coverage: Coverage | None
    modification: Modification | None
    diff_reason: str
    has_name: bool
    has_meaning: bool
    has_time: bool
    visible: bool
    ts_trusted: bool | None
    ts_intact: bool | None
    ts_chain: ChainState = "untrusted"
    """The signature timestamp authority's chain, revocation aside (read when `ts_trusted` is False)."""

    def verdict(self) -> Verdict:
        """The signature's indication and sub-indication (ETSI EN 319 102-1 §5.1.3)."""
        if not self.intact:
            return Verdict(indication="TOTAL-FAILED", sub_indication="HASH_FAILURE")
        if not self.valid:
            return Verdict(indication="TOTAL-FAILED", sub_indication="SIG_CRYPTO_FAILURE")
        if self.ts_intact is False:  # a timestamp token that belongs to other bytes: copied or altered
            return Verdict(indication="TOTAL-FAILED", sub_indication="HASH_FAILURE")
        if self.coverage == "partial" or self.docmdp_ok is False:
            return Verdict(indication="TOTAL-FAILED", sub_indication="FORMAT_FAILURE")
        if isinstance(self.subindic, AdESPassed):
            return Verdict(indication="TOTAL-PASSED")
        if not self.trusted and self.chain == "self_signed" and self.subindic in CHAIN_PROBLEMS:
            return Verdict(indication="INDETERMINATE", sub_indication="NO_CERTIFICATE_CHAIN_FOUND")
        if not self.trusted and self.subindic in REVOCATION_UNKNOWN:
            # without a trusted chain there is no revocation to look at: the chain is the real reason
            if self.chain == "out_of_validity":
                return Verdict(indication="INDETERMINATE", sub_indication="OUT_OF_BOUNDS_NO_POE")
            return Verdict(indication="INDETERMINATE", sub_indication="NO_CERTIFICATE_CHAIN_FOUND")
        if self.subindic == AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE:
            # a trusted chain whose revocation status the file does not hold: ETSI's "try later" (pyHanko
            # reports missing revocation data through its generic branch)
            return Verdict(indication="INDETERMINATE", sub_indication="TRY_LATER")
        status = getattr(self.subindic, "status", AdESStatus.INDETERMINATE)
        indication: Indication = "TOTAL-FAILED" if status == AdESStatus.FAILED else "INDETERMINATE"
        return Verdict(indication=indication, sub_indication=getattr(self.subindic, "name", "GENERIC"))

    def part11(self) -> bool:
        """Whether the signature shows the whole Part 11 manifestation (21 CFR 11.50(a))."""
        return self.has_name and self.has_meaning and self.has_time and self.visible

    def problems(self) -> list[str]:
        """The report's sentences on what is wrong or unknown, most serious first (empty when all is well)."""
        found: list[str] = []
        if not self.intact:
            found.append("The signed bytes were changed after signing (digest mismatch).")
        elif not self.valid:
            found.append("The cryptographic signature does not verify with the signer's certificate.")
        if self.coverage == "partial":
            found.append("The signature does not cover a whole revision of the file; bytes outside it can change.")
        if self.docmdp_ok is False:
            why = f": {self.diff_reason}" if self.diff_reason else ""
            found.append(f"The document was changed after signing in a way the permissions in force do not "
                         f"allow{why}.")
        if not self.trusted and self.intact and self.valid and self._no_trusted_chain():
            found.append(CHAIN_SENTENCES[self.chain])
        found.extend(self._revocation_problems())
        if self.ts_intact is False:
            found.append("The signature timestamp does not match this signature (copied from another signature "
                         "or altered).")
        elif self.ts_trusted is False:
            found.append(f"The signature timestamp: {TSA_SENTENCES[self.ts_chain]}")
        missing = [label for label, present in (("printed name (/Name)", self.has_name),
                                                ("meaning (/Reason)", self.has_meaning),
                                                ("signing time", self.has_time),
                                                ("visible signature appearance", self.visible)) if not present]
        if missing:
            found.append(f"The Part 11 manifestation is incomplete: no {', no '.join(missing)}.")
        return found

    def _no_trusted_chain(self) -> bool:
        return self.subindic in CHAIN_NOT_FOUND or (self.chain == "self_signed" and self.subindic in CHAIN_PROBLEMS)

    def _revocation_problems(self) -> list[str]:
        if self.revocation == "revoked":
            return ["The signer's certificate (or a CA above it) is revoked."]
        if self.revocation == "unknown":
            return ["The revocation status could not be established from the embedded data (verify with "
                    "--online, or ask for a B-LT or B-LTA signature)."]
        if isinstance(self.subindic, AdESPassed) or self.subindic in REVOKED:
            return []
        if not self.trusted and self._no_trusted_chain():
            return []  # already said: no trusted chain
        name = getattr(self.subindic, "name", "GENERIC")
        explained = not (self.intact and self.valid) or self.coverage == "partial" or self.docmdp_ok is False
        if name in TOTAL_FAILED_NAMES and explained:
            return []  # the digest or the signature value sentence above already says it
        return [ADES_SENTENCES.get(name, f"ETSI validation ended with {name}.")]


def revocation_state(subindic: object, *, revoked: bool, trusted: bool) -> Revocation:
    """What the report says of revocation: revoked, good, unknown, or not checked (no trusted chain to check)."""
    if subindic in REVOKED or revoked:
        return "revoked"
    if not trusted:
        return "not_checked"
    if isinstance(subindic, AdESPassed):
        return "good"
    if subindic in REVOCATION_UNKNOWN:
        return "unknown"
    return "not_checked"


def unusable_verdict(subindic: object, *, indeterminate: bool = False) -> Verdict:
    """The verdict on a signature that could not be validated the normal way.

    Args:
        subindic: A sub-indication name (e.g. "HASH_FAILURE"), an AdES enum, or None (FORMAT_FAILURE).
        indeterminate: Nothing proves the signature failed (e.g. our validator's own failure).
    """
    status = getattr(subindic, "status", None)
    indication: Indication
    if subindic in TOTAL_FAILED_NAMES or status == AdESStatus.FAILED:
        indication = "TOTAL-FAILED"
    elif indeterminate or status == AdESStatus.INDETERMINATE:
        indication = "INDETERMINATE"
    else:
        indication = "TOTAL-FAILED"
    sub = subindic if isinstance(subindic, str) else getattr(subindic, "name", "FORMAT_FAILURE")
    return Verdict(indication=indication, sub_indication=sub)


def established_integrity(sub_indication: str | None, *, checked: bool) -> tuple[bool | None, bool | None]:
    """(intact, valid) as far as an unusable signature's sub-indication, or a completed check, establishes them."""
    if sub_indication == "HASH_FAILURE":
        return False, None
    if sub_indication == "SIG_CRYPTO_FAILURE":
        return True, False
    if checked:
        return True, True
    return None, None


def timestamp_verdict(*, intact: bool, valid: bool, coverage: Coverage | None, disallowed_changes: str,
                      trusted: bool, chain: ChainState = "untrusted") -> tuple[Verdict, list[str]]:
    """The verdict on a document timestamp (RFC 3161 in PDF, ISO 32000-2 §12.8.5) and its problem sentences.

    Args:
        disallowed_changes: The changes after the timestamp that no signature allows, in sentences ('' if none).
        chain: When not `trusted`, the state of the timestamp authority's chain, revocation aside.
    """
    if not intact:
        return (Verdict(indication="TOTAL-FAILED", sub_indication="HASH_FAILURE"),
                ["The timestamped bytes were changed afterwards (digest mismatch)."])
    if not valid:
        return (Verdict(indication="TOTAL-FAILED", sub_indication="SIG_CRYPTO_FAILURE"),
                ["The timestamp's signature does not verify."])
    if coverage == "partial":
        return (Verdict(indication="TOTAL-FAILED", sub_indication="FORMAT_FAILURE"),
                ["The document timestamp does not cover a whole revision of the file."])
    if disallowed_changes:
        return (Verdict(indication="TOTAL-FAILED", sub_indication="FORMAT_FAILURE"),
                [f"The document was changed after this timestamp in a way no signature allows: "
                 f"{disallowed_changes}."])
    if not trusted:
        sub = {"trusted": "TRY_LATER", "out_of_validity": "OUT_OF_BOUNDS_NO_POE"}.get(chain,
                                                                                    "NO_CERTIFICATE_CHAIN_FOUND")
        return (Verdict(indication="INDETERMINATE", sub_indication=sub),
                [f"The document timestamp: {TSA_SENTENCES[chain]}"])
    return Verdict(indication="TOTAL-PASSED"), []


def baseline_level(subfilter: str, signed_revision: int, *, has_signature_timestamp: bool,
                   dss_revisions: list[int], timestamp_revisions: list[int]) -> Level | None:
    """The PAdES baseline level (ETSI EN 319 142-1 §6) the file's structure reaches for one signature.

    Args:
        subfilter: The signature's /SubFilter; only /ETSI.CAdES.detached has a PAdES level.
        signed_revision: The revision (0-based) the signature signs.
        has_signature_timestamp: The CMS holds a signature timestamp.
        dss_revisions: Revisions whose DSS holds revocation data.
        timestamp_revisions: Revisions that end with a document timestamp.
    """
    if subfilter != "/ETSI.CAdES.detached":
        return None
    if not (has_signature_timestamp or any(rev > signed_revision for rev in timestamp_revisions)):
        return "B-B"
    dss_after = [rev for rev in dss_revisions if rev > signed_revision]
    if not dss_after:
        return "B-T"
    if any(rev >= min(dss_after) for rev in timestamp_revisions):
        return "B-LTA"
    return "B-LT"

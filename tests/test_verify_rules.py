"""The verdict rules of a PDF signature on their own (qa_builder.verify.pdf_rules): facts in, ETSI indication and
sentences out, no PDF and no pyHanko validation. The end-to-end cases are in test_verify.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed

from qa_builder.verify.pdf_rules import (
    SignatureFacts,
    baseline_level,
    established_integrity,
    revocation_state,
    timestamp_verdict,
    unusable_verdict,
)

SOUND = SignatureFacts(intact=True, valid=True, docmdp_ok=True, trusted=True, chain="trusted", subindic=AdESPassed.OK,
                       revocation="good", coverage="entire_revision", modification="none", diff_reason="",
                       has_name=True, has_meaning=True, has_time=True, visible=True, ts_trusted=True, ts_intact=True)


def _verdict(facts: SignatureFacts) -> tuple[str, str | None]:
    verdict = facts.verdict()
    return verdict.indication, verdict.sub_indication


def test_a_sound_signature_passes_with_nothing_to_say() -> None:
    assert _verdict(SOUND) == ("TOTAL-PASSED", None)
    assert SOUND.problems() == [] and SOUND.part11()


@pytest.mark.parametrize(("change", "expected"), [
    ({"intact": False, "valid": False}, ("TOTAL-FAILED", "HASH_FAILURE")),  # the digest is judged first
    ({"valid": False}, ("TOTAL-FAILED", "SIG_CRYPTO_FAILURE")),
    ({"ts_intact": False}, ("TOTAL-FAILED", "HASH_FAILURE")),  # a timestamp copied from another signature
    ({"coverage": "partial"}, ("TOTAL-FAILED", "FORMAT_FAILURE")),
    ({"docmdp_ok": False, "subindic": AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND}, ("TOTAL-FAILED",
                                                                                      "FORMAT_FAILURE")),
    ({"trusted": False, "chain": "self_signed", "subindic": AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE},
     ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")),
    ({"trusted": False, "chain": "out_of_validity", "subindic": AdESIndeterminate.TRY_LATER},
     ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")),
    ({"trusted": False, "chain": "untrusted", "subindic": AdESIndeterminate.TRY_LATER},
     ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")),
    ({"subindic": AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE}, ("INDETERMINATE", "TRY_LATER")),
    ({"subindic": AdESFailure.REVOKED}, ("TOTAL-FAILED", "REVOKED")),
    ({"subindic": AdESIndeterminate.OUT_OF_BOUNDS_NO_POE}, ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")),
])
def test_the_verdict_follows_the_most_serious_fact(change: dict[str, Any], expected: tuple[str, str]) -> None:
    assert _verdict(replace(SOUND, **change)) == expected


def test_no_trusted_chain_is_said_once_and_hides_the_revocation_sentence() -> None:
    facts = replace(SOUND, trusted=False, chain="self_signed", subindic=AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND,
                    revocation="not_checked")
    problems = facts.problems()
    assert problems == ["The signer's certificate is self-signed, not trusted (pass it with --trust only if you "
                        "know it belongs to the signer)."]


def test_a_broken_signature_does_not_also_blame_the_chain() -> None:
    facts = replace(SOUND, intact=False, trusted=False, chain="untrusted",
                    subindic=AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND, revocation="not_checked")
    assert facts.problems() == ["The signed bytes were changed after signing (digest mismatch)."]


def test_revocation_and_etsi_sentences() -> None:
    assert "is revoked" in replace(SOUND, subindic=AdESFailure.REVOKED, revocation="revoked").problems()[0]
    unknown = replace(SOUND, subindic=AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE, revocation="unknown")
    assert "--online" in unknown.problems()[0]
    expired = replace(SOUND, subindic=AdESIndeterminate.OUT_OF_BOUNDS_NO_POE, revocation="not_checked")
    assert expired.problems() == ["The signer's certificate was not valid at the validation time and no proof of "
                                  "existence covers the signing time."]


def test_changes_after_signing_are_named() -> None:
    facts = replace(SOUND, docmdp_ok=False, diff_reason="page 2 content was replaced")
    assert facts.problems() == ["The document was changed after signing in a way the permissions in force do not "
                                "allow: page 2 content was replaced."]


def test_an_incomplete_part11_manifestation_names_what_is_missing() -> None:
    facts = replace(SOUND, has_meaning=False, visible=False)
    assert not facts.part11()
    assert facts.problems() == ["The Part 11 manifestation is incomplete: no meaning (/Reason), no visible "
                                "signature appearance."]
    assert _verdict(facts) == ("TOTAL-PASSED", None)  # Part 11 is reported, not an ETSI failure


@pytest.mark.parametrize(("subindic", "revoked", "trusted", "expected"), [
    (AdESPassed.OK, False, True, "good"),
    (AdESFailure.REVOKED, False, False, "revoked"),
    (AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND, True, False, "revoked"),  # revoked per the classic status
    (AdESIndeterminate.TRY_LATER, False, True, "unknown"),
    (AdESIndeterminate.TRY_LATER, False, False, "not_checked"),  # no trusted chain: nothing to check against
    (AdESIndeterminate.OUT_OF_BOUNDS_NO_POE, False, True, "not_checked"),
])
def test_revocation_state(subindic: object, revoked: bool, trusted: bool, expected: str) -> None:
    assert revocation_state(subindic, revoked=revoked, trusted=trusted) == expected


@pytest.mark.parametrize(("subindic", "indeterminate", "expected"), [
    ("HASH_FAILURE", True, ("TOTAL-FAILED", "HASH_FAILURE")),  # proven failures stay failures
    (None, False, ("TOTAL-FAILED", "FORMAT_FAILURE")),
    ("GENERIC", True, ("INDETERMINATE", "GENERIC")),
    ("GENERIC", False, ("TOTAL-FAILED", "GENERIC")),
    (AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND, False, ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")),
    (AdESFailure.REVOKED, True, ("TOTAL-FAILED", "REVOKED")),
])
def test_unusable_verdict(subindic: object, indeterminate: bool, expected: tuple[str, str]) -> None:
    verdict = unusable_verdict(subindic, indeterminate=indeterminate)
    assert (verdict.indication, verdict.sub_indication) == expected


def test_established_integrity() -> None:
    assert established_integrity("HASH_FAILURE", checked=True) == (False, None)
    assert established_integrity("SIG_CRYPTO_FAILURE", checked=False) == (True, False)
    assert established_integrity("FORMAT_FAILURE", checked=True) == (True, True)
    assert established_integrity("GENERIC", checked=False) == (None, None)


def test_timestamp_verdict_order() -> None:
    def verdict(**change: Any) -> tuple[str, str | None, list[str]]:
        facts = {"intact": True, "valid": True, "coverage": "entire_revision", "disallowed_changes": "",
                 "trusted": True, **change}
        found, problems = timestamp_verdict(**facts)
        return found.indication, found.sub_indication, problems

    assert verdict() == ("TOTAL-PASSED", None, [])
    assert verdict(intact=False, valid=False)[:2] == ("TOTAL-FAILED", "HASH_FAILURE")
    assert verdict(valid=False)[:2] == ("TOTAL-FAILED", "SIG_CRYPTO_FAILURE")
    assert verdict(coverage="partial", disallowed_changes="x")[:2] == ("TOTAL-FAILED", "FORMAT_FAILURE")
    assert verdict(disallowed_changes="a page was added", trusted=False)[2] == [
        "The document was changed after this timestamp in a way no signature allows: a page was added."]
    assert verdict(trusted=False)[:2] == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")


@pytest.mark.parametrize(("subfilter", "has_tst", "dss", "timestamps", "expected"), [
    ("/adbe.pkcs7.detached", True, [2], [3], None),
    ("/ETSI.CAdES.detached", False, [], [], "B-B"),
    ("/ETSI.CAdES.detached", False, [], [0], "B-B"),  # a document timestamp before the signature proves nothing
    ("/ETSI.CAdES.detached", True, [], [], "B-T"),
    ("/ETSI.CAdES.detached", False, [], [2], "B-T"),  # a later document timestamp proves its existence
    ("/ETSI.CAdES.detached", True, [0], [], "B-T"),  # validation data from before the signature
    ("/ETSI.CAdES.detached", True, [2], [], "B-LT"),
    ("/ETSI.CAdES.detached", True, [2], [1], "B-LT"),  # a document timestamp before the validation data
    ("/ETSI.CAdES.detached", True, [2], [2], "B-LTA"),
])
def test_baseline_level(subfilter: str, has_tst: bool, dss: list[int], timestamps: list[int],
                        expected: str | None) -> None:
    assert baseline_level(subfilter, 1, has_signature_timestamp=has_tst, dss_revisions=dss,
                          timestamp_revisions=timestamps) == expected


def test_an_untrusted_timestamp_says_why_and_a_proven_failure_is_said_once() -> None:
    """The TSA's chain state decides the sentence and, for a document timestamp, the sub-indication; a digest or
    signature-value failure was followed by "ETSI validation ended with HASH_FAILURE." as well."""
    def timestamp(chain: Any) -> tuple[str | None, list[str]]:
        found, problems = timestamp_verdict(intact=True, valid=True, coverage="entire_revision",
                                            disallowed_changes="", trusted=False, chain=chain)
        return found.sub_indication, problems

    assert timestamp("trusted")[0] == "TRY_LATER" and "revocation status" in timestamp("trusted")[1][0]
    assert timestamp("out_of_validity")[0] == "OUT_OF_BOUNDS_NO_POE"
    assert "--renew-archive-timestamp" in timestamp("out_of_validity")[1][0]
    assert timestamp("untrusted") == ("NO_CERTIFICATE_CHAIN_FOUND", [
        "The document timestamp: its timestamp authority does not chain to a trusted root (pass the authority's "
        "root with --trust)."])
    offline = replace(SOUND, ts_trusted=False, ts_chain="trusted")
    assert offline.problems() == ["The signature timestamp: its timestamp authority chains to a trusted root, but "
                                  "the authority's revocation status could not be established from the embedded "
                                  "data (verify with --online, or ask for a B-LT or B-LTA signature)."]
    edited = replace(SOUND, intact=False, trusted=False, chain="untrusted", subindic=AdESFailure.HASH_FAILURE,
                     revocation="not_checked")
    assert edited.problems() == ["The signed bytes were changed after signing (digest mismatch)."]
    forged = replace(SOUND, valid=False, subindic=AdESFailure.SIG_CRYPTO_FAILURE, revocation="not_checked")
    assert forged.problems() == ["The cryptographic signature does not verify with the signer's certificate."]

"""A B-LT/B-LTA signature is written only once it verifies offline with the trust root alone.

The signing stage comes before verification and does not import it (tests/test_import_graph.py): it takes the
check as an argument, and the public `qa_builder.sign_pdf` and `qa_builder.sign_file` pass the verifier's own
(`qa_builder.verify.pdf.offline_problems`). Real components: the session's TEST PKI with its loopback TSA and OCSP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import qa_builder as qa
from qa_builder.errors import SigningError
from qa_builder.signing import pades
from qa_builder.verify import pdf as verify_pdf

pytestmark = pytest.mark.libreoffice


def _request(pki: Any) -> pades.SignatureRequest:
    return pades.SignatureRequest(field="sig_sponsor_1", meaning="approval", certify=True, level="B-LT",
                                  tsa_url=pki.tsa_url, trust_roots=(pki.root_pem,))


def _key(pki: Any) -> qa.SigningKey:
    return qa.load_pkcs12_key(pki.p12("sponsor"), pki.passphrase())


def test_the_signing_stage_writes_nothing_its_offline_check_refuses(tmp_path: Path, minimal_build: Path,
                                                                     test_pki: Any) -> None:
    asked: list[tuple[str, tuple[Path, ...], bytes]] = []

    def refuse(data: bytes, field: str, trust_roots: tuple[Path, ...]) -> list[str]:
        asked.append((field, trust_roots, data[:5]))
        return ["INDETERMINATE [NO_POE]", "no revocation data"]

    out = tmp_path / "refused.pdf"
    with pytest.raises(SigningError, match=r"the new B-LT signature in 'sig_sponsor_1' does not verify offline with "
                                           r"the given root \(INDETERMINATE \[NO_POE\]; no revocation data\); "
                                           r"nothing was written"):
        pades.sign_pdf(minimal_build / "QA-MIN-1_v1.pdf", out, _request(test_pki), _key(test_pki),
                       offline_check=refuse)
    assert not out.exists()
    assert asked == [("sig_sponsor_1", (test_pki.root_pem,), b"%PDF-")]


def test_the_public_api_signs_only_what_the_verifier_passes_offline(tmp_path: Path, minimal_build: Path,
                                                                     test_pki: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    unsigned = minimal_build / "QA-MIN-1_v1.pdf"
    good = tmp_path / "good.pdf"
    outcome = qa.sign_pdf(unsigned, good, _request(test_pki), _key(test_pki))
    assert outcome.level == "B-LT" and good.is_file()

    verdicts: list[list[str]] = []
    real = verify_pdf.offline_problems

    def verifier_then_refuse(data: bytes, field: str, trust_roots: tuple[Path, ...]) -> list[str]:
        verdicts.append(real(data, field, trust_roots))  # the verifier's own verdict on the new signature
        return ["refused for this test"]

    monkeypatch.setattr(verify_pdf, "offline_problems", verifier_then_refuse)
    refused, filed = tmp_path / "refused.pdf", tmp_path / "filed.pdf"
    with pytest.raises(SigningError, match=r"does not verify offline .*\(refused for this test\)"):
        qa.sign_pdf(unsigned, refused, _request(test_pki), _key(test_pki))
    with pytest.raises(SigningError, match=r"does not verify offline .*\(refused for this test\)"):
        qa.sign_file(unsigned, filed, _request(test_pki), lambda: _key(test_pki))
    assert not refused.exists() and not filed.exists()
    assert verdicts == [[], []], "the verifier passed the real signatures: only the test's refusal stopped them"

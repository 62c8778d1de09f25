"""`qa-builder verify` against our own agreements, attacks on them, manifests, and other tools' signed PDFs."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import RawContent
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints

from qa_builder.builds.pipeline import BuildSettings, build_one
from qa_builder.library.loader import load_library
from qa_builder.render.docx import default_template_path
from qa_builder.signing.keys import load_pkcs12_key
from qa_builder.signing.manifest import write_signed_manifest
from qa_builder.signing.pades import SignatureRequest, sign_pdf
from qa_builder.verify.api import VerifySettings, verify
from qa_builder.verify.report import FileReport, SignatureReport, VerifyReport
from tests.conftest import MINI_LIBRARY, ROOT, CliResult, answers_data, run_cli, write_answers

pytestmark = pytest.mark.libreoffice

def _corpus() -> Path:
    """Other tools' signed PDFs: $QA_BUILDER_CORPUS, ../shared beside the clone, or /work/shared."""
    candidates = [Path(os.environ["QA_BUILDER_CORPUS"])] if os.environ.get("QA_BUILDER_CORPUS") else []
    candidates += [ROOT.parent / "shared" / "corpus" / "signed-pdfs", Path("/work/shared/corpus/signed-pdfs")]
    return next((c for c in candidates if c.is_dir()), candidates[0])


CORPUS = _corpus()


def _sign(pki: Any, source: Path, target: Path, field: str, signer: str, *, certify: bool = False,
          level: str = "B-B") -> None:
    request = SignatureRequest(field=field, meaning="approval", certify=certify, level=level,  # type: ignore[arg-type]
                               tsa_url=pki.tsa_url if level != "B-B" else None,
                               trust_roots=(pki.root_pem,) if level in ("B-LT", "B-LTA") else ())
    sign_pdf(source, target, request, load_pkcs12_key(pki.p12(signer), pki.passphrase()))


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory, signed_build: Path, test_pki: Any) -> Path:
    """A build signed by both parties (sponsor certifies B-LT, contract acceptor B-LTA) with a signed manifest."""
    out = tmp_path_factory.mktemp("verify") / "build"
    shutil.copytree(signed_build, out)  # built and signed once per session (tests/conftest.py)
    write_signed_manifest(out / "QA-MIN-1_v1.build.json", load_pkcs12_key(test_pki.p12("sponsor"),
                                                                          test_pki.passphrase()),
                          tsa_url=test_pki.tsa_url, trust_roots=(test_pki.root_pem,))  # carries its revocation data
    return out


@pytest.fixture(scope="module")
def signed(build_dir: Path) -> Path:
    return build_dir / "QA-MIN-1_v1.signed.pdf"


@pytest.fixture(scope="module")
def other_unsigned(tmp_path_factory: pytest.TempPathFactory, converter: Any) -> Path:
    """A different agreement (other title), unsigned."""
    out = tmp_path_factory.mktemp("other")
    data = answers_data()
    data["agreement"]["title"] = "Quality Agreement for a different product"
    build_one(write_answers(out, data), BuildSettings(out_dir=out, library=load_library(MINI_LIBRARY),
                                                      template=default_template_path()), converter)
    return out / "QA-MIN-1_v1.pdf"


def _verify(paths: list[Path], pki: Any | None = None, **options: Any) -> list[FileReport]:
    settings = VerifySettings(trust_roots=(pki.root_pem,) if pki else (), **options)
    return verify(paths, settings).results


def _only(path: Path, pki: Any | None = None, **options: Any) -> FileReport:
    return _verify([path], pki, **options)[0]


def _problems(result: FileReport) -> str:
    found = [result.error or ""]
    for entry in [*result.signatures, *result.doc_timestamps]:
        found += entry.problems
    return " ".join(found)


# -- our own agreements ----------------------------------------------------------------------------------------------

def test_own_agreement_passes_with_the_test_root(signed: Path, test_pki: Any) -> None:
    result = _only(signed, test_pki)
    assert (result.indication, result.sub_indication, result.error) == ("TOTAL-PASSED", None, None)
    sponsor, acceptor = result.signatures
    assert sponsor.field == "sig_sponsor_1" and acceptor.field == "sig_contract_acceptor_1"
    for entry in (sponsor, acceptor):
        assert entry.intact and entry.valid and entry.trusted and entry.revocation == "good"
        assert entry.level == "B-LTA" and entry.part11_manifestation and entry.docmdp_ok
        assert entry.timestamp_time and entry.timestamp_trusted and entry.claimed_time
        assert entry.stated_meaning and entry.stated_meaning.startswith("Approval")
        assert entry.problems == []
    assert sponsor.certification == "fill_forms" and acceptor.certification is None
    assert sponsor.modification == "form_filling" and acceptor.modification == "lta_updates"
    assert sponsor.coverage == "entire_revision"
    assert sponsor.signer_common_name == "Dr. Ilse Verhoeven" and "Norvale" in sponsor.signer_subject
    assert len(result.doc_timestamps) == 1 and result.doc_timestamps[0].indication == "TOTAL-PASSED"
    assert result.sha256 and len(result.sha256) == 64


def test_own_agreement_is_indeterminate_without_a_trust_root(signed: Path) -> None:
    result = _only(signed)
    assert (result.indication, result.sub_indication) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    assert all(not s.trusted and s.revocation == "not_checked" for s in result.signatures)
    assert "does not chain to a trusted root" in _problems(result)


def test_a_b_t_signature_has_unknown_revocation_offline_and_a_revoked_signer_is_caught_online(
        tmp_path: Path, build_dir: Path, test_pki: Any) -> None:
    plain = tmp_path / "b-t.pdf"
    _sign(test_pki, build_dir / "QA-MIN-1_v1.pdf", plain, "sig_sponsor_1", "sponsor", level="B-T")
    offline = _only(plain, test_pki).signatures[0]
    assert offline.level == "B-T" and offline.revocation == "unknown" and offline.indication == "INDETERMINATE"
    online = _only(plain, test_pki, online=True).signatures[0]
    assert (online.revocation, online.indication) == ("good", "TOTAL-PASSED")

    revoked = tmp_path / "revoked.pdf"
    _sign(test_pki, build_dir / "QA-MIN-1_v1.pdf", revoked, "sig_sponsor_1", "revoked", level="B-T")
    result = _only(revoked, test_pki, online=True)
    assert result.signatures[0].revocation == "revoked"
    assert result.indication in ("TOTAL-FAILED", "INDETERMINATE")
    assert result.sub_indication in ("REVOKED", "REVOKED_NO_POE")
    assert "revoked" in _problems(result)


@pytest.fixture(scope="module")
def levels(build_dir: Path, test_pki: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The unsigned agreement signed once (sponsor, certifying) at each PAdES level."""
    out = tmp_path_factory.mktemp("levels")
    signed_at: dict[str, Path] = {}
    for level in ("B-B", "B-T", "B-LT", "B-LTA"):
        signed_at[level] = out / f"{level}.pdf"
        _sign(test_pki, build_dir / "QA-MIN-1_v1.pdf", signed_at[level], "sig_sponsor_1", "sponsor", certify=True,
              level=level)
    return signed_at


def test_b_lt_verifies_offline_right_after_signing_and_b_b_b_t_need_revocation_data(
        levels: dict[str, Path], test_pki: Any) -> None:
    results = dict(zip(levels, _verify(list(levels.values()), test_pki, jobs=2), strict=True))
    for level in ("B-LT", "B-LTA"):
        result = results[level]
        assert (result.indication, result.sub_indication) == ("TOTAL-PASSED", None), (level, _problems(result))
        assert result.signatures[0].level == level and result.signatures[0].revocation == "good"
    for level in ("B-B", "B-T"):
        signature = results[level].signatures[0]
        # the chain is trusted, only the revocation status is missing from the file: ETSI's TRY_LATER
        assert (signature.indication, signature.sub_indication) == ("INDETERMINATE", "TRY_LATER"), level
        assert signature.trusted and signature.revocation == "unknown"
        assert "revocation status could not be established" in " ".join(signature.problems)


def test_sign_asks_the_verifier_before_writing_a_long_term_signature(levels: dict[str, Path],
                                                                      test_pki: Any) -> None:
    from qa_builder.verify.pdf import offline_problems

    assert offline_problems(levels["B-LT"].read_bytes(), "sig_sponsor_1", (test_pki.root_pem,)) == []
    problems = offline_problems(levels["B-T"].read_bytes(), "sig_sponsor_1", (test_pki.root_pem,))
    assert problems and problems[0] == "INDETERMINATE [TRY_LATER]"
    other_root = CORPUS / "pyhanko" / "trust" / "testing-ca_root_root.cert.pem"
    if other_root.is_file():
        assert offline_problems(levels["B-LT"].read_bytes(), "sig_sponsor_1", (other_root,))


def _later(test_pki: Any, when: str) -> Any:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    signer = test_pki.certificate("sponsor").not_after
    tsa = next(c for c in test_pki.certificates if c.role == "tsa").not_after
    return {"a day": now + dt.timedelta(days=1), "a year": now + dt.timedelta(days=365),
            "past the signer's expiry": signer + dt.timedelta(days=30),
            "past the TSA's expiry": tsa + dt.timedelta(days=30)}[when]


@pytest.mark.parametrize("when", ["a day", "a year", "past the signer's expiry"])
def test_long_term_agreements_stay_verifiable_offline_later(levels: dict[str, Path], signed: Path, test_pki: Any,
                                                            when: str) -> None:
    """Once the embedded OCSP responses (12 h) are stale and even after the signer's certificate expired, the
    signature is validated at the time its timestamps prove, with the embedded data."""
    at = _later(test_pki, when)
    results = _verify([levels["B-LT"], levels["B-LTA"], signed], test_pki, at=at, jobs=2)
    for result in results:
        assert (result.indication, result.sub_indication) == ("TOTAL-PASSED", None), (result.file, when,
                                                                                      _problems(result))
        assert all(signature.validation_time for signature in result.signatures)
        assert all(t.indication == "TOTAL-PASSED" for t in result.doc_timestamps)
    # without a document timestamp, only past validation at the signature timestamp's time can pass
    assert results[0].signatures[0].validation_time == results[0].signatures[0].timestamp_time
    b_t = _only(levels["B-T"], test_pki, at=at)
    assert b_t.indication == "INDETERMINATE"


def test_a_record_whose_timestamp_authorities_expired_is_no_longer_proven(levels: dict[str, Path],
                                                                         test_pki: Any) -> None:
    result = _only(levels["B-LT"], test_pki, at=_later(test_pki, "past the TSA's expiry"))
    assert (result.indication, result.sub_indication) == ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")
    assert "not valid (expired or not yet valid) at the validation time" in _problems(result)


def test_a_timestamp_that_is_not_trusted_says_why(levels: dict[str, Path], test_pki: Any) -> None:
    """An untrusted timestamp was "does not validate to a trusted timestamp authority" / "does not chain to a trusted
    root" (NO_CERTIFICATE_CHAIN_FOUND) also when its authority chains to the given root and only its revocation data
    is missing (B-T offline), or its certificate has expired (a document timestamp past the TSA's expiry)."""
    from qa_builder.verify.text import describe

    b_t = _only(levels["B-T"], test_pki)
    sentence = next(p for p in b_t.signatures[0].problems if p.startswith("The signature timestamp"))
    assert "chains to a trusted root, but the authority's revocation status could not be established" in sentence
    lta = _only(levels["B-LTA"], test_pki, at=_later(test_pki, "past the TSA's expiry"))
    stamp = lta.doc_timestamps[0]
    assert (stamp.indication, stamp.sub_indication) == ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")
    assert "certificate was not valid (expired)" in stamp.problems[0] and "--renew-archive-timestamp" in \
        stamp.problems[0]
    untrusted = _only(levels["B-T"])
    assert "does not chain to a trusted root" in " ".join(untrusted.signatures[0].problems)
    # the time `sign` printed and the stamp shows (/M) is the stated one; the token is taken a moment later, and the
    # report showed only the token's time, a second off what `sign` had printed
    signature = b_t.signatures[0].model_copy(update={"claimed_time": "2026-11-30T00:52:20Z",
                                                     "timestamp_time": "2026-11-30T00:52:21Z"})
    shown = "\n".join(describe(b_t.model_copy(update={"signatures": [signature]})))
    assert "signed 2026-11-30T00:52:20Z as stated, timestamped 2026-11-30T00:52:21Z (NOT trusted)" in shown, shown


def _rsa_signer(pki: Any, folder: Path) -> Path:
    """A PKCS#12 (passphrase the PKI's) for an RSA-2048 signer issued by the test PKI's issuing CA, with the same
    OCSP/CRL pointers as the PKI's own (EC P-256) signers."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
    from cryptography.x509.oid import NameOID

    issuer_key, issuer, chain = pki.load_key_and_certificates("intermediate-ca")
    template, *_rest = pki.load_key_and_certificates("sponsor")[1:2]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().issuer_name(issuer.subject).public_key(key.public_key())
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Dr. Rasmus Rivest (RSA)"),
                                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "qa-builder TEST ONLY")]))
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=365)))
    for extension in template.extensions:  # key usage, EKU, AIA (OCSP) and CRL distribution point of a real signer
        if not isinstance(extension.value, x509.SubjectKeyIdentifier | x509.AuthorityKeyIdentifier):
            builder = builder.add_extension(extension.value, extension.critical)
    certificate = builder.sign(issuer_key, hashes.SHA256())
    path = folder / "rsa-signer.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"rsa", key, certificate, [issuer, *chain],
                                                           BestAvailableEncryption(pki.passphrase())))
    return path


@pytest.mark.parametrize("algorithm", ["ECDSA P-256", "RSA-2048"])
def test_our_agreements_pass_at_every_level_with_rsa_and_ecdsa_keys(build_dir: Path, tmp_path: Path,
                                                                    test_pki: Any, algorithm: str) -> None:
    """B-LT/B-LTA offline with the root alone; B-B/B-T carry no revocation data, so they pass --online."""
    p12 = test_pki.p12("sponsor") if algorithm == "ECDSA P-256" else _rsa_signer(test_pki, tmp_path)
    key = load_pkcs12_key(p12, test_pki.passphrase())
    signed_at: dict[str, Path] = {}
    for level in ("B-B", "B-T", "B-LT", "B-LTA"):
        signed_at[level] = tmp_path / f"{level}.pdf"
        request = SignatureRequest(field="sig_sponsor_1", meaning="approval", certify=True, level=level,  # type: ignore[arg-type]
                                   tsa_url=test_pki.tsa_url if level != "B-B" else None,
                                   trust_roots=(test_pki.root_pem,) if level in ("B-LT", "B-LTA") else ())
        sign_pdf(build_dir / "QA-MIN-1_v1.pdf", signed_at[level], request, key)
    offline = _verify([signed_at["B-LT"], signed_at["B-LTA"]], test_pki, jobs=2)
    online = _verify([signed_at["B-B"], signed_at["B-T"]], test_pki, online=True, jobs=2)
    for result in (*offline, *online):
        assert (result.indication, result.sub_indication) == ("TOTAL-PASSED", None), (algorithm, result.file,
                                                                                      _problems(result))
    from pyhanko.pdf_utils.reader import PdfFileReader

    with signed_at["B-LTA"].open("rb") as handle:
        signer_key = PdfFileReader(handle).embedded_regular_signatures[0].signer_cert.public_key.algorithm
    assert signer_key == ("rsa" if algorithm.startswith("RSA") else "ec")


def _blank_a4_pdf() -> io.BytesIO:
    """A one-page PDF with nothing on its A4 page, to add fields and signatures to."""
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()
    writer.insert_page(generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Page"),
        generic.pdf_name("/MediaBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 595, 842)])}))
    blank = io.BytesIO()
    writer.write(blank)
    return blank


def test_a_field_lock_signature_is_not_called_a_certification(test_pki: Any, tmp_path: Path) -> None:
    """Three approval signatures; the second locks every field (FieldMDP /All) with a DocMDP value of 'fill
    forms' in its field's /Lock, as lock workflows from other tools do. Only a DocMDP transform certifies."""
    from pyhanko.sign import fields, signers

    blank = _blank_a4_pdf()
    with_fields = IncrementalPdfFileWriter(blank)
    lock = fields.FieldMDPSpec(fields.FieldMDPAction.ALL)
    for number, spec in enumerate((None, lock, None)):
        fields.append_signature_field(with_fields, fields.SigFieldSpec(
            f"Sig{number + 1}", on_page=0, box=(40 + 180 * number, 80, 200 + 180 * number, 150),
            field_mdp_spec=spec, doc_mdp_update_value=fields.MDPPerm.FILL_FORMS if spec else None))
    data = io.BytesIO()
    with_fields.write(data)
    key = load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase())
    for field in ("Sig1", "Sig2"):
        out = io.BytesIO()
        signers.PdfSigner(signers.PdfSignatureMetadata(field_name=field), signer=key.signer).sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(data.getvalue())), existing_fields_only=True, output=out)
        data = out
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(data.getvalue())
    result = _only(locked, test_pki)
    assert [s.field for s in result.signatures] == ["Sig1", "Sig2"]
    assert [s.certification for s in result.signatures] == [None, None]
    assert all(s.intact and s.valid for s in result.signatures)


# -- attacks on our own agreement ------------------------------------------------------------------------------------

def _byte_flip(signed: Path, target: Path) -> None:
    data = bytearray(signed.read_bytes())
    found = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)", bytes(data))
    assert found
    position = int(found.group(2)) // 2  # well inside the first signed range
    data[position] ^= 0x01
    target.write_bytes(bytes(data))


def _update(signed: Path, target: Path, change: Any) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(signed.read_bytes()))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    target.write_bytes(out.getvalue())


def _new_page_content(writer: IncrementalPdfFileWriter) -> None:
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    stream = RawContent(b"BT /F1 24 Tf 100 700 Td (Release by the CMO alone) Tj ET",
                        box=BoxConstraints(width=10, height=10))
    page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=stream.render()))
    writer.update_container(page)


def _rewrite_page_one_content(writer: IncrementalPdfFileWriter) -> generic.DictionaryObject:
    """Rewrite page 1's (first) content stream in place, same object number, in the update `writer` makes; returns
    the page."""
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    contents = page.raw_get("/Contents")
    content_ref = contents if isinstance(contents, generic.IndirectObject) else contents[0]
    stream = content_ref.get_object()
    stream.strip_filters()
    stream._data = b"BT /F1 24 Tf 100 700 Td (Release by the CMO alone) Tj ET"
    stream._encoded_data = None
    writer.mark_update(content_ref)
    return page


def _content_replaced_in_place_with_a_comment(writer: IncrementalPdfFileWriter) -> None:
    """Replace-style shadow attack: page 1's own content stream object is rewritten (same object number) in an
    update that also adds a permitted change (a comment), hoping the update passes as an annotation."""
    page = _rewrite_page_one_content(writer)
    note = writer.add_object(generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Annot"), generic.pdf_name("/Subtype"): generic.pdf_name("/Text"),
        generic.pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in (500, 780, 520, 800)]),
        generic.pdf_name("/Contents"): generic.TextStringObject("reviewed")}))
    annots = page.get("/Annots")
    if isinstance(annots, generic.ArrayObject):
        annots.append(note)
    else:
        page[generic.pdf_name("/Annots")] = generic.ArrayObject([note])
    writer.update_container(page)


def _added_page(writer: IncrementalPdfFileWriter) -> None:
    page = generic.DictionaryObject({generic.pdf_name("/Type"): generic.pdf_name("/Page"),
                                     generic.pdf_name("/MediaBox"): generic.ArrayObject(
                                         [generic.NumberObject(v) for v in (0, 0, 595, 842)])})
    writer.insert_page(page)


def _removed_page(writer: IncrementalPdfFileWriter) -> None:
    pages = writer.root["/Pages"]
    kids = pages["/Kids"]
    del kids[1]
    pages["/Count"] = generic.NumberObject(len(kids))
    writer.update_container(pages)
    writer.update_container(kids) if isinstance(pages.raw_get("/Kids"), generic.IndirectObject) else None


def _replaced_reason(writer: IncrementalPdfFileWriter) -> None:
    for field_ref in writer.root["/AcroForm"]["/Fields"]:
        field = field_ref.get_object()
        if field.get("/T") == "sig_contract_acceptor_1":
            signature = field["/V"]
            signature["/Reason"] = generic.TextStringObject("Rejected: not approved by the CMO")
            writer.update_container(signature)


def _stripped_signatures(writer: IncrementalPdfFileWriter) -> None:
    """Empty the form's field list (the signed widgets, signature objects and DocMDP stay) and change a page."""
    form = writer.root["/AcroForm"]
    form["/Fields"] = generic.ArrayObject()
    writer.update_container(form)
    _new_page_content(writer)


ATTACKS = {
    "page content changed": (_new_page_content, "FORMAT_FAILURE", "changed after signing in a way"),
    "page content replaced in place beside a comment": (_content_replaced_in_place_with_a_comment,
                                                        "FORMAT_FAILURE", "on page 1"),
    "page added": (_added_page, "FORMAT_FAILURE", "changed after signing in a way"),
    "page removed": (_removed_page, "FORMAT_FAILURE", "changed after signing in a way"),
    "reason replaced": (_replaced_reason, None, ""),
    "signatures stripped from the form": (_stripped_signatures, "FORMAT_FAILURE",
                                          "signatures present in an earlier revision were removed"),
}


def test_a_flipped_byte_inside_a_signed_range_is_a_hash_failure(signed: Path, tmp_path: Path, test_pki: Any) -> None:
    target = tmp_path / "flipped.pdf"
    _byte_flip(signed, target)
    result = _only(target, test_pki)
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "HASH_FAILURE")
    assert "digest mismatch" in _problems(result)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_incremental_updates_after_signing_fail(signed: Path, tmp_path: Path, test_pki: Any, attack: str) -> None:
    change, sub, words = ATTACKS[attack]
    target = tmp_path / "attacked.pdf"
    _update(signed, target, change)
    result = _only(target, test_pki)
    assert result.indication == "TOTAL-FAILED", (attack, result)
    if sub:
        assert result.sub_indication == sub
    assert words in _problems(result)
    assert _problems(result).strip(), "a failure must say what is wrong"


def test_page_content_replaced_in_the_update_that_fills_the_next_signature_field_fails(
        levels: dict[str, Path], tmp_path: Path, test_pki: Any) -> None:
    """Issue 15's replace-style shadow attack on our own agreement: page 1's content stream is rewritten in place in
    the same revision in which the contract acceptor fills (signs) the next field, which the certification allows."""
    from pyhanko.sign import signers

    writer = IncrementalPdfFileWriter(io.BytesIO(levels["B-LT"].read_bytes()))
    _rewrite_page_one_content(writer)
    key = load_pkcs12_key(test_pki.p12("contract-acceptor"), test_pki.passphrase())
    out = io.BytesIO()
    signers.PdfSigner(signers.PdfSignatureMetadata(field_name="sig_contract_acceptor_1"), signer=key.signer).sign_pdf(
        writer, existing_fields_only=True, output=out)
    target = tmp_path / "shadow.pdf"
    target.write_bytes(out.getvalue())
    result = _only(target, test_pki)
    sponsor = next(s for s in result.signatures if s.field == "sig_sponsor_1")
    assert (sponsor.indication, sponsor.sub_indication) == ("TOTAL-FAILED", "FORMAT_FAILURE"), sponsor.problems
    assert "rewritten on page 1" in " ".join(sponsor.problems) and "signature_added" in sponsor.modification_classes
    assert result.indication == "TOTAL-FAILED"


def test_a_signature_copied_into_another_document_fails(signed: Path, other_unsigned: Path, tmp_path: Path,
                                                        test_pki: Any) -> None:
    victim = tmp_path / "victim.pdf"
    _sign(test_pki, other_unsigned, victim, "sig_sponsor_1", "contract-acceptor", certify=True, level="B-LT")
    stolen = _contents(signed.read_bytes())[0]
    data = victim.read_bytes()
    start, end = _content_span(data)
    assert len(stolen) <= end - start
    forged = data[:start] + stolen.ljust(end - start, b"0") + data[end:]
    target = tmp_path / "copied.pdf"
    target.write_bytes(forged)
    result = _only(target, test_pki)
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "HASH_FAILURE")


def _raw_update(data: bytes, object_id: int, body: bytes) -> bytes:
    """Append a hand-written incremental update that replaces object `object_id` with `body`."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data))
    trailer = reader.trailer
    previous = int(data[data.rindex(b"startxref") + 9:].split()[0])
    offset = len(data) + 1
    update = b"\n" + f"{object_id} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(data) + len(update)
    root = trailer.raw_get("/Root")
    update += (f"xref\n{object_id} 1\n{offset:010d} 00000 n \ntrailer\n<< /Size {trailer['/Size']} "
               f"/Root {root.idnum} {root.generation} R /Prev {previous} >>\nstartxref\n{xref_at}\n%%EOF\n").encode()
    return data + update


def _signature_object_id(data: bytes, field: str) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data))
    for field_ref in reader.root["/AcroForm"]["/Fields"]:
        if field_ref.get_object().get("/T") == field:
            return int(field_ref.get_object().raw_get("/V").idnum)
    raise AssertionError(field)


def test_damaging_unsigned_bytes_of_a_forged_file_never_softens_its_failure(signed: Path, tmp_path: Path,
                                                                          test_pki: Any) -> None:
    forged = tmp_path / "forged.pdf"
    _update(signed, forged, _new_page_content)
    assert _only(forged, test_pki).indication == "TOTAL-FAILED"
    data = forged.read_bytes()
    # one broken hex digit in the (unsigned) /Contents of the last signature
    start = _signature_contents(data)[-1].start(1)
    broken = tmp_path / "broken-contents.pdf"
    broken.write_bytes(data[:start + 10] + b"G" + data[start + 11:])
    # the acceptor's signature dictionary replaced by one nested 50,000 levels deep
    nested = tmp_path / "nested.pdf"
    body = b"<< /Type /Sig /Filter /Adobe.PPKLite /Deep " + b"[" * 50000 + b"]" * 50000 + b" >>"
    nested.write_bytes(_raw_update(data, _signature_object_id(data, "sig_contract_acceptor_1"), body))
    for damaged in (broken, nested):
        result = _only(damaged, test_pki)
        assert result.indication == "TOTAL-FAILED", (damaged.name, result.sub_indication, _problems(result))
        assert result.error is None or "could not be verified" not in result.error


def test_legacy_sha1_formats_are_checked_and_a_change_is_proven(tmp_path: Path) -> None:
    sample = CORPUS / "bughunt" / "verifypdf_sample09.notSupported.pdf"
    if not sample.is_file():
        pytest.skip("the shared corpus of signed PDFs is not present")
    sound = _only(sample).signatures[0]
    assert (sound.indication, sound.sub_indication) == ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE")
    assert sound.intact is True and sound.valid is True and sound.signer_common_name == "Alice"
    data = bytearray(sample.read_bytes())
    found = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)", bytes(data))
    assert found
    data[int(found.group(2)) // 2] ^= 0x01
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    changed = _only(tampered).signatures[0]
    assert (changed.indication, changed.sub_indication, changed.intact) == ("TOTAL-FAILED", "HASH_FAILURE", False)


def _signature_contents(data: bytes) -> list[re.Match[bytes]]:
    """The /Contents of signature dictionaries: long hex strings (annotations' /Contents are short texts)."""
    return [found for found in re.finditer(rb"/Contents\s*<([0-9a-fA-F]+)>", data) if len(found.group(1)) > 2000]


def _contents(data: bytes) -> list[bytes]:
    return [found.group(1).rstrip(b"0") for found in _signature_contents(data)]


def _content_span(data: bytes) -> tuple[int, int]:
    found = _signature_contents(data)[0]
    return found.start(1), found.end(1)


def test_damaged_and_foreign_files_give_results_and_never_stop_the_others(
        signed: Path, tmp_path: Path, test_pki: Any) -> None:
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(signed.read_bytes()[: len(signed.read_bytes()) // 3])
    text = tmp_path / "notes.pdf"
    text.write_text("not a PDF at all\n")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    unsigned = signed.parent / "QA-MIN-1_v1.pdf"
    paths = [truncated, text, signed, empty, unsigned]
    results = _verify(paths, test_pki, jobs=2)
    assert [r.file for r in results] == [str(p) for p in paths]
    by_name = {Path(r.file).name: r for r in results}
    assert by_name["QA-MIN-1_v1.signed.pdf"].indication == "TOTAL-PASSED"
    assert by_name["notes.pdf"].indication == "TOTAL-FAILED" and "not a PDF" in (by_name["notes.pdf"].error or "")
    assert by_name["empty.pdf"].indication == "TOTAL-FAILED"
    assert by_name["truncated.pdf"].indication == "TOTAL-FAILED" and by_name["truncated.pdf"].error
    assert by_name["QA-MIN-1_v1.pdf"].error == "has no signatures"


def test_each_file_is_bounded_in_time_and_memory(signed: Path, tmp_path: Path, test_pki: Any) -> None:
    slow = _only(signed, test_pki, timeout_s=0.05)
    assert slow.indication == "INDETERMINATE" and "took longer than 0.05 s" in (slow.error or "")
    # A file far larger than the allowance (a 40 MB tail after %%EOF) must be read into fresh memory.
    bloated = tmp_path / "bloated.pdf"
    bloated.write_bytes(signed.read_bytes() + b"%" + b"x" * (40 << 20) + b"\n")
    hungry = _only(bloated, test_pki, memory_mb=16)
    assert hungry.indication == "INDETERMINATE" and hungry.error
    assert "needs more than 16 MiB" in hungry.error or "stopped the verifier" in hungry.error
    # the workers that were killed were replaced: a normal run still works
    assert _only(signed, test_pki).indication == "TOTAL-PASSED"


def test_document_timestamps_alone_are_not_signatures(build_dir: Path, tmp_path: Path, test_pki: Any) -> None:
    from pyhanko.sign.signers import PdfTimeStamper
    from pyhanko.sign.timestamps import HTTPTimeStamper

    writer = IncrementalPdfFileWriter(io.BytesIO((build_dir / "QA-MIN-1_v1.pdf").read_bytes()))
    out = io.BytesIO()
    PdfTimeStamper(HTTPTimeStamper(test_pki.tsa_url)).timestamp_pdf(writer, "sha256", output=out)
    stamped = tmp_path / "timestamped.pdf"
    stamped.write_bytes(out.getvalue())
    result = _only(stamped, test_pki)
    assert (result.indication, result.error) == ("INDETERMINATE", "has no signatures (only document timestamps)")
    assert len(result.doc_timestamps) == 1


def test_text_from_the_file_cannot_forge_report_lines() -> None:
    from qa_builder.verify.text import describe

    forged = SignatureReport(
        field="sig\n  2. fake: PASSED", signer_subject="", signer_common_name="X", stated_name="Eve\x1b[32m",
        stated_meaning="Approval\u202e", claimed_time=None, timestamp_time=None, timestamp_trusted=None,
        intact=True, valid=True, trusted=False, revocation="not_checked", coverage="entire_file",
        modification="none", docmdp_ok=True, certification=None, level="B-B", part11_manifestation=False,
        indication="INDETERMINATE", sub_indication="NO_CERTIFICATE_CHAIN_FOUND", problems=[])
    report = FileReport(file="x.pdf", sha256=None, kind="pdf", indication="INDETERMINATE", sub_indication=None,
                        error=None, signatures=[forged], doc_timestamps=[])
    lines = describe(report)
    assert not any("\n" in line or "\x1b" in line or "\u202e" in line for line in lines)
    assert "sig\\u000a  2. fake: PASSED" in lines[1]


# -- manifests -------------------------------------------------------------------------------------------------------

def test_manifest_verifies_and_names_a_swapped_artefact(build_dir: Path, tmp_path: Path, test_pki: Any) -> None:
    manifest = build_dir / "QA-MIN-1_v1.manifest.json"
    for given in (manifest, build_dir / "QA-MIN-1_v1.manifest.json.p7s"):
        result = _only(given, test_pki)
        assert (result.kind, result.indication) == ("manifest", "TOTAL-PASSED")
        assert result.artefacts and all(a.present and a.sha256_ok and a.size_ok for a in result.artefacts)
        assert result.signatures[0].timestamp_trusted
    assert _only(manifest).indication == "INDETERMINATE"

    copy = tmp_path / "copy"
    shutil.copytree(build_dir, copy)
    (copy / "QA-MIN-1_v1.docx").write_bytes(b"PK\x03\x04 another document")
    result = _only(copy / "QA-MIN-1_v1.manifest.json", test_pki)
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "HASH_FAILURE")
    docx = next(a for a in result.artefacts if a.file == "QA-MIN-1_v1.docx")
    assert docx.present and not docx.sha256_ok

    edited = json.loads((copy / "QA-MIN-1_v1.manifest.json").read_text())
    edited["agreement_version"] = 2
    (copy / "QA-MIN-1_v1.manifest.json").write_text(json.dumps(edited))
    result = _only(copy / "QA-MIN-1_v1.manifest.json", test_pki)
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "HASH_FAILURE")
    assert "changed after it was signed" in _problems(result)


@pytest.mark.parametrize("replacement", ["fifo", "sparse"])
def test_an_artefact_replaced_by_a_fifo_or_a_huge_file_fails_at_once_for_what_it_is(
        build_dir: Path, tmp_path: Path, test_pki: Any, replacement: str) -> None:
    """Attack round 9: a listed file replaced by a FIFO was "not beside" the manifest (it was, as a FIFO); one
    replaced by a 20 GB sparse file was hashed in full (41 s) although its size already differed."""
    import time

    copy = tmp_path / "copy"
    shutil.copytree(build_dir, copy)
    target = copy / "QA-MIN-1_v1.pdf"
    target.unlink()
    if replacement == "fifo":
        os.mkfifo(target)
    else:
        with target.open("wb") as handle:
            handle.truncate(20 * 2**30)
    started = time.monotonic()
    result = _only(copy / "QA-MIN-1_v1.manifest.json", test_pki)
    assert time.monotonic() - started < 30
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "HASH_FAILURE")
    pdf = next(a for a in result.artefacts if a.file == "QA-MIN-1_v1.pdf")
    assert pdf.present and not pdf.size_ok and not pdf.sha256_ok
    from qa_builder.verify.manifest import artefact_problems

    assert "QA-MIN-1_v1.pdf differs from the manifest" in " ".join(artefact_problems(result))


def test_a_manifest_whose_revocation_cannot_be_checked_is_not_passed(build_dir: Path, tmp_path: Path,
                                                                       test_pki: Any) -> None:
    """A manifest signed by a revoked certificate verified offline "revocation not checked; PASSED", where a B-B PDF
    signature is INDETERMINATE / TRY_LATER. Signing with --trust refuses the revoked certificate; without it, the
    signature carries no revocation data and offline verification says it could not be checked."""
    copy = tmp_path / "copy"
    shutil.copytree(build_dir, copy)
    record = copy / "QA-MIN-1_v1.build.json"
    key = ("--key", str(test_pki.p12("revoked")), "--passphrase-file", str(test_pki.passphrase_file), "--force")
    refused = run_cli("manifest", str(record), *key, "--trust", str(test_pki.root_pem))
    assert refused.returncode == 2 and "is revoked" in refused.stderr and "must not sign" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert json.loads((copy / "QA-MIN-1_v1.manifest.json").read_text())["created_at"] == json.loads(
        (build_dir / "QA-MIN-1_v1.manifest.json").read_text())["created_at"]  # nothing was replaced
    assert run_cli("manifest", str(record), *key).returncode == 0  # no trust root: no revocation check, as `sign`
    offline = _cli(str(copy / "QA-MIN-1_v1.manifest.json"), "--trust", str(test_pki.root_pem))
    assert offline.returncode == 3, offline.stdout
    assert "INDETERMINATE (could not be confirmed) [TRY_LATER]" in offline.stdout and "PASSED" not in offline.stdout
    assert "carries no revocation data" in offline.stdout
    online = _only(copy / "QA-MIN-1_v1.manifest.json", test_pki, online=True)
    assert (online.indication, online.sub_indication, online.signatures[0].revocation) == (
        "TOTAL-FAILED", "REVOKED", "revoked")
    carried = _only(build_dir / "QA-MIN-1_v1.manifest.json", test_pki)  # signed with --trust: checked offline
    assert (carried.indication, carried.signatures[0].revocation) == ("TOTAL-PASSED", "good")


def test_a_signed_manifest_is_verified_as_it_will_be_later(build_dir: Path, test_pki: Any) -> None:
    """Past the signer's certificate expiry the manifest was "does not chain to a trusted root (pass the issuing
    root with --trust)" with the root given; its trusted timestamp proves it was signed while the certificate was
    valid (ETSI EN 319 102-1 past-signature validation). Past the TSA's expiry nothing proves that any more."""
    from qa_builder.verify.text import describe

    manifest = build_dir / "QA-MIN-1_v1.manifest.json"
    later = _only(manifest, test_pki, at=_later(test_pki, "past the signer's expiry"))
    assert (later.indication, later.sub_indication) == ("TOTAL-PASSED", None), _problems(later)
    signature = later.signatures[0]
    assert signature.validation_time == signature.timestamp_time
    assert "validated as of" in "\n".join(describe(later)) and "embedded in the file" not in "\n".join(describe(later))
    expired = _only(manifest, test_pki, at=_later(test_pki, "past the TSA's expiry"))
    assert (expired.indication, expired.sub_indication) == ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")
    assert "--trust" not in _problems(expired) and "no longer proves when the manifest was signed" in \
        _problems(expired)


# -- the command -----------------------------------------------------------------------------------------------------

def _cli(*args: str) -> CliResult:
    return run_cli("verify", *args)


def test_cli_json_document_and_exit_codes(build_dir: Path, signed: Path, tmp_path: Path, test_pki: Any) -> None:
    passed = _cli(str(signed), str(build_dir / "QA-MIN-1_v1.manifest.json"), "--trust", str(test_pki.root_pem),
                  "--json")
    assert passed.returncode == 0, passed.stderr
    document = VerifyReport.model_validate_json(passed.stdout)
    assert [r.kind for r in document.results] == ["pdf", "manifest"]
    assert set(json.loads(passed.stdout)["results"][0]["signatures"][0]) == set(SignatureReport.model_fields)

    assert _cli(str(signed)).returncode == 3
    flipped = tmp_path / "flipped.pdf"
    _byte_flip(signed, flipped)
    failed = _cli(str(signed), str(flipped), "--trust", str(test_pki.root_pem))
    assert failed.returncode == 1
    assert "FAILED [HASH_FAILURE]" in failed.stdout and "Dr. Ilse Verhoeven" in failed.stdout
    assert "Traceback" not in failed.stderr

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n")
    bad_root = _cli(str(signed), "--trust", str(garbage))
    assert bad_root.returncode == 2 and "garbage.pem" in bad_root.stderr and "Traceback" not in bad_root.stderr
    usage = _cli(str(signed), "--at", "yesterday")
    assert usage.returncode == 2 and "ISO-8601" in usage.stderr


def test_one_bad_path_gets_its_own_line_and_the_others_are_verified(signed: Path, tmp_path: Path,
                                                                    test_pki: Any) -> None:
    loop = tmp_path / "loop.pdf"
    loop.symlink_to(tmp_path / "loop.pdf")
    folder = tmp_path / "dir.pdf"
    folder.mkdir()
    gone = tmp_path / "gone.pdf"  # named by the shell, deleted before it was read
    done = _cli(str(signed), str(loop), str(folder), str(gone), "--trust", str(test_pki.root_pem))
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert f"{signed}: PASSED" in lines
    for path, why in ((loop, "symlink loop"), (folder, "it is a directory"), (gone, "no such file")):
        at = lines.index(f"{path}: INDETERMINATE (could not be confirmed)")
        assert lines[at + 1].startswith(f"  The file cannot be read: {why}"), lines[at + 1]


def test_readme_documents_every_json_field() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Verification report (JSON)", 1)[1].split("\n## ", 1)[0]
    for model in (SignatureReport, FileReport):
        for name in model.model_fields:
            assert f"`{name}`" in section, f"README does not document {model.__name__}.{name}"


# -- other tools' signed PDFs ----------------------------------------------------------------------------------------

# file → (indication, sub-indication, why). DSS files are validated now without trust roots (their test CAs are not
# shipped); pyHanko's at 2020-11-01 (inside its test signers' validity) with pyHanko's test root trusted.
DSS_EXPECTED: dict[str, tuple[str, str | None, str]] = {
    "AD-RB.pdf": ("INDETERMINATE", "GENERIC",
                  "one signature uses the Brazilian SubFilter PBAD.PAdES, which is not validated; its CMS digest and "
                  "signature value are sound, so nothing is proven wrong (was TOTAL-FAILED before issue 15 item 7)"),
    "BadEncodedCMS.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE",
                          "signed with SHA-1 (ECDSA), which the policy refuses before the CMS's non-DER encoding "
                          "matters"),
    "DSS-3577.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                     "after an ANNOTATE (P=3) certification a text field was filled and the form's default resources "
                     "got its font: form filling, which P=3 permits; CA not trusted (was TOTAL-FAILED from pyHanko's "
                     "difference analysis before issue 15 item 8)"),
    "PAdES-LT.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                     "DSS's own LT sample: later revisions only add signatures, a document timestamp, DSS data and "
                     "their fonts in the form's /DR, all permitted; CA not trusted (pyHanko's analysis could not "
                     "explain the /DR update, so it was TOTAL-FAILED before issue 15 item 8)"),
    "Signature-P-HU_MIC-1.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; its CA is not trusted"),
    "Test.signed_Certipost-2048-SHA512.extended-LTA.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                                                           "valid LTA; its CA is not trusted"),
    "adbe_ocsp_signed.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; its CA is not trusted"),
    "belgian_pki_multiple_ocsps_lt.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; CA not trusted"),
    "doc-firmado-LT.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; its CA is not trusted"),
    "dss-1188_Test.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", "signed with SHA-1"),
    "dss-2236_annotation-and-visible-change.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "visible change after signing"),
    "dss-2236_hide.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "a stream without endstream: the file is malformed"),
    "dss-2236_replace.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE",
                             "replace-kind shadow attack: the signed field showed 'World Health Organisation' over "
                             "its hidden value 'Attacker'; the update only redoes its appearance (structurally form "
                             "filling), and the rendered page 1 now shows 'Attacker' in that field (issue 15 item 9)"),
    "dss-2554_certified-changes-permitted.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "CA not trusted"),
    "dss-2554_certified-no-change-permitted.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                                                   "CA not trusted"),
    "dss-PLAIN-ECDSA_TeleSec_PKS_eIDAS_QES_CA_1-baseline-b.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                                                                 "a plain r||s ECDSA value (BSI TR-03111, "
                                                                 "brainpoolP256r1) that pyHanko cannot check, now "
                                                                 "checked by qa-builder: digest and value sound; "
                                                                 "TeleSec CA not trusted (was TOTAL-FAILED)"),
    "encrypted.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                      "encrypted without a user password: opened and verified; CA not trusted"),
    "hello_signed_INCSAVE_signed.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", "signed with SHA-1"),
    "hello_signed_INCSAVE_signed_EDITED.pdf": ("TOTAL-FAILED", "HASH_FAILURE", "signed bytes edited"),
    "muestra-firmado-firmado.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; CA not trusted"),
    "pades-5-signatures-and-1-document-timestamp.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE",
                                                        "its startxref points before the xref table; poppler "
                                                        "has to reconstruct it too"),
    "pades-bes-no-certificates.pdf": ("INDETERMINATE", "NO_SIGNING_CERTIFICATE_FOUND",
                                      "the CMS carries no certificates"),
    "pades-lta-copied-doctst.pdf": ("TOTAL-FAILED", "HASH_FAILURE",
                                    "a document timestamp copied from elsewhere: its imprint does not match the "
                                    "revision it claims to cover (was FORMAT_FAILURE from pyHanko's analysis of a "
                                    "dangling trailer reference)"),
    "pades-ltv.pdf": ("INDETERMINATE", "GENERIC",
                      "the only 'missing object' is LibreOffice's trailer key /AdditionalStreams naming the next "
                      "object number, which nothing in the document uses (inert); later revisions add a document "
                      "timestamp and DSS data; pyHanko's validator then fails (AttributeError), which is not the "
                      "file's fault (issue 15 item 7)"),
    "pades-signed-annot-added.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                                     "two FreeText annotations (and their named appearances) added after an "
                                     "approval signature: accepted with the change listed, as DSS does; CA not "
                                     "trusted"),
    "pades-signed-filled-form.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                                     "three fields filled after an approval signature (a list box's /I selection "
                                     "included): accepted with the change listed, as DSS does; CA not trusted"),
    "pades-spoofing-replaced-reason.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "/Reason replaced after signing"),
    "pades-t-level-extended.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; CA not trusted"),
    "pades-two-sig-copied-tst.pdf": ("TOTAL-FAILED", "HASH_FAILURE",
                                     "the second signature carries the first one's timestamp token"),
    "pades-unsupported-signature-algorithm.pdf": ("TOTAL-FAILED", "SIG_CRYPTO_FAILURE", "unsupported algorithm"),
    "pdf-byterange-overlap.pdf": ("TOTAL-FAILED", "HASH_FAILURE", "overlapping byte ranges"),
    "pdf-removed-pages.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "pages removed after signing"),
    "pdf-signed-added-page.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "page added after signing"),
    "pdf-signed-corrupted.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "corrupted object: not parseable"),
    "pdf-signed-original.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; CA not trusted"),
    "pdf-signed-out-of-byteRange.pdf": ("TOTAL-FAILED", "HASH_FAILURE", "byte range outside the file"),
    "pdf-spoofing-attack.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "malformed /Encrypt entry: not parseable"),
    "pkcs7-no-message-digest.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", "SHA-1"),
    "pkcs7_sha1.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE",
                       "adbe.pkcs7.sha1 now checked: digest and signature value sound, SHA-1 refused by policy (was "
                       "TOTAL-FAILED 'not validated' before issue 15 item 6)"),
    "self-issued-qesig.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "self-issued; not trusted"),
    "timestamped_and_signed.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; CA not trusted"),
    "wrong-digest-algo.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE",
                              "adbe.pkcs7.sha1 whose CMS names sha1WithRSAEncryption as its digest algorithm: "
                              "malformed; a document timestamp after it also reports changes no signature allows"),
}

PYHANKO_EXPECTED: dict[str, tuple[str, str | None, str]] = {
    "certified-with-indirect-refs-in-dir.pdf": ("INDETERMINATE", "TRY_LATER",
                                                "trusted, but no revocation data is embedded (B-B)"),
    "coverage-anomalies_one-byterange.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "does not cover a revision"),
    "coverage-anomalies_signature-gap-too-big.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "gap larger than /Contents"),
    "coverage-anomalies_tail-uncovered.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "file tail not covered"),
    "coverage-anomalies_weird-byterange.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "odd byte range"),
    "ed448-disallowed-hash.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", "Ed448 with a disallowed hash"),
    "form-update-ap-indirect-sneaky-trailer.pdf": ("INDETERMINATE", "TRY_LATER",
                                                   "signing gives the field a new appearance; the old appearance "
                                                   "dictionary that the trailer's inert /FooBar also names is not "
                                                   "rewritten, so nothing else changes (pyHanko rejects it by "
                                                   "heuristic); no revocation data"),
    "form-update-original-ap-type-wrong.pdf": ("INDETERMINATE", "TRY_LATER",
                                               "allowed form update; no revocation data"),
    "form-update-override-appearance-stream-sneaky.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE",
                                                          "appearance overridden sneakily"),
    "form-update-override-appearance-stream.pdf": ("INDETERMINATE", "TRY_LATER",
                                                   "allowed update; no revocation data"),
    "minimal-hybrid-xref.pdf": ("INDETERMINATE", None, "no signatures"),
    "minimal-signed-twice-both-created.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                                              "a self-signed test signer, not trusted (was CHAIN_CONSTRAINTS_FAILURE "
                                              "'key usage' before issue 15 item 10)"),
    "minimal-signed-twice-second-created.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "self-signed"),
    "minimal-two-fields-signed-twice.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "self-signed"),
    "pades-lta-dss-indirect-arrs-test.pdf": ("TOTAL-PASSED", None, "B-LTA with embedded revocation data"),
    "pades-with-old-style-signing-cert-attr.pdf": ("INDETERMINATE", "TRY_LATER",
                                                   "no revocation data"),
    "pdf-sig-with-econtent.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "encapsulated content in a detached signature"),
    "sig-no-signed-attrs.pdf": ("INDETERMINATE", "TRY_LATER", "no revocation data"),
    "sig-with-ski-sid.pdf": ("INDETERMINATE", "TRY_LATER", "no revocation data"),
}


# bughunt/: real files from other signing tools (SOURCES.md), validated now without trust roots.
SELF_SIGNED = "valid; its signer's certificate is self-signed, not trusted"
SHA1 = "signed with SHA-1, refused by policy before the chain matters"
BUGHUNT_EXPECTED: dict[str, tuple[str, str | None, str]] = {
    "endesive_pdf-acrobat.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", SELF_SIGNED),
    "endesive_pdf-linearized.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", SHA1),
    "endesive_test-signed-cms-hsm-Google.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                                                SELF_SIGNED + " (was CHAIN_CONSTRAINTS_FAILURE)"),
    "jsignpdf_service-agreeement_signed.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", SHA1),
    "nodesignpdf_incrementally_signed.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", SELF_SIGNED),
    "nodesignpdf_issue-209-reason-includes-trailer-word.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                                                               SELF_SIGNED + "; 'trailer' in /Reason is harmless"),
    "nodesignpdf_signed-twice.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", SELF_SIGNED + ", both"),
    "nodesignpdf_with-placeholder.pdf": ("INDETERMINATE", None,
                                         "only an unsigned placeholder (/Contents all zeros): no signatures (was "
                                         "TOTAL-FAILED 'signature data cannot be read')"),
    "pdfsign_aatl-datasheet.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                                   "its signer's root (AATL) is not given; the embedded chain ends self-signed"),
    "pdfsign_hello_hsm.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", SELF_SIGNED),
    "pdfsign_multi.pdf": ("TOTAL-FAILED", "SIG_CRYPTO_FAILURE",
                          "the 2011 signature's value does not verify (pdfsig agrees: 'Signature is Invalid')"),
    "pdfsign_sigmodified.pdf": ("TOTAL-FAILED", "HASH_FAILURE", "signed bytes changed after signing"),
    "pdfsign_testfile30.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", SHA1),
    "verifypdf_25-certificado-firmado.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", SELF_SIGNED),
    "verifypdf_blank_signed.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", SHA1),
    "verifypdf_bytes-added.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE",
                                  "bytes appended outside any revision: the signature does not cover the file"),
    "verifypdf_pdf_digital_signature_timestamp.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", SHA1),
    "verifypdf_sample06.notSupported.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE",
                                            "three adbe.x509.rsa_sha1 signatures, now checked: digests and RSA values "
                                            "sound, signer Alice from /Cert; SHA-1 refused by policy (was TOTAL-FAILED "
                                            "'unknown signer, not intact')"),
    "verifypdf_sample09.notSupported.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE",
                                            "adbe.x509.rsa_sha1, checked and sound; SHA-1 refused by policy"),
    "verifypdf_sample10.notSupported.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE",
                                            "adbe.x509.rsa_sha1, checked and sound; SHA-1 refused by policy"),
    "verifypdf_samplecertifiedpdf.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", SHA1),
    "verifypdf_signed-twice.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", SELF_SIGNED + ", both"),
}


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus of signed PDFs is not present")
def test_every_corpus_file_gets_its_explained_result() -> None:
    dss = sorted((CORPUS / "dss").glob("*.pdf"))
    pyhanko = sorted((CORPUS / "pyhanko").glob("*.pdf"))
    bughunt = sorted((CORPUS / "bughunt").glob("*.pdf"))
    assert {p.name for p in dss} == set(DSS_EXPECTED) and {p.name for p in pyhanko} == set(PYHANKO_EXPECTED)
    assert {p.name for p in bughunt} == set(BUGHUNT_EXPECTED)
    import datetime as dt

    got = {Path(r.file).name: r for r in _verify([*dss, *bughunt], jobs=2)}
    roots = (CORPUS / "pyhanko" / "trust" / "testing-ca_root_root.cert.pem",)
    settings = VerifySettings(trust_roots=roots, at=dt.datetime(2020, 11, 1, tzinfo=dt.UTC), jobs=2)
    got |= {Path(r.file).name: r for r in verify(pyhanko, settings).results}
    wrong = []
    for name, (indication, sub, why) in {**DSS_EXPECTED, **PYHANKO_EXPECTED, **BUGHUNT_EXPECTED}.items():
        result = got[name]
        if (result.indication, result.sub_indication) != (indication, sub):
            wrong.append(f"{name}: expected {indication}/{sub} ({why}), got {result.indication}/"
                         f"{result.sub_indication}: {_problems(result)[:200]}")
        elif result.indication != "TOTAL-PASSED":
            assert _problems(result).strip(), f"{name}: no sentence says why"
        assert "Traceback" not in _problems(result) and "could not be verified" not in (result.error or ""), name
    assert not wrong, "\n".join(wrong)


def test_a_timeout_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    """Found by the third attack session: `--timeout nan` passed the 1-3600 range check."""
    from click.testing import CliRunner

    from qa_builder.cli import main

    result = CliRunner().invoke(main, ["verify", "--timeout", "nan", str(tmp_path)])
    assert result.exit_code == 2
    assert "--timeout" in result.output and "from 1 to 3600" in result.output


@pytest.mark.parametrize(("at", "expected"), [
    ("9999-12-31T23:59:59Z", "the year 9999 (UTC) is outside 1950-9000"),
    ("0001-01-01T00:00:00Z", "the year 1 (UTC) is outside 1950-9000"),
    ("9999-12-31T23:59:59-23:59", "the year 9999 (UTC) is outside 1950-9000"),
    # attack round 9: judged on the local year, these validated at 9001-01-01 and 1949-12-31 UTC
    ("9000-12-31T23:59:59-23:59", "the year 9001 (UTC) is outside 1950-9000"),
    ("1950-01-01T00:00:00+23:59", "the year 1949 (UTC) is outside 1950-9000"),
    ("x" * 100_000, "is not an ISO-8601 time"),
])
def test_a_validation_time_out_of_range_is_refused(tmp_path: Path, at: str, expected: str) -> None:
    """Found by the third attack session: year 9999 gave INDETERMINATE with an OverflowError as its reason."""
    from click.testing import CliRunner

    from qa_builder.cli import main

    result = CliRunner().invoke(main, ["verify", "--at", at, str(tmp_path)])
    assert result.exit_code == 2
    assert expected in result.output
    assert len(result.output) < 1000  # a garbage value is not echoed back in full


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus of signed PDFs is not present")
def test_a_validator_failure_and_an_unreadable_file_are_said_in_plain_words() -> None:
    """The report said only "could not be validated (AttributeError: 'Name' object has no attribute 'sha512')" and
    "cannot be parsed as a PDF (ValueError: negative seek value -5)": a QA reader could not tell whose fault it was."""
    got = {Path(r.file).name: r for r in _verify([CORPUS / "dss" / "pades-ltv.pdf",
                                                  CORPUS / "dss" / "pades-5-signatures-and-1-document-timestamp.pdf"])}
    ltv, damaged = got["pades-ltv.pdf"], got["pades-5-signatures-and-1-document-timestamp.pdf"]
    assert "the validator (pyHanko) failed on it, which proves nothing against the file" in _problems(ltv)
    assert ltv.indication == "INDETERMINATE"
    assert damaged.error and damaged.error.startswith("cannot be read as a PDF: its structure is damaged")


def test_a_field_listed_thousands_of_times_is_not_checked_thousands_of_times(tmp_path: Path, test_pki: Any) -> None:
    """One signature field listed 250,000 times in /AcroForm /Fields: 40 s, 1.6 GB, a million lines (attack 7)."""
    from pyhanko.sign import fields, signers

    blank = _blank_a4_pdf()
    key = load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase())
    signed = io.BytesIO()
    signer = signers.PdfSigner(signers.PdfSignatureMetadata(field_name="Sig1"), signer=key.signer,
                               new_field_spec=fields.SigFieldSpec("Sig1"))
    signer.sign_pdf(IncrementalPdfFileWriter(blank), output=signed)
    update = IncrementalPdfFileWriter(io.BytesIO(signed.getvalue()))
    form_ref = update.root.raw_get("/AcroForm")
    form = form_ref.get_object()
    listed = form.raw_get("/Fields")
    if isinstance(listed, generic.IndirectObject):
        update.mark_update(listed)
        listed = listed.get_object()
    listed.extend([listed.raw_get(0)] * 5000)
    if isinstance(form_ref, generic.IndirectObject):
        update.mark_update(form_ref)
    update.update_root()
    out = io.BytesIO()
    update.write(out)
    hostile = tmp_path / "many-fields.pdf"
    hostile.write_bytes(out.getvalue())
    result = _only(hostile, test_pki)
    assert result.indication == "INDETERMINATE"
    assert "more than 2,000 signature fields" in (result.error or "")
    assert len(result.signatures) <= 1


@pytest.mark.parametrize(("stored", "shown"), [
    (generic.ByteStringObject(b"\x1b[2J\x1b]0;pwn\x07\nerror: fake\r  "), "\x1b[2J\x1b]0;pwn\x07\nerror: fake"),
    (generic.ByteStringObject(b"\xfe\xff\x00A\x00p\x00p\x00r\x00o\x00v\x00a\x00l"), "Approval"),
    (generic.ByteStringObject(b"Genehmigung f\xfcr"), "Genehmigung für"),
    (generic.TextStringObject("approval"), "approval"),
])
def test_a_signature_text_pyhanko_cannot_decode_is_shown_as_text_not_bytes(stored: object, shown: str) -> None:
    """Security test (attack round 8): a /Reason rewritten with control bytes was reported as the Python literal
    "b'\\x1b[2J…'" in the text and JSON reports; it is text (printing then escapes the controls)."""
    from qa_builder.verify.pdf import _text

    assert _text(stored) == shown


def test_progress_lines_escape_a_file_name_holding_a_forged_verdict(tmp_path: Path) -> None:
    """Attack round 9: a file named 'a.pdf\\n      TOTAL-PASSED contract.pdf (all signatures trusted)' printed that
    forged verdict as a line of its own in the progress lines on stderr (stdout escaped it)."""
    from tests.conftest import run_cli

    forged = tmp_path / "a.pdf\n      TOTAL-PASSED contract.pdf (all signatures trusted)"
    forged.write_bytes(b"%PDF-1.7 not really")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.7 not really")
    result = run_cli("verify", "--no-audit", str(forged), str(tmp_path / "b.pdf"))
    assert result.returncode == 1, result.stderr  # neither is a readable signed PDF
    assert not [line for line in (result.stdout + result.stderr).splitlines() if line.lstrip().startswith("TOTAL-")]
    assert "\\u000a      TOTAL-PASSED contract.pdf" in result.stderr


def _with_empty_updates(pdf: bytes, count: int) -> bytes:
    """`pdf` followed by `count` incremental updates that change nothing (an empty cross-reference section each)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root, size = reader.trailer.raw_get("/Root").idnum, int(reader.trailer["/Size"])
    previous = int(pdf[pdf.rindex(b"startxref") + 9:].split()[0])
    out = bytearray(pdf)
    for _ in range(count):
        offset = len(out)
        out += (f"\nxref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size {size} /Root {root} 0 R /Prev {previous} >>\n"
                f"startxref\n{offset + 1}\n%%EOF\n").encode()
        previous = offset + 1
    return bytes(out)


def test_a_file_of_thousands_of_revisions_is_indeterminate_at_once(build_dir: Path, tmp_path: Path,
                                                                   test_pki: Any) -> None:
    """Attack round 9: a signed agreement followed by 6,000 empty incremental updates ran `verify` past its 120 s
    bound (3,000: 18 s). Files of more than MAX_REVISIONS revisions are INDETERMINATE, said in one line, at once;
    a file with a few empty updates still verifies."""
    import time

    from qa_builder.verify.pdf import MAX_REVISIONS

    original = next(p for p in sorted(build_dir.glob("*.pdf")) if ".signed" in p.name)
    signed = original.read_bytes()
    few, many = tmp_path / "few.pdf", tmp_path / "many.pdf"
    few.write_bytes(_with_empty_updates(signed, 3))
    many.write_bytes(_with_empty_updates(signed, MAX_REVISIONS))
    started = time.monotonic()
    result = _only(many, test_pki)
    assert time.monotonic() - started < 20
    assert result.indication == "INDETERMINATE" and "revisions (incremental updates); at most 1,000 are checked" in \
        (result.error or ""), result
    checked = _only(few, test_pki)
    assert checked.error is None and checked.indication == _only(original, test_pki).indication, checked

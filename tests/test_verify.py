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

from qa_builder.library.loader import load_library
from qa_builder.pipeline import BuildSettings, build_one
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
                          tsa_url=test_pki.tsa_url)
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


ATTACKS = {
    "page content changed": (_new_page_content, "FORMAT_FAILURE", "changed after signing in a way"),
    "page added": (_added_page, "FORMAT_FAILURE", "changed after signing in a way"),
    "page removed": (_removed_page, "FORMAT_FAILURE", "changed after signing in a way"),
    "reason replaced": (_replaced_reason, None, ""),
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
    assert _cli(str(tmp_path / "missing.pdf")).returncode == 2


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
    "AD-RB.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "one signature uses the non-standard SubFilter PBAD.PAdES"),
    "BadEncodedCMS.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE",
                          "signed with SHA-1 (ECDSA), which the policy refuses before the CMS's non-DER encoding "
                          "matters"),
    "DSS-3577.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE",
                     "annotations were added after an ANNOTATE certification; pyHanko's difference analysis does "
                     "not support the annotation level and reports them as other changes"),
    "PAdES-LT.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE",
                     "a later revision rewrites objects the difference analysis cannot explain"),
    "Signature-P-HU_MIC-1.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; its CA is not trusted"),
    "Test.signed_Certipost-2048-SHA512.extended-LTA.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                                                           "valid LTA; its CA is not trusted"),
    "adbe_ocsp_signed.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; its CA is not trusted"),
    "belgian_pki_multiple_ocsps_lt.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; CA not trusted"),
    "doc-firmado-LT.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; its CA is not trusted"),
    "dss-1188_Test.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", "signed with SHA-1"),
    "dss-2236_annotation-and-visible-change.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "visible change after signing"),
    "dss-2236_hide.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "a stream without endstream: the file is malformed"),
    "dss-2236_replace.pdf": ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE",
                             "its self-signed certificate does not meet the chain constraints"),
    "dss-2554_certified-changes-permitted.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "CA not trusted"),
    "dss-2554_certified-no-change-permitted.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                                                   "CA not trusted"),
    "dss-PLAIN-ECDSA_TeleSec_PKS_eIDAS_QES_CA_1-baseline-b.pdf": ("TOTAL-FAILED", "SIG_CRYPTO_FAILURE",
                                                                 "plain-ECDSA signature value pyHanko cannot "
                                                                 "verify"),
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
    "pades-lta-copied-doctst.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "a document timestamp copied from elsewhere"),
    "pades-ltv.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "refers to an object missing from its revision"),
    "pades-signed-annot-added.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "annotation added after signing"),
    "pades-signed-filled-form.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE",
                                     "a form field's value changed in a way the diff analysis cannot explain"),
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
    "pkcs7_sha1.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "SubFilter adbe.pkcs7.sha1 is not validated"),
    "self-issued-qesig.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "self-issued; not trusted"),
    "timestamped_and_signed.pdf": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", "valid; CA not trusted"),
    "wrong-digest-algo.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "SubFilter adbe.pkcs7.sha1 is not validated"),
}

PYHANKO_EXPECTED: dict[str, tuple[str, str | None, str]] = {
    "certified-with-indirect-refs-in-dir.pdf": ("INDETERMINATE", "CERTIFICATE_CHAIN_GENERAL_FAILURE",
                                                "trusted, but no revocation data is embedded (B-B)"),
    "coverage-anomalies_one-byterange.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "does not cover a revision"),
    "coverage-anomalies_signature-gap-too-big.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "gap larger than /Contents"),
    "coverage-anomalies_tail-uncovered.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "file tail not covered"),
    "coverage-anomalies_weird-byterange.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "odd byte range"),
    "ed448-disallowed-hash.pdf": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", "Ed448 with a disallowed hash"),
    "form-update-ap-indirect-sneaky-trailer.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "sneaky appearance update"),
    "form-update-original-ap-type-wrong.pdf": ("INDETERMINATE", "CERTIFICATE_CHAIN_GENERAL_FAILURE",
                                               "allowed form update; no revocation data"),
    "form-update-override-appearance-stream-sneaky.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE",
                                                          "appearance overridden sneakily"),
    "form-update-override-appearance-stream.pdf": ("INDETERMINATE", "CERTIFICATE_CHAIN_GENERAL_FAILURE",
                                                   "allowed update; no revocation data"),
    "minimal-hybrid-xref.pdf": ("INDETERMINATE", None, "no signatures"),
    "minimal-signed-twice-both-created.pdf": ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE",
                                              "the test signer lacks the required key usage"),
    "minimal-signed-twice-second-created.pdf": ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE", "key usage"),
    "minimal-two-fields-signed-twice.pdf": ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE", "key usage"),
    "pades-lta-dss-indirect-arrs-test.pdf": ("TOTAL-PASSED", None, "B-LTA with embedded revocation data"),
    "pades-with-old-style-signing-cert-attr.pdf": ("INDETERMINATE", "CERTIFICATE_CHAIN_GENERAL_FAILURE",
                                                   "no revocation data"),
    "pdf-sig-with-econtent.pdf": ("TOTAL-FAILED", "FORMAT_FAILURE", "encapsulated content in a detached signature"),
    "sig-no-signed-attrs.pdf": ("INDETERMINATE", "CERTIFICATE_CHAIN_GENERAL_FAILURE", "no revocation data"),
    "sig-with-ski-sid.pdf": ("INDETERMINATE", "CERTIFICATE_CHAIN_GENERAL_FAILURE", "no revocation data"),
}


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus of signed PDFs is not present")
def test_every_corpus_file_gets_its_explained_result() -> None:
    dss = sorted((CORPUS / "dss").glob("*.pdf"))
    pyhanko = sorted((CORPUS / "pyhanko").glob("*.pdf"))
    assert {p.name for p in dss} == set(DSS_EXPECTED) and {p.name for p in pyhanko} == set(PYHANKO_EXPECTED)
    import datetime as dt

    got = {Path(r.file).name: r for r in _verify(dss, jobs=2)}
    roots = (CORPUS / "pyhanko" / "trust" / "testing-ca_root_root.cert.pem",)
    settings = VerifySettings(trust_roots=roots, at=dt.datetime(2020, 11, 1, tzinfo=dt.UTC), jobs=2)
    got |= {Path(r.file).name: r for r in verify(pyhanko, settings).results}
    wrong = []
    for name, (indication, sub, why) in {**DSS_EXPECTED, **PYHANKO_EXPECTED}.items():
        result = got[name]
        if (result.indication, result.sub_indication) != (indication, sub):
            wrong.append(f"{name}: expected {indication}/{sub} ({why}), got {result.indication}/"
                         f"{result.sub_indication}: {_problems(result)[:200]}")
        elif result.indication != "TOTAL-PASSED":
            assert _problems(result).strip(), f"{name}: no sentence says why"
    assert not wrong, "\n".join(wrong)

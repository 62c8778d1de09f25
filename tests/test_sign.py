"""PAdES signing with real components: pyHanko signs, a loopback TSA/OCSP/CRL serves, pdfsig checks."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from qa_builder.errors import SigningError
from qa_builder.signing.keys import load_pkcs12_key
from qa_builder.signing.pades import SignatureRequest, list_signature_fields, sign_pdf
from tests.conftest import ROOT, CliResult, run_cli

pytestmark = pytest.mark.libreoffice


@pytest.fixture(scope="module")
def unsigned(minimal_build: Path) -> Path:
    return minimal_build / "QA-MIN-1_v1.pdf"  # built once per session (tests/conftest.py)


def _key(pki: Any, name: str) -> Any:
    return load_pkcs12_key(pki.p12(name), pki.passphrase())


def _sign(pki: Any, source: Path, target: Path, field: str, signer: str, *, certify: bool = False,
          level: str = "B-B", meaning: str = "approval") -> Any:
    request = SignatureRequest(field=field, meaning=meaning, certify=certify, level=level,  # type: ignore[arg-type]
                               tsa_url=pki.tsa_url if level != "B-B" else None,
                               trust_roots=(pki.root_pem,) if level in ("B-LT", "B-LTA") else ())
    return sign_pdf(source, target, request, _key(pki, signer))


@pytest.fixture(scope="module")
def signed_pair(signed_build: Path) -> Path:
    """Sponsor certifies (B-LT), contract acceptor approves (B-LTA): the full sequence (once per session)."""
    return signed_build / "QA-MIN-1_v1.signed.pdf"


def _context(pki: Any) -> ValidationContext:
    return ValidationContext(trust_roots=[load_cert_from_pemder(str(pki.root_pem))], allow_fetching=False)


def test_fields_are_listed_with_their_signatories(unsigned: Path) -> None:
    states = list_signature_fields(unsigned)
    assert [(s.name, s.signed) for s in states] == [("sig_sponsor_1", False), ("sig_contract_acceptor_1", False)]
    assert states[0].intended_for == "Anna Müller, Head of Quality, for Müller & Søn <Pharma> \"AG\": approval"


def test_certify_then_approve_validates_in_pyhanko(signed_pair: Path, test_pki: Any) -> None:
    with signed_pair.open("rb") as handle:
        reader = PdfFileReader(handle)
        signatures = reader.embedded_signatures
        kinds = [s.sig_object_type for s in signatures]
        assert kinds == ["/Sig", "/Sig", "/DocTimeStamp"]
        sponsor, acceptor, doc_ts = signatures
        for embedded in (sponsor, acceptor):
            status = validate_pdf_signature(embedded, _context(test_pki))
            assert status.intact and status.valid and status.trusted, status.pretty_print_details()
            assert status.docmdp_ok is not False
            assert status.bottom_line, status.summary()
        assert sponsor.docmdp_level is not None, "the first signature certifies"
        assert validate_pdf_timestamp(doc_ts, validation_context=_context(test_pki)).trusted
        assert "/DSS" in reader.root, "B-LT/B-LTA embed revocation data"
        sponsor_dict = sponsor.sig_object
        assert str(sponsor_dict["/Name"]) == "Dr. Ilse Verhoeven"
        assert str(sponsor_dict["/Reason"]).startswith("Approval")
        assert "/M" in sponsor_dict


def test_pdfsig_reports_every_signature_valid(signed_pair: Path) -> None:
    result = subprocess.run(["pdfsig", str(signed_pair)], capture_output=True, text=True, timeout=60)
    text = result.stdout
    assert text.count("Signature is Valid.") == 2, text
    assert "ETSI.CAdES.detached" in text
    import re

    size = signed_pair.stat().st_size
    ranges = [tuple(int(x) for x in m) for m in re.findall(r"\[(\d+) - (\d+)\], \[(\d+) - (\d+)\]", text)]
    assert len(ranges) == 3, "two signatures and the document timestamp"
    for start, end_first, start_second, end in ranges:
        assert start == 0 and end_first < start_second < end <= size, "the gap is exactly the /Contents hole"
    # pyHanko appends the document timestamp's own validation data after it (a PAdES LTA update, which pyHanko
    # reports as EXTENDED_WITH_LTA_UPDATES in test_certify_then_approve_validates_in_pyhanko)
    assert ranges[0][3] < ranges[1][3] < ranges[2][3] <= size, "each signature covers the revision before it"


def test_pdfsig_reports_a_sole_signature_as_covering_the_whole_document(
        tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    single = tmp_path / "single.pdf"
    _sign(test_pki, unsigned, single, "sig_sponsor_1", "sponsor", certify=True)
    text = subprocess.run(["pdfsig", str(single)], capture_output=True, text=True, timeout=60).stdout
    assert "Total document signed" in text and "Signature is Valid." in text, text


def test_one_flipped_byte_in_a_signed_range_fails(signed_pair: Path, tmp_path: Path, test_pki: Any) -> None:
    data = bytearray(signed_pair.read_bytes())
    position = data.index(b"/Type /Catalog") if b"/Type /Catalog" in data else 400
    data[position + 1] ^= 0x01
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    with tampered.open("rb") as handle:
        reader = PdfFileReader(handle, strict=False)
        status = validate_pdf_signature(reader.embedded_signatures[0], _context(test_pki))
        assert not status.intact
    pdfsig = subprocess.run(["pdfsig", str(tampered)], capture_output=True, text=True, timeout=60).stdout
    assert "Digest Mismatch" in pdfsig


def test_changed_page_content_after_certification_is_illegal(tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    certified = tmp_path / "certified.pdf"
    _sign(test_pki, unsigned, certified, "sig_sponsor_1", "sponsor", certify=True)
    writer = IncrementalPdfFileWriter(io.BytesIO(certified.read_bytes()))
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.content import RawContent
    from pyhanko.pdf_utils.layout import BoxConstraints

    page_ref = writer.root["/Pages"]["/Kids"][0]
    stream = RawContent(b"BT /F1 24 Tf 100 700 Td (FORGED) Tj ET", box=BoxConstraints(width=10, height=10))
    page = page_ref.get_object()
    page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=stream.render()))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    reader = PdfFileReader(io.BytesIO(out.getvalue()))
    status = validate_pdf_signature(reader.embedded_signatures[0], _context(test_pki))
    assert status.intact and status.valid
    assert not status.bottom_line
    assert "ILLEGAL" in status.summary() or status.docmdp_ok is False


def test_refusals(tmp_path: Path, unsigned: Path, signed_pair: Path, test_pki: Any) -> None:
    with pytest.raises(SigningError, match="already signed"):
        _sign(test_pki, signed_pair, tmp_path / "x.pdf", "sig_sponsor_1", "sponsor")
    with pytest.raises(SigningError, match="has no signature field named 'sig_nobody'"):
        _sign(test_pki, unsigned, tmp_path / "y.pdf", "sig_nobody", "sponsor")
    first = tmp_path / "first.pdf"
    _sign(test_pki, unsigned, first, "sig_sponsor_1", "sponsor")
    with pytest.raises(SigningError, match="certification signature must be the first"):
        _sign(test_pki, first, tmp_path / "z.pdf", "sig_contract_acceptor_1", "contract-acceptor", certify=True)
    with pytest.raises(SigningError, match="already exists"):
        _sign(test_pki, unsigned, first, "sig_sponsor_1", "sponsor")
    with pytest.raises(SigningError, match="needs a timestamp authority"):
        sign_pdf(unsigned, tmp_path / "t.pdf", SignatureRequest(field="sig_sponsor_1", meaning="approval",
                                                                level="B-T"), _key(test_pki, "sponsor"))
    assert not (tmp_path / "y.pdf").exists() and not (tmp_path / "z.pdf").exists()


def test_no_changes_certification_blocks_further_signatures(tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    from pyhanko.sign import fields, signers

    locked = tmp_path / "locked.pdf"
    key = _key(test_pki, "sponsor")
    meta = signers.PdfSignatureMetadata(field_name="sig_sponsor_1", certify=True,
                                        docmdp_permissions=fields.MDPPerm.NO_CHANGES)
    with unsigned.open("rb") as handle:
        out = signers.PdfSigner(meta, key.signer).sign_pdf(IncrementalPdfFileWriter(handle),
                                                           existing_fields_only=True)
        locked.write_bytes(out.getvalue())
    with pytest.raises(SigningError, match="no changes allowed"):
        _sign(test_pki, locked, tmp_path / "after.pdf", "sig_contract_acceptor_1", "contract-acceptor")


@pytest.mark.parametrize("signer", ["expired", "not-yet-valid", "no-nonrepudiation"])
def test_unfit_certificates_are_refused(test_pki: Any, signer: str) -> None:
    with pytest.raises(SigningError, match=r"expired|not valid before|neither digitalSignature"):
        _key(test_pki, signer)


def test_wrong_passphrase_and_mismatched_key(tmp_path: Path, test_pki: Any) -> None:
    with pytest.raises(SigningError, match="wrong passphrase"):
        load_pkcs12_key(test_pki.p12("sponsor"), b"not the passphrase")
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    _, certificate, _chain = test_pki.load_key_and_certificates("sponsor")
    other = ec.generate_private_key(ec.SECP256R1())
    mismatched = tmp_path / "mismatched.p12"
    # cryptography refuses to pair a key with a foreign certificate, so put the certificate among the others
    mismatched.write_bytes(pkcs12.serialize_key_and_certificates(b"x", other, None, [certificate],
                                                                 BestAvailableEncryption(b"pw")))
    with pytest.raises(SigningError, match="does not match the certificate"):
        load_pkcs12_key(mismatched, b"pw")


def test_levels(tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    for level, expect_ts, expect_dss in (("B-B", False, False), ("B-T", True, False), ("B-LT", True, True)):
        out = tmp_path / f"{level}.pdf"
        outcome = _sign(test_pki, unsigned, out, "sig_sponsor_1", "sponsor", certify=True, level=level)
        assert outcome.time_source == ("tsa" if expect_ts else "local clock")
        with out.open("rb") as handle:
            reader = PdfFileReader(handle)
            status = validate_pdf_signature(reader.embedded_signatures[0], _context(test_pki))
            assert (status.timestamp_validity is not None) == expect_ts, level
            assert ("/DSS" in reader.root) == expect_dss, level


def test_stamp_shows_the_part11_manifestation(signed_pair: Path) -> None:
    document = pdfium.PdfDocument(str(signed_pair))
    document.init_forms()
    try:
        page = document[len(document) - 1]
        page.flatten()  # the stamp lives in the widget's appearance stream; flatten it into the page
        page.close()
        page = document[len(document) - 1]
        text = page.get_textpage().get_text_range()
    finally:
        document.close()
    for expected in ("Dr. Ilse Verhoeven", "Head of Quality Operations", "Norvale Pharmaceuticals B.V.",
                     "Approval", "UTC", "Dr. Matthias Brenner"):
        assert expected in text, expected
    fonts = subprocess.run(["pdffonts", str(signed_pair)], capture_output=True, text=True, check=True).stdout
    assert all(row.split()[-5] == "yes" for row in fonts.splitlines()[2:]), fonts


def test_sign_cli_lists_fields_and_signs_without_leaking_the_passphrase(
        tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    def cli(*args: str) -> CliResult:
        return run_cli(*args)

    listed = cli("sign", str(unsigned))
    assert listed.returncode == 0 and "sig_sponsor_1" in listed.stdout and "empty" in listed.stdout
    out = tmp_path / "signed.pdf"
    signed = cli("sign", str(unsigned), "-o", str(out), "--field", "sig_sponsor_1", "--meaning", "approval",
                 "--certify", "--level", "B-T", "--tsa", test_pki.tsa_url, "--key", str(test_pki.p12("sponsor")),
                 "--passphrase-file", str(test_pki.passphrase_file))
    assert signed.returncode == 0, signed.stderr
    assert "certified field sig_sponsor_1 as Dr. Ilse Verhoeven (approval)" in signed.stdout
    assert "(tsa)" in signed.stdout
    assert "warning: field sig_sponsor_1 is meant for Anna Müller" in signed.stderr, "the test PKI signer differs"
    secret = test_pki.passphrase().decode()
    assert secret not in signed.stdout + signed.stderr
    no_tty = cli("sign", str(unsigned), "-o", str(tmp_path / "n.pdf"), "--field", "sig_sponsor_1", "--meaning",
                 "approval", "--key", str(test_pki.p12("sponsor")))
    assert no_tty.returncode == 2 and "no passphrase" in no_tty.stderr
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n", encoding="utf-8")
    bad = cli("sign", str(unsigned), "-o", str(tmp_path / "w.pdf"), "--field", "sig_sponsor_1", "--meaning",
              "approval", "--key", str(test_pki.p12("sponsor")), "--passphrase-file", str(wrong))
    assert bad.returncode == 1 and "wrong passphrase" in bad.stderr and "Traceback" not in bad.stderr


def test_pkcs11_softhsm_token_with_intermediate(tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    """SoftHSM2 stands in for a hardware token; the token also holds the intermediate CA certificate."""
    from cryptography.hazmat.primitives import serialization

    from qa_builder.signing.keys import load_pkcs11_key

    module = Path("/usr/lib/softhsm/libsofthsm2.so")
    assert module.is_file() and shutil.which("softhsm2-util") and shutil.which("pkcs11-tool")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    config = tmp_path / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n", encoding="utf-8")
    env = {"SOFTHSM2_CONF": str(config), "PATH": "/usr/bin:/bin"}
    run = lambda *args: subprocess.run(args, check=True, capture_output=True, env=env, timeout=60)  # noqa: E731
    run("softhsm2-util", "--init-token", "--free", "--label", "qa-token", "--so-pin", "9999", "--pin", "4321")
    key, certificate, chain = test_pki.load_key_and_certificates("sponsor")
    wrapped = tmp_path / "key.pem"  # encrypted PKCS#8: no private key is ever written in the clear
    wrapped.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.BestAvailableEncryption(b"import-pass")))
    run("softhsm2-util", "--import", str(wrapped), "--file-pin", "import-pass", "--token", "qa-token",
        "--label", "sponsor", "--id", "01", "--pin", "4321")
    for label, cert, object_id in (("sponsor", certificate, "01"), ("intermediate", chain[0], "02")):
        der = tmp_path / f"{label}.der"
        der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        run("pkcs11-tool", "--module", str(module), "--token-label", "qa-token", "--login", "--pin", "4321",
            "--write-object", str(der), "--type", "cert", "--label", label, "--id", object_id)
    import os

    os.environ["SOFTHSM2_CONF"] = str(config)
    try:
        with pytest.raises(SigningError, match="wrong PIN"):
            load_pkcs11_key(module, "qa-token", "sponsor", b"0000")
        token_key = load_pkcs11_key(module, "qa-token", "sponsor", b"4321")
        out = tmp_path / "hsm.pdf"
        sign_pdf(unsigned, out, SignatureRequest(field="sig_sponsor_1", meaning="approval", certify=True),
                 token_key)
    finally:
        os.environ.pop("SOFTHSM2_CONF", None)
    with out.open("rb") as handle:
        status = validate_pdf_signature(PdfFileReader(handle).embedded_signatures[0], _context(test_pki))
    assert status.intact and status.valid and status.trusted, status.summary()


def test_self_check_rejects_a_signature_that_does_not_verify(signed_pair: Path) -> None:
    from qa_builder.signing.pades import _self_check

    data = signed_pair.read_bytes()
    _self_check(data, "sig_contract_acceptor_1", signed_pair)  # the honest file passes
    broken = bytearray(data)
    broken[200] ^= 0x01  # inside the first signed byte range of every signature
    with pytest.raises(SigningError, match="does not verify; nothing was written"):
        _self_check(bytes(broken), "sig_contract_acceptor_1", signed_pair)


def test_passphrase_is_prompted_without_echo_in_a_terminal(tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    import os
    import pty
    import select
    import time

    out = tmp_path / "typed.pdf"
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "qa_builder", "sign", str(unsigned), "-o", str(out),
                                "--field", "sig_sponsor_1", "--meaning", "approval", "--certify",
                                "--key", str(test_pki.p12("sponsor"))],
                               stdin=slave, stdout=slave, stderr=slave, cwd=ROOT)
    os.close(slave)
    transcript, typed = b"", False
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                transcript += os.read(master, 65536)
            except OSError:
                break
            if not typed and b"Passphrase" in transcript:
                os.write(master, test_pki.passphrase() + b"\n")
                typed = True
    process.wait(timeout=30)
    with contextlib.suppress(OSError):
        transcript += os.read(master, 65536)
    os.close(master)
    text = transcript.decode("utf-8", "replace")
    assert process.returncode == 0, text
    assert typed and out.is_file()
    assert test_pki.passphrase().decode() not in text, "the passphrase must not be echoed"


def test_outcome_knows_whether_the_intended_signatory_signed() -> None:
    import datetime as dt

    from qa_builder.signing.pades import SignatureOutcome

    def outcome(signer: str, intended: str) -> SignatureOutcome:
        return SignatureOutcome(field="f", signer=signer, meaning="approval", signed_at=dt.datetime.now(dt.UTC),
                                time_source="local clock", level="B-B", certified=False, intended_for=intended)

    assert outcome("Anna Müller", "Anna Müller, Head of Quality, for X: approval").signer_is_intended
    assert not outcome("Dr. Ilse Verhoeven", "Anna Müller, Head of Quality, for X: approval").signer_is_intended
    assert outcome("Anyone", "").signer_is_intended, "fields made elsewhere may not name anyone"

"""PAdES signing with real components: pyHanko signs, a loopback TSA/OCSP/CRL serves, pdfsig checks."""

from __future__ import annotations

import contextlib
import io
import re
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
    assert bad.returncode == 2 and "wrong passphrase" in bad.stderr and "Traceback" not in bad.stderr


def test_pkcs11_softhsm_token_with_intermediate(tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    """SoftHSM2 stands in for a hardware token; the token also holds the intermediate CA certificate."""
    from cryptography.hazmat.primitives import serialization

    from qa_builder.signing.keys import close_pkcs11_sessions, load_pkcs11_key

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
        close_pkcs11_sessions()
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


# --- issue 15 item 4: what must not sign is refused before signing ------------------------------------------------


def test_a_timestamp_authority_certificate_is_refused_for_its_extended_key_usage(test_pki: Any) -> None:
    """The TSA's certificate has digitalSignature but EKU timeStamping only (critical): it must not sign documents."""
    with pytest.raises(SigningError, match=r"tsa\.p12: the certificate of .*Time-Stamping Authority is restricted by "
                                           r"its extended key usage to timeStamping"):
        _key(test_pki, "tsa")
    _key(test_pki, "sponsor")  # emailProtection + documentSigning: fit


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_a_revoked_certificate_is_refused_at_long_term_levels(
        tmp_path: Path, unsigned: Path, test_pki: Any, level: str) -> None:
    out = tmp_path / "revoked.pdf"
    with pytest.raises(SigningError, match=r"revoked\.p12: the certificate of TEST ONLY revoked signer is revoked "
                                           r"\(.*compromised key.*\); a revoked certificate must not sign"):
        _sign(test_pki, unsigned, out, "sig_sponsor_1", "revoked", certify=True, level=level)
    assert not out.exists()


def test_a_revoked_certificate_is_refused_at_b_t_when_revocation_checking_is_asked_for(
        tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    request = SignatureRequest(field="sig_sponsor_1", meaning="approval", level="B-T", tsa_url=test_pki.tsa_url,
                               trust_roots=(test_pki.root_pem,), check_revocation=True)
    with pytest.raises(SigningError, match="is revoked"):
        sign_pdf(unsigned, tmp_path / "r.pdf", request, _key(test_pki, "revoked"))
    good = sign_pdf(unsigned, tmp_path / "g.pdf", request, _key(test_pki, "sponsor"))
    assert good.signer == "Dr. Ilse Verhoeven"
    with pytest.raises(SigningError, match="checking revocation needs the trust root"):
        sign_pdf(unsigned, tmp_path / "n.pdf", SignatureRequest(field="sig_sponsor_1", meaning="approval",
                                                                check_revocation=True), _key(test_pki, "sponsor"))
    assert not (tmp_path / "r.pdf").exists()


def test_a_certificate_whose_revocation_status_cannot_be_established_is_refused(
        tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    """Its OCSP responder and CRL point at a port where nothing listens: "require" means refuse, not assume good."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.conftest import free_port

    p12 = _issued_p12(test_pki, tmp_path, ec.generate_private_key(ec.SECP256R1()), "Dr. Una Reachable",
                      revocation_base=f"http://127.0.0.1:{free_port()}")
    out = tmp_path / "unknown.pdf"
    with pytest.raises(SigningError, match=r"the revocation status of the certificate of Dr\. Una Reachable could "
                                           r"not be established"):
        _sign_with(test_pki, load_pkcs12_key(p12, b"pw"), unsigned, out, level="B-LT")
    assert not out.exists()


def _sign_with(pki: Any, key: Any, source: Path, target: Path, *, level: str) -> Any:
    request = SignatureRequest(field="sig_sponsor_1", meaning="approval", certify=True, level=level,  # type: ignore[arg-type]
                               tsa_url=pki.tsa_url, trust_roots=(pki.root_pem,))
    return sign_pdf(source, target, request, key)


def test_sign_cli_refuses_the_tsa_and_the_revoked_certificate_in_one_line(
        tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    def cli(signer: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "qa_builder", "sign", str(unsigned), "-o",
                               str(tmp_path / f"{signer}.pdf"), "--field", "sig_sponsor_1", "--meaning", "approval",
                               "--key", str(test_pki.p12(signer)), "--passphrase-file", str(test_pki.passphrase_file),
                               *extra], capture_output=True, text=True, cwd=ROOT, timeout=120)

    tsa = cli("tsa")
    revoked = cli("revoked", "--level", "B-T", "--tsa", test_pki.tsa_url, "--check-revocation",
                  "--trust", str(test_pki.root_pem))
    for result, text in ((tsa, "extended key usage to timeStamping"), (revoked, "is revoked")):
        assert result.returncode == 2, result.stderr  # the key is unfit: bad input
        assert text in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.pdf"))


# --- issue 15 item 5: one time for one signature -------------------------------------------------------------------


def _stamp_text(pdf: Path, page_index: int = -1) -> str:
    document = pdfium.PdfDocument(str(pdf))
    document.init_forms()
    try:
        index = page_index % len(document)
        page = document[index]
        page.flatten()
        page.close()
        page = document[index]
        return str(page.get_textpage().get_text_range())
    finally:
        document.close()


def _stamp_time(pdf: Path) -> tuple[str, str]:
    """(time source label, 'YYYY-MM-DD HH:MM:SS') of the stamp's date line, as a reader sees it."""
    import re

    found = re.search(r"Date/time \(UTC(?:, ([a-z ]+))?\): (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", _stamp_text(pdf))
    assert found, _stamp_text(pdf)
    return found.group(1) or "", found.group(2)


def _m_and_cms(pdf: Path) -> tuple[str, Any]:
    """(/M as 'YYYY-MM-DD HH:MM:SS' UTC, the signer info) of the first signature."""
    import datetime as dt

    from pyhanko.pdf_utils.generic import parse_pdf_date

    with pdf.open("rb") as handle:
        embedded = PdfFileReader(handle).embedded_signatures[0]
        moment = parse_pdf_date(str(embedded.sig_object["/M"])).astimezone(dt.UTC)
        return f"{moment:%Y-%m-%d %H:%M:%S}", embedded.signer_info


@pytest.mark.parametrize("level", ["B-B", "B-T"])
def test_stamp_m_and_printed_time_are_one_instant_even_when_the_font_is_prepared_first(
        tmp_path: Path, unsigned: Path, test_pki: Any, level: str) -> None:
    """A fresh font cache makes font preparation take about a second between taking the time and signing."""
    import datetime as dt
    import os
    import re

    out = tmp_path / "signed.pdf"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "fresh-cache")}
    result = subprocess.run([sys.executable, "-m", "qa_builder", "sign", str(unsigned), "-o", str(out), "--field",
                             "sig_sponsor_1", "--meaning", "approval", "--level", level,
                             *(["--tsa", test_pki.tsa_url] if level == "B-T" else []),
                             "--key", str(test_pki.p12("sponsor")), "--passphrase-file",
                             str(test_pki.passphrase_file)], capture_output=True, text=True, cwd=ROOT, env=env,
                            timeout=180)
    assert result.returncode == 0, result.stderr
    printed = re.search(r" at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC \(([a-z ]+)\)", result.stdout)
    assert printed, result.stdout
    source, on_stamp = _stamp_time(out)
    on_m, signer_info = _m_and_cms(out)
    assert on_stamp == on_m == printed.group(1), (on_stamp, on_m, result.stdout)
    signed_attributes = {attr["type"].native for attr in signer_info["signed_attrs"]}
    assert "signing_time" not in signed_attributes, "PAdES carries the claimed time in /M only (EN 319 142-1)"
    if level == "B-T":
        assert source == "timestamp authority" and printed.group(2) == "tsa"
        token_time = signer_info["unsigned_attrs"][0]["values"][0]["content"]["encap_content_info"]["content"]
        from asn1crypto import tsp

        generated = tsp.TSTInfo.load(token_time.parsed.dump()).native["gen_time"].astimezone(dt.UTC)
        stamp_moment = dt.datetime.strptime(on_stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
        assert dt.timedelta(0) <= generated.replace(microsecond=0) - stamp_moment <= dt.timedelta(seconds=3), (
            "the signature timestamp follows the stamped TSA time at once, not after font preparation")
    else:
        assert source == "" and printed.group(2) == "local clock"


# --- issue 15 item 2: a signed agreement stays PDF/A-2b --------------------------------------------------------


def _issued_p12(pki: Any, folder: Path, key: Any, common_name: str, *, revocation_base: str | None = None) -> Path:
    """A signer certificate for `key` issued by the test PKI's issuing CA (with its OCSP and CRL pointers), as a
    PKCS#12 file with passphrase "pw" (the test PKI's own keys are all EC P-256)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

    ca_key, ca_cert, ca_chain = pki.load_key_and_certificates("intermediate-ca")
    ocsp_url = f"{revocation_base}/ocsp" if revocation_base else pki.ocsp_url
    crl_url = f"{revocation_base}/crl/intermediate.crl" if revocation_base else pki.crl_urls["intermediate"]
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
        .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), critical=False)
        .sign(ca_key, hashes.SHA256()))
    path = folder / f"{common_name.split()[-1].lower()}.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"signer", key, certificate, [ca_cert, *ca_chain],
                                                           BestAvailableEncryption(b"pw")))
    return path


@pytest.fixture(scope="module")
def rsa_p12(tmp_path_factory: pytest.TempPathFactory, test_pki: Any) -> Path:
    """An RSA-3072 signer issued by the test PKI."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return _issued_p12(test_pki, tmp_path_factory.mktemp("rsa"), key, "Dr. Rosa Rivest-Sharma")


def _pdfa_facts(pdf: Path) -> dict[str, Any]:
    """What a PDF/A validator looks at, read independently of qa_builder.signing.pdfa."""
    import re

    data = pdf.read_bytes()
    with pdf.open("rb") as handle:
        reader = PdfFileReader(handle)
        root = reader.root
        extensions = {str(prefix): (str(value["/BaseVersion"]), int(value["/ExtensionLevel"]))
                      for prefix, value in root.get("/Extensions", {}).items() if prefix != "/Type"}
        xmp = subprocess.run(["pdfinfo", "-meta", str(pdf)], capture_output=True, text=True, check=True).stdout
        return {
            "header": data[:8].decode("ascii"),
            "version": str(root.get("/Version", "")),
            "extensions": extensions,
            "pdfaid": (re.search(r'pdfaid:part="?(\d)', xmp) or re.search(r"<pdfaid:part>(\d)", xmp)) is not None
            and re.findall(r'pdfaid:(?:part|conformance)(?:="|>)([^"<]+)', xmp),
            "fonts": subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout,
        }


def _assert_pdfa_2b(pdf: Path) -> None:
    facts = _pdfa_facts(pdf)
    assert re.fullmatch(r"%PDF-1\.[4-7]", facts["header"]), facts["header"]
    assert facts["version"] in ("", "/1.7"), f"catalog /Version {facts['version']} is not PDF 1.7"
    assert facts["extensions"] == {"/ESIC": ("/1.7", 1)}, facts["extensions"]
    assert facts["pdfaid"] == ["2", "B"], facts["pdfaid"]
    rows = facts["fonts"].splitlines()[2:]
    assert rows and all(row.split()[-5] == "yes" for row in rows), facts["fonts"]


def test_the_unsigned_agreement_claims_pdfa_2b(unsigned: Path) -> None:
    facts = _pdfa_facts(unsigned)
    assert facts["pdfaid"] == ["2", "B"] and "/ISO_" not in facts["extensions"]


def test_ecdsa_p256_signatures_keep_pdf_17_and_the_pdfa_2b_claim(signed_pair: Path) -> None:
    """P-256 is an ISO/TS 32002 curve: pyHanko alone would set /Version 2.0 and add /ISO_ 32002."""
    _assert_pdfa_2b(signed_pair)
    assert signed_pair.read_bytes().count(b"/ISO_") == 0


def test_rsa_signature_keeps_the_pdfa_2b_claim(tmp_path: Path, unsigned: Path, test_pki: Any, rsa_p12: Path) -> None:
    out = tmp_path / "rsa.pdf"
    request = SignatureRequest(field="sig_sponsor_1", meaning="approval", certify=True, level="B-LT",
                               tsa_url=test_pki.tsa_url, trust_roots=(test_pki.root_pem,))
    sign_pdf(unsigned, out, request, load_pkcs12_key(rsa_p12, b"pw"))
    _assert_pdfa_2b(out)
    with out.open("rb") as handle:
        status = validate_pdf_signature(PdfFileReader(handle).embedded_signatures[0], _context(test_pki))
    assert status.bottom_line and status.md_algorithm == "sha256", status.summary()
    assert "rsa" in status.pkcs7_signature_mechanism, status.pkcs7_signature_mechanism


def test_an_ed25519_key_is_refused_for_a_pdfa_2_document(tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    """Ed25519 in PDF exists only through ISO/TS 32002, an extension of PDF 2.0: it cannot keep a PDF/A-2 claim."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    p12 = _issued_p12(test_pki, tmp_path, ed25519.Ed25519PrivateKey.generate(), "Dr. Edwin Edwards")
    out = tmp_path / "ed.pdf"
    with pytest.raises(SigningError, match=r"is PDF/A-2b, based on PDF 1\.7, and an Ed25519 signature needs PDF 2\.0"):
        sign_pdf(unsigned, out, SignatureRequest(field="sig_sponsor_1", meaning="approval"),
                 load_pkcs12_key(p12, b"pw"))
    assert not out.exists()


def test_a_signature_that_would_break_the_pdfa_claim_is_not_written(tmp_path: Path, unsigned: Path) -> None:
    """The check after signing reads the result back: a PDF 2.0 catalog or a lost XMP claim is refused."""
    from qa_builder.signing.pdfa import PdfAClaim, check_pdfa_kept

    data = unsigned.read_bytes()
    claim = PdfAClaim(part=2, conformance="B")
    assert check_pdfa_kept(data, claim) == []
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    writer.ensure_output_version((2, 0))
    from pyhanko.sign.signers import constants

    writer.register_extension(constants.ISO32002)
    out = io.BytesIO()
    writer.write(out)
    problems = check_pdfa_kept(out.getvalue(), claim)
    assert any("catalog /Version is 2.0" in p for p in problems), problems
    assert any("/ISO_ (level 32002) of PDF 2.0" in p for p in problems), problems


# --- issue 15 item 1 (signing side): renewing the archive timestamp


def _ades_offline(pdf: Path, pki: Any) -> list[str]:
    """pyHanko's ETSI EN 319 102-1 long-term validation of every /Sig, offline (embedded data only)."""
    import asyncio

    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
    from pyhanko_certvalidator.registry import SimpleTrustManager

    root = load_cert_from_pemder(str(pki.root_pem))
    spec = PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(trust_manager=SimpleTrustManager.build(trust_roots=[root]),
                                                        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO)),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY)))
    with pdf.open("rb") as handle:
        reader = PdfFileReader(handle)
        return [str(asyncio.run(ades_lta_validation(sig, spec)).ades_subindic)
                for sig in reader.embedded_signatures if sig.sig_object_type == "/Sig"]


def _doc_timestamps(pdf: Path) -> int:
    with pdf.open("rb") as handle:
        return sum(s.sig_object_type == "/DocTimeStamp" for s in PdfFileReader(handle).embedded_signatures)


def test_renewing_the_archive_timestamp_adds_one_that_verifies(tmp_path: Path, signed_pair: Path,
                                                               test_pki: Any) -> None:
    from qa_builder.signing.pades import renew_archive_timestamp

    renewed = tmp_path / "renewed.pdf"
    outcome = renew_archive_timestamp(signed_pair, renewed, test_pki.tsa_url, (test_pki.root_pem,))
    assert _doc_timestamps(signed_pair) == 1 and _doc_timestamps(renewed) == 2
    assert outcome.previous_at is not None and outcome.previous_at <= outcome.renewed_at
    tsa = test_pki.certificate("tsa")
    assert outcome.tsa_expiry == outcome.previous_tsa_expiry == tsa.not_after.replace(microsecond=0)
    assert renewed.read_bytes().startswith(signed_pair.read_bytes()), "an incremental update of the signed file"
    assert _ades_offline(renewed, test_pki) == ["AdESPassed.OK", "AdESPassed.OK"]
    with renewed.open("rb") as handle:
        for embedded in PdfFileReader(handle).embedded_signatures:
            if embedded.sig_object_type == "/DocTimeStamp":
                assert validate_pdf_timestamp(embedded, validation_context=_context(test_pki)).trusted
            else:
                assert validate_pdf_signature(embedded, _context(test_pki)).bottom_line
    pdfsig = subprocess.run(["pdfsig", str(renewed)], capture_output=True, text=True, timeout=60).stdout
    assert pdfsig.count("Signature is Valid.") == 2, pdfsig
    _assert_pdfa_2b(renewed)


def test_renewing_a_b_lt_file_gives_it_its_first_archive_timestamp(tmp_path: Path, unsigned: Path,
                                                                   test_pki: Any) -> None:
    from qa_builder.signing.pades import renew_archive_timestamp

    b_lt = tmp_path / "b-lt.pdf"
    _sign(test_pki, unsigned, b_lt, "sig_sponsor_1", "sponsor", certify=True, level="B-LT")
    renewed = tmp_path / "b-lta.pdf"
    outcome = renew_archive_timestamp(b_lt, renewed, test_pki.tsa_url, (test_pki.root_pem,))
    assert outcome.previous_at is None and _doc_timestamps(renewed) == 1
    assert _ades_offline(renewed, test_pki) == ["AdESPassed.OK"]


def test_renewal_refuses_what_it_cannot_do(tmp_path: Path, unsigned: Path, signed_pair: Path, test_pki: Any) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from qa_builder.signing.pades import renew_archive_timestamp

    with pytest.raises(SigningError, match="has no signature whose proof of existence could be renewed"):
        renew_archive_timestamp(unsigned, tmp_path / "a.pdf", test_pki.tsa_url, (test_pki.root_pem,))
    with pytest.raises(SigningError, match="needs a timestamp authority"):
        renew_archive_timestamp(signed_pair, tmp_path / "b.pdf", None, (test_pki.root_pem,))
    not_a_pdf = tmp_path / "random.bin"
    not_a_pdf.write_bytes(bytes(range(256)) * 12)
    from qa_builder.errors import SigningInputError

    # attack round 9: "its XMP metadata cannot be read (Illegal PDF header)", exit 1, where sign says exit 2
    with pytest.raises(SigningInputError, match=r"random\.bin: is not a readable PDF"):
        renew_archive_timestamp(not_a_pdf, tmp_path / "d.pdf", test_pki.tsa_url, (test_pki.root_pem,))
    import datetime as dt

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some other root")])
    now = dt.datetime.now(dt.UTC)
    other = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
             .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .sign(key, hashes.SHA256()))
    other_root = tmp_path / "other-root.pem"
    other_root.write_bytes(other.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(SigningError, match=r"the newest archive timestamp \(.* UTC\) does not validate now"):
        renew_archive_timestamp(signed_pair, tmp_path / "c.pdf", test_pki.tsa_url, (other_root,))
    assert not list(tmp_path.glob("?.pdf"))


def test_renewal_from_the_cli(tmp_path: Path, signed_pair: Path, test_pki: Any) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "qa_builder", "sign", str(signed_pair), *args],
                              capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=120)

    out = tmp_path / "renewed.pdf"
    done = cli("--renew-archive-timestamp", "-o", str(out), "--tsa", test_pki.tsa_url, "--trust",
               str(test_pki.root_pem))
    assert done.returncode == 0, done.stderr
    assert "previous archive timestamp:" in done.stdout and "renewed the archive timestamp at" in done.stdout
    assert f"renew again before {test_pki.certificate('tsa').not_after:%Y-%m-%d}" in done.stdout
    assert _doc_timestamps(out) == 2
    mixed = cli("--renew-archive-timestamp", "-o", str(tmp_path / "x.pdf"), "--field", "sig_sponsor_1",
                "--tsa", test_pki.tsa_url, "--trust", str(test_pki.root_pem))
    assert mixed.returncode == 2 and "adds no signature; drop --field" in mixed.stderr, mixed.stderr


# --- walk (session 6): what a new user tried from the command line ----------------------------------------------


def test_sign_cli_checks_revocation_whenever_the_trust_root_is_given_and_refuses_a_tsa_at_b_b(
        tmp_path: Path, unsigned: Path, test_pki: Any) -> None:
    """With --trust the revocation status can be checked, so a revoked signer is refused at B-B and B-T too (it
    signed before unless --check-revocation was also given); --tsa at B-B made a B-T signature reported as B-B."""
    def cli(signer: str, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "qa_builder", "sign", str(unsigned), "-o", str(tmp_path / name),
                               "--field", "sig_sponsor_1", "--meaning", "approval", "--key", str(test_pki.p12(signer)),
                               "--passphrase-file", str(test_pki.passphrase_file), *extra],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)

    trust = ("--trust", str(test_pki.root_pem))
    for name, extra in (("b-b.pdf", trust), ("b-t.pdf", ("--level", "B-T", "--tsa", test_pki.tsa_url, *trust))):
        result = cli("revoked", name, *extra)
        assert result.returncode == 2 and "is revoked" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    tsa_at_b_b = cli("sponsor", "tsa-b-b.pdf", "--level", "B-B", "--tsa", test_pki.tsa_url)
    assert tsa_at_b_b.returncode == 2, tsa_at_b_b.stderr
    assert "level B-B has no timestamp, but a timestamp authority was given" in tsa_at_b_b.stderr
    assert not list(tmp_path.glob("*.pdf"))
    good = cli("sponsor", "good.pdf", "--level", "B-T", "--tsa", test_pki.tsa_url, *trust)
    assert good.returncode == 0 and "level B-T" in good.stdout, good.stderr


def test_renewing_a_b_t_file_adds_its_signature_validation_data_first(tmp_path: Path, unsigned: Path,
                                                                      test_pki: Any) -> None:
    """A B-T file renewed got a document timestamp and the TSA's data but not the signer's revocation data, and was
    reported "renewed" while it verified INDETERMINATE offline; a B-B file has no time to keep."""
    from qa_builder.signing.pades import renew_archive_timestamp
    from qa_builder.verify.pdf import offline_problems

    b_t = tmp_path / "b-t.pdf"
    _sign(test_pki, unsigned, b_t, "sig_sponsor_1", "sponsor", certify=True, level="B-T")
    assert offline_problems(b_t.read_bytes(), "sig_sponsor_1", (test_pki.root_pem,)), "B-T: no revocation data yet"
    renewed = tmp_path / "renewed.pdf"
    outcome = renew_archive_timestamp(b_t, renewed, test_pki.tsa_url, (test_pki.root_pem,))
    assert outcome.previous_at is None and _doc_timestamps(renewed) == 1
    assert offline_problems(renewed.read_bytes(), "sig_sponsor_1", (test_pki.root_pem,)) == []
    assert _ades_offline(renewed, test_pki) == ["AdESPassed.OK"]
    _assert_pdfa_2b(renewed)

    b_b = tmp_path / "b-b.pdf"
    _sign(test_pki, unsigned, b_b, "sig_sponsor_1", "sponsor", certify=True, level="B-B")
    with pytest.raises(SigningError, match=r"the signature in 'sig_sponsor_1' has no signature timestamp \(level "
                                           r"B-B\)"):
        renew_archive_timestamp(b_b, tmp_path / "never.pdf", test_pki.tsa_url, (test_pki.root_pem,))
    assert not (tmp_path / "never.pdf").exists()


def test_a_revoked_certificate_is_refused_at_b_b_whenever_trust_roots_are_given(tmp_path: Path, unsigned: Path,
                                                                               test_pki: Any) -> None:
    """The signing library (and so the web sign page, which passes `serve --trust`) refuses it too, not only the
    CLI: with trust roots the revocation status can be checked."""
    request = SignatureRequest(field="sig_sponsor_1", meaning="approval", trust_roots=(test_pki.root_pem,))
    with pytest.raises(SigningError, match="is revoked"):
        sign_pdf(unsigned, tmp_path / "r.pdf", request, _key(test_pki, "revoked"))
    assert not (tmp_path / "r.pdf").exists()
    assert sign_pdf(unsigned, tmp_path / "g.pdf", request, _key(test_pki, "sponsor")).level == "B-B"

"""Test PKI and its loopback TSA / OCSP / CRL services, checked with openssl, pyHanko and pyhanko-certvalidator."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from qa_builder.errors import InputError, OutputExistsError
from qa_builder.testing import pki as tp
from qa_builder.testing import services as ts

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def fetch(url: str, data: bytes | None = None, content_type: str | None = None) -> tuple[int, str, bytes]:
    """HTTP GET or POST with urllib: (status, content type, body), also for error statuses."""
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tp.TestPki:
    """A fresh test PKI on a free port."""
    return tp.create_test_pki(tmp_path_factory.mktemp("pki") / "test-pki", port=free_port())


@pytest.fixture(scope="module")
def server(pki: tp.TestPki) -> Iterator[ts.TestPkiServer]:
    """The PKI's services, running for the module, stopped afterwards."""
    with ts.TestPkiServer(pki) as running:
        yield running


@pytest.fixture(scope="module")
def certs(pki: tp.TestPki) -> dict[str, x509.Certificate]:
    """Every certificate of the PKI, read from its PKCS#12 file with cryptography's loader."""
    found: dict[str, x509.Certificate] = {}
    for entry in pki.certificates:
        _, cert, _ = pkcs12.load_key_and_certificates(pki.p12(entry.name).read_bytes(), pki.passphrase())
        assert cert is not None
        found[entry.name] = cert
    return found


@pytest.fixture(scope="module")
def pems(certs: dict[str, x509.Certificate], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each certificate as a PEM file outside the PKI directory."""
    folder = tmp_path_factory.mktemp("pems")
    paths = {}
    for name, cert in certs.items():
        paths[name] = folder / f"{name}.pem"
        paths[name].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return paths


# --- the files -------------------------------------------------------------------------------------------------------


def test_files_passphrase_and_no_plain_private_keys(pki: tp.TestPki) -> None:
    assert stat.S_IMODE(pki.passphrase_file.stat().st_mode) == 0o600
    passphrase = pki.passphrase()
    assert len(passphrase) == 24 and passphrase.isalnum()
    expected = {"root-ca", "intermediate-ca", "sponsor", "contract-acceptor", "expired", "not-yet-valid",
                "no-nonrepudiation", "revoked", "tsa", "ocsp"}
    assert {p.stem for p in pki.directory.glob("*.p12")} == expected
    for path in pki.directory.rglob("*"):
        data = path.read_bytes()
        assert b"PRIVATE KEY" not in data, path
        assert passphrase not in data or path == pki.passphrase_file, path
        if path.suffix == ".p12":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            with pytest.raises(ValueError):
                pkcs12.load_key_and_certificates(data, b"wrong passphrase")
            with pytest.raises(ValueError):
                pkcs12.load_key_and_certificates(data, None)
    # openssl agrees the PKCS#12 key bag is encrypted and opens with the passphrase
    out = run("openssl", "pkcs12", "-info", "-noout", "-in", pki.p12("sponsor"), "-passin",
              f"file:{pki.passphrase_file}")
    assert "PBES2" in out.stderr and "AES-256-CBC" in out.stderr


def test_load_round_trip_and_refusals(pki: tp.TestPki, tmp_path: Path) -> None:
    assert tp.load_test_pki(pki.directory) == pki
    assert pki.signers == ("sponsor", "contract-acceptor", "expired", "not-yet-valid", "no-nonrepudiation", "revoked")
    assert pki.tsa_url == f"{pki.base_url}/tsa" and pki.ocsp_url == f"{pki.base_url}/ocsp"
    assert pki.crl_urls["intermediate"] == f"{pki.base_url}/crl/intermediate.crl"
    assert [c.name for c in pki.certificates if c.revoked_at] == ["revoked"]
    with pytest.raises(OutputExistsError):
        tp.create_test_pki(pki.directory, port=1234)
    with pytest.raises(InputError, match="loopback"):
        tp.create_test_pki(tmp_path / "a", host="0.0.0.0")
    with pytest.raises(InputError, match="reserved"):
        tp.create_test_pki(tmp_path / "b", signers={"tsa": ("X", "Y", "Z")})
    with pytest.raises(InputError, match="lower-case"):
        tp.create_test_pki(tmp_path / "c", signers={"Bad Name": ("X", "Y", "Z")})
    with pytest.raises(InputError, match="no test PKI"):
        tp.load_test_pki(tmp_path / "nothing-here")


def test_custom_signers_passphrase_and_clock(tmp_path: Path) -> None:
    moment = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)
    made = tp.create_test_pki(tmp_path / "p", port=9999, passphrase=b"correct horse",
                              signers={"qp": ("Dr. A. Person", "Qualified Person", "Example Pharma S.A.")}, now=moment)
    assert made.passphrase() == b"correct horse"
    assert made.signers[0] == "qp" and "sponsor" not in made.signers
    _, cert, chain = made.load_key_and_certificates("qp")
    assert cert.not_valid_before_utc == moment - dt.timedelta(hours=1)
    assert cert.subject.get_attributes_for_oid(NameOID.TITLE)[0].value == "Qualified Person"
    expected_chain = [made.certificate("intermediate-ca").subject, made.certificate("root-ca").subject]
    assert [c.subject.rfc4514_string() for c in chain] == expected_chain


# --- certificate contents --------------------------------------------------------------------------------------------


def test_every_subject_says_test_only(certs: dict[str, x509.Certificate]) -> None:
    for name, cert in certs.items():
        assert "TEST ONLY" in cert.subject.rfc4514_string(), name
        assert cert.signature_hash_algorithm is not None and cert.signature_hash_algorithm.name == "sha256"


def test_certificate_profiles(pki: tp.TestPki, certs: dict[str, x509.Certificate]) -> None:
    def ext(name: str, kind: Any) -> Any:
        return certs[name].extensions.get_extension_for_class(kind)

    sponsor = certs["sponsor"]
    subject = {a.oid: a.value for a in sponsor.subject}
    assert subject[NameOID.COMMON_NAME] == "Dr. Ilse Verhoeven"
    assert subject[NameOID.TITLE] == "Head of Quality Operations"
    assert subject[NameOID.ORGANIZATION_NAME] == "Norvale Pharmaceuticals B.V."
    assert subject[NameOID.ORGANIZATIONAL_UNIT_NAME] == "TEST ONLY — not for production"
    assert subject[NameOID.COUNTRY_NAME] == "NL"
    assert certs["contract-acceptor"].subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "DE"
    ku = ext("sponsor", x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_encipherment
    aia = {d.access_method: d.access_location.value for d in ext("sponsor", x509.AuthorityInformationAccess).value}
    assert aia[x509.oid.AuthorityInformationAccessOID.OCSP] == pki.ocsp_url
    assert aia[x509.oid.AuthorityInformationAccessOID.CA_ISSUERS] == f"{pki.base_url}/certs/intermediate-ca.crt"
    dp = ext("sponsor", x509.CRLDistributionPoints).value[0].full_name[0].value
    assert dp == pki.crl_urls["intermediate"]
    validity = sponsor.not_valid_after_utc - sponsor.not_valid_before_utc
    assert validity == dt.timedelta(days=730)

    bad_ku = ext("no-nonrepudiation", x509.KeyUsage).value
    assert bad_ku.key_encipherment and not bad_ku.digital_signature and not bad_ku.content_commitment

    basic = ext("intermediate-ca", x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    assert ext("root-ca", x509.BasicConstraints).value.ca
    root = certs["root-ca"]
    assert root.not_valid_after_utc - root.not_valid_before_utc >= dt.timedelta(days=3652)

    tsa_eku = ext("tsa", x509.ExtendedKeyUsage)
    assert tsa_eku.critical and list(tsa_eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert list(ext("ocsp", x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert ext("ocsp", x509.OCSPNoCheck) is not None

    now = dt.datetime.now(dt.UTC)
    assert certs["expired"].not_valid_after_utc < now
    assert certs["not-yet-valid"].not_valid_before_utc > now


def test_openssl_verifies_the_chain(pki: tp.TestPki, pems: dict[str, Path]) -> None:
    base = ("openssl", "verify", "-CAfile", pki.root_pem, "-untrusted", pki.intermediate_pem)
    for name in ("sponsor", "contract-acceptor", "tsa", "ocsp", "revoked", "no-nonrepudiation"):
        assert run(*base, pems[name]).stdout.strip().endswith(": OK"), name
    expired = run(*base, pems["expired"], check=False)
    assert expired.returncode != 0 and "certificate has expired" in expired.stdout + expired.stderr
    early = run(*base, pems["not-yet-valid"], check=False)
    assert early.returncode != 0 and "not yet valid" in early.stdout + early.stderr


# --- the services ----------------------------------------------------------------------------------------------------


def test_server_binds_loopback_and_404s(
    pki: tp.TestPki, server: ts.TestPkiServer, certs: dict[str, x509.Certificate]
) -> None:
    assert server.address is not None and server.address[0] == "127.0.0.1"
    assert server.url == pki.base_url
    status, kind, body = fetch(f"{pki.base_url}/certs/root-ca.crt")
    assert status == 200 and kind == "application/pkix-cert"
    assert body == certs["root-ca"].public_bytes(serialization.Encoding.DER)
    status, _, body = fetch(f"{pki.base_url}/certs/intermediate-ca.crt")
    assert x509.load_der_x509_certificate(body) == certs["intermediate-ca"]
    for path in ("/", "/certs/sponsor.crt", "/certs/../PASSPHRASE", "/PASSPHRASE", "/pki.json", "/crl/other.crl",
                 "/sponsor.p12", "/tsa"):
        assert fetch(pki.base_url + path)[0] == 404, path
    assert fetch(f"{pki.base_url}/elsewhere", b"x", "application/timestamp-query")[0] == 404
    assert fetch(pki.tsa_url, b"x", "text/plain")[0] == 415


def test_tsa_with_openssl(pki: tp.TestPki, server: ts.TestPkiServer, pems: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "x"
    data.write_bytes(b"Quality Agreement QA-2026-001\n")
    query = tmp_path / "req.tsq"
    run("openssl", "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query)
    status, kind, body = fetch(pki.tsa_url, query.read_bytes(), "application/timestamp-query")
    assert status == 200 and kind == "application/timestamp-reply"
    reply = tmp_path / "resp.tsr"
    reply.write_bytes(body)
    text = run("openssl", "ts", "-reply", "-in", reply, "-text").stdout
    assert "Status: Granted." in text and f"Policy OID: {ts.TSA_POLICY}" in text
    trust = ("-CAfile", pki.root_pem, "-untrusted", pki.intermediate_pem)
    verified = run("openssl", "ts", "-verify", "-data", data, "-in", reply, *trust)
    assert "Verification: OK" in verified.stdout
    # against the query: checks the imprint and that the nonce is echoed
    assert "Verification: OK" in run("openssl", "ts", "-verify", "-queryfile", query, "-in", reply, *trust).stdout
    other = tmp_path / "other"
    other.write_bytes(b"something else")
    tampered = run("openssl", "ts", "-verify", "-data", other, "-in", reply, *trust, check=False)
    assert "Verification: FAILED" in tampered.stdout + tampered.stderr

    # certReq honoured: the token carries the TSA certificate and its issuer...
    token = tsp.TimeStampResp.load(body)["time_stamp_token"]["content"]
    subjects = {c.chosen.subject.human_friendly for c in token["certificates"]}
    assert any("Time-Stamping Authority" in s for s in subjects) and any("Issuing CA" in s for s in subjects)
    # ...and without -cert it carries none, so the verifier supplies the TSA certificate
    bare_query = tmp_path / "bare.tsq"
    run("openssl", "ts", "-query", "-data", data, "-sha256", "-out", bare_query)
    _, _, bare = fetch(pki.tsa_url, bare_query.read_bytes(), "application/timestamp-query")
    assert tsp.TimeStampResp.load(bare)["time_stamp_token"]["content"]["certificates"].native is None
    bare_reply = tmp_path / "bare.tsr"
    bare_reply.write_bytes(bare)
    chain = tmp_path / "tsa-chain.pem"
    chain.write_bytes(pems["tsa"].read_bytes() + pki.intermediate_pem.read_bytes())
    ok = run("openssl", "ts", "-verify", "-queryfile", bare_query, "-in", bare_reply, "-CAfile", pki.root_pem,
             "-untrusted", chain)
    assert "Verification: OK" in ok.stdout


def test_tsa_rejects_bad_requests(pki: tp.TestPki, server: ts.TestPkiServer) -> None:
    def status_of(body: bytes) -> tuple[str, set[str]]:
        info = tsp.PKIStatusInfo.load(body[2:])  # SEQUENCE { PKIStatusInfo }, short form length
        return info["status"].native, info["fail_info"].native

    status, kind, body = fetch(pki.tsa_url, b"not DER at all", "application/timestamp-query")
    assert status == 200 and kind == "application/timestamp-reply"
    assert status_of(body) == ("rejection", {"bad_data_format"})
    md5 = tsp.TimeStampReq({"version": "v1", "message_imprint": {"hash_algorithm": {"algorithm": "md5"},
                                                                 "hashed_message": b"0" * 16}}).dump()
    assert status_of(fetch(pki.tsa_url, md5, "application/timestamp-query")[2]) == ("rejection", {"bad_alg"})
    short = tsp.TimeStampReq({"version": "v1", "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                                                   "hashed_message": b"0" * 20}}).dump()
    assert status_of(fetch(pki.tsa_url, short, "application/timestamp-query")[2])[1] == {"bad_data_format"}


def test_pyhanko_http_timestamper(
    pki: tp.TestPki, server: ts.TestPkiServer, certs: dict[str, x509.Certificate]
) -> None:
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    digest = hashlib.sha256(b"the signed bytes").digest()
    root = asn1_x509.Certificate.load(certs["root-ca"].public_bytes(serialization.Encoding.DER))

    async def scenario() -> tuple[Any, dict[str, Any]]:
        token = await HTTPTimeStamper(pki.tsa_url).async_timestamp(digest, "sha256")
        vc = ValidationContext(trust_roots=[root], allow_fetching=True, revocation_mode="require")
        try:
            status = await validate_tst_signed_data(token["content"], vc, lambda _algo: digest)
        finally:
            await vc.aclose()
        return token, status

    token, status = asyncio.run(scenario())
    assert isinstance(token, cms.ContentInfo)
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert abs(info["gen_time"].native - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert status["intact"] and status["valid"] and status["trust_problem_indic"] is None


def test_ocsp_with_openssl(pki: tp.TestPki, server: ts.TestPkiServer, pems: dict[str, Path],
                           certs: dict[str, x509.Certificate]) -> None:
    def ask(*target: str | Path) -> str:
        result = run("openssl", "ocsp", "-issuer", pki.intermediate_pem, *target, "-url", pki.ocsp_url,
                     "-CAfile", pki.root_pem)
        assert "Response verify OK" in result.stderr + result.stdout
        return result.stdout

    assert f"{pems['sponsor']}: good" in ask("-cert", pems["sponsor"])
    assert f"{pems['contract-acceptor']}: good" in ask("-cert", pems["contract-acceptor"])
    revoked = ask("-cert", pems["revoked"])
    assert f"{pems['revoked']}: revoked" in revoked and "Reason: keyCompromise" in revoked
    assert "0x1234: unknown" in ask("-serial", "0x1234")

    # GET form (RFC 6960 §A.1), without a nonce
    request = (ocsp.OCSPRequestBuilder().add_certificate(certs["revoked"], certs["intermediate-ca"], hashes.SHA256())
               .build().public_bytes(serialization.Encoding.DER))
    encoded = urllib.parse.quote(base64.b64encode(request).decode(), safe="")
    status, kind, body = fetch(f"{pki.ocsp_url}/{encoded}")
    assert status == 200 and kind == "application/ocsp-response"
    answer = ocsp.load_der_ocsp_response(body)
    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.key_compromise
    assert answer.serial_number == certs["revoked"].serial_number
    responder_key = answer.certificates[0].public_key()
    assert isinstance(responder_key, ec.EllipticCurvePublicKey)
    responder_key.verify(answer.signature, answer.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    assert answer.certificates[0] == certs["ocsp"]
    # a certificate of another issuer (the intermediate, issued by the root) is not this responder's business
    foreign = (ocsp.OCSPRequestBuilder().add_certificate(certs["intermediate-ca"], certs["root-ca"], hashes.SHA1())
               .build().public_bytes(serialization.Encoding.DER))
    _, _, body = fetch(pki.ocsp_url, foreign, "application/ocsp-request")
    assert ocsp.load_der_ocsp_response(body).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    _, _, body = fetch(pki.ocsp_url, b"garbage", "application/ocsp-request")
    assert ocsp.load_der_ocsp_response(body).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_crls_with_openssl(pki: tp.TestPki, server: ts.TestPkiServer, certs: dict[str, x509.Certificate],
                           tmp_path: Path) -> None:
    bundle = tmp_path / "cas.pem"
    bundle.write_bytes(pki.root_pem.read_bytes() + pki.intermediate_pem.read_bytes())
    for which, url in pki.crl_urls.items():
        status, kind, body = fetch(url)
        assert status == 200 and kind == "application/pkix-crl"
        path = tmp_path / f"{which}.crl"
        path.write_bytes(body)
        result = run("openssl", "crl", "-inform", "DER", "-in", path, "-noout", "-text", "-CAfile", bundle)
        assert "verify OK" in result.stderr + result.stdout
        text = result.stdout
        revoked_hex = f"{certs['revoked'].serial_number:X}"
        revoked_hex = revoked_hex if len(revoked_hex) % 2 == 0 else "0" + revoked_hex
        if which == "intermediate":
            assert "Issuing CA" in text and f"Serial Number: {revoked_hex}" in text and "Key Compromise" in text
            assert f"{certs['sponsor'].serial_number:X}" not in text
        else:
            assert "Root CA" in text and "No Revoked Certificates" in text
        crl = x509.load_der_x509_crl(body)
        assert crl.next_update_utc is not None and crl.next_update_utc > dt.datetime.now(dt.UTC)
    first = x509.load_der_x509_crl(fetch(pki.crl_urls["intermediate"])[2])
    second = x509.load_der_x509_crl(fetch(pki.crl_urls["intermediate"])[2])
    number = x509.CRLNumber
    assert (second.extensions.get_extension_for_class(number).value.crl_number
            > first.extensions.get_extension_for_class(number).value.crl_number)


# --- path validation with live revocation checking -------------------------------------------------------------------


def _validate(certs: dict[str, x509.Certificate], name: str, usage: set[str]) -> tuple[Any, Any]:
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    def asn1(cert: x509.Certificate) -> Any:
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    async def scenario() -> tuple[Any, Any]:
        vc = ValidationContext(trust_roots=[asn1(certs["root-ca"])], allow_fetching=True, revocation_mode="require")
        validator = CertificateValidator(asn1(certs[name]), intermediate_certs=[asn1(certs["intermediate-ca"])],
                                         validation_context=vc)
        try:
            return await validator.async_validate_usage(usage), vc
        finally:
            await vc.aclose()

    return asyncio.run(scenario())


def test_certvalidator_good_signers_with_live_revocation(server: ts.TestPkiServer,
                                                         certs: dict[str, x509.Certificate]) -> None:
    for name in ("sponsor", "contract-acceptor"):
        path, vc = _validate(certs, name, {"digital_signature", "non_repudiation"})
        assert len(path) == 3
        assert vc.ocsps, "the signer's status came from the live OCSP responder"
        assert vc.crls, "the intermediate's status came from the live root CRL"


def test_certvalidator_refuses_the_negative_signers(server: ts.TestPkiServer,
                                                    certs: dict[str, x509.Certificate]) -> None:
    from pyhanko_certvalidator.errors import (
        ExpiredError,
        InvalidCertificateError,
        NotYetValidError,
        RevokedError,
    )

    with pytest.raises(RevokedError, match=r"OCSP response indicates .* revoked .* compromised key"):
        _validate(certs, "revoked", {"digital_signature"})
    with pytest.raises(ExpiredError, match="expired"):
        _validate(certs, "expired", {"digital_signature"})
    with pytest.raises(NotYetValidError, match="not valid until"):
        _validate(certs, "not-yet-valid", {"digital_signature"})
    with pytest.raises(InvalidCertificateError, match="not valid for the purpose of digital signature"):
        _validate(certs, "no-nonrepudiation", {"digital_signature"})


def test_server_stops_and_frees_its_port(tmp_path: Path) -> None:
    other = tp.create_test_pki(tmp_path / "other", port=free_port())
    server = ts.TestPkiServer(other)
    with server:
        assert fetch(other.crl_urls["root"])[0] == 200
        with pytest.raises(Exception, match="Cannot serve the test PKI"):
            ts.TestPkiServer(other).start()
    assert server.address is None
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(other.crl_urls["root"], timeout=5)
    with ts.TestPkiServer(other):  # the port can be bound again at once
        assert fetch(other.crl_urls["root"])[0] == 200
    assert os.stat(other.passphrase_file).st_mode & 0o077 == 0


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_runs_in_the_foreground_until_stopped(tmp_path: Path, stop_signal: signal.Signals) -> None:
    other = tp.create_test_pki(tmp_path / "served", port=free_port())
    code = "import sys; from qa_builder.testing import pki as testpki, services as s; " \
           "s.serve(testpki.load_test_pki(sys.argv[1]))"
    with subprocess.Popen(  # SIGINT back to its default, as in a terminal (a background job ignores it)
        [sys.executable, "-c", code, str(other.directory)], stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as process:
        try:
            assert process.stderr is not None
            banner = process.stderr.readline()
            assert "Serving the TEST ONLY PKI on" in banner and other.tsa_url in banner
            assert fetch(other.crl_urls["intermediate"])[0] == 200
            process.send_signal(stop_signal)
            assert process.wait(timeout=10) == 0
            assert "Stopped" in process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(other.crl_urls["root"], timeout=5)

"""Loopback HTTP services for the TEST PKI: an RFC 3161 TSA, an OCSP responder, CRLs and the CA certificates."""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import logging
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any

from asn1crypto import cms, tsp  # type: ignore[import-untyped, unused-ignore]
from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped, unused-ignore]
from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped, unused-ignore]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko_certvalidator.registry import SimpleCertificateStore

from qa_builder.errors import InputError, QABuilderError
from qa_builder.testing.pki import (
    INTERMEDIATE_NAME,
    OCSP_NAME,
    ROOT_NAME,
    TSA_NAME,
    PrivateKey,
    TestPki,
)

logger = logging.getLogger(__name__)

BIND_HOST = "127.0.0.1"
TSA_POLICY = "2.999.3161.1"
"""Policy OID of the test TSA (under the ITU-T "example" arc 2.999: it means nothing outside tests)."""

MAX_REQUEST_BYTES = 64 * 1024
CRL_LIFETIME = dt.timedelta(days=1)
OCSP_LIFETIME = dt.timedelta(hours=12)

_TSA_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64, "sha3_256": 32, "sha3_384": 48, "sha3_512": 64}
_OCSP_HASHES = {"sha1", "sha224", "sha256", "sha384", "sha512"}


class _Authority:
    """The keys and the answers of the test PKI services, independent of HTTP."""

    def __init__(self, pki: TestPki) -> None:
        self.pki = pki
        root_key, root_cert, _ = pki.load_key_and_certificates(ROOT_NAME)
        inter_key, inter_cert, _ = pki.load_key_and_certificates(INTERMEDIATE_NAME)
        tsa_key, tsa_cert, _ = pki.load_key_and_certificates(TSA_NAME)
        ocsp_key, ocsp_cert, _ = pki.load_key_and_certificates(OCSP_NAME)
        self._crl_issuers: dict[str, tuple[PrivateKey, x509.Certificate]] = {
            "root": (root_key, root_cert),
            "intermediate": (inter_key, inter_cert),
        }
        self.ca_certs: dict[str, bytes] = {
            f"{ROOT_NAME}.crt": root_cert.public_bytes(serialization.Encoding.DER),
            f"{INTERMEDIATE_NAME}.crt": inter_cert.public_bytes(serialization.Encoding.DER),
        }
        self._inter_cert = inter_cert
        self._inter_spki_bits = _public_key_bits(inter_cert)
        self._ocsp_key = ocsp_key
        self._ocsp_cert = ocsp_cert
        self._issued_by_intermediate = {c.serial for c in pki.certificates if c.issuer == INTERMEDIATE_NAME}
        self._revoked = {c.serial: c.revoked_at for c in pki.certificates if c.revoked_at is not None}
        self._tsa_cert = asn1_x509.Certificate.load(tsa_cert.public_bytes(serialization.Encoding.DER))
        self._tsa_chain = [asn1_x509.Certificate.load(self.ca_certs[f"{INTERMEDIATE_NAME}.crt"])]
        self._tsa_key = asn1_keys.PrivateKeyInfo.load(
            tsa_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self._crl_lock = threading.Lock()
        self._crl_number = 0

    # --- CRLs ---

    def crl(self, which: str) -> bytes:
        """A freshly signed DER CRL of the root ("root") or the issuing CA ("intermediate")."""
        key, cert = self._crl_issuers[which]
        now = _now()
        with self._crl_lock:
            self._crl_number = max(self._crl_number + 1, int(time.time() * 1000))
            number = self._crl_number
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(cert.subject)
            .last_update(now)
            .next_update(now + CRL_LIFETIME)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .add_extension(x509.CRLNumber(number), critical=False)
        )
        if which == "intermediate":
            for serial, revoked_at in sorted(self._revoked.items()):
                assert revoked_at is not None
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder()
                    .serial_number(serial)
                    .revocation_date(revoked_at)
                    .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                    .build()
                )
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    # --- OCSP ---

    def ocsp(self, request_der: bytes) -> bytes:
        """The DER OCSPResponse to a DER OCSPRequest (RFC 6960), signed by the delegated responder."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            algorithm = request.hash_algorithm
        except (ValueError, TypeError, x509.UnsupportedGeneralNameType) as exc:
            logger.info("OCSP: malformed request (%s)", type(exc).__name__)
            return _ocsp_error(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        if algorithm.name not in _OCSP_HASHES:
            return _ocsp_error(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        name_hash = hashlib.new(algorithm.name, self._inter_cert.subject.public_bytes()).digest()
        key_hash = hashlib.new(algorithm.name, self._inter_spki_bits).digest()
        if (request.issuer_name_hash, request.issuer_key_hash) != (name_hash, key_hash):
            logger.info("OCSP: request for a certificate of another issuer -> unauthorized")
            return _ocsp_error(ocsp.OCSPResponseStatus.UNAUTHORIZED)

        serial = request.serial_number
        revoked_at = self._revoked.get(serial)
        if revoked_at is not None:
            status, reason = ocsp.OCSPCertStatus.REVOKED, x509.ReasonFlags.key_compromise
        elif serial in self._issued_by_intermediate:
            status, reason = ocsp.OCSPCertStatus.GOOD, None
        else:
            status, reason = ocsp.OCSPCertStatus.UNKNOWN, None
        logger.info("OCSP: serial %X -> %s", serial, status.name.lower())
        now = _now()
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=serial,
                algorithm=algorithm,
                cert_status=status,
                this_update=now,
                next_update=now + OCSP_LIFETIME,
                revocation_time=revoked_at,
                revocation_reason=reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self._ocsp_cert)
            .certificates([self._ocsp_cert, self._inter_cert])
        )
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value
        except x509.ExtensionNotFound:
            pass
        else:
            builder = builder.add_extension(x509.OCSPNonce(nonce.nonce), critical=False)
        return builder.sign(self._ocsp_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    # --- RFC 3161 TSA ---

    def timestamp(self, request_der: bytes) -> bytes:
        """The DER TimeStampResp to a DER TimeStampReq (RFC 3161): granted with a token, or a rejection."""
        try:
            request = tsp.TimeStampReq.load(request_der, strict=True)
            _ = request.native  # asn1crypto parses lazily: force the whole structure now
            imprint = request["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
        except (ValueError, TypeError, KeyError) as exc:
            logger.info("TSA: malformed request (%s)", type(exc).__name__)
            return _tsa_rejection("bad_data_format", "The request is not a DER TimeStampReq.")
        if request["version"].native != "v1":
            return _tsa_rejection("bad_request", "Only TimeStampReq version 1 is supported.")
        if _TSA_DIGEST_SIZES.get(algorithm) is None:
            return _tsa_rejection("bad_alg", f"Hash algorithm {algorithm} is not accepted.")
        if len(digest) != _TSA_DIGEST_SIZES[algorithm]:
            return _tsa_rejection("bad_data_format", f"The message imprint is not a {algorithm} digest.")
        policy = request["req_policy"].native
        if policy is not None and policy != TSA_POLICY:
            return _tsa_rejection("unaccepted_policy", f"Only policy {TSA_POLICY} is offered.")
        if request["extensions"].native:
            return _tsa_rejection("unaccepted_extensions", "No request extensions are supported.")

        now = dt.datetime.now(dt.UTC)
        tst_info: dict[str, Any] = {
            "version": "v1",
            "policy": TSA_POLICY,
            "message_imprint": imprint,
            "serial_number": secrets.randbits(63),
            "gen_time": now,
            "accuracy": {"seconds": 1},
            "tsa": asn1_x509.GeneralName(name="directory_name", value=self._tsa_cert.subject),
        }
        nonce = request["nonce"].native
        if nonce is not None:
            tst_info["nonce"] = nonce
        cert_req = bool(request["cert_req"].native)
        content = cms.EncapsulatedContentInfo(
            {"content_type": "tst_info", "content": cms.ParsableOctetString(tsp.TSTInfo(tst_info).dump())}
        )
        signer = SimpleSigner(
            signing_cert=self._tsa_cert,
            signing_key=self._tsa_key,
            cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call, unused-ignore]
                self._tsa_chain if cert_req else []
            ),
        )
        token = asyncio.run(
            signer.async_sign_general_data(
                content, "sha256", detached=False, signed_attr_settings=PdfCMSSignedAttributes(signing_time=now)
            )
        )
        if not cert_req:
            # RFC 3161 §2.4.1: without certReq the TSA's certificate must not be in the token.
            signed = token["content"]
            token = cms.ContentInfo(
                {
                    "content_type": "signed_data",
                    "content": cms.SignedData(
                        {
                            "version": signed["version"],
                            "digest_algorithms": signed["digest_algorithms"],
                            "encap_content_info": signed["encap_content_info"],
                            "signer_infos": signed["signer_infos"],
                        }
                    ),
                }
            )
        logger.info("TSA: granted %s token (certReq=%s)", algorithm, cert_req)
        reply: bytes = tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()
        return reply


def _now() -> dt.datetime:
    """Issue time of OCSP responses and CRLs, backdated a minute as real responders do against clock skew."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING value (what an OCSP CertID's issuerKeyHash hashes)."""
    spki = asn1_keys.PublicKeyInfo.load(
        cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    bits: bytes = spki["public_key"].contents[1:]  # skip the "unused bits" octet
    return bits


def _ocsp_error(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def _tsa_rejection(failure: str, text: str) -> bytes:
    """A TimeStampResp with status rejection and no token (built by hand: asn1crypto insists on a token)."""
    status = tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": [text], "fail_info": tsp.PKIFailureInfo({failure})}
    ).dump()
    logger.info("TSA: rejected (%s)", failure)
    return _der_sequence(status)


def _der_sequence(content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        header = bytes([0x30, length])
    else:
        size = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([0x30, 0x80 | len(size)]) + size
    return header + content


# --- HTTP ----------------------------------------------------------------------------------------------------------


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], authority: _Authority) -> None:
        self.authority = authority
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server_version = "qa-builder-test-pki/1"
    sys_version = ""
    server: _HttpServer

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        authority = self.server.authority
        if path in ("/crl/root.crl", "/crl/intermediate.crl"):
            which = path.removeprefix("/crl/").removesuffix(".crl")
            self._guarded(lambda: self._reply(authority.crl(which), "application/pkix-crl"))
        elif path.startswith("/certs/") and path.removeprefix("/certs/") in authority.ca_certs:
            self._reply(authority.ca_certs[path.removeprefix("/certs/")], "application/pkix-cert")
        elif path.startswith("/ocsp/") and len(path) > len("/ocsp/"):
            encoded = urllib.parse.unquote(path.removeprefix("/ocsp/"))
            try:
                request = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=True)
            except (binascii.Error, ValueError):
                self._reply(_ocsp_error(ocsp.OCSPResponseStatus.MALFORMED_REQUEST), "application/ocsp-response")
                return
            self._guarded(lambda: self._reply(authority.ocsp(request), "application/ocsp-response"))
        else:
            self._not_found()

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path not in ("/tsa", "/ocsp"):
            self._not_found()
            return
        body = self._body()
        if body is None:
            return
        authority = self.server.authority
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if path == "/tsa":
            if content_type != "application/timestamp-query":
                self._fail(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "expected application/timestamp-query")
                return
            self._guarded(lambda: self._reply(authority.timestamp(body), "application/timestamp-reply"))
        else:
            if content_type != "application/ocsp-request":
                self._fail(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "expected application/ocsp-request")
                return
            self._guarded(lambda: self._reply(authority.ocsp(body), "application/ocsp-response"))

    def _body(self) -> bytes | None:
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self._fail(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            return None
        length = int(length_text)
        if length > MAX_REQUEST_BYTES:
            self._fail(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large")
            return None
        return self.rfile.read(length)

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            logger.exception("Test PKI service failed on %s %s", self.command, self.path[:80])
            self._fail(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

    def _reply(self, data: bytes, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self) -> None:
        self._fail(HTTPStatus.NOT_FOUND, "not found")

    def _fail(self, status: HTTPStatus, text: str) -> None:
        data = f"{status.value} {text}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class TestPkiServer:
    """The test PKI services (TSA, OCSP, CRLs, CA certificates) on 127.0.0.1, served from a daemon thread.

    Use as a context manager, or call `start` and `stop`. The port is the one in the PKI's base URL, so the
    AIA and CRL distribution point URLs in its certificates reach this server.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, pki: TestPki) -> None:
        """Prepare (but do not start) the services of `pki`.

        Args:
            pki: The test PKI whose keys sign the answers.

        Raises:
            InputError: The PKI's base URL is not an http URL on 127.0.0.1 or localhost.
        """
        self.pki = pki
        self.url = pki.base_url
        parts = urllib.parse.urlsplit(pki.base_url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
            raise InputError(f"The test PKI base URL {pki.base_url!r} must be http://127.0.0.1:<port>.")
        self.port: int = parts.port
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        """The (host, port) the server is bound to, or None while stopped."""
        if self._httpd is None:
            return None
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Load the keys, bind 127.0.0.1:<port> and serve in a daemon thread (no-op if already started).

        Raises:
            QABuilderError: The port is taken, or the PKI files cannot be opened.
        """
        if self._httpd is not None:
            return
        authority = _Authority(self.pki)
        try:
            httpd = _HttpServer((BIND_HOST, self.port), authority)
        except OSError as exc:
            raise QABuilderError(
                f"Cannot serve the test PKI on {BIND_HOST}:{self.port}: {exc.strerror or exc}. "
                "Is another server using the port?"
            ) from exc
        thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name=f"test-pki-{self.port}", daemon=True
        )
        self._httpd, self._thread = httpd, thread
        thread.start()
        logger.info("Test PKI services listening on %s", self.url)

    def stop(self) -> None:
        """Stop serving and release the port (no-op if not started)."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        logger.info("Test PKI services on %s stopped", self.url)

    def __enter__(self) -> TestPkiServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(pki: TestPki) -> None:
    """Serve the test PKI in the foreground until Ctrl-C or SIGTERM (for `qa-builder pki init --serve`).

    Args:
        pki: The test PKI to serve.

    Raises:
        QABuilderError: The port is taken, or the PKI files cannot be opened.
    """
    server = TestPkiServer(pki)
    server.start()
    print(
        f"Serving the TEST ONLY PKI on {pki.base_url}: TSA {pki.tsa_url}, OCSP {pki.ocsp_url}, "
        f"CRLs {pki.base_url}/crl/. Press Ctrl-C to stop.",
        file=sys.stderr,
        flush=True,
    )
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        while (thread := server._thread) is not None and thread.is_alive():
            thread.join(timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if in_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
    print("Stopped the TEST ONLY PKI services.", file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt

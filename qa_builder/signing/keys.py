"""Signing keys: PKCS#12 files (and later PKCS#11 tokens), checked before any signature is made."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import pkcs12 as asn1_pkcs12
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.sign.signers import Signer, SimpleSigner
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from qa_builder.errors import SigningError, SigningInputError
from qa_builder.files import read_small_file
from qa_builder.printable import printable

MAX_KEY_FILE = 1024 * 1024
"""Bytes at most of a PKCS#12 file: a key with its chain is a few KiB."""

TITLE_OID = x509.ObjectIdentifier("2.5.4.12")


@dataclass(frozen=True)
class SignerIdentity:
    """Who a certificate names: what the signature manifestation prints."""

    common_name: str
    title: str
    organisation: str
    subject: str
    issuer_common_name: str
    serial_hex: str
    not_before: dt.datetime
    not_after: dt.datetime
    key_usages: frozenset[str]
    extended_key_usages: frozenset[str] | None = None
    """Dotted OIDs of the extended key usage extension; None when the certificate has none (any use)."""
    unmatchable_name: str = ""
    """'subject' or 'issuer' when that name cannot be compared under RFC 4518 (see `_unmatchable_name`)."""
    unmatchable_why: str = ""
    """Why that name cannot be compared, in words (see `_unmatchable_name`)."""


@dataclass(frozen=True)
class SigningKey:
    """A loaded, checked key ready to sign many documents (loaded once per process)."""

    signer: Signer
    identity: SignerIdentity
    source: str


_CACHE: dict[tuple[str, int, bytes], SigningKey] = {}
_CACHE_LOCK = threading.Lock()
_PROCESS_SECRET = secrets.token_bytes(32)  # keys the passphrase digests below; never leaves the process


def _passphrase_digest(passphrase: bytes) -> bytes:
    """A keyed digest standing for a passphrase in the cache key, so the passphrase itself is not kept."""
    return hmac.new(_PROCESS_SECRET, passphrase, hashlib.sha256).digest()


def load_pkcs12_key(path: Path, passphrase: bytes, *, at: dt.datetime | None = None, keep: bool = True) -> SigningKey:
    """Load a PKCS#12 file and check it is fit to sign at time `at` (default now).

    With `keep` (a command run by one user), the key is loaded and checked once per process, file version and
    passphrase; later calls with the same passphrase return the same signer, so batch signing does not pay for
    key loading per document. A different passphrase is always checked against the file again; the cache keeps
    only a keyed digest of it. A long-running service used by several people (the web app) passes
    `keep=False`: the unlocked key is then used once and never kept.

    Raises:
        SigningError: file missing or not PKCS#12, wrong passphrase, key not matching the certificate,
            certificate expired or not yet valid, or lacking digitalSignature / nonRepudiation key usage.
    """
    try:
        data = read_small_file(path, MAX_KEY_FILE)  # a FIFO or device is refused, not waited on
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise SigningInputError(f"{path}: key file not found") from exc
    except OSError as exc:
        raise SigningInputError(f"{path}: cannot be read ({exc.strerror})") from exc
    if not keep:
        return load_pkcs12_data(data, passphrase, name=str(path), at=at)
    cache_key = (str(path.resolve()), stamp, _passphrase_digest(passphrase))
    with _CACHE_LOCK:
        cached = _CACHE.get(cache_key)
    if cached is None:
        cached = _load(path, data, passphrase)
        with _CACHE_LOCK:
            _CACHE[cache_key] = cached
    check_fit_to_sign(cached.identity, str(path), at=at)
    return cached


def load_pkcs12_data(data: bytes, passphrase: bytes, *, name: str, at: dt.datetime | None = None) -> SigningKey:
    """Load a PKCS#12 key held in memory (an upload), check it is fit to sign at `at`, and never keep it.

    The web app signs with an uploaded key this way: the key never touches the disk, so a server stopped while
    signing leaves no copy of it behind.

    Args:
        data: the PKCS#12 bytes (at most `MAX_KEY_FILE`).
        passphrase: its passphrase (UTF-8 bytes).
        name: what messages call the key, e.g. the uploaded file's name.

    Raises:
        SigningError: as `load_pkcs12_key` (not PKCS#12, wrong passphrase, key and certificate not matching,
            certificate not valid at `at` or without a signing key usage), or larger than `MAX_KEY_FILE`.
    """
    if len(data) > MAX_KEY_FILE:
        raise SigningInputError(f"{name}: is larger than {MAX_KEY_FILE // 1024} KiB; a PKCS#12 key file is not")
    loaded = _load(name, data, passphrase)
    check_fit_to_sign(loaded.identity, name, at=at)
    return loaded


MAX_KDF_ITERATIONS = 2_000_000
"""Key-derivation iterations at most in a PKCS#12 file's MAC and encryptions (OpenSSL writes 2,048; OWASP advises
600,000 for PBKDF2-SHA256). Session 6 attack: a key file whose MAC asked for 2,147,483,647 kept `sign` busy for
hours before any passphrase was checked."""


def _kdf_iterations(pfx: asn1_pkcs12.Pfx) -> Iterator[int]:
    """The iteration counts a PKCS#12 file states in the clear: its MAC, its encrypted contents, its shrouded keys."""
    if pfx["mac_data"].native is not None:
        yield int(pfx["mac_data"]["iterations"].native)
    if pfx["auth_safe"]["content_type"].native != "data":
        return
    for info in pfx.authenticated_safe:
        kind = info["content_type"].native
        if kind == "encrypted_data":
            yield int(info["content"]["encrypted_content_info"]["content_encryption_algorithm"].kdf_iterations)
        elif kind == "data":
            for bag in asn1_pkcs12.SafeContents.load(info["content"].native):
                if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
                    yield int(bag["bag_value"]["encryption_algorithm"].kdf_iterations)


def _hides_bags(pfx: asn1_pkcs12.Pfx) -> bool:
    """Whether some of the file's bags are encrypted as a whole, so that their iteration counts cannot be read
    before the file is opened (OpenSSL puts the certificates there; a hostile file can put a shrouded key there)."""
    if pfx["auth_safe"]["content_type"].native != "data":
        return True
    return any(info["content_type"].native != "data" for info in pfx.authenticated_safe)


PKCS12_OPEN_SECONDS = 30.0
"""How long opening a PKCS#12 file may take when part of it is encrypted as a whole (a usual file: milliseconds;
one with the largest iteration count allowed in the clear: ~2 s)."""


def _opens_in_time(path: Path | str, data: bytes, passphrase: bytes) -> None:
    """Open the file once in a forked child process, killed after PKCS12_OPEN_SECONDS.

    cryptography holds the interpreter lock while it derives keys, so neither a thread's deadline nor Ctrl-C can
    stop a file asking for billions of iterations inside its encrypted part; a child process can be killed. The
    child only tells whether the file opened (its exit status); nothing of the key leaves it.

    Raises:
        SigningInputError: the file did not open within the time.
    """
    pid = os.fork()
    if pid == 0:  # the child: no Python clean-up, no flushing of the parent's buffers, only an exit status
        status = 1
        with contextlib.suppress(BaseException):
            pkcs12.load_key_and_certificates(data, passphrase)
            status = 0
        os._exit(status)
    deadline, pause = time.monotonic() + PKCS12_OPEN_SECONDS, 0.001
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise SigningInputError(f"{path}: opening it took more than {PKCS12_OPEN_SECONDS:g} s (its encrypted "
                                    "part asks for far more key-derivation work than a key file needs); refused")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _load(path: Path | str, data: bytes, passphrase: bytes) -> SigningKey:
    try:
        pfx = asn1_pkcs12.Pfx.load(data)
        pfx.native  # noqa: B018 - parse only, to tell "not PKCS#12" from "wrong passphrase"
        iterations = max(_kdf_iterations(pfx), default=0)
        hidden = _hides_bags(pfx)
    except (ValueError, TypeError, KeyError) as exc:
        raise SigningInputError(f"{path}: is not a PKCS#12 (.p12/.pfx) file") from exc
    if iterations > MAX_KDF_ITERATIONS:
        raise SigningInputError(f"{path}: asks for {iterations:,} key-derivation iterations (at most "
                                f"{MAX_KDF_ITERATIONS:,}); opening it would take hours, so it is refused")
    if not _is_utf8(passphrase):
        # cryptography fails on such bytes with an unrelated TypeError; no decoding error may quote them
        raise SigningInputError(f"{path}: wrong passphrase (the passphrase given is not UTF-8 text)")
    if b"\0" in passphrase:
        # cryptography's Rust core panics on a NUL (a BaseException whose message lists every byte of the secret)
        raise SigningInputError(f"{path}: wrong passphrase (the passphrase given contains a NUL character, "
                                "which no PKCS#12 passphrase can hold)")
    if hidden:
        _opens_in_time(path, data, passphrase)
    try:
        key, certificate, extra = pkcs12.load_key_and_certificates(data, passphrase)
    except ValueError as exc:
        raise SigningInputError(f"{path}: wrong passphrase (the PKCS#12 file could not be decrypted)") from exc
    if certificate is None:  # some tools put the signer's certificate among the "other" certificates
        end_entity = [c for c in extra if not _is_ca(c)]
        certificate = end_entity[0] if len(end_entity) == 1 else None
    if key is None or certificate is None:
        raise SigningInputError(f"{path}: holds no private key and certificate pair")
    public_of_key = key.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    public_of_cert = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    if public_of_key != public_of_cert:
        raise SigningInputError(f"{path}: the private key does not match the certificate "
                                f"'{certificate.subject.rfc4514_string()}'")
    others = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra]
    try:
        loaded = SimpleSigner.load_pkcs12_data(data, other_certs=others, passphrase=passphrase)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: pyHanko could not load the key ({exc})") from exc
    signer = KeptKeySigner(signing_cert=loaded.signing_cert, signing_key=loaded.signing_key,
                           cert_registry=loaded.cert_registry, private_key=key)
    return SigningKey(signer=signer, identity=identity_of(certificate), source=str(path))


class KeptKeySigner(SimpleSigner):
    """A SimpleSigner that keeps its parsed private key.

    pyHanko 0.38's SimpleSigner parses the DER private key again for every signature, which for RSA includes
    the key's consistency check (~100 ms for RSA-3072). Batches sign with the key parsed once, in memory only.
    """

    def __init__(self, *, private_key: PrivateKeyTypes, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._private_key = private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        hash_algorithm = get_pyca_cryptography_hash(digest_algorithm)
        key = self._private_key
        if mechanism == "rsassa_pkcs1v15" and isinstance(key, RSAPrivateKey):
            return key.sign(data, PKCS1v15(), hash_algorithm)
        if mechanism == "ecdsa" and isinstance(key, EllipticCurvePrivateKey):
            return key.sign(data, ECDSA(hash_algorithm))
        result: bytes = super().sign_raw(data, digest_algorithm)  # PSS, EdDSA...: pyHanko's own path
        return result


def _is_utf8(secret: bytes) -> bool:
    try:
        secret.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def identity_of(certificate: x509.Certificate) -> SignerIdentity:
    """The printed identity and the facts the pre-signing checks need."""
    def attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
        values = name.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""

    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        usages = frozenset(name for name in ("digital_signature", "content_commitment", "key_encipherment",
                                              "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign")
                           if getattr(usage, name))
    except x509.ExtensionNotFound:
        usages = frozenset()
    try:
        extended = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        extended_usages: frozenset[str] | None = frozenset(oid.dotted_string for oid in extended)
    except x509.ExtensionNotFound:
        extended_usages = None
    unmatchable = _unmatchable_name(certificate)
    return SignerIdentity(
        common_name=attribute(certificate.subject, NameOID.COMMON_NAME),
        title=attribute(certificate.subject, TITLE_OID),
        organisation=attribute(certificate.subject, NameOID.ORGANIZATION_NAME),
        subject=certificate.subject.rfc4514_string(),
        issuer_common_name=attribute(certificate.issuer, NameOID.COMMON_NAME) or certificate.issuer.rfc4514_string(),
        serial_hex=format(certificate.serial_number, "X"),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        key_usages=usages,
        extended_key_usages=extended_usages,
        unmatchable_name=unmatchable[0],
        unmatchable_why=unmatchable[1],
    )


_UNMATCHABLE_WHY = (
    ("bidirectional", "mixes right-to-left letters (Hebrew, Arabic) with left-to-right ones in one part of the "
                      "name, or starts or ends such a part with a character that is not right-to-left, which the "
                      "certificate name matching of pyHanko's certificate library (asn1crypto, stricter here than "
                      "RFC 4518) cannot compare"),
    ("unassigned", "has characters newer than Unicode 3.2, which certificate name matching (RFC 4518) cannot "
                   "compare"),
)


def _unmatchable_name(certificate: x509.Certificate) -> tuple[str, str]:
    """Which of the certificate's names X.509 name matching cannot prepare, and why in words; ("", "") if none.

    Certificate names are compared after RFC 4518 string preparation, whose tables are those of Unicode 3.2;
    asn1crypto (under pyHanko) refuses a name with a later character (e.g. U+20B9 '₹'), and also one part of a name
    that mixes right-to-left and left-to-right letters (the RFC 3454 bidi rule, which RFC 4518 section 2.5 says to
    ignore), so no signature made with it can be matched to its certificate or chain, by us or by a verifier.
    """
    loaded = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    for role in ("subject", "issuer"):
        try:
            getattr(loaded, role).hashable  # noqa: B018 - runs the RFC 4518 preparation
        except ValueError as exc:
            why = next((words for key, words in _UNMATCHABLE_WHY if key in str(exc)),
                       f"has characters that certificate name matching (RFC 4518) does not allow ({exc})")
            return role, why
    return "", ""


def _misleading(char: str) -> bool:
    """A character a printed name must not hold: C0/C1 controls, line and paragraph separators, and the bidi
    embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), which the stamp's bidi layout obeys: a
    certificate named "Eve \u202eyrraM" was stamped "Signed by: Eve Marry" (session 5 attack)."""
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029) or 0x202A <= code <= 0x202E or (
        0x2066 <= code <= 0x2069)


def check_fit_to_sign(identity: SignerIdentity, source: str, *, at: dt.datetime | None = None) -> None:
    """Refuse certificates that cannot make a valid Part 11 signature now."""
    now = at or dt.datetime.now(dt.UTC)
    who = identity.common_name or identity.subject
    if now > identity.not_after:
        raise SigningInputError(f"{source}: the certificate of {who} expired on "
                                f"{identity.not_after:%Y-%m-%d %H:%M} UTC")
    if now < identity.not_before:
        raise SigningInputError(f"{source}: the certificate of {who} is not valid before "
                                f"{identity.not_before:%Y-%m-%d %H:%M} UTC")
    if identity.unmatchable_name:
        name = identity.subject if identity.unmatchable_name == "subject" else identity.issuer_common_name
        raise SigningInputError(f"{source}: the certificate's {identity.unmatchable_name} name ({printable(name)}) "
                                f"{identity.unmatchable_why}, so a signature made with it could not be verified; ask "
                                "the certificate's issuer for one without them")
    for what, value in (("name", identity.common_name), ("title", identity.title),
                        ("organisation", identity.organisation)):
        if (bad := next((c for c in value if _misleading(c)), None)) is not None:
            raise SigningInputError(f"{source}: the certificate's {what} ({printable(value)}) holds "
                                    f"U+{ord(bad):04X}, a control, line-break or bidirectional override "
                                    "character, so the signature's printed stamp would read otherwise than the "
                                    "certificate; ask the certificate's issuer for one without it")
    if not identity.key_usages & {"digital_signature", "content_commitment"}:
        raise SigningInputError(f"{source}: the certificate of {who} allows neither digitalSignature nor "
                                "nonRepudiation key usage, so it cannot sign documents")
    extended = identity.extended_key_usages
    if extended is not None and not extended & DOCUMENT_SIGNING_EKUS:
        names = ", ".join(sorted(_EKU_NAMES.get(oid, oid) for oid in extended)) or "none"
        raise SigningInputError(f"{source}: the certificate of {who} is restricted by its extended key usage "
                                f"to {names}, which does not include signing documents")


DOCUMENT_SIGNING_EKUS: frozenset[str] = frozenset({
    "2.5.29.37.0",  # anyExtendedKeyUsage (RFC 5280 4.2.1.12)
    "1.3.6.1.5.5.7.3.36",  # id-kp-documentSigning (RFC 9336)
    "1.3.6.1.5.5.7.3.4",  # id-kp-emailProtection: S/MIME and CMS signing, used by many document-signing CAs
    "1.2.840.113583.1.1.5",  # Adobe Authentic Documents Trust (AATL document signing)
    "1.3.6.1.4.1.311.10.3.12",  # Microsoft Document Signing
})
"""Extended key usages that allow a certificate to sign documents.

RFC 5280 4.2.1.12: when the extension is present, the certificate may be used only for the purposes it lists.  A
certificate without the extension is not restricted by it (its key usage still has to allow signing).  A time-stamping
(RFC 3161 requires that EKU alone, critical), OCSP-signing or TLS-only certificate is refused.
"""

_EKU_NAMES: dict[str, str] = {
    "1.3.6.1.5.5.7.3.1": "serverAuth (TLS server)",
    "1.3.6.1.5.5.7.3.2": "clientAuth (TLS client)",
    "1.3.6.1.5.5.7.3.3": "codeSigning",
    "1.3.6.1.5.5.7.3.8": "timeStamping (a timestamp authority's certificate)",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning (an OCSP responder's certificate)",
}


def signer_key_usage(identity: SignerIdentity) -> set[str]:
    """The key usage pyHanko should demand: nonRepudiation when the certificate has it."""
    return {"non_repudiation"} if "content_commitment" in identity.key_usages else {"digital_signature"}


_OPEN_TOKENS: dict[tuple[str, str], Any] = {}  # (module, token label) -> the one logged-in pkcs11 Session
_TOKEN_LOCK = threading.Lock()


def load_pkcs11_key(module: Path, token_label: str, key_label: str, pin: bytes, *, cert_label: str | None = None,
                    at: dt.datetime | None = None) -> SigningKey:
    """Open a PKCS#11 token (e.g. SoftHSM2, a smart card), log in and check its certificate is fit to sign.

    Every certificate on the token is pulled in, so a token that holds the intermediate CA embeds the chain.
    Every call logs in afresh with the PIN given, so the token itself judges every PIN: nothing is cached
    across calls (a login costs under 1 ms on SoftHSM2). PKCS#11 login state belongs to the whole process,
    so the session a previous call opened on the same token is logged out and closed first; a key returned
    earlier for that token stops working then. Call `close_pkcs11_sessions` to log out when done.

    Args:
        module: the PKCS#11 module (shared library) path.
        token_label: the token's label.
        key_label: the private key's label.
        pin: the user PIN, UTF-8.
        cert_label: the certificate's label, when it differs from `key_label`.
        at: the time the certificate must be valid at (default now, UTC).

    Raises:
        SigningError: module missing, token or key not found, wrong PIN, or an unfit certificate.
    """
    from pkcs11 import exceptions as p11  # the PKCS#11 binding is only needed here
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign import pkcs11 as pyhanko_pkcs11

    source = f"PKCS#11 token '{token_label}' key '{key_label}'"
    if not module.is_file():
        raise SigningInputError(f"{module}: PKCS#11 module not found")
    if not _is_utf8(pin):  # a decoding error would quote bytes of the PIN
        raise SigningInputError(f"{source}: wrong PIN (the PIN given is not UTF-8 text)")
    user_pin = pin.decode("utf-8")
    with _TOKEN_LOCK:
        _close_token((str(module), token_label))
        try:
            session = pyhanko_pkcs11.open_pkcs11_session(str(module), token_criteria=TokenCriteria(label=token_label),
                                                         user_pin=user_pin)
        except p11.PinIncorrect as exc:
            raise SigningInputError(f"{source}: wrong PIN") from exc
        except (p11.PinLocked, p11.PinExpired) as exc:
            raise SigningInputError(f"{source}: the PIN is locked or expired; ask the token's administrator") from exc
        except (p11.NoSuchToken, p11.TokenNotPresent) as exc:
            raise SigningInputError(f"{source}: no token with that label in {module}") from exc
        except Exception as exc:
            raise SigningError(f"{source}: the token could not be opened ({type(exc).__name__}: {exc})") from exc
        _OPEN_TOKENS[(str(module), token_label)] = session
    try:
        signer = pyhanko_pkcs11.PKCS11Signer(session, key_label=key_label, cert_label=cert_label or key_label,
                                             other_certs_to_pull=None)
        if signer.signing_cert.public_key.algorithm == "ec":
            # Many tokens (SoftHSM2 among them) offer only raw ECDSA: hash in software, sign on the token.
            signer = pyhanko_pkcs11.PKCS11Signer(session, key_label=key_label,
                                                 cert_label=cert_label or key_label, other_certs_to_pull=None,
                                                 use_raw_mechanism=True)
        certificate = x509.load_der_x509_certificate(signer.signing_cert.dump())
    except Exception as exc:
        raise SigningInputError(f"{source}: key or certificate not found on the token ({exc})") from exc
    key = SigningKey(signer=signer, identity=identity_of(certificate), source=source)
    check_fit_to_sign(key.identity, source, at=at)
    _check_token_key_matches(signer, certificate, source)
    return key


_CHALLENGE_DIGEST = "sha256"


def _check_token_key_matches(signer: Signer, certificate: x509.Certificate, source: str) -> None:
    """Refuse a token key that does not belong to its certificate, before anything is signed with it.

    A token gives no private key to compare: the key signs a random challenge on the token, and the certificate's
    public key must verify it (pyhanko-certvalidator's signature check, with the mechanism the signer will use).
    A PKCS#12 key is compared with its certificate directly (`_load`).

    Raises:
        SigningInputError: the signature does not verify, or the token refuses the certificate's kind of
            signature with this key (an RSA certificate over an EC key).
    """
    import asyncio

    from pyhanko_certvalidator.sig_validate import DefaultSignatureValidator, SignatureValidationContext

    mismatch = (f"{source}: the private key does not match the certificate '{certificate.subject.rfc4514_string()}' "
                "on the token; nothing was signed: put this key's own certificate on the token under the key's "
                "label, or name the key whose certificate it is")
    challenge = b"qa-builder: does the key match its certificate? " + secrets.token_bytes(32)
    assert signer.signing_cert is not None  # loaded above
    try:
        signature = asyncio.run(signer.async_sign_raw(challenge, _CHALLENGE_DIGEST))
    except Exception as exc:  # e.g. KeyTypeInconsistent: an EC key asked for an RSA signature
        raise SigningInputError(f"{mismatch} (the token refused to sign with it as the certificate requires: "
                                f"{type(exc).__name__})") from exc
    try:
        DefaultSignatureValidator().validate_signature(
            signature, challenge, signer.signing_cert.public_key,
            signer.get_signature_mechanism_for_digest(_CHALLENGE_DIGEST),
            SignatureValidationContext(contextual_md_algorithm=_CHALLENGE_DIGEST))
    except Exception as exc:  # InvalidSignature, or a signature of the wrong shape for the certificate's key
        raise SigningInputError(mismatch) from exc


def close_pkcs11_sessions() -> None:
    """Log out of and close every PKCS#11 session this process opened (keys loaded from them stop working)."""
    with _TOKEN_LOCK:
        for token in list(_OPEN_TOKENS):
            _close_token(token)


def _close_token(token: tuple[str, str]) -> None:
    session = _OPEN_TOKENS.pop(token, None)
    if session is not None:
        with contextlib.suppress(Exception):  # already closed, token removed: nothing left to log out of
            session.close()


@dataclass(frozen=True)
class RevocationData:
    """The OCSP responses and CRLs that established a chain's revocation status (for a detached CMS to carry)."""

    ocsps: tuple[asn1_ocsp.OCSPResponse, ...]
    crls: tuple[asn1_crl.CertificateList, ...]


def check_not_revoked(key: SigningKey, trust_roots: list[asn1_x509.Certificate]) -> RevocationData:
    """Refuse a signing certificate that its issuer has revoked, asking the chain's OCSP responders / CRLs now.

    The status must be established (revocation mode "require"): a responder that cannot be reached refuses too.

    Args:
        key: The loaded signing key; its certificate and the certificates it carries form the path.
        trust_roots: The trust anchors the path must end in.

    Returns:
        The OCSP responses and CRLs that showed the chain not revoked: a manifest or seal signature carries them,
        so that it can be verified offline as a B-LT PDF signature is.

    Raises:
        SigningError: The certificate (or a CA above it) is revoked, its revocation status cannot be established,
            or it does not chain to the trust roots.
    """
    import asyncio

    from pyhanko_certvalidator import CertificateValidator
    from pyhanko_certvalidator.errors import (
        InsufficientRevinfoError,
        PathBuildingError,
        PathError,
        RevokedError,
        ValidationError,
    )

    from qa_builder.signing.fetch import bounded_fetcher_backend

    who = key.identity.common_name or key.identity.subject
    certificate = key.signer.signing_cert
    if certificate is None:
        raise SigningError(f"{key.source}: the key carries no certificate whose revocation could be checked")
    registry = key.signer.cert_registry

    async def validate() -> RevocationData:
        backend = bounded_fetcher_backend()
        try:
            context = ValidationContext(trust_roots=trust_roots, allow_fetching=True, revocation_mode="require",
                                        fetchers=backend.get_fetchers(), time_tolerance=dt.timedelta(seconds=30))
            validator = CertificateValidator(certificate, intermediate_certs=list(registry) if registry else None,
                                             validation_context=context)
            await validator.async_validate_usage(set())  # type: ignore[no-untyped-call]
            return RevocationData(tuple(context.ocsps), tuple(context.crls))
        finally:
            await backend.close()

    try:
        return asyncio.run(validate())
    except RevokedError as exc:
        raise SigningInputError(f"{key.source}: the certificate of {who} is revoked ({exc}); a revoked "
                                "certificate must not sign") from exc
    except InsufficientRevinfoError as exc:
        raise SigningError(f"{key.source}: the revocation status of the certificate of {who} could not be "
                           f"established ({exc}); nothing was signed") from exc
    except (PathBuildingError, PathError) as exc:
        raise SigningInputError(f"{key.source}: the certificate of {who} does not chain to the trust root given with "
                                f"--trust ({exc})") from exc
    except ValidationError as exc:
        raise SigningError(f"{key.source}: the certificate path of {who} does not validate ({exc}); nothing was "
                           "signed") from exc

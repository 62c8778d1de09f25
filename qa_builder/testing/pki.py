"""A throwaway TEST PKI: root and issuing CA, signers, TSA and OCSP responder as passphrase-protected PKCS#12 files."""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import json
import os
import re
import secrets
import stat
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from qa_builder.errors import InputError, OutputExistsError, SigningError

PKI_FORMAT = "qa-builder-test-pki/1"
MANIFEST_NAME = "pki.json"
PASSPHRASE_NAME = "PASSPHRASE"
KEY_TYPE = "EC P-256 (ECDSA with SHA-256)"

ROOT_NAME = "root-ca"
INTERMEDIATE_NAME = "intermediate-ca"
TSA_NAME = "tsa"
OCSP_NAME = "ocsp"
ROOT_CN = "qa-builder TEST ONLY Root CA"
INTERMEDIATE_CN = "qa-builder TEST ONLY Issuing CA"
TEST_ORGANISATION = "qa-builder TEST ONLY"
TEST_UNIT = "TEST ONLY — not for production"

DEFAULT_SIGNERS: Mapping[str, tuple[str, str, str]] = {
    "sponsor": ("Dr. Ilse Verhoeven", "Head of Quality Operations", "Norvale Pharmaceuticals B.V."),
    "contract-acceptor": (
        "Dr. Matthias Brenner",
        "Head of Quality Assurance",
        "Castellan Solid Dose Manufacturing GmbH",
    ),
}
"""Named signers made when `create_test_pki` gets no `signers`: name → (common name, title, organisation)."""

NEGATIVE_SIGNERS: tuple[str, ...] = ("expired", "not-yet-valid", "no-nonrepudiation", "revoked")
"""Signers every test PKI also holds, each broken in one way, for negative tests."""

_COUNTRIES = {
    "Norvale Pharmaceuticals B.V.": "NL",
    "Castellan Solid Dose Manufacturing GmbH": "DE",
}
_RESERVED = frozenset({ROOT_NAME, INTERMEDIATE_NAME, TSA_NAME, OCSP_NAME, *NEGATIVE_SIGNERS})
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
_PASSPHRASE_ALPHABET = string.ascii_letters + string.digits
_PASSPHRASE_LENGTH = 24
_PBKDF2_ROUNDS = 20_000

ROLE_ROOT = "root-ca"
ROLE_ISSUING = "issuing-ca"
ROLE_SIGNER = "signer"
ROLE_NEGATIVE = "negative-test"
ROLE_TSA = "tsa"
ROLE_OCSP = "ocsp-responder"

PrivateKey = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class IssuedCertificate:
    """One certificate of the test PKI as recorded in pki.json (public facts only)."""

    name: str
    role: str
    serial: int
    issuer: str
    subject: str
    not_before: dt.datetime
    not_after: dt.datetime
    revoked_at: dt.datetime | None = None
    revocation_reason: str | None = None


@dataclass(frozen=True)
class TestPki:
    """A test PKI on disk: where its files are and which URLs its certificates point at."""

    __test__ = False  # not a pytest test class

    directory: Path
    base_url: str
    root_pem: Path
    intermediate_pem: Path
    passphrase_file: Path
    certificates: tuple[IssuedCertificate, ...] = ()

    def p12(self, name: str) -> Path:
        """Path of the PKCS#12 file of one key holder.

        Args:
            name: A signer name (e.g. "sponsor"), "tsa", "ocsp", "root-ca" or "intermediate-ca".

        Returns:
            DIR/<name>.p12 (whether or not it exists).
        """
        return self.directory / f"{name}.p12"

    def passphrase(self) -> bytes:
        """The passphrase of every PKCS#12 file of this PKI, read from the PASSPHRASE file."""
        return self.passphrase_file.read_bytes().rstrip(b"\r\n")

    @property
    def tsa_url(self) -> str:
        """URL of the RFC 3161 time-stamping service."""
        return f"{self.base_url}/tsa"

    @property
    def ocsp_url(self) -> str:
        """URL of the OCSP responder (the one named in the certificates' AIA)."""
        return f"{self.base_url}/ocsp"

    @property
    def crl_urls(self) -> dict[str, str]:
        """URLs of the CRLs, keyed "root" (lists intermediates) and "intermediate" (lists end entities)."""
        return {"root": f"{self.base_url}/crl/root.crl", "intermediate": f"{self.base_url}/crl/intermediate.crl"}

    @property
    def signers(self) -> tuple[str, ...]:
        """Names of all signer key holders, the named ones first, then the negative-test ones."""
        named = [c.name for c in self.certificates if c.role == ROLE_SIGNER]
        negative = [c.name for c in self.certificates if c.role == ROLE_NEGATIVE]
        return (*named, *negative)

    def certificate(self, name: str) -> IssuedCertificate:
        """The recorded facts about one certificate.

        Args:
            name: The key holder's name.

        Returns:
            Its IssuedCertificate entry.

        Raises:
            InputError: The PKI has no certificate of that name.
        """
        for entry in self.certificates:
            if entry.name == name:
                return entry
        known = ", ".join(c.name for c in self.certificates)
        raise InputError(f"The test PKI in {self.directory} has no certificate named {name!r}; it has: {known}.")

    def load_key_and_certificates(self, name: str) -> tuple[PrivateKey, x509.Certificate, list[x509.Certificate]]:
        """Open one PKCS#12 file with the PKI passphrase.

        Args:
            name: The key holder's name (see `p12`).

        Returns:
            The private key, its certificate, and the CA chain stored with it (issuer first).

        Raises:
            SigningError: The file is missing, unreadable, or holds no EC key and certificate.
        """
        path = self.p12(name)
        try:
            key, cert, chain = pkcs12.load_key_and_certificates(path.read_bytes(), self.passphrase())
        except (OSError, ValueError) as exc:
            raise SigningError(f"Cannot open {path} with the passphrase in {self.passphrase_file}: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or cert is None:
            raise SigningError(f"{path} does not hold an EC private key with its certificate.")
        return key, cert, list(chain)


@dataclass
class _Holder:
    name: str
    role: str
    key: PrivateKey
    cert: x509.Certificate
    chain: list[x509.Certificate]
    revoked_at: dt.datetime | None = None


def create_test_pki(
    directory: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8780,
    passphrase: bytes | None = None,
    signers: dict[str, tuple[str, str, str]] | None = None,
    now: dt.datetime | None = None,
) -> TestPki:
    """Create a throwaway TEST PKI in `directory`.

    Makes a root CA, an issuing CA, the named signers plus the negative-test signers (expired, not-yet-valid,
    no-nonrepudiation, revoked), a TSA and an OCSP responder. Keys are EC P-256. Every key is written only inside
    a PKCS#12 file encrypted with the passphrase (AES-256-CBC, PBKDF2-SHA256); the passphrase goes to
    DIR/PASSPHRASE (mode 600). The CA certificates are also written as PEM; DIR/pki.json records the public facts.

    Args:
        directory: Where to write the files; created if missing; must be empty (nothing in it is ever replaced).
        host: Loopback host named in the AIA, CRL DP and service URLs ("127.0.0.1" or "localhost").
        port: TCP port of the test services (`TestPkiServer`) named in those URLs.
        passphrase: PKCS#12 passphrase; a random 24-character one when None.
        signers: name → (common name, title, organisation); `DEFAULT_SIGNERS` when None.
        now: Reference time for all validity periods (UTC if naive); the current time when None.

    Returns:
        The new TestPki.

    Raises:
        InputError: A host, port, passphrase or signer name is not acceptable.
        OutputExistsError: The directory already holds a test PKI.
    """
    if host not in _LOOPBACK_HOSTS:
        raise InputError(f"The test PKI serves on loopback only; host must be 127.0.0.1 or localhost, not {host!r}.")
    if not 0 < port < 65536:
        raise InputError(f"The test PKI port must be between 1 and 65535, not {port}.")
    if passphrase is None:
        passphrase = "".join(secrets.choice(_PASSPHRASE_ALPHABET) for _ in range(_PASSPHRASE_LENGTH)).encode("ascii")
    elif not passphrase or b"\n" in passphrase or b"\r" in passphrase:
        raise InputError("The test PKI passphrase must be non-empty and on one line.")
    named = dict(DEFAULT_SIGNERS if signers is None else signers)
    for name in named:
        if not _NAME_RE.fullmatch(name):
            raise InputError(f"Signer name {name!r} must be 1-40 lower-case letters, digits or hyphens.")
        if name in _RESERVED:
            raise InputError(f"Signer name {name!r} is reserved in the test PKI; choose another.")

    directory = Path(directory)
    if (directory / MANIFEST_NAME).exists():
        raise OutputExistsError(
            f"{directory} already holds a test PKI ({MANIFEST_NAME}); use it, or delete the directory first."
        )
    if directory.is_dir() and any(directory.iterdir()):  # its PASSPHRASE or a .p12 there would be replaced
        raise OutputExistsError(f"{directory} already holds other files; a test PKI is made in a new or empty folder")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    now = _utc(now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    base_url = f"http://{host}:{port}"
    pki = TestPki(
        directory=directory,
        base_url=base_url,
        root_pem=directory / f"{ROOT_NAME}.pem",
        intermediate_pem=directory / f"{INTERMEDIATE_NAME}.pem",
        passphrase_file=directory / PASSPHRASE_NAME,
    )
    holders = _issue_all(pki, named, now)
    _refuse_links([pki.passphrase_file, pki.root_pem, pki.intermediate_pem, directory / MANIFEST_NAME,
                   *(pki.p12(h.name) for h in holders)])

    _write_private(pki.passphrase_file, passphrase + b"\n")
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(_PBKDF2_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase)
    )
    for holder in holders:
        data = pkcs12.serialize_key_and_certificates(
            holder.name.encode("ascii"), holder.key, holder.cert, holder.chain or None, encryption
        )
        _write_private(pki.p12(holder.name), data)
    by_name = {h.name: h for h in holders}
    _write_file(pki.root_pem, by_name[ROOT_NAME].cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write_file(pki.intermediate_pem, by_name[INTERMEDIATE_NAME].cert.public_bytes(serialization.Encoding.PEM), 0o644)

    issuer_of = {ROOT_NAME: ROOT_NAME, INTERMEDIATE_NAME: ROOT_NAME}
    entries = tuple(
        IssuedCertificate(
            name=h.name,
            role=h.role,
            serial=h.cert.serial_number,
            issuer=issuer_of.get(h.name, INTERMEDIATE_NAME),
            subject=h.cert.subject.rfc4514_string(),
            not_before=h.cert.not_valid_before_utc,
            not_after=h.cert.not_valid_after_utc,
            revoked_at=h.revoked_at,
            revocation_reason="key_compromise" if h.revoked_at else None,
        )
        for h in holders
    )
    pki = dataclasses.replace(pki, certificates=entries)
    manifest = {
        "format": PKI_FORMAT,
        "warning": "TEST ONLY - throwaway PKI for tests and demos; never trust it for production signatures.",
        "created": now.isoformat(),
        "key_type": KEY_TYPE,
        "base_url": base_url,
        "root_pem": pki.root_pem.name,
        "intermediate_pem": pki.intermediate_pem.name,
        "passphrase_file": pki.passphrase_file.name,
        "tsa_url": pki.tsa_url,
        "ocsp_url": pki.ocsp_url,
        "crl_urls": pki.crl_urls,
        "certificates": [_entry_json(pki, e) for e in entries],
        "revoked": [
            {"name": e.name, "serial": _hex(e.serial), "reason": e.revocation_reason, "revoked_at": _iso(e.revoked_at)}
            for e in entries
            if e.revoked_at is not None
        ],
    }
    _write_file(directory / MANIFEST_NAME,
                (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"), 0o644)
    return pki



def load_test_pki(directory: Path) -> TestPki:
    """Load a test PKI written by `create_test_pki` from its pki.json.

    Args:
        directory: The PKI directory.

    Returns:
        The TestPki.

    Raises:
        InputError: There is no readable pki.json of the expected format in the directory.
    """
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{directory} holds no test PKI ({MANIFEST_NAME} is missing); create one first.") from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != PKI_FORMAT:
        raise InputError(f"{path} is not a {PKI_FORMAT} manifest.")
    try:
        certificates = tuple(_entry_from_json(item) for item in data["certificates"])
        return TestPki(
            directory=directory,
            base_url=str(data["base_url"]),
            root_pem=directory / str(data["root_pem"]),
            intermediate_pem=directory / str(data["intermediate_pem"]),
            passphrase_file=directory / str(data["passphrase_file"]),
            certificates=certificates,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path} is incomplete or damaged ({exc!r}); create the test PKI again.") from exc


# --- certificate issuing ---------------------------------------------------------------------------------------------


def _issue_all(pki: TestPki, named: Mapping[str, tuple[str, str, str]], now: dt.datetime) -> list[_Holder]:
    """Issue every certificate of the PKI, in memory."""
    base = pki.base_url
    day = dt.timedelta(days=1)
    ca_start = now - 60 * day
    root_key = _new_key()
    root_cert = _issue(
        subject=_ca_name(ROOT_CN),
        key=root_key,
        issuer=None,
        issuer_key=root_key,
        not_before=ca_start,
        not_after=ca_start + 3652 * day,
        extensions=[(x509.BasicConstraints(ca=True, path_length=None), True), (_ca_key_usage(), True)],
    )
    inter_key = _new_key()
    inter_cert = _issue(
        subject=_ca_name(INTERMEDIATE_CN),
        key=inter_key,
        issuer=root_cert,
        issuer_key=root_key,
        not_before=ca_start,
        not_after=ca_start + 3650 * day,
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_ca_key_usage(), True),
            (_crl_dp(f"{base}/crl/root.crl"), False),
            (_aia(None, f"{base}/certs/{ROOT_NAME}.crt"), False),
        ],
    )
    holders = [
        _Holder(ROOT_NAME, ROLE_ROOT, root_key, root_cert, []),
        _Holder(INTERMEDIATE_NAME, ROLE_ISSUING, inter_key, inter_cert, [root_cert]),
    ]
    ee_revinfo: list[tuple[x509.ExtensionType, bool]] = [
        (_aia(f"{base}/ocsp", f"{base}/certs/{INTERMEDIATE_NAME}.crt"), False),
        (_crl_dp(f"{base}/crl/intermediate.crl"), False),
    ]
    signer_exts: list[tuple[x509.ExtensionType, bool]] = [
        (_key_usage(digital_signature=True, content_commitment=True), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, _DOCUMENT_SIGNING]), False),
        *ee_revinfo,
    ]

    def end_entity(
        name: str,
        role: str,
        subject: x509.Name,
        validity: tuple[dt.datetime, dt.datetime],
        extensions: list[tuple[x509.ExtensionType, bool]],
    ) -> _Holder:
        key = _new_key()
        cert = _issue(
            subject=subject,
            key=key,
            issuer=inter_cert,
            issuer_key=inter_key,
            not_before=validity[0],
            not_after=validity[1],
            extensions=[(x509.BasicConstraints(ca=False, path_length=None), True), *extensions],
        )
        holder = _Holder(name, role, key, cert, [inter_cert, root_cert])
        holders.append(holder)
        return holder

    start = now - dt.timedelta(hours=1)
    two_years = (start, start + 730 * day)
    for name, (common_name, title, organisation) in named.items():
        end_entity(name, ROLE_SIGNER, _signer_name(common_name, title, organisation), two_years, signer_exts)

    def negative(label: str) -> x509.Name:
        return _signer_name(f"TEST ONLY {label} signer", "Negative-test signer", TEST_ORGANISATION)

    end_entity("expired", ROLE_NEGATIVE, negative("expired"), (now - 31 * day, now - day), signer_exts)
    end_entity("not-yet-valid", ROLE_NEGATIVE, negative("not-yet-valid"), (now + day, now + 731 * day), signer_exts)
    end_entity("no-nonrepudiation", ROLE_NEGATIVE, negative("no-nonrepudiation"), two_years,
               [(_key_usage(key_encipherment=True), True), *ee_revinfo])
    revoked = end_entity("revoked", ROLE_NEGATIVE, negative("revoked"), two_years, signer_exts)
    revoked.revoked_at = start + dt.timedelta(minutes=1)

    five_years = (start, start + 1826 * day)
    end_entity(TSA_NAME, ROLE_TSA, _ca_name("qa-builder TEST ONLY Time-Stamping Authority"), five_years,
               [(_key_usage(digital_signature=True), True),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True), *ee_revinfo])
    end_entity(OCSP_NAME, ROLE_OCSP, _ca_name("qa-builder TEST ONLY OCSP Responder"), five_years,
               [(_key_usage(digital_signature=True), True),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
                (x509.OCSPNoCheck(), False)])
    return holders


_DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def _issue(
    *,
    subject: x509.Name,
    key: PrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    """Build and sign one certificate (self-signed when `issuer` is None)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _ca_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANISATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, TEST_UNIT),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _signer_name(common_name: str, title: str, organisation: str) -> x509.Name:
    attributes = []
    country = _COUNTRIES.get(organisation)
    if country:
        attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    attributes += [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, TEST_UNIT),
        x509.NameAttribute(NameOID.TITLE, title),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    return x509.Name(attributes)


def _key_usage(
    *, digital_signature: bool = False, content_commitment: bool = False, key_encipherment: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _crl_dp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(url)], relative_name=None, reasons=None,
                                crl_issuer=None)]
    )


def _aia(ocsp_url: str | None, ca_issuers_url: str) -> x509.AuthorityInformationAccess:
    descriptions = []
    if ocsp_url is not None:
        descriptions.append(
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))
        )
    descriptions.append(
        x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(ca_issuers_url))
    )
    return x509.AuthorityInformationAccess(descriptions)


# --- files and manifest ----------------------------------------------------------------------------------------------


def _refuse_links(paths: list[Path]) -> None:
    """Refuse to create the PKI where one of its file names is a symbolic link (to anything, even dangling).

    Writing through such a link put the passphrase, or a certificate, into whatever file it pointed at (and made
    that file mode 600).

    Raises:
        OutputExistsError: the first such name, in one line.
    """
    for path in paths:
        if path.is_symlink():
            raise OutputExistsError(f"{path}: is a symbolic link; the test PKI never writes through one: remove it "
                                    "or choose another directory")


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (mode 600, also when it existed before)."""
    _write_file(path, data, 0o600)


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` with `mode` (also when it existed before), never through a symbolic link.

    Raises:
        OSError: ELOOP when `path` became a symbolic link after `_refuse_links` checked it; others as os.open.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                 mode)  # O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of hanging
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _hex(serial: int) -> str:
    text = f"{serial:X}"
    return text if len(text) % 2 == 0 else "0" + text


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _entry_json(pki: TestPki, entry: IssuedCertificate) -> dict[str, Any]:
    return {
        "name": entry.name,
        "role": entry.role,
        "file": pki.p12(entry.name).name,
        "serial": _hex(entry.serial),
        "issuer": entry.issuer,
        "subject": entry.subject,
        "not_before": _iso(entry.not_before),
        "not_after": _iso(entry.not_after),
        "revoked_at": _iso(entry.revoked_at),
        "revocation_reason": entry.revocation_reason,
    }


def _entry_from_json(item: Mapping[str, Any]) -> IssuedCertificate:
    revoked_at = item.get("revoked_at")
    return IssuedCertificate(
        name=str(item["name"]),
        role=str(item["role"]),
        serial=int(str(item["serial"]), 16),
        issuer=str(item["issuer"]),
        subject=str(item["subject"]),
        not_before=dt.datetime.fromisoformat(str(item["not_before"])),
        not_after=dt.datetime.fromisoformat(str(item["not_after"])),
        revoked_at=dt.datetime.fromisoformat(str(revoked_at)) if revoked_at else None,
        revocation_reason=str(item["revocation_reason"]) if item.get("revocation_reason") else None,
    )

"""Trust roots: the certificates a user names with `--trust`, read once, the same way for signing and verifying.

The one place that reads a trust root file: bounded in size (a FIFO or a device is refused, not waited on),
PEM or DER, each certificate parsed up front so that a malformed one is a usage error naming the file, not a
failure deep inside validation.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko_certvalidator.registry import SimpleTrustManager

from qa_builder.errors import InputError
from qa_builder.files import read_small_file

MAX_CERTIFICATE_FILE = 16 * 1024 * 1024
"""Bytes at most of a trust root file (the system bundle, /etc/ssl/certs/ca-certificates.crt, is about 200 KiB)."""


def load_trust_roots(paths: Iterable[Path], *, one_per_file: bool = False) -> list[asn1_x509.Certificate]:
    """The certificates in `paths`, in order.

    Args:
        paths: Trust root files, PEM (one or more certificates) or DER, each at most MAX_CERTIFICATE_FILE bytes.
        one_per_file: Refuse a file that holds more or fewer than one certificate (signing names each root it
            trusts; verifying also takes a bundle such as the system's).

    Returns:
        The certificates, parsed (subject, public key, validity read once).

    Raises:
        InputError: a file cannot be read, is too large, is not PEM or DER, holds no certificate (or not
            exactly one with `one_per_file`), or holds a certificate that cannot be parsed.
    """
    roots: list[asn1_x509.Certificate] = []
    for path in paths:
        try:
            data = read_small_file(path, MAX_CERTIFICATE_FILE)  # a FIFO or device is refused, not waited on
        except OSError as exc:
            raise InputError(f"{path}: the trust root cannot be read ({exc.strerror})") from exc
        try:
            found = list(load_certs_from_pemder_data(data))
        except ValueError as exc:
            raise InputError(f"{path}: is not a PEM or DER certificate file ({exc})") from exc
        if not found:
            raise InputError(f"{path}: holds no certificate")
        if one_per_file and len(found) != 1:
            raise InputError(f"{path}: holds {len(found)} certificates; a trust root file holds exactly one")
        try:  # asn1crypto parses lazily: make a malformed certificate fail here, as a usage error
            for certificate in found:
                _ = certificate.subject, certificate.public_key, certificate.not_valid_after
            SimpleTrustManager.build(trust_roots=found)
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(f"{path}: is not a usable certificate ({exc})") from exc
        roots.extend(found)
    return roots

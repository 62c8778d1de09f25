"""Legacy SHA-1 PDF signature formats (adbe.x509.rsa_sha1, adbe.pkcs7.sha1): checked, then INDETERMINATE by policy.

pyHanko does not validate these SubFilters. Both are well defined (ISO 32000-1 §12.8.3.2/3): the digest is SHA-1
over the /ByteRange; `adbe.x509.rsa_sha1` signs it with a raw PKCS#1 v1.5 RSA signature (a DER OCTET STRING in
/Contents, certificates in /Cert); `adbe.pkcs7.sha1` encapsulates it in a CMS SignedData. The digest and the
signature value are checked here: a mismatch is proven (TOTAL-FAILED); a sound one stays INDETERMINATE /
CRYPTO_CONSTRAINTS_FAILURE because SHA-1 is no longer an accepted algorithm, with the signer's name taken from
the certificate. Chain and revocation are not looked at: the verdict cannot become better than INDETERMINATE.
"""

from __future__ import annotations

import hashlib

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.generic_cms import validate_sig_integrity

from qa_builder.verify.report import SignatureReport

LEGACY_SUBFILTERS = {"/adbe.x509.rsa_sha1", "/adbe.pkcs7.sha1"}


def check_legacy(name: str, sig_object: generic.DictionaryObject, subfilter: str,
                 reader: PdfFileReader) -> SignatureReport:
    """Check one legacy signature's digest and signature value; never raises for a damaged signature."""
    label = subfilter.lstrip("/")
    try:
        signed = _signed_bytes(sig_object, reader)
        contents = bytes(sig_object["/Contents"])
        if subfilter == "/adbe.x509.rsa_sha1":
            certificate, intact, valid = _check_x509_rsa_sha1(sig_object, contents, signed)
        else:
            certificate, intact, valid = _check_pkcs7_sha1(contents, signed)
    except MemoryError:  # the per-file memory bound: reported by the runner
        raise
    except Exception as exc:  # a damaged legacy signature: its data cannot be parsed
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        return _entry(name, None, None, None, "TOTAL-FAILED", "FORMAT_FAILURE",
                      f"The {label} signature data cannot be parsed ({type(exc).__name__}: {text}).")
    if intact is False:
        return _entry(name, certificate, False, None, "TOTAL-FAILED", "HASH_FAILURE",
                      f"The signed bytes were changed after signing (the {label} SHA-1 digest does not match).")
    if valid is False:
        return _entry(name, certificate, True, False, "TOTAL-FAILED", "SIG_CRYPTO_FAILURE",
                      f"The {label} signature value does not verify with the signer's certificate.")
    return _entry(name, certificate, intact, valid, "INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE",
                  f"The signature uses the legacy format {label} with SHA-1, which the validation policy no longer "
                  "accepts; its digest matches and its signature value verifies, but the certificate chain and "
                  "revocation were not checked.")


def _signed_bytes(sig_object: generic.DictionaryObject, reader: PdfFileReader) -> bytes:
    byte_range = [int(v) for v in sig_object["/ByteRange"]]
    if len(byte_range) % 2 or any(v < 0 for v in byte_range):
        raise ValueError("malformed /ByteRange")
    stream = reader.stream
    parts = []
    for start, length in zip(byte_range[::2], byte_range[1::2], strict=True):
        stream.seek(start)
        chunk = stream.read(length)
        if len(chunk) != length:
            raise ValueError("the /ByteRange reaches past the end of the file")
        parts.append(chunk)
    return b"".join(parts)


def _check_x509_rsa_sha1(sig_object: generic.DictionaryObject, contents: bytes,
                         signed: bytes) -> tuple[asn1_x509.Certificate, bool, bool]:
    certs = sig_object["/Cert"]
    first = certs[0] if isinstance(certs, generic.ArrayObject) else certs
    certificate = asn1_x509.Certificate.load(bytes(first))
    signature = core.OctetString.load(contents, strict=False).native
    public_key = load_der_public_key(certificate.public_key.dump())
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("adbe.x509.rsa_sha1 needs an RSA key")
    try:
        recovered = public_key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
    except (InvalidSignature, ValueError):
        return certificate, True, False  # not an RSA signature by this key: the value does not verify
    digest_info = algos.DigestInfo.load(recovered)
    algorithm = digest_info["digest_algorithm"]["algorithm"].native
    expected = hashlib.new(algorithm, signed).digest()
    return certificate, digest_info["digest"].native == expected, True


def _check_pkcs7_sha1(contents: bytes, signed: bytes) -> tuple[asn1_x509.Certificate | None, bool, bool]:
    signed_data = cms.ContentInfo.load(contents, strict=False)["content"]
    signer_info = signed_data["signer_infos"][0]
    certificate = find_signer(signed_data, signer_info)
    content = signed_data["encap_content_info"]["content"].native
    intact = content == hashlib.sha1(signed).digest()  # checking, not choosing, SHA-1
    if certificate is None:
        return None, intact, False
    digest_algorithm = signer_info["digest_algorithm"]["algorithm"].native
    content_digest = hashlib.new(digest_algorithm, content).digest()
    _content_ok, valid = validate_sig_integrity(signer_info, certificate, "data", content_digest)
    return certificate, intact, bool(valid)


def find_signer(signed_data: cms.SignedData, signer_info: cms.SignerInfo) -> asn1_x509.Certificate | None:
    """The certificate among a SignedData's certificates that the SignerInfo names (issuer/serial or SKI)."""
    sid = signer_info["sid"]
    for choice in signed_data["certificates"] or []:
        if choice.name != "certificate":
            continue
        certificate = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if certificate.issuer == sid.chosen["issuer"] and certificate.serial_number == sid.chosen[
                    "serial_number"].native:
                return certificate
        elif certificate.key_identifier == sid.chosen.native:
            return certificate
    return None


def _entry(name: str, certificate: asn1_x509.Certificate | None, intact: bool | None, valid: bool | None,
           indication: str, sub: str, problem: str) -> SignatureReport:
    subject = str(certificate.subject.human_friendly) if certificate is not None else ""
    common_name = str(certificate.subject.native.get("common_name", "")) if certificate is not None else ""
    return SignatureReport(
        field=name, signer_subject=subject, signer_common_name=common_name, stated_name=None, stated_meaning=None,
        claimed_time=None, timestamp_time=None, timestamp_trusted=None, intact=intact, valid=valid, trusted=False,
        revocation="not_checked", coverage=None, modification=None, docmdp_ok=None, certification=None, level=None,
        part11_manifestation=False, indication=indication,  # type: ignore[arg-type]
        sub_indication=sub, problems=[problem])

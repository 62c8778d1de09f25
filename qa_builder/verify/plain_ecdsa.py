"""Plain ECDSA signature values (BSI TR-03111 §5.2.1, the r‖s concatenation some smart cards produce).

pyHanko checks ECDSA values only in their X9.62 DER form (a SEQUENCE of r and s), so a CMS whose signature
algorithm is `ecdsa-plain-SHA*` (OIDs 0.4.0.127.0.7.1.1.4.1.x) comes out as "signature value does not verify":
TOTAL-FAILED for a signature nobody proved wrong. Here the value is split into r and s, re-encoded, and verified
with the certificate's public key over the DER SET of the signed attributes (RFC 5652 §5.4).
"""

from __future__ import annotations

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

_PLAIN_ECDSA: dict[str, hashes.HashAlgorithm] = {  # BSI TR-03111 ecdsa-plain-signatures
    "0.4.0.127.0.7.1.1.4.1.1": hashes.SHA1(),
    "0.4.0.127.0.7.1.1.4.1.2": hashes.SHA224(),
    "0.4.0.127.0.7.1.1.4.1.3": hashes.SHA256(),
    "0.4.0.127.0.7.1.1.4.1.4": hashes.SHA384(),
    "0.4.0.127.0.7.1.1.4.1.5": hashes.SHA512(),
}


def is_plain_ecdsa(signer_info: cms.SignerInfo) -> bool:
    """Whether the signer info names a BSI plain-ECDSA signature algorithm."""
    return str(signer_info["signature_algorithm"]["algorithm"].dotted) in _PLAIN_ECDSA


def plain_ecdsa_verifies(signer_info: cms.SignerInfo, certificate: asn1_x509.Certificate) -> bool:
    """Whether the plain r‖s value verifies over the signed attributes with the certificate's EC key.

    Raises:
        ValueError: not a plain-ECDSA signer info, no signed attributes, or not an EC key.
    """
    algorithm = _PLAIN_ECDSA.get(str(signer_info["signature_algorithm"]["algorithm"].dotted))
    if algorithm is None:
        raise ValueError("not a plain-ECDSA signature")
    attributes = signer_info["signed_attrs"]
    if not isinstance(attributes, cms.CMSAttributes) or not len(attributes):
        raise ValueError("no signed attributes")
    value = bytes(signer_info["signature"].native)
    if not value or len(value) % 2:
        return False
    half = len(value) // 2
    der = encode_dss_signature(int.from_bytes(value[:half], "big"), int.from_bytes(value[half:], "big"))
    key = load_der_public_key(certificate.public_key.dump())
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("the signer's key is not an elliptic-curve key")
    try:
        key.verify(der, attributes.untag().dump(), ec.ECDSA(algorithm))
    except InvalidSignature:
        return False
    return True

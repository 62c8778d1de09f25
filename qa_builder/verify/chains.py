"""The state of a certificate's chain at the validation time, revocation aside: what a report says when a signer
or a timestamp authority is not trusted (pyHanko's certificate validator, soft-fail, never online)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    ValidationError,
)

from qa_builder.verify.pdf_rules import ChainState


def chain_state(certificate: asn1_x509.Certificate | None, intermediates: Sequence[asn1_x509.Certificate],
                roots: Sequence[asn1_x509.Certificate], moment: dt.datetime | None) -> ChainState:
    """Whether `certificate` chains to `roots` at `moment` (None: now), revocation aside.

    Returns:
        "trusted", "out_of_validity" (expired or not yet valid then), "self_signed" or "untrusted".
    """
    if certificate is None:
        return "untrusted"
    context = ValidationContext(trust_roots=list(roots), allow_fetching=False, moment=moment,
                                revocation_mode="soft-fail")
    validator = CertificateValidator(certificate, intermediate_certs=list(intermediates), validation_context=context)
    try:
        asyncio.run(validator.async_validate_path())
    except (ExpiredError, NotYetValidError):
        return "out_of_validity"
    except (PathBuildingError, PathValidationError, ValidationError):
        return "self_signed" if certificate.self_signed in ("yes", "maybe") else "untrusted"
    return "trusted"


def token_chain_state(signed_data: cms.SignedData, roots: Sequence[asn1_x509.Certificate],
                      moment: dt.datetime | None) -> ChainState:
    """`chain_state` of the signer of a CMS signed data (e.g. an RFC 3161 timestamp token's authority), with the
    other certificates it carries as intermediates; "untrusted" when its signer's certificate is not in it."""
    try:  # a token from another tool may be malformed: then nothing chains
        certificates = [choice.chosen for choice in signed_data["certificates"] or ()
                        if isinstance(choice.chosen, asn1_x509.Certificate)]
        sid = signed_data["signer_infos"][0]["sid"]
        signer = next((c for c in certificates if sid.name == "issuer_and_serial_number"
                       and c.issuer == sid.chosen["issuer"]
                       and c.serial_number == sid.chosen["serial_number"].native), None) or next(
            (c for c in certificates if sid.name == "subject_key_identifier"
             and c.key_identifier == sid.chosen.native), None)
    except (ValueError, KeyError, TypeError, IndexError):
        return "untrusted"
    if signer is None:
        return "untrusted"
    return chain_state(signer, [c for c in certificates if c is not signer], roots, moment)

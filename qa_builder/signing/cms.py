"""Small readers of CMS structures shared by signing, manifests and verification."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from asn1crypto import cms, crl, ocsp

if TYPE_CHECKING:
    from qa_builder.signing.keys import RevocationData, SigningKey


def signature_timestamp_token(signer_info: cms.SignerInfo) -> cms.ContentInfo | None:
    """The RFC 3161 signature timestamp token among a SignerInfo's unsigned attributes, if any."""
    unsigned = signer_info["unsigned_attrs"]
    if not unsigned or unsigned.native is None:
        return None
    for attribute in unsigned:
        if attribute["type"].native == "signature_time_stamp_token":
            token: cms.ContentInfo = attribute["values"][0]
            return token
    return None


def token_info(token: cms.ContentInfo) -> cms.ContentInfo:
    """The TSTInfo of a timestamp token (gen_time, message_imprint, ...)."""
    return token["content"]["encap_content_info"]["content"].parsed


def signature_timestamp_time(signer_info: cms.SignerInfo) -> dt.datetime | None:
    """The time of the signature timestamp (UTC), if the signature has one."""
    token = signature_timestamp_token(signer_info)
    if token is None:
        return None
    generated: dt.datetime = token_info(token)["gen_time"].native
    return generated.astimezone(dt.UTC)


def sign_detached(data: bytes, key: SigningKey, tsa_url: str | None,
                  revocation: RevocationData | None = None) -> bytes:
    """A detached CMS signature (DER) over `data`: signing-certificate-v2, signing time, an RFC 3161
    timestamp when `tsa_url` is given, and the chain's revocation data when given (in the SignedData's
    `crls` field: CRLs as themselves, OCSP responses as RFC 5940 `id-ri-ocsp-response` entries).

    Raises:
        RuntimeError: signing failed (TSA, network or token); the caller names what was being signed.
    """
    import asyncio

    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    from qa_builder.signing.tsa import is_tsa_failure, timestamper_for, tsa_failure

    timestamper = timestamper_for(tsa_url) if tsa_url else None
    attributes = PdfCMSSignedAttributes(signing_time=dt.datetime.now(dt.UTC))
    try:
        signed = asyncio.run(key.signer.async_sign_general_data(data, "sha256", detached=True,
                                                                timestamper=timestamper,
                                                                signed_attr_settings=attributes))
    except Exception as exc:  # aiohttp, TSA and token errors alike: one sentence for the user
        if tsa_url and is_tsa_failure(exc):
            raise RuntimeError(tsa_failure(tsa_url, exc)) from exc
        raise RuntimeError(f"{type(exc).__name__}: {exc}") from exc
    if revocation is not None and (revocation.crls or revocation.ocsps):
        # unsigned: the field lies outside what the signature and its timestamp cover
        signed["content"]["crls"] = cms.RevocationInfoChoices(
            [cms.RevocationInfoChoice({"crl": entry}) for entry in revocation.crls]
            + [cms.RevocationInfoChoice({"other": cms.OtherRevocationInfoFormat(
                {"other_rev_info_format": "ocsp_response", "other_rev_info": entry})}) for entry in revocation.ocsps])
        return bytes(signed.dump(force=True))
    return bytes(signed.dump())


def carried_revocation(signed_data: cms.SignedData) -> tuple[list[ocsp.OCSPResponse], list[crl.CertificateList]]:
    """The OCSP responses and CRLs a CMS signature carries in its `crls` field (see `sign_detached`)."""
    responses: list[ocsp.OCSPResponse] = []
    lists: list[crl.CertificateList] = []
    for choice in signed_data["crls"] or ():
        if choice.name == "crl":
            lists.append(choice.chosen)
        elif choice.name == "other" and choice.chosen["other_rev_info_format"].native == "ocsp_response":
            responses.append(choice.chosen["other_rev_info"])
    return responses, lists

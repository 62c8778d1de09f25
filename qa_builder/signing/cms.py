"""Small readers of CMS structures shared by signing, manifests and verification."""

from __future__ import annotations

import datetime as dt

from asn1crypto import cms


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

"""Offline long-term validation of PAdES signatures (pyHanko plumbing; the rules are in `longterm_rules`).

How a signature is judged offline at the validation time T (now, or `--at`):

1. With a document timestamp in a later revision (B-LTA), pyHanko's ETSI EN 319 102-1 §5.6.3 engine decides,
   reading the DSS itself. Without one (B-B, B-T, B-LT), the §5.5 validation ("signatures with time") decides,
   with the DSS content handed over as local knowledge (§5.5 does not read the DSS). pyHanko's §5.6.3 engine
   never passes a signature without a later document timestamp (it wants proof of existence for the revocation
   data that only a document timestamp gives; SIGNING-NOTES §5), so it is not used for those.
2. The newest document timestamp's TSA chain cannot have fresh revocation data in the file once the embedded
   responses are older than their nextUpdate: nothing later vouches for it. Its certificates are taken as not
   revoked at T (as pyHanko's own future-validation simulation does) while they are within their validity; a
   revocation that the embedded data shows still counts. Renewing the archive timestamp before the TSA
   certificate expires keeps the record verifiable.
3. When that result is one ETSI lets past validation improve (stale or missing-at-T revocation data, an expired
   signer certificate, revocation after the signing time), the signature is validated again at the time a
   timestamp proves it existed (its signature timestamp; else the first later document timestamp), with the same
   embedded data. That timestamp must itself still prove something at T: a later document timestamp that
   validates at T, or, without one, a signature-timestamp TSA certificate still within its validity at T.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import cms, crl, ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed, AdESSubIndic
from pyhanko.sign.validation import validate_pdf_timestamp
from pyhanko.sign.validation.ades import (
    AdESWithTimeValidationResult,
    ades_lta_validation,
    ades_with_time_validation,
)
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.policy_decl import LocalKnowledge, PdfSignatureValidationSpec
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import NonRevokedStatusAssertion
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

from qa_builder.signing.cms import signature_timestamp_time, signature_timestamp_token
from qa_builder.verify.legacy import find_signer
from qa_builder.verify.longterm_rules import Evidence, past_validation_may_help
from qa_builder.verify.policy import Policy


@dataclass(frozen=True)
class LongTermResult:
    """pyHanko's status (None when validation stopped before one), the ETSI sub-indication, and the time
    the result refers to (T, or the proven signing time when past validation decided)."""

    status: PdfSignatureStatus | None
    subindic: AdESSubIndic
    validated_at: dt.datetime
    evidence: Evidence | None = None


class LongTermValidator:
    """Offline validation of the signatures of one reader; the DSS and the document timestamps are read once."""

    def __init__(self, reader: PdfFileReader, policy: Policy) -> None:
        self.reader = reader
        self.policy = policy
        self.timing = policy.timing()
        self.moment = self.timing.validation_time
        self.knowledge = dss_knowledge(reader)
        self.doc_timestamps = sorted(reader.embedded_timestamp_signatures, key=lambda ts: ts.signed_revision)
        self._newest_proves: bool | None = None

    def validate(self, embedded: EmbeddedPdfSignature) -> LongTermResult:
        """Validate one signature offline as described in the module docstring."""
        later = [ts for ts in self.doc_timestamps if ts.signed_revision > embedded.signed_revision]
        current = self._lta(embedded) if later else self._with_time(embedded, self.timing)
        result = LongTermResult(_status(current.api_status), current.ades_subindic, self.moment)
        if not past_validation_may_help(current.ades_subindic):
            return result
        evidence = self._evidence(embedded, later)
        if evidence is None or evidence.time > self.moment:
            return result
        past = self._with_time(embedded, ValidationTimingInfo(validation_time=evidence.time,
                                                              best_signature_time=evidence.time,
                                                              point_in_time_validation=True))
        if not isinstance(past.ades_subindic, AdESPassed):
            return result
        return LongTermResult(_status(past.api_status), past.ades_subindic, evidence.time, evidence)

    # -- the two pyHanko engines ----------------------------------------------------------------------------------

    def _lta(self, embedded: EmbeddedPdfSignature) -> AdESWithTimeValidationResult:
        spec = self._spec(self.policy.spec.signature_validation_spec.local_knowledge)
        return asyncio.run(ades_lta_validation(embedded, spec, self.timing))

    def _with_time(self, embedded: EmbeddedPdfSignature,
                   timing: ValidationTimingInfo) -> AdESWithTimeValidationResult:
        spec = self._spec(self.knowledge).signature_validation_spec
        return asyncio.run(ades_with_time_validation(
            embedded.signed_data, spec, timing_info=timing, raw_digest=embedded.compute_digest(),
            extra_status_kwargs=embedded.summarise_integrity_info(), status_cls=PdfSignatureStatus))

    def _spec(self, knowledge: LocalKnowledge) -> PdfSignatureValidationSpec:
        """The policy's spec with `knowledge` and the newest document timestamp's TSA chain taken as not revoked."""
        assertions = [*knowledge.nonrevoked_assertions, *self._newest_tsa_assertions()]
        signature_spec = self.policy.spec.signature_validation_spec
        knowledge = dataclasses.replace(knowledge, nonrevoked_assertions=assertions)
        return dataclasses.replace(self.policy.spec, signature_validation_spec=dataclasses.replace(
            signature_spec, local_knowledge=knowledge))

    def _newest_tsa_assertions(self) -> list[NonRevokedStatusAssertion]:
        if not self.doc_timestamps:
            return []
        newest = self.doc_timestamps[-1]
        chain = [newest.signer_cert, *(c for c in newest.other_embedded_certs if c.subject != c.issuer)]
        return [NonRevokedStatusAssertion(cert.sha256, self.moment) for cert in chain
                if _within_validity(cert, self.moment)]

    # -- proof of existence ---------------------------------------------------------------------------------------

    def _evidence(self, embedded: EmbeddedPdfSignature, later: Sequence[EmbeddedPdfSignature]) -> Evidence | None:
        """The earliest time a timestamp proves the signature existed, if that proof still holds at T."""
        signed_at = signature_timestamp_time(embedded.signer_info)
        if later:
            if not self._newest_still_proves():
                return None
            if signed_at is not None:
                return Evidence(time=signed_at, source="signature timestamp, kept by a later document timestamp")
            first = later[0].signed_data["encap_content_info"]["content"].parsed["gen_time"].native
            return Evidence(time=first.astimezone(dt.UTC), source="document timestamp")
        token = signature_timestamp_token(embedded.signer_info)
        if signed_at is None or token is None:
            return None
        tsa = _token_signer(token)
        if tsa is None or not _within_validity(tsa, self.moment):
            return None  # an expired TSA certificate proves nothing any more (that is what B-LTA is for)
        return Evidence(time=signed_at, source="signature timestamp")

    def _newest_still_proves(self) -> bool:
        """Whether the newest document timestamp is intact and chains to a trust root at T."""
        if self._newest_proves is None:
            newest = self.doc_timestamps[-1]
            context = ValidationContext(trust_roots=list(self.policy.roots), allow_fetching=False,
                                        moment=self.moment, revocation_mode="soft-fail")
            try:
                status = validate_pdf_timestamp(newest, validation_context=context, skip_diff=True)
                self._newest_proves = bool(status.intact and status.valid and status.trusted)
            except (ValueError, KeyError, TypeError, PdfReadError):
                self._newest_proves = False
        return self._newest_proves


def dss_knowledge(reader: PdfFileReader) -> LocalKnowledge:
    """Certificates, OCSP responses and CRLs of the document's DSS as pyHanko local knowledge (empty without)."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return LocalKnowledge()
    ocsps = [container for ref in dss.ocsps
             for container in OCSPContainer.load_multi(ocsp.OCSPResponse.load(ref.get_object().data))]
    crls = [CRLContainer(crl_data=crl.CertificateList.load(ref.get_object().data)) for ref in dss.crls]
    return LocalKnowledge(known_ocsps=ocsps, known_crls=crls, known_certs=list(dss.load_certs()))


def _status(status: object) -> PdfSignatureStatus | None:
    return status if isinstance(status, PdfSignatureStatus) else None


def _within_validity(certificate: asn1_x509.Certificate, moment: dt.datetime) -> bool:
    validity = certificate["tbs_certificate"]["validity"]
    return bool(validity["not_before"].native <= moment <= validity["not_after"].native)


def _token_signer(token: cms.ContentInfo) -> asn1_x509.Certificate | None:
    """The TSA certificate inside a timestamp token."""
    signed_data = token["content"]
    return find_signer(signed_data, signed_data["signer_infos"][0])

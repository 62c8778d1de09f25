"""The JSON Schema of answers files, with an example value for every field (`qa-builder schema`)."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from qa_builder.models.answers import Answers

_CONTACT = {"name": "Dr. Anna Weber", "title": "Head of Quality", "email": "anna.weber@example.com",
            "phone": "+49 761 1234 0"}

SHOWCASE: dict[str, Any] = {
    "agreement": {"id": "QA-2026-014", "title": "Quality Agreement for Examplol tablets", "version": 2,
                  "effective_date": "2026-06-01", "review_period_months": 24, "standalone": True,
                  "prevails_on_quality_matters": True,
                  "commercial_agreement": "Manufacturing and Supply Agreement of 1 May 2026",
                  "governing_law": "the laws of Ireland"},
    "sponsor": {"name": "Sponsor Pharma Ltd", "address": "1 Harbour Road, Dublin 2", "country": "Ireland",
                "quality_contact": _CONTACT},
    "contract_acceptor": {
        "name": "Acceptor GmbH", "kind": "cmo", "address": "Werkstrasse 2, 79108 Freiburg", "country": "Germany",
        "quality_contact": _CONTACT,
        "sites": [{"name": "Freiburg Plant 2", "address": "Werkstrasse 2, 79108 Freiburg", "country": "Germany",
                   "registration_numbers": {"FEI": "3001234567", "EU MIA": "DE_BW_01_MIA_2024_0042"},
                   "activities": ["drug_product_manufacture", "release_testing"]}]},
    "affiliates": [{"name": "Sponsor Japan K.K.", "address": "1-2-3 Nihonbashi, Chuo-ku, Tokyo", "country": "Japan",
                    "role": "Japanese marketing authorisation holder (GQP)", "affiliate_of": "sponsor",
                    "joins_as_party": True, "markets": ["JP"], "holds_marketing_authorisation": True,
                    "quality_contact": _CONTACT},
                   {"name": "Sponsor Pharma Ireland Ltd", "address": "2 Harbour Road, Dublin 2", "country": "Ireland",
                    "role": "holder of the manufacturing authorisation of the EU batch-release site",
                    "affiliate_of": "sponsor"},
                   {"name": "Acceptor Services GmbH", "address": "Werkstrasse 4, 79108 Freiburg", "country": "Germany",
                    "role": "holder of the manufacturing authorisation of Plant 2",
                    "affiliate_of": "contract_acceptor"}],
    "products": [{"name": "Examplol 10 mg film-coated tablets", "type": "drug_product",
                  "dosage_form": "film-coated tablet", "presentations": ["30 tablets in PVC/Alu blister"],
                  "markets": ["US", "EU"], "application_numbers": ["ANDA 212345", "PL 12345/0001"],
                  "application_type": "ANDA",
                  "release": {"model": "qp_certification", "certifier": "contract_acceptor",
                              "batch_release_site": "Acceptor GmbH, Werkstrasse 2, 79108 Freiburg, Germany",
                              "authorisation_number": "DE_BW_01_MIA_2024_0042", "qualified_person": "Dr. Anna Weber",
                              "deputies": ["Dr. Jonas Keller"], "certifying_affiliate": "Acceptor Services GmbH"}},
                 {"name": "Examplol 20 mg (phase III supplies)", "type": "investigational", "markets": ["EU"],
                  "trial": {"sponsor": "Sponsor Pharma Inc.", "sponsor_country": "United States",
                            "eu_legal_representative": "Sponsor Europe B.V., Amsterdam",
                            "countries": ["Germany", "France"], "numbers": ["2025-512345-12-00", "IND 123456"]}}],
    "services": ["drug_product_manufacture", "release_testing"],
    "release_model": "qp_certification",
    "release": {"certifier": "sponsor", "batch_release_site": "Sponsor Pharma Ltd, Dublin",
                "authorisation_number": "IE MIA 1234/1", "qualified_person": "Dr. Mary Byrne",
                "deputies": ["Dr. Sean Walsh"], "certifying_affiliate": "Sponsor Pharma Ireland Ltd",
                "documentation_within_business_days": 10},
    "responsibilities": [{"activity": "analytical_method_validation", "sponsor": "RA", "contract_acceptor": "R",
                          "notes": "Methods validated by the Sponsor are transferred.",
                          "split_of_duties": "Sponsor approves the transfer protocol; the acceptor executes it."}],
    "change_control": {"sponsor_prior_approval_for_filed_changes": True, "filing_assessment_owner": "sponsor",
                       "major_change_notice_days": 90, "minor_change_notice_days": 30,
                       "like_for_like_notice": "before_implementation"},
    "subcontracting": {"allowed": True, "prior_written_consent": True, "flow_down": True,
                       "approved_subcontractors": [{
                           "name": "Lab Services AG", "address": "Laborweg 5, 4057 Basel", "country": "Switzerland",
                           "registration_numbers": {"Swissmedic": "500123"}, "activities": ["release_testing"],
                           "tests": ["sterility (Ph. Eur. 2.6.1)", "mycoplasma (Ph. Eur. 2.6.7)"],
                           "quality_contact": _CONTACT}]},
    "inspections": {"notify_within_hours": 24, "share_reports_within_business_days": 5,
                    "notify_warning_letters": True, "sponsor_may_attend": True, "sponsor_reviews_responses": True},
    "audits": {"acceptor_status": "established", "risk_tier": 1, "routine_frequency_months": 24, "for_cause": True,
               "notice_business_days": 30, "capa_response_days": 30},
    "deviations": {"critical_notify_hours": 24, "major_notify_business_days": 2, "investigation_closure_days": 30,
                   "extension_process": True},
    "complaints": {"forward_business_days": 3, "acknowledge_business_days": 2, "critical_assessment_hours": 48,
                   "final_report_days": 30, "joint_investigation": True},
    "records": {"retention_years_after_expiry": 1, "retention_years_after_certification": 5,
                "pre_destruction_notice_days": 60},
    "term": {"initial_years": 3, "termination_notice_months": 6, "exit_handover": True},
    "tech_transfer": {"site_or_scale_change": False, "comparability_required": True, "update_filings": True},
    "positions": {"sponsor_audits": "fallback"},
    "revision_history": [{"version": 1, "date": "2025-06-01", "description": "First issue."}],
    "signatories": [{"party": "sponsor", "name": "Dr. Mary Byrne", "title": "Qualified Person",
                     "email": "mary.byrne@example.com", "meaning": "responsibility"},
                    {"party": "contract_acceptor", "name": "Dr. Anna Weber", "title": "Head of Quality",
                     "email": "anna.weber@example.com", "meaning": "approval"},
                    {"party": "sponsor", "name": "Taro Sato", "title": "GQP Manager", "email": "sato@example.jp",
                     "meaning": "approval", "on_behalf_of": "Sponsor Japan K.K."}],
}
"""An answers file that sets every field: the source of the schema's examples (a test validates it)."""


DESCRIPTIONS: dict[str, str] = {
    "Answers.services": "What the contract acceptor does for the Sponsor; each site's and subcontractor's activities "
                        "must be among them.",
    "Answers.revision_history": "Earlier versions of the agreement, for its revision table.",
    "Answers.responsibilities": "Changes to rows of the default RACI matrix (raci.yaml of the clause library).",
    "AgreementInfo.id": "Identifier of the agreement; names the output files (letters, digits, '.', '_', '-').",
    "AgreementInfo.title": "Title printed on the cover page.",
    "AgreementInfo.version": "Version of the agreement (1 for the first issue).",
    "AgreementInfo.effective_date": "Date the agreement takes effect (YYYY-MM-DD).",
    "AgreementInfo.review_period_months": "The agreement is reviewed at least this often (6 to 60 months).",
    "AgreementInfo.prevails_on_quality_matters": "On quality matters this agreement prevails over the commercial "
                                                 "agreement.",
    "AgreementInfo.governing_law": "The law that governs the agreement, if stated.",
    "Audits.acceptor_status": "new (not yet audited or qualified) or established.",
    "Audits.routine_frequency_months": "A routine audit at least this often.",
    "Audits.for_cause": "The Sponsor may audit for cause at short notice.",
    "Audits.notice_business_days": "Notice of a routine audit, in business days.",
    "Audits.capa_response_days": "Days for the acceptor's CAPA response to an audit report.",
    "ChangeControl.sponsor_prior_approval_for_filed_changes": "Changes affecting filed information need the "
                                                              "Sponsor's prior approval.",
    "ChangeControl.filing_assessment_owner": "Who assesses the regulatory filing impact of a change (sponsor, "
                                             "contract_acceptor, or none for both together).",
    "ChangeControl.major_change_notice_days": "Days of notice before a change that needs a regulatory filing.",
    "ChangeControl.minor_change_notice_days": "Days of notice before other changes.",
    "ChangeControl.like_for_like_notice": "When like-for-like equipment changes are notified.",
    "Complaints.forward_business_days": "Business days for the Sponsor to forward a complaint to the acceptor.",
    "Complaints.acknowledge_business_days": "Business days for the acceptor to acknowledge it.",
    "Complaints.critical_assessment_hours": "Hours to assess a critical complaint.",
    "Complaints.final_report_days": "Days to the final investigation report.",
    "Complaints.joint_investigation": "Complaints are investigated jointly before a root cause is assigned.",
    "Contact.name": "Full name.",
    "Contact.title": "Job title.",
    "Contact.email": "E-mail address.",
    "Contact.phone": "Telephone number, if given.",
    "ContractAcceptor.name": "Legal name.",
    "ContractAcceptor.kind": "cmo, cdmo or contract_laboratory.",
    "ContractAcceptor.address": "Registered address.",
    "ContractAcceptor.country": "Country of the registered address.",
    "ContractAcceptor.sites": "The sites where the work is done.",
    "Deviations.critical_notify_hours": "Hours to notify the Sponsor of a critical deviation.",
    "Deviations.major_notify_business_days": "Business days to notify a major deviation or OOS result.",
    "Deviations.investigation_closure_days": "Days to close an investigation.",
    "Deviations.extension_process": "The closure date may be extended by written agreement.",
    "Inspections.notify_within_hours": "Hours to tell the Sponsor of a regulatory inspection.",
    "Inspections.share_reports_within_business_days": "Business days to share a Form 483 or inspection report.",
    "Inspections.notify_warning_letters": "The Sponsor is told of Warning Letters and equivalents.",
    "Inspections.sponsor_may_attend": "The Sponsor may be present at inspections concerning its product.",
    "Inspections.sponsor_reviews_responses": "The Sponsor reviews responses concerning its product.",
    "Product.name": "Name (and strength) of the product or active substance.",
    "Product.dosage_form": "Dosage form of a finished product.",
    "Product.presentations": "Packs and containers.",
    "Product.application_numbers": "Application or authorisation numbers (NDA, ANDA, BLA, MA, IND, EU CT ...).",
    "Records.retention_years_after_expiry": "Years batch records are kept after the batch's expiry.",
    "Records.retention_years_after_certification": "Years batch records are kept after QP certification.",
    "Records.pre_destruction_notice_days": "Days of notice to the Sponsor before records are destroyed.",
    "Release.documentation_within_business_days": "Business days to deliver the batch documentation package after "
                                                  "the acceptor's disposition.",
    "ResponsibilityOverride.activity": "Activity id of the RACI matrix (raci.yaml).",
    "ResponsibilityOverride.sponsor": "RACI code of the Sponsor: letters R, A, C, I in that order, or '-'.",
    "ResponsibilityOverride.contract_acceptor": "RACI code of the contract acceptor.",
    "ResponsibilityOverride.notes": "Notes shown in the matrix.",
    "RevisionEntry.version": "Version number.",
    "RevisionEntry.date": "Date of that version (YYYY-MM-DD).",
    "RevisionEntry.description": "What changed.",
    "Signatory.party": "The party the person signs for: sponsor or contract_acceptor.",
    "Signatory.name": "Full name of the signer.",
    "Signatory.title": "Job title of the signer.",
    "Signatory.email": "E-mail address of the signer.",
    "Signatory.meaning": "Meaning of the signature (21 CFR 11.50): authorship, review, approval or responsibility.",
    "Site.name": "Name of the site.",
    "Site.address": "Address of the site.",
    "Site.country": "Country of the site (decides, e.g., whether an active substance is imported into the EU).",
    "Sponsor.name": "Legal name.",
    "Sponsor.address": "Registered address.",
    "Sponsor.country": "Country of the registered address.",
    "Subcontracting.allowed": "The contract acceptor may subcontract work.",
    "Subcontracting.prior_written_consent": "Only with the Sponsor's prior written consent.",
    "Subcontracting.flow_down": "Quality obligations flow down to subcontractors.",
    "Subcontracting.approved_subcontractors": "The subcontractors the Sponsor has approved.",
    "Subcontractor.name": "Legal name.",
    "TechTransfer.comparability_required": "Product made after a transfer is shown comparable before release.",
    "TechTransfer.update_filings": "Regulatory filings are updated to add or remove sites.",
    "Term.initial_years": "Initial term in years.",
    "Term.termination_notice_months": "Months of notice to terminate.",
    "Term.exit_handover": "On exit, master batch records, retained samples and stability inventory are handed over.",
}
"""Descriptions of the fields whose model leaves them undescribed (model fields describe the newer ones)."""


def answers_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of answers files: every property has a description and `examples` (from
    SHOWCASE); a property holding a section takes the section's own description."""
    schema = Answers.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "qa-builder answers file"
    _annotate(Answers, SHOWCASE, schema, schema)
    defs = schema.get("$defs", {})
    for model_name, node in [("Answers", schema), *defs.items()]:
        for field, spec in node.get("properties", {}).items():
            if spec.get("description"):
                continue
            described = DESCRIPTIONS.get(f"{model_name}.{field}") or _referenced_description(spec, defs)
            if described:
                spec["description"] = described
    return schema


def _referenced_description(spec: dict[str, Any], defs: dict[str, Any]) -> str | None:
    """The description of the section a property refers to ($ref, a list of them, or one or null)."""
    for candidate in (spec, spec.get("items", {}), *spec.get("anyOf", [])):
        ref = candidate.get("$ref") if isinstance(candidate, dict) else None
        if isinstance(ref, str):
            found = defs.get(ref.rsplit("/", 1)[-1], {}).get("description")
            if isinstance(found, str):
                return found
    return None


def _annotate(model: type[BaseModel], data: Any, node: dict[str, Any], root: dict[str, Any]) -> None:
    """Put `examples: [value]` on each property of `model`'s schema `node`, recursing into nested models."""
    if not isinstance(data, dict):
        return
    properties = node.get("properties", {})
    for name, info in model.model_fields.items():
        if name not in data or name not in properties:
            continue
        value = data[name]
        properties[name].setdefault("examples", [value])
        nested = _model_of(info.annotation)
        if nested is None:
            continue
        target = root.get("$defs", {}).get(nested.__name__)
        for sample in value if isinstance(value, list) else [value]:
            if target is not None:
                _annotate(nested, sample, target, root)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside `annotation` (X, X | None, list[X]), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (list, Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None

"""The answers model: everything a user states about one Quality Agreement."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from qa_builder.models.text import InputModel

Party = Literal["sponsor", "contract_acceptor"]
AcceptorKind = Literal["cmo", "cdmo", "contract_laboratory"]
Market = Literal["US", "EU", "UK", "CH", "CA", "JP", "AU"]
ProductType = Literal[
    "api",
    "drug_product",
    "sterile_drug_product",
    "biologic",
    "investigational",
    "otc_drug_product",
]
Service = Literal[
    "api_manufacture",
    "drug_product_manufacture",
    "sterile_fill_finish",
    "primary_packaging",
    "secondary_packaging",
    "labelling",
    "qc_testing",
    "release_testing",
    "stability_testing",
    "storage_distribution",
    "development",
    "tech_transfer",
    "clinical_supply",
    "serialisation",
]
ReleaseModel = Literal["cmo_release_with_sponsor_secondary", "sponsor_release", "qp_certification"]
SignatureMeaning = Literal["authorship", "review", "approval", "responsibility"]
LikeForLikeNotice = Literal["before_implementation", "with_batch_documentation", "annual_review", "none"]

NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
AgreementId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", strip_whitespace=True),
]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", strip_whitespace=True)]
RaciCode = Annotated[str, StringConstraints(pattern=r"^(R?A?C?I?|-)$", strip_whitespace=True)]


class Contact(InputModel):
    """A named person the other party can reach."""

    name: NonEmpty
    title: NonEmpty
    email: Email
    phone: str | None = None


class Site(InputModel):
    """A manufacturing or testing site of the contract acceptor."""

    name: NonEmpty
    address: NonEmpty | None = None
    country: NonEmpty
    registration_numbers: dict[NonEmpty, NonEmpty] = Field(
        default_factory=dict,
        description="Registration numbers by scheme, e.g. {FEI: '3001234567', 'EU MIA': 'UK MIA 1234'}.",
    )
    activities: list[Service] = Field(default_factory=list, description="Services performed at this site.")


class Sponsor(InputModel):
    """The contract giver: marketing authorisation / NDA / BLA holder."""

    name: NonEmpty
    address: NonEmpty
    country: NonEmpty
    quality_contact: Contact


class ContractAcceptor(InputModel):
    """The CMO, CDMO or contract laboratory that performs the outsourced work."""

    name: NonEmpty
    kind: AcceptorKind
    address: NonEmpty
    country: NonEmpty
    quality_contact: Contact
    sites: list[Site] = Field(min_length=1)


class Product(InputModel):
    """A product (or API) covered by the agreement."""

    name: NonEmpty
    type: ProductType
    dosage_form: str | None = None
    presentations: list[NonEmpty] = Field(default_factory=list)
    markets: list[Market] = Field(min_length=1)
    application_numbers: list[NonEmpty] = Field(default_factory=list)


class AgreementInfo(InputModel):
    """Identity and life cycle of the agreement document itself."""

    id: AgreementId
    title: NonEmpty
    version: int = Field(ge=1)
    effective_date: dt.date
    review_period_months: int = Field(ge=6, le=60)
    standalone: bool = Field(
        default=True,
        description="The agreement stands alone; false if it is merely a schedule of the commercial agreement.",
    )
    prevails_on_quality_matters: bool = True
    commercial_agreement: str | None = Field(
        default=None, description="Name and date of the related supply or services agreement."
    )
    governing_law: str | None = None


class ResponsibilityOverride(InputModel):
    """A change to one row of the default RACI matrix."""

    activity: NonEmpty
    sponsor: RaciCode
    contract_acceptor: RaciCode
    notes: str | None = None
    split_of_duties: str | None = Field(
        default=None,
        description="Written split of duties; required where both parties are Responsible for a critical activity.",
    )


class ChangeControl(InputModel):
    """How changes at the contract acceptor are notified and approved."""

    sponsor_prior_approval_for_filed_changes: bool = True
    filing_assessment_owner: Party | None = "sponsor"
    major_change_notice_days: int = Field(default=90, ge=0, le=365)
    minor_change_notice_days: int = Field(default=30, ge=0, le=365)
    like_for_like_notice: LikeForLikeNotice = "before_implementation"


class Subcontractor(InputModel):
    """An approved subcontractor of the contract acceptor."""

    name: NonEmpty
    address: NonEmpty | None = Field(default=None, description="Address of the site where the work is done.")
    activities: list[Service] = Field(default_factory=list, description="Services subcontracted to it.")


class Subcontracting(InputModel):
    """Whether and how the contract acceptor may pass work on."""

    allowed: bool = False
    prior_written_consent: bool = True
    flow_down: bool = True
    approved_subcontractors: list[Subcontractor] = Field(default_factory=list)


class Inspections(InputModel):
    """Regulatory inspections of the contract acceptor's sites."""

    notify_within_hours: int | None = Field(default=24, ge=1, le=720)
    share_reports_within_business_days: int | None = Field(default=5, ge=1, le=60)
    notify_warning_letters: bool = True
    sponsor_may_attend: bool = True
    sponsor_reviews_responses: bool = True


class Audits(InputModel):
    """The sponsor's audits of the contract acceptor."""

    acceptor_status: Literal["new", "established"] = "established"
    risk_tier: Literal[1, 2] = Field(
        default=1,
        description="1 = lower risk (good compliance history, non-sterile); 2 = higher risk (sterile, biologic, "
        "new technology or compliance concerns).",
    )
    routine_frequency_months: int = Field(default=24, ge=1, le=120)
    for_cause: bool = True
    notice_business_days: int = Field(default=30, ge=0, le=120)
    capa_response_days: int = Field(default=30, ge=1, le=120)


class Deviations(InputModel):
    """Deviation, OOS and investigation clocks."""

    critical_notify_hours: int = Field(default=24, ge=1, le=168)
    major_notify_business_days: int = Field(default=2, ge=1, le=30)
    investigation_closure_days: int = Field(default=30, ge=1, le=180)
    extension_process: bool = True


class Complaints(InputModel):
    """Complaint handling between the parties."""

    forward_business_days: int = Field(default=3, ge=1, le=30)
    acknowledge_business_days: int = Field(default=2, ge=1, le=30)
    critical_assessment_hours: int = Field(default=48, ge=1, le=168)
    final_report_days: int = Field(default=30, ge=1, le=180)
    joint_investigation: bool = True


class Records(InputModel):
    """Retention of GMP records."""

    retention_years_after_expiry: int = Field(default=1, ge=0, le=50)
    retention_years_after_certification: int = Field(default=5, ge=0, le=50)
    pre_destruction_notice_days: int | None = Field(default=60, ge=1, le=365)


class Term(InputModel):
    """Duration, termination and exit."""

    initial_years: int = Field(default=3, ge=1, le=20)
    termination_notice_months: int = Field(default=6, ge=0, le=36)
    exit_handover: bool = True


class TechTransfer(InputModel):
    """Technology transfer, new sites and scale changes."""

    site_or_scale_change: bool = Field(
        default=False, description="A new site, line or scale is in scope of this agreement."
    )
    comparability_required: bool = True
    update_filings: bool = True


class Release(InputModel):
    """Batch documentation clocks that go with the release model."""

    documentation_within_business_days: int = Field(default=10, ge=1, le=60)


class Signatory(InputModel):
    """A person who signs the agreement for one party."""

    party: Party
    name: NonEmpty
    title: NonEmpty
    email: Email
    meaning: SignatureMeaning = "approval"


class RevisionEntry(InputModel):
    """One row of the agreement's revision history."""

    version: int = Field(ge=1)
    date: dt.date
    description: NonEmpty


class Answers(InputModel):
    """All answers for one Quality Agreement; the single input of a build."""

    agreement: AgreementInfo
    sponsor: Sponsor
    contract_acceptor: ContractAcceptor
    products: list[Product] = Field(min_length=1)
    services: list[Service] = Field(min_length=1)
    release_model: ReleaseModel
    release: Release = Release()
    responsibilities: list[ResponsibilityOverride] = Field(default_factory=list)
    change_control: ChangeControl = ChangeControl()
    subcontracting: Subcontracting = Subcontracting()
    inspections: Inspections = Inspections()
    audits: Audits = Audits()
    deviations: Deviations = Deviations()
    complaints: Complaints = Complaints()
    records: Records = Records()
    term: Term = Term()
    tech_transfer: TechTransfer = TechTransfer()
    positions: dict[NonEmpty, NonEmpty] = Field(
        default_factory=dict, description="Chosen clause positions by clause id, e.g. {audits: fallback}."
    )
    revision_history: list[RevisionEntry] = Field(default_factory=list)
    signatories: list[Signatory] = Field(min_length=2)

    @field_validator("services")
    @classmethod
    def _services_unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a service more than once")
        return value

    @field_validator("signatories")
    @classmethod
    def _both_parties_sign(cls, value: list[Signatory]) -> list[Signatory]:
        parties = {s.party for s in value}
        for party in ("sponsor", "contract_acceptor"):
            if party not in parties:
                raise ValueError(f"needs at least one signatory with party '{party}'")
        return value

"""The answers model: everything a user states about one Quality Agreement."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from qa_builder.models.text import InputModel

Party = Literal["sponsor", "contract_acceptor"]
AcceptorKind = Literal["cmo", "cdmo", "contract_laboratory"]
Market = Literal["US", "EU", "UK", "CH", "CA", "JP", "AU", "KR"]
MARKET_NAMES: dict[str, str] = {
    "US": "United States", "EU": "European Union / EEA", "UK": "United Kingdom", "CH": "Switzerland",
    "CA": "Canada", "JP": "Japan", "AU": "Australia", "KR": "Republic of Korea",
}
ProductType = Literal[
    "api",
    "biological_drug_substance",
    "drug_product",
    "sterile_drug_product",
    "otc_drug_product",
    "biological_drug_product",
    "investigational",
    "biologic",
]
"""`biologic` is the old, ambiguous type: read as biological_drug_product or biological_drug_substance
(see `Answers.effective_type`), with a notice."""
ArrangedType = Literal[
    "api",
    "biological_drug_substance",
    "drug_product",
    "sterile_drug_product",
    "otc_drug_product",
    "biological_drug_product",
    "investigational",
]
DRUG_SUBSTANCE_TYPES: tuple[str, ...] = ("api", "biological_drug_substance")
BIOLOGICAL_TYPES: tuple[str, ...] = ("biological_drug_substance", "biological_drug_product")
ApplicationType = Literal[
    "NDA", "ANDA", "BLA", "OTC_monograph", "DMF", "MAA", "ASMF", "CEP", "IND", "CTA", "other",
]
Service = Literal[
    "api_manufacture",
    "drug_substance_manufacture",
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
PRODUCT_SERVICES: tuple[str, ...] = (
    "drug_product_manufacture", "sterile_fill_finish", "primary_packaging", "secondary_packaging", "labelling",
)
"""Services that make an old `biologic` a drug product (the rest leave a drug substance if it is made)."""
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


class Affiliate(InputModel):
    """An affiliate of one party that joins the agreement or is named in it, e.g. the Japanese marketing
    authorisation holder of the Sponsor's group."""

    name: NonEmpty = Field(description="Example: 'Sponsor Japan K.K.'")
    address: NonEmpty = Field(description="Example: '1-2-3 Nihonbashi, Chuo-ku, Tokyo 103-0027'")
    country: NonEmpty = Field(description="Example: Japan")
    role: NonEmpty = Field(description="What it does under the agreement. Example: 'Japanese marketing "
                                       "authorisation holder (GQP)'")
    affiliate_of: Party = Field(description="The party whose affiliate it is. Example: sponsor")
    joins_as_party: bool = Field(default=True, description="The affiliate is an additional party to the "
                                                           "agreement (false: only named in it).")
    markets: list[Market] = Field(default_factory=list, description="Markets it acts for. Example: [JP]")
    holds_marketing_authorisation: bool = Field(
        default=False, description="It holds the marketing authorisation (approval, licence) of the Products for "
                                   "its markets, so it, not its principal, files changes and decides recalls there. "
                                   "Example: true for 'Sponsor Japan K.K.' holding the Japanese approval")
    quality_contact: Contact | None = None


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


class Trial(InputModel):
    """The clinical trial(s) an investigational product is supplied for."""

    sponsor: NonEmpty = Field(description="The trial sponsor (Regulation (EU) No 536/2014 Art 2(2)(14)); it may "
                                          "differ from the agreement's Sponsor party and may hold no authorisation. "
                                          "Example: 'Acme Biotech Inc.'")
    sponsor_country: NonEmpty | None = Field(
        default=None, description="Country where the trial sponsor is established. Example: 'United States'")
    eu_legal_representative: NonEmpty | None = Field(
        default=None, description="Name and address of the trial sponsor's legal representative in the EU, "
                                  "required where the sponsor is not established in the Union (Regulation (EU) "
                                  "No 536/2014 Art 74). Example: 'Acme Biotech Europe B.V., Amsterdam, NL'")
    countries: list[NonEmpty] = Field(default_factory=list, description="Countries where the trial runs. "
                                                                        "Example: [Germany, France, Spain]")
    numbers: list[NonEmpty] = Field(default_factory=list, description="Trial numbers: EU CT numbers, IND numbers. "
                                                                      "Example: ['2025-512345-12-00', 'IND 123456']")


class ReleaseParties(InputModel):
    """Who certifies batches, and where."""

    certifier: Party | None = Field(
        default=None, description="Whose Qualified Person (or responsible person) certifies each batch under "
                                  "qp_certification: sponsor (default) or contract_acceptor (the acceptor's site "
                                  "is the batch-release site). Example: contract_acceptor")
    batch_release_site: NonEmpty | None = Field(
        default=None, description="Name and address of the batch-release (certification) site. "
                                  "Example: 'Acceptor GmbH, Werk 2, 79108 Freiburg, Germany'")
    authorisation_number: NonEmpty | None = Field(
        default=None, description="Manufacturing / import authorisation number of the batch-release site. "
                                  "Example: 'DE_BW_01_MIA_2024_0042'")
    qualified_person: NonEmpty | None = Field(
        default=None, description="Name of the certifying Qualified Person (or responsible person). "
                                  "Example: 'Dr. Anna Weber'")
    deputies: list[NonEmpty] = Field(default_factory=list, description="Names of the deputy Qualified Persons. "
                                                                       "Example: ['Dr. Jonas Keller']")
    certifying_affiliate: NonEmpty | None = Field(
        default=None, description="Name of the affiliate of the certifier party (listed under affiliates) that holds "
                                  "the authorisation of the batch-release site, where it is not the party itself; by "
                                  "default an affiliate of that party acting for the market. "
                                  "Example: 'Sponsor Pharma Ireland Ltd'")


class ReleaseArrangement(ReleaseParties):
    """One product's own release arrangement (the top-level release_model and release are the default)."""

    model: ReleaseModel | None = Field(
        default=None, description="The release model; default the top-level release_model. "
                                  "Example: qp_certification")


class Product(InputModel):
    """A product (or active substance) covered by the agreement."""

    name: NonEmpty
    type: ProductType = Field(description="api (small-molecule active substance), biological_drug_substance, "
                                          "drug_product, sterile_drug_product, otc_drug_product, "
                                          "biological_drug_product, investigational; 'biologic' is the old "
                                          "ambiguous type. Example: biological_drug_substance")
    dosage_form: str | None = None
    presentations: list[NonEmpty] = Field(default_factory=list)
    markets: list[Market] = Field(min_length=1, description="Markets supplied; EU means EU/EEA. Example: [US, EU]")
    application_numbers: list[NonEmpty] = Field(default_factory=list)
    application_type: ApplicationType | None = Field(
        default=None, description="The application the product is (to be) authorised under where it decides a "
                                  "duty (FAR vs BPDR, 314.70 vs 601.12); derived where unambiguous (biological + "
                                  "US: BLA). Example: ANDA")
    release: ReleaseArrangement | None = Field(
        default=None, description="This product's own release arrangement; default the top-level release_model "
                                  "and release. Example: {model: qp_certification, certifier: contract_acceptor}")
    trial: Trial | None = Field(default=None, description="Trial context; only for investigational products.")

    @model_validator(mode="after")
    def _trial_only_for_investigational(self) -> Product:
        if self.trial is not None and self.type != "investigational":
            raise ValueError(f"trial is given for a product of type {self.type}; trial context belongs to "
                             "investigational products only (set type: investigational, or remove trial)")
        return self

    @field_validator("markets")
    @classmethod
    def _markets_unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a market more than once")
        return value


class AgreementInfo(InputModel):
    """Identity and life cycle of the agreement document itself."""

    id: AgreementId
    title: NonEmpty
    version: int = Field(ge=1, le=99_999)  # 2**53 passed check and failed the build record (attack round 9)
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
    country: NonEmpty | None = Field(default=None, description="Country of that site. Example: Germany")
    registration_numbers: dict[NonEmpty, NonEmpty] = Field(
        default_factory=dict, description="Registration numbers by scheme. Example: {FEI: '3009876543', "
                                          "'EU MIA': 'DE_NW_05_MIA_2023_0011'}")
    activities: list[Service] = Field(default_factory=list, description="Services subcontracted to it.")
    tests: list[NonEmpty] = Field(default_factory=list, description="The named tests it performs. "
                                                                    "Example: ['sterility (Ph. Eur. 2.6.1)', "
                                                                    "'mycoplasma (Ph. Eur. 2.6.7)']")
    quality_contact: Contact | None = None


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


class Release(ReleaseParties):
    """The default release arrangement (with `release_model`) and the batch documentation clock."""

    documentation_within_business_days: int = Field(default=10, ge=1, le=60)


class Signatory(InputModel):
    """A person who signs the agreement for one party."""

    party: Party
    name: NonEmpty
    title: NonEmpty
    email: Email
    meaning: SignatureMeaning = "approval"
    on_behalf_of: NonEmpty | None = Field(
        default=None, description="Name of the affiliate (of `party`) this person signs for, listed under "
                                  "affiliates. Example: 'Sponsor Japan K.K.'")


class RevisionEntry(InputModel):
    """One row of the agreement's revision history."""

    version: int = Field(ge=1, le=99_999)
    date: dt.date
    description: NonEmpty


class Answers(InputModel):
    """All answers for one Quality Agreement; the single input of a build."""

    agreement: AgreementInfo
    sponsor: Sponsor
    contract_acceptor: ContractAcceptor
    affiliates: list[Affiliate] = Field(
        default_factory=list, description="Affiliates of either party that join the agreement or sign for one. "
                                          "Example: [{name: 'Sponsor Japan K.K.', role: 'Japanese marketing "
                                          "authorisation holder (GQP)', affiliate_of: sponsor, ...}]")
    products: list[Product] = Field(min_length=1)
    services: list[Service] = Field(min_length=1)
    release_model: ReleaseModel = Field(
        description="The default release model, for products without their own release.model. "
                    "Example: qp_certification")
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

    @model_validator(mode="before")
    @classmethod
    def _default_release_model(cls, data: Any) -> Any:
        """`release_model` may be left out when every product states its own release.model and they agree."""
        if not isinstance(data, dict) or "release_model" in data or not isinstance(data.get("products"), list):
            return data
        models = set()
        for product in data["products"]:
            release = product.get("release") if isinstance(product, dict) else None
            models.add(release.get("model") if isinstance(release, dict) else None)
        if len(models) == 1 and None not in models:
            return {**data, "release_model": models.pop()}
        return data

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

    @model_validator(mode="after")
    def _arrangement_consistent(self) -> Answers:
        affiliates = {a.name: a for a in self.affiliates}
        for where, release in [("release", self.release), *((f"products[{i}].release", p.release)
                                                            for i, p in enumerate(self.products))]:
            named = release.certifying_affiliate if release is not None else None
            if named is not None and named not in affiliates:
                raise ValueError(f"{where}.certifying_affiliate names '{named}', which is not listed under "
                                 "affiliates; add it there (name, address, country, role, affiliate_of) or correct "
                                 "the name")
        for i, signatory in enumerate(self.signatories):
            if signatory.on_behalf_of is None:
                continue
            affiliate = affiliates.get(signatory.on_behalf_of)
            if affiliate is None:
                raise ValueError(f"signatories[{i}].on_behalf_of names '{signatory.on_behalf_of}', which is not "
                                 "listed under affiliates; add it there (name, address, country, role, "
                                 "affiliate_of) or correct the name")
            if affiliate.affiliate_of != signatory.party:
                raise ValueError(f"signatories[{i}] signs for party {signatory.party} on behalf of "
                                 f"'{affiliate.name}', an affiliate of {affiliate.affiliate_of}; make party and "
                                 "affiliate_of the same")
        return self

    def effective_type(self, product: Product) -> ArrangedType:
        """The product's type in the arrangement model: the old `biologic` read from the services.

        A `biologic` is a biological drug product when the product has a dosage form or the services make or
        pack a finished product (drug_product_manufacture, sterile_fill_finish, primary or secondary
        packaging, labelling); otherwise a biological drug substance when drug_substance_manufacture or
        api_manufacture is a service; otherwise (testing only) a drug product."""
        if product.type != "biologic":
            return product.type
        services = set(self.services)
        if product.dosage_form or services & set(PRODUCT_SERVICES):
            return "biological_drug_product"
        if services & {"drug_substance_manufacture", "api_manufacture"}:
            return "biological_drug_substance"
        return "biological_drug_product"

    def release_of(self, product: Product) -> ReleaseArrangement:
        """The product's release arrangement: its own `release` where given, field by field over the default
        (`release_model` and `release`); `certifier` defaults to the sponsor."""
        own = product.release or ReleaseArrangement()
        default = self.release
        return ReleaseArrangement(
            model=own.model or self.release_model,
            certifier=own.certifier or default.certifier or "sponsor",
            batch_release_site=own.batch_release_site or default.batch_release_site,
            authorisation_number=own.authorisation_number or default.authorisation_number,
            qualified_person=own.qualified_person or default.qualified_person,
            deputies=own.deputies or default.deputies,
            certifying_affiliate=own.certifying_affiliate or default.certifying_affiliate,
        )

    def assumptions(self) -> list[tuple[str, str]]:
        """What the old answers shape left open and was assumed: (field path, one-line notice)."""
        found: list[tuple[str, str]] = []
        for i, product in enumerate(self.products):
            if product.type == "biologic":
                arranged = self.effective_type(product)
                why = ("it has a dosage form or the services make or pack a finished product"
                       if arranged == "biological_drug_product" and (
                           product.dosage_form or set(self.services) & set(PRODUCT_SERVICES))
                       else "the services make the drug substance" if arranged == "biological_drug_substance"
                       else "no service makes the drug substance")
                other = ("biological_drug_substance" if arranged == "biological_drug_product"
                         else "biological_drug_product")
                found.append((f"products[{i}].type",
                              f"'biologic' is read as {arranged} because {why}; write type: {arranged} "
                              f"(or {other}) to state it"))
            if product.type == "otc_drug_product" and "US" in product.markets and product.application_type is None:
                found.append((f"products[{i}].application_type",
                              "not given, so this OTC product is treated as possibly marketed under an OTC "
                              "monograph (no Field Alert Reports); write application_type: NDA or ANDA if it has "
                              "an application, or OTC_monograph to state it"))
        return found

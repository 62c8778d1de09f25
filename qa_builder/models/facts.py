"""The arrangement facts: what clauses, conditions and checks read instead of re-deriving law from raw answers.

Derived by `qa_builder.library.facts.derive` from the answers and the library's jurisdiction rules; the contract
between clause texts, checks and the arrangement model (issue 14). `qa_builder.library.context` re-exports it.
"""

from __future__ import annotations

from pydantic import Field

from qa_builder.models.base import StrictModel

SPONSOR_TERM = "Sponsor"
ACCEPTOR_TERM = "Contract Acceptor"


class NamedRule(StrictModel):
    """One applicable legal rule, as a clause states it: which market, the words, and the source key.

    `source` is a requirement or reference id of the clause library (e.g. ``EU-Dir2001-83-Art51``)."""

    market: str
    text: str
    source: str
    rule: str = ""  # the jurisdictions.yaml rule, e.g. "retention_minima.eu_marketed"
    products: list[str] = Field(default_factory=list)  # names of the products it applies to
    years_after_expiry: int = 0  # retention minima only
    years_after_certification: int = 0  # retention minima only
    binding: bool = True  # retention minima only: set by legislation (false: by a GMP guideline such as ICH Q7)


class Certification(StrictModel):
    """Who certifies or releases one product for one market, under which law."""

    product: str
    market: str
    role: str  # e.g. "Qualified Person", "Fachtechnisch verantwortliche Person", "Quality Unit"
    certifier: str  # "sponsor" or "contract_acceptor"
    law: str  # e.g. "Article 51 of Directive 2001/83/EC"
    source: str
    site: str | None = None
    authorisation_number: str | None = None
    persons: list[str] = Field(default_factory=list)
    step: str = "certification"  # certification, release, technical release, market release, market shipment
    qp: bool = False  # a QP-type certification (needs release model qp_certification)
    rule: str = ""  # the jurisdictions.yaml rule, e.g. "certifications.eu_marketed"
    entity: str = ""  # legal name of who certifies/decides: an affiliate acting for `certifier` there, or the party
    entity_is_affiliate: bool = False  # `entity` is an affiliate of the certifier party, not the party itself
    entity_is_party: bool = True  # `entity` is a party to the agreement (an affiliate with joins_as_party)


class ProductFacts(StrictModel):
    """Facts about one product of the agreement."""

    name: str
    type: str  # the arranged type (an old `biologic` read as biological_drug_product / _substance)
    markets: list[str]
    is_drug_substance: bool
    is_biological: bool
    is_sterile: bool
    is_investigational: bool
    application_type: str | None  # NDA, ANDA, BLA, MAA, IND, CTA ... where known or derived
    release_model: str
    certifier: str = "sponsor"  # whose QP / quality unit certifies under qp_certification
    applications: dict[str, list[str]] = Field(default_factory=dict)  # market -> possible application types
    application_candidates: list[str] = Field(default_factory=list)  # types the rules allow (any market)
    application_fits: bool = True  # the stated application_type is one the rules allow (true if none stated)
    qp_required: bool = False  # some market needs QP-type certification of this product
    qp_refused: bool = False  # QP certification is wrong for this product (drug substance)


class Facts(StrictModel):
    """Facts derived from the answers (and the library's jurisdiction rules) so that conditions stay
    short and every clause and check reads one derivation.

    The contract between clause texts, checks and the arrangement model (issue 14): clause texts and
    conditions use these names only; none re-derives them from raw answers."""

    markets: list[str]
    product_types: list[str]  # arranged types (see ProductFacts.type)
    product_names: list[str]
    site_names: list[str]
    has_us: bool
    has_eu: bool
    has_uk: bool = False
    has_ch: bool = False
    has_jp: bool = False
    has_ca: bool = False
    has_au: bool = False
    has_kr: bool = False
    has_api: bool  # a small-molecule active substance
    has_biological_drug_substance: bool = False
    has_drug_substance: bool = False  # active substance or biological drug substance
    drug_substance_only: bool = False  # every product is a drug substance (no finished product)
    has_finished_product: bool
    has_sterile: bool
    has_biologic: bool  # a biological drug substance or drug product
    has_investigational: bool
    has_marketed: bool = True  # at least one product is not investigational
    investigational_only: bool = False
    third_country_api_for_eu: bool = False  # active substance for the EU made outside the EEA
    qp_required: bool = False  # some product needs QP / responsible-person certification
    field_alert: bool = False  # 21 CFR 314.81(b)(1) applies (NDA/ANDA product, US)
    bpdr: bool = False  # 21 CFR 600.14 applies (BLA product, US)
    us_licensed_biologic: bool = False  # a BLA biological drug product for the US (21 CFR 600.13 samples, 610.1 tests)
    eu_quality_defect: bool = False  # EU/EEA quality-defect reporting applies (marketed product)
    eu_variations: bool = False  # EU variations framework (Reg 1234/2008, Del Reg 2024/1701) applies
    ctr_modifications: bool = False  # substantial modifications under Reg (EU) 536/2014 apply
    eu_safety_features: bool = False  # Del Reg (EU) 2016/161 applies (EU packaging of Rx product)
    dscsa: bool = False  # FD&C Act 582 applies (US packaging of finished product)
    eu_legal_representative_needed: bool = False  # an EU IMP's trial sponsor is established outside the EU/EEA
    acceptor_certifies: bool = False  # the contract acceptor's QP certifies some product (qp_certification)
    sponsor_certifies: bool = False  # the sponsor's QP certifies some product (qp_certification)
    release_models: list[str] = Field(default_factory=list)  # the release models of the products
    per_product_release: bool = False  # products have different release models or certifiers
    certified_by: str = "none"  # whose QP certifies under qp_certification: sponsor, contract_acceptor, both, none
    site_outside_eea: bool = False  # a Site of the contract acceptor is outside the EU/EEA
    eea_site_names: list[str] = Field(default_factory=list)  # names of the Sites in the EU/EEA, in answers order
    # markets (jurisdictions.yaml ids, 'EU' for the EEA) whose territory holds every Site, e.g. ['UK']: no Batch is
    # imported into them from another Site
    every_site_in: list[str] = Field(default_factory=list)
    # countries of the contract acceptor's Sites that no market of jurisdictions.yaml covers (e.g. India)
    other_site_countries: list[str] = Field(default_factory=list)
    has_affiliates: bool = False  # affiliates join or are named in the agreement
    # market -> legal name of the Sponsor's affiliate that holds the marketing authorisation there and is a party
    # (affiliates[].holds_marketing_authorisation); a market not listed: the Sponsor holds it
    ma_holders: dict[str, str] = Field(default_factory=dict)
    gmp_bases: list[NamedRule] = Field(default_factory=list)
    certifications: list[Certification] = Field(default_factory=list)
    change_regimes: list[NamedRule] = Field(default_factory=list)
    defect_reporting: list[NamedRule] = Field(default_factory=list)
    retention_minima: list[NamedRule] = Field(default_factory=list)
    regulators: list[NamedRule] = Field(default_factory=list)  # text = the authority's name
    duties: list[NamedRule] = Field(default_factory=list)  # written confirmation, safety features, DSCSA, ...
    rules: list[str] = Field(default_factory=list)  # ids of every applied rule, e.g. "certifications.eu_imp"
    sources: list[str] = Field(default_factory=list)  # requirement ids of every applied rule
    products: list[ProductFacts] = Field(default_factory=list)
    is_lab: bool
    is_cdmo: bool
    subcontracting_allowed: bool
    sponsor: str
    acceptor: str

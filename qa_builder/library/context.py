"""The names a clause text or condition can use: the answers, plus facts derived from them."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic import Field, create_model

from qa_builder.models.answers import Answers
from qa_builder.models.base import StrictModel
from qa_builder.models.library import Clock
from qa_builder.sandbox import freeze_context

SPONSOR_TERM = "Sponsor"
ACCEPTOR_TERM = "Contract Acceptor"
EU_QP_MARKETS = ("EU",)


class NamedRule(StrictModel):
    """One applicable legal rule, as a clause states it: which market, the words, and the source key.

    `source` is a requirement or reference id of the clause library (e.g. ``EU-Dir2001-83-Art51``)."""

    market: str
    text: str
    source: str


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


class ProductFacts(StrictModel):
    """Facts about one product of the agreement."""

    name: str
    type: str
    markets: list[str]
    is_drug_substance: bool
    is_biological: bool
    is_sterile: bool
    is_investigational: bool
    application_type: str | None  # NDA, ANDA, BLA, MAA, IND, CTA ... where known or derived
    release_model: str


class Facts(StrictModel):
    """Facts derived from the answers (and the library's jurisdiction rules) so that conditions stay
    short and every clause and check reads one derivation.

    The contract between clause texts, checks and the arrangement model (issue 14): clause texts and
    conditions use these names only; none re-derives them from raw answers."""

    markets: list[str]
    product_types: list[str]
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
    has_biologic: bool
    has_investigational: bool
    has_marketed: bool = True  # at least one product is not investigational
    investigational_only: bool = False
    third_country_api_for_eu: bool = False  # active substance for the EU made outside the EEA
    qp_required: bool = False  # some product needs QP / responsible-person certification
    field_alert: bool = False  # 21 CFR 314.81(b)(1) applies (NDA/ANDA product, US)
    bpdr: bool = False  # 21 CFR 600.14 applies (BLA product, US)
    eu_quality_defect: bool = False  # EU/EEA quality-defect reporting applies (marketed product)
    eu_variations: bool = False  # EU variations framework (Reg 1234/2008, Del Reg 2024/1701) applies
    ctr_modifications: bool = False  # substantial modifications under Reg (EU) 536/2014 apply
    eu_safety_features: bool = False  # Del Reg (EU) 2016/161 applies (EU packaging of Rx product)
    dscsa: bool = False  # FD&C Act 582 applies (US packaging of finished product)
    gmp_bases: list[NamedRule] = Field(default_factory=list)
    certifications: list[Certification] = Field(default_factory=list)
    change_regimes: list[NamedRule] = Field(default_factory=list)
    defect_reporting: list[NamedRule] = Field(default_factory=list)
    retention_minima: list[NamedRule] = Field(default_factory=list)
    regulators: list[NamedRule] = Field(default_factory=list)  # text = the authority's name
    products: list[ProductFacts] = Field(default_factory=list)
    is_lab: bool
    is_cdmo: bool
    subcontracting_allowed: bool
    sponsor: str
    acceptor: str


def derive_facts(answers: Answers) -> Facts:
    """Compute the derived facts for one answers file."""
    markets: list[str] = sorted({str(m) for p in answers.products for m in p.markets})
    types: list[str] = sorted({str(p.type) for p in answers.products})
    services = set(answers.services)
    return Facts(
        markets=markets,
        product_types=types,
        product_names=[p.name for p in answers.products],
        site_names=[s.name for s in answers.contract_acceptor.sites],
        has_us="US" in markets,
        has_eu=any(m in EU_QP_MARKETS for m in markets),
        has_api="api" in types,
        has_finished_product=any(t != "api" for t in types),
        has_sterile="sterile_drug_product" in types or "sterile_fill_finish" in services,
        has_biologic="biologic" in types,
        has_investigational="investigational" in types or "clinical_supply" in services,
        is_lab=answers.contract_acceptor.kind == "contract_laboratory",
        is_cdmo=answers.contract_acceptor.kind == "cdmo",
        subcontracting_allowed=answers.subcontracting.allowed,
        sponsor=SPONSOR_TERM,
        acceptor=ACCEPTOR_TERM,
    )


def clocks_model(clock_ids: Sequence[str]) -> type[StrictModel]:
    """The type of `clocks` in the rendering context: one `Clock` field per catalogue id, so that
    `library check` refuses `clocks.<id>` for an id the catalogue does not declare.

    Made once per catalogue (building a pydantic model costs ~13 ms; every build context needs it)."""
    return _clocks_model(tuple(clock_ids))


@lru_cache(maxsize=16)
def _clocks_model(clock_ids: tuple[str, ...]) -> type[StrictModel]:
    fields: dict[str, Any] = {clock_id: (Clock, ...) for clock_id in clock_ids}
    return create_model("Clocks", __base__=StrictModel, **fields)


def context_names(clock_ids: Sequence[str] = ()) -> dict[str, Any]:
    """Every top-level name a text may use, with its type annotation (a model, `list[str]`, `bool`, ...).

    Args:
        clock_ids: the ids of the library's clock catalogue (clocks.yaml), reachable as `clocks.<id>`.
    """
    names: dict[str, Any] = {name: info.annotation for name, info in Answers.model_fields.items()}
    names["facts"] = Facts
    names["clocks"] = clocks_model(clock_ids)
    return names


def build_context(answers: Answers, clocks: Sequence[Clock] = ()) -> dict[str, Any]:
    """The rendering context: each answers field by its own name, `facts`, and the library's `clocks`
    (id → Clock), as frozen plain data.

    Texts see `Record`s of declared fields, tuples and read-only mappings (qa_builder.sandbox.freeze), never
    the pydantic models themselves: nothing a text does can call a model method or change the answers.

    Args:
        answers: the validated answers.
        clocks: the library's clock catalogue (ClauseLibrary.clocks).
    """
    context: dict[str, Any] = {name: getattr(answers, name) for name in Answers.model_fields}
    context["facts"] = derive_facts(answers)
    model = clocks_model([c.id for c in clocks])
    context["clocks"] = model.model_validate({c.id: c for c in clocks})
    return freeze_context(context)

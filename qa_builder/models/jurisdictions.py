"""Jurisdiction and product rules as data (clause_library/jurisdictions.yaml): which law applies to which
product type in which market, each rule with the id of its source in requirements.yaml."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from qa_builder.models.answers import ApplicationType, ArrangedType, Market, Service
from qa_builder.models.text import LibraryModel

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]


class RuleScope(LibraryModel):
    """Where a rule applies: to a product of one of `product_types` supplied to one of `markets`.

    An empty list means any. `application_types` holds when every application the product may be authorised
    under in that market (stated, or the candidates of `applications`) is in the list, so an unstated
    NDA-or-ANDA product still gets the Field Alert rule that both share."""

    markets: list[Market] = Field(min_length=1)
    product_types: list[ArrangedType] = Field(default_factory=list)
    application_types: list[ApplicationType] = Field(default_factory=list)
    services_any: list[Service] = Field(
        default_factory=list, description="Applies only when one of these services is contracted.")
    site_outside_eea: bool | None = Field(
        default=None, description="true: only when a Site of the contract acceptor is outside the EU/EEA.")
    site_in_market: bool | None = Field(
        default=None, description="true: only when a Site of the contract acceptor is in the market's country "
                                  "(markets[].countries; the EU/EEA: eea_countries); false: only when none is.")
    trial_sponsor_outside_eea: bool | None = Field(
        default=None, description="true: only when the product's trial sponsor is established outside the EU/EEA.")


class Rule(RuleScope):
    """One applicable legal rule, as a clause states it."""

    id: Identifier
    text: str = Field(min_length=1, description="The words a clause prints, e.g. the instrument's name.")
    source: str = Field(min_length=1, description="Requirement id of requirements.yaml.")
    fact: Identifier | None = Field(
        default=None, description="A true/false field of Facts that is true when this rule applies.")


class RetentionRule(Rule):
    """A legal minimum retention of batch records."""

    years_after_expiry: int = Field(default=0, ge=0, le=50)
    years_after_certification: int = Field(default=0, ge=0, le=50)
    binding: bool = Field(default=True, description="The minimum is set by legislation; false when it is set by a "
                                                    "GMP guideline the law applies (ICH Q7 section 6.13), so that "
                                                    "the clause does not call it 'the law'.")


class CertificationRule(RuleScope):
    """Who certifies or releases a batch of a product for a market, under which law."""

    id: Identifier
    step: str = Field(default="certification", description="e.g. certification, technical release, market "
                                                              "release, market shipment")
    role: str = Field(min_length=1, description="e.g. Qualified Person, Quality Unit")
    certifier: Literal["release", "sponsor", "contract_acceptor", "manufacturer"] = Field(
        default="release", description="release: the party the release arrangement names (certifier under "
                                       "qp_certification, else the sponsor); manufacturer: the contract acceptor "
                                       "where it manufactures, else the sponsor.")
    law: str = Field(min_length=1)
    source: str = Field(min_length=1)
    qp: bool = Field(default=False, description="Needs release model qp_certification (a QP-type certification).")
    qp_refused: bool = Field(default=False, description="release model qp_certification is wrong here (e.g. "
                                                        "active substances are not QP-certified).")


class ApplicationRule(LibraryModel):
    """The applications a product of these types in these markets may be authorised under."""

    markets: list[Market] = Field(min_length=1)
    product_types: list[ArrangedType] = Field(min_length=1)
    candidates: list[ApplicationType] = Field(min_length=1)


class Regulator(LibraryModel):
    """A regulator of one market."""

    text: str = Field(min_length=1)
    source: str = Field(min_length=1)


class MarketRules(LibraryModel):
    """A market's name and regulators."""

    id: Market
    name: str = Field(min_length=1)
    countries: list[str] = Field(default_factory=list, description="The country as an address may give it "
                                                                   "(for the EU/EEA: eea_countries).")
    regulators: list[Regulator] = Field(min_length=1)


class Jurisdictions(LibraryModel):
    """All jurisdiction rules of a library (jurisdictions.yaml)."""

    eea_countries: list[str] = Field(default_factory=list, description="EU/EEA member states by name and ISO "
                                                                       "code, as a country may be written.")
    markets: list[MarketRules] = Field(default_factory=list)
    applications: list[ApplicationRule] = Field(default_factory=list)
    gmp_bases: list[Rule] = Field(default_factory=list)
    certifications: list[CertificationRule] = Field(default_factory=list)
    defect_reporting: list[Rule] = Field(default_factory=list)
    change_regimes: list[Rule] = Field(default_factory=list)
    retention_minima: list[RetentionRule] = Field(default_factory=list)
    duties: list[Rule] = Field(default_factory=list, description="Other duties that switch a fact on "
                                                                 "(written confirmation, safety features, DSCSA).")

    def sources(self) -> list[tuple[str, str]]:
        """('group.rule id', source requirement id) of every rule, for the loader's cross-check."""
        found: list[tuple[str, str]] = []
        groups: dict[str, list[Rule]] = {"gmp_bases": self.gmp_bases, "defect_reporting": self.defect_reporting,
                                         "change_regimes": self.change_regimes,
                                         "retention_minima": list(self.retention_minima), "duties": self.duties}
        for name, group in groups.items():
            found.extend((f"{name}.{rule.id}", rule.source) for rule in group)
        found.extend((f"certifications.{rule.id}", rule.source) for rule in self.certifications)
        found.extend((f"markets.{m.id}", r.source) for m in self.markets for r in m.regulators)
        return found


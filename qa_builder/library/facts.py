"""Derive the arrangement facts from the answers and the library's jurisdiction rules (the one place that does)."""

from __future__ import annotations

from qa_builder.library.jurisdictions import bundled_jurisdictions
from qa_builder.models.answers import (
    BIOLOGICAL_TYPES,
    DRUG_SUBSTANCE_TYPES,
    Affiliate,
    Answers,
    Product,
    ReleaseArrangement,
)
from qa_builder.models.facts import ACCEPTOR_TERM, SPONSOR_TERM, Certification, Facts, NamedRule, ProductFacts
from qa_builder.models.jurisdictions import CertificationRule, Jurisdictions, Rule, RuleScope

MARKET_FLAGS = {"US": "has_us", "EU": "has_eu", "UK": "has_uk", "CH": "has_ch", "JP": "has_jp", "CA": "has_ca",
                "AU": "has_au", "KR": "has_kr"}


class _Arrangement:
    """One answers file seen through the rules: per product its type, markets and applications."""

    def __init__(self, answers: Answers, rules: Jurisdictions) -> None:
        self.answers = answers
        self.rules = rules
        eea = {c.casefold() for c in rules.eea_countries}
        self.eea = eea
        self.services = set(answers.services)
        self.site_outside_eea = any(s.country.casefold() not in eea for s in answers.contract_acceptor.sites)
        countries = {m.id: {c.casefold() for c in m.countries} for m in rules.markets}
        countries["EU"] = eea | countries.get("EU", set())
        self.site_markets = {market for market, names in countries.items()
                             if any(s.country.casefold() in names for s in answers.contract_acceptor.sites)}
        self.every_site_in: list[str] = sorted(str(market) for market, names in countries.items()
                                    if all(s.country.casefold() in names for s in answers.contract_acceptor.sites))
        known = set().union(*countries.values())
        self.other_site_countries = sorted({s.country for s in answers.contract_acceptor.sites
                                            if s.country.casefold() not in known})

    def type_of(self, product: Product) -> str:
        return self.answers.effective_type(product)

    def candidates(self, product: Product, market: str) -> list[str]:
        """The applications the rules allow for the product's type in `market`."""
        kind = self.type_of(product)
        for rule in self.rules.applications:
            if market in rule.markets and kind in rule.product_types:
                return list(rule.candidates)
        return []

    def applications(self, product: Product, market: str) -> list[str]:
        """The applications the product may have in `market`: the stated one, else the rules' candidates."""
        if product.application_type is not None:
            return [product.application_type]
        return self.candidates(product, market)

    def trial_sponsor_outside_eea(self, product: Product) -> bool:
        trial = product.trial
        if trial is None:
            return False
        country = trial.sponsor_country
        if country is None and trial.sponsor == self.answers.sponsor.name:
            country = self.answers.sponsor.country
        return country is not None and country.casefold() not in self.eea

    def applies(self, rule: RuleScope, product: Product, market: str) -> bool:
        """Whether `rule` applies to `product` supplied to `market`."""
        if market not in rule.markets:
            return False
        if rule.product_types and self.type_of(product) not in rule.product_types:
            return False
        if rule.application_types:
            possible = self.applications(product, market)
            if not possible or any(a not in rule.application_types for a in possible):
                return False
        if rule.services_any and not self.services & set(rule.services_any):
            return False
        if rule.site_outside_eea is not None and rule.site_outside_eea != self.site_outside_eea:
            return False
        if rule.site_in_market is not None and rule.site_in_market != (market in self.site_markets):
            return False
        return rule.trial_sponsor_outside_eea is None or (
            rule.trial_sponsor_outside_eea == self.trial_sponsor_outside_eea(product))


def derive(answers: Answers, jurisdictions: Jurisdictions | None = None) -> Facts:
    """The Facts of one answers file (see `qa_builder.library.context.Facts` for each field's meaning).

    Args:
        answers: the validated answers.
        jurisdictions: the library's rules; the bundled library's when None.
    """
    rules = jurisdictions if jurisdictions is not None else bundled_jurisdictions()
    arrangement = _Arrangement(answers, rules)
    products = answers.products
    types = [arrangement.type_of(p) for p in products]
    markets = sorted({str(m) for p in products for m in p.markets})
    flags: dict[str, bool] = {flag: market in markets for market, flag in MARKET_FLAGS.items()}
    applied: dict[tuple[str, str, str], tuple[Rule, list[str]]] = {}  # (group, rule id, market) -> products
    fact_flags: set[str] = set()
    rule_ids: list[str] = []
    sources: list[str] = []
    for group, group_rules in (("gmp_bases", rules.gmp_bases), ("defect_reporting", rules.defect_reporting),
                               ("change_regimes", rules.change_regimes), ("retention_minima", rules.retention_minima),
                               ("duties", rules.duties)):
        for rule in group_rules:
            for product in products:
                for market in _markets_of(arrangement, group, product):
                    if arrangement.applies(rule, product, market):
                        names = applied.setdefault((group, rule.id, market), (rule, []))[1]
                        if product.name not in names:
                            names.append(product.name)
                        if rule.fact:
                            fact_flags.add(rule.fact)
                        _add(rule_ids, f"{group}.{rule.id}")
                        _add(sources, rule.source)
    groups: dict[str, list[NamedRule]] = {"gmp_bases": [], "defect_reporting": [], "change_regimes": [],
                                          "retention_minima": [], "duties": []}
    for (group, rule_id, where), (rule, names) in applied.items():
        groups[group].append(NamedRule(
            market=where, text=rule.text, source=rule.source, rule=f"{group}.{rule_id}", products=names,
            years_after_expiry=getattr(rule, "years_after_expiry", 0),
            binding=getattr(rule, "binding", True),
            years_after_certification=getattr(rule, "years_after_certification", 0)))
    certifications: list[Certification] = []
    product_facts: list[ProductFacts] = []
    for product, kind in zip(products, types, strict=True):
        release = answers.release_of(product)
        model = str(release.model)
        certifier = str(release.certifier) if model == "qp_certification" else "sponsor"
        qp_required = qp_refused = False
        arranged = False  # a step of the product follows the release arrangement's certifier
        manufacturers: set[str] = set()  # who certifies or technically releases where the law names the maker
        for market in product.markets:
            for step in rules.certifications:
                if not arrangement.applies(step, product, market):
                    continue
                qp_required |= step.qp
                qp_refused |= step.qp_refused
                certification = _certification(step, product, market, certifier, release, answers)
                certifications.append(certification)
                arranged |= step.certifier == "release"
                if step.certifier == "manufacturer":
                    manufacturers.add(certification.certifier)
                _add(rule_ids, f"certifications.{step.id}")
                _add(sources, step.source)
        if model == "qp_certification" and not arranged and len(manufacturers) == 1:
            # No market of the product lets the arrangement choose the certifier (e.g. Switzerland only: the
            # technical release is the manufacturer's, Swissmedic FAQ B-349 / AMBV Art 7), so the person who
            # certifies is the one the law names, whatever release.certifier says (review5 R5-4).
            certifier = manufacturers.pop()
        allowed = sorted({a for m in product.markets for a in arrangement.candidates(product, m)})
        us_or_first = "US" if "US" in product.markets else product.markets[0]
        candidates = arrangement.applications(product, us_or_first)
        product_facts.append(ProductFacts(
            name=product.name, type=kind, markets=list(product.markets),
            is_drug_substance=kind in DRUG_SUBSTANCE_TYPES, is_biological=kind in BIOLOGICAL_TYPES,
            is_sterile=kind == "sterile_drug_product" or (
                "sterile_fill_finish" in arrangement.services and kind not in DRUG_SUBSTANCE_TYPES),
            is_investigational=kind == "investigational",
            application_type=candidates[0] if len(candidates) == 1 else None,
            release_model=model, certifier=certifier,
            applications={m: arrangement.applications(product, m) for m in product.markets},
            application_candidates=allowed,
            application_fits=product.application_type is None or product.application_type in allowed,
            qp_required=qp_required, qp_refused=qp_refused))
    regulators: list[NamedRule] = []
    for market_rules in rules.markets:
        if str(market_rules.id) in markets or market_rules.id in arrangement.site_markets:
            for regulator in market_rules.regulators:
                regulators.append(NamedRule(market=market_rules.id, text=regulator.text, source=regulator.source,
                                            rule=f"markets.{market_rules.id}",
                                            products=[p.name for p in products if market_rules.id in p.markets]))
    qp_products = [p for p in product_facts if p.release_model == "qp_certification"]
    release_models = sorted({p.release_model for p in product_facts})
    certifiers = {p.certifier for p in qp_products}
    services = arrangement.services
    drug_substance = [t in DRUG_SUBSTANCE_TYPES for t in types]
    return Facts(
        markets=markets,
        product_types=sorted(set(types)),
        product_names=[p.name for p in products],
        site_names=[s.name for s in answers.contract_acceptor.sites],
        **flags,
        has_api="api" in types,
        has_biological_drug_substance="biological_drug_substance" in types,
        has_drug_substance=any(drug_substance),
        drug_substance_only=all(drug_substance),
        has_finished_product=not all(drug_substance),
        has_sterile="sterile_drug_product" in types or "sterile_fill_finish" in services,
        has_biologic=any(t in BIOLOGICAL_TYPES for t in types),
        has_investigational="investigational" in types or "clinical_supply" in services,
        has_marketed=any(t != "investigational" for t in types),
        investigational_only=all(t == "investigational" for t in types),
        qp_required=any(p.qp_required for p in product_facts),
        **{name: True for name in sorted(fact_flags)},
        acceptor_certifies="contract_acceptor" in certifiers,
        sponsor_certifies="sponsor" in certifiers,
        release_models=release_models,
        per_product_release=len(release_models) > 1 or len(certifiers) > 1,
        certified_by="none" if not certifiers else certifiers.pop() if len(certifiers) == 1 else "both",
        site_outside_eea=arrangement.site_outside_eea,
        eea_site_names=[s.name for s in answers.contract_acceptor.sites if s.country.casefold() in arrangement.eea],
        every_site_in=arrangement.every_site_in,
        other_site_countries=arrangement.other_site_countries,
        has_affiliates=bool(answers.affiliates),
        ma_holders={str(m): a.name for a in answers.affiliates
                    if a.affiliate_of == "sponsor" and a.joins_as_party and a.holds_marketing_authorisation
                    for m in a.markets},
        gmp_bases=groups["gmp_bases"],
        certifications=certifications,
        change_regimes=groups["change_regimes"],
        defect_reporting=groups["defect_reporting"],
        retention_minima=groups["retention_minima"],
        regulators=regulators,
        duties=groups["duties"],
        rules=rule_ids,
        sources=sources,
        products=product_facts,
        is_lab=answers.contract_acceptor.kind == "contract_laboratory",
        is_cdmo=answers.contract_acceptor.kind == "cdmo",
        subcontracting_allowed=answers.subcontracting.allowed,
        sponsor=SPONSOR_TERM,
        acceptor=ACCEPTOR_TERM,
    )


def _markets_of(arrangement: _Arrangement, group: str, product: Product) -> list[str]:
    """The markets whose rules of `group` apply to `product`: its markets and, for the GMP bases, also the
    countries of the Sites (a US site works under 21 CFR 210/211, an EU site under EU GMP, whatever the market)."""
    found = [str(m) for m in product.markets]
    if group == "gmp_bases":
        found += sorted(m for m in arrangement.site_markets if m not in found)
    return found


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _certification(rule: CertificationRule, product: Product, market: str, certifier: str,
                   release: ReleaseArrangement, answers: Answers) -> Certification:
    """One release step of `product` for `market`; the named site and persons go with the QP step."""
    if rule.certifier == "release":
        who = certifier
    elif rule.certifier == "manufacturer":
        who = "sponsor" if answers.contract_acceptor.kind == "contract_laboratory" else "contract_acceptor"
    else:
        who = rule.certifier
    named = rule.qp and rule.certifier == "release"
    if rule.step == "technical release abroad" and who == certifier and release.batch_release_site:
        named = True  # the release arrangement's site and persons release abroad too (Swissmedic FAQ B-349)
    persons: list[str] = []
    if named:
        persons = ([release.qualified_person] if release.qualified_person else []) + list(release.deputies)
    affiliate = _acting_affiliate(answers, who, market, release.certifying_affiliate if named else None)
    party_name = answers.sponsor.name if who == "sponsor" else answers.contract_acceptor.name
    return Certification(
        product=product.name, market=market, role=rule.role, certifier=who, law=rule.law, source=rule.source,
        site=release.batch_release_site if named else None,
        authorisation_number=release.authorisation_number if named else None,
        persons=persons, step=rule.step, qp=rule.qp, rule=f"certifications.{rule.id}",
        entity=affiliate.name if affiliate else party_name, entity_is_affiliate=affiliate is not None,
        entity_is_party=affiliate is None or affiliate.joins_as_party)


def _acting_affiliate(answers: Answers, party: str, market: str, named: str | None) -> Affiliate | None:
    """The affiliate that certifies or decides for `party` in `market`: the one the release names, else the
    first affiliate of that party that lists the market."""
    for affiliate in answers.affiliates:
        if named is not None and affiliate.name == named:
            return affiliate
    if named is not None:
        return None
    return next((a for a in answers.affiliates if a.affiliate_of == party and market in a.markets), None)

"""Jurisdiction rules as data: which law applies to which arrangement, derived once into the Facts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from qa_builder.errors import LibraryError
from qa_builder.library.context import Facts, derive_facts
from qa_builder.library.loader import default_library_dir, load_library
from qa_builder.models.answers import Answers
from tests.conftest import MINI_LIBRARY, answers_data

LIBRARY = load_library()


def facts_for(*products: dict[str, Any], services: list[str] | None = None, release_model: str = "sponsor_release",
              site_country: str = "Germany", **extra: Any) -> Facts:
    data = answers_data()
    data["products"] = list(products)
    data["services"] = services or ["drug_product_manufacture"]
    data["contract_acceptor"]["sites"][0].update(country=site_country, activities=list(data["services"]))
    data["release_model"] = release_model
    data.update(extra)
    return derive_facts(Answers.model_validate(data), LIBRARY.jurisdictions)


def laws(facts: Facts, market: str) -> set[str]:
    return {c.law for c in facts.certifications if c.market == market}


def test_eu_investigational_product_is_certified_under_the_ctr_only() -> None:
    facts = facts_for({"name": "IMP", "type": "investigational", "markets": ["EU"]}, services=["clinical_supply"],
                      release_model="qp_certification")
    assert laws(facts, "EU") == {"Article 62 of Regulation (EU) No 536/2014"}
    assert facts.ctr_modifications and not facts.eu_variations and not facts.eu_quality_defect
    assert facts.investigational_only and not facts.has_marketed
    assert {r.source for r in facts.retention_minima} == {"EU-DelReg2017-1569-Art8.3", "EU-DelReg2017-1569-Art11"}
    assert [r.source for r in facts.gmp_bases] == ["EU-DelReg2017-1569"]
    assert not facts.field_alert and "EU-Dir2001-83-Art51" not in facts.sources


def test_trial_sponsor_outside_the_eu_needs_a_legal_representative() -> None:
    outside = facts_for({"name": "IMP", "type": "investigational", "markets": ["EU"],
                         "trial": {"sponsor": "Trial Inc.", "sponsor_country": "United States"}})
    inside = facts_for({"name": "IMP", "type": "investigational", "markets": ["EU"],
                        "trial": {"sponsor": "Trial GmbH", "sponsor_country": "Germany"}})
    assert outside.eu_legal_representative_needed and not inside.eu_legal_representative_needed


def test_eu_api_from_a_third_country() -> None:
    facts = facts_for({"name": "API", "type": "api", "markets": ["EU"]}, services=["api_manufacture"],
                      site_country="India", release_model="cmo_release_with_sponsor_secondary")
    assert facts.third_country_api_for_eu and facts.site_outside_eea
    assert {d.source for d in facts.duties} == {"EU-Dir2001-83-Art46b", "EU-Dir2001-83-Art52a"}
    assert [g.source for g in facts.gmp_bases] == ["EU-DelReg1252-2014"]
    [release] = facts.certifications
    assert (release.role, release.qp, release.certifier) == ("Quality Unit", False, "contract_acceptor")
    assert not facts.qp_required and facts.products[0].qp_refused
    assert [r.source for r in facts.retention_minima] == ["ICHQ7-6.13"]
    assert all(r.years_after_certification == 0 for r in facts.retention_minima)
    assert facts.drug_substance_only and not facts.has_finished_product
    same_in_eea = facts_for({"name": "API", "type": "api", "markets": ["EU"]}, services=["api_manufacture"],
                            site_country="IE")
    assert not same_in_eea.third_country_api_for_eu


def test_us_biological_drug_substance_is_a_bla() -> None:
    facts = facts_for({"name": "mAb DS", "type": "biological_drug_substance", "markets": ["US"]},
                      services=["drug_substance_manufacture"])
    assert facts.bpdr and not facts.field_alert
    assert facts.products[0].application_type == "BLA" and facts.products[0].is_drug_substance
    assert {r.source for r in facts.change_regimes} == {"CFR-601.12"}
    assert "CFR-314.70" not in facts.sources and "CFR-314.81b1-FAR" not in facts.sources


@pytest.mark.parametrize(("product", "far"), [
    ({"type": "drug_product"}, True),  # NDA or ANDA: both report field alerts
    ({"type": "drug_product", "application_type": "ANDA"}, True),
    ({"type": "otc_drug_product"}, False),  # may be an OTC monograph product: no application, no FAR
    ({"type": "otc_drug_product", "application_type": "NDA"}, True),
    ({"type": "biological_drug_product"}, False),
    ({"type": "investigational"}, False),
    ({"type": "api"}, False),
])
def test_field_alerts_follow_the_application(product: dict[str, Any], far: bool) -> None:
    facts = facts_for({"name": "P", "markets": ["US"], **product})
    assert facts.field_alert is far
    assert ("CFR-314.81b1-FAR" in facts.sources) is far


@pytest.mark.parametrize(("market", "role", "law"), [
    ("UK", "Qualified Person", "regulation 41 of and Schedule 7 to the Human Medicines Regulations 2012"),
    ("CA", "person in charge of the quality control department", "section C.02.014 of the Food and Drug Regulations"),
    ("JP", "marketing authorisation holder (GQP)", "the GQP Ordinance (MHLW Ministerial Ordinance No. 136 of 2004)"),
    ("AU", "authorised person", "the manufacturing principles under section 36 of the Therapeutic Goods Act 1989"),
])
def test_each_market_names_its_certifier(market: str, role: str, law: str) -> None:
    facts = facts_for({"name": "P", "type": "drug_product", "markets": [market]})
    assert [(c.role, c.law) for c in facts.certifications] == [(role, law)]
    assert any(r.market == market for r in facts.regulators)
    assert all(r.market in (market, "EU") for r in facts.regulators), "the market's and the (EU) Site's regulators"


def test_switzerland_has_technical_and_market_release() -> None:
    facts = facts_for({"name": "P", "type": "drug_product", "markets": ["CH"]}, release_model="qp_certification",
                      site_country="Switzerland")
    steps = {(c.step, c.certifier, c.law) for c in facts.certifications}
    assert steps == {("technical release", "contract_acceptor", "Article 7 AMBV"),
                     ("market release", "sponsor", "Article 13 AMBV")}
    assert facts.qp_required and facts.has_ch


def test_japan_regulators_and_change_categories() -> None:
    facts = facts_for({"name": "P", "type": "sterile_drug_product", "markets": ["JP", "US"]})
    assert {r.text for r in facts.regulators if r.market == "JP"} >= {
        "the Pharmaceuticals and Medical Devices Agency (PMDA)", "the Ministry of Health, Labour and Welfare (MHLW)"}
    assert any(r.source == "JP-PMDAct-Art14" for r in facts.change_regimes)
    assert any(r.source == "JP-GMP-Ord179-Art20" for r in facts.retention_minima)


def test_korea_can_be_chosen_and_states_no_unverified_release_rule() -> None:
    facts = facts_for({"name": "P", "type": "drug_product", "markets": ["KR"]})
    assert facts.has_kr and [r.source for r in facts.gmp_bases if r.market == "KR"] == ["KR-PAA"]
    assert facts.certifications == [], "who releases in Korea is UNVERIFIED (F-KR-2): no rule states it"


def test_swiss_technical_release_by_an_fvp_only_at_a_swiss_site() -> None:
    product = {"name": "P", "type": "drug_product", "markets": ["CH"]}
    abroad = facts_for(product, release_model="qp_certification", site_country="United Kingdom")
    assert {c.step for c in abroad.certifications} == {"technical release abroad", "market release"}
    assert all("fachtechnisch" not in c.role for c in abroad.certifications if c.step != "market release")
    swiss = facts_for(product, release_model="qp_certification", site_country="Schweiz")
    assert {c.step for c in swiss.certifications} == {"technical release", "market release"}


def test_australia_releases_by_the_manufacturers_authorised_person() -> None:
    [step] = facts_for({"name": "P", "type": "drug_product", "markets": ["AU"]}).certifications
    assert (step.role, step.certifier) == ("authorised person", "contract_acceptor")


def test_an_affiliate_that_acts_for_a_party_in_a_market_is_named() -> None:
    affiliates = [{"name": "Sponsor Japan K.K.", "address": "Tokyo", "country": "Japan", "role": "JP MAH",
                   "affiliate_of": "sponsor", "markets": ["JP"], "joins_as_party": False},
                  {"name": "Sponsor Ireland Ltd", "address": "Dublin", "country": "Ireland", "role": "EU MIA holder",
                   "affiliate_of": "sponsor"}]
    facts = facts_for({"name": "P", "type": "drug_product", "markets": ["JP", "EU", "US"]},
                      release_model="qp_certification", affiliates=affiliates,
                      release={"certifying_affiliate": "Sponsor Ireland Ltd"})
    by_market = {c.market: c for c in facts.certifications}
    assert (by_market["JP"].entity, by_market["JP"].entity_is_party) == ("Sponsor Japan K.K.", False)
    assert (by_market["EU"].entity, by_market["EU"].entity_is_affiliate) == ("Sponsor Ireland Ltd", True)
    assert by_market["US"].entity == answers_data()["sponsor"]["name"] and not by_market["US"].entity_is_affiliate


def test_markets_are_judged_per_product() -> None:
    facts = facts_for({"name": "US only", "type": "drug_product", "markets": ["US"]},
                      {"name": "EU only", "type": "drug_product", "markets": ["EU"]})
    [art51] = [c for c in facts.certifications if c.qp]
    assert art51.product == "EU only"
    [far] = facts.defect_reporting[:1] if facts.defect_reporting[0].market == "US" else [
        r for r in facts.defect_reporting if r.market == "US"]
    assert far.products == ["US only"]
    assert {p.name: p.qp_required for p in facts.products} == {"US only": False, "EU only": True}


def test_safety_features_and_dscsa_need_packaging() -> None:
    packed = facts_for({"name": "P", "type": "drug_product", "markets": ["US", "EU"]},
                       services=["drug_product_manufacture", "secondary_packaging"])
    bulk = facts_for({"name": "P", "type": "drug_product", "markets": ["US", "EU"]})
    assert packed.eu_safety_features and packed.dscsa
    assert not bulk.eu_safety_features and not bulk.dscsa


def test_every_rule_source_is_a_catalogued_requirement_that_applies_with_it() -> None:
    """A rule and the requirement row it cites switch on together (the row reads facts.sources)."""
    known = {r.id: r for r in LIBRARY.requirements}
    for rule_id, source in LIBRARY.jurisdictions.sources():
        assert source in known, f"{rule_id} cites unknown {source}"
        assert known[source].verification_note or known[source].verified, source


def test_every_rule_source_is_cited_by_a_clause() -> None:
    """A rule switches its requirement row on; without a clause citing it every such arrangement has a gap."""
    cited = {ref for clause in LIBRARY.clauses for ref in clause.references}
    assert {source for _, source in LIBRARY.jurisdictions.sources()} - cited == set()


def _copy_library(tmp_path: Path) -> Path:
    target = tmp_path / "lib"
    shutil.copytree(default_library_dir(), target)
    return target


def test_library_check_refuses_a_rule_with_an_unknown_source_or_fact(tmp_path: Path) -> None:
    root = _copy_library(tmp_path)
    path = root / "jurisdictions.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("source: CFR-601.12}", "source: CFR-999}").replace("fact: bpdr,", "fact: bdpr,")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LibraryError) as error:
        load_library(root)
    message = str(error.value)
    assert "rule 'change_regimes.us_bla' cites source 'CFR-999', which requirements.yaml does not define" in message
    assert "rule 'defect_reporting.bpdr' sets fact 'bdpr', which is not a true/false field of Facts" in message


def test_library_check_refuses_a_malformed_rule_naming_file_and_line(tmp_path: Path) -> None:
    root = _copy_library(tmp_path)
    path = root / "jurisdictions.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("markets: [KR], text:", "markets: [XX], text:", 1),
                    encoding="utf-8")
    with pytest.raises(LibraryError, match=r"jurisdictions.yaml line \d+: gmp_bases\[\d+\].markets\[0\]"):
        load_library(root)


def test_a_library_without_jurisdictions_uses_the_bundled_rules() -> None:
    mini = load_library(MINI_LIBRARY)
    assert mini.jurisdictions == LIBRARY.jurisdictions


@pytest.mark.parametrize(("country", "outside"), [("Deutschland", False), ("germany", False), ("Norway", False),
                                                  ("India", True), ("Switzerland", True), ("United Kingdom", True)])
def test_third_country_is_judged_by_the_site_country(country: str, outside: bool) -> None:
    facts = facts_for({"name": "API", "type": "api", "markets": ["EU"]}, services=["api_manufacture"],
                      site_country=country)
    assert facts.third_country_api_for_eu is outside


@pytest.mark.parametrize(("site_country", "market", "site_market", "gmp_source", "regulator"), [
    ("United States", "EU", "US", "CFR-210-211", "the U.S. Food and Drug Administration (FDA)"),
    ("Germany", "CH", "EU", "EU-Dir2017-1572", "the competent authorities of the EU/EEA Member States"),
])
def test_the_site_country_brings_its_own_gmp_law_and_regulator(site_country: str, market: str, site_market: str,
                                                                 gmp_source: str, regulator: str) -> None:
    """review2 MAJOR 8: a US site works under 21 CFR 210/211 and FDA, an EU site under EU GMP and its national
    competent authority, whatever the markets of the products."""
    facts = facts_for({"name": "P", "type": "drug_product", "markets": [market]}, site_country=site_country)
    assert any(g.market == site_market and g.source == gmp_source for g in facts.gmp_bases)
    assert any(r.market == site_market and r.text == regulator for r in facts.regulators)
    assert any(g.market == market for g in facts.gmp_bases)

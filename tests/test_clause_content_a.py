"""Must-say / must-not-say assertions on the release, change control, records, general and lifecycle clauses.

The clauses read the arrangement facts (`Facts` in qa_builder.library.context, the contract of issue 14). These
tests fix the facts of each arrangement explicitly, so that they check the texts against that contract whatever
derives the facts; the arrangement suite (tests/arrangements/) checks the whole pipeline. Every statement of law
asserted here comes from a VERIFIED row of /work/shared/REGULATORY-FACTS.md.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from qa_builder.library import context
from qa_builder.library.assemble import assemble_agreement
from qa_builder.library.context import Certification, NamedRule, ProductFacts
from qa_builder.library.lint import base_answers
from qa_builder.library.loader import load_library
from qa_builder.library.select import select_clauses
from qa_builder.models.answers import Answers
from tests.arrangements.agreement_text import agreement_and_text

LIBRARY = load_library()
MINE = {clause.id for clause in LIBRARY.clauses
        if Path(clause.source_file).name in {"release.yaml", "change_control.yaml", "records.yaml", "general.yaml",
                                       "lifecycle.yaml"}}
"""The clauses of this test's files; texts["all"] joins only these (other files have their own tests)."""


def _product(name: str, type_: str, markets: list[str], **flags: bool) -> ProductFacts:
    values = {"is_drug_substance": False, "is_biological": False, "is_sterile": False, "is_investigational": False}
    values.update(flags)
    return ProductFacts(name=name, type=type_, markets=markets, application_type=None, release_model="sponsor_release",
                        **values)


def _render(monkeypatch: pytest.MonkeyPatch, product: dict[str, Any], facts: dict[str, Any],
            **answers: Any) -> dict[str, str]:
    """Assemble one agreement with the given facts; returns clause id -> its text, plus 'annex_b'."""
    data = base_answers()
    data["products"] = [product]
    data["services"] = ["drug_product_manufacture"]
    data.update(answers)
    parsed = Answers.model_validate(data)
    derive = context.derive_facts

    def fixed(a: Answers, jurisdictions: Any = None) -> context.Facts:
        return derive(a, jurisdictions).model_copy(update=facts)

    monkeypatch.setattr(context, "derive_facts", fixed)
    agreement = assemble_agreement(parsed, LIBRARY, select_clauses(LIBRARY, parsed))
    texts = {clause.clause_id: "\n".join(p.text for p in clause.paragraphs)
             for section in agreement.sections for clause in section.clauses}
    texts["annex_b"] = "\n".join(f"{t.event}: {t.deadline}" for t in agreement.timelines)
    texts["all"] = "\n".join(text for clause_id, text in texts.items() if clause_id in MINE)
    return texts


def _imp_eu(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    imp = _product("Drug X", "investigational", ["EU"], is_investigational=True)
    facts = {
        "markets": ["EU"], "has_eu": True, "has_us": False, "has_investigational": True, "has_marketed": False,
        "site_outside_eea": True,
        "investigational_only": True, "ctr_modifications": True, "qp_required": True, "products": [imp],
        "certifications": [Certification(product="Drug X", market="EU", role="Qualified Person",
                                         certifier="contract_acceptor",
                                         law="Article 62 of Regulation (EU) No 536/2014", source="EU-Reg536-2014-Art62",
                                         site="Plant", authorisation_number="DE-MIA-1", persons=["Dr A. QP"])],
        "change_regimes": [NamedRule(market="EU", text="substantial modifications", source="EU-Reg536-2014-Art15")],
        "retention_minima": [NamedRule(
            market="EU", source="EU-DelReg2017-1569-Art8.3",
            text="at least 5 years after the completion or discontinuation of the last clinical trial in which the "
                 "Batch was used (Article 8(3) of Commission Delegated Regulation (EU) 2017/1569)")],
        "regulators": [NamedRule(market="EU", source="x",
                                 text="the competent authorities of the EU member states")],
    }
    return _render(monkeypatch, {"name": "Drug X", "type": "investigational", "markets": ["EU"]}, facts,
                   services=["clinical_supply"], release_model="qp_certification")


def test_imp_eu_certified_under_the_ctr_never_article_51(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _imp_eu(monkeypatch)
    cert = texts["batch_certification"]
    assert "Article 62 of Regulation (EU) No 536/2014" in cert
    assert "Article 63" in cert and "Delegated Regulation (EU) 2017/1569" in cert
    assert "Qualified Person of the Contract Acceptor at Plant (authorisation DE-MIA-1), namely Dr A. QP" in cert
    assert "Article 3(2)" in cert and "Article 10(3)" in cert
    everything = texts["all"]
    for wrong in ("Article 51", "placed on the market", "released for sale", "release for sale",
                  "Type IA", "variation", "The Sponsor holds the Marketing Authorisations", "Field Alert",
                  "21 CFR 314.70", "Directive (EU) 2017/1572"):
        assert wrong not in everything, wrong
    assert "product_quality_review" not in texts


def test_imp_eu_changes_retention_and_sponsor(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _imp_eu(monkeypatch)
    assert "substantial modification" in texts["regulatory_impact_assessment"]
    assert "Chapter III of Regulation (EU) No 536/2014" in texts["regulatory_impact_assessment"]
    retention = texts["records_retention"]
    assert "Article 8(3) of Commission Delegated Regulation (EU) 2017/1569" in retention
    assert "25 years" in retention and "Article 58 of Regulation (EU) No 536/2014" in retention
    assert "Article 8(3)" in texts["annex_b"]
    assert "trial master file: at least 25 years" in texts["annex_b"]
    assert "supplied for clinical trials under the clinical trial authorisations" in texts["scope"]
    assert "marketing authorisation" not in texts["scope"].lower()
    assert "Article 74 of Regulation (EU) No 536/2014" in texts["definitions"]
    assert "legal representative" in texts["scope"]


def test_api_eu_third_country_is_released_not_certified(monkeypatch: pytest.MonkeyPatch) -> None:
    api = _product("API Y", "api", ["EU"], is_drug_substance=True)
    facts = {
        "markets": ["EU"], "has_eu": True, "has_us": False, "has_api": True, "has_drug_substance": True,
        "gmp_bases": [], "drug_substance_only": True, "has_finished_product": False, "third_country_api_for_eu": True,
        "eu_variations": True, "products": [api],
        "certifications": [Certification(product="API Y", market="EU", role="Quality Unit",
                                         certifier="contract_acceptor", law="ICH Q7", source="ICHQ7-16.12")],
        "retention_minima": [NamedRule(market="EU", source="ICHQ7-6.13",
                                       text="at least 1 year after the expiry date of the Batch (ICH Q7 6.13)")],
    }
    texts = _render(monkeypatch, {"name": "API Y", "type": "api", "markets": ["EU"]}, facts,
                    services=["api_manufacture"])
    everything = texts["all"]
    for wrong in ("Article 51", "Qualified Person", "Part I of EudraLex", "Directive (EU) 2017/1572",
                  "after its certification", "The Sponsor shall prepare"):
        assert wrong not in everything, wrong
    assert "released, not certified" in texts["batch_certification"]
    assert "Commission Delegated Regulation (EU) No 1252/2014" in texts["gmp_compliance"]
    assert "Part II of the EU GMP Guide" in texts["gmp_compliance"]
    assert "written confirmation" in texts["gmp_compliance"] and "Article 46b(2)" in texts["gmp_compliance"]
    assert "Article 52a" in texts["gmp_compliance"]
    assert "written confirmation" in texts["annex_b"]
    assert "section 2.5 of ICH Q7" in texts["product_quality_review"]
    assert "the Contract Acceptor shall conduct" in texts["product_quality_review"]


def test_us_bla_drug_substance(monkeypatch: pytest.MonkeyPatch) -> None:
    ds = _product("mAb Z", "biologic", ["US"], is_drug_substance=True, is_biological=True)
    facts = {
        "markets": ["US"], "has_us": True, "has_eu": False, "has_biologic": True, "bpdr": True,
        "field_alert": False, "has_biological_drug_substance": True, "has_drug_substance": True,
        "drug_substance_only": True, "products": [ds], "sources": ["CFR-601.12", "CFR-600.14"],
        "certifications": [Certification(product="mAb Z", market="US", role="Quality Unit", certifier="sponsor",
                                         law="21 CFR 211.22(a)", source="CFR-211.22a")],
        "regulators": [NamedRule(market="US", source="x", text="the US Food and Drug Administration")],
    }
    texts = _render(monkeypatch, {"name": "mAb Z", "type": "biologic", "markets": ["US"]}, facts)
    everything = texts["all"]
    assert "21 CFR 601.12" in texts["regulatory_impact_assessment"]
    assert "21 CFR 314.70" not in everything
    assert "Field Alert" not in everything
    assert "biological product deviation reports" in texts["termination_exit"]
    assert "Qualified Person" not in everything
    assert "the US Food and Drug Administration" in texts["definitions"]


def test_uk_and_ch_finished_product(monkeypatch: pytest.MonkeyPatch) -> None:
    tab = _product("Tab A", "drug_product", ["UK", "CH"])
    facts = {
        "markets": ["CH", "UK"], "has_us": False, "has_eu": False, "has_uk": True, "has_ch": True, "gmp_bases": [],
        "qp_required": True, "products": [tab],
        "certifications": [
            Certification(product="Tab A", market="UK", role="Qualified Person", certifier="contract_acceptor",
                          law="the Human Medicines Regulations 2012", source="UK-HMR2012-reg41",
                          site="Plant", authorisation_number="MIA 12345"),
            Certification(product="Tab A", market="CH", role="person responsible for the release of the Batch at "
                          "the manufacturing Site", certifier="contract_acceptor", law="the law of the country of "
                          "manufacture", source="CH-AMBV-Art7-13", step="technical release abroad",
                          entity="Acceptor Ltd"),
            Certification(product="Tab A", market="CH", role="Responsible Person", certifier="sponsor",
                          law="Article 13 AMBV", source="CH-AMBV-Art7-13", step="market release",
                          entity="Sponsor AG")],
    }
    texts = _render(monkeypatch, {"name": "Tab A", "type": "drug_product", "markets": ["UK", "CH"]}, facts,
                    release_model="qp_certification")
    cert = texts["batch_certification"]
    assert "regulation 41 of the Human Medicines Regulations 2012" in cert
    assert "Qualified Person of the Contract Acceptor at Plant (licence MIA 12345)" in cert
    assert "fachtechnisch verantwortliche Person" in cert
    assert "market release" in cert and "Article 13" in cert
    # the technical release abroad rests on Swissmedic FAQ B-349, not on Article 7 AMBV (review round 3, R3-6)
    assert "relies (Swissmedic FAQ B-349" in cert and "relies (Article 7 AMBV" not in cert
    # one releaser per step: the Swiss MAH's Responsible Person releases to the market, the foreign Site releases
    # technically; the Contract Acceptor is never "holder of the Swiss marketing authorisation" (review2 BLOCKER 4)
    assert "Responsible Person (fachtechnisch verantwortliche Person) of the Sponsor, as holder of the Swiss" in cert
    assert "Contract Acceptor, as holder of the Swiss" not in cert
    assert cert.count("decides on the market release") == 1
    assert "Article 51" not in texts["all"]
    assert "regulation 41 of the Human Medicines Regulations 2012" in texts["definitions"]
    assert "Human Medicines Regulations 2012" in texts["gmp_compliance"]
    assert "AMBV" in texts["gmp_compliance"]


def test_jp_and_us(monkeypatch: pytest.MonkeyPatch) -> None:
    inj = _product("Inj B", "sterile_drug_product", ["JP", "US"], is_sterile=True)
    facts = {
        "markets": ["JP", "US"], "has_us": True, "has_eu": False, "has_jp": True, "field_alert": True,
        "gmp_bases": [], "sources": ["CFR-314.70", "JP-PMDAct-Art14"],
        "products": [inj],
        "certifications": [
            Certification(product="Inj B", market="JP", role="marketing authorisation holder", certifier="sponsor",
                          law="the GQP Ordinance", source="JP-GQP-Ord136"),
            Certification(product="Inj B", market="US", role="Quality Unit", certifier="sponsor",
                          law="21 CFR 211.22(a)", source="CFR-211.22a")],
        "retention_minima": [NamedRule(market="JP", source="JP-GMP-Ord179-Art20",
                                       text="5 years from the creation of the record, or the shelf life plus 1 year "
                                            "where longer (GMP Ordinance, MHLW Ordinance No. 179 of 2004)")],
        "regulators": [NamedRule(market="US", source="x", text="the US Food and Drug Administration"),
                       NamedRule(market="JP", source="x",
                                 text="the Ministry of Health, Labour and Welfare, the Pharmaceuticals and Medical "
                                      "Devices Agency and the prefectural governments")],
    }
    texts = _render(monkeypatch, {"name": "Inj B", "type": "sterile_drug_product", "markets": ["JP", "US"]}, facts)
    cert = texts["batch_certification"]
    assert "GQP Ordinance (MHLW Ordinance No. 136 of 2004)" in cert
    assert "21 CFR 211.22(a)" in cert
    assert "partial change approval" in texts["regulatory_impact_assessment"]
    assert "Article 14 of the Act on Pharmaceuticals and Medical Devices" in texts["regulatory_impact_assessment"]
    assert "GMP Ordinance (MHLW Ordinance No. 179 of 2004)" in texts["gmp_compliance"]
    assert "Japan: 5 years from the creation of the record" in texts["annex_b"]
    assert "prefectural governments" in texts["definitions"]
    assert "Qualified Person" not in texts["all"]
    assert "Field Alert Reports" in texts["termination_exit"]


def test_rejected_batches_positions_carry_no_cost_terms(monkeypatch: pytest.MonkeyPatch) -> None:
    for position in ("fallback", "preferred"):
        texts = _render(monkeypatch, {"name": "P", "type": "drug_product", "markets": ["US"]}, {},
                        positions={"rejected_batches": position})
        text = texts["rejected_batches"]
        for wrong in ("at its own cost", "reimburse", "credit"):
            assert wrong not in text, (position, wrong)


# --- the bundled examples, through the real derivation of the facts (clause_library/jurisdictions.yaml) -------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example(name: str) -> dict[str, str]:
    from qa_builder.api import assemble_agreement as assemble_file

    agreement = assemble_file(EXAMPLES / name)
    texts = {clause.clause_id: "\n".join(p.text for p in clause.paragraphs)
             for section in agreement.sections for clause in section.clauses}
    texts["annex_b"] = "\n".join(f"{t.event}: {t.deadline}" for t in agreement.timelines)
    texts["all"] = "\n".join(text for clause_id, text in texts.items() if clause_id in MINE)
    return texts


def test_example_eu_imp_clinical_supply() -> None:
    texts = _example("eu-imp-clinical-supply.yaml")
    assert "under Article 62 of Regulation (EU) No 536/2014" in texts["batch_certification"]
    assert "Qualified Person of the Contract Acceptor" in texts["batch_certification"]
    assert "Novexa Europe B.V." in texts["scope"]
    assert "substantial modification" in texts["regulatory_impact_assessment"]
    assert "Article 58 of Regulation (EU) No 536/2014" in texts["records_retention"]
    assert "2017/1569" in texts["annex_b"]
    # The definitions keep an IMP-only "Marketing Authorisation" entry until every clause file stops using the
    # term for IMP-only agreements (see the definitions clause); every other clause of these files avoids it.
    mine = "\n".join(t for k, t in texts.items() if k in MINE and k != "definitions").lower()
    for wrong in ("Article 51", "marketing authorisation", "variation", "released for sale", "Annex 13",
                  "2017/1572", "Field Alert", "FDA"):
        assert wrong.lower() not in mine, wrong
    assert "product_quality_review" not in texts


def test_example_eu_api_third_country() -> None:
    texts = _example("eu-api-third-country.yaml")
    everything = texts["all"]
    for wrong in ("Article 51", "Qualified Person", "2017/1572", "after its certification"):
        assert wrong not in everything, wrong
    assert "Commission Delegated Regulation (EU) No 1252/2014" in texts["gmp_compliance"]
    assert "Article 46b(2)" in texts["gmp_compliance"] and "Article 52a" in texts["gmp_compliance"]
    assert "ICH Q7 section 6.13" in texts["annex_b"]
    assert "section 2.5 of ICH Q7" in texts["product_quality_review"]


def test_example_us_bla_drug_substance() -> None:
    texts = _example("us-bla-drug-substance.yaml")
    everything = texts["all"]
    assert "21 CFR 601.12" in texts["regulatory_impact_assessment"]
    for wrong in ("314.70", "Field Alert", "Qualified Person", "211.180(e)"):
        assert wrong not in everything, wrong
    assert "biological product deviation reports" in texts["termination_exit"]


def test_example_uk_ch_finished_product() -> None:
    cert = _example("uk-ch-finished-product.yaml")["batch_certification"]
    assert "regulation 41 of the Human Medicines Regulations 2012" in cert
    assert "technical release" in cert and "market release" in cert
    assert "Article 51" not in cert


def test_example_jp_us_sterile() -> None:
    texts = _example("jp-us-sterile.yaml")
    assert "GQP Ordinance" in texts["batch_certification"]
    assert "Kestrel Japan K.K." in texts["scope"] and "an affiliate of the Sponsor" in texts["scope"]
    assert "Kestrel Japan K.K. (an affiliate of the Sponsor), as marketing authorisation holder, decides" in (
        texts["batch_certification"])
    assert "acting through its affiliate" not in texts["batch_certification"]
    assert "21 CFR 211.22(a)" in texts["batch_certification"]
    assert "Article 14 of the Act on Pharmaceuticals and Medical Devices" in texts["regulatory_impact_assessment"]
    assert "21 CFR 314.70" in texts["regulatory_impact_assessment"]
    assert "Ministry of Health, Labour and Welfare" in texts["definitions"]
    assert "Japan: 5 years from creation" in texts["annex_b"]
    assert "Qualified Person" not in texts["all"]


def test_a_monograph_product_beside_an_nda_product_is_anchored_to_its_monograph(tmp_path: Path) -> None:
    """Review4 MAJOR 4: an OTC monograph drug has no application (FD&C Act 505G, unverified; FDA CPG 450.200);
    beside an NDA product the Sponsor still holds that NDA, and §1.1 says which product rests on a monograph."""
    data = yaml.safe_load((Path(__file__).parent / "arrangements" / "otc-us-monograph.yaml").read_text("utf-8"))
    nda = copy.deepcopy(data["products"][0])
    nda.update(name="Rxol 5 mg tablets", type="drug_product", application_type="NDA",
               application_numbers=["NDA 111111"])
    data["products"].append(nda)
    answers = tmp_path / "mixed.yaml"
    answers.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    _, text = agreement_and_text(answers, load_library(), allow_gaps=True)
    monograph = data["products"][0]["name"]
    assert ("The Sponsor holds the Marketing Authorisations for the Products. " + monograph + " is marketed in the "
            "United States under the OTC monograph that applies to it, without an application") in text
    assert "The Sponsor markets the Products in the United States under the OTC monographs" not in text

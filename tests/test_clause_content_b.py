"""Content of the clauses on deviations, inspections, laboratory, materials, production, quality systems,
facilities and subcontracting, and of the RACI rows (issue 14 item 3): each arrangement says the law that
applies to it and nothing that does not.

The clause texts read the arrangement facts (qa_builder.library.context.Facts), never raw answers. These
tests render the real library through the real selection and assembly, with the facts of each arrangement
stated explicitly on top of what `derive_facts` computes, so that they test the texts against the facts
contract whatever the derivation does; tests/arrangements/ checks the derivation and the texts together.
Every rendered agreement must also pass the library lint (no truncated paragraph, no clock missing from
Annex B, no undefined term).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from qa_builder.library import context as context_module
from qa_builder.library.assemble import assemble_agreement
from qa_builder.library.context import Facts
from qa_builder.library.lint import base_answers, lint_agreement
from qa_builder.library.loader import load_library
from qa_builder.library.select import select_clauses
from qa_builder.models.agreement import Agreement
from qa_builder.models.answers import Answers
from qa_builder.models.library import ClauseLibrary


@pytest.fixture(scope="module")
def library() -> ClauseLibrary:
    return load_library()


OWN_FILES = ("deviations", "audits_inspections", "laboratory", "materials", "production", "quality_systems",
             "facilities", "subcontracting")
OWN_CLAUSES = {c.id for c in load_library().clauses if c.source_file.split("/")[-1].removesuffix(".yaml") in OWN_FILES}


Render = Callable[..., "Rendered"]


class Rendered:
    """One assembled agreement: its clauses by id (text), its RACI rows by id, and the whole text."""

    def __init__(self, agreement: Agreement) -> None:
        self.agreement = agreement
        self.clauses: dict[str, str] = {}
        numbers: set[str] = set()
        for section in agreement.sections:
            for clause in section.clauses:
                self.clauses[clause.clause_id] = clause.title + "\n" + "\n".join(p.text for p in clause.paragraphs)
                if clause.clause_id in OWN_CLAUSES:
                    numbers.add(clause.number)
        self.raci = {row.activity_id: row for row in agreement.raci}
        raci_text = "\n".join(f"{r.activity} {r.notes}" for r in agreement.raci)
        timeline_text = "\n".join(f"{t.event} {t.deadline}" for t in agreement.timelines if t.clause_number in numbers)
        own = [text for cid, text in self.clauses.items() if cid in OWN_CLAUSES]
        self.text = "\n".join(own) + "\n" + raci_text + "\n" + timeline_text
        """The text of the clauses of the files this suite covers, the RACI and their Annex B rows."""

    def clause(self, clause_id: str) -> str:
        assert clause_id in self.clauses, f"clause {clause_id} is not in the agreement"
        return self.clauses[clause_id]


@pytest.fixture
def render(library: ClauseLibrary, monkeypatch: pytest.MonkeyPatch) -> Render:
    """render(answers_changes, **facts) -> Rendered; fails on any lint finding."""

    def _render(changes: dict[str, Any] | None = None, **facts: Any) -> Rendered:
        data = copy.deepcopy(base_answers())
        for key, value in (changes or {}).items():
            data[key] = value
        answers = Answers.model_validate(data)
        derive = context_module.derive_facts.__wrapped__ if hasattr(context_module.derive_facts, "__wrapped__") \
            else context_module.derive_facts

        def with_facts(a: Answers, jurisdictions: Any = None) -> Facts:
            base = derive(a, jurisdictions)
            return Facts.model_validate({**base.model_dump(), **facts})

        with_facts.__wrapped__ = derive  # type: ignore[attr-defined]
        monkeypatch.setattr(context_module, "derive_facts", with_facts)
        agreement = assemble_agreement(answers, library, select_clauses(library, answers))
        findings = list(lint_agreement(agreement, "test", Counter(), tuple(library.info.defined_terms),
                                       {c.id: c.raci for c in library.clauses}))
        own = [f for f in findings if f.clause_id in OWN_CLAUSES]
        assert not own, "\n".join(f.line() for f in own)
        return Rendered(agreement)

    return _render


# --- The arrangements of issue 14, as answers (the facts are derived from them) ----------------------

CMO_SERVICES = ["drug_product_manufacture", "release_testing", "stability_testing", "primary_packaging",
                "secondary_packaging"]
QP_RELEASE = {"certifier": "sponsor", "batch_release_site": "Sponsor Release Site",
              "authorisation_number": "MIA 123", "qualified_person": "Dr Q"}


def _arrangement(kind: str, markets: list[str], services: list[str], *, country: str = "Germany",
                 release_model: str = "sponsor_release", release: dict[str, Any] | None = None,
                 **product: Any) -> dict[str, Any]:
    data = base_answers()
    acceptor = data["contract_acceptor"]
    acceptor["country"] = country
    acceptor["sites"][0].update(activities=services, country=country)
    changes: dict[str, Any] = {"products": [{"name": "Product", "type": kind, "markets": markets, **product}],
                               "services": services, "contract_acceptor": acceptor,
                               "release_model": release_model}
    if release:
        changes["release"] = release
    return changes


US_NDA = _arrangement("drug_product", ["US"], CMO_SERVICES, application_type="NDA")
US_BLA_DS = _arrangement("biological_drug_substance", ["US"], ["drug_substance_manufacture", "release_testing"],
                         country="United States", application_type="BLA")
EU_IMP = _arrangement("investigational", ["EU"], ["drug_product_manufacture", "clinical_supply", "primary_packaging"],
                      release_model="qp_certification",
                      release=QP_RELEASE | {"certifier": "contract_acceptor", "batch_release_site": "Plant"},
                      trial={"sponsor": "Sponsor Ltd", "sponsor_country": "Ireland", "countries": ["Germany"],
                             "numbers": ["2025-500001-11-00"]})
EU_API_INDIA = _arrangement("api", ["EU"], ["api_manufacture", "release_testing"], country="India",
                            release_model="cmo_release_with_sponsor_secondary")
EU_FINISHED = _arrangement("drug_product", ["EU"], CMO_SERVICES, release_model="qp_certification",
                           release=QP_RELEASE)
UK_CH = _arrangement("drug_product", ["UK", "CH"], CMO_SERVICES, release_model="qp_certification",
                     release=QP_RELEASE)
JP_US_STERILE = _arrangement("sterile_drug_product", ["JP", "US"], [*CMO_SERVICES, "sterile_fill_finish"],
                             application_type="NDA")
SUBCONTRACTORS = {"allowed": True, "prior_written_consent": False, "approved_subcontractors": [
    {"name": "Steri Lab GmbH", "address": "3 Lane, Munich", "country": "Germany",
     "registration_numbers": {"EU MIA": "DE_BY_01_MIA_2024_0001"}, "activities": ["qc_testing"],
     "tests": ["sterility (Ph. Eur. 2.6.1)"],
     "quality_contact": {"name": "S", "title": "QA Head", "email": "s@example.com"}},
    {"name": "Myco Lab Inc.", "address": "4 Road, Boston", "country": "United States",
     "registration_numbers": {"FEI": "3000000001"}, "activities": ["qc_testing"],
     "tests": ["mycoplasma (Ph. Eur. 2.6.7)"]}]}


# --- deviations.yaml --------------------------------------------------------------------------------


def test_far_only_for_nda_anda(render: Render) -> None:
    nda = render(US_NDA)
    far = nda.clause("field_alert_reports")
    assert "21 CFR 314.81(b)(1)" in far and "3 working days" in far
    assert "biological_product_deviations" not in nda.clauses
    assert "600.14" not in nda.text
    assert nda.raci["field_alerts_defect_reports"].sponsor == "R/A"


def test_bla_drug_substance_reports_bpd_never_far(render: Render) -> None:
    bla = render(US_BLA_DS)
    assert "field_alert_reports" not in bla.clauses
    assert "Field Alert" not in bla.text
    assert "314.81" not in bla.text
    bpd = bla.clause("biological_product_deviations")
    assert "21 CFR 600.14" in bpd
    assert "45 days from the date of discovery" in bpd
    assert "under contract with the licence holder" in bpd
    assert "biological_product_deviation_reports" in bla.raci
    assert "field_alerts_defect_reports" not in bla.raci


def test_eu_only_imp_has_no_field_alert_and_reports_serious_breaches(render: Render) -> None:
    imp = render(EU_IMP)
    assert "Field Alert" not in imp.text
    ctr = imp.clause("clinical_trial_reporting")
    assert "Article 52" in ctr and "7 days" in ctr and "serious breach" in ctr
    assert "Article 53" in ctr
    recalls = imp.clause("quality_defects_recalls")
    assert "on the market" not in recalls and "recall" not in recalls.lower().replace("recalls", "")
    assert "trial sites" in recalls
    assert "serious_breach_reports" in imp.raci


def test_eu_marketed_quality_defects_name_article_13_and_mah_lead(render: Render) -> None:
    eu = render(EU_FINISHED)
    recalls = eu.clause("quality_defects_recalls")
    assert "Article 13(1) of Commission Directive (EU) 2017/1572" in recalls
    assert "marketing authorisation holder" in recalls
    assert "reporting of quality defects to the competent authorities under Chapter 8" in recalls
    assert "Field Alert" not in eu.text
    assert "eu_quality_defect_reports" in eu.raci


def test_jp_defects_reach_the_japanese_mah_under_gqp(render: Render) -> None:
    jp = render(JP_US_STERILE)
    recalls = jp.clause("quality_defects_recalls")
    assert "GQP Ordinance (MHLW Ordinance No. 136 of 2004)" in recalls
    assert "clinical_trial_reporting" not in jp.clauses


# --- audits_inspections.yaml --------------------------------------------------------------------------


def test_us_inspections_name_482_records_requests_and_remote_assessments(render: Render) -> None:
    us = render(US_NDA)
    insp = us.clause("regulatory_inspections")
    assert "Form FDA 482" in insp
    assert "704(a)(4)" in insp
    assert "remote regulatory assessments" in insp
    assert "Food and Drug Administration (FDA)" in insp  # facts.regulators listed
    assert "third_country_active_substance" not in us.clauses


def test_non_us_inspections_never_mention_fda_forms(render: Render) -> None:
    ukch = render(UK_CH)
    insp = ukch.clause("regulatory_inspections")
    assert "MHRA" in insp and "Swissmedic" in insp
    assert "FDA" not in insp and "Warning Letter" not in insp


def test_jp_inspections_name_pmda_and_prefectures(render: Render) -> None:
    jp = render(JP_US_STERILE)
    insp = jp.clause("regulatory_inspections")
    assert "PMDA" in insp and "prefectural governments" in insp
    assert "MHLW Ordinance No. 179 of 2004" in insp


def test_third_country_api_for_eu_written_confirmation_and_non_compliance(render: Render) -> None:
    api = render(EU_API_INDIA)
    wc = api.clause("third_country_active_substance")
    assert "Article 46b(2) of Directive 2001/83/EC" in wc
    assert "written confirmation" in wc and "withdrawn" in wc
    assert "statement of non-compliance" in wc
    assert "Delegated Regulation (EU) No 1252/2014" in wc
    assert "Article 52a" in wc


# --- laboratory.yaml ------------------------------------------------------------------------------


def test_drug_substance_reserve_samples_follow_ich_q7_not_market_container(render: Render) -> None:
    api = render(EU_API_INDIA)
    reserve = api.clause("reserve_samples")
    assert "section 11.7 of ICH Q7" in reserve
    assert "not for stability testing" in reserve
    assert "market container" not in reserve and "in which the Product is marketed" not in reserve
    assert "211.170" not in reserve and "Annex 19" not in reserve


def test_finished_us_reserve_samples_cite_211_170(render: Render) -> None:
    us = render(US_NDA)
    reserve = us.clause("reserve_samples")
    assert "21 CFR 211.170(b)" in reserve and "immediate container-closure system" in reserve
    assert "ICH Q7" not in reserve and "2017/1569" not in reserve


def test_imp_samples_follow_delegated_regulation_2017_1569(render: Render) -> None:
    imp = render(EU_IMP)
    reserve = imp.clause("reserve_samples")
    assert "Article 11 of Commission Delegated Regulation (EU) 2017/1569" in reserve
    assert "2 years after the completion or discontinuation of the last clinical trial" in reserve
    assert "Annex 19" not in reserve and "marketed" not in reserve and "211.170" not in reserve


def test_impurities_for_marketed_products_not_for_imp(render: Render) -> None:
    us = render(US_NDA)
    imp_clause = us.clause("impurity_risk_management")
    assert "ICH Q3D(R2)" in imp_clause and "nitrosamine" in imp_clause
    assert "FDA's guidance on the control of nitrosamine impurities" in imp_clause
    api = render(EU_API_INDIA)
    api_clause = api.clause("impurity_risk_management")
    assert "catalysts" in api_clause and "marketing authorisation holders work with the manufacturers" in api_clause
    assert "FDA" not in api_clause
    imp = render(EU_IMP)
    assert "impurity_risk_management" not in imp.clauses


# --- materials.yaml / production.yaml ---------------------------------------------------------------


def test_api_materials_speak_of_raw_materials_and_intermediates(render: Render) -> None:
    api = render(EU_API_INDIA)
    materials = api.clause("materials")
    assert "raw material" in materials and "intermediate" in materials
    assert "excipient" not in materials and "printed packaging" not in materials
    assert "Marketing Authorisation" not in materials


def test_safety_features_by_market(render: Render) -> None:
    eu = render(EU_FINISHED)
    eu_sf = eu.clause("safety_features_serialisation")
    assert "Delegated Regulation (EU) 2016/161" in eu_sf and "DSCSA" not in eu_sf and "582" not in eu_sf
    us = render(US_NDA)
    us_sf = us.clause("safety_features_serialisation")
    assert "section 582(b)(2)" in us_sf and "2016/161" not in us_sf
    assert us.raci["serialisation"].notes.startswith("US product identifiers")
    api = render(EU_API_INDIA)
    assert "safety_features_serialisation" not in api.clauses


# --- quality_systems.yaml ----------------------------------------------------------------------------


def test_api_quality_review_is_the_api_manufacturers(render: Render) -> None:
    api = render(EU_API_INDIA)
    review = api.clause("product_quality_review")  # records.yaml (content-a) states the review itself
    assert "section 2.5 of ICH Q7" in review and "the Contract Acceptor shall conduct" in review
    row = api.raci["product_quality_review"]
    assert (row.sponsor, row.contract_acceptor) == ("I", "R/A")


def test_imp_has_specification_file_and_no_product_quality_review(render: Render) -> None:
    imp = render(EU_IMP)
    psf = imp.clause("product_specification_file")
    assert "Article 8(3)" in psf and "5 years after the completion or discontinuation" in psf
    assert "Article 16 of Regulation (EU) No 536/2014" in psf
    assert "product_quality_review" not in imp.clauses
    assert "product_quality_review" not in imp.raci
    assert "regulatory_filings" not in imp.raci and "trial_authorisations" in imp.raci


def test_no_qualified_person_in_us_only_or_bla_drug_substance(render: Render) -> None:
    for arrangement in (US_NDA, US_BLA_DS):
        rendered = render(arrangement)
        own = "\n".join(text for cid, text in rendered.clauses.items()
                        if cid in {"quality_units", "quality_disputes", "communication", "complaints"})
        raci = "\n".join(f"{r.activity} {r.notes}" for r in rendered.raci.values())
        assert "Qualified Person" not in own and "QP" not in raci and "Qualified Person" not in raci
        assert "batch_certification" not in rendered.raci
        assert "211.22(a)" in rendered.raci["final_release"].notes or arrangement is US_BLA_DS


def test_certification_row_follows_who_certifies(render: Render) -> None:
    imp = render(EU_IMP)
    row = imp.raci["batch_certification"]
    assert (row.sponsor, row.contract_acceptor) == ("I", "R/A")
    eu = render(EU_FINISHED)
    row = eu.raci["batch_certification"]
    assert (row.sponsor, row.contract_acceptor) == ("R/A", "C")
    assert eu.raci["final_release"].sponsor == "R/A"


# --- facilities.yaml / subcontracting.yaml ---------------------------------------------------------------


def test_subcontracting_consent_rule_by_arrangement(render: Render) -> None:
    subs = SUBCONTRACTORS
    api = render({**EU_API_INDIA, "subcontracting": subs})
    text = api.clause("subcontracting")
    assert "section 16.14" in text and "prior written Approval" in text
    assert "objects within that period" not in text  # the notify-only option would breach ICH Q7 16.14
    eu = render({**EU_FINISHED, "subcontracting": subs})
    assert "Article 12(3) of Commission Directive (EU) 2017/1572" in eu.clause("subcontracting")
    imp = render({**EU_IMP, "subcontracting": subs})
    imp_text = imp.clause("subcontracting")
    assert "Article 13 of Commission Delegated Regulation (EU) 2017/1569" in imp_text
    assert "2017/1572" not in imp_text
    us = render({**US_NDA, "subcontracting": subs})
    assert "objects within that period" in us.clause("subcontracting")


def test_site_authorisations_kept_and_changes_notified(render: Render) -> None:
    us = render(US_NDA)
    facilities = us.clause("facilities_equipment")
    assert "refusal, suspension, restriction, withdrawal or lapse" in facilities


def test_subcontracted_sterility_and_mycoplasma_tests_are_told_apart(render: Render) -> None:
    bla = render({**US_BLA_DS, "subcontracting": SUBCONTRACTORS})
    text = bla.clause("subcontracting")
    steri = next(line for line in text.splitlines() if line.startswith("Steri Lab GmbH"))
    myco = next(line for line in text.splitlines() if line.startswith("Myco Lab Inc."))
    assert "Germany" in steri and "EU MIA DE_BY_01_MIA_2024_0001" in steri and "sterility (Ph. Eur. 2.6.1)" in steri
    assert "mycoplasma" not in steri and "s@example.com" in steri
    assert "United States" in myco and "FEI 3000000001" in myco and "mycoplasma (Ph. Eur. 2.6.7)" in myco
    assert "sterility" not in myco
    assert "another test" in text


def test_imp_production_and_stability_do_not_speak_of_sale_or_product_quality_review(render: Render) -> None:
    imp = render(EU_IMP)
    assert "released for sale" not in imp.clause("process_validation")
    assert "product quality review" not in imp.text
    assert "on the market" not in imp.clause("stability")


def test_us_marketed_stability_cites_211_166_and_others_do_not(render: Render) -> None:
    assert "21 CFR 211.166" in render(US_NDA).clause("stability")
    assert "211.166" not in render(EU_FINISHED).clause("stability")
    assert "211.166" not in render(US_BLA_DS).clause("stability")


def test_inspection_outcomes_row_names_no_fda_form_outside_the_us(render: Render) -> None:
    assert "483" not in render(EU_API_INDIA).raci["inspection_outcomes"].activity


# --- regulator review (review/FINDINGS.md), content-c ---------------------------------------------------

US_API_DMF = _arrangement("api", ["US"], ["api_manufacture", "release_testing", "stability_testing"],
                          country="United States")
EU_API_ASMF = _arrangement("api", ["EU"], ["api_manufacture", "release_testing", "stability_testing"],
                           country="Spain", release_model="cmo_release_with_sponsor_secondary",
                           application_type="ASMF")
US_BLA_FILL_FINISH = _arrangement("biological_drug_product", ["US"], ["drug_product_manufacture", "release_testing",
                                                                       "sterile_fill_finish"],
                                  country="United States", application_type="BLA")


def test_bla_drug_substance_made_at_the_site_allocates_cell_banks_and_viral_safety(render: Render) -> None:
    bla = render(US_BLA_DS)
    bio = bla.clause("biologics")
    # the acceptor makes the drug substance: no fill-finish text (FINDINGS us-bla-drug-substance item 2)
    assert "The Sponsor shall supply the biological active substance" not in bio
    assert "remains responsible for the cell banks" not in bio
    assert "holds and controls the cell banks at the Site" in bio
    assert "master and working cell banks" in bio and "inventory" in bio
    assert "freedom from bacteria, fungi, mycoplasma and adventitious and endogenous viruses" in bio
    assert "unprocessed bulk of each harvest for adventitious viruses and mycoplasma" in bio
    assert "viral clearance validation studies" in bio
    assert "Raw materials of biological origin" in bio
    assert "ICH Q5D" in bio and "ICH Q5A" in bio and "section 18 of ICH Q7" in bio
    assert "21 CFR Part 610" in bio
    assert bla.raci["cell_banks"].contract_acceptor == "R" and bla.raci["cell_banks"].sponsor == "A"
    assert "viral_safety" in bla.raci
    assert "Adventitious agent detected in a cell bank or in the unprocessed bulk of a harvest" in bla.text


def test_biologic_fill_finish_keeps_the_supplied_active_substance_text(render: Render) -> None:
    ff = render(US_BLA_FILL_FINISH)
    bio = ff.clause("biologics")
    assert "The Sponsor shall supply the biological active substance" in bio
    assert "holds and controls the cell banks" not in bio and "unprocessed bulk" not in bio
    assert "cell_banks" not in ff.raci and "viral_safety" not in ff.raci


def test_site_authorisation_events_have_one_clock(render: Render) -> None:
    """FINDINGS pattern 1: the same authorisation / GMP-certificate event carried 2 Business Days (General
    clause) and 1 Business Day (premises and inspections clauses). Every clause now uses the General clause's
    clock refusal_suspension_restriction_revocation."""
    for changes in (EU_API_INDIA, US_NDA, UK_CH):
        agreement = render(changes).agreement
        clocks = {t.deadline.split(" of ")[0] for t in agreement.timelines
                  if any(w in t.event for w in ("suspension", "lapse", "GMP certificate", "written confirmation"))
                  and "Warning Letter" not in t.event and t.deadline.startswith("within")}
        assert len(clocks) == 1, clocks
    api = render(EU_API_INDIA)
    assert "1 Business Day" not in api.clause("third_country_active_substance")
    assert "1 Business Day" not in api.raci["licences_registrations"].notes


def test_uk_ch_retained_samples_are_assigned(render: Render) -> None:
    ukch = render(UK_CH)
    reserve = ukch.clause("reserve_samples")
    assert "Annex 19" in reserve and "fully packaged unit" in reserve and "United Kingdom" in reserve
    assert "Article 12(1)(a) of the Medicinal Products Licensing Ordinance (AMBV)" in reserve
    assert "two complete release analyses" in reserve
    assert "holder of the Swiss marketing authorisation" in reserve
    assert "211.170" not in reserve and "sterility and pyrogens" not in reserve
    eu = render(EU_FINISHED).clause("reserve_samples")
    assert "Annex 19" in eu and "AMBV" not in eu and "211.170" not in eu and "sterility and pyrogens" not in eu


def test_eu_sponsor_supplied_active_substance_gmp_is_verified(render: Render) -> None:
    eu = render(EU_FINISHED)
    materials = eu.clause("materials")
    assert "Article 46(f) of Directive 2001/83/EC" in materials
    assert "the Sponsor shall verify, on the Contract Acceptor's behalf" in materials
    assert "Qualified Person who certifies each Batch" in materials
    row = eu.raci["active_substance_gmp_verification"]
    assert row.sponsor == "R" and row.contract_acceptor == "A"
    us = render(US_NDA)
    assert "Article 46(f)" not in us.clause("materials")
    assert "active_substance_gmp_verification" not in us.raci
    assert "Article 46(f)" not in render(EU_API_INDIA).clause("materials")


@pytest.mark.parametrize("arrangement", [US_API_DMF, EU_API_ASMF, EU_API_INDIA], ids=["us-dmf", "eu-asmf", "eu-india"])
def test_api_master_file_holder_owns_stability_and_no_market_release_words(render: Render,
                                                                           arrangement: dict[str, Any]) -> None:
    api = render(arrangement)
    stability = api.clause("stability")
    assert "section 11.5 of ICH Q7" in stability
    assert "owns the on-going stability programme of the active substance" in stability
    assert "The Sponsor owns the stability programme" not in stability
    assert "decide the shelf life" not in stability
    assert api.raci["stability_protocol"].contract_acceptor == "R/A"
    filings = api.raci["regulatory_filings"]
    assert "holds the master file" in filings.notes and filings.contract_acceptor == "R/A" and filings.sponsor == "R"
    assert "released for sale" not in api.text and "supplied to the market" not in api.text
    assert "for sale" not in api.clause("process_validation")


def test_bla_drug_substance_without_master_file_keeps_sponsor_stability(render: Render) -> None:
    bla = render(US_BLA_DS)
    assert "The Sponsor owns the stability programme" in bla.clause("stability")
    assert "section 11.5 of ICH Q7" not in bla.clause("stability")
    assert "released for sale" not in bla.text


def test_jp_prefectures_inspect_only_sites_in_japan(render: Render) -> None:
    insp = render(JP_US_STERILE).clause("regulatory_inspections")
    assert "PMDA), which inspects sites outside Japan" in insp
    assert "for sites in Japan within their competence, by the prefectural governments" in insp
    assert "the prefectural governments inspect manufacturing sites" not in insp


def test_stability_oos_clock_stated_once_when_both_clocks_agree(render: Render) -> None:
    stability = render(US_NDA).clause("stability")
    assert "for any other Batch, within 24 hours" not in stability
    assert "within 24 hours of confirmation" in stability


def test_imp_comparability_measures_against_the_authorised_trial_process(render: Render) -> None:
    imp = render(EU_IMP | {"tech_transfer": {"site_or_scale_change": True, "comparability_required": True}})
    text = imp.clause("tech_transfer")
    assert "registered process" not in text
    assert "the process described in the clinical trial authorisations" in text


def test_api_master_file_holder_updates_its_master_file_on_transfer_and_impurities(render: Render) -> None:
    api = render(US_API_DMF | {"tech_transfer": {"site_or_scale_change": True, "update_filings": True}})
    transfer = api.clause("tech_transfer")
    assert "as holder of the master file of the active substance, shall update that master file" in transfer
    assert "The Sponsor shall prepare and submit" not in transfer and "released for a market" not in transfer
    assert "in its master file" in api.clause("impurity_risk_management")
    nda = render(US_NDA | {"tech_transfer": {"site_or_scale_change": True, "update_filings": True}})
    assert "The Sponsor shall prepare and submit" in nda.clause("tech_transfer")
    assert "master file" not in nda.clause("impurity_risk_management")

"""Release, retention and reporting checks judged per product from the arrangement facts, in both directions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from qa_builder.answers.load import load_answers
from qa_builder.library.loader import load_library
from qa_builder.models.findings import Finding
from qa_builder.review.checks import review_answers
from tests.conftest import answers_data, write_answers

LIBRARY = load_library()
TODAY = dt.date(2026, 11, 25)


def findings(tmp_path: Path, *products: dict[str, Any], release_model: str = "sponsor_release",
             services: tuple[str, ...] = ("drug_product_manufacture",), site_country: str = "Germany",
             **extra: Any) -> list[Finding]:
    data = answers_data()
    data["products"] = [{"name": f"P{i}", **p} for i, p in enumerate(products)]
    data["services"] = list(services)
    data["contract_acceptor"]["sites"][0].update(country=site_country, activities=list(services))
    data["release_model"] = release_model
    data.update(extra)
    found = review_answers(load_answers(write_answers(tmp_path, data)), LIBRARY, today=TODAY)
    return [f for f in found if f.id != "QA-COV-001"]


def ids(found: list[Finding]) -> set[str]:
    return {f.id for f in found}


API_EU = {"type": "api", "markets": ["EU"]}


def test_no_eu_retention_after_certification_for_an_active_substance(tmp_path: Path) -> None:
    """QA-REC-001 used to demand 5 years after QP certification of an API, which is never certified."""
    records = {"retention_years_after_certification": 0}
    for model in ("qp_certification", "cmo_release_with_sponsor_secondary"):
        found = findings(tmp_path, API_EU, release_model=model, services=("api_manufacture",),
                         site_country="India", records=records)
        assert "QA-REC-001" not in ids(found)
    finished = findings(tmp_path, {"type": "drug_product", "markets": ["EU"]}, release_model="qp_certification",
                        records={"retention_years_after_certification": 4})
    [hit] = [f for f in finished if f.id == "QA-REC-001"]
    assert "EU minimum of 5" in hit.message and hit.field == "records.retention_years_after_certification"


def test_qp_certification_is_refused_for_an_active_substance(tmp_path: Path) -> None:
    found = findings(tmp_path, API_EU, release_model="qp_certification", services=("api_manufacture",),
                     site_country="India")
    [hit] = [f for f in found if f.id == "QA-REL-001"]
    assert hit.field == "release_model" and "active substance" in hit.message
    assert "cmo_release_with_sponsor_secondary" in hit.fix
    silent = findings(tmp_path, API_EU, release_model="cmo_release_with_sponsor_secondary",
                      services=("api_manufacture",), site_country="India")
    assert "QA-REL-001" not in ids(silent)


@pytest.mark.parametrize("market", ["EU", "UK", "CH"])
def test_finished_product_needs_qp_certification(tmp_path: Path, market: str) -> None:
    found = findings(tmp_path, {"type": "drug_product", "markets": [market]})
    [hit] = [f for f in found if f.id == "QA-REL-001"]
    assert f"markets {market}" in hit.message and "Set release_model to qp_certification" in hit.fix
    assert "QA-REL-001" not in ids(findings(tmp_path, {"type": "drug_product", "markets": [market]},
                                            release_model="qp_certification"))


def test_us_only_needs_no_qp(tmp_path: Path) -> None:
    assert "QA-REL-001" not in ids(findings(tmp_path, {"type": "drug_product", "markets": ["US"]}))


def test_eu_investigational_product_needs_qp_certification(tmp_path: Path) -> None:
    imp = {"type": "investigational", "markets": ["EU"]}
    [hit] = [f for f in findings(tmp_path, imp, services=("clinical_supply",)) if f.id == "QA-REL-001"]
    assert "Article 62 of Regulation (EU) No 536/2014" in hit.message
    assert "QA-REL-001" not in ids(findings(tmp_path, imp, services=("clinical_supply",),
                                            release_model="qp_certification"))


def test_the_acceptors_qp_is_a_valid_certifier(tmp_path: Path) -> None:
    product = {"type": "drug_product", "markets": ["EU"]}
    named = {"certifier": "contract_acceptor", "batch_release_site": "Plant, Freiburg",
             "authorisation_number": "DE-MIA-1", "qualified_person": "Dr. Q"}
    found = findings(tmp_path, product, release_model="qp_certification", release=named)
    assert not {"QA-REL-001", "QA-REL-002", "QA-REL-003"} & ids(found)
    unnamed = findings(tmp_path, product, release_model="qp_certification", release={"certifier": "contract_acceptor"})
    assert {f.field for f in unnamed if f.id == "QA-REL-003"} == {
        "release.batch_release_site", "release.authorisation_number", "release.qualified_person"}
    assert all(f.severity == "warning" for f in unnamed if f.id == "QA-REL-003")


def test_release_is_judged_per_product(tmp_path: Path) -> None:
    us = {"type": "drug_product", "markets": ["US"]}
    eu_own = {"type": "drug_product", "markets": ["EU"], "release": {"model": "qp_certification"}}
    assert "QA-REL-001" not in ids(findings(tmp_path, us, eu_own))
    eu_default = {"type": "drug_product", "markets": ["EU"]}
    [hit] = [f for f in findings(tmp_path, us, eu_default) if f.id == "QA-REL-001"]
    assert "product 'P1'" in hit.message
    wrong_own = {"type": "drug_product", "markets": ["EU"], "release": {"model": "sponsor_release"}}
    [hit] = [f for f in findings(tmp_path, us, wrong_own, release_model="qp_certification") if f.id == "QA-REL-001"]
    assert hit.field == "products[1].release.model"


@pytest.mark.parametrize(("product", "fires"), [
    ({"type": "biological_drug_product", "application_type": "NDA"}, True),
    ({"type": "drug_product", "application_type": "BLA"}, True),
    ({"type": "biological_drug_product", "application_type": "BLA"}, False),
    ({"type": "drug_product", "application_type": "ANDA"}, False),
    ({"type": "otc_drug_product", "application_type": "OTC_monograph"}, False),
])
def test_application_type_fits_the_product(tmp_path: Path, product: dict[str, Any], fires: bool) -> None:
    found = findings(tmp_path, {"markets": ["US"], **product})
    assert ("QA-APP-001" in ids(found)) is fires


def test_critical_deviation_clock_names_the_duty_of_the_application(tmp_path: Path) -> None:
    late = {"critical_notify_hours": 48}
    nda = [f for f in findings(tmp_path, {"type": "drug_product", "markets": ["US"]}, deviations=late)
           if f.id == "QA-DEV-001"]
    bla = [f for f in findings(tmp_path, {"type": "biological_drug_product", "markets": ["US"]}, deviations=late)
           if f.id == "QA-DEV-001"]
    assert "Field Alert" in nda[0].reason and "Field Alert" not in bla[0].reason
    assert "21 CFR 600.14" in bla[0].reason


def test_trial_sponsor_outside_the_eu_names_a_legal_representative(tmp_path: Path) -> None:
    trial = {"sponsor": "Trial Inc.", "sponsor_country": "United States"}
    imp = {"type": "investigational", "markets": ["EU"], "trial": trial}
    assert "QA-TRIAL-001" in ids(findings(tmp_path, imp, release_model="qp_certification"))
    imp["trial"] = {**trial, "eu_legal_representative": "Trial Europe B.V., Amsterdam"}
    assert "QA-TRIAL-001" not in ids(findings(tmp_path, imp, release_model="qp_certification"))

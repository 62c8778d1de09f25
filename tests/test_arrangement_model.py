"""The arrangement model of the answers file: per-product release, trial, affiliates, subcontractor detail, and
the old shape mapped onto the new one with a notice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qa_builder.answers.load import load_answers
from qa_builder.errors import AnswersError
from qa_builder.library.context import derive_facts
from qa_builder.library.loader import load_library
from qa_builder.models.answers import Answers
from tests.conftest import EXAMPLES, MINIMAL_ANSWERS, answers_data, run_cli, write_answers

LIBRARY = load_library()
OLD_SHAPE_FILES = [MINIMAL_ANSWERS, *sorted(EXAMPLES.glob("*.yaml"))]


@pytest.mark.parametrize("path", OLD_SHAPE_FILES, ids=lambda p: p.name)
def test_existing_answers_files_load_unchanged(path: Path) -> None:
    """Every example and fixture written for the earlier schema still loads and derives its facts."""
    answers_file = load_answers(path)
    facts = derive_facts(answers_file.answers, LIBRARY.jurisdictions)
    assert facts.products and all(p.release_model == answers_file.answers.release_model for p in facts.products)


def test_old_biologic_is_read_from_the_services_with_a_notice(tmp_path: Path) -> None:
    data = answers_data()
    data["products"][0].update(type="biologic", dosage_form=None)
    data["services"] = ["drug_substance_manufacture"]
    data["contract_acceptor"]["sites"][0]["activities"] = ["drug_substance_manufacture"]
    answers_file = load_answers(write_answers(tmp_path, data))
    assert answers_file.answers.effective_type(answers_file.answers.products[0]) == "biological_drug_substance"
    [notice] = answers_file.notices
    assert "products[0].type: 'biologic' is read as biological_drug_substance" in notice
    assert "write type: biological_drug_substance" in notice and " line " in notice

    data["services"] = ["drug_substance_manufacture", "sterile_fill_finish"]
    data["contract_acceptor"]["sites"][0]["activities"] = list(data["services"])
    answers_file = load_answers(write_answers(tmp_path, data))
    assert derive_facts(answers_file.answers, LIBRARY.jurisdictions).product_types == ["biological_drug_product"]


def test_new_types_carry_no_notice(tmp_path: Path) -> None:
    data = answers_data()
    data["products"][0]["type"] = "biological_drug_product"
    assert load_answers(write_answers(tmp_path, data)).notices == []


def test_check_prints_the_notice(tmp_path: Path) -> None:
    data = answers_data()
    data["products"][0]["type"] = "biologic"
    path = write_answers(tmp_path, data)
    result = run_cli("check", str(path))
    assert "note: " in result.stderr and "'biologic' is read as biological_drug_product" in result.stderr
    payload = json.loads(run_cli("check", "--json", str(path)).stdout)
    assert payload["results"][0]["notices"] and "biological_drug_product" in payload["results"][0]["notices"][0]


def _full_arrangement() -> dict[str, Any]:
    data = answers_data()
    data["affiliates"] = [{"name": "Sponsor Japan K.K.", "address": "1-2-3 Nihonbashi, Tokyo", "country": "Japan",
                           "role": "Japanese marketing authorisation holder (GQP)", "affiliate_of": "sponsor",
                           "markets": ["JP"]}]
    data["products"] = [
        {"name": "A", "type": "drug_product", "markets": ["US"], "application_type": "ANDA"},
        {"name": "B", "type": "drug_product", "markets": ["EU", "JP"],
         "release": {"model": "qp_certification", "certifier": "contract_acceptor",
                     "batch_release_site": "Plant 2, Freiburg", "authorisation_number": "DE-MIA-42",
                     "qualified_person": "Dr. A. Weber", "deputies": ["Dr. J. Keller"]}},
        {"name": "C", "type": "investigational", "markets": ["EU"],
         "release": {"model": "qp_certification"},
         "trial": {"sponsor": "Trial Inc.", "sponsor_country": "United States",
                   "eu_legal_representative": "Trial Europe B.V., Amsterdam", "countries": ["Germany"],
                   "numbers": ["2025-512345-12-00"]}},
    ]
    data["signatories"].append({"party": "sponsor", "name": "Taro Sato", "title": "GQP Manager",
                                "email": "sato@example.jp", "on_behalf_of": "Sponsor Japan K.K."})
    data["subcontracting"] = {"allowed": True, "approved_subcontractors": [
        {"name": "Lab GmbH", "address": "Labstrasse 1, Basel", "country": "Switzerland",
         "registration_numbers": {"Swissmedic": "123"}, "activities": ["drug_product_manufacture"],
         "tests": ["sterility (Ph. Eur. 2.6.1)", "mycoplasma (Ph. Eur. 2.6.7)"],
         "quality_contact": {"name": "L", "title": "QA", "email": "l@example.ch"}}]}
    return data


def test_release_per_product_over_the_default() -> None:
    answers = Answers.model_validate(_full_arrangement())
    a, b, c = answers.products
    assert answers.release_of(a).model == "sponsor_release" and answers.release_of(a).certifier == "sponsor"
    assert answers.release_of(b).certifier == "contract_acceptor"
    assert answers.release_of(b).deputies == ["Dr. J. Keller"]
    assert answers.release_of(c).model == "qp_certification" and answers.release_of(c).certifier == "sponsor"
    facts = derive_facts(answers, LIBRARY.jurisdictions)
    assert facts.per_product_release and facts.release_models == ["qp_certification", "sponsor_release"]
    assert facts.certified_by == "both" and facts.acceptor_certifies and facts.sponsor_certifies
    [certified] = [x for x in facts.certifications if x.product == "B" and x.market == "EU"]
    assert (certified.certifier, certified.site, certified.authorisation_number, certified.persons) == (
        "contract_acceptor", "Plant 2, Freiburg", "DE-MIA-42", ["Dr. A. Weber", "Dr. J. Keller"])
    assert facts.has_affiliates and answers.subcontracting.approved_subcontractors[0].tests


def test_release_model_may_be_left_out_when_products_agree() -> None:
    data = _full_arrangement()
    del data["release_model"]
    for product in data["products"]:
        product["release"] = {"model": "qp_certification"}
    assert Answers.model_validate(data).release_model == "qp_certification"
    data["products"][0]["release"] = {"model": "sponsor_release"}
    with pytest.raises(ValueError, match="release_model"):
        Answers.model_validate(data)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["products"][0].update(trial={"sponsor": "X"}),
     "products[0] trial is given for a product of type drug_product"),
    (lambda d: d["signatories"][2].update(on_behalf_of="Nobody K.K."),
     "signatories[2].on_behalf_of names 'Nobody K.K.', which is not listed under affiliates"),
    (lambda d: d["signatories"][2].update(party="contract_acceptor"),
     "an affiliate of sponsor; make party and affiliate_of the same"),
    (lambda d: d["products"][0].update(markets=["US", "US"]), "products[0].markets lists a market more than once"),
    (lambda d: d["products"][0].update(application_type="PMA"), "products[0].application_type should be"),
    (lambda d: d["products"][0].update(markets=["XX"]), "products[0].markets[0] should be"),
])
def test_bad_arrangements_name_the_field(tmp_path: Path, change: Any, expected: str) -> None:
    data = _full_arrangement()
    change(data)
    with pytest.raises(AnswersError) as error:
        load_answers(write_answers(tmp_path, data))
    assert expected in str(error.value)
    assert str(error.value).startswith(str(tmp_path))


def test_schema_documents_the_arrangement_fields_with_examples() -> None:
    result = run_cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    defs = schema["$defs"]
    for model, field in (("Product", "application_type"), ("ReleaseArrangement", "certifier"),
                         ("Trial", "eu_legal_representative"), ("Affiliate", "role"),
                         ("Subcontractor", "tests"), ("Signatory", "on_behalf_of")):
        description = defs[model]["properties"][field].get("description", "")
        assert "Example" in description, f"{model}.{field} has no example"
    assert "KR" in json.dumps(defs["Product"]["properties"]["markets"])


def test_schema_describes_every_field_with_an_example() -> None:
    from qa_builder.answers.schema import SHOWCASE, answers_schema

    Answers.model_validate(SHOWCASE)  # the examples are a valid answers file
    schema = answers_schema()
    nodes = [("Answers", schema), *schema["$defs"].items()]
    missing = [f"{name}.{field}" for name, node in nodes for field, spec in node.get("properties", {}).items()
               if not spec.get("examples")]
    assert not missing, f"no example for {missing}"
    undescribed = [f"{name}.{field}" for name, node in nodes for field, spec in node.get("properties", {}).items()
                   if not spec.get("description")]
    assert not undescribed, f"no description for {undescribed}"
    assert schema["properties"]["release_model"]["examples"] == ["qp_certification"]


def test_an_affiliate_signatory_signs_for_the_affiliate() -> None:
    from qa_builder.library.assemble import assemble_agreement
    from qa_builder.library.select import select_clauses

    answers = Answers.model_validate(_full_arrangement())
    agreement = assemble_agreement(answers, LIBRARY, select_clauses(LIBRARY, answers))
    assert [(s.party, s.party_name) for s in agreement.signatories] == [
        ("sponsor", answers.sponsor.name), ("sponsor", "Sponsor Japan K.K."),
        ("contract_acceptor", answers.contract_acceptor.name)]


def test_a_us_otc_product_without_application_type_gets_a_notice(tmp_path: Path) -> None:
    data = answers_data()
    data["products"][0]["type"] = "otc_drug_product"
    [notice] = load_answers(write_answers(tmp_path, data)).notices
    assert "products[0].application_type: not given" in notice and "OTC_monograph" in notice
    data["products"][0]["application_type"] = "OTC_monograph"
    assert load_answers(write_answers(tmp_path, data)).notices == []


def test_every_example_and_fixture_builds_with_its_notices(tmp_path: Path) -> None:
    """Files written for the earlier schema (and the new examples) build; the old shape is noted, not refused."""
    result = run_cli("build", *map(str, OLD_SHAPE_FILES), "-o", str(tmp_path), "--format", "docx")
    assert result.returncode == 0, result.stderr
    assert f"{len(OLD_SHAPE_FILES)} built, 0 failed" in result.stderr
    assert "note: " in result.stderr and "'biologic' is read as biological_drug_product" in result.stderr


def test_a_swiss_only_product_made_abroad_is_certified_by_its_maker_whatever_the_certifier_answer() -> None:
    """Switzerland lets no answer choose who certifies: a Batch made abroad is released technically at the
    manufacturing Site (Swissmedic FAQ B-349, AMBV Art 7) and the Sponsor's Responsible Person only decides market
    release (AMBV Art 13); Annex A's certification row follows that, not release.certifier (review5 R5-4)."""
    data = answers_data()
    data["products"] = [{"name": "H", "type": "drug_product", "markets": ["CH"]}]
    data["release_model"] = "qp_certification"
    data["release"] = {"certifier": "sponsor"}
    facts = derive_facts(Answers.model_validate(data), LIBRARY.jurisdictions)
    assert facts.certified_by == "contract_acceptor" and not facts.sponsor_certifies
    steps = {(c.step, c.certifier) for c in facts.certifications}
    assert steps == {("technical release abroad", "contract_acceptor"), ("market release", "sponsor")}

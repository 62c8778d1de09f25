"""Duties from one place: the RACI row and the clause read the same answer; one notation; notes bind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa_builder.answers.load import load_answers
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.errors import LibraryError
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import Agreement
from tests.conftest import DEMO_EXAMPLE, MINI_LIBRARY, answers_data, write_answers

LIBRARY = load_library()


def _demo(tmp_path: Path, edit: str = "") -> Agreement:
    text = DEMO_EXAMPLE.read_text(encoding="utf-8").replace("responsibilities:\n", "responsibilities:\n" + edit, 1)
    path = tmp_path / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    return prepare_agreement(load_answers(path), LIBRARY)


def _clause(agreement: Agreement, clause_id: str) -> str:
    return " ".join(p.text for s in agreement.sections for c in s.clauses if c.clause_id == clause_id
                    for p in c.paragraphs)


def _row(agreement: Agreement, activity: str) -> tuple[str, str, str]:
    row = next(r for r in agreement.raci if r.activity_id == activity)
    return row.sponsor, row.contract_acceptor, row.notes


@pytest.mark.parametrize(("owner", "codes", "says"), [
    ("contract_acceptor", ("A", "R"), "the Contract Acceptor shall assess whether the change requires"),
    ("sponsor", ("R/A", "C"), "the Sponsor shall assess whether the change requires"),
    ("null", ("R/A", "R"), "the parties shall assess together"),
])
def test_filing_assessment_owner_drives_clause_and_matrix(tmp_path: Path, owner: str, codes: tuple[str, str],
                                                          says: str) -> None:
    text = DEMO_EXAMPLE.read_text(encoding="utf-8")
    assert "filing_assessment_owner: sponsor" in text
    path = tmp_path / "demo.yaml"
    path.write_text(text.replace("filing_assessment_owner: sponsor", f"filing_assessment_owner: {owner}"),
                    encoding="utf-8")
    agreement = prepare_agreement(load_answers(path), LIBRARY)
    assert _row(agreement, "change_regulatory_assessment")[:2] == codes
    assert says in _clause(agreement, "regulatory_impact_assessment")


def test_default_rows_where_both_are_responsible_carry_a_split(tmp_path: Path) -> None:
    agreement = _demo(tmp_path)
    for activity in ("qa_review", "reference_standards", "stability_results_decisions"):
        sponsor, acceptor, notes = _row(agreement, activity)
        assert "R" in sponsor and "R" in acceptor
        assert len(notes) > 80, activity
    for row in LIBRARY.raci:
        if "R" in row.sponsor and "R" in row.contract_acceptor:
            assert row.split_of_duties, row.id


def test_matrix_clause_uses_annex_notation_and_renders_negotiated_notes(tmp_path: Path) -> None:
    agreement = _demo(tmp_path, "  - {activity: reserve_samples, sponsor: RA, contract_acceptor: R,"
                                " notes: Samples are kept at the Sponsor's depot., split_of_duties: CA ships them.}\n")
    text = _clause(agreement, "responsibilities_matrix")
    assert "reserve samples: Sponsor R/A, Contract Acceptor R (Samples are kept at the Sponsor's depot; " in text
    assert "split of duties: CA ships them)" in text
    assert "Sponsor RA" not in text
    assert "listed below with its notes and split of duties, prevails over any clause" in text
    assert _row(agreement, "reserve_samples")[:2] == ("R/A", "R")


def test_matrix_clause_claims_only_rows_the_arrangement_has(tmp_path: Path) -> None:
    agreement = _demo(tmp_path)
    text = _clause(agreement, "responsibilities_matrix")
    rows = {r.activity_id for r in agreement.raci}
    assert {"knowledge_management", "supply_chain"} <= rows
    assert ("technology transfer" in text) == ("technology_transfer" in rows)
    assert ("subcontracting" in text) == ("subcontractor_qualification" in rows)


def _lib(tmp_path: Path) -> Path:
    target = tmp_path / "lib"
    shutil.copytree(MINI_LIBRARY, target)
    return target


def test_library_refuses_a_clause_naming_a_missing_raci_row(tmp_path: Path) -> None:
    lib = _lib(tmp_path)
    path = lib / "clauses" / "general.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("references: [REQ-AUDIT]",
                                                             "references: [REQ-AUDIT]\n    raci: [no_such_row]", 1),
                    encoding="utf-8")
    with pytest.raises(LibraryError, match=r"names RACI activity 'no_such_row', which raci\.yaml does not define"):
        load_library(lib)


def test_library_refuses_both_responsible_without_split(tmp_path: Path) -> None:
    lib = _lib(tmp_path)
    path = lib / "raci.yaml"
    text = path.read_text(encoding="utf-8")
    assert "sponsor: I, contract_acceptor: RA" in text
    path.write_text(text.replace("sponsor: I, contract_acceptor: RA", "sponsor: R, contract_acceptor: RA", 1),
                    encoding="utf-8")
    with pytest.raises(LibraryError, match=r"both parties are Responsible \(R\) but no split_of_duties"):
        load_library(lib)


def test_library_check_refuses_a_clause_relying_on_a_row_the_arrangement_lacks(tmp_path: Path) -> None:
    from qa_builder.library.lint import lint_library

    lib = _lib(tmp_path)
    path = lib / "clauses" / "general.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("references: [REQ-AUDIT]",
                                                             "references: [REQ-AUDIT]\n    raci: [serialisation]", 1),
                    encoding="utf-8")
    problems = [f.line() for f in lint_library(load_library(lib)).findings]
    assert any("clause 'audits'" in p and "relies on RACI activity 'serialisation', which the Responsibilities "
               "Matrix of this arrangement does not have" in p for p in problems)


def test_annex_a_cells_do_not_repeat_or_run_on(tmp_path: Path) -> None:
    agreement = _demo(tmp_path, "  - {activity: complaint_investigation, sponsor: RA, contract_acceptor: R,"
                                " notes: Device complaints are investigated by the Sponsor,"
                                " split_of_duties: Sponsor investigates device complaints.}\n")
    assert _row(agreement, "complaint_investigation")[2] == (
        "Device complaints are investigated by the Sponsor. Sponsor investigates device complaints.")
    review = _row(agreement, "qa_review")[2]
    assert review.count("initiates each periodic review") == 1
    assert "15 Business Days" not in review  # a clock no clause states and Annex B does not list
    for activity in ("reference_standards", "stability_results_decisions"):
        notes = _row(agreement, activity)[2]
        assert notes.count("Sponsor") <= 3 and "Contract Acceptor notifies; Sponsor decides" not in notes, notes


def test_an_affiliate_holding_two_markets_is_named_once_in_the_recall_and_filing_rows(tmp_path: Path) -> None:
    """Annex A's recall and filing rows name the affiliate that holds the marketing authorisation for its markets,
    from the same facts as the recall clause (facts.ma_holders), and no affiliate where none holds one
    (review5 R5-2)."""
    plain = prepare_agreement(load_answers(write_answers(tmp_path, answers_data(), "plain.yaml")), LIBRARY)
    assert "affiliate" not in _row(plain, "recall")[2]
    data = answers_data()
    data["products"][0]["markets"] = ["EU", "UK"]
    data["affiliates"] = [{"name": "Sponsor Europe B.V.", "address": "Keizersgracht 1, Amsterdam",
                           "country": "Netherlands", "role": "marketing authorisation holder",
                           "affiliate_of": "sponsor", "joins_as_party": True, "holds_marketing_authorisation": True,
                           "markets": ["EU", "UK"],
                           "quality_contact": {"name": "Q", "title": "QA", "email": "q@example.nl"}}]
    agreement = prepare_agreement(load_answers(write_answers(tmp_path, data, "affiliate.yaml")), LIBRARY)
    said = "For the EU/EEA and the United Kingdom, Sponsor Europe B.V. (an affiliate of the Sponsor) "
    assert said + "decides, after consulting the Sponsor, whether to recall" in _row(agreement, "recall")[2]
    assert said + "holds the marketing authorisation" in _row(agreement, "regulatory_filings")[2]
    assert _row(agreement, "recall")[2].count("Sponsor Europe B.V.") == 1
    assert "Sponsor Europe B.V., as holder of the marketing authorisation for the EU/EEA" in _clause(
        agreement, "regulatory_impact_assessment")

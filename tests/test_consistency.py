"""Consistency by construction: every clock a clause states is in Annex B and the reverse; the lint is clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from qa_builder.answers.load import load_answers
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.library.lint import base_answers, clock_mismatches, lint_library, paragraph_problems
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import Agreement
from qa_builder.sandbox.environment import compile_text, plural, render_text
from tests.conftest import EXAMPLES

LIBRARY = load_library()


def _variant(tmp_path: Path, name: str, change: dict[str, Any]) -> Path:
    data = base_answers()
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    data["contract_acceptor"]["sites"][0]["activities"] = list(data["services"])
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


VARIANTS: dict[str, dict[str, Any]] = {
    "lab_stability": {"contract_acceptor": {"kind": "contract_laboratory"}, "services": ["qc_testing",
                                                                                       "stability_testing"]},
    "api_only": {"products": [{"name": "API", "type": "api", "markets": ["US"]}], "services": ["api_manufacture"]},
    "eu": {"products": [{"name": "Tabs", "type": "drug_product", "markets": ["EU"]}],
           "services": ["drug_product_manufacture", "stability_testing"], "release_model": "qp_certification"},
    "us": {"products": [{"name": "Tabs", "type": "drug_product", "markets": ["US"]}],
           "services": ["drug_product_manufacture", "release_testing"], "release_model": "sponsor_release"},
}


def _agreements(tmp_path: Path) -> list[tuple[str, Agreement]]:
    paths = sorted(EXAMPLES.glob("*.yaml")) + [_variant(tmp_path, k, v) for k, v in VARIANTS.items()]
    return [(p.name, prepare_agreement(load_answers(p), LIBRARY)) for p in paths]


def test_every_clause_clock_is_in_annex_b_and_the_reverse(tmp_path: Path) -> None:
    for name, agreement in _agreements(tmp_path):
        assert list(clock_mismatches(agreement)) == [], name


def test_issue_clocks_are_in_annex_b(tmp_path: Path) -> None:
    agreement = dict(_agreements(tmp_path))["us-eu-drug-product-cmo.yaml"]
    events = " | ".join(t.event for t in agreement.timelines)
    for event in ("Updated product information", "Access to raw data", "Sponsor's decision on a final complaint",
                  "Field Alert Report filed concerning the Services", "emergency change",
                  "may be used for a market", "Final response to inspection observations",
                  "True copies of the documents needed to transfer", "refusing an action"):
        assert event in events


def test_lab_stability_clause_is_complete_and_keeps_its_clock(tmp_path: Path) -> None:
    agreement = prepare_agreement(load_answers(_variant(tmp_path, "lab", VARIANTS["lab_stability"])), LIBRARY)
    stability = next(c for s in agreement.sections for c in s.clauses if c.clause_id == "stability")
    text = " ".join(p.text for p in stability.paragraphs)
    assert "It shall store the Samples in qualified chambers" in text
    assert "within 20 Business Days after the scheduled pull date" in text
    assert all(p.text.endswith(".") for p in stability.paragraphs)


def test_stability_oos_on_released_batch_uses_the_recall_clock(tmp_path: Path) -> None:
    data = VARIANTS["us"] | {"deviations": {"critical_notify_hours": 12}}
    agreement = prepare_agreement(load_answers(_variant(tmp_path, "us12", data)), LIBRARY)
    rows = {t.event: t.deadline for t in agreement.timelines if t.event.startswith("Confirmed stability OOS")}
    released = next(v for k, v in rows.items() if "released Batch (a quality defect" in k)
    assert released == "within 24 hours of confirmation"
    recall = next(t.deadline for t in agreement.timelines if t.event.startswith("Information that a released"))
    assert recall.startswith("within 24 hours")


@pytest.mark.parametrize(("amount", "unit", "expected"), [
    (1, "Business Day", "1 Business Day"), (2, "Business Day", "2 Business Days"), (1, "day", "1 day"),
    (0, "day", "0 days"), ("3", "hour", "3 hours")])
def test_plural(amount: Any, unit: str, expected: str) -> None:
    assert plural(amount, unit) == expected
    assert render_text(compile_text("{{ n | plural(u) }}"), {"n": amount, "u": unit}) == expected


def test_clocks_of_one_are_singular(tmp_path: Path) -> None:
    ones = {"deviations": {"critical_notify_hours": 1, "major_notify_business_days": 1},
            "complaints": {"forward_business_days": 1}, "term": {"termination_notice_months": 1},
            "release": {"documentation_within_business_days": 1}}
    agreement = prepare_agreement(load_answers(_variant(tmp_path, "ones", VARIANTS["us"] | ones)), LIBRARY)
    text = " ".join(p.text for s in agreement.sections for c in s.clauses for p in c.paragraphs)
    text += " ".join(t.deadline for t in agreement.timelines)
    for bad in ("1 Business Days", "1 hours", "1 days", "1 months"):
        assert bad not in text


@pytest.mark.parametrize(("text", "kind", "problem"), [
    ("It shall store", "body", "terminal punctuation"),
    ("", "item", "empty list item"),
    ("within {{ x }} days.", "body", "unrendered Jinja"),
    ("the  Sponsor.", "body", "doubled space"),
    ("within 1 Business Days.", "body", "should be singular"),
])
def test_paragraph_problems(text: str, kind: str, problem: str) -> None:
    assert any(problem in p for p in paragraph_problems(text, kind))
    assert list(paragraph_problems("The Sponsor shall act within 1 Business Day.", "body")) == []


def test_default_library_lint_is_clean() -> None:
    report = lint_library(LIBRARY)
    assert report.contexts > 100 and report.clauses >= 40 and report.paragraphs > 10000
    assert [f.line() for f in report.findings] == []


def test_library_check_refuses_a_truncated_clause_and_an_unlisted_clock(tmp_path: Path) -> None:
    import shutil

    from tests.conftest import MINI_LIBRARY, run_cli

    lib = tmp_path / "lib"
    shutil.copytree(MINI_LIBRARY, lib)
    ok = run_cli("library", "check", "--library", str(lib))
    assert ok.returncode == 0, ok.stderr
    assert "lint: " in ok.stdout and " arrangements, 4 clauses, " in ok.stdout and ": 0 findings" in ok.stdout
    general = lib / "clauses" / "general.yaml"
    text = general.read_text(encoding="utf-8")
    general.write_text(text.replace("fallback: The Sponsor may audit once a year.",
                                    "fallback: The Sponsor may audit within 10 days. It shall store"), encoding="utf-8")
    bad = run_cli("library", "check", "--library", str(lib))
    assert bad.returncode == 1
    assert "paragraph ends without terminal punctuation: 'The Sponsor may audit within 10 days. It shall store'" \
        in bad.stderr
    assert "states a clock of 10 day(s) that Annex B does not list for it" in bad.stderr


def test_default_positions_carry_no_commercial_terms(tmp_path: Path) -> None:
    agreement = dict(_agreements(tmp_path))["us-eu-drug-product-cmo.yaml"]
    rejected = next(c for s in agreement.sections for c in s.clauses if c.clause_id == "rejected_batches")
    text = " ".join(p.text for p in rejected.paragraphs)
    assert "governed exclusively by the Commercial Agreement" in text
    assert "at its own cost" not in text and "replace the Batch" not in text


def test_definitions_match_the_document(tmp_path: Path) -> None:
    agreement = dict(_agreements(tmp_path))["us-eu-drug-product-cmo.yaml"]
    definitions = " ".join(p.text for s in agreement.sections for c in s.clauses if c.clause_id == "definitions"
                           for p in c.paragraphs)
    assert "appendices" not in definitions and "Annex A, the Responsibilities Matrix" in definitions
    assert '"Batch documentation package" means' in definitions
    assert '"Responsibilities Matrix" means' in definitions


# --- Review 13: what a GMP inspector reading the rendered agreements found -----------------------------------


def _rows(agreement: Agreement, clause_id: str) -> list[tuple[str, str, str]]:
    number = next(c.number for s in agreement.sections for c in s.clauses if c.clause_id == clause_id)
    return [(t.event, t.who, t.deadline) for t in agreement.timelines if t.clause_number == number]


def _text(agreement: Agreement, clause_id: str) -> str:
    return " ".join(p.text for s in agreement.sections for c in s.clauses if c.clause_id == clause_id
                    for p in c.paragraphs)


def test_annex_b_names_the_sponsor_for_the_kpi_review_record(tmp_path: Path) -> None:
    for name, agreement in _agreements(tmp_path):
        assert "the Sponsor shall record the outcome and the agreed actions" in _text(agreement, "quality_kpis")
        record = [who for event, who, _ in _rows(agreement, "quality_kpis") if event.startswith("Record of the KPI")]
        assert record == ["Sponsor"], name


@pytest.mark.parametrize(("owner", "who", "says"), [
    ("sponsor", "Sponsor", "the Sponsor shall assess whether"),
    ("contract_acceptor", "Contract Acceptor", "the Contract Acceptor shall assess whether"),
    (None, "Both parties", "the parties shall assess together"),
])
def test_annex_b_party_for_the_filing_assessment_follows_the_owner(tmp_path: Path, owner: str | None, who: str,
                                                                    says: str) -> None:
    data = VARIANTS["us"] | {"change_control": {"filing_assessment_owner": owner}}
    agreement = prepare_agreement(load_answers(_variant(tmp_path, f"owner-{owner}", data)), LIBRARY)
    assert says in _text(agreement, "regulatory_impact_assessment")
    rows = [(e, w) for e, w, d in _rows(agreement, "regulatory_impact_assessment") if "10 Business Days" in d]
    assert len(rows) == 1 and rows[0][1] == who, rows


def test_fallback_audit_cap_is_not_listed_as_a_minimum_frequency(tmp_path: Path) -> None:
    data = VARIANTS["us"] | {"positions": {"sponsor_audits": "fallback"}}
    agreement = prepare_agreement(load_answers(_variant(tmp_path, "audit-fallback", data)), LIBRARY)
    assert "may perform one routine audit of each Site in every period of 24 months" in _text(agreement,
                                                                                               "sponsor_audits")
    routine = [d for e, _, d in _rows(agreement, "sponsor_audits") if e.startswith("Routine Sponsor audit")]
    assert routine == ["one in every period of 24 months"]
    default = dict(_agreements(tmp_path))["us-api-cmo.yaml"]
    assert next(d for e, _, d in _rows(default, "sponsor_audits") if e.startswith("Routine")).startswith("at least")


def test_audit_clause_carries_no_charges_in_any_position(tmp_path: Path) -> None:
    for position in ("preferred", "fallback"):
        data = VARIANTS["us"] | {"positions": {"sponsor_audits": position}}
        text = _text(prepare_agreement(load_answers(_variant(tmp_path, position, data)), LIBRARY), "sponsor_audits")
        assert "shall not charge" not in text and "at the Sponsor's cost" not in text
        assert "is a matter for the Commercial Agreement" in text


def test_stability_oos_on_an_unreleased_batch_has_one_clock(tmp_path: Path) -> None:
    agreement = dict(_agreements(tmp_path))["us-eu-drug-product-cmo.yaml"]
    oos = _text(agreement, "oos_investigations")
    assert "(for a result in a stability study, within the period set by the clause on Stability)" in oos
    events = [e for e, _, _ in _rows(agreement, "oos_investigations") if e.startswith("Confirmed OOS result")]
    assert events == ["Confirmed OOS result on a Batch not yet released (other than in a stability study)"]


@pytest.mark.parametrize(("markets", "says"), [
    (["US"], "GMP responsibilities for the outsourced activities, as Chapter 16 of ICH Q7 provides."),
    # An active substance's contract basis is ICH Q7 chapter 16, not the finished-product Chapter 7 (issue 14).
    (["EU"], "GMP responsibilities for the outsourced activities, as Chapter 16 of ICH Q7 provides."),
])
def test_scope_sentence_reads_for_an_api(tmp_path: Path, markets: list[str], says: str) -> None:
    data = {"products": [{"name": "API", "type": "api", "markets": markets}], "services": ["api_manufacture"]}
    agreement = prepare_agreement(load_answers(_variant(tmp_path, "api-" + "-".join(markets), data)), LIBRARY)
    text = _text(agreement, "scope")
    assert says in text
    assert "outsourced activities and Chapter 16" not in text


def test_definitions_are_in_alphabetical_order(tmp_path: Path) -> None:
    for name, agreement in _agreements(tmp_path):
        clause = next(c for s in agreement.sections for c in s.clauses if c.clause_id == "definitions")
        terms = [p.text.split('"')[1] for p in clause.paragraphs if p.kind == "item" and p.text.startswith('"')]
        assert terms == sorted(terms, key=str.lower), name


def test_no_approved_subcontractors_where_subcontracting_is_forbidden(tmp_path: Path) -> None:
    agreements = dict(_agreements(tmp_path))
    lab = agreements["contract-qc-laboratory.yaml"]
    text = " ".join(p.text for s in lab.sections for c in s.clauses for p in c.paragraphs)
    assert "shall not subcontract any part of them" in _text(lab, "subcontracting")
    assert "approved subcontractor" not in text
    demo = agreements["us-eu-drug-product-cmo.yaml"]
    assert "shall arrange access to the sites of approved subcontractors" in _text(demo, "sponsor_audits")
    # The subcontractors' part of the confirmation on which the Sponsor's QP relies (issue 14: stated with
    # the EU certification, in the clause on Certification and Release for Each Market).
    assert "by its approved subcontractors complied" in _text(demo, "batch_certification")


def _clause_text(agreement: Agreement, clause_id: str) -> str:
    return " ".join(p.text for s in agreement.sections for c in s.clauses if c.clause_id == clause_id
                    for p in c.paragraphs)


def test_one_catalogue_clock_drives_both_the_clause_text_and_annex_b(tmp_path: Path) -> None:
    import shutil

    from qa_builder.library.loader import default_library_dir

    answers = load_answers(EXAMPLES / "us-eu-drug-product-cmo.yaml")
    event = "Information that a released or distributed Batch may be defective or may need to be recalled"
    before = prepare_agreement(answers, LIBRARY)
    assert "within 24 hours of becoming aware of any information" in _clause_text(before, "quality_defects_recalls")
    assert [r.deadline for r in before.timelines if r.event == event] == ["within 24 hours of becoming aware of it"]

    lib = tmp_path / "lib"
    shutil.copytree(default_library_dir(), lib)
    clocks = lib / "clocks.yaml"
    text = clocks.read_text(encoding="utf-8")
    old = "  - id: information_released_distributed_batch\n    amount: 24\n"
    assert old in text
    clocks.write_text(text.replace(old, old.replace("24", "12")), encoding="utf-8")
    after = prepare_agreement(answers, load_library(lib))
    body = _clause_text(after, "quality_defects_recalls")
    assert "within 12 hours of becoming aware of any information" in body and "24 hours" not in body
    assert [r.deadline for r in after.timelines if r.event == event] == ["within 12 hours of becoming aware of it"]
    assert list(clock_mismatches(after)) == []


def test_library_check_refuses_an_unknown_clock_naming_file_line_and_clause(tmp_path: Path) -> None:
    import shutil

    from tests.conftest import MINI_LIBRARY, run_cli

    lib = tmp_path / "lib"
    shutil.copytree(MINI_LIBRARY, lib)
    (lib / "clocks.yaml").write_text("clocks:\n  - id: eu_notice\n    amount: 2\n    unit: Business Day\n"
                                     "    source: industry practice\n", encoding="utf-8")
    general = lib / "clauses" / "general.yaml"
    text = general.read_text(encoding="utf-8")
    general.write_text(text.replace("text: EU text.", "text: EU text within {{ clocks.eu_notise | clock }}."),
                       encoding="utf-8")
    bad = run_cli("library", "check", "--library", str(lib))
    assert bad.returncode == 2, bad.stderr
    assert "general.yaml line 27: clause 'eu_only': text" in bad.stderr
    assert "clocks.eu_notise, but clocks has no field 'eu_notise'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_clock_filter_takes_only_a_catalogue_clock() -> None:
    from qa_builder.library.context import context_names
    from qa_builder.sandbox.environment import TemplateProblem
    from qa_builder.sandbox.names import check_names

    known = context_names(["fa_notice"])
    check_names("within {{ clocks.fa_notice | clock }}", known)
    with pytest.raises(TemplateProblem, match="the filter 'clock' takes a clock of the catalogue"):
        check_names("within {{ deviations.critical_notify_hours | clock }}", known)

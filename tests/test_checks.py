"""Review checks: each fires on a crafted bad file and stays silent on good ones (and at its boundary)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qa_builder.answers.load import load_answers
from qa_builder.library.loader import load_library
from qa_builder.review.checks import CHECKS, review_answers
from tests.conftest import (
    DEMO_EXAMPLE,
    EXAMPLES,
    MINIMAL_ANSWERS,
    ROOT,
    CliResult,
    answers_data,
    run_cli,
    write_answers,
)

LIBRARY = load_library()
TODAY = dt.date(2026, 11, 25)
Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {}) if not part.isdigit() else node[int(part)]
        node[last] = value
    return mutate


def _override(activity: str, sponsor: str, acceptor: str, **extra: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data.setdefault("responsibilities", []).append(
            {"activity": activity, "sponsor": sponsor, "contract_acceptor": acceptor, **extra})
    return mutate


def _all(*mutations: Mutation) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(data)
    return mutate


def _eu(data: dict[str, Any]) -> None:
    data["products"][0]["markets"] = ["US", "EU"]


def _add_row(row: dict[str, Any]) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data.setdefault("responsibilities", []).append(row)
    return mutate


SUBCONTRACTOR = {"name": "Lab GmbH", "address": "Labstrasse 1, Basel", "activities": ["release_testing"]}

# check id → (mutation that must trigger it, field the finding must name)
TRIGGERS: dict[str, tuple[Mutation, str]] = {
    "QA-RACI-001": (_override("final_release", "RA", "A"), "responsibilities[0]"),
    "QA-RACI-002": (_override("batch_record_review", "C", "A"), "responsibilities[0]"),
    "QA-RACI-003": (_override("deviation_management", "RA", "R"), "responsibilities[0]"),
    "QA-STANDALONE-001": (_set("agreement.standalone", False), "agreement.standalone"),
    "QA-STANDALONE-002": (_set("agreement.prevails_on_quality_matters", False),
                          "agreement.prevails_on_quality_matters"),
    "QA-SUB-001": (_set("subcontracting", {"allowed": True}), "subcontracting.approved_subcontractors"),
    "QA-SUB-002": (_set("subcontracting", {"allowed": True, "approved_subcontractors": [{"name": "Lab GmbH"}]}),
                   "subcontracting.approved_subcontractors[0].address"),
    "QA-SUB-003": (_set("subcontracting", {"allowed": True, "flow_down": False,
                                           "approved_subcontractors": [SUBCONTRACTOR]}), "subcontracting.flow_down"),
    "QA-SUB-004": (_set("subcontracting", {"allowed": True, "prior_written_consent": False,
                                           "approved_subcontractors": [SUBCONTRACTOR]}),
                   "subcontracting.prior_written_consent"),
    "QA-SITE-001": (_set("contract_acceptor.sites.0.registration_numbers", {}),
                    "contract_acceptor.sites[0].registration_numbers"),
    "QA-SITE-002": (_set("contract_acceptor.sites.0.activities", ["drug_product_manufacture", "stability_testing"]),
                    "contract_acceptor.sites[0].activities[1]"),
    "QA-CC-001": (_set("change_control.sponsor_prior_approval_for_filed_changes", False),
                  "change_control.sponsor_prior_approval_for_filed_changes"),
    "QA-CC-002": (_set("change_control.filing_assessment_owner", None), "change_control.filing_assessment_owner"),
    "QA-CC-003": (_set("change_control.like_for_like_notice", "none"), "change_control.like_for_like_notice"),
    "QA-INSP-001": (_set("inspections.notify_within_hours", 25), "inspections.notify_within_hours"),
    "QA-INSP-002": (_set("inspections.share_reports_within_business_days", None),
                    "inspections.share_reports_within_business_days"),
    "QA-INSP-003": (_set("inspections.notify_warning_letters", False), "inspections.notify_warning_letters"),
    "QA-AUDIT-001": (_set("audits.routine_frequency_months", 25), "audits.routine_frequency_months"),
    "QA-AUDIT-002": (_set("audits.for_cause", False), "audits.for_cause"),
    "QA-AUDIT-003": (_set("inspections.sponsor_may_attend", False), "inspections.sponsor_may_attend"),
    "QA-REL-001": (_eu, "release_model"),
    "QA-REL-002": (_all(_set("release_model", "cmo_release_with_sponsor_secondary"),
                        _override("final_release", "I", "RA")), "responsibilities[0].sponsor"),
    "QA-REL-003": (_all(_eu, _set("release_model", "qp_certification"), _set("release.certifier", "contract_acceptor")),
                   "release.authorisation_number"),
    "QA-REL-004": (_all(_set("products.0.markets", ["JP"]), _set("affiliates", [{
        "name": "Sponsor Japan K.K.", "address": "1 Nihonbashi, Tokyo", "country": "Japan",
        "role": "Japanese marketing authorisation holder", "affiliate_of": "sponsor", "markets": ["JP"],
        "joins_as_party": False}])), "affiliates[0].joins_as_party"),
    "QA-APP-001": (_set("products.0.application_type", "BLA"), "products[0].application_type"),
    "QA-RACI-004": (_all(_set("products.0.type", "api"), _set("services", ["api_manufacture"]),
                          _override("stability_protocol", "RA", "R", split_of_duties="Sponsor sets retest period.")),
                     "responsibilities[0].sponsor"),
    "QA-MAH-001": (_all(_eu, _set("sponsor.country", "United States")), "sponsor.country"),
    "QA-TRIAL-001": (_all(_set("products.0.type", "investigational"), _set("products.0.markets", ["EU"]),
                          _set("products.0.trial", {"sponsor": "Trial Sponsor Inc.", "sponsor_country": "USA"}),
                          _set("release_model", "qp_certification")),
                     "products[0].trial.eu_legal_representative"),
    "QA-REC-001": (_set("records.retention_years_after_expiry", 0), "records.retention_years_after_expiry"),
    "QA-REC-002": (_set("records.pre_destruction_notice_days", None), "records.pre_destruction_notice_days"),
    "QA-INV-001": (_set("deviations", {"investigation_closure_days": 45, "extension_process": False}),
                   "deviations.investigation_closure_days"),
    "QA-COMP-001": (_set("complaints.joint_investigation", False), "complaints.joint_investigation"),
    "QA-TT-001": (_set("tech_transfer", {"site_or_scale_change": True, "comparability_required": False}),
                  "tech_transfer.comparability_required"),
    "QA-LIFE-001": (_set("agreement.review_period_months", 48), "agreement.review_period_months"),
    "QA-LIFE-002": (_set("term.exit_handover", False), "term.exit_handover"),
    "QA-CC-004": (_set("change_control", {"major_change_notice_days": 30, "minor_change_notice_days": 31}),
                  "change_control.major_change_notice_days"),
    "QA-CC-005": (_set("change_control", {"major_change_notice_days": 29, "minor_change_notice_days": 10}),
                  "change_control.major_change_notice_days"),
    "QA-INSP-004": (_set("inspections.share_reports_within_business_days", 6),
                    "inspections.share_reports_within_business_days"),
    "QA-DEV-001": (_set("deviations.critical_notify_hours", 25), "deviations.critical_notify_hours"),
    "QA-SUB-005": (_set("subcontracting", {"allowed": False, "approved_subcontractors": [SUBCONTRACTOR]}),
                   "subcontracting.allowed"),
    "QA-SUB-006": (_set("subcontracting", {"allowed": True, "approved_subcontractors": [
        {**SUBCONTRACTOR, "activities": ["serialisation"]}]}),
        "subcontracting.approved_subcontractors[0].activities[0]"),
    "QA-CLOCK-002": (_add_row({"activity": "complaint_investigation", "sponsor": "RA", "contract_acceptor": "R",
                               "notes": "The Sponsor investigates device complaints within 20 Business Days",
                               "split_of_duties": "Sponsor: device complaints; Contract Acceptor: the rest."}),
                     "responsibilities"),
}
#: the Sponsor's affiliate established in the EU that holds the EU/EEA marketing authorisation (QA-MAH-001)
EU_HOLDER = {"name": "Sponsor Ireland Ltd", "address": "1 Dock Road, Dublin 2", "country": "Ireland",
             "role": "marketing authorisation holder", "affiliate_of": "sponsor", "markets": ["EU"],
             "joins_as_party": True, "holds_marketing_authorisation": True}
# Checks that guard the library rather than the answers: triggered by a crafted library in their own test.
LIBRARY_TRIGGERED = {"QA-CLOCK-001"}


def _findings(tmp_path: Path, mutation: Mutation | None = None, today: dt.date = TODAY) -> list[Any]:
    data = answers_data()
    if mutation:
        mutation(data)
    return review_answers(load_answers(write_answers(tmp_path, data)), LIBRARY, today=today)


def test_every_check_has_a_trigger_test() -> None:
    assert {c.id for c in CHECKS} == set(TRIGGERS) | LIBRARY_TRIGGERED


@pytest.mark.parametrize("check_id", sorted(TRIGGERS))
def test_check_fires_on_crafted_file(tmp_path: Path, check_id: str) -> None:
    mutation, field = TRIGGERS[check_id]
    hits = [f for f in _findings(tmp_path, mutation) if f.id == check_id]
    assert hits, f"{check_id} did not fire"
    finding = hits[0]
    assert finding.field == field
    assert finding.line > 0, "the finding points at a line of the answers file"
    assert finding.message and finding.reason and finding.fix and finding.sources


@pytest.mark.parametrize("answers", [MINIMAL_ANSWERS, *sorted(EXAMPLES.glob("*.yaml"))], ids=lambda p: p.name)
def test_checks_are_silent_on_good_files(answers: Path) -> None:
    assert review_answers(load_answers(answers), LIBRARY, today=TODAY) == []


@pytest.mark.parametrize(("mutation", "silent_id"), [
    (_set("inspections.notify_within_hours", 24), "QA-INSP-001"),
    (_set("audits.routine_frequency_months", 24), "QA-AUDIT-001"),
    (_set("deviations", {"investigation_closure_days": 45, "extension_process": True}), "QA-INV-001"),
    (_override("deviation_management", "RA", "R", split_of_duties="Sponsor classifies; CMO investigates."),
     "QA-RACI-003"),
    (_set("subcontracting", {"allowed": True, "approved_subcontractors": [SUBCONTRACTOR]}), "QA-SUB-001"),
    (_all(_eu, _set("release_model", "qp_certification")), "QA-REL-001"),
    (_set("tech_transfer", {"comparability_required": False}), "QA-TT-001"),
    (_set("agreement.review_period_months", 36), "QA-LIFE-001"),
    (_set("change_control", {"major_change_notice_days": 30, "minor_change_notice_days": 30}), "QA-CC-004"),
    (_set("change_control", {"major_change_notice_days": 30, "minor_change_notice_days": 30}), "QA-CC-005"),
    (_set("inspections.share_reports_within_business_days", 5), "QA-INSP-004"),
    (_set("deviations.critical_notify_hours", 24), "QA-DEV-001"),
    (_set("subcontracting", {"allowed": False}), "QA-SUB-005"),
    (_all(_eu, _set("sponsor.country", "United States"), _set("affiliates", [EU_HOLDER])), "QA-MAH-001"),
    (_all(_set("products.0.type", "api"), _set("services", ["api_manufacture"]),
          _override("stability_protocol", "C", "RA", notes="Sponsor comments on each protocol.")), "QA-RACI-004"),
])
def test_check_is_silent_at_its_boundary(tmp_path: Path, mutation: Mutation, silent_id: str) -> None:
    assert silent_id not in {f.id for f in _findings(tmp_path, mutation)}


def test_audit_frequency_depends_on_risk(tmp_path: Path) -> None:
    new = _all(_set("audits.acceptor_status", "new"), _set("audits.routine_frequency_months", 18))
    assert "QA-AUDIT-001" in {f.id for f in _findings(tmp_path, new)}
    tier2 = _all(_set("audits.risk_tier", 2), _set("audits.routine_frequency_months", 13))
    assert "QA-AUDIT-001" in {f.id for f in _findings(tmp_path, tier2)}


def test_eu_retention_needs_five_years_after_certification(tmp_path: Path) -> None:
    mutation = _all(_eu, _set("release_model", "qp_certification"),
                    _set("records.retention_years_after_certification", 4))
    hits = [f for f in _findings(tmp_path, mutation) if f.id == "QA-REC-001"]
    assert [h.field for h in hits] == ["records.retention_years_after_certification"]
    assert "EU minimum of 5" in hits[0].message


def test_overdue_review_is_an_error(tmp_path: Path) -> None:
    late = dt.date(2028, 6, 2)  # effective 2026-06-01 + 24 months
    hits = [f for f in _findings(tmp_path, today=late) if f.id == "QA-LIFE-001"]
    assert hits and hits[0].severity == "error" and "2028-06-01" in hits[0].message


def test_like_for_like_at_annual_review_is_a_warning(tmp_path: Path) -> None:
    hits = [f for f in _findings(tmp_path, _set("change_control.like_for_like_notice", "annual_review"))
            if f.id == "QA-CC-003"]
    assert hits and hits[0].severity == "warning"


def _cli(*args: str) -> CliResult:
    return run_cli(*args)


def test_check_cli_exit_codes_and_json(tmp_path: Path) -> None:
    data = answers_data()
    TRIGGERS["QA-INSP-001"][0](data)
    bad = write_answers(tmp_path, data, "bad.yaml")
    assert _cli("check", str(DEMO_EXAMPLE)).returncode == 0
    human = _cli("check", str(bad))
    assert human.returncode == 1
    assert "QA-INSP-001" in human.stdout and "fix: Set inspections.notify_within_hours" in human.stdout
    result = _cli("check", "--json", str(bad), str(DEMO_EXAMPLE))
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert [r["errors"] for r in payload["results"]] == [1, 0]
    finding = payload["results"][0]["findings"][0]
    assert set(finding) == {"id", "severity", "field", "line", "message", "reason", "fix", "sources"}
    broken = tmp_path / "broken.yaml"
    broken.write_text("agreement: [", encoding="utf-8")
    unreadable = _cli("check", "--json", str(broken))
    assert unreadable.returncode == 2
    assert "is not valid YAML" in json.loads(unreadable.stdout)["results"][0]["error"]


def test_build_refuses_review_errors_unless_allowed(tmp_path: Path) -> None:
    data = answers_data()
    TRIGGERS["QA-COMP-001"][0](data)
    bad = write_answers(tmp_path, data, "bad.yaml")
    out = tmp_path / "out"
    refused = _cli("build", str(bad), "-o", str(out), "--format", "docx")
    assert refused.returncode == 2
    assert "QA-COMP-001 complaints.joint_investigation" in refused.stderr
    assert "--allow-findings" in refused.stderr
    assert not out.exists() or not any(out.iterdir())
    allowed = _cli("build", str(bad), "-o", str(out), "--format", "docx", "--allow-findings")
    assert allowed.returncode == 0, allowed.stderr
    record = json.loads((out / "QA-MIN-1_v1.build.json").read_text(encoding="utf-8"))
    assert record["findings_accepted"] is True
    assert [f["id"] for f in record["review_findings"]] == ["QA-COMP-001"]


def test_readme_documents_every_check() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [c.id for c in CHECKS if f"`{c.id}`" not in readme]
    assert not missing, f"README lacks {missing}"


def test_check_sources_are_catalogued_requirements() -> None:
    known = {r.id for r in LIBRARY.requirements}
    unknown = {(c.id, s) for c in CHECKS for s in c.sources if s not in known}
    assert not unknown


@pytest.mark.parametrize(("path", "value", "check_id", "severity"), [
    ("deviations.critical_notify_hours", 72, "QA-DEV-001", "warning"),
    ("deviations.critical_notify_hours", 73, "QA-DEV-001", "error"),
    ("inspections.share_reports_within_business_days", 10, "QA-INSP-004", "warning"),
    ("inspections.share_reports_within_business_days", 11, "QA-INSP-004", "error"),
])
def test_plausibility_severity_boundaries(tmp_path: Path, path: str, value: int, check_id: str, severity: str) -> None:
    hits = [f for f in _findings(tmp_path, _set(path, value)) if f.id == check_id]
    assert [f.severity for f in hits] == [severity]


def test_483_finding_says_the_15_day_figure_is_unverified(tmp_path: Path) -> None:
    hit = next(f for f in _findings(tmp_path, _set("inspections.share_reports_within_business_days", 60))
               if f.id == "QA-INSP-004")
    assert "UNVERIFIED" in hit.reason and "F-US-10" in hit.reason


def test_issue_example_of_implausible_clocks_is_refused(tmp_path: Path) -> None:
    mutation = _all(_set("deviations", {"critical_notify_hours": 168, "major_notify_business_days": 30}),
                    _set("inspections.share_reports_within_business_days", 60),
                    _set("change_control", {"major_change_notice_days": 0, "minor_change_notice_days": 365}))
    errors = {f.id for f in _findings(tmp_path, mutation) if f.severity == "error"}
    assert {"QA-DEV-001", "QA-INSP-004", "QA-CC-004", "QA-CC-005"} <= errors


def test_same_event_with_two_clocks_is_an_error(tmp_path: Path) -> None:
    import shutil

    from qa_builder.library.loader import default_library_dir

    lib = tmp_path / "lib"
    shutil.copytree(default_library_dir(), lib)
    path = lib / "clauses" / "deviations.yaml"
    text = path.read_text(encoding="utf-8")
    old = "      - event: Major Deviation\n"
    assert old in text
    path.write_text(text.replace(old, "      - event: Critical Deviation\n", 1), encoding="utf-8")
    library = load_library(lib)
    answers = load_answers(write_answers(tmp_path, answers_data()))
    hits = [f for f in review_answers(answers, library, today=TODAY) if f.id == "QA-CLOCK-001"]
    assert len(hits) == 1 and hits[0].severity == "error"
    assert "'Critical Deviation' gets two clocks: within 24 hours of discovery" in hits[0].message


def test_eu_holder_outside_the_eea_is_an_error(tmp_path: Path) -> None:
    swiss = {**EU_HOLDER, "name": "Sponsor Suisse SA", "address": "1 Rue du Rhône, Genève", "country": "Switzerland"}
    hits = [f for f in _findings(tmp_path, _all(_eu, _set("sponsor.country", "United States"),
                                                _set("affiliates", [swiss]))) if f.id == "QA-MAH-001"]
    assert [(f.field, f.severity) for f in hits] == [("affiliates[0].country", "error")]
    assert "Sponsor Suisse SA" in hits[0].message and "outside the EU/EEA" in hits[0].message

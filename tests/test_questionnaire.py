"""The questionnaire: asks only what applies, validates as typed, writes files that build."""

from __future__ import annotations

import datetime as dt
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from qa_builder.answers.load import load_answers
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.library.loader import load_library
from qa_builder.models.answers import Answers
from qa_builder.questionnaire.help import question_help
from qa_builder.questionnaire.questions import Interview, render_answers
from qa_builder.review.checks import review_answers
from tests.conftest import DEMO_EXAMPLE, ROOT, run_cli

LIBRARY = load_library()


class ScriptedAsker:
    """Answers by question key; a list gives successive tries (to exercise re-asking)."""

    def __init__(self, script: dict[str, Any]) -> None:
        self.script = script
        self.asked: list[str] = []
        self.rejected: list[tuple[str, str]] = []

    def section(self, title: str, note: str = "") -> None:
        pass

    def ask(self, key: str, prompt: str, default: str | None, parse: Any) -> Any:
        self.asked.append(key)
        tries = self.script.get(key)
        tries = list(tries) if isinstance(tries, list) else [tries] if tries is not None else []
        for raw in [*tries, default if default is not None else ""]:
            if raw is None:
                continue
            try:
                return parse(str(raw))
            except ValueError as exc:
                self.rejected.append((key, str(exc)))
        raise AssertionError(f"no valid scripted answer for {key} ({prompt})")


def _party(prefix: str, name: str) -> dict[str, str]:
    slug = name.split()[0].lower()
    return {f"{prefix}.name": name, f"{prefix}.address": f"1 {name} Road", f"{prefix}.country": "Exampleland",
            f"{prefix}.quality_contact.name": f"Q. {name}", f"{prefix}.quality_contact.title": "Head of Quality",
            f"{prefix}.quality_contact.email": f"quality@{slug}.example"}


def _base(agreement_id: str, kind: str, product_type: str, markets: str, site_activities: str) -> dict[str, Any]:
    script: dict[str, Any] = {
        "agreement.id": agreement_id, "agreement.title": f"Quality Agreement {agreement_id}",
        "agreement.effective_date": "2026-12-01",
        "contract_acceptor.kind": kind, "contract_acceptor.sites[0].name": "Main Site",
        "contract_acceptor.sites[0].address": "2 Plant Street", "contract_acceptor.sites[0].country": "Exampleland",
        "contract_acceptor.sites[0].registration_numbers.FEI": "3000000001",
        "contract_acceptor.sites[0].activities": site_activities,
        "products[0].name": "Examplomab" if product_type == "biologic" else "Examplol",
        "products[0].type": product_type, "products[0].dosage_form": "solution for injection",
        "products[0].markets": markets,
    }
    script.update(_party("sponsor", "Sponsor Pharma"))
    script.update(_party("contract_acceptor", "Acceptor Manufacturing"))
    if "EU" in markets:
        script["sponsor.country"] = "Netherlands"  # the EU/EEA holder is established there (QA-MAH-001)
        script["contract_acceptor.sites[0].registration_numbers.EU MIA"] = "MIA-0001"
        script["signatories.sponsor[1].name"] = "Dr. Q. Person"
        script["signatories.sponsor[1].title"] = "Qualified Person"
        script["signatories.sponsor[1].email"] = "qp@sponsor.example"
    return script


ARRANGEMENTS: dict[str, dict[str, Any]] = {
    "us-api-cmo": _base("QA-API-1", "cmo", "api", "US", "api_manufacture, release_testing, stability_testing"),
    "us-eu-biologic-cdmo": {
        **_base("QA-BIO-1", "cdmo", "biologic", "US, EU",
                "development, tech_transfer, drug_product_manufacture, sterile_fill_finish, release_testing, "
                "stability_testing"),
        "tech_transfer.site_or_scale_change": "yes", "audits.risk_tier": "2",
    },
    "sterile-fill-finish-cmo": {
        **_base("QA-STER-1", "cmo", "sterile_drug_product", "US", "sterile_fill_finish, stability_testing"),
        "services": "sterile_fill_finish, stability_testing, release_testing",
        "subcontracting.allowed": "yes",
        "subcontracting.approved_subcontractors[0].name": "Testing Lab Inc.",
        "subcontracting.approved_subcontractors[0].address": "3 Lab Lane",
        "subcontracting.approved_subcontractors[0].activities": "release_testing",
        "audits.risk_tier": "2",
    },
    "contract-qc-laboratory": _base("QA-LAB-1", "contract_laboratory", "drug_product", "US, EU",
                                    "qc_testing, release_testing, stability_testing"),
}


@pytest.mark.parametrize("name", sorted(ARRANGEMENTS))
def test_questionnaire_writes_a_valid_clean_file_for_each_arrangement(tmp_path: Path, name: str) -> None:
    asker = ScriptedAsker(ARRANGEMENTS[name])
    data = Interview(asker, {}).run()
    path = tmp_path / f"{name}.yaml"
    path.write_text(render_answers(data), encoding="utf-8")
    loaded = load_answers(path)
    findings = review_answers(loaded, LIBRARY, today=dt.date(2026, 11, 25))
    assert [f.id for f in findings if f.severity == "error"] == []
    agreement = prepare_agreement(loaded, LIBRARY)  # raises on coverage gaps
    assert agreement.id == ARRANGEMENTS[name]["agreement.id"]
    assert "# The agreement itself" in path.read_text(encoding="utf-8"), "the file is commented"


def test_only_applicable_questions_are_asked() -> None:
    api = ScriptedAsker(ARRANGEMENTS["us-api-cmo"])
    Interview(api, {}).run()
    assert "products[0].dosage_form" not in api.asked, "an API has no dosage form"
    assert "subcontracting.approved_subcontractors" not in api.asked
    assert "tech_transfer.site_or_scale_change" not in api.asked
    assert "records.retention_years_after_certification" not in api.asked
    biologic = ScriptedAsker(ARRANGEMENTS["us-eu-biologic-cdmo"])
    data = Interview(biologic, {}).run()
    assert "tech_transfer.site_or_scale_change" in biologic.asked, "a CDMO brings tech-transfer questions"
    assert "records.retention_years_after_certification" in biologic.asked, "an EU market brings QP questions"
    assert data["release_model"] == "qp_certification", "EU market defaults to QP certification"
    assert [s["meaning"] for s in data["signatories"]] == ["approval", "responsibility", "approval"]
    sterile = ScriptedAsker(ARRANGEMENTS["sterile-fill-finish-cmo"])
    Interview(sterile, {}).run()
    assert "subcontracting.approved_subcontractors[0].name" in sterile.asked


def test_invalid_answers_are_rejected_and_asked_again() -> None:
    script = dict(ARRANGEMENTS["us-api-cmo"])
    script["agreement.id"] = ["../etc/passwd", "QA-OK-1"]
    script["agreement.version"] = ["zero", "0", "2"]
    script["contract_acceptor.sites[0].activities"] = ["api_manufacture, teleportation", "api_manufacture"]
    script["sponsor.quality_contact.email"] = ["not-an-email", "q@sponsor.example"]
    script["inspections.notify_within_hours"] = ["soon", "12"]
    asker = ScriptedAsker(script)
    data = Interview(asker, {}).run()
    assert data["agreement"]["id"] == "QA-OK-1" and data["agreement"]["version"] == 2
    rejected = dict(asker.rejected)
    assert "letters, digits" in rejected["agreement.id"] or "pattern" in rejected["agreement.id"]
    assert "unknown: teleportation" in rejected["contract_acceptor.sites[0].activities"]
    assert "greater than or equal to 1" in [m for k, m in asker.rejected if k == "agreement.version"][-1]
    assert "inspections.notify_within_hours" in rejected


NEW_OPTIONAL_QUESTIONS = (".application_type", "approved_subcontractors[0].country", "approved_subcontractors[0].tests")


def test_from_existing_file_keeps_every_value() -> None:
    class Enter:
        def section(self, title: str, note: str = "") -> None:
            pass

        def ask(self, key: str, prompt: str, default: str | None, parse: Any) -> Any:
            if default is None:  # only a question the earlier schema had no field for may come without a value
                assert key.endswith(NEW_OPTIONAL_QUESTIONS), key
                return parse("")
            return parse(default)

    start = yaml.safe_load(DEMO_EXAMPLE.read_text(encoding="utf-8"))
    data = Interview(Enter(), start).run()
    assert Answers.model_validate(yaml.safe_load(render_answers(data))) == Answers.model_validate(start)


def test_without_a_terminal_it_says_so(tmp_path: Path) -> None:
    result = run_cli("questionnaire", "-o", str(tmp_path / "a.yaml"))  # the runner's stdin is no terminal
    assert result.returncode == 2
    assert "standard input is not one" in result.stderr
    assert not (tmp_path / "a.yaml").exists()


def test_in_a_real_terminal_enter_accepts_every_default(tmp_path: Path) -> None:
    out = tmp_path / "answers.yaml"
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "qa_builder", "questionnaire", "-o", str(out),
                                "--from", str(DEMO_EXAMPLE)], stdin=slave, stdout=slave, stderr=slave, cwd=ROOT,
                               env={**os.environ, "TERM": "dumb"})
    os.close(slave)
    transcript = b""
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            transcript += chunk
            if chunk.rstrip().endswith(b":"):
                os.write(master, b"\n")
    process.wait(timeout=10)
    os.close(master)
    text = transcript.decode("utf-8", "replace")
    assert process.returncode == 0, text[-2000:]
    assert "Inspections" in text or "inspection" in text
    assert "review: no findings" in text
    # Each question shows its help and sources, as the web interview does (qa_builder/questionnaire/help.py).
    flat = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split())
    for key in ("release_model", "inspections.notify_within_hours", "products[0].markets"):
        found = question_help(key)
        assert found is not None
        assert " ".join(found.decides.split()) in flat
        assert all(" ".join(line.split()) in flat for line in found.lines()[1:]), key
    assert "(unverified)" in flat
    assert Answers.model_validate(yaml.safe_load(out.read_text(encoding="utf-8"))) == Answers.model_validate(
        yaml.safe_load(DEMO_EXAMPLE.read_text(encoding="utf-8")))


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "a.yaml"
    out.write_text("keep me", encoding="utf-8")
    master, slave = pty.openpty()
    result = subprocess.run([sys.executable, "-m", "qa_builder", "questionnaire", "-o", str(out)], stdin=slave,
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    os.close(slave)
    os.close(master)
    assert result.returncode == 2 and "already exists; use --force" in result.stderr
    assert out.read_text(encoding="utf-8") == "keep me"


def test_arrangement_questions_are_asked_only_where_they_apply() -> None:
    plain = ScriptedAsker(ARRANGEMENTS["us-eu-biologic-cdmo"])
    Interview(plain, {}).run()
    assert not [k for k in plain.asked if ".trial." in k or k.startswith("affiliates") or ".release." in k]
    assert "products[0].application_type" not in plain.asked, "biological + US is a BLA: derived, not asked"

    script = {**_base("QA-IMP-1", "cdmo", "investigational", "EU, JP", "clinical_supply, drug_product_manufacture"),
              "products": "2", "products[1].name": "Examplol US", "products[1].type": "drug_product",
              "products[1].markets": "US", "products[1].application_type": "ANDA",
              "products[0].trial.sponsor": "Trial Inc.", "products[0].trial.sponsor_country": "United States",
              "products[0].trial.eu_legal_representative": "Trial Europe B.V., Amsterdam",
              "products[0].trial.numbers": "2025-512345-12-00", "affiliates": "1",
              "affiliates[0].name": "Sponsor Japan K.K.", "affiliates[0].address": "1 Nihonbashi, Tokyo",
              "affiliates[0].country": "Japan", "affiliates[0].role": "Japanese marketing authorisation holder",
              "affiliates[0].markets": "JP", "release.certifier": "contract_acceptor",
              "release.batch_release_site": "Main Site, 2 Plant Street", "release.authorisation_number": "MIA-1",
              "release.qualified_person": "Dr. Q. Person", "products[1].release.model": "sponsor_release"}
    asker = ScriptedAsker(script)
    data = Interview(asker, {}).run()
    answers = Answers.model_validate(yaml.safe_load(render_answers(data)))
    imp, us = answers.products
    assert imp.trial is not None and imp.trial.eu_legal_representative == "Trial Europe B.V., Amsterdam"
    assert us.application_type == "ANDA" and us.trial is None
    assert answers.release_model == "qp_certification" and answers.release.certifier == "contract_acceptor"
    assert answers.release_of(us).model == "sponsor_release" and answers.release_of(imp).model == "qp_certification"
    assert [a.name for a in answers.affiliates] == ["Sponsor Japan K.K."]
    assert "products[1].dosage_form" in asker.asked and "products[0].application_type" not in asker.asked


def test_the_terminal_shows_each_questions_help_once_per_run_of_questions_sharing_it() -> None:
    from click.testing import CliRunner

    from qa_builder.cli.questionnaire import TerminalAsker

    asker = TerminalAsker()
    runner = CliRunner()
    with runner.isolation(input="\n\n\n\n") as (out, _err, _):
        asker.section("Sponsor")
        asker.ask("sponsor.name", "Legal name", "A", str)
        asker.ask("sponsor.address", "Registered address", "B", str)  # the same help: not repeated
        asker.ask("sponsor.quality_contact.name", "Quality contact: name", "C", str)
        asker.section("Contract acceptor details")
        asker.ask("contract_acceptor.name", "Legal name", "D", str)  # a new section shows it again
    printed = " ".join(out.getvalue().decode("utf-8").split())
    party, contact = question_help("sponsor.name"), question_help("sponsor.quality_contact.name")
    assert party is not None and contact is not None
    assert printed.count(" ".join(party.decides.split())) == 2
    assert printed.count(" ".join(contact.decides.split())) == 1
    assert printed.count("Sources: Dir (EU) 2017/1572 Art. 12; ICH Q7 §16.12") == 2


def test_a_sponsor_outside_the_eea_is_asked_for_its_eu_holder(tmp_path: Path) -> None:
    script = {**_base("QA-EUH-1", "cmo", "drug_product", "US, EU", "drug_product_manufacture, release_testing"),
              "sponsor.country": "United States", "affiliates": "1",
              "affiliates[0].name": "Sponsor Ireland Ltd", "affiliates[0].address": "1 Dock Road, Dublin 2",
              "affiliates[0].country": "Ireland", "affiliates[0].role": "marketing authorisation holder",
              "affiliates[0].markets": "EU", "affiliates[0].holds_marketing_authorisation": "yes"}
    asker = ScriptedAsker(script)
    data = Interview(asker, {}).run()
    assert "affiliates[0].holds_marketing_authorisation" in asker.asked
    out = tmp_path / "a.yaml"
    out.write_text(render_answers(data), encoding="utf-8")
    answers = load_answers(out)
    assert [a.holds_marketing_authorisation for a in answers.answers.affiliates] == [True]
    assert "QA-MAH-001" not in {f.id for f in review_answers(answers, load_library())}

    eu_sponsor = ScriptedAsker({**script, "sponsor.country": "Netherlands"})
    Interview(eu_sponsor, {}).run()
    assert not [k for k in eu_sponsor.asked if k.startswith("affiliates")], "an EU Sponsor holds the EU MA itself"

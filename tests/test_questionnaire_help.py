"""Every question of the interview has help that says what it decides and cites verified library sources."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from qa_builder.library.loader import load_library
from qa_builder.questionnaire.help import (
    HELP_FILE,
    HelpEntry,
    HelpFile,
    help_key,
    question_help,
    read_help_file,
    resolve_help,
)
from qa_builder.web.interview import replay
from tests.conftest import ROOT

LIBRARY = load_library()
REQUIREMENTS = {r.id: r for r in LIBRARY.requirements}
SOURCE_KEYS = {s.key: s.citation for s in LIBRARY.sources}


def _drafts() -> list[dict[str, Any]]:
    """Answers that between them reach every branch of the interview."""
    paths = sorted(p for p in [*(ROOT / "examples").glob("*.yaml"), *(ROOT / "tests" / "arrangements").glob("*.yaml")]
                   if not p.name.endswith(".expect.yaml"))
    drafts = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in paths]
    split = yaml.safe_load((ROOT / "tests" / "arrangements" / "split-us-a-eu-b.yaml").read_text(encoding="utf-8"))
    split["products"][1]["release"]["certifier"] = "contract_acceptor"  # asks the product's own release site
    return [*drafts, split]


def _asked() -> set[str]:
    return {q.key for draft in _drafts() for section in replay(draft).sections for q in section.questions}


def test_every_question_asked_has_help_and_every_entry_is_asked() -> None:
    asked = _asked()
    assert len({help_key(k) for k in asked}) > 100
    without = sorted(k for k in asked if question_help(k) is None)
    assert without == [], f"questions without help in {HELP_FILE.name}: {without}"
    for key in asked:
        found = question_help(key)
        assert found is not None and len(found.decides) > 20
    declared = {k for entry in read_help_file(HELP_FILE).questions for k in entry.keys}
    assert declared - {help_key(k) for k in asked} == set(), "help for questions the interview never asks"


def test_help_cites_only_what_the_library_verified() -> None:
    entries = read_help_file(HELP_FILE)
    resolved, problems = resolve_help(entries, LIBRARY)
    assert problems == []
    direct = 0
    for key, found in resolved.items():
        entry = next(e for e in entries.questions if key in e.keys)
        assert found.citations or not (entry.requirements or entry.rules)
        for citation in found.citations:
            requirement = REQUIREMENTS[citation.requirement_id]
            assert citation.verified == requirement.verified
            if not citation.markets:  # cited directly by the help, not through a jurisdiction rule
                direct += 1
                assert requirement.verified, f"{key}: {requirement.id} is unverified"
            for source_key, full in citation.instruments:
                assert SOURCE_KEYS.get(source_key) == full, f"{key}: {source_key!r} is not a key of sources.yaml"
            assert citation.text.startswith(citation.instruments[0][0])
            assert citation.line.endswith("(unverified)") != citation.verified
    assert direct > 50


def test_the_examples_of_the_issue_cite_their_sources() -> None:
    release = question_help("release_model")
    assert release is not None
    lines = {c.requirement_id: c.line for c in release.citations}
    assert list(lines)[:3] == ["CFR-211.22a", "EU-Dir2001-83-Art51", "EU-Reg536-2014-Art62"]
    assert lines["EU-Dir2001-83-Art51"] == "EU: Dir 2001/83/EC Art. 51(1)-(3)"  # the certification rules of
    assert lines["CFR-211.22a"] == "US: 21 CFR 211.22(a)"  # jurisdictions.yaml, each with its market
    assert lines["ICHQ7"] == "all markets: ICH Q7 (unverified)"
    certifier = question_help("release.certifier")
    assert certifier is not None and "Dir 2001/83/EC Art. 51(1)-(3)" in [c.line for c in certifier.citations]
    inspection = question_help("inspections.notify_within_hours")
    assert inspection is not None
    texts = [c.text for c in inspection.citations]
    assert "Dir (EU) 2017/1572 Art. 12" in texts
    # the FDA QA guidance's section text is not confirmed (requirements.yaml: verified: false), so no help cites it
    assert not any(t.startswith("FDA QA Guidance") for t in texts)
    markets = question_help("products[1].markets")
    assert markets is not None and markets.folded
    rules = LIBRARY.jurisdictions
    cited = {c.requirement_id for c in markets.citations}
    assert {r.source for r in [*rules.gmp_bases, *rules.certifications, *rules.change_regimes,
                               *rules.retention_minima]} == cited
    unverified = [c.line for c in markets.citations if not c.verified]
    assert "US: 21 CFR Parts 210 and 211 (unverified)" in unverified  # CFR-210-211 is verified: false
    assert "all markets: ICH Q7 §6.13" in [c.line for c in markets.citations]


@pytest.mark.parametrize(("entry", "problem"), [
    (HelpEntry(keys=["agreement.id"], decides="x", requirements=["NO-SUCH-REQ"]),
     "requirement 'NO-SUCH-REQ' is not in requirements.yaml"),
    (HelpEntry(keys=["agreement.id"], decides="x", requirements=["CFR-200.10b"]),
     "requirement 'CFR-200.10b' is marked verified: false in requirements.yaml; cite a verified one"),
    (HelpEntry(keys=["agreement.id"], decides="x", rules=["certifications.mars"]),
     "rule 'certifications.mars' is not in jurisdictions.yaml"),
    (HelpEntry(keys=["agreement.title", "agreement.title"], decides="x"),
     "question 'agreement.title' is explained by an earlier entry too"),
])
def test_a_citation_the_library_cannot_back_is_a_problem(entry: HelpEntry, problem: str) -> None:
    _, problems = resolve_help(HelpFile(questions=[entry]), LIBRARY)
    assert len(problems) == 1 and problems[0].endswith(problem), problems
    assert problems[0].startswith("questionnaire_help.yaml: questions[1] (agreement.")


def test_a_source_no_sources_yaml_key_matches_is_a_problem() -> None:
    requirement = LIBRARY.requirements[0].model_copy(update={"id": "X-1", "source": "Some Unlisted Act s 3",
                                                            "verified": True})
    library = LIBRARY.model_copy(update={"requirements": [*LIBRARY.requirements, requirement]})
    _, problems = resolve_help(HelpFile(questions=[HelpEntry(keys=["agreement.id"], decides="x",
                                                             requirements=["X-1"])]), library)
    assert problems == ["questionnaire_help.yaml: questions[1] (agreement.id): X-1's source part 'Some Unlisted Act "
                        "s 3' matches no key of sources.yaml"]


def test_the_help_file_names_no_citation_as_prose() -> None:
    """Citations are ids into the library (one home); the texts say what the answer decides."""
    text = HELP_FILE.read_text(encoding="utf-8")
    decides = " ".join(e.decides for e in read_help_file(HELP_FILE).questions)
    for instrument in ("2001/83", "211.22", "Annex 16", "536/2014", "ICH Q7", "Part 11"):
        assert instrument not in decides
    assert re.search(r"requirements: \[EU-Dir2001-83-Art51", text)


def test_help_file_problems_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "questionnaire_help.yaml"
    bad.write_text("questions:\n  - keys: [agreement.id]\n", encoding="utf-8")
    from qa_builder.errors import LibraryError

    with pytest.raises(LibraryError, match=r"questionnaire_help.yaml: questions.0.decides: Field required"):
        read_help_file(bad)

"""Selection and assembly: the right clauses, positions and reasons; numbering; a deterministic digest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qa_builder.answers.load import load_answers
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.errors import AnswersError, LibraryError
from qa_builder.library.assemble import split_paragraphs
from qa_builder.library.context import build_context
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import Agreement
from qa_builder.sandbox.environment import TemplateProblem, compile_text, render_text
from tests.conftest import MINI_LIBRARY, answers_data, write_answers


def _agreement(tmp_path: Path, change: Any = None) -> Agreement:
    data = answers_data()
    if change:
        change(data)
    return prepare_agreement(load_answers(write_answers(tmp_path, data)), load_library(MINI_LIBRARY))


def _decision(agreement: Agreement, clause_id: str) -> str:
    return next(d.reason for d in agreement.decisions if d.clause_id == clause_id)


def test_clauses_selected_with_reasons(tmp_path: Path) -> None:
    agreement = _agreement(tmp_path)
    included = [c.clause_id for s in agreement.sections for c in s.clauses]
    assert included == ["scope", "audits", "release"]
    assert _decision(agreement, "eu_only") == "left out: condition 'facts.has_eu' is false for these answers"
    assert _decision(agreement, "draft_clause") == "left out: status is draft"
    assert "effective only from 2099-01-01" in _decision(agreement, "future_clause")
    assert _decision(agreement, "scope") == "included: always applies"


def test_condition_brings_clause_in(tmp_path: Path) -> None:
    agreement = _agreement(tmp_path, lambda d: d["products"][0].update(markets=["US", "EU"]))
    assert [c.clause_id for c in agreement.sections[0].clauses] == ["scope", "eu_only", "audits"]
    assert agreement.sections[0].clauses[1].number == "1.2"


def test_positions_from_answers_expression_and_default(tmp_path: Path) -> None:
    agreement = _agreement(tmp_path)
    release = agreement.sections[1].clauses[0]
    assert release.position == "sponsor_release"
    assert release.paragraphs[0].text == "The Sponsor releases."
    assert agreement.sections[0].clauses[1].position == "preferred"
    chosen = _agreement(tmp_path, lambda d: d.update(positions={"audits": "fallback"}))
    assert chosen.sections[0].clauses[1].paragraphs[0].text == "The Sponsor may audit once a year."
    assert "position chosen in answers" in _decision(chosen, "audits")


def test_unknown_position_is_an_answers_error(tmp_path: Path) -> None:
    with pytest.raises(AnswersError, match=r"positions\.audits 'lenient' is not a position of that clause"):
        _agreement(tmp_path, lambda d: d.update(positions={"audits": "lenient"}))
    with pytest.raises(AnswersError, match=r"positions\.nothing names no clause"):
        _agreement(tmp_path, lambda d: d.update(positions={"nothing": "x"}))


def test_raci_overrides_and_conditions(tmp_path: Path) -> None:
    def override(data: dict[str, Any]) -> None:
        data["responsibilities"] = [{"activity": "manufacture", "sponsor": "C", "contract_acceptor": "RA",
                                     "notes": "Sponsor consulted on campaign planning."}]
    agreement = _agreement(tmp_path, override)
    rows = {r.activity_id: r for r in agreement.raci}
    assert "serialisation" not in rows
    assert rows["manufacture"].sponsor == "C" and rows["manufacture"].overridden
    assert rows["batch_release"].sponsor == "R/A"
    with pytest.raises(AnswersError, match=r"responsibilities\[0\]\.activity 'teleport' is not an activity"):
        _agreement(tmp_path, lambda d: d.update(responsibilities=[
            {"activity": "teleport", "sponsor": "A", "contract_acceptor": "R"}]))


def test_timelines_traceability_signatories_revisions(tmp_path: Path) -> None:
    agreement = _agreement(tmp_path)
    assert [(t.event, t.who, t.clock, t.trigger, t.clause_number) for t in agreement.timelines] == [
        ("Notice of a regulatory inspection", "Contract Acceptor", "within 24 hours", "", "1.2"),
        ("Notice of a Sponsor audit", "Sponsor", "at least 30 Business Days", "before the audit", "1.2")]
    trace = {t.requirement_id: t.clause_numbers for t in agreement.traceability}
    assert trace == {"REQ-SCOPE": ["1.1"], "REQ-AUDIT": ["1.2"], "REQ-RELEASE": ["2.1"]}
    assert [s.field_name for s in agreement.signatories] == ["sig_sponsor_1", "sig_contract_acceptor_1"]
    assert [(r.version, r.description) for r in agreement.revisions] == [(1, "First issue.")]
    no_clock = _agreement(tmp_path, lambda d: d.update(inspections={"notify_within_hours": None}))
    assert [t.event for t in no_clock.timelines] == ["Notice of a Sponsor audit"]


def test_model_digest_is_deterministic_and_sensitive(tmp_path: Path) -> None:
    first = _agreement(tmp_path)
    second = _agreement(tmp_path)
    assert first.model_digest == second.model_digest
    assert len(first.model_digest) == 64
    changed = _agreement(tmp_path, lambda d: d["agreement"].update(title="Another Title"))
    assert changed.model_digest != first.model_digest


def test_lettering_restarts_after_a_body_paragraph() -> None:
    paragraphs = split_paragraphs("Products:\n- p1\nSites:\n- s1\n- s2\n\n- s3")
    assert [(p.kind, p.label) for p in paragraphs] == [
        ("body", ""), ("item", "(a)"), ("body", ""), ("item", "(a)"), ("item", "(b)"), ("item", "(c)")]


def test_split_paragraphs() -> None:
    paragraphs = split_paragraphs("First line\ncontinues.\n\nIntro:\n- one\n- two\n\nAfter.")
    assert [(p.kind, p.label, p.text) for p in paragraphs] == [
        ("body", "", "First line continues."), ("body", "", "Intro:"), ("item", "(a)", "one"),
        ("item", "(b)", "two"), ("body", "", "After.")]


def test_clause_text_cannot_reach_python_internals(tmp_path: Path) -> None:
    import shutil

    lib = tmp_path / "lib"
    shutil.copytree(MINI_LIBRARY, lib)
    path = lib / "clauses" / "release.yaml"
    evil = "{{ sponsor.name.__class__.__mro__[1].__subclasses__() }}"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "sponsor_release: The Sponsor releases.", f"sponsor_release: '{evil}'"), encoding="utf-8")
    with pytest.raises(LibraryError, match=r"sponsor_release uses sponsor.name.__class__, but sponsor.name is a text"):
        load_library(lib)
    # and at render time, should a text ever get past the check
    with pytest.raises(TemplateProblem, match=r"stopped by the sandbox|not allowed"):
        answers = load_answers(write_answers(tmp_path, answers_data())).answers
        render_text(compile_text("{{ sponsor.name.upper.__self__ }}"), build_context(answers))

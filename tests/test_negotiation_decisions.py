"""Negotiation decisions: answer-value classification, answers edits, overrides that survive regeneration or stop
it three-way, the counter-proposal DOCX and the negotiation log; the whole round trip from the command line."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from qa_builder.answers.load import load_answers
from qa_builder.audit.store import AuditTrail
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.errors import AnswersError, InputError
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import Agreement
from qa_builder.negotiation.answers_edit import set_answer, set_answer_text
from qa_builder.negotiation.decisions import Override, load_negotiation
from qa_builder.negotiation.importer import analyse_returned, make_answer_finder
from qa_builder.negotiation.overrides import apply_overrides
from qa_builder.negotiation.returned import read_returned
from qa_builder.regenerate import build_new
from qa_builder.render.docx import default_template_path, render_docx
from qa_builder.workspace.layout import add_agreement, init_workspace, open_workspace
from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS, CliResult, run_cli
from tests.test_negotiate import CMO, Markup

ID = "QA-MIN-1"


@pytest.fixture(scope="module")
def minimal() -> Agreement:
    return prepare_agreement(load_answers(MINIMAL_ANSWERS), load_library(MINI_LIBRARY))


@pytest.fixture()
def sent(minimal: Agreement, tmp_path: Path) -> Path:
    out = tmp_path / "sent.docx"
    render_docx(minimal, default_template_path(), out)
    return out


def _change_number(m: Markup, starts: str, old: str, new: str) -> None:
    p = m.paragraph(starts)
    text = m.text(p)
    at = text.index(old)
    m.rewrite(p, [("same", text[:at]), ("del", old), ("ins", new), ("same", text[at + len(old):])])


# --- classification: another answer value ----------------------------------------------------------------------


def test_a_changed_notice_period_is_an_answer_value(minimal: Agreement, sent: Path, tmp_path: Path) -> None:
    m = Markup(sent)
    _change_number(m, "The Sponsor may audit", "30", "60")  # audits.notice_business_days
    m.comment(m.paragraph("The Sites are:"), "Is Osaka in scope?")  # scope: a comment only
    m.rewrite(m.paragraph("The Sponsor releases."),  # release follows release_model: an answer, not a position
              [("del", "The Sponsor releases."),
               ("ins", "The Contract Acceptor releases; the Sponsor performs secondary release.")])
    returned = m.save(tmp_path / "returned.docx")
    finder = make_answer_finder(load_library(MINI_LIBRARY), load_answers(MINIMAL_ANSWERS).answers)
    report = analyse_returned(read_returned(returned), read_returned(sent), minimal, {}, answer_finder=finder)
    found = {f.clause_id: f for f in report.clauses}
    audits, release = found["audits"], found["release"]
    assert found["scope"].classification == "comments_only" and found["scope"].detail == \
        "comments only; the text is as sent"
    assert (audits.classification, audits.answer_field, audits.answer_value, audits.answer_current) == (
        "answer_value", "audits.notice_business_days", 60, 30)
    assert audits.detail == "equals the clause with audits.notice_business_days = 60 (the answers say 30)"
    assert (release.classification, release.answer_field, release.answer_value) == (
        "answer_value", "release_model", "cmo_release_with_sponsor_secondary")
    # a value the answers do not allow (over the 120-day maximum) is not an answer change: non-standard text
    m = Markup(sent)
    _change_number(m, "The Sponsor may audit", "30", "400")
    report = analyse_returned(read_returned(m.save(tmp_path / "r2.docx")), read_returned(sent), minimal, {},
                              answer_finder=finder)
    assert [(f.clause_id, f.classification) for f in report.clauses] == [("audits", "non_standard")]


# --- editing the answers file ----------------------------------------------------------------------------------


def test_set_answer_keeps_comments_and_layout() -> None:
    text = MINIMAL_ANSWERS.read_text(encoding="utf-8")
    added = set_answer_text(text, ["audits", "notice_business_days"], 60)
    assert added.startswith(text.rstrip("\n")) and added.endswith("audits:\n  notice_business_days: 60\n")
    replaced = set_answer_text(added, ["audits", "notice_business_days"], 45)
    assert replaced == added.replace("notice_business_days: 60", "notice_business_days: 45")
    title = set_answer_text(text, ["agreement", "review_period_months"], 36)
    assert title == text.replace("review_period_months: 24", "review_period_months: 36")
    assert title.startswith("# The smallest valid answers file")  # the comment stays
    flow = set_answer_text(text, ["contract_acceptor", "quality_contact", "phone"], "+81 3 1234")
    assert yaml.safe_load(flow)["contract_acceptor"]["quality_contact"] == {
        "name": "山田太郎", "title": "QA Director", "email": "yamada@example.jp", "phone": "+81 3 1234"}
    position = set_answer_text(text, ["positions", "audits"], "fallback")
    assert position.endswith("positions:\n  audits: fallback\n")
    assert set_answer_text("a: 1\nb:\nc: 2\n", ["b", "x"], True) == "a: 1\nb: {x: true}\nc: 2\n"
    assert json.loads(set_answer_text('{"audits": {"for_cause": true}}', ["audits", "for_cause"], False)) == {
        "audits": {"for_cause": False}}


def test_set_answer_refuses_a_value_the_answers_do_not_allow(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    shutil.copy(MINIMAL_ANSWERS, path)
    before = path.read_bytes()
    with pytest.raises(AnswersError, match=r"audits\.notice_business_days = 400 is not allowed .*nothing was changed"):
        set_answer(path, ["audits", "notice_business_days"], 400)
    assert path.read_bytes() == before
    set_answer(path, ["audits", "notice_business_days"], 90)
    assert load_answers(path).answers.audits.notice_business_days == 90


# --- overrides -------------------------------------------------------------------------------------------------


def _override(minimal: Agreement, clause_id: str, text: str) -> Override:
    clause = next(c for s in minimal.sections for c in s.clauses if c.clause_id == clause_id)
    base = "\n".join(f"{p.label}\t{p.text}" if p.label else p.text for p in clause.paragraphs)
    return Override(clause_id=clause_id, text=text, base_text=base, base_version=clause.version,
                    approved_by="Anna Müller", reason="agreed in the call", decided_at="2026-05-01T10:00:00Z",
                    agreement_version=1)


def test_an_override_is_data_never_a_template(minimal: Agreement) -> None:
    text = "The Sponsor may audit {{ sponsor.name }} twice a year.\n\n- {% for x in range(9**9) %}x{% endfor %}"
    applied, states = apply_overrides(minimal, {"audits": _override(minimal, "audits", text)})
    [state] = states
    assert state.state == "applied"
    audits = next(c for s in applied.sections for c in s.clauses if c.clause_id == "audits")
    assert [(p.label, p.text) for p in audits.paragraphs] == [
        ("", "The Sponsor may audit {{ sponsor.name }} twice a year."),
        ("(a)", "{% for x in range(9**9) %}x{% endfor %}")]
    assert applied.model_digest != minimal.model_digest == minimal.with_digest().model_digest


def test_an_override_against_changed_library_text_is_a_conflict_not_a_drop(minimal: Agreement) -> None:
    override = _override(minimal, "audits", "The Sponsor may audit twice a year.")
    moved = override.model_copy(update={"base_text": override.base_text.replace("30", "20")})
    applied, [state] = apply_overrides(minimal, {"audits": moved})
    assert state.state == "conflict" and applied.sections == minimal.sections  # not applied, and not lost
    assert state.override == "The Sponsor may audit twice a year." and "30 Business Days" in state.new
    gone = override.model_copy(update={"clause_id": "eu_only"})
    _, [state] = apply_overrides(minimal, {"eu_only": gone})
    assert state.state == "clause_gone"


def test_an_override_with_control_characters_is_refused(minimal: Agreement) -> None:
    with pytest.raises(ValueError, match="text"):
        _override(minimal, "audits", "Audit\x0cnow")


def test_an_override_makes_few_paragraphs_and_says_why_it_is_refused_in_words(minimal: Agreement) -> None:
    """Session 7 attack: a 99,000-character override of 14,000 '- ' items built a 12,518-paragraph version (the
    agreement's clauses may make 10,000) in 12.7 s and 722 MB; one that could not be kept was refused with
    "(For further information visit https://errors.pydantic.dev/2.14/v/string_too_long)"."""
    from pydantic import ValidationError

    from qa_builder.negotiation.decide import _problem
    from qa_builder.negotiation.decisions import MAX_OVERRIDE_PARAGRAPHS, MAX_TEXT

    _override(minimal, "audits", "\n\n".join(f"- p{n}" for n in range(MAX_OVERRIDE_PARAGRAPHS)))
    with pytest.raises(ValidationError) as many:
        _override(minimal, "audits", "\n\n".join(f"- {n % 10}" for n in range(14_000)))
    assert _problem(many.value) == "the text: makes 14,000 paragraphs; an override of one clause makes at most 500"
    with pytest.raises(ValidationError) as long:
        _override(minimal, "audits", "x" * (MAX_TEXT + 1))
    assert _problem(long.value) == "the text: String should have at most 100000 characters"
    override = _override(minimal, "audits", "ok")
    long_base = override.model_dump() | {"base_text": "(a)\t" + "x" * MAX_TEXT}  # an earlier override's items
    assert Override.model_validate(long_base).base_text == long_base["base_text"]


def test_overrides_never_make_an_agreement_past_its_bounds(minimal: Agreement,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from qa_builder.negotiation import overrides

    many = {c.clause_id: _override(minimal, c.clause_id, "\n\n".join(f"- p{n}" for n in range(400)))
            for s in minimal.sections for c in s.clauses}
    applied, _ = apply_overrides(minimal, many)
    total = sum(len(c.paragraphs) for s in applied.sections for c in s.clauses)
    monkeypatch.setattr(overrides, "MAX_CLAUSE_PARAGRAPHS", total - 1)
    with pytest.raises(InputError, match=rf"^agreement {ID}: with its negotiated overrides its clauses would make "
                                         f"{total:,} paragraphs"):
        apply_overrides(minimal, many)


# --- the round trip on a workspace, from the command line ------------------------------------------------------


def _cli(*args: str) -> CliResult:
    """The command in this process (Click's runner): its real exit code, stdout and stderr, without ~1 s of
    interpreter start-up per call. The entry point itself is tested in test_cli.py."""
    return run_cli(*args)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, converter: Any) -> Path:
    root = tmp_path_factory.mktemp("negotiation") / "ws"
    opened = init_workspace(root)
    shutil.rmtree(opened.library_dir)
    shutil.copytree(MINI_LIBRARY, opened.library_dir)
    add_agreement(opened, MINIMAL_ANSWERS)
    built, failed = build_new(opened, jobs=1, converter=converter)  # the session's warm LibreOffice pool
    assert not failed and len(built) == 1
    return root


@pytest.mark.libreoffice
def test_the_negotiation_round_trip(workspace: Path, tmp_path: Path) -> None:
    v1 = workspace / "agreements" / ID / "v1" / f"{ID}_v1.docx"
    m = Markup(v1)
    _change_number(m, "The Sponsor may audit", "30", "60")
    scope = m.paragraph("This Agreement between")
    text = m.text(scope)
    m.rewrite(scope, [("same", text[:text.index("covers")]), ("del", "covers"), ("ins", "governs"),
                      ("same", text[text.index("covers") + len("covers"):])])
    m.comment(scope, "Please use 'governs'.")
    m.bold(m.paragraph("The Sponsor releases."))
    returned = m.save(tmp_path / "returned by the CMO.docx")

    imported = _cli("negotiate", "import", str(workspace), ID, str(returned))
    assert imported.returncode == 0, imported.stderr
    assert ("  1.2 Audits [audits]: another answer value — equals the clause with audits.notice_business_days = 60 "
            "(the answers say 30)") in imported.stdout.splitlines()

    status = _cli("negotiate", "status", str(workspace), ID)
    assert status.returncode == 1, status.stderr  # points are open
    lines = status.stdout.splitlines()
    assert lines[0] == f"{ID} version 1, v1-import-1.json (returned by the CMO.docx): 3 point(s), 3 open"
    assert "  [OPEN] 1.1 Scope [scope]: non-standard text — text that is not in the clause library" in lines
    assert f"      comment by {CMO}: Please use 'governs'." in lines
    assert f"      insertion by {CMO} 2026-04-02T09:15:00Z “governs”" in lines

    forged = _cli("negotiate", "counter", str(workspace), ID, "audits", "--answer", "audits.notice_business_days=45",
                  "--by", "Anna Müller", "--reason", "meet halfway\u202e; 45 days")
    assert forged.returncode == 2 and len(forged.stderr.splitlines()) == 1, forged.stderr  # a reordering override
    assert "--reason" in forged.stderr and "U+202E" in forged.stderr and "internal error" not in forged.stderr
    counter = _cli("negotiate", "counter", str(workspace), ID, "audits", "--answer", "audits.notice_business_days=45",
                   "--by", "Anna Müller", "--reason", "meet halfway; 45 days")
    assert counter.returncode == 0, counter.stderr
    assert counter.stdout.startswith(f"{ID} audits: countered by Anna Müller (answers: "
                                     "audits.notice_business_days = 45)")
    accept = _cli("negotiate", "accept", str(workspace), ID, "scope", "--by", "Anna Müller", "--reason", "wording")
    assert accept.returncode == 0, accept.stderr
    again = _cli("negotiate", "accept", str(workspace), ID, "scope", "--by", "X", "--reason", "again")
    assert again.returncode == 2 and "already decided" in again.stderr and len(again.stderr.splitlines()) == 1
    unknown = _cli("negotiate", "reject", str(workspace), ID, "nonsense", "--by", "X", "--reason", "y")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (f"error: agreement {ID}: v1-import-1.json has no point on clause 'nonsense' "
                                      "(its points: scope, audits, release)")
    assert _cli("negotiate", "reject", str(workspace), ID, "release", "--by", "Anna Müller",
                "--reason", "house style").returncode == 0
    assert _cli("negotiate", "status", str(workspace), ID).returncode == 0  # nothing open
    twice = _cli("negotiate", "import", str(workspace), ID, str(returned))  # the same file again, by mistake
    assert twice.returncode == 0 and twice.stdout.startswith(
        "returned by the CMO.docx: already imported as v1-import-1.json; that report and its decisions stand")
    assert not (workspace / "agreements" / ID / "negotiation" / "v1-import-2.json").exists()
    assert _cli("negotiate", "status", str(workspace), ID).returncode == 0  # still nothing open

    # the answers file is the source of truth: the counter value is in it, its comment line is kept
    answers = workspace / "agreements" / ID / "answers.yaml"
    assert load_answers(answers).answers.audits.notice_business_days == 45
    assert answers.read_text(encoding="utf-8").startswith("# The smallest valid answers file")
    negotiation = load_negotiation(open_workspace(workspace), ID)
    override = negotiation.overrides["scope"]
    assert (override.approved_by, override.reason) == ("Anna Müller", "wording")
    assert "governs" in override.text and "covers" in override.base_text
    assert [(d.clause_id, d.verdict, d.effect) for d in negotiation.decisions] == [
        ("audits", "counter", "answer"), ("scope", "accept", "override"), ("release", "reject", "none")]

    events = AuditTrail(workspace).events(ID)
    decisions = [e for e in events if e.action == "negotiate_decision" and e.outcome == "ok"]
    refused = [e for e in events if e.action == "negotiate_decision" and e.outcome == "failed"]
    assert [e.details["clause"] for e in refused] == ["audits", "scope", "nonsense"]  # the refused attempts too
    assert "U+202E" in str(refused[0].details["error"]) and "\u202e" not in str(refused[0].details["error"])
    assert str(refused[1].details["error"]).startswith(
        f"agreement {ID}: clause scope of v1-import-1.json is already decided")
    assert [e.details["clause"] for e in decisions] == ["audits", "scope", "release"]
    assert decisions[0].details["reason"] == "meet halfway; 45 days"
    assert any(e.action == "negotiate_import" and e.details["report"] == "v1-import-1.json" for e in events)

    early = _cli("negotiate", "proposal", str(workspace), ID)  # the decisions are not in a version yet
    assert early.returncode == 2 and "version 1 does not hold every decision" in early.stderr
    regenerated = _cli("regenerate", str(workspace))
    assert regenerated.returncode == 0, regenerated.stderr
    v2 = workspace / "agreements" / ID / "v2"
    model = Agreement.model_validate_json((v2 / f"{ID}_v2.agreement.json").read_text(encoding="utf-8"))
    clauses = {c.clause_id: c for s in model.sections for c in s.clauses}
    assert "governs" in clauses["scope"].paragraphs[0].text
    assert "45 Business Days" in clauses["audits"].paragraphs[0].text

    # the counter-proposal: our changes against the text the CMO proposed, and nothing where we accepted
    proposal = read_returned(v2 / f"{ID}_v2.counter.docx")
    texts = {(c.kind, c.text) for c in proposal.changes}
    assert ("deletion", "60") in texts and ("insertion", "45") in texts
    assert not any("govern" in c.text or "covers" in c.text for c in proposal.changes)
    sponsor = model.sponsor.name
    assert {c.author for c in proposal.changes} == {sponsor}
    answer = _cli("negotiate", "proposal", str(workspace), ID, "-o", str(tmp_path / "answer.docx"))
    assert answer.returncode == 0, answer.stderr
    assert {(c.kind, c.text) for c in read_returned(tmp_path / "answer.docx").changes} == texts
    wrong = _cli("negotiate", "import", str(workspace), ID, str(v2 / f"{ID}_v2.counter.docx"))
    assert wrong.returncode == 2 and len(wrong.stderr.splitlines()) == 1
    assert "is a comparison document" in wrong.stderr and f"mark up {ID}_v2.docx and import that" in wrong.stderr
    record = json.loads((v2 / f"{ID}_v2.build.json").read_text(encoding="utf-8"))
    assert {"redline", "counter-proposal"} <= {a["role"] for a in record["artefacts"]}

    log = _cli("negotiate", "log", str(workspace), ID, "--format", "docx", "-o", str(tmp_path / "log.docx"))
    assert log.returncode == 0, log.stderr
    with zipfile.ZipFile(tmp_path / "log.docx") as package:
        body = re.sub(r"<[^>]+>", " ", package.read("word/document.xml").decode("utf-8"))
    for expected in ("1.1 Scope", "accepted", "countered", "rejected", "answer audits.notice_business_days set to 45",
                     "Please use 'governs'.", "Anna Müller", "meet halfway; 45 days"):
        assert expected in body.replace("&apos;", "'"), expected
    pdf = _cli("negotiate", "log", str(workspace), ID, "--format", "pdf", "-o", str(tmp_path / "log.pdf"))
    assert pdf.returncode == 0, pdf.stderr
    assert (tmp_path / "log.pdf").read_bytes().startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", str(tmp_path / "log.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Negotiation log" in text and "countered" in text

    # a new library version of the overridden clause with the same text: the override is kept, and impact says so
    clauses_file = open_workspace(workspace).library_dir / "clauses" / "general.yaml"
    source = clauses_file.read_text(encoding="utf-8")
    bumped = source.replace("    version: 2\n", "    version: 3\n", 1)
    clauses_file.write_text(bumped, encoding="utf-8")
    impact = _cli("impact", str(workspace))
    assert impact.returncode == 1
    assert "  1.1 Scope: negotiated override kept (the clause text it replaced did not change)" in impact.stdout
    assert _cli("regenerate", str(workspace)).returncode == 0
    v3 = Agreement.model_validate_json((workspace / "agreements" / ID / "v3" / f"{ID}_v3.agreement.json").read_text(
        encoding="utf-8"))
    scope_v3 = next(c for s in v3.sections for c in s.clauses if c.clause_id == "scope")
    assert scope_v3.version == 3 and scope_v3.paragraphs == clauses["scope"].paragraphs  # the override, kept

    # the scope text itself changes: the agreement stops, three-way, and nothing is built or dropped
    clauses_file.write_text(bumped.replace("covers\n", "covers, in full,\n", 1), encoding="utf-8")
    impact = _cli("impact", str(workspace))
    assert impact.returncode == 1
    assert "  1.1 Scope [scope]: three-way conflict" in impact.stderr
    # a conflict is not a failure to analyse, and impact builds nothing ("not built" was the first line's word)
    assert impact.stderr.splitlines()[-1] == ("0 affected, 0 unchanged, 1 stopped by a negotiated override conflict, "
                                              "0 could not be analysed"), impact.stderr
    assert "so no new version is built until someone decides" in impact.stderr.splitlines()[0]
    library_line = next(line for line in impact.stderr.splitlines() if line.startswith("    old clause → new clause: "))
    override_line = next(line for line in impact.stderr.splitlines() if line.startswith("    old clause → override: "))
    assert "in full,+}" in library_line and "governs" not in library_line
    assert "[-covers-]{+governs+}" in override_line and "in full" not in override_line
    stopped = _cli("regenerate", str(workspace))
    assert stopped.returncode == 1 and "the library text under the override of 1.1 Scope [scope] changed" in \
        stopped.stderr
    assert not (workspace / "agreements" / ID / "v4").exists()
    assert "scope" in load_negotiation(open_workspace(workspace), ID).overrides
    status = _cli("negotiate", "status", str(workspace), ID)
    assert status.returncode == 1 and "  scope: CONFLICT; approved by Anna Müller" in status.stdout
    kept = _cli("negotiate", "keep-override", str(workspace), ID, "scope", "--by", "Anna Müller",
                "--reason", "our agreed wording stands")
    assert kept.returncode == 0, kept.stderr
    impact = _cli("impact", str(workspace))  # the override over the new text gives the agreement as it was built
    assert impact.returncode == 0 and impact.stderr.strip() == "0 affected, 1 unchanged, 0 could not be analysed"
    assert "  scope: applied; approved by Anna Müller" in _cli("negotiate", "status", str(workspace), ID).stdout


def test_a_damaged_decisions_file_is_one_line(tmp_path: Path) -> None:
    opened = init_workspace(tmp_path / "ws")
    path = opened.agreement_dir(ID) / "negotiation" / "decisions.json"
    path.parent.mkdir(parents=True)
    for content, problem in (("{", "is not a readable decisions file"),
                             ("[" * 100_000, "is not a readable decisions file"),
                             (json.dumps({"agreement_id": ID, "decisions": [], "overrides": {}, "extra": 1}),
                              "extra: Extra inputs are not permitted"),
                             (json.dumps({"agreement_id": "QA-OTHER"}), "holds the decisions of agreement QA-OTHER")):
        path.write_text(content, encoding="utf-8")
        with pytest.raises(InputError, match=re.escape(problem)) as caught:
            load_negotiation(opened, ID)
        assert "\n" not in str(caught.value)
    path.write_bytes(b" " * (4 * 1024 * 1024 + 1))
    with pytest.raises(InputError, match="is not a readable decisions file"):
        load_negotiation(opened, ID)


def test_accepting_a_deletion_never_leaves_a_requirement_without_a_clause() -> None:
    from qa_builder.negotiation.decide import _accepted
    from qa_builder.negotiation.importer import ClauseFinding

    minimal_model = prepare_agreement(load_answers(MINIMAL_ANSWERS), load_library(MINI_LIBRARY))
    lost = ClauseFinding("release", "2.1", "Batch Release", "deletes_clause", "", [], lost_requirements=["REQ-RELEASE"])
    with pytest.raises(InputError, match=r"^clause 2\.1 Batch Release: accepting its deletion would leave REQ-RELEASE "
                                         "without a clause; reject it, or counter"):
        _accepted(lost, minimal_model)
    covered = ClauseFinding("release", "2.1", "Batch Release", "deletes_clause", "", [])
    proposal = _accepted(covered, minimal_model)
    assert proposal is not None and proposal.text == "[Intentionally omitted.]"
    formatting = ClauseFinding("release", "2.1", "Batch Release", "formatting_only", "", [])
    assert _accepted(formatting, minimal_model) is None


@pytest.mark.parametrize(("args", "message"), [
    (["--text", "x", "--position", "fallback"], "counter: give exactly one of --text, --text-file, --position"),
    (["--answer", "audits.notice_business_days"], "--answer 'audits.notice_business_days': write FIELD=VALUE"),
    (["--answer", "audits.colour=red"], "'audits.colour' is not an answer that takes one value"),
    (["--answer", "sponsor=x"], "'sponsor' is not an answer that takes one value"),
    (["--text-file", "/nonexistent/ours.txt"], "/nonexistent/ours.txt: cannot be read as UTF-8 text"),
])
def test_a_bad_counter_is_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = _cli("negotiate", "counter", str(tmp_path), ID, "audits", "--by", "A", "--reason", "r", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {message}") and len(result.stderr.splitlines()) == 1, result.stderr


def test_re_rendering_is_bounded_per_returned_file(minimal: Agreement) -> None:
    from qa_builder.negotiation.rerender import RenderBudget, find_answer_change

    library = load_library(MINI_LIBRARY)
    answers = load_answers(MINIMAL_ANSWERS).answers
    audits = next(c for c in library.clauses if c.id == "audits")
    sent = next(c for s in minimal.sections for c in s.clauses if c.clause_id == "audits")
    proposed = [sent.paragraphs[0].text.replace("30 Business Days", "60 Business Days")]
    budget = RenderBudget(left=50)
    found = find_answer_change(audits, "preferred", answers, library, proposed, budget)
    assert found is not None and (found.field, found.value) == ("audits.notice_business_days", 60)
    assert 0 < budget.left < 50
    assert find_answer_change(audits, "preferred", answers, library, proposed, RenderBudget(left=0)) is None


@pytest.mark.libreoffice
def test_the_log_takes_its_format_from_the_file_name(tmp_path: Path) -> None:
    """`negotiate log -o log.pdf` wrote a DOCX named log.pdf (the format defaulted to docx whatever the name)."""
    root = tmp_path / "ws"
    init_workspace(root)
    add_agreement(open_workspace(root), MINIMAL_ANSWERS)
    pdf = _cli("negotiate", "log", str(root), ID, "-o", str(tmp_path / "log.pdf"))
    assert pdf.returncode == 0, pdf.stderr
    assert (tmp_path / "log.pdf").read_bytes().startswith(b"%PDF-")
    mismatch = _cli("negotiate", "log", str(root), ID, "--format", "docx", "-o", str(tmp_path / "other.pdf"))
    assert mismatch.returncode == 2 and len(mismatch.stderr.splitlines()) == 1, mismatch.stderr
    assert "--format docx would write a DOCX file named .pdf" in mismatch.stderr
    assert not (tmp_path / "other.pdf").exists()
    default = _cli("negotiate", "log", str(root), ID)
    assert default.returncode == 0 and default.stdout.strip().endswith("-negotiation-log.docx"), default.stdout

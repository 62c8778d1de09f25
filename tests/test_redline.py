"""Redline DOCX: the comparison summary, and tracked changes that accept to the new text and reject to the old."""

from __future__ import annotations

import datetime as dt
import random
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docx
import pytest
from lxml import etree

from qa_builder.answers.load import load_answers
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.errors import RenderError
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import (
    AffiliatePartyBlock,
    Agreement,
    AgreementClause,
    ClauseParagraph,
    PartyBlock,
    RevisionRow,
    TimelineRow,
)
from qa_builder.redline import (
    RACI_HEADING,
    SELECTION_HEADING,
    TEXT_HEADING,
    ClauseChange,
    compare_agreements,
    write_redline,
)
from qa_builder.redline import writer as redline_writer
from qa_builder.regenerate import build_new, regenerate
from qa_builder.workspace.layout import add_agreement, init_workspace
from tests.conftest import DEMO_EXAMPLE, MINI_LIBRARY, MINIMAL_ANSWERS, answers_data, write_answers

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
WHEN = dt.datetime(2026, 3, 12, 10, 30, tzinfo=dt.UTC)


def w(tag: str) -> str:
    return f"{{{W}}}{tag}"


# --- agreements --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def old() -> Agreement:
    """The minimal agreement: 1 [scope, audits], 2 [release]; two RACI rows."""
    return prepare_agreement(load_answers(MINIMAL_ANSWERS), load_library(MINI_LIBRARY))


@pytest.fixture(scope="module")
def demo() -> Agreement:
    """The full demo agreement (36 clauses, 51 RACI rows)."""
    return prepare_agreement(load_answers(DEMO_EXAMPLE), load_library())


def _clause(agreement: Agreement, clause_id: str) -> AgreementClause:
    return next(c for s in agreement.sections for c in s.clauses if c.clause_id == clause_id)


def _new_clause(clause_id: str, title: str, *texts: str) -> AgreementClause:
    paragraphs = [ClauseParagraph(kind="body", text=t) for t in texts]
    return AgreementClause(number="", clause_id=clause_id, version=1, position=None, title=title,
                           paragraphs=paragraphs, references=[])


def _version_2(agreement: Agreement, layout: list[list[AgreementClause]], **update: Any) -> Agreement:
    """`agreement` as version 2 with these clauses per section (sections dropped from the end), renumbered."""
    sections = [
        section.model_copy(update={"clauses": [c.model_copy(update={"number": f"{section.number}.{i}"})
                                               for i, c in enumerate(clauses, 1)]})
        for section, clauses in zip(agreement.sections, layout, strict=False)
    ]
    return agreement.model_copy(update={"version": 2, "sections": sections, **update})


def _edited(old: Agreement) -> Agreement:
    """Definitions added before scope, scope's words changed and an item added, audits removed, release at a new
    clause version, complaints added; one RACI cell changed and one row added."""
    scope = _clause(old, "scope")
    scope_paragraphs = list(scope.paragraphs)
    scope_paragraphs[0] = scope_paragraphs[0].model_copy(
        update={"text": scope_paragraphs[0].text.replace("covers", "governs the manufacture of")})
    scope_paragraphs.append(ClauseParagraph(kind="item", label="(b)", text="Osaka Plant, 4-5-6 Kita, Osaka"))
    release = _clause(old, "release").model_copy(update={"version": 2, "paragraphs": [
        ClauseParagraph(kind="body", text="The Sponsor's Qualified Person releases each Batch.")]})
    raci = [old.raci[0].model_copy(update={"contract_acceptor": "I"}), old.raci[1],
            old.raci[1].model_copy(update={"activity_id": "stability", "activity": "Run stability studies",
                                           "sponsor": "A", "contract_acceptor": "R"})]
    layout = [
        [_new_clause("definitions", "Definitions", "Capitalised terms have the meanings below."),
         scope.model_copy(update={"paragraphs": scope_paragraphs})],
        [release, _new_clause("complaints", "Complaints", "Each party shall forward complaints within 2 days.")],
    ]
    return _version_2(old, layout, raci=raci)


def _moved(old: Agreement) -> Agreement:
    """Audits moved from section 1 to the end of section 2."""
    return _version_2(old, [[_clause(old, "scope")], [_clause(old, "release"), _clause(old, "audits")]])


def _section_dropped(old: Agreement) -> Agreement:
    """Section 2 removed with its only clause."""
    return _version_2(old, [[_clause(old, "scope"), _clause(old, "audits")]])


def _shuffled(demo: Agreement, seed: int) -> Agreement:
    """Random edits on the demo: words swapped, paragraphs dropped and added, clauses dropped, RACI cells changed."""
    rng = random.Random(seed)
    layout = []
    for section in demo.sections:
        clauses = [_mangled(c, rng) for c in section.clauses if rng.random() > 0.15]
        if rng.random() < 0.2:
            clauses.insert(rng.randrange(len(clauses) + 1), _new_clause(f"new{seed}_{section.number}", "Added",
                                                                          "A wholly new clause."))
        layout.append(clauses)
    raci = [r.model_copy(update={"sponsor": rng.choice(["R", "A", "C", "I"])}) if rng.random() < 0.2 else r
            for r in demo.raci if rng.random() > 0.1]
    return _version_2(demo, layout, raci=raci)


def _mangled(clause: AgreementClause, rng: random.Random) -> AgreementClause:
    paragraphs = []
    for paragraph in clause.paragraphs:
        roll = rng.random()
        if roll < 0.1:
            continue
        if roll < 0.3:
            words = paragraph.text.split(" ")
            words[rng.randrange(len(words))] = rng.choice(["shall", "may", "must not", "forthwith,"])
            paragraph = paragraph.model_copy(update={"text": " ".join(words)})
        paragraphs.append(paragraph)
        if rng.random() < 0.05:
            paragraphs.append(ClauseParagraph(kind="item", label="(z)", text="An inserted item."))
    return clause.model_copy(update={"paragraphs": paragraphs})


# --- reading the DOCX back ---------------------------------------------------------------------------------------


def _document_xml(path: Path) -> Any:
    with zipfile.ZipFile(path) as package:
        return etree.fromstring(package.read("word/document.xml"))


def _text(element: Any) -> str:
    parts = []
    for node in element.iter(w("t"), w("delText"), w("tab"), w("br")):
        parts.append({w("tab"): "\t", w("br"): "\n"}.get(node.tag, node.text or ""))
    return "".join(parts)


def _resolve(path: Path, *, accept: bool) -> tuple[list[str], list[list[list[str]]]]:
    """Accept (or reject) every revision; return the body paragraphs' text and each table's rows' cell texts."""
    body = _document_xml(path).find(w("body"))
    drop, keep = ("del", "ins") if accept else ("ins", "del")
    for row in list(body.iter(w("tr"))):
        if row.find(f"{w('trPr')}/{w(drop)}") is not None:
            row.getparent().remove(row)
    for wrapper in list(body.iter(w(drop), w(keep))):
        parent = wrapper.getparent()
        if parent.tag != w("p"):
            continue  # a paragraph-mark or row revision, handled separately
        if wrapper.tag == w(keep):
            for child in wrapper:
                wrapper.addprevious(child)
        parent.remove(wrapper)
    lines, carry = [], ""
    for paragraph in body.findall(w("p")):
        text = carry + _text(paragraph)
        joined = paragraph.find(f"{w('pPr')}/{w('rPr')}/{w(drop)}") is not None
        carry = text if joined else ""
        if not joined:
            lines.append(text)
    assert carry == "", "a removed paragraph mark must never be the last one"
    tables = [[[_text(cell) for cell in row.findall(w("tc"))] for row in table.iter(w("tr"))]
              for table in body.findall(w("tbl"))]
    return lines, tables


def _agreement_text(lines: list[str]) -> list[str]:
    return lines[lines.index(TEXT_HEADING) + 1:lines.index(RACI_HEADING)]


def _expected_text(agreement: Agreement) -> list[str]:
    lines = []
    for section in agreement.sections:
        lines.append(f"{section.number}.\t{section.title.upper()}")
        for clause in section.clauses:
            lines.append(f"{clause.number}\t{clause.title}")
            lines.extend(f"{p.label}\t{p.text}" if p.label else p.text for p in clause.paragraphs)
    return lines


def _party(party: PartyBlock) -> str:
    role = {"sponsor": "Sponsor", "contract_acceptor": "Contract acceptor"}[party.role]
    return (f"{party.name} (the “{party.defined_term}”; {role})\n{party.address}, {party.country}\nQuality contact: "
            f"{party.quality_contact_name}, {party.quality_contact_title}, {party.quality_contact_email}")


def _expected_rows(a: Agreement) -> list[list[list[str]]]:
    """Every table of the redline, in order: cover, annexes A-C (with C's sources), signature blocks, revision
    history, selection."""
    cover = [["Field", "Value"], ["Title", a.title], ["Agreement ID", a.id], ["Version", str(a.version)],
             ["Effective date", a.effective_date.isoformat()], ["Review period", f"{a.review_period_months} months"],
             ["Sponsor", _party(a.sponsor)], ["Contract acceptor", _party(a.contract_acceptor)],
             ["Products", "; ".join(a.products)], ["Markets", ", ".join(a.markets)],
             ["Clause library", f"{a.library_name}, version {a.library_version}"]]
    raci = [["No.", "Area", "Activity", "Sponsor", "Contract acceptor", "Notes"]] + [
        [f"{r.number}{'*' if r.overridden else ''}", r.area, r.activity, r.sponsor, r.contract_acceptor, r.notes]
        for r in a.raci]
    timelines = [["Obligation", "Who", "Time limit", "Clock", "Trigger", "Clause"]] + [
        [t.event, t.who, t.deadline, t.clock, t.trigger or "–", t.clause_number] for t in a.timelines]
    trace = [["Requirement", "Summary", "Source", "Citation", "Clauses"]] + [
        [t.requirement_id, t.summary, t.source, t.citation, ", ".join(t.clause_numbers) or "–"]
        for t in a.traceability]
    sources = [["Key", "Source"]] + [[s.key, s.citation] for s in a.sources]
    signatures = [["Field", "Party", "Name", "Title", "E-mail", "Meaning"]] + [
        [s.field_name, f"{s.party_name} ({'Sponsor' if s.party == 'sponsor' else 'Contract acceptor'})", s.name,
         s.title, s.email, s.meaning] for s in a.signatories]
    history = [["Version", "Date", "Description of change"]] + [
        [str(r.version), r.date.isoformat(), r.description] for r in a.revisions]
    selection = [["Clause", "Version", "Included", "Position", "Reason"]] + [
        [d.clause_id, str(d.version), "yes" if d.included else "no", d.position or "–", d.reason]
        for d in a.decisions]
    return [cover, raci, timelines, trace, sources, signatures, history, selection]


# --- comparison --------------------------------------------------------------------------------------------------


def test_identical_agreements_have_no_changes(old: Agreement, demo: Agreement) -> None:
    for agreement in (old, demo):
        summary = compare_agreements(agreement, agreement.model_copy(deep=True))
        assert summary.clause_changes == () and summary.other_changes == ()
        assert (summary.agreement_id, summary.old_version, summary.new_version) == (agreement.id, 1, 1)


def test_crafted_pair_reports_exact_clause_changes(old: Agreement) -> None:
    summary = compare_agreements(old, _edited(old))
    scope, audits, release = (_clause(old, cid) for cid in ("scope", "audits", "release"))
    assert summary.clause_changes == (
        ClauseChange("definitions", "1.1", "Definitions", "added", None, 1),
        ClauseChange("scope", "1.2", scope.title, "new_text", scope.version, scope.version),
        ClauseChange("audits", "1.2", audits.title, "removed", audits.version, None),
        ClauseChange("release", "2.1", release.title, "new_version", 1, 2),
        ClauseChange("complaints", "2.2", "Complaints", "added", None, 1),
    )
    assert summary.other_changes == ("Clause numbering changed for 1 clause",
                                     "Responsibilities matrix: 1 row added, 1 row changed")
    assert (summary.old_version, summary.new_version) == (1, 2)


def test_move_and_section_removal(old: Agreement) -> None:
    audits = _clause(old, "audits")
    moved = compare_agreements(old, _moved(old))
    assert moved.clause_changes == (ClauseChange("audits", "2.2", audits.title, "moved", 1, 1),)
    assert moved.other_changes == ()
    dropped = compare_agreements(old, _section_dropped(old))
    assert [(c.clause_id, c.kind, c.number) for c in dropped.clause_changes] == [("release", "removed", "2.1")]
    assert dropped.other_changes == (f"Section 2 ({old.sections[1].title}) removed",)


def test_other_changes_are_plain_sentences(old: Agreement) -> None:
    sponsor = old.sponsor.model_copy(update={"name": "Other GmbH"})
    new = old.model_copy(update={"title": "Renamed", "sponsor": sponsor, "raci": old.raci[:1],
                                 "effective_date": dt.date(2027, 1, 1)})
    assert compare_agreements(old, new).other_changes == (
        "Title changed", "Effective date changed from 2026-06-01 to 2027-01-01", "Sponsor details changed",
        "Responsibilities matrix: 1 row removed")


# --- the DOCX ----------------------------------------------------------------------------------------------------


EDITS: dict[str, Callable[[Agreement], Agreement]] = {"edited": _edited, "moved": _moved,
                                                       "section_dropped": _section_dropped}


@pytest.mark.parametrize("edit", EDITS)
def test_accept_all_gives_new_text_and_reject_all_gives_old(old: Agreement, edit: str, tmp_path: Path) -> None:
    new = EDITS[edit](old)
    out = tmp_path / "redline.docx"
    write_redline(old, new, out, when=WHEN)
    accepted, accepted_rows = _resolve(out, accept=True)
    rejected, rejected_rows = _resolve(out, accept=False)
    assert _agreement_text(accepted) == _expected_text(new)
    assert _agreement_text(rejected) == _expected_text(old)
    assert accepted_rows == _expected_rows(new)
    assert rejected_rows == _expected_rows(old)


@pytest.mark.parametrize("seed", range(4))
def test_accept_and_reject_on_random_edits_of_the_demo(demo: Agreement, seed: int, tmp_path: Path) -> None:
    new = _shuffled(demo, seed)
    out = tmp_path / "redline.docx"
    write_redline(demo, new, out, when=WHEN)
    accepted, accepted_rows = _resolve(out, accept=True)
    rejected, rejected_rows = _resolve(out, accept=False)
    assert _agreement_text(accepted) == _expected_text(new)
    assert _agreement_text(rejected) == _expected_text(demo)
    assert (accepted_rows, rejected_rows) == (_expected_rows(new), _expected_rows(demo))


def _inserted_and_deleted(path: Path) -> tuple[str, str]:
    root = _document_xml(path)
    inserted = "".join(t.text or "" for ins in root.iter(w("ins")) for t in ins.iter(w("t")))
    return inserted, "".join(t.text or "" for t in root.iter(w("delText")))


def test_raci_note_only_change_is_a_tracked_change(old: Agreement, tmp_path: Path) -> None:
    raci = [old.raci[0].model_copy(update={"notes": "Sponsor audits the site yearly"}), *old.raci[1:]]
    new = old.model_copy(update={"raci": raci})
    assert compare_agreements(old, new).other_changes == ("Responsibilities matrix: 1 row changed",)
    out = tmp_path / "redline.docx"
    write_redline(old, new, out, when=WHEN)
    inserted, deleted = _inserted_and_deleted(out)
    assert "Sponsor audits the site yearly" in inserted
    assert deleted == old.raci[0].notes.rstrip()
    assert _resolve(out, accept=True)[1] == _expected_rows(new)
    assert _resolve(out, accept=False)[1] == _expected_rows(old)


WHOLE_AGREEMENT_EDITS: dict[str, Callable[[Agreement], Agreement]] = {
    "cover": lambda a: a.model_copy(update={"contract_acceptor": a.contract_acceptor.model_copy(
        update={"address": "1 New Road"}), "markets": [*a.markets, "JP"]}),
    "raci_area": lambda a: a.model_copy(update={"raci": [a.raci[0].model_copy(update={"area": "Audits", "overridden":
                                                                                   not a.raci[0].overridden}),
                                                         *a.raci[1:]]}),
    "raci_reordered": lambda a: a.model_copy(update={"raci": list(reversed(a.raci))}),
    "timelines": lambda a: a.model_copy(update={"timelines": [*a.timelines, TimelineRow(
        event="Notify a recall", deadline="24 hours", clause_number="2.1")]}),
    "timeline_who": lambda a: a.model_copy(update={"timelines": [a.timelines[0].model_copy(
        update={"who": "Both parties"}), *a.timelines[1:]]}),
    "traceability": lambda a: a.model_copy(update={"traceability": a.traceability[1:]}),
    "signatures": lambda a: a.model_copy(update={"signatories": [a.signatories[0].model_copy(
        update={"title": "Head of Quality Operations"}), *a.signatories[1:]]}),
    "revisions": lambda a: a.model_copy(update={"version": 2, "revisions": [*a.revisions, RevisionRow(
        version=2, date=dt.date(2026, 7, 1), description="Annual review")]}),
    "selection": lambda a: a.model_copy(update={"decisions": [a.decisions[0].model_copy(
        update={"reason": "Chosen by the negotiation"}), *a.decisions[1:]]}),
}


@pytest.mark.parametrize("edit", WHOLE_AGREEMENT_EDITS)
def test_every_part_of_the_agreement_is_redlined(old: Agreement, edit: str, tmp_path: Path) -> None:
    new = WHOLE_AGREEMENT_EDITS[edit](old)
    assert new.canonical_json() != old.canonical_json()
    out = tmp_path / "redline.docx"
    write_redline(old, new, out, when=WHEN)
    assert list(_document_xml(out).iter(w("ins"), w("del"))), "a changed model gives tracked changes"
    accepted, accepted_tables = _resolve(out, accept=True)
    rejected, rejected_tables = _resolve(out, accept=False)
    assert (accepted_tables, rejected_tables) == (_expected_rows(new), _expected_rows(old))
    assert (_agreement_text(accepted), _agreement_text(rejected)) == (_expected_text(new), _expected_text(old))


def test_a_change_the_redline_cannot_show_is_an_error(old: Agreement, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety net: if some part of the model were left out of the redline, the redline is refused."""
    monkeypatch.setattr(redline_writer, "_PARTS",
                        tuple(p for p in redline_writer._PARTS if p.heading != SELECTION_HEADING))
    new = WHOLE_AGREEMENT_EDITS["selection"](old)
    out = tmp_path / "redline.docx"
    with pytest.raises(RenderError, match="differ but the redline would show no tracked change"):
        write_redline(old, new, out, when=WHEN)
    assert not out.exists()
    write_redline(old, old.model_copy(deep=True), out, when=WHEN)  # equal models: an empty redline is right
    assert not list(_document_xml(out).iter(w("ins"), w("del")))


def test_revisions_carry_author_date_and_unique_ids(old: Agreement, tmp_path: Path) -> None:
    out = tmp_path / "redline.docx"
    write_redline(old, _edited(old), out, when=WHEN)
    root = _document_xml(out)
    revisions = list(root.iter(w("ins"), w("del")))
    assert {r.tag for r in revisions} == {w("ins"), w("del")}
    assert {r.get(w("author")) for r in revisions} == {"qa-builder"}
    assert {r.get(w("date")) for r in revisions} == {"2026-03-12T10:30:00Z"}
    ids = [r.get(w("id")) for r in revisions]
    assert len(ids) == len(set(ids))
    assert root.find(f".//{w('pPr')}/{w('rPr')}/{w('ins')}") is not None, "added paragraphs mark their ends"
    assert root.find(f".//{w('pPr')}/{w('rPr')}/{w('del')}") is not None, "removed paragraphs mark their ends"
    assert root.find(f".//{w('trPr')}/{w('ins')}") is not None, "the added RACI row is a tracked row"
    deleted_text = "".join(t.text for t in root.iter(w("delText")))
    assert "covers" in deleted_text and "30 Business Days" in deleted_text


def test_schema_order(old: Agreement, tmp_path: Path) -> None:
    out = tmp_path / "redline.docx"
    write_redline(old, _edited(old), out, when=WHEN)
    root = _document_xml(out)
    for paragraph in root.iter(w("p")):
        assert w("pPr") not in [c.tag for c in paragraph[1:]], "w:pPr must be the first child of w:p"
    for props in root.iter(w("pPr")):
        tags = [c.tag for c in props]
        if w("rPr") in tags:
            assert tags[-1] == w("rPr"), "w:rPr must be the last child of w:pPr"
        assert tags[0] == w("pStyle")
    for run in root.iter(w("r")):
        assert w("rPr") not in [c.tag for c in run[1:]], "w:rPr must be the first child of w:r"
        assert set(c.tag for c in run) <= {w("rPr"), w("t"), w("delText"), w("tab"), w("br")}
    for row in root.iter(w("tr")):
        assert w("trPr") not in [c.tag for c in row[1:]], "w:trPr must be the first child of w:tr"
    for wrapper in root.iter(w("ins"), w("del")):
        if wrapper.getparent().tag == w("p"):
            assert [c.tag for c in wrapper] == [w("r")] * len(wrapper) and len(wrapper)
            inside_del = wrapper.tag == w("del")
            assert not list(wrapper.iter(w("delText" if not inside_del else "t")))
        else:
            assert wrapper.getparent().tag in (w("rPr"), w("trPr")) and len(wrapper) == 0


def test_front_matter_reads_as_a_comparison(old: Agreement, tmp_path: Path) -> None:
    out = tmp_path / "redline.docx"
    write_redline(old, _edited(old), out, author="J. Reviewer", when=WHEN)
    document = docx.Document(str(out))
    paragraphs = document.paragraphs
    assert paragraphs[0].text == "Minimal Test Agreement — changes from version 1 to version 2"
    assert paragraphs[0].style.name == "Title"
    intro = paragraphs[1].text
    assert "generated by qa-builder on 12 March 2026, 10:30 UTC" in intro and "“J. Reviewer”" in intro
    assert "accept or reject each change in Word or LibreOffice" in intro
    bullets = [p.text for p in paragraphs if p.style.name == "List Bullet"]
    assert bullets[0] == "1.1 Definitions: clause added (clause version 1)"
    assert bullets[-1] == "Responsibilities matrix: 1 row added, 1 row changed"
    assert document.core_properties.author == "J. Reviewer"
    assert document.core_properties.created == document.core_properties.modified == WHEN
    assert {r.get(w("author")) for r in _document_xml(out).iter(w("ins"))} == {"J. Reviewer"}


def test_output_is_deterministic_and_atomic(old: Agreement, tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "redline.docx", tmp_path / "b" / "redline.docx"
    write_redline(old, _edited(old), first, when=WHEN)
    write_redline(old, _edited(old), second, when=WHEN)
    assert first.read_bytes() == second.read_bytes()
    assert [p.name for p in first.parent.iterdir()] == ["redline.docx"], "no temp file left behind"
    with zipfile.ZipFile(first) as package:
        assert {info.date_time for info in package.infolist()} == {(2026, 3, 12, 10, 30, 0)}


def test_unwritable_text_is_a_render_error_and_writes_nothing(old: Agreement, tmp_path: Path) -> None:
    new = old.model_copy(update={"sections": [old.sections[0].model_copy(update={"title": "Bad \x01 title"}),
                                              *old.sections[1:]]})
    out = tmp_path / "redline.docx"
    with pytest.raises(RenderError, match="cannot write the redline"):
        write_redline(old, new, out, when=WHEN)
    assert not list(tmp_path.iterdir())


# --- LibreOffice -------------------------------------------------------------------------------------------------


def _changed_regions(odt: Path) -> dict[str, int]:
    text_ns = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    with zipfile.ZipFile(odt) as package:
        content = package.read("content.xml")
    assert b"<text:tracked-changes" in content
    root = etree.fromstring(content)
    counts = {"insertion": 0, "deletion": 0}
    for region in root.iter(f"{{{text_ns}}}changed-region"):
        for kind in counts:
            counts[kind] += len(region.findall(f"{{{text_ns}}}{kind}"))
    return counts


@pytest.mark.libreoffice
def test_libreoffice_sees_tracked_changes(old: Agreement, tmp_path: Path) -> None:
    out = tmp_path / "redline.docx"
    write_redline(old, _edited(old), out, when=WHEN)
    result = subprocess.run(
        ["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
         "--convert-to", "odt", "--outdir", str(tmp_path / "odt"), str(out)],
        capture_output=True, text=True, timeout=180, check=False)
    odt = tmp_path / "odt" / "redline.odt"
    assert odt.is_file(), result.stderr
    counts = _changed_regions(odt)
    # LibreOffice joins neighbouring revisions, so count separate places. Inserted: the definitions clause, scope's
    # number 1.2, scope's words, item (b), release's words (joined with the complaints clause after them), the RACI
    # cell, the RACI row. Deleted: scope's number 1.1, scope's word, the audits clause, release's words, the RACI cell.
    assert counts["insertion"] >= 7, counts
    assert counts["deletion"] >= 5, counts
    assert re.search(rb"dc:creator>qa-builder<", zipfile.ZipFile(odt).read("content.xml"))


@pytest.mark.libreoffice
def test_regenerating_after_a_raci_note_change_gives_a_non_empty_redline(tmp_path: Path, converter: Any) -> None:
    """The reported case: only a responsibilities-matrix note changed in a workspace agreement."""
    root = tmp_path / "workspace"
    workspace = init_workspace(root)
    shutil.rmtree(workspace.library_dir)
    shutil.copytree(MINI_LIBRARY, workspace.library_dir)
    data = answers_data()
    data["responsibilities"] = [{"activity": "manufacture", "sponsor": "I", "contract_acceptor": "RA",
                                 "notes": "Tokyo Plant only"}]
    add_agreement(workspace, write_answers(tmp_path, data))
    assert not build_new(workspace, jobs=1, converter=converter)[1]  # the session's warm LibreOffice pool
    data["responsibilities"][0]["notes"] = "Tokyo and Osaka plants"
    write_answers(workspace.agreement_dir("QA-MIN-1"), data)
    report = regenerate(workspace, converter=converter)
    assert [(r.old_version, r.new_version) for r in report.built] == [(1, 2)], report
    assert report.built[0].other_changes == ("Responsibilities matrix: 1 row changed",)
    redline_path = workspace.version_dir("QA-MIN-1", 2) / "QA-MIN-1_v2.redline.docx"
    inserted, deleted = _inserted_and_deleted(redline_path)
    assert "Osaka" in inserted and "Plant only" in deleted
    raci = _resolve(redline_path, accept=True)[1][1]
    assert ["2*", "Manufacturing", "Execute batch manufacture", "I", "R/A", "Tokyo and Osaka plants"] in raci


def _mutated(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + " changed"
    if isinstance(value, dt.date):
        return value + dt.timedelta(days=1)
    if isinstance(value, list):
        return [*value, "X-1"]
    return None


def _single_field_edits(agreement: Agreement) -> list[tuple[str, Agreement]]:
    """`agreement` with one field changed, for every field of the model and of its first row of each table."""
    edits = []
    for name, value in agreement:
        if name in ("model_digest", "sections"):
            continue
        rows = value if isinstance(value, list) and value and hasattr(value[0], "model_copy") else None
        items = [(name, value, None)] if rows is None and not hasattr(value, "model_copy") else \
            [(f"{name}.{field}", inner, field) for field, inner in (rows[0] if rows else value)]
        for label, inner, field in items:
            changed = _mutated(inner)
            if changed is None:
                continue
            if field is None:
                update = {name: changed}
            elif rows is not None:
                update = {name: [rows[0].model_copy(update={field: changed}), *rows[1:]]}
            else:
                update = {name: value.model_copy(update={field: changed})}
            edits.append((label, agreement.model_copy(update=update)))
    return edits


def test_a_change_to_any_field_of_the_model_is_a_tracked_change(old: Agreement, tmp_path: Path) -> None:
    """Whoever adds a field to the Agreement model learns here that the redline must show it."""
    # every table of the model gets a row, so that each field of its rows is changed in turn
    old = old.model_copy(update={"affiliates": [AffiliatePartyBlock(
        affiliate_of="sponsor", name="Sponsor Japan K.K.", address="Tokyo", country="Japan",
        term_line="(an affiliate of the Sponsor, a party to this Agreement in its role as holder)")]})
    edits = _single_field_edits(old)
    assert len(edits) > 40
    for label, new in edits:
        out = tmp_path / f"{label}.docx"
        write_redline(old, new, out, when=WHEN)  # raises RenderError if the change would not show
        assert list(_document_xml(out).iter(w("ins"), w("del"))), label

"""negotiate import: a returned DOCX, marked up as Word writes it, read back and mapped to clauses."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from qa_builder.answers.load import load_answers
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.errors import InputError
from qa_builder.library.assemble import split_paragraphs
from qa_builder.library.context import build_context
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import Agreement
from qa_builder.negotiation.importer import ImportReport, analyse_returned, import_returned
from qa_builder.negotiation.returned import MAX_PART_BYTES, MAX_REVISIONS, read_returned
from qa_builder.regenerate import build_new
from qa_builder.render.docx import default_template_path, render_docx
from qa_builder.sandbox.environment import compile_text, render_text
from qa_builder.workspace.layout import add_agreement, init_workspace, open_workspace
from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS, CliResult, run_cli

WNS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = f"{{{WNS}}}"
W14 = "{http://schemas.microsoft.com/office/word/2010/wordml}"
W15NS = "http://schemas.microsoft.com/office/word/2012/wordml"
CMO = "Dr. K. Tanaka (CMO)"
WHEN = "2026-04-02T09:15:00Z"


@pytest.fixture(scope="module")
def minimal() -> Agreement:
    return prepare_agreement(load_answers(MINIMAL_ANSWERS), load_library(MINI_LIBRARY))


@pytest.fixture(scope="module")
def positions() -> dict[str, dict[str, list[str]]]:
    library = load_library(MINI_LIBRARY)
    context = build_context(load_answers(MINIMAL_ANSWERS).answers)
    return {c.id: {name: [p.text for p in split_paragraphs(render_text(compile_text(src), context))]
                   for name, src in c.positions.items()} for c in library.clauses if c.positions}


@pytest.fixture()
def sent(minimal: Agreement, tmp_path: Path) -> Path:
    out = tmp_path / "sent.docx"
    render_docx(minimal, default_template_path(), out)
    return out


# --- writing tracked changes as Word does -----------------------------------------------------------------------


class Markup:
    """Edits word/document.xml (and the comment parts) of a copy of the sent DOCX the way Word records them."""

    def __init__(self, sent: Path) -> None:
        self.sent = sent
        with zipfile.ZipFile(sent) as package:
            self.parts = {n: package.read(n) for n in package.namelist()}
        self.root = etree.fromstring(self.parts["word/document.xml"])
        self.next_id = 900
        self.comments: list[tuple[str, str, str | None]] = []  # (id, text, parent id)

    def paragraph(self, starts: str) -> Any:
        for p in self.root.iter(W + "p"):
            if "".join(t.text or "" for t in p.iter(W + "t")).startswith(starts):
                return p
        raise AssertionError(starts)

    @staticmethod
    def text(p: Any) -> str:
        return "".join(t.text or "" for t in p.iter(W + "t"))

    def to_fallback(self) -> None:
        """Type the audits clause's fallback position over the preferred one, as tracked changes."""
        audits = self.paragraph("The Sponsor may audit")
        self.rewrite(audits, [("del", self.text(audits)), ("ins", "The Sponsor may audit once a year.")])

    def _revision(self, tag: str, author: str = CMO) -> Any:
        self.next_id += 1
        element = etree.Element(W + tag)
        element.set(W + "id", str(self.next_id))
        element.set(W + "author", author)
        element.set(W + "date", WHEN)
        return element

    @staticmethod
    def _run(text: str, *, deleted: bool = False, bold: bool = False) -> Any:
        run = etree.Element(W + "r")
        if bold:
            etree.SubElement(etree.SubElement(run, W + "rPr"), W + "b")
        for part in text.split("\t"):
            if len(run) and run[-1].tag != W + "rPr":
                etree.SubElement(run, W + "tab")
            if part:
                node = etree.SubElement(run, W + ("delText" if deleted else "t"))
                node.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
                node.text = part
        return run

    def rewrite(self, p: Any, pieces: list[tuple[str, str]], author: str = CMO) -> None:
        """Replace the runs of `p` by pieces ('same' | 'ins' | 'del' | 'moveFrom' | 'moveTo', text), split into runs
        at every change as Word does; bookmarks and the paragraph properties stay where they are."""
        end = p.find(W + "bookmarkEnd")
        for run in p.findall(W + "r") + [c for c in p if c.tag in (W + "ins", W + "del", W + "moveFrom", W + "moveTo")]:
            p.remove(run)
        for op, text in pieces:
            runs = [self._run(word, deleted=op in ("del", "moveFrom")) for word in _split_runs(text)]
            if op == "same":
                items = runs
            else:
                wrapper = self._revision(op, author)
                wrapper.extend(runs)
                items = [wrapper]
            for item in items:
                end.addprevious(item) if end is not None else p.append(item)

    def mark(self, p: Any, tag: str) -> None:
        """Track the paragraph mark as inserted/deleted/moved (w:pPr/w:rPr/w:ins ...)."""
        ppr = p.find(W + "pPr")
        if ppr is None:
            ppr = etree.Element(W + "pPr")
            p.insert(0, ppr)
        rpr = ppr.find(W + "rPr")
        if rpr is None:
            rpr = etree.SubElement(ppr, W + "rPr")
        rpr.append(self._revision(tag))

    def bold(self, p: Any) -> None:
        """Make every run bold, recording the old (empty) run properties in w:rPrChange."""
        for run in p.findall(W + "r"):
            rpr = run.find(W + "rPr")
            if rpr is None:
                rpr = etree.Element(W + "rPr")
                run.insert(0, rpr)
            change = self._revision("rPrChange")
            change.append(etree.Element(W + "rPr"))
            rpr.insert(0, etree.Element(W + "b"))
            rpr.append(change)

    def insert_paragraph_after(self, p: Any, text: str) -> Any:
        new = etree.Element(W + "p")
        new.append(etree.fromstring(etree.tostring(p.find(W + "pPr"))))
        p.addnext(new)
        for old in new.iter(W + "ins", W + "del", W + "moveFrom", W + "moveTo"):
            old.getparent().remove(old)
        self.mark(new, "ins")
        self.rewrite(new, [("ins", text)])
        return new

    def comment(self, p: Any, text: str, *, reply_to: str | None = None, author: str = CMO) -> str:
        cid = str(len(self.comments))
        self.comments.append((cid, text, reply_to))
        start = etree.Element(W + "commentRangeStart")
        start.set(W + "id", cid)
        ppr = p.find(W + "pPr")
        (ppr.addnext(start) if ppr is not None else p.insert(0, start))
        end = etree.SubElement(p, W + "commentRangeEnd")
        end.set(W + "id", cid)
        ref = etree.SubElement(etree.SubElement(p, W + "r"), W + "commentReference")
        ref.set(W + "id", cid)
        self.comment_authors = getattr(self, "comment_authors", {})
        self.comment_authors[cid] = author
        return cid

    def untracked(self, p: Any, old: str, new: str) -> None:
        for t in p.iter(W + "t"):
            if old in (t.text or ""):
                t.text = t.text.replace(old, new)
                return
        raise AssertionError(old)

    def save(self, out: Path) -> Path:
        parts = dict(self.parts)
        parts["word/document.xml"] = etree.tostring(self.root, xml_declaration=True, encoding="UTF-8",
                                                    standalone=True)
        if self.comments:
            comments = [f'<w:comment w:id="{cid}" w:author="{self.comment_authors[cid]}" w:date="{WHEN}" '
                        f'w:initials="KT"><w:p w14:paraId="{int(cid) + 0x100:08X}"><w:r><w:t>{text}</w:t></w:r>'
                        "</w:p></w:comment>" for cid, text, _ in self.comments]
            parts["word/comments.xml"] = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:comments '
                                          f'xmlns:w="{WNS}" xmlns:w14="{W14[1:-1]}">{"".join(comments)}'
                                          "</w:comments>").encode()
            extended = [f'<w15:commentEx w15:paraId="{int(cid) + 0x100:08X}"'
                        + (f' w15:paraIdParent="{int(parent) + 0x100:08X}"' if parent is not None else "")
                        + ' w15:done="0"/>' for cid, _, parent in self.comments]
            parts["word/commentsExtended.xml"] = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                                                  f'<w15:commentsEx xmlns:w15="{W15NS}">{"".join(extended)}'
                                                  "</w15:commentsEx>").encode()
            rels = parts["word/_rels/document.xml.rels"].decode()
            rels = rels.replace("</Relationships>", '<Relationship Id="rIdC1" Type="http://schemas.openxmlformats.org/'
                                'officeDocument/2006/relationships/comments" Target="comments.xml"/>'
                                '<Relationship Id="rIdC2" Type="http://schemas.microsoft.com/office/2011/relationships/'
                                'commentsExtended" Target="commentsExtended.xml"/></Relationships>')
            parts["word/_rels/document.xml.rels"] = rels.encode()
            types = parts["[Content_Types].xml"].decode().replace(
                "</Types>", '<Override PartName="/word/comments.xml" ContentType="application/vnd.openxmlformats-'
                'officedocument.wordprocessingml.comments+xml"/><Override PartName="/word/commentsExtended.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.commentsExtended+xml"/>'
                "</Types>")
            parts["[Content_Types].xml"] = types.encode()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
            for name, data in parts.items():
                package.writestr(name, data)
        return out


def _split_runs(text: str) -> list[str]:
    """Word splits text into several runs (spell-check, rsid); split at the middle space to exercise that."""
    middle = text.find(" ", len(text) // 2)
    return [text[:middle], text[middle:]] if middle > 0 else [text]


def _analyse(returned: Path, sent: Path, model: Agreement, positions: dict[str, dict[str, list[str]]]) \
        -> ImportReport:
    return analyse_returned(read_returned(returned), read_returned(sent), model, positions)


# --- tests --------------------------------------------------------------------------------------------------------


def test_sent_file_has_no_findings(minimal: Agreement, sent: Path, positions: Any) -> None:
    report = _analyse(sent, sent, minimal, positions)
    assert report.clauses == [] and report.untracked == [] and report.outside_changes == []
    assert report.anchored_by["content_control"] == sum(1 + len(c.paragraphs) for s in minimal.sections
                                                        for c in s.clauses)


def test_each_classification(minimal: Agreement, sent: Path, positions: Any, tmp_path: Path) -> None:
    m = Markup(sent)
    # scope: words replaced across runs, an item added, and a comment thread -> non-standard text
    body = m.paragraph("This Agreement between")
    m.rewrite(body, [("same", "This Agreement between Müller & Søn <Pharma> \"AG\" and 株式会社テスト製薬 "),
                     ("del", "covers"), ("ins", "governs the manufacture of"), ("same", " Examplol 10 mg tablets.")])
    m.insert_paragraph_after(m.paragraph("(a)"), "(b)\tOsaka Plant, 4-5-6 Kita, Osaka")
    first = m.comment(body, "Our Osaka plant also makes the tablets.")
    m.comment(body, "Agreed, but only after its PAI.", reply_to=first, author="S. Meyer (Sponsor)")
    # audits: the library's fallback position typed over the preferred one
    m.to_fallback()
    # release: bold only
    m.bold(m.paragraph("The Sponsor releases."))
    report = _analyse(m.save(tmp_path / "returned.docx"), sent, minimal, positions)
    found = {f.clause_id: f for f in report.clauses}
    assert {k: f.classification for k, f in found.items()} == {
        "scope": "non_standard", "audits": "library_position", "release": "formatting_only"}
    assert found["audits"].detail == "equals library position 'fallback' of clause audits"
    scope = found["scope"]
    assert {(c.kind, c.text) for c in scope.changes} >= {("deletion", "covers"),
                                                          ("insertion", "governs the manufacture of"),
                                                          ("insertion", "(b)\tOsaka Plant, 4-5-6 Kita, Osaka"),
                                                          ("paragraph_inserted", "")}
    assert {(c.author, c.date) for c in scope.changes} == {(CMO, WHEN)}
    assert [(c.author, c.text, c.reply_to) for c in scope.comments] == [
        (CMO, "Our Osaka plant also makes the tablets.", None),
        ("S. Meyer (Sponsor)", "Agreed, but only after its PAI.", "0")]
    assert "(b)\tOsaka Plant, 4-5-6 Kita, Osaka" in scope.proposed
    assert [c.kind for c in found["release"].changes] == ["formatting"]
    assert report.untracked == [], "rejecting every tracked change gives back the file as sent"


def test_deleting_a_clause_names_the_requirements_that_lose_coverage(minimal: Agreement, sent: Path,
                                                                     positions: Any, tmp_path: Path) -> None:
    m = Markup(sent)
    for starts in ("2.1", "The Sponsor releases."):
        p = m.paragraph(starts)
        text = "\t".join(t.text or "" for t in p.iter(W + "t"))  # '2.1<tab>Batch Release'
        m.rewrite(p, [("del", text)])
        m.mark(p, "del")
    report = _analyse(m.save(tmp_path / "returned.docx"), sent, minimal, positions)
    [finding] = report.clauses
    assert (finding.clause_id, finding.classification) == ("release", "deletes_clause")
    assert finding.lost_requirements == ["REQ-RELEASE"]
    assert "REQ-RELEASE" in finding.detail and report.untracked == []


def test_a_clause_deleted_whole_before_a_section_heading_is_a_deletion(minimal: Agreement, sent: Path,
                                                                       positions: Any, tmp_path: Path) -> None:
    """Deleting 1.2 Audits with its paragraph marks joins what is left to the next paragraph, the heading '2.
    RELEASE': the heading's text was taken for the clause's new text, so the deletion read as non-standard text."""
    m = Markup(sent)
    for starts in ("1.2", "The Sponsor may audit"):
        p = m.paragraph(starts)
        m.rewrite(p, [("del", "\t".join(t.text or "" for t in p.iter(W + "t")))])
        m.mark(p, "del")
    report = _analyse(m.save(tmp_path / "returned.docx"), sent, minimal, positions)
    [finding] = report.clauses
    assert (finding.clause_id, finding.classification, finding.proposed) == ("audits", "deletes_clause", [])
    assert report.untracked == []


def test_a_moved_paragraph_and_a_table_change(minimal: Agreement, sent: Path, positions: Any, tmp_path: Path) -> None:
    m = Markup(sent)
    source = m.paragraph("The Sites are:")
    m.rewrite(source, [("moveFrom", "The Sites are:")])
    m.mark(source, "moveFrom")
    target = m.insert_paragraph_after(m.paragraph("(a)"), "The Sites are:")
    m.rewrite(target, [("moveTo", "The Sites are:")])
    target.find(f"{W}pPr/{W}rPr").append(m._revision("moveTo"))
    raci_cell = next(p for p in m.root.iter(W + "p") if "".join(t.text or "" for t in p.iter(W + "t")) == "R/A")
    m.rewrite(raci_cell, [("del", "R/A"), ("ins", "R")])
    report = _analyse(m.save(tmp_path / "returned.docx"), sent, minimal, positions)
    [scope] = report.clauses
    kinds = {c.kind for c in scope.changes}
    assert {"move_from", "move_to"} <= kinds
    assert scope.classification == "non_standard"
    assert scope.proposed[-1] == "The Sites are:"
    assert {(c.kind, c.text) for c in report.outside_changes} == {("deletion", "R/A"), ("insertion", "R")}
    assert report.untracked == []


def test_an_untracked_edit_is_flagged_with_its_clause(minimal: Agreement, sent: Path, positions: Any,
                                                      tmp_path: Path) -> None:
    m = Markup(sent)
    audits = m.paragraph("The Sponsor may audit")
    before = m.text(audits)
    m.untracked(audits, "30", "60")
    m.untracked(m.paragraph("This Quality Agreement is made between"), "made", "entered into")
    report = _analyse(m.save(tmp_path / "returned.docx"), sent, minimal, positions)
    assert [(e.where, e.sent, e.returned) for e in report.untracked] == [
        ("paragraph 9 of the body (outside the clauses)", "This Quality Agreement is made between",
         "This Quality Agreement is entered into between"),
        ("clause 1.2 Audits", before, before.replace("30", "60"))]


def test_an_untracked_edit_is_shown_where_it_differs() -> None:
    """`negotiate import` printed the first 80 characters of both texts, the same for an edit further on."""
    from qa_builder.negotiation.importer import UntrackedEdit

    sent = ("The Contract Acceptor shall write, approve and control the procedures, instructions and records of the "
            "Services under its document control system, and shall keep all records of the Services for the period "
            "the law requires.")
    edit = UntrackedEdit("clause 12.1 Records", sent, sent.replace("its document", "its electronic document"))
    assert edit.excerpts() == ("… of the Services under its document control system, and shall …",
                               "… of the Services under its electronic document control system, and shall …")
    assert UntrackedEdit("x", "made between", "entered into between").excerpts() == ("made between",
                                                                                    "entered into between")
    assert UntrackedEdit("x", "a b", "a b c").excerpts() == ("a b", "a b c")


def test_bookmarks_map_clauses_when_content_controls_are_gone(minimal: Agreement, sent: Path, positions: Any,
                                                              tmp_path: Path) -> None:
    m = Markup(sent)
    for sdt in list(m.root.iter(W + "sdt")):  # as an editor that drops content controls would save it
        content = sdt.find(W + "sdtContent")
        for child in list(content):
            sdt.addprevious(child)
        sdt.getparent().remove(sdt)
    m.to_fallback()
    report = _analyse(m.save(tmp_path / "returned.docx"), sent, minimal, positions)
    assert report.anchored_by["content_control"] == 0 and report.anchored_by["bookmark"] > 0
    assert [(f.clause_id, f.classification) for f in report.clauses] == [("audits", "library_position")]


BAD_FILES: dict[str, Callable[[Path], bytes]] = {
    "not a zip": lambda sent: b"%PDF-1.7 not a docx",
    "truncated": lambda sent: sent.read_bytes()[:2000],
    "no document": lambda sent: _zip({"word/other.xml": b"<a/>"}),
    "damaged xml": lambda sent: _zip({"word/document.xml": b"<w:document xmlns:w='x'><w:body>"}),
    "entity": lambda sent: _zip({"word/document.xml": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]>'
                                                       b"<d>&a;&a;</d>"}),
    "bomb": lambda sent: _zip({"word/document.xml": b" " * (MAX_PART_BYTES + 10)}),
}
BAD_MESSAGES = {"not a zip": "is not a readable DOCX", "truncated": "is not a readable DOCX",
                "no document": "is not a Word document", "damaged xml": "word/document.xml is damaged",
                "entity": "declares a DTD", "bomb": "unpacks to more than 16 MiB"}


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", BAD_FILES)
def test_hostile_or_damaged_files_give_one_clear_line(kind: str, sent: Path, tmp_path: Path) -> None:
    bad = tmp_path / "returned.docx"
    bad.write_bytes(BAD_FILES[kind](sent))
    with pytest.raises(InputError) as caught:
        read_returned(bad)
    message = str(caught.value)
    assert message.startswith(f"{bad}: ") and BAD_MESSAGES[kind] in message and "\n" not in message


# --- the command, on a workspace, and a LibreOffice round trip --------------------------------------------------


@pytest.fixture(scope="module")
def negotiation_workspace(tmp_path_factory: pytest.TempPathFactory, converter: Any) -> Path:
    """A workspace with the minimal agreement built as v1 (real LibreOffice for the PDF)."""
    root = tmp_path_factory.mktemp("ws") / "workspace"
    workspace = init_workspace(root)
    shutil.rmtree(workspace.library_dir)
    shutil.copytree(MINI_LIBRARY, workspace.library_dir)
    add_agreement(workspace, MINIMAL_ANSWERS)
    built, failed = build_new(workspace, jobs=1, converter=converter)  # the session's warm LibreOffice pool
    assert not failed and len(built) == 1
    return root


def _cli(*args: str) -> CliResult:
    """`negotiate import ARGS` in this process (Click's runner): its real exit code, stdout and stderr."""
    return run_cli("negotiate", "import", *args)


def _marked_up(sent: Path, out: Path) -> Path:
    m = Markup(sent)
    m.to_fallback()
    body = m.paragraph("This Agreement between")
    m.rewrite(body, [("same", "This Agreement between Müller & Søn <Pharma> \"AG\" and 株式会社テスト製薬 "),
                     ("del", "covers"), ("ins", "governs"), ("same", " Examplol 10 mg tablets.")])
    m.comment(body, "Wider scope, please.")
    return m.save(out)


@pytest.mark.libreoffice
def test_a_returned_file_name_cannot_forge_a_line(negotiation_workspace: Path, tmp_path: Path) -> None:
    """Session 6 attack: a returned DOCX saved under the name its sender gave it, "r\\nerror: fake.docx", made
    `negotiate import` print "r" and a forged "error: fake.docx: agreement …" line on standard output."""
    workspace = tmp_path / "ws"  # a copy: the shared workspace's first import is another test's
    shutil.copytree(negotiation_workspace, workspace)
    returned = tmp_path / "r\nerror: fake.docx"
    shutil.copyfile(workspace / "agreements" / "QA-MIN-1" / "v1" / "QA-MIN-1_v1.docx", returned)
    result = _cli(str(workspace), "QA-MIN-1", str(returned))
    assert result.returncode == 0, result.stderr
    assert not any(line.startswith("error") for line in result.stdout.splitlines()), result.stdout
    assert result.stdout.startswith("r\\u000aerror: fake.docx: agreement QA-MIN-1 version 1;"), result.stdout


@pytest.mark.libreoffice
def test_negotiate_import_from_the_command_line(negotiation_workspace: Path, tmp_path: Path) -> None:
    sent = negotiation_workspace / "agreements" / "QA-MIN-1" / "v1" / "QA-MIN-1_v1.docx"
    returned = _marked_up(sent, tmp_path / "QA-MIN-1 returned.docx")
    result = _cli(str(negotiation_workspace), "QA-MIN-1", str(returned))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "QA-MIN-1 returned.docx: agreement QA-MIN-1 version 1; 2 clause(s) changed or commented"
    assert "  1.1 Scope [scope]: non-standard text — text that is not in the clause library" in lines
    assert ("  1.2 Audits [audits]: another library position — equals library position 'fallback' of clause "
            "audits") in lines
    assert f"      comment 0 by {CMO} {WHEN}: Wider scope, please." in lines
    report = negotiation_workspace / "agreements" / "QA-MIN-1" / "negotiation" / "v1-import-1.json"
    assert lines[-2:] == [f"report: {report}", f"next: qa-builder negotiate status {negotiation_workspace} QA-MIN-1, "
                          "then accept, reject or counter each point"]
    assert json.loads(report.read_text(encoding="utf-8"))["clauses"][1]["classification"] == "library_position"

    m = Markup(sent)
    m.untracked(m.paragraph("The Sponsor may audit"), "30", "60")
    untracked = _cli(str(negotiation_workspace), "QA-MIN-1", str(m.save(tmp_path / "untracked.docx")))
    assert untracked.returncode == 3
    assert ("  untracked edit in clause 1.2 Audits: sent “… on notice of at least 30 Business Days. The Contract "
            "Acceptor …”, returned “… on notice of at least 60 Business Days. The Contract Acceptor …”"
            ) in untracked.stdout, untracked.stdout

    wrong = _cli(str(negotiation_workspace), "QA-OTHER-9", str(returned))
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == f"error: {negotiation_workspace}: has no agreement 'QA-OTHER-9' (it has: QA-MIN-1)"
    damaged = tmp_path / "damaged.docx"
    damaged.write_bytes(returned.read_bytes()[:3000])
    bad = _cli(str(negotiation_workspace), "QA-MIN-1", str(damaged))
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and "Traceback" not in bad.stderr


@pytest.mark.libreoffice
def test_anchors_and_changes_survive_a_libreoffice_round_trip(negotiation_workspace: Path, tmp_path: Path) -> None:
    """Open the marked-up file in LibreOffice with its tracked changes and save it as DOCX: same findings."""
    sent = negotiation_workspace / "agreements" / "QA-MIN-1" / "v1" / "QA-MIN-1_v1.docx"
    returned = _marked_up(sent, tmp_path / "returned.docx")
    result = subprocess.run(
        ["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
         "--convert-to", "docx:MS Word 2007 XML", "--outdir", str(tmp_path / "lo"), str(returned)],
        capture_output=True, text=True, timeout=180, check=False)
    saved = tmp_path / "lo" / "returned.docx"
    assert saved.is_file(), result.stderr
    report = import_returned(open_workspace(negotiation_workspace), "QA-MIN-1", saved)
    assert report.anchored_by["content_control"] == 0 and report.anchored_by["bookmark"] >= 5
    assert [(f.clause_id, f.classification) for f in report.clauses] == [("scope", "non_standard"),
                                                                        ("audits", "library_position")]
    scope = report.clauses[0]
    assert {(c.kind, c.text) for c in scope.changes} >= {("deletion", "covers"), ("insertion", "governs")}
    assert [(c.author, c.text) for c in scope.comments] == [(CMO, "Wider scope, please.")]
    assert report.untracked == []


def test_an_unknown_agreement_id_never_leaves_the_workspace(sent: Path, tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "workspace")
    for bad in ("../../etc", "QA-NONE"):
        with pytest.raises(InputError, match=rf"has no agreement '{re.escape(bad)}' \(it has: none\)"):
            import_returned(workspace, bad, sent)
    assert not (tmp_path / "etc").exists()
    other = workspace.answers_path("QA-OTHER-9")
    other.parent.mkdir(parents=True)
    other.write_text("agreement: {id: QA-OTHER-9}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"sent\.docx: is agreement QA-MIN-1, not QA-OTHER-9$"):
        import_returned(workspace, "QA-OTHER-9", sent)


# --- page headers, footers and notes: what the agreement shows outside the body ---------------------------------

HEADER = "Quality Agreement QA-MIN-1 · Version 1 · Minimal Test Agreement"


def _edit_parts(sent: Path, out: Path, edits: dict[str, Callable[[str], str]]) -> Path:
    """A copy of `sent` with parts edited as text (a part it lacks starts empty)."""
    with zipfile.ZipFile(sent) as package:
        parts = {n: package.read(n) for n in package.namelist()}
    for name, edit in edits.items():
        parts[name] = edit(parts.get(name, b"").decode()).encode()
    out.write_bytes(_zip(parts))
    return out


def _tracked_in_header(xml: str) -> str:
    """Word's tracked insertion of "DRAFT " at the start of the page header."""
    start = '<w:r><w:t xml:space="preserve">Quality Agreement'
    assert start in xml
    return xml.replace(start, f'<w:ins w:id="9100" w:author="{CMO}" w:date="{WHEN}"><w:r><w:t xml:space="preserve">'
                              f'DRAFT </w:t></w:r></w:ins>{start}', 1)


def _untracked_in_header(xml: str) -> str:
    assert HEADER in xml
    return xml.replace("QA-MIN-1 · Version 1", "QA-MIN-1 DRAFT NOT BINDING · Version 1", 1)


def _untracked_in_footer(xml: str) -> str:
    assert "· Confidential" in xml
    return xml.replace("· Confidential", "· Void", 1)


def test_a_tracked_insertion_in_the_page_header_is_a_change_outside_the_clauses(
        minimal: Agreement, sent: Path, positions: Any, tmp_path: Path) -> None:
    """Session 7 attack: a tracked insertion in header1.xml gave "0 clause(s) changed" and no change at all."""
    returned = _edit_parts(sent, tmp_path / "returned.docx", {"word/header1.xml": _tracked_in_header})
    report = _analyse(returned, sent, minimal, positions)
    assert report.clauses == [] and report.untracked == []
    assert [(c.kind, c.author, c.date, c.text, c.part) for c in report.outside_changes] == [
        ("insertion", CMO, WHEN, "DRAFT ", "the page header")]
    assert report.outside_places() == ["the page header"]


EVEN_HEADER = (f'<w:hdr xmlns:w="{WNS}" xmlns:v="urn:schemas-microsoft-com:vml"><w:p><w:r><w:pict><v:shape>'
               '<v:textpath string="DRAFT"/></v:shape></w:pict></w:r></w:p></w:hdr>')
"""A header added without tracking that shows nothing but a watermark, as Word writes one."""


def _even_header_referenced(xml: str) -> str:
    return xml.replace('<w:headerReference w:type="default" r:id="rId9"/>', '<w:headerReference w:type="default" '
                       'r:id="rId9"/><w:headerReference w:type="even" r:id="rIdE1"/>', 1)


def _even_header_related(xml: str) -> str:
    return xml.replace("</Relationships>", '<Relationship Id="rIdE1" Type="http://schemas.openxmlformats.org/'
                       'officeDocument/2006/relationships/header" Target="header2.xml"/></Relationships>')


def test_untracked_edits_of_the_page_header_and_the_footers_are_untracked_edits(
        minimal: Agreement, sent: Path, positions: Any, tmp_path: Path) -> None:
    """Session 7 attack: "DRAFT NOT BINDING" typed into the page header without tracking was not reported."""
    returned = _edit_parts(sent, tmp_path / "returned.docx", {"word/header1.xml": _untracked_in_header,
                                                              "word/footer1.xml": _untracked_in_footer,
                                                              "word/footer2.xml": lambda xml: xml.replace(
                                                                  "Version 1", "Version 2"),
                                                              "word/header2.xml": lambda _: EVEN_HEADER,
                                                              "word/document.xml": _even_header_referenced,
                                                              "word/_rels/document.xml.rels": _even_header_related})
    report = _analyse(returned, sent, minimal, positions)
    assert report.clauses == [] and report.outside_changes == []
    footer = "Müller & Søn <Pharma> \"AG\" – 株式会社テスト製薬 · {} Page of"
    assert [(e.where, e.sent, e.returned) for e in report.untracked] == [
        ("the page header", HEADER, HEADER.replace("QA-MIN-1 ·", "QA-MIN-1 DRAFT NOT BINDING ·")),
        ("the footer", footer.format("Confidential"), footer.format("Void")),
        ("the first-page footer", "Confidential · QA-MIN-1 · Version 1", "Confidential · QA-MIN-1 · Version 2"),
        ("the even-page header", "", "(watermark) DRAFT")]


def test_page_numbers_and_repeated_headers_are_no_untracked_edit(minimal: Agreement, sent: Path, positions: Any,
                                                                 tmp_path: Path) -> None:
    """Field results (the page number Word or LibreOffice last laid out) are not text anyone typed; a second
    section repeating the same header is the same page header."""
    def renumber(xml: str) -> str:
        assert xml.count("<w:t>1</w:t>") == 2
        return xml.replace("<w:t>1</w:t>", "<w:t>7</w:t>")

    def second_section(xml: str) -> str:
        section = re.search(r"<w:sectPr\b.*?</w:sectPr>", xml, re.S)
        assert section is not None
        end = xml.index("</w:pPr>")  # the first paragraph ends a section of its own
        return xml[:end] + section[0] + xml[end:]

    returned = _edit_parts(sent, tmp_path / "returned.docx", {"word/footer1.xml": renumber,
                                                              "word/document.xml": second_section})
    report = _analyse(returned, sent, minimal, positions)
    assert report.untracked == [] and report.outside_changes == [] and report.clauses == []
    assert read_returned(returned).outside["the footer"] == read_returned(sent).outside["the footer"]


def test_footnotes_are_compared_and_their_tracked_changes_reported(minimal: Agreement, sent: Path, positions: Any,
                                                                   tmp_path: Path) -> None:
    def notes(text: str) -> Callable[[str], str]:
        return lambda _: (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:footnotes xmlns:w="{WNS}">'
                          '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
                          f'<w:footnote w:id="1"><w:p>{text}</w:p></w:footnote></w:footnotes>')

    def related(xml: str) -> str:
        return xml.replace("</Relationships>", '<Relationship Id="rIdF1" Type="http://schemas.openxmlformats.org/'
                           'officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/></Relationships>')

    plain = '<w:r><w:t xml:space="preserve">Business Days exclude public holidays.</w:t></w:r>'
    with_note = _edit_parts(sent, tmp_path / "with-note.docx", {"word/footnotes.xml": notes(plain),
                                                                "word/_rels/document.xml.rels": related})
    tracked = _edit_parts(with_note, tmp_path / "tracked.docx", {"word/footnotes.xml": notes(
        f'{plain}<w:ins w:id="9200" w:author="{CMO}" w:date="{WHEN}"><w:r><w:t> and Sundays</w:t></w:r></w:ins>')})
    report = _analyse(tracked, with_note, minimal, positions)
    assert report.untracked == []
    assert [(c.kind, c.text, c.part) for c in report.outside_changes] == [("insertion", " and Sundays",
                                                                           "the footnotes")]
    untracked = _edit_parts(with_note, tmp_path / "untracked.docx", {"word/footnotes.xml": notes(
        plain.replace("exclude", "include"))})
    assert [(e.where, e.sent, e.returned) for e in _analyse(untracked, with_note, minimal, positions).untracked] == [
        ("the footnotes", "Business Days exclude public holidays.", "Business Days include public holidays.")]


def _many_headers(sent: Path) -> bytes:
    with zipfile.ZipFile(sent) as package:
        parts = {n: package.read(n) for n in package.namelist()}
    header = parts["word/header1.xml"]
    rels = parts["word/_rels/document.xml.rels"].decode()
    document = parts["word/document.xml"].decode()
    breaks = ""
    for n in range(101):
        parts[f"word/h{n}.xml"] = header
        rels = rels.replace("</Relationships>", f'<Relationship Id="rIdH{n}" Type="http://schemas.openxmlformats.org/'
                            f'officeDocument/2006/relationships/header" Target="h{n}.xml"/></Relationships>')
        breaks += f'<w:p><w:pPr><w:sectPr><w:headerReference w:type="default" r:id="rIdH{n}"/></w:sectPr></w:pPr></w:p>'
    parts["word/_rels/document.xml.rels"] = rels.encode()
    parts["word/document.xml"] = document.replace("<w:body>", f"<w:body>{breaks}", 1).encode()
    return _zip(parts)


def _huge_header(sent: Path) -> bytes:
    with zipfile.ZipFile(sent) as package:
        parts = {n: package.read(n) for n in package.namelist()}
    parts["word/header1.xml"] = parts["word/header1.xml"].replace(b"</w:hdr>", b" " * MAX_PART_BYTES + b"</w:hdr>")
    return _zip(parts)


def _header_revisions(sent: Path) -> bytes:
    with zipfile.ZipFile(sent) as package:
        parts = {n: package.read(n) for n in package.namelist()}
    half = b"<w:ins/>" * (MAX_REVISIONS // 2 + 1)  # in the header and in the body: over the bound together only
    for name in ("word/header1.xml", "word/document.xml"):
        parts[name] = parts[name].replace(b"</w:p>", half + b"</w:p>", 1)
    return _zip(parts)


def _large_footers(sent: Path) -> bytes:
    with zipfile.ZipFile(sent) as package:
        parts = {n: package.read(n) for n in package.namelist()}
    for name in ("word/footer1.xml", "word/footer2.xml"):
        parts[name] = parts[name].replace(b"</w:ftr>", b" " * (MAX_PART_BYTES // 2 + 1) + b"</w:ftr>")
    return _zip(parts)


def _duplicate_entry(sent: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(sent) as package, zipfile.ZipFile(buffer, "w") as out:
        for name in package.namelist():
            out.writestr(name, package.read(name))
        with pytest.warns(UserWarning, match="Duplicate name"):
            out.writestr("word/header1.xml", b"<w:hdr/>")
    return buffer.getvalue()


OUTSIDE_BAD_FILES: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "101 headers": (_many_headers, "has 104 page headers, footers and note parts, more than 100"),
    "huge header": (_huge_header, "word/header1.xml unpacks to more than 16 MiB"),
    "header revisions": (_header_revisions, "holds more than 100,000 tracked changes"),
    "duplicate entry": (_duplicate_entry, "holds word/header1.xml twice"),
    "large footers": (_large_footers, "its page headers, footers and notes unpack to more than 16 MiB together"),
}


@pytest.mark.parametrize("kind", OUTSIDE_BAD_FILES)
def test_headers_and_footers_are_read_within_bounds(kind: str, sent: Path, tmp_path: Path) -> None:
    make, expected = OUTSIDE_BAD_FILES[kind]
    bad = tmp_path / "returned.docx"
    bad.write_bytes(make(sent))
    with pytest.raises(InputError) as caught:
        read_returned(bad)
    message = str(caught.value)
    assert message.startswith(f"{bad}: ") and expected in message and "\n" not in message, message


@pytest.mark.libreoffice
def test_header_and_footer_edits_from_the_command_line_and_through_libreoffice(negotiation_workspace: Path,
                                                                              tmp_path: Path) -> None:
    """The returned files as a user gets them: straight from our writer, and saved again by LibreOffice (which
    rewrites the header and footer XML and the page numbers): an unchanged file raises no alarm, a tracked
    insertion in the page header is a point outside the clauses, an untracked header or footer edit exits 3."""
    workspace = tmp_path / "ws"  # a copy: the shared workspace's first import is another test's
    shutil.copytree(negotiation_workspace, workspace)
    sent = workspace / "agreements" / "QA-MIN-1" / "v1" / "QA-MIN-1_v1.docx"
    made = tmp_path / "made"
    made.mkdir()
    files = {"unchanged": shutil.copyfile(sent, made / "unchanged.docx"),
             "tracked": _edit_parts(sent, made / "tracked.docx", {"word/header1.xml": _tracked_in_header}),
             "header": _edit_parts(sent, made / "header.docx", {"word/header1.xml": _untracked_in_header}),
             "footer": _edit_parts(sent, made / "footer.docx", {"word/footer1.xml": _untracked_in_footer})}
    result = subprocess.run(
        ["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
         "--convert-to", "docx:MS Word 2007 XML", "--outdir", str(tmp_path / "lo"), *map(str, files.values())],
        capture_output=True, text=True, timeout=300, check=False)
    for name in files:
        saved = tmp_path / "lo" / f"{name}.docx"
        assert saved.is_file(), result.stderr
        assert read_returned(saved).outside["the footer"] != []
        for returned in (files[name], saved):
            run = _cli(str(workspace), "QA-MIN-1", str(returned))
            lines = run.stdout.splitlines()
            assert lines[0] == f"{returned.name}: agreement QA-MIN-1 version 1; 0 clause(s) changed or commented"
            if name == "unchanged":
                assert run.returncode == 0 and len(lines) == 2 and lines[1].startswith("report: "), run.stdout
            elif name == "tracked":
                assert run.returncode == 0, run.stdout
                assert lines[1:3] == ["  outside the clauses (the page header): 1 change(s), 0 comment(s)",
                                      f"      insertion by {CMO} {WHEN} “DRAFT” in the page header"]
                status = run_cli("negotiate", "status", str(workspace), "QA-MIN-1")
                assert "[OPEN] — outside the clauses (the page header) [outside]" in status.stdout, status.stdout
            else:
                assert run.returncode == 3, run.stdout
                where = "the page header" if name == "header" else "the footer"
                assert [line for line in lines if "untracked edit" in line] == [
                    f"  untracked edit in {where}: " + ("sent “Quality Agreement QA-MIN-1 · Version 1 · Minimal …”, "
                                                       "returned “Quality Agreement QA-MIN-1 DRAFT NOT BINDING · "
                                                       "Version 1 · Minimal …”" if name == "header" else
                                                       "sent “… <Pharma> \"AG\" – 株式会社テスト製薬 · Confidential "
                                                       "Page of”, returned “… <Pharma> \"AG\" – 株式会社テスト製薬 "
                                                       "· Void Page of”")], run.stdout


def _text_box(text: str) -> str:
    """A run holding a text box as Word writes one: DrawingML, with a VML copy for older readers."""
    box = f'<w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:txbxContent>'
    return ('<w:r><mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
            '<mc:Choice Requires="wps"><w:drawing><wp:anchor xmlns:wp="http://schemas.openxmlformats.org/drawingml/'
            '2006/wordprocessingDrawing"><a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
            '<a:graphicData><wps:wsp xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
            f'<wps:txbx>{box}</wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>'
            '<mc:Fallback><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml"><v:textbox>'
            f'{box}</v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r>')


def test_a_text_box_added_without_tracking_is_an_untracked_edit(minimal: Agreement, sent: Path, positions: Any,
                                                                tmp_path: Path) -> None:
    """In the page header (counted once, not again for its VML copy) and in the body (within its clause)."""
    returned = _edit_parts(sent, tmp_path / "returned.docx", {
        "word/header1.xml": lambda xml: xml.replace("</w:p></w:hdr>",
                                                    f"{_text_box('NOT FOR SIGNATURE')}</w:p></w:hdr>"),
        "word/document.xml": lambda xml: re.sub(r"(The Sponsor may audit[^<]*</w:t></w:r>)",
                                                lambda m: m[1] + _text_box("Void"), xml, count=1)})
    untracked = _analyse(returned, sent, minimal, positions).untracked
    assert [(e.where, e.sent, e.returned) for e in untracked if e.where == "the page header"] == [
        ("the page header", "", "NOT FOR SIGNATURE")]
    assert [e.where for e in untracked if "Void" in e.returned] == ["clause 1.2 Audits"]

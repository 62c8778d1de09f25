"""Clause anchors in the rendered DOCX: tagged content controls, bookmarks and custom file properties."""

from __future__ import annotations

import runpy
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import docx
import pytest
from lxml import etree

from qa_builder.answers.load import load_answers
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.errors import TemplateError
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import Agreement
from qa_builder.render.anchors import (
    PROPERTY_AGREEMENT_ID,
    PROPERTY_DIGEST,
    PROPERTY_VERSION,
    ClauseTag,
    paragraph_text,
    parse_bookmark,
    parse_clause_tag,
)
from qa_builder.render.docx import default_template_path, render_docx
from tests.conftest import DEMO_EXAMPLE, MINI_LIBRARY, MINIMAL_ANSWERS

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
CUSTOM = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
SDT_PR_ORDER = ["rPr", "alias", "tag", "id", "lock", "placeholder", "temporary", "showingPlcHdr", "dataBinding",
                "label", "tabIndex", "docPartObj", "docPartList", "richText", "text"]


@pytest.fixture(scope="module")
def minimal() -> Agreement:
    return prepare_agreement(load_answers(MINIMAL_ANSWERS), load_library(MINI_LIBRARY))


@pytest.fixture(scope="module")
def demo() -> Agreement:
    return prepare_agreement(load_answers(DEMO_EXAMPLE), load_library())


def _render(agreement: Agreement, out: Path) -> Path:
    render_docx(agreement, default_template_path(), out)
    return out


def _body(path: Path) -> Any:
    with zipfile.ZipFile(path) as package:
        return etree.fromstring(package.read("word/document.xml")).find(f"{W}body")


def _custom_properties(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as package:
        root = etree.fromstring(package.read("docProps/custom.xml"))
    return {p.get("name"): "".join(p.itertext()) for p in root.iter(f"{CUSTOM}property")}


def _expected_lines(agreement: Agreement) -> list[tuple[ClauseTag, list[str]]]:
    return [(ClauseTag(c.clause_id, c.version, c.position, c.number),
             [f"{c.number}\t{c.title}", *(f"{p.label}\t{p.text}" if p.label else p.text for p in c.paragraphs)])
            for s in agreement.sections for c in s.clauses]


@pytest.mark.parametrize("which", ["minimal", "demo"])
def test_every_clause_sits_in_a_tagged_content_control(which: str, request: pytest.FixtureRequest,
                                                        tmp_path: Path) -> None:
    agreement: Agreement = request.getfixturevalue(which)
    body = _body(_render(agreement, tmp_path / "a.docx"))
    found = []
    for sdt in body.iter(f"{W}sdt"):
        tag = parse_clause_tag(sdt.find(f"{W}sdtPr/{W}tag").get(f"{W}val"))
        assert tag is not None
        paragraphs = sdt.find(f"{W}sdtContent").findall(f"{W}p")
        found.append((tag, [paragraph_text(p) for p in paragraphs]))
    assert found == _expected_lines(agreement)
    ids = [sdt.find(f"{W}sdtPr/{W}id").get(f"{W}val") for sdt in body.iter(f"{W}sdt")]
    assert len(set(ids)) == len(ids)
    assert any(tag.position == "preferred" for tag, _ in found) or which == "demo"


def _bookmarks(body: Any) -> list[tuple[str, str]]:
    """(name, paragraph text) of every bookmark that starts and ends in the same paragraph."""
    found = []
    for p in body.iter(f"{W}p"):
        ends = {e.get(f"{W}id") for e in p.iter(f"{W}bookmarkEnd")}
        found.extend((b.get(f"{W}name"), paragraph_text(p)) for b in p.iter(f"{W}bookmarkStart")
                     if b.get(f"{W}id") in ends)
    return found


def test_every_clause_paragraph_carries_a_bookmark(demo: Agreement, tmp_path: Path) -> None:
    body = _body(_render(demo, tmp_path / "a.docx"))
    expected = [(f"qa_c{i}p{j}_{tag.clause_id}"[:40], line)
                for i, (tag, lines) in enumerate(_expected_lines(demo), 1) for j, line in enumerate(lines)]
    assert _bookmarks(body) == expected
    assert [parse_bookmark(name) for name, _ in expected] == [
        (i, j) for i, (_tag, lines) in enumerate(_expected_lines(demo), 1) for j in range(len(lines))]
    ids = [b.get(f"{W}id") for b in body.iter(f"{W}bookmarkStart")]
    assert len(set(ids)) == len(ids)


def test_custom_properties_identify_the_agreement(minimal: Agreement, tmp_path: Path) -> None:
    out = _render(minimal, tmp_path / "a.docx")
    assert _custom_properties(out) == {PROPERTY_AGREEMENT_ID: minimal.id, PROPERTY_VERSION: "1",
                                       PROPERTY_DIGEST: minimal.model_digest}
    assert len(minimal.model_digest) == 64
    with zipfile.ZipFile(out) as package:
        types = package.read("[Content_Types].xml").decode()
        rels = package.read("_rels/.rels").decode()
    assert 'PartName="/docProps/custom.xml"' in types and "custom-properties+xml" in types
    assert rels.count("relationships/custom-properties") == 1
    docx.Document(str(out))  # python-docx still reads the package


def test_parts_keep_the_schema_order(demo: Agreement, tmp_path: Path) -> None:
    """Word offers to 'repair' a file whose elements are out of schema order; check every part we touch."""
    order = runpy.run_path(str(Path(__file__).resolve().parent.parent / "tools" / "make_template.py"))[
        "SCHEMA_ORDER"]
    out = _render(demo, tmp_path / "a.docx")
    problems = []
    with zipfile.ZipFile(out) as package:
        parts = [n for n in package.namelist() if n.startswith("word/") and n.endswith(".xml")]
        for part in parts:
            root = etree.fromstring(package.read(part))
            for tag, sequence in {**order, "sdtPr": SDT_PR_ORDER}.items():
                for element in root.iter(W + tag):
                    names = [c.tag.replace(W, "") for c in element if isinstance(c.tag, str)]
                    known = [n for n in names if n in sequence]
                    if len(set(known)) != len(known) or known != sorted(known, key=sequence.index):
                        problems.append(f"{part}: {tag} {names}")
            for sdt in root.iter(W + "sdt"):
                if [c.tag.replace(W, "") for c in sdt] != ["sdtPr", "sdtContent"]:
                    problems.append(f"{part}: sdt children")
            for p in root.iter(W + "p"):
                if W + "pPr" in [c.tag for c in p[1:]]:
                    problems.append(f"{part}: pPr not first")
    assert not problems, problems[:5]


def test_template_without_clause_headings_gets_properties_but_no_anchors(minimal: Agreement, tmp_path: Path) -> None:
    template = tmp_path / "t.docx"
    document = docx.Document()
    document.add_paragraph("Agreement {{ agreement.id }} has {{ agreement.sections | length }} sections.")
    document.save(str(template))
    out = tmp_path / "a.docx"
    render_docx(minimal, template, out)
    assert not list(_body(out).iter(f"{W}sdt"))
    assert _custom_properties(out)[PROPERTY_AGREEMENT_ID] == minimal.id


def test_template_showing_a_clause_heading_without_its_text_is_refused(minimal: Agreement, tmp_path: Path) -> None:
    template = tmp_path / "t.docx"
    document = docx.Document()
    first = "agreement.sections[0].clauses[0]"
    document.add_paragraph(f"{{{{ {first}.number }}}}\t{{{{ {first}.title }}}}")
    document.add_paragraph("Nothing else.")
    document.save(str(template))
    out = tmp_path / "a.docx"
    with pytest.raises(TemplateError, match=r"clause 1\.1 Scope \(scope\): the paragraphs after its heading"):
        render_docx(minimal, template, out)
    assert not out.exists()


@pytest.mark.libreoffice
def test_anchors_survive_a_libreoffice_round_trip(minimal: Agreement, tmp_path: Path) -> None:
    """LibreOffice opens the anchored file (converting it proves that) and keeps the anchors when it saves."""
    source = _render(minimal, tmp_path / "a.docx")
    result = subprocess.run(
        ["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
         "--convert-to", "docx:MS Word 2007 XML", "--outdir", str(tmp_path / "lo"), str(source)],
        capture_output=True, text=True, timeout=180, check=False)
    saved = tmp_path / "lo" / "a.docx"
    assert saved.is_file(), result.stderr
    body = _body(saved)
    ours = [(name, text) for name, text in _bookmarks(body) if parse_bookmark(name)]
    expected = [(f"qa_c{i}p{j}_{tag.clause_id}", line)
                for i, (tag, lines) in enumerate(_expected_lines(minimal), 1) for j, line in enumerate(lines)]
    assert ours == expected
    aliases = [a.get(f"{W}val") for a in body.iter(f"{W}alias")]
    assert aliases == ["1.1 Scope", "1.2 Audits", "2.1 Batch Release"], "LibreOffice keeps the alias, not the tag"
    assert _custom_properties(saved)[PROPERTY_DIGEST] == minimal.model_digest

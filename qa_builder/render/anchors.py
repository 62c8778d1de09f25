"""Anchors that let a returned DOCX be read back: clause content controls, bookmarks and custom properties.

Each clause of the rendered agreement (its heading and paragraphs) is wrapped in a block-level content control
(`w:sdt`, ECMA-376 Part 1 §17.5.2) whose tag names the clause id, version, position and number; each of its
paragraphs carries a bookmark (§17.13.6) as a second anchor for editors that drop content controls or their tags
(LibreOffice 7.4 keeps bookmarks and the alias but drops the tag when it saves a DOCX). The agreement id, version and
model digest go into the custom file properties (`docProps/custom.xml`, ECMA-376 Part 1 §15.2.12.2).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from docx.opc.constants import CONTENT_TYPE, RELATIONSHIP_TYPE
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from qa_builder.models.agreement import Agreement, AgreementClause

__all__ = ["ANCHOR_SDT_ID_BASE", "PROPERTY_AGREEMENT_ID", "PROPERTY_DIGEST", "PROPERTY_KIND", "PROPERTY_VERSION",
           "ClauseTag", "anchor_agreement", "bookmark_name", "clause_tag", "paragraph_text", "parse_bookmark",
           "parse_clause_tag"]

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
PROPERTY_AGREEMENT_ID = "QA agreement ID"
PROPERTY_VERSION = "QA agreement version"
PROPERTY_DIGEST = "QA model digest (sha256)"
PROPERTY_KIND = "QA document kind"
"""'comparison' on a redline or counter-proposal: a document to read, not a version to mark up and import."""
ANCHOR_SDT_ID_BASE = 710_000_000  # content-control ids are 32-bit; this block is ours
_BOOKMARK_ID_BASE = 710_000_000
_TAG_PREFIX = "qa-clause"
_TAG = re.compile(r"^qa-clause;id=([a-z][a-z0-9_]*);version=(\d+);position=([a-z0-9_]*);number=([^;]*)$")
_CUSTOM_PROPS_FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
_CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
_VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
_SPACES = re.compile(r"\s+")
_BOOKMARK = re.compile(r"^qa_c(\d+)p(\d+)_")


class AnchorError(ValueError):
    """The rendered document does not show a clause where the model says it is."""


@dataclass(frozen=True)
class ClauseTag:
    """What a clause content control's tag says."""

    clause_id: str
    version: int
    position: str | None
    number: str


def clause_tag(clause: AgreementClause) -> str:
    """The content-control tag of a clause, e.g. 'qa-clause;id=audits;version=1;position=preferred;number=1.2'."""
    return (f"{_TAG_PREFIX};id={clause.clause_id};version={clause.version};position={clause.position or ''};"
            f"number={clause.number}")


def parse_clause_tag(tag: str) -> ClauseTag | None:
    """The clause a content-control tag names, or None if it is not one of ours."""
    match = _TAG.match(tag)
    if match is None:
        return None
    return ClauseTag(match[1], int(match[2]), match[3] or None, match[4])


def bookmark_name(index: int, paragraph: int, clause: AgreementClause) -> str:
    """The bookmark over one paragraph of a clause: 'qa_c<index>p<paragraph>_<clause id>', cut to Word's 40
    characters. `index` counts clauses from 1 in agreement order; `paragraph` is 0 for the heading, then 1, 2, ...

    One bookmark per paragraph, not one over the clause: LibreOffice splits a bookmark that spans paragraphs in a
    content control when it saves, but keeps one inside a paragraph.
    """
    return f"qa_c{index}p{paragraph}_{clause.clause_id}"[:40]


def parse_bookmark(name: str) -> tuple[int, int] | None:
    """(clause index from 1, paragraph from 0) of one of our bookmarks, or None."""
    match = _BOOKMARK.match(name)
    return (int(match[1]), int(match[2])) if match else None


def paragraph_text(p: Any) -> str:
    """The visible text of a w:p (w:t, w:tab as tab, w:br as newline), deleted text left out."""
    parts = []
    for node in p.iter(qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr")):
        if node.tag == qn("w:t"):
            parts.append(node.text or "")
        elif node.tag == qn("w:tab"):
            if node.getparent().tag == qn("w:r"):
                parts.append("\t")
        else:
            parts.append("\n")
    return "".join(parts)


def _same(shown: str, expected: str) -> bool:
    return _SPACES.sub(" ", shown).strip() == _SPACES.sub(" ", expected).strip()


def _clause_lines(clause: AgreementClause) -> list[str]:
    return [f"{clause.number}\t{clause.title}",
            *(f"{p.label}\t{p.text}" if p.label else p.text for p in clause.paragraphs)]


def _clauses(agreement: Agreement) -> Iterator[AgreementClause]:
    for section in agreement.sections:
        yield from section.clauses


def anchor_agreement(document: Any, agreement: Agreement) -> int:
    """Wrap every clause of `document` (a python-docx Document) in a tagged content control; bookmark each paragraph.

    Clauses are found in model order as a heading paragraph 'number<tab>title' followed by exactly their
    paragraphs, all direct children of the body. A template that shows no clause heading at all gets no anchors.

    Returns:
        The number of clauses anchored (0 or all of them).

    Raises:
        AnchorError: some clause headings are shown but a clause is missing or its text differs from the model.
    """
    body = document.element.body
    blocks = list(body)
    clauses = list(_clauses(agreement))
    found: list[tuple[int, AgreementClause]] = []
    cursor = 0
    for clause in clauses:
        lines = _clause_lines(clause)
        start = next((i for i in range(cursor, len(blocks)) if blocks[i].tag == qn("w:p")
                      and _same(paragraph_text(blocks[i]), lines[0])), None)
        if start is None:
            if found:
                raise AnchorError(f"clause {clause.number} {clause.title} ({clause.clause_id}) is not shown as a "
                                  "heading paragraph after the clause before it")
            continue
        shown = blocks[start:start + len(lines)]
        if len(shown) < len(lines) or any(b.tag != qn("w:p") or not _same(paragraph_text(b), line)
                                          for b, line in zip(shown, lines, strict=False)):
            raise AnchorError(f"clause {clause.number} {clause.title} ({clause.clause_id}): the paragraphs after "
                              "its heading are not its text")
        found.append((start, clause))
        cursor = start + len(lines)
    if not found:
        return 0
    if len(found) != len(clauses):
        missing = clauses[0] if found[0][1] is not clauses[0] else clauses[len(found)]
        raise AnchorError(f"clause {missing.number} {missing.title} ({missing.clause_id}) is not shown")
    next_bookmark = _BOOKMARK_ID_BASE
    for index, (start, clause) in enumerate(found, 1):
        paragraphs = blocks[start:start + len(_clause_lines(clause))]
        _wrap(paragraphs, clause, index)
        for number, p in enumerate(paragraphs):
            _bookmark(p, bookmark_name(index, number, clause), next_bookmark)
            next_bookmark += 1
    return len(found)


def _wrap(paragraphs: Sequence[Any], clause: AgreementClause, index: int) -> None:
    sdt = OxmlElement("w:sdt")
    props = OxmlElement("w:sdtPr")
    for name, value in (("w:alias", f"{clause.number} {clause.title}"), ("w:tag", clause_tag(clause)),
                        ("w:id", str(ANCHOR_SDT_ID_BASE + index))):
        child = OxmlElement(name)
        child.set(qn("w:val"), value)
        props.append(child)
    sdt.append(props)
    content = OxmlElement("w:sdtContent")
    sdt.append(content)
    paragraphs[0].addprevious(sdt)
    for p in paragraphs:
        content.append(p)  # moves it


def _bookmark(p: Any, name: str, bookmark_id: int) -> None:
    """A bookmark over the whole of paragraph `p`: start after its w:pPr, end as its last child."""
    start = OxmlElement("w:bookmarkStart")
    start.set(qn("w:id"), str(bookmark_id))
    start.set(qn("w:name"), name)
    ppr = p.find(qn("w:pPr"))
    if ppr is None:
        p.insert(0, start)
    else:
        ppr.addnext(start)
    end = OxmlElement("w:bookmarkEnd")
    end.set(qn("w:id"), str(bookmark_id))
    p.append(end)


def set_custom_properties(document: Any, properties: Mapping[str, str]) -> None:
    """Write `properties` as the package's custom file properties (replacing any the template had)."""
    package = document.part.package
    rels = package.rels
    for key, rel in list(rels.items()):
        if rel.reltype == RELATIONSHIP_TYPE.CUSTOM_PROPERTIES:
            del rels[key]
    entries = "".join(
        f'<property fmtid="{_CUSTOM_PROPS_FMTID}" pid="{pid}" name="{escape(name, {chr(34): "&quot;"})}">'
        f"<vt:lpwstr>{escape(value)}</vt:lpwstr></property>"
        for pid, (name, value) in enumerate(properties.items(), 2))
    blob = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Properties xmlns="{_CUSTOM_NS}" xmlns:vt="{_VT_NS}">{entries}</Properties>').encode()
    part = Part(PackURI("/docProps/custom.xml"), CONTENT_TYPE.OFC_CUSTOM_PROPERTIES, blob, package)
    package.relate_to(part, RELATIONSHIP_TYPE.CUSTOM_PROPERTIES)


def agreement_properties(agreement: Agreement) -> dict[str, str]:
    """The custom properties identifying the agreement a DOCX was rendered from."""
    digest = agreement.model_digest or agreement.with_digest().model_digest
    return {PROPERTY_AGREEMENT_ID: agreement.id, PROPERTY_VERSION: str(agreement.version), PROPERTY_DIGEST: digest}

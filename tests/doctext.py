"""Text of rendered agreements for tests: the DOCX read from its XML, the PDF page by page through pypdfium2.

One helper for every test that reads what a document says (tests/test_build.py, tests/test_typeset.py,
tests/test_pdf_says_what_docx_says.py). No LibreOffice: the DOCX is read as XML, so the paragraphs inside the
content controls that anchor each clause (which python-docx's `document.paragraphs` skips) are included.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from lxml import etree

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@dataclass(frozen=True)
class Block:
    """One paragraph (its style name and text) or one table row (style "row", cells joined by a tab).

    `repeats` marks a table's header row, which repeats at the top of each page the table runs onto.
    """

    style: str
    text: str
    repeats: bool = False


def _paragraph_text(element: etree._Element) -> str:
    parts: list[str] = []
    for node in element.iter(f"{W}t", f"{W}tab", f"{W}br"):
        if node.getparent().tag == f"{W}tabs":
            continue  # a tab stop of the paragraph's properties, not a tab character
        if node.tag == f"{W}t":
            parts.append(node.text or "")
        else:
            parts.append("\t" if node.tag == f"{W}tab" else "\n")
    return "".join(parts)


def _style_names(package: zipfile.ZipFile) -> dict[str, str]:
    styles = etree.fromstring(package.read("word/styles.xml"))
    names = {}
    for style in styles.iter(f"{W}style"):
        name = style.find(f"{W}name")
        names[style.get(f"{W}styleId", "")] = name.get(f"{W}val", "") if name is not None else ""
    return names


def docx_blocks(path: Path) -> list[Block]:
    """Every body paragraph (style name, text) and every table row, in document order.

    Paragraphs inside tables are read with their row: a row is its cells' texts joined by a tab, each cell's
    paragraphs joined by a space.
    """
    with zipfile.ZipFile(path) as package:
        root = etree.fromstring(package.read("word/document.xml"))
        names = _style_names(package)
    body = root.find(f"{W}body")
    assert body is not None, f"{path}: no document body"
    blocks: list[Block] = []
    for element in body.iter(f"{W}p", f"{W}tbl"):
        if any(ancestor.tag == f"{W}tbl" for ancestor in element.iterancestors()):
            continue
        if element.tag == f"{W}tbl":
            for row in element.iter(f"{W}tr"):
                cells = [" ".join(_paragraph_text(p) for p in cell.iter(f"{W}p")) for cell in row.iter(f"{W}tc")]
                repeats = row.find(f"{W}trPr/{W}tblHeader") is not None
                blocks.append(Block("row", "\t".join(cells), repeats))
        else:
            style = element.find(f"{W}pPr/{W}pStyle")
            style_id = style.get(f"{W}val", "") if style is not None else ""
            blocks.append(Block(names.get(style_id, style_id), _paragraph_text(element)))
    return blocks


def docx_text(path: Path) -> str:
    """All paragraphs and table rows of the DOCX body, one per line."""
    return "\n".join(block.text for block in docx_blocks(path))


def pdf_pages(path: Path) -> list[str]:
    """The text of each page, as pypdfium2 reads it (content-stream order)."""
    document = pdfium.PdfDocument(str(path))
    try:
        pages = []
        for page in document:
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return pages
    finally:
        document.close()


def squash(text: str) -> str:
    """Text without any whitespace (line breaks, tabs and justification spaces fall where the layout puts them).

    pdfium marks a hyphen at the end of a line as U+FFFE (or U+0002); the Typst PDF is set without hyphenation,
    so each of them is a real hyphen of the text that happened to fall at a line end.
    """
    return re.sub(r"\s+", "", text.replace("\ufffe", "-").replace("\x02", "-"))


def page_refs(node_ref: Any) -> list[Any]:
    """The page objects under a pyHanko page-tree node, in page order."""
    node = node_ref.get_object()
    if node["/Type"] == "/Page":
        return [node_ref]
    return [ref for kid in node.raw_get("/Kids") for ref in page_refs(kid)]


R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _running_text(element: etree._Element) -> str:
    """A header or footer's text with each field's shown result replaced by its name in braces ("{PAGE}")."""
    parts: list[str] = []
    instruction: list[str] = []
    in_result = False
    for node in element.iter(f"{W}t", f"{W}tab", f"{W}instrText", f"{W}fldChar"):
        if node.getparent().tag == f"{W}tabs":
            continue
        if node.tag == f"{W}fldChar":
            kind = node.get(f"{W}fldCharType")
            if kind == "begin":
                instruction = []
            elif kind == "separate":
                in_result = True
                parts.append("{" + "".join(instruction).split()[0] + "}")
            else:
                in_result = False
        elif node.tag == f"{W}instrText":
            instruction.append(node.text or "")
        elif not in_result:
            parts.append("\t" if node.tag == f"{W}tab" else node.text or "")
    return "".join(parts)


def docx_running_texts(path: Path) -> dict[str, str]:
    """The texts of the DOCX's headers and footers, keyed "header default", "footer first" and so on.

    Fields show as their names in braces: "Page {PAGE} of {NUMPAGES}".
    """
    with zipfile.ZipFile(path) as package:
        root = etree.fromstring(package.read("word/document.xml"))
        rels = etree.fromstring(package.read("word/_rels/document.xml.rels"))
        targets = {rel.get("Id"): rel.get("Target") for rel in rels.iter(f"{PACKAGE_RELS}Relationship")}
        texts = {}
        for kind in ("header", "footer"):
            for reference in root.iter(f"{W}{kind}Reference"):
                part = etree.fromstring(package.read(f"word/{targets[reference.get(f'{R}id')]}"))
                texts[f"{kind} {reference.get(f'{W}type')}"] = _running_text(part)
    return texts

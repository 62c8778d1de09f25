"""The text of a rendered agreement DOCX, as a reader sees it: every paragraph (including those inside the
content controls that anchor each clause, which python-docx's `document.paragraphs` skips) and every table
row, in document order. No LibreOffice: the DOCX is rendered from the assembled Agreement by docxtpl."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from lxml import etree

from qa_builder.answers.load import load_answers
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.models.agreement import Agreement
from qa_builder.models.library import ClauseLibrary
from qa_builder.render.docx import default_template_path, render_docx

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _paragraph(element: etree._Element) -> str:
    parts: list[str] = []
    for node in element.iter(f"{W}t", f"{W}tab", f"{W}br"):
        if node.tag == f"{W}t":
            parts.append(node.text or "")
        elif node.tag == f"{W}tab":
            parts.append("\t")
        else:
            parts.append("\n")
    return "".join(parts)


def docx_text(path: Path) -> str:
    """Paragraphs one per line; a table row as its cells joined by ' | '; nothing of the document left out."""
    with zipfile.ZipFile(path) as package:
        root = etree.fromstring(package.read("word/document.xml"))
    body = root.find(f"{W}body")
    assert body is not None
    lines: list[str] = []
    for element in body.iter(f"{W}p", f"{W}tbl"):
        if any(a.tag == f"{W}tbl" for a in element.iterancestors()):
            continue  # a table's paragraphs are read with its rows
        if element.tag == f"{W}tbl":
            for row in element.iter(f"{W}tr"):
                cells = [" ".join(_paragraph(p) for p in cell.iter(f"{W}p")).strip() for cell in row.iter(f"{W}tc")]
                lines.append(" | ".join(cells))
        else:
            lines.append(_paragraph(element))
    return "\n".join(lines)


def agreement_and_text(answers: Path, library: ClauseLibrary, *, allow_gaps: bool = False) -> tuple[Agreement, str]:
    """Assemble the agreement for an answers file (refusing coverage gaps, as `build` does, unless `allow_gaps`),
    render its DOCX with the bundled template and return the model and the document's text."""
    agreement = prepare_agreement(load_answers(answers), library, allow_gaps=allow_gaps)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "agreement.docx"
        render_docx(agreement, default_template_path(), out)
        return agreement, docx_text(out)

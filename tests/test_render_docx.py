"""The DOCX render's shortcuts change nothing in the document it writes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from docxtpl import DocxTemplate

from qa_builder.answers.load import load_answers
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import Agreement
from qa_builder.render import docx as docx_render
from qa_builder.render.docx import default_template_path, render_docx
from tests.conftest import DEMO_EXAMPLE


def _document_xml(path: Path) -> bytes:
    with zipfile.ZipFile(path) as package:
        return package.read("word/document.xml")


@pytest.fixture(scope="module")
def demo() -> Agreement:
    return prepare_agreement(load_answers(DEMO_EXAMPLE), load_library())


def test_skipped_listing_pass_gives_the_same_document(demo: Agreement, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """docxtpl's listing pass (tabs, new lines, U+0007, form feeds in rendered text → Word elements) is skipped for
    a part without them; with a line break in an address it runs, and both ways give docxtpl's own result."""
    sponsor = demo.sponsor.model_copy(update={"address": "Building 4\nKanalstrasse 12"})
    for label, agreement in (("plain", demo), ("line break", demo.model_copy(update={"sponsor": sponsor}))):
        fast, full = tmp_path / f"{label}-fast.docx", tmp_path / f"{label}-full.docx"
        render_docx(agreement, default_template_path(), fast)
        with monkeypatch.context() as patch:
            patch.setattr(docx_render._CachedTemplate, "resolve_listing", DocxTemplate.resolve_listing)
            render_docx(agreement, default_template_path(), full)
        assert _document_xml(fast) == _document_xml(full), label
        assert (b"Building 4</w:t><w:br/>" in _document_xml(fast)) == (label == "line break")

"""The Typst PDF says exactly what the DOCX says: for every bundled example and every arrangement-suite answers
file, both are rendered from the same Agreement (docxtpl and Typst; no LibreOffice) and compared clause by clause.

What may differ, because the two renderers lay text out differently: whitespace (line breaks, tabs, justification),
a hyphen that falls at a line end, where pages break, and the running header and footer (each page's is checked
against the DOCX's own header and footer). The DOCX's table of contents is a field that only a word processor
fills in; the PDF's entries are checked to be the DOCX's section headings. Anything else fails, naming the clause
and the first words that differ.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qa_builder.answers.load import load_answers
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.library.loader import load_library
from qa_builder.models.library import ClauseLibrary
from qa_builder.render.docx import default_template_path, render_docx
from qa_builder.render.typeset import PdfTypesetter
from tests.conftest import EXAMPLES, MINI_LIBRARY, MINIMAL_ANSWERS, ROOT
from tests.doctext import Block, docx_blocks, docx_running_texts, pdf_pages, squash

ARRANGEMENTS = ROOT / "tests" / "arrangements"
# The small test library's agreement too: its party names are in Latin, Japanese and German script.
ANSWERS_FILES = [MINIMAL_ANSWERS, *sorted(EXAMPLES.glob("*.yaml")),
                 *sorted(p for p in ARRANGEMENTS.glob("*.yaml") if not p.name.endswith(".expect.yaml"))]
SECTION_STYLES = ("heading 1", "heading 2", "TOC Heading")
TOC_ENTRY_STYLES = ("TOC 1", "TOC 2")


@dataclass
class Unit:
    """A stretch of the document named by the heading it starts with (the cover before any heading)."""

    name: str
    blocks: list[Block] = field(default_factory=list)


def _docx_units(docx: Path) -> tuple[list[Unit], list[str]]:
    """The DOCX's units in order, and its level-1 headings (what a filled-in table of contents lists)."""
    units = [Unit("cover")]
    headings = []
    for block in docx_blocks(docx):
        if block.style in TOC_ENTRY_STYLES:
            continue  # the TOC field's placeholder: a word processor replaces it
        if block.style in SECTION_STYLES:
            units.append(Unit(block.text.replace("\t", " ")))
            if block.style == "heading 1":
                headings.append(block.text)
        units[-1].blocks.append(block)
    return units, headings


def _strip(page: str, running: str, *, at_end: bool, where: str) -> str:
    """The page without its header (`at_end` False) or footer, which must say `running` (whitespace aside)."""
    words = running.split()
    if not words:
        return page
    pattern = r"\s+".join(re.escape(w) for w in words)
    match = re.search(rf"{pattern}\s*$" if at_end else rf"^\s*{pattern}", page)
    if match is None:
        edge = page[-len(running) - 40:] if at_end else page[:len(running) + 40]
        raise AssertionError(f"{where}: the PDF's {'footer' if at_end else 'header'} is not the DOCX's "
                             f"{' '.join(words)!r}; the page {'ends' if at_end else 'starts'} {edge!r}")
    return page[:match.start()] if at_end else page[match.end():]


def _pdf_body(pdf: Path, running: dict[str, str], name: str) -> list[str]:
    """Each page's text without the running header and footer, which must be the DOCX's."""
    pages = pdf_pages(pdf)
    bodies = []
    for number, page in enumerate(pages, start=1):
        where = f"{name}, page {number}"
        if number == 1:
            page = _strip(page, running.get("footer first", ""), at_end=True, where=where)
        else:
            footer = running["footer default"].replace("{PAGE}", str(number)).replace("{NUMPAGES}", str(len(pages)))
            page = _strip(page, footer, at_end=True, where=where)
            page = _strip(page, running["header default"], at_end=False, where=where)
        bodies.append(page)
    return bodies


def _words_at(words: list[str], starts: list[int], index: int, count: int = 8) -> str:
    """`count` words from the word that holds squashed position `index`."""
    first = max(bisect.bisect_right(starts, index) - 1, 0)
    return " ".join(words[first:first + count])


class Squashed:
    """A text without whitespace that still knows its words, to quote them."""

    def __init__(self, text: str) -> None:
        self.words = [squash(w) for w in text.replace("\ufffe", "-\n").replace("\x02", "-\n").split()]
        self.starts = []
        position = 0
        for word in self.words:
            self.starts.append(position)
            position += len(word)
        self.text = "".join(self.words)

    def quote(self, index: int) -> str:
        return _words_at(self.words, self.starts, index)


def _take_toc(pages: list[str], headings: list[str], name: str) -> list[str]:
    """The PDF's table of contents checked against the DOCX's headings, then left out of the compared text."""
    toc_page = next((i for i, page in enumerate(pages) if page.lstrip().startswith("Contents")), None)
    assert toc_page is not None, f"{name}: the PDF has no page starting with 'Contents'"
    lines = pages[toc_page].splitlines()
    entries = [line for line in lines[1:] if line.rstrip().rstrip("0123456789").endswith("....")]
    shown = [squash(line.rstrip().rstrip("0123456789").rstrip(".")) for line in entries]
    assert shown == [squash(h) for h in headings], f"{name}: the PDF's contents {shown} are not the DOCX headings"
    kept = [line for line in lines if line not in entries]
    return [*pages[:toc_page], "\n".join(kept), *pages[toc_page + 1:]]


@pytest.fixture(scope="module")
def typesetter() -> Iterator[PdfTypesetter]:
    with PdfTypesetter() as engine:
        yield engine


@pytest.fixture(scope="module")
def library() -> ClauseLibrary:
    return load_library()


@pytest.mark.parametrize("answers", ANSWERS_FILES, ids=[p.relative_to(ROOT).as_posix() for p in ANSWERS_FILES])
def test_the_pdf_says_exactly_what_the_docx_says(answers: Path, tmp_path: Path, typesetter: PdfTypesetter,
                                                 library: ClauseLibrary) -> None:
    name = answers.relative_to(ROOT).as_posix()
    if answers == MINIMAL_ANSWERS:
        library = load_library(MINI_LIBRARY)
    agreement = prepare_agreement(load_answers(answers), library, allow_gaps=True)
    docx, pdf = tmp_path / "agreement.docx", tmp_path / "agreement.pdf"
    render_docx(agreement, default_template_path(), docx)
    typesetter.typeset(agreement, pdf)

    units, headings = _docx_units(docx)
    pages = _take_toc(_pdf_body(pdf, docx_running_texts(docx), name), headings, name)
    body = Squashed("\n".join(pages))
    page_starts = set(itertools.accumulate((len(squash(p)) for p in pages), initial=0))
    position = 0
    for unit in units:
        header_row = ""
        for block in unit.blocks:
            wanted = Squashed(block.text)
            if block.repeats:
                header_row = wanted.text
            elif (header_row and position in page_starts and body.text.startswith(header_row, position)
                  and not body.text.startswith(wanted.text, position)):
                position += len(header_row)  # the table's header row, repeated on the page it runs onto
            got = body.text[position:position + len(wanted.text)]
            if got != wanted.text:
                differs = next((i for i, (x, y) in enumerate(zip(wanted.text, got, strict=False)) if x != y),
                               min(len(got), len(wanted.text)))
                raise AssertionError(f"{name}: '{unit.name}' differs: DOCX says {wanted.quote(differs)!r}, "
                                     f"PDF says {body.quote(position + differs)!r}")
            position += len(wanted.text)
    assert position == len(body.text), f"{name}: the PDF goes on after the DOCX ends: {body.quote(position)!r}"

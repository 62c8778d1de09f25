"""The home of pypdfium2 (PDFium) in qa-builder: find words on PDF pages, and render pages as grey pixels.

Used by the build (placing signature fields over the signatory blocks) and by verification (comparing what a
reader sees before and after a change). API: https://pypdfium2.readthedocs.io/

PDFium is not thread-safe (pypdfium2's documentation: "PDFium is inherently not thread-safe"; calls from two
threads at once fail with "Failed to load page", or corrupt memory). The build places fields from several threads
(`regenerate --jobs`, the web app), so every call into PDFium here holds one process-wide lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from threading import RLock

import pypdfium2 as pdfium

PdfiumError = pdfium.PdfiumError

_PDFIUM = RLock()  # one thread in PDFium at a time, per process


@dataclass(frozen=True)
class TextHit:
    """Where a phrase was found: page index (0-based), its left edge and its lowest bottom, in PDF points."""

    page: int
    left: float
    bottom: float


def find_phrases(pdf: bytes, phrases: list[str]) -> dict[str, TextHit]:
    """The first occurrence of each phrase (whole words, case-sensitive), searching from the last page back.

    Args:
        pdf: The PDF file's bytes.
        phrases: The phrases to find.

    Returns:
        The phrases found, each with its hit; a phrase that is not on any page is left out.

    Raises:
        PdfiumError: the PDF cannot be opened.
    """
    with _PDFIUM:
        return _find_phrases(pdf, phrases)


def _find_phrases(pdf: bytes, phrases: list[str]) -> dict[str, TextHit]:
    found: dict[str, TextHit] = {}
    document = pdfium.PdfDocument(pdf)
    try:
        for index in reversed(range(len(document))):
            page = document[index]
            textpage = page.get_textpage()
            try:
                for phrase in phrases:
                    if phrase in found:
                        continue
                    searcher = textpage.search(phrase, match_case=True, match_whole_word=True)
                    hit = searcher.get_next()
                    searcher.close()
                    if hit is None:
                        continue
                    start, count = hit
                    left = textpage.get_charbox(start)[0]
                    bottom = min(textpage.get_charbox(start + i)[1] for i in range(count))
                    found[phrase] = TextHit(index, left, bottom)
            finally:
                textpage.close()
                page.close()
            if len(found) == len(phrases):
                break
    finally:
        document.close()
    return found


@dataclass(frozen=True)
class GreyPage:
    """A page rendered as 8-bit grey pixels, row by row (`stride` bytes per row; 0 = black, 255 = white)."""

    width: int
    height: int
    stride: int
    pixels: bytes

    def at(self, x: int, y: int) -> int:
        """The grey level of the pixel in column `x`, row `y` (from the top)."""
        return self.pixels[y * self.stride + x]

    def row(self, y: int) -> bytes:
        """The `width` pixels of row `y`."""
        start = y * self.stride
        return self.pixels[start:start + self.width]


class RenderedDocument:
    """An open PDF whose pages can be rendered, form fields included (see `rendered`)."""

    def __init__(self, document: pdfium.PdfDocument) -> None:
        self._document = document

    def __len__(self) -> int:
        return len(self._document)

    def page_size(self, number: int) -> tuple[float, float]:
        """Width and height of page `number` (1-based) in PDF points."""
        page = self._document[number - 1]
        try:
            width, height = page.get_size()
            return float(width), float(height)
        finally:
            page.close()

    def grey(self, number: int, scale: float, *, annotations: bool) -> GreyPage:
        """Page `number` (1-based) at `scale` pixels per point, with or without annotations and form widgets."""
        page = self._document[number - 1]
        try:
            bitmap = page.render(scale=scale, grayscale=True, draw_annots=annotations, may_draw_forms=annotations)
            try:
                return GreyPage(bitmap.width, bitmap.height, bitmap.stride, bytes(bitmap.buffer))
            finally:
                bitmap.close()
        finally:
            page.close()


@contextmanager
def rendered(pdf: bytes) -> Iterator[RenderedDocument]:
    """Open `pdf` for rendering, with the form environment so that field widgets are drawn.

    The calling thread holds PDFium's lock until the block ends: keep the block short.

    Raises:
        PdfiumError: the PDF cannot be opened.
    """
    with _PDFIUM:
        document = pdfium.PdfDocument(pdf)
        try:
            document.init_forms()
            yield RenderedDocument(document)
        finally:
            document.close()

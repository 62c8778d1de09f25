"""What a reader sees: compare the pages of a signed revision with the final document (shadow attacks,
issue 15 item 9; pages are rendered by qa_builder.pdfium).

A shadow attack prepares a document so that a change its signature permits (filling a form field) shows other
content than was signed: a field laid over signed text is filled with an opaque box and new words. The structure
then shows only "form filling". So the pages that permitted changes touched are rendered, at low resolution,
as signed and as they are now, and every visible difference must be explained by a permitted change:

- inside a later signature's widget or an added annotation, anything may change (its own appearance);
- inside a form field's widget whose value changed, new ink may appear, but the signed page content under it
  (its text and lines, rendered without annotations) must stay as it was; a widget whose value did not change
  must look as it did (a "refreshed" appearance that shows other words is the replace kind of shadow attack);
- anywhere else, nothing may change.

Differences left over are reported with their page and region in PDF points.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from qa_builder.pdfium import GreyPage, RenderedDocument, rendered

DPI = 50  # low resolution keeps rendering bounded (one A4 page: 414 x 585 grey pixels)
_INK = 160  # grey level below which a pixel is ink (text, lines) on a light page
_DIFFERENT = 64  # grey-level change that counts as visible
_MIN_PIXELS = 12  # smaller differences are antialiasing noise
_MARGIN_PT = 2.0  # widget borders are drawn on the rectangle's edge

RegionKind = Literal["free", "fill"]


@dataclass(frozen=True)
class Region:
    """A rectangle (PDF points, x1 < x2, y1 < y2) on a 1-based page where a permitted change may show."""

    page: int
    kind: RegionKind  # "free": a signature or annotation appearance; "fill": a filled field (signed ink stays)
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class VisibleChange:
    """A visible difference no permitted change explains."""

    page: int
    box: tuple[float, float, float, float]  # PDF points
    pixels: int

    def sentence(self) -> str:
        x1, y1, x2, y2 = (round(v) for v in self.box)
        return (f"page {self.page}, region ({x1}, {y1})-({x2}, {y2}) pt: a visible change that no permitted change "
                f"explains (signed content hidden or replaced)")


def unexplained_changes(signed: bytes, final: bytes, pages: set[int], regions: list[Region],
                        max_pages: int = 20) -> list[VisibleChange]:
    """Visible differences between the signed revision `signed` and the document `final` on `pages` (1-based)
    that `regions` do not explain; at most `max_pages` pages are rendered.

    Raises:
        qa_builder.pdfium.PdfiumError: a revision cannot be opened or rendered.
    """
    found: list[VisibleChange] = []
    with rendered(signed) as before, rendered(final) as after:
        for number in sorted(pages)[:max_pages]:
            if number > len(before) or number > len(after):
                continue
            change = _compare(before, after, number, [r for r in regions if r.page == number])
            if change is not None:
                found.append(change)
    return found


def _compare(before: RenderedDocument, after: RenderedDocument, number: int,
             regions: list[Region]) -> VisibleChange | None:
    width_pt, height_pt = before.page_size(number)
    scale = DPI / 72
    old = before.grey(number, scale, annotations=True)
    new = after.grey(number, scale, annotations=True)
    if old.pixels == new.pixels:
        return None
    content = before.grey(number, scale, annotations=False) if any(r.kind == "fill" for r in regions) else None
    if (old.width, old.height) != (new.width, new.height):
        return VisibleChange(number, (0.0, 0.0, width_pt, height_pt), old.width * old.height)
    boxes = [(r.kind, _pixel_box(r.box, scale, height_pt)) for r in regions]
    count, x_min, y_min, x_max, y_max = 0, old.width, old.height, -1, -1
    for y, x in _differences(old, new):
        if _explained(x, y, boxes, content):
            continue
        count += 1
        x_min, x_max, y_min, y_max = min(x_min, x), max(x_max, x), min(y_min, y), max(y_max, y)
    if count < _MIN_PIXELS:
        return None
    box = (x_min / scale, height_pt - (y_max + 1) / scale, (x_max + 1) / scale, height_pt - y_min / scale)
    return VisibleChange(number, box, count)


def _explained(x: int, y: int, boxes: list[tuple[RegionKind, tuple[int, int, int, int]]],
               content: GreyPage | None) -> bool:
    for kind, (x1, y1, x2, y2) in boxes:
        inside = x1 <= x < x2 and y1 <= y < y2
        if inside and (kind == "free" or content is None or content.at(x, y) >= _INK):
            return True  # a signature or annotation appearance, or new ink on a blank part of a filled field
    return False


def _pixel_box(box: tuple[float, float, float, float], scale: float,
               height_pt: float) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    return (int((x1 - _MARGIN_PT) * scale), int((height_pt - y2 - _MARGIN_PT) * scale),
            int((x2 + _MARGIN_PT) * scale) + 1, int((height_pt - y1 + _MARGIN_PT) * scale) + 1)


def _differences(old: GreyPage, new: GreyPage) -> Iterator[tuple[int, int]]:
    """(row, column) of pixels whose grey level differs visibly; identical rows are skipped in C."""
    for y in range(old.height):
        old_row, new_row = old.row(y), new.row(y)
        if old_row == new_row:
            continue
        for x in range(old.width):
            if abs(old_row[x] - new_row[x]) >= _DIFFERENT:
                yield y, x

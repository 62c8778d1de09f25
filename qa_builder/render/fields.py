"""Place one empty, named signature field per signatory over that signatory's block in the PDF."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from pyhanko.pdf_utils.generic import pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

from qa_builder.errors import SignatureFieldError
from qa_builder.files import atomic_writer
from qa_builder.pdfium import find_phrases

CAPTION_PREFIX = "Signature field "
# The signature cell of the template is 9.0 cm wide and 3.6 cm high; the field fills it below the caption.
FIELD_WIDTH_PT = 240
FIELD_HEIGHT_PT = 80


@dataclass(frozen=True)
class FieldPlacement:
    """Where a signature field sits: page index (0-based) and box (x1, y1, x2, y2) in PDF points."""

    name: str
    page: int
    box: tuple[int, int, int, int]


def locate_fields(pdf: bytes, names: list[str]) -> list[FieldPlacement]:
    """Find each signatory's caption ('field <name>') and compute the field box under it.

    Raises:
        SignatureFieldError: a caption is missing (template without signature blocks?).
    """
    hits = find_phrases(pdf, [CAPTION_PREFIX + name for name in names])
    found: dict[str, FieldPlacement] = {}
    for name in names:
        hit = hits.get(CAPTION_PREFIX + name)
        if hit is not None:
            x1, y2 = round(hit.left), round(hit.bottom - 3.0)
            found[name] = FieldPlacement(name, hit.page, (x1, y2 - FIELD_HEIGHT_PT, x1 + FIELD_WIDTH_PT, y2))
    missing = [n for n in names if n not in found]
    if missing:
        raise SignatureFieldError(
            f"the PDF has no signature block for {', '.join(missing)}; the template must show "
            f"'{CAPTION_PREFIX}<field name>' in each signature cell"
        )
    return [found[n] for n in names]


def add_signature_fields(pdf_path: Path, names: list[str],
                         intended_for: dict[str, str] | None = None) -> list[FieldPlacement]:
    """Add empty signature fields for `names` to the PDF in place (atomically, as an incremental update).

    Args:
        pdf_path: the PDF to update.
        names: field names, each shown as "Signature field <name>" in its signatory's block.
        intended_for: per field, who is to sign it; stored as the field's /TU (shown as a tooltip, listed by
            `qa-builder sign` without --field).
    """
    data = pdf_path.read_bytes()
    placements = locate_fields(data, names)
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    for placement in placements:
        append_signature_field(writer, SigFieldSpec(placement.name, on_page=placement.page, box=placement.box))
    for ref in writer.root["/AcroForm"]["/Fields"]:
        field = ref.get_object()
        description = (intended_for or {}).get(str(field.get("/T", "")))
        if description:
            field["/TU"] = pdf_string(description)
    with atomic_writer(pdf_path) as handle:
        writer.write(handle)  # type: ignore[no-untyped-call]
    return placements

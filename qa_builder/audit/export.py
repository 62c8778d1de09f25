"""Exports of the audit trail for an inspector: CSV for tools, a PDF/A report for people."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa_builder.audit.events import AuditEvent, DetailValue, canonical, content_hash
from qa_builder.audit.store import AuditTrail, StoredRow
from qa_builder.audit.verify import UNCHECKED_REVOCATION, SealStatus, TrailVerdict, verify_trail
from qa_builder.errors import AuditError
from qa_builder.files import write_bytes_atomic
from qa_builder.printable import printable

if TYPE_CHECKING:
    from qa_builder.render.pdf import PdfConverter

CSV_COLUMNS = ("seq", "time", "actor", "signer", "action", "outcome", "agreement_id", "agreement_version", "files",
               "details", "prev_hash", "hash", "problem")
"""`problem` is empty for a sound event; for one that cannot be read or no longer matches its hash it says what is
wrong, so an inspector's export never silently leaves a tampered event out."""
PDF_COLUMNS = ("Seq", "Time (UTC)", "Actor / signer", "Action", "Outcome", "Agreement", "Files", "Details")
_PDF_WIDTHS_CM = (1.2, 3.4, 4.2, 2.4, 1.7, 2.6, 4.4, 6.8)
_FONT_PT = 7.5


def export_csv(workspace: Path, out: Path) -> Path:
    """Write every event as one CSV row (header first; files as "name sha256" pairs, details as canonical JSON).

    An event that cannot be read, or whose content no longer matches its hash, is still a row, with what is
    wrong in the `problem` column. The export itself is then recorded as an `export` event.

    Raises:
        AuditError: the workspace has no trail, or it cannot be read.
    """
    return export_csv_flagged(workspace, out)[0]


def export_csv_flagged(workspace: Path, out: Path, *, replace: bool = True) -> tuple[Path, list[str]]:
    """`export_csv`, also returning the problem of each flagged row (empty when every event is sound).

    With `replace=False`, `out` is only created: OutputExistsError if it exists when the export is written.
    """
    trail = _existing_trail(workspace)
    rows = [_stored_csv_row(stored) for stored in trail.rows()]
    flagged = [str(row[-1]) for row in rows if row[-1]]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    write_bytes_atomic(out, buffer.getvalue().encode("utf-8"), replace=replace)
    _record_or_remove(trail, out, {"format": "csv", "events": len(rows), "flagged": len(flagged)})
    return out, flagged


def export_pdf(workspace: Path, out: Path, converter: PdfConverter | None = None, *,
               trust_roots: Sequence[Path] = (), replace: bool = True) -> Path:
    """Write a readable PDF/A report: title, workspace, time, chain status, seals, then a table of every event.

    Args:
        workspace: The workspace folder.
        out: The PDF to write (atomically).
        converter: A running LibreOffice pool; a one-worker pool is started when None.
        trust_roots: Passed to `verify_trail` for the chain status shown in the report.
        replace: Whether an existing `out` may be replaced; when False (no --force) a file that appeared while
            the report was made is kept and OutputExistsError raised.

    Raises:
        AuditError: the workspace has no trail, or it cannot be read.
        ConversionError: LibreOffice failed.
    """
    trail = _existing_trail(workspace)
    verdict = verify_trail(workspace, trust_roots)
    events = _readable_events(trail)
    with tempfile.TemporaryDirectory(prefix="qa-audit-") as scratch:
        docx, pdf = Path(scratch) / "audit-trail.docx", Path(scratch) / "audit-trail.pdf"
        report_docx(verdict, events).save(str(docx))
        _convert(docx, pdf, converter)
        write_bytes_atomic(out, pdf.read_bytes(), replace=replace)
    _record_or_remove(trail, out, {"format": "pdf", "events": len(events), "chain_intact": verdict.chain_intact})
    return out


def _record_or_remove(trail: AuditTrail, out: Path, details: dict[str, DetailValue]) -> None:
    """Record the export in the trail; when the trail refuses (a read-only workspace), remove the export: no
    export is left unrecorded.

    Raises:
        AuditError: the trail cannot be written.
    """
    try:
        trail.append("export", files=[out], details=details)
    except BaseException:
        out.unlink(missing_ok=True)
        raise


def _existing_trail(workspace: Path) -> AuditTrail:
    """The trail, checked up front to take the export's own event, so that no export is written unrecorded."""
    trail = AuditTrail(workspace)
    if not trail.exists():
        raise AuditError(f"{workspace} has no audit trail ({trail.path} does not exist)")
    trail.head()  # raises AuditError when the newest event is malformed and nothing can follow it
    return trail


def _readable_events(trail: AuditTrail) -> list[AuditEvent]:
    """Every event that still parses, in stored order (a damaged trail is still exported, gaps and all)."""
    from pydantic import ValidationError

    readable = []
    for row in trail.rows():
        try:
            readable.append(AuditEvent.model_validate_json(row.event))
        except ValidationError:
            continue
    return readable


def _convert(docx: Path, pdf: Path, converter: PdfConverter | None) -> None:
    if converter is not None:
        converter.convert(docx, pdf)
        return
    from qa_builder.render.pdf import PdfConverter

    with PdfConverter(workers=1) as pool:
        pool.convert(docx, pdf)


def _stored_csv_row(stored: StoredRow) -> list[str | int | None]:
    """One stored row as a CSV row, its last column saying what is wrong with it (empty when sound)."""
    from pydantic import ValidationError

    problem = stored.problem
    event = None
    if problem is None:
        try:
            event = AuditEvent.model_validate_json(stored.event)
        except ValidationError:
            problem = f"event {stored.seq} cannot be read as an audit event"
    if event is not None and not _hash_holds(stored, event):
        problem = f"event {stored.seq} was changed after it was written (its content no longer matches its hash)"
    if event is None:
        return [stored.seq] + [""] * (len(CSV_COLUMNS) - 3) + [stored.hash, problem]
    return [*_csv_row(event), problem or ""]


def _hash_holds(stored: StoredRow, event: AuditEvent) -> bool:
    try:
        record = json.loads(stored.event)
        return isinstance(record, dict) and content_hash(record) == event.hash == stored.hash
    except (ValueError, RecursionError, AuditError):
        return False


def _csv_row(event: AuditEvent) -> list[str | int | None]:
    files = "; ".join(f"{f.name} {f.sha256}" for f in event.files)
    details = canonical(event.details).decode("utf-8") if event.details else ""
    return [_cell(value) for value in (
        event.seq, event.time, event.actor, event.signer, event.action, event.outcome, event.agreement_id,
        event.agreement_version, files, details, event.prev_hash, event.hash)]


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str | int | None) -> str | int | None:
    """A CSV cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe (OWASP's
    advice against CSV injection). A file named '=HYPERLINK("http:__evil","Open").pdf', verified into the trail,
    was a live formula in the inspector's spreadsheet (session 6 attack)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def report_docx(verdict: TrailVerdict, events: Sequence[AuditEvent]) -> Any:
    """The inspector report as a python-docx Document: landscape A4, the table's header row repeated per page."""
    from docx import Document

    document = Document()
    _landscape(document)
    document.core_properties.title = "Audit trail report"
    document.core_properties.author = "qa-builder"
    document.add_heading("Audit trail report", level=1)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    for label, value in (("Workspace", printable(str(verdict.workspace.resolve()))), ("Generated", generated),
                         ("Events", str(verdict.events)), ("Chain status", _status_text(verdict))):
        paragraph = document.add_paragraph()
        paragraph.add_run(f"{label}: ").bold = True
        paragraph.add_run(value)
    for problem in verdict.problems:
        document.add_paragraph(printable(problem), style="List Bullet")
    document.add_heading("Seals", level=2)
    if not verdict.seals:
        document.add_paragraph("The trail has not been sealed.")
    for seal in verdict.seals:
        document.add_paragraph(printable(_seal_text(seal)), style="List Bullet")
    document.add_heading("Events", level=2)
    _events_table(document, events)
    return document


def _landscape(document: Any) -> None:
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm

    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))
    footer = section.footer.paragraphs[0]
    footer.text = "qa-builder audit trail report, page "
    _field(footer, "PAGE")
    footer.add_run(" of ")
    _field(footer, "NUMPAGES")


def _field(paragraph: Any, instruction: str) -> None:
    """Append a simple Word field (PAGE, NUMPAGES) that LibreOffice fills in when it converts."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), instruction)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _status_text(verdict: TrailVerdict) -> str:
    if verdict.intact:
        sealed = f", and {len(verdict.seals)} seal(s) check out" if verdict.seals else ""
        return f"VERIFIED: the hash chain of {verdict.events} events is intact{sealed}."
    return f"NOT VERIFIED: {verdict.first_problem}"


def _seal_text(seal: SealStatus) -> str:
    trust = UNCHECKED_REVOCATION if seal.revocation_unchecked else {
        None: "trust not checked", True: "trusted", False: "not trusted"}[seal.trusted]
    stamp = f"timestamped {seal.timestamp}" if seal.timestamp else "no timestamp"
    state = "checks out" if seal.ok else f"FAILS: {seal.problem}"
    return f"Event {seal.seq}, sealed {seal.sealed_at} by {seal.signer or 'unknown'} ({stamp}, {trust}): {state}"


def _events_table(document: Any, events: Sequence[AuditEvent]) -> None:
    from docx.shared import Cm

    table = document.add_table(rows=1, cols=len(PDF_COLUMNS))
    table.style = "Table Grid"
    table.autofit = False
    _fill_row(table.rows[0], PDF_COLUMNS, bold=True)
    _row_property(table.rows[0], "w:tblHeader")
    for event in events:
        row = table.add_row()
        _fill_row(row, _pdf_cells(event))
        _row_property(row, "w:cantSplit")
    for column, width in zip(table.columns, _PDF_WIDTHS_CM, strict=True):
        column.width = Cm(width)  # the grid, which LibreOffice follows
        for cell in column.cells:
            cell.width = Cm(width)  # each cell, which Word follows


def _fill_row(row: Any, texts: Sequence[str], *, bold: bool = False) -> None:
    from docx.shared import Pt

    for cell, text in zip(row.cells, texts, strict=True):
        run = cell.paragraphs[0].add_run(text)
        run.font.size = Pt(_FONT_PT)
        run.bold = bold


def _row_property(row: Any, tag: str) -> None:
    """Set an on/off row property: w:tblHeader (repeat on every page) or w:cantSplit (keep on one page)."""
    from docx.oxml import OxmlElement

    row._tr.get_or_add_trPr().append(OxmlElement(tag))


def _pdf_cells(event: AuditEvent) -> list[str]:
    """The cells of one event; every text from the event is escaped (no control characters, which DOCX cannot
    hold, and no line breaks or bidi controls that could forge or reorder what the inspector reads)."""
    who = printable(event.actor) + (f"\nsigned as {printable(event.signer)}" if event.signer else "")
    agreement = printable(event.agreement_id or "")
    if event.agreement_version is not None:
        agreement += f" v{event.agreement_version}"
    files = "\n".join(f"{printable(f.name)} ({printable(f.sha256[:12])}…)" for f in event.files)
    details = "\n".join(f"{printable(key)}: {printable(_detail_text(value))}"
                        for key, value in sorted(event.details.items()))
    return [str(event.seq), printable(event.time.replace("T", " ").removesuffix("Z")), who, event.action,
            event.outcome, agreement, files, details]


def _detail_text(value: DetailValue) -> str:
    if isinstance(value, list):
        return ", ".join(value)
    if value is None:
        return "—"
    return str(value).lower() if isinstance(value, bool) else str(value)

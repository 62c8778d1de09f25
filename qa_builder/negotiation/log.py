"""The negotiation log of one agreement: every point raised, its status and how it was resolved (DOCX or PDF)."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.enum.section import WD_ORIENT
from docx.shared import Pt, Twips

from qa_builder.errors import RenderError
from qa_builder.files import atomic_writer, write_bytes_atomic
from qa_builder.negotiation.decisions import (
    OUTSIDE,
    Decision,
    latest_import,
    load_negotiation,
    open_points,
    read_import,
)
from qa_builder.negotiation.importer import OUTSIDE_BODY, ClauseFinding, ImportReport
from qa_builder.printable import printable
from qa_builder.workspace.layout import Workspace

__all__ = ["LogRow", "log_rows", "write_log"]

LABELS = {"formatting_only": "formatting only", "library_position": "another library position",
          "answer_value": "another answer value", "deletes_clause": "deletes the clause",
          "non_standard": "non-standard text", "comments_only": "comments only", "outside": "outside the clauses",
          "override": "override"}
STATUS = {"accept": "accepted", "reject": "rejected", "counter": "countered", "keep_override": "override kept",
          "drop_override": "override dropped"}
_CELL_LIMIT = 1500
_VERBS = {"insertion": "inserted", "deletion": "deleted", "move_from": "moved away", "move_to": "moved here"}
_WIDTHS = (800, 2200, 5200, 1100, 5200)  # twips: round, clause, issue, status, resolution (landscape A4)


def _brief(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


@dataclass(frozen=True)
class LogRow:
    """One line of the negotiation log."""

    round: str
    clause: str
    issue: str
    status: str
    resolution: str


def _issue(finding: ClauseFinding | None, report: ImportReport | None) -> str:
    if finding is None:
        if report is None:
            return ""
        return (f"{len(report.outside_changes)} change(s) and {len(report.outside_comments)} comment(s) on "
                f"{', '.join(report.outside_places()) or OUTSIDE_BODY}")
    authors = sorted({c.author for c in finding.changes if c.author} | {c.author for c in finding.comments if c.author})
    text = f"{LABELS.get(finding.classification, finding.classification)}: {finding.detail}"
    if authors:
        text += f" (by {', '.join(authors)})"
    shown = [c for c in finding.changes if c.kind in ("insertion", "deletion", "move_from", "move_to") and c.text
             and finding.classification == "non_standard"]
    for change in shown[:4]:
        text += f"\n{_VERBS[change.kind]} “{_brief(change.text)}”"
    if len(shown) > 4:
        text += f"\n… and {len(shown) - 4} more change(s)"
    for comment in finding.comments:
        text += f"\nComment by {comment.author or '?'}: {comment.text}"
    return text


def _resolution(decision: Decision) -> str:
    if decision.effect == "answer":
        what = f"answer {decision.answer_field} set to {decision.answer_value}"
    elif decision.effect == "position":
        what = f"library position '{decision.position}'"
    elif decision.effect == "override":
        what = f"clause text agreed for this agreement (override): “{_brief(decision.text or '', 400)}”"
    elif decision.effect == "override_removed":
        what = "library text restored"
    else:
        what = "no change to the agreement"
    return f"{what}. Decided by {decision.by} on {decision.time[:10]}: {decision.reason}"


def _cut(text: str) -> str:
    """A cell's text: control and right-to-left override characters shown as \\uXXXX (line breaks kept), cut."""
    text = "\n".join(printable(line) for line in text.split("\n"))
    return text if len(text) <= _CELL_LIMIT else text[:_CELL_LIMIT - 1] + "…"


def log_rows(workspace: Workspace, agreement_id: str) -> list[LogRow]:
    """Every decided point (in decision order), then the open points of the latest import."""
    negotiation = load_negotiation(workspace, agreement_id)
    reports: dict[str, ImportReport] = {}
    rows: list[LogRow] = []
    for decision in negotiation.decisions:
        report = None
        finding = None
        if decision.point != "override":
            if decision.point not in reports:
                reports[decision.point] = read_import(workspace, agreement_id, decision.point)
            report = reports[decision.point]
            finding = next((f for f in report.clauses if f.clause_id == decision.clause_id), None)
        clause = f"{finding.number} {finding.title}" if finding else (
            "outside the clauses" if decision.clause_id == OUTSIDE else decision.clause_id)
        issue = _issue(finding, report) if decision.point != "override" else \
            "the library clause under a negotiated override changed"
        rows.append(LogRow(f"v{decision.agreement_version}", clause, issue, STATUS[decision.verdict],
                           _resolution(decision)))
    found = latest_import(workspace, agreement_id)
    if found is not None:
        name, report = found
        for point in open_points(report, name, negotiation):
            if point.decision is None:
                rows.append(LogRow(f"v{report.version}", f"{point.number} {point.title}"
                                   if point.clause_id != OUTSIDE else "outside the clauses",
                                   _issue(point.finding, report), "open", ""))
    return rows


def write_log(workspace: Workspace, agreement_id: str, out: Path, fmt: str, *, replace: bool = True) -> Path:
    """Write the negotiation log as DOCX or PDF (the PDF is the DOCX converted by LibreOffice).

    With `replace=False`, `out` is only created (OutputExistsError if it appeared meanwhile).

    Raises:
        RenderError: the text cannot go into a DOCX.
        ConversionError: LibreOffice failed.
    """
    rows = log_rows(workspace, agreement_id)
    data = _docx(agreement_id, rows)
    if fmt == "docx":
        write_bytes_atomic(out, data, replace=replace)
        return out
    from qa_builder.render.pdf import PdfConverter

    with tempfile.TemporaryDirectory(prefix="qa-negotiation-log-") as folder:
        source = Path(folder) / f"{agreement_id}-negotiation-log.docx"
        source.write_bytes(data)
        target = Path(folder) / "log.pdf"
        with PdfConverter(workers=1) as converter:
            converter.convert(source, target)
        with atomic_writer(out, replace=replace) as handle:
            handle.write(target.read_bytes())
    return out


def _docx(agreement_id: str, rows: list[LogRow]) -> bytes:
    document = docx.Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    for margin in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, margin, Twips(1000))
    document.styles["Normal"].font.size = Pt(9)
    try:
        document.add_heading(f"Negotiation log — agreement {agreement_id}", level=1)
        open_count = sum(1 for r in rows if r.status == "open")
        document.add_paragraph(f"{len(rows)} point(s); {open_count} open. Each row is a point the counterparty "
                               "raised on a version (a tracked change, a deleted clause or a comment) and how it was "
                               "resolved.")
        table = document.add_table(rows=1, cols=5)
        table.style = "Table Grid"
        table.autofit = False
        for cell, name in zip(table.rows[0].cells, ("Round", "Clause", "Issue", "Status", "Resolution"), strict=True):
            cell.text = name
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for row in rows:
            cells = table.add_row().cells
            for cell, value in zip(cells, (row.round, row.clause, row.issue, row.status, row.resolution), strict=True):
                cell.text = _cut(value)
        for column, width in zip(table.columns, _WIDTHS, strict=True):
            column.width = Twips(width)
            for cell in column.cells:
                cell.width = Twips(width)
        buffer = io.BytesIO()
        document.save(buffer)
    except ValueError as exc:  # a control character in a counterparty's text
        raise RenderError(f"the negotiation log of {agreement_id} cannot be written: {exc}") from exc
    return buffer.getvalue()

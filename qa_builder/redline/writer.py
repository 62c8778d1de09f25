"""The redline DOCX: a comparison of two versions of an agreement, every difference a real tracked revision."""

from __future__ import annotations

import datetime as dt
import difflib
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor, Twips

from qa_builder import clock
from qa_builder.errors import RenderError
from qa_builder.files import atomic_writer
from qa_builder.models.agreement import Agreement, AgreementClause, AgreementSection, ClauseParagraph, PartyBlock
from qa_builder.redline.compare import (
    COVER_HEADING,
    HISTORY_HEADING,
    RACI_HEADING,
    SELECTION_HEADING,
    SIGNATURES_HEADING,
    SOURCES_HEADING,
    TEXT_HEADING,
    TIMELINES_HEADING,
    TRACE_HEADING,
    ClauseChange,
    RedlineSummary,
    SectionPlan,
    compare_agreements,
    interleave,
    plan_sections,
)
from qa_builder.redline.worddiff import Op, Piece, pair_paragraphs, paragraph_mark, word_diff
from qa_builder.render.anchors import PROPERTY_AGREEMENT_ID, PROPERTY_KIND, set_custom_properties

Cells = tuple[str, ...]
Row = tuple[str, Cells]

_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_NAVY = "1F3864"
_PARAGRAPH_STYLES = ("Title", "Intro", "Heading 1", "Heading 2", "List Bullet", "Small", "Clause Body", "Clause Item",
                     "Table Text")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


@dataclass(frozen=True)
class _Part:
    """A part of the agreement outside the clause text, shown as a table of rows matched by key."""

    heading: str
    note: str
    headers: tuple[str, ...]
    widths: tuple[int, ...]  # twips; the text width is 9412
    rows: Callable[[Agreement], list[Row]]
    new_page: bool = True


def _role(role: str) -> str:
    return {"sponsor": "Sponsor", "contract_acceptor": "Contract acceptor"}.get(role, role)


def _party(party: PartyBlock) -> str:
    return (f"{party.name} (the “{party.defined_term}”; {_role(party.role)})\n{party.address}, {party.country}\n"
            f"Quality contact: {party.quality_contact_name}, {party.quality_contact_title}, "
            f"{party.quality_contact_email}")


def _cover_rows(a: Agreement) -> list[Row]:
    fields = (("Title", a.title), ("Agreement ID", a.id), ("Version", str(a.version)),
              ("Effective date", a.effective_date.isoformat()),
              ("Review period", f"{a.review_period_months} months"),
              ("Sponsor", _party(a.sponsor)), ("Contract acceptor", _party(a.contract_acceptor)),
              *((f"Affiliate: {f.name}", f"{f.name} {f.term_line}; affiliate of: {_role(f.affiliate_of)}\n"
                                        f"{f.address}, {f.country}") for f in a.affiliates),
              ("Products", "; ".join(a.products)), ("Markets", ", ".join(a.markets)),
              ("Clause library", f"{a.library_name}, version {a.library_version}"))
    return [(label, (label, value)) for label, value in fields]


_COVER = _Part(COVER_HEADING, "The cover page: parties, products, markets and the agreement's identity.",
               ("Field", "Value"), (2400, 7012), _cover_rows)
_PARTS = (
    _Part(RACI_HEADING, "Annex A. R = Responsible; A = Accountable; C = Consulted; I = Informed; * = differs from "
                        "the library's default allocation. Rows are matched by activity; a whole row added or "
                        "removed is a tracked row change.",
          ("No.", "Area", "Activity", "Sponsor", "Contract acceptor", "Notes"), (600, 1500, 3312, 900, 1100, 2000),
          lambda a: [(r.activity_id, (f"{r.number}{'*' if r.overridden else ''}", r.area, r.activity, r.sponsor,
                                      r.contract_acceptor, r.notes)) for r in a.raci]),
    _Part(TIMELINES_HEADING, "Annex B. The time limits the agreement sets, matched by obligation.",
          ("Obligation", "Who", "Time limit", "Clock", "Trigger", "Clause"), (2600, 1100, 1900, 1400, 1512, 900),
          lambda a: [(t.event, (t.event, t.who, t.deadline, t.clock, t.trigger or "–", t.clause_number))
                     for t in a.timelines]),
    _Part(TRACE_HEADING, "Annex C. Each regulatory requirement that applies and the clauses that satisfy it; "
                         "Citation is the source as Annex C prints it.",
          ("Requirement", "Summary", "Source", "Citation", "Clauses"), (1700, 3712, 1500, 1500, 1000),
          lambda a: [(t.requirement_id, (t.requirement_id, t.summary, t.source, t.citation,
                                         ", ".join(t.clause_numbers) if t.clause_numbers else "–"))
                     for t in a.traceability]),
    _Part(SOURCES_HEADING, "Annex C. Each instrument cited, once, under its key.", ("Key", "Source"), (2000, 7412),
          lambda a: [(s.key, (s.key, s.citation)) for s in a.sources], new_page=False),
    _Part(SIGNATURES_HEADING, "The signature blocks, matched by signature field.",
          ("Field", "Party", "Name", "Title", "E-mail", "Meaning"), (1300, 1900, 1600, 1600, 1700, 1312),
          lambda a: [(s.field_name, (s.field_name, f"{s.party_name} ({_role(s.party)})", s.name, s.title, s.email,
                                     s.meaning))
                     for s in a.signatories]),
    _Part(HISTORY_HEADING, "The revision history table.", ("Version", "Date", "Description of change"),
          (1100, 1600, 6712),
          lambda a: [(str(r.version), (str(r.version), r.date.isoformat(), r.description)) for r in a.revisions],
          new_page=False),
    _Part(SELECTION_HEADING, "Why each library clause was included or left out (the build record; not printed "
                             "in the agreement).", ("Clause", "Version", "Included", "Position", "Reason"),
          (1900, 900, 1000, 1500, 4112),
          lambda a: [(d.clause_id, (d.clause_id, str(d.version), "yes" if d.included else "no", d.position or "–",
                                    d.reason)) for d in a.decisions]),
)


def _keyed(rows: Sequence[Row]) -> list[Row]:
    """The rows with repeated keys made unique (second 'x' becomes 'x#2'), so rows can be matched by key."""
    seen: dict[str, int] = {}
    unique = []
    for key, cells in rows:
        seen[key] = seen.get(key, 0) + 1
        unique.append((key if seen[key] == 1 else f"{key}#{seen[key]}", cells))
    return unique


def _in_order(old: Sequence[str], new: Sequence[str]) -> set[str]:
    """Keys in both sequences and in the same relative order (a reordered key shows as removed and added)."""
    matcher = difflib.SequenceMatcher(None, list(old), list(new), autojunk=False)
    return {key for block in matcher.get_matching_blocks() for key in old[block.a:block.a + block.size]}


def _paragraph_text(paragraph: ClauseParagraph | None) -> str:
    if paragraph is None:
        return ""
    return f"{paragraph.label}\t{paragraph.text}" if paragraph.label else paragraph.text


def _clause_heading(clause: AgreementClause | None) -> str:
    return f"{clause.number}\t{clause.title}" if clause else ""


def _section_heading(section: AgreementSection | None) -> str:
    return f"{section.number}.\t{section.title.upper()}" if section else ""


# --- document ---------------------------------------------------------------------------------------------------


def write_redline(old: Agreement, new: Agreement, out: Path, *, author: str = "qa-builder",
                  when: dt.datetime | None = None, old_label: str | None = None) -> RedlineSummary:
    """Write a DOCX showing `new` against `old` as tracked changes by `author` at `when` (UTC; default now).

    `old_label` names what `old` is when it is not simply an earlier version (e.g. the text the counterparty
    returned); default 'version N'.

    Raises:
        RenderError: the agreement text cannot be put into a DOCX (e.g. control characters).
    """
    stamp = _utc(when)
    summary = compare_agreements(old, new)
    try:
        data = _Redline(author, stamp, old_label or f"version {old.version}").build(old, new, summary)
    except ValueError as exc:
        raise RenderError(f"{out}: cannot write the redline: {exc}") from exc
    with atomic_writer(out) as handle:
        handle.write(_fixed_zip(data, stamp))
    return summary


def _utc(when: dt.datetime | None) -> dt.datetime:
    if when is None:
        return clock.now()
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.UTC, microsecond=0)
    return when.astimezone(dt.UTC).replace(microsecond=0)


def _fixed_zip(data: bytes, stamp: dt.datetime) -> bytes:
    """The same package with every entry time set to `stamp`, so equal inputs give equal bytes."""
    date_time = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(entry.filename))
    return buffer.getvalue()


def _human_date(stamp: dt.datetime) -> str:
    return f"{stamp.day} {_MONTHS[stamp.month - 1]} {stamp.year}, {stamp:%H:%M} UTC"


class _Redline:
    """Builds the comparison document; numbers every revision in order of appearance."""

    def __init__(self, author: str, stamp: dt.datetime, old_label: str = "") -> None:
        self.author = author
        self.old_label = old_label
        self.stamp = stamp
        self.date = clock.utc_text(stamp)
        self.doc: Any = docx.Document()
        self.revisions = 0
        self.style_ids: dict[str, str] = {}

    def build(self, old: Agreement, new: Agreement, summary: RedlineSummary) -> bytes:
        """The DOCX bytes (zip entry times not yet fixed)."""
        self.style_ids = _setup(self.doc, new, self.author, self.stamp)
        self._front(old, new, summary)
        self._part(_COVER, old, new)
        self._body(plan_sections(old, new))
        for part in _PARTS:
            self._part(part, old, new)
        self._add("Small", "End of comparison.")
        if self.revisions == 0 and old.canonical_json() != new.canonical_json():
            raise ValueError("the versions differ but the redline would show no tracked change")
        buffer = io.BytesIO()
        self.doc.save(buffer)
        return buffer.getvalue()

    # front matter

    def _front(self, old: Agreement, new: Agreement, summary: RedlineSummary) -> None:
        old_name = self.old_label or f"version {old.version}"
        title = f"{new.title} — changes from {old_name} to version {new.version}"
        self._add("Title", title)
        self._add(
            "Intro",
            f"Agreement {new.id}: this document compares {old_name} with version {new.version}. "
            f"It was generated by qa-builder on {_human_date(self.stamp)}. Every difference — cover page, clause "
            f"text, annexes, signature blocks and revision history — is a tracked change by “{self.author}”: "
            f"accept or reject each change "
            f"in Word or LibreOffice. Accepting all changes gives the text of version {new.version}; rejecting "
            f"all gives {old_name}.")
        self._add("Heading 1", "Summary of changes")
        lines = [*(_describe(c) for c in summary.clause_changes), *summary.other_changes]
        for line in lines or ["No differences were found between the two versions."]:
            self._add("List Bullet", line)

    # agreement text

    def _body(self, plans: Sequence[SectionPlan]) -> None:
        self._add("Heading 1", TEXT_HEADING).paragraph_format.page_break_before = True
        for plan in plans:
            mark = paragraph_mark(plan.old, plan.new)
            self._paragraph(word_diff(_section_heading(plan.old), _section_heading(plan.new)), "Heading 1", mark)
            for old_c, new_c in plan.clauses:
                self._clause(old_c, new_c)

    def _clause(self, old: AgreementClause | None, new: AgreementClause | None) -> None:
        self._paragraph(word_diff(_clause_heading(old), _clause_heading(new)), "Heading 2", paragraph_mark(old, new))
        old_ps = old.paragraphs if old else []
        new_ps = new.paragraphs if new else []
        for old_p, new_p in pair_paragraphs(old_ps, new_ps):
            shown = new_p or old_p
            style = "Clause Item" if shown and shown.kind == "item" else "Clause Body"
            self._paragraph(word_diff(_paragraph_text(old_p), _paragraph_text(new_p)), style,
                            paragraph_mark(old_p, new_p))

    # cover, annexes, signature blocks, revision history: every other part of the model, as tracked tables

    def _part(self, part: _Part, old: Agreement, new: Agreement) -> None:
        """One part as a table whose rows are matched by key; raises ValueError if a change would not show."""
        self._add("Heading 1", part.heading).paragraph_format.page_break_before = part.new_page
        self._add("Small", part.note)
        old_rows, new_rows = _keyed(part.rows(old)), _keyed(part.rows(new))
        in_place = _in_order([k for k, _ in old_rows], [k for k, _ in new_rows])
        before = self.revisions
        table = self.doc.add_table(rows=1, cols=len(part.headers))
        table.style = "Table Grid"
        table.autofit = False
        widths = [Twips(w) for w in part.widths]
        for column, width in zip(table.columns, widths, strict=True):
            column.width = width
        self._header_row(table.rows[0], part.headers, widths)
        for old_r, new_r in interleave(old_rows, new_rows, lambda r: r[0], in_place):
            self._table_row(table, old_r[1] if old_r else None, new_r[1] if new_r else None, widths)
        if old_rows != new_rows and self.revisions == before:
            raise ValueError(f"{part.heading} differs between the versions but no tracked change shows it")

    def _header_row(self, row: Any, names: Sequence[str], widths: Sequence[Any]) -> None:
        row._tr.insert(0, _row_props(header=True))
        for cell, name, width in zip(row.cells, names, widths, strict=True):
            cell.width = width
            shading = OxmlElement("w:shd")
            shading.set(qn("w:val"), "clear")
            shading.set(qn("w:color"), "auto")
            shading.set(qn("w:fill"), _NAVY)
            cell._tc.get_or_add_tcPr().append(shading)
            p = cell.paragraphs[0]._p
            p.style = self.style_ids["Table Text"]
            p.append(_run(name, header=True))

    def _table_row(self, table: Any, old: Cells | None, new: Cells | None, widths: Sequence[Any]) -> None:
        """Append one body row, written as WordprocessingML directly: python-docx's add_row and cell.width
        re-read the whole grid for every row (over half of a 40-page redline's time went there)."""
        row = OxmlElement("w:tr")
        props = _row_props(header=False)
        row.append(props)
        mark = paragraph_mark(old, new)
        if mark != "same":
            props.append(self._revision(f"w:{mark}"))
        blank = ("",) * len(widths)
        for before, after, width in zip(old or blank, new or blank, widths, strict=True):
            cell, cell_props, cell_width = OxmlElement("w:tc"), OxmlElement("w:tcPr"), OxmlElement("w:tcW")
            cell_width.set(qn("w:w"), str(width.twips))
            cell_width.set(qn("w:type"), "dxa")
            cell_props.append(cell_width)
            cell.append(cell_props)
            p, p_props, p_style = OxmlElement("w:p"), OxmlElement("w:pPr"), OxmlElement("w:pStyle")
            p_style.set(qn("w:val"), self.style_ids["Table Text"])
            p_props.append(p_style)
            p.append(p_props)
            cell.append(p)
            row.append(cell)
            self._pieces(p, word_diff(before, after))
        table._tbl.append(row)

    # revisions

    def _add(self, style: str, text: str = "") -> Any:
        """A new body paragraph (python-docx Paragraph) in `style`, with `text` as one plain run."""
        paragraph = self.doc.add_paragraph()
        paragraph._p.style = self.style_ids[style]  # by id: python-docx's lookup by name is slow
        if text:
            paragraph._p.append(_run(text))
        return paragraph

    def _paragraph(self, pieces: Sequence[Piece], style: str, mark: Op) -> None:
        paragraph = self._add(style)
        if mark != "same":
            mark_props = OxmlElement("w:rPr")
            mark_props.append(self._revision(f"w:{mark}"))
            paragraph._p.get_or_add_pPr().append(mark_props)  # w:rPr is the last child of w:pPr
        self._pieces(paragraph._p, pieces)

    def _pieces(self, p: Any, pieces: Sequence[Piece]) -> None:
        for op, text in pieces:
            if not text:
                continue
            run = _run(text, deleted=op == "del")
            if op == "same":
                p.append(run)
            else:
                wrapper = self._revision(f"w:{op}")
                wrapper.append(run)
                p.append(wrapper)

    def _revision(self, tag: str) -> Any:
        self.revisions += 1
        element = OxmlElement(tag)
        element.set(qn("w:id"), str(self.revisions))
        element.set(qn("w:author"), self.author)
        element.set(qn("w:date"), self.date)
        return element


def _describe(change: ClauseChange) -> str:
    where = f"{change.number} {change.title}"
    if change.kind == "added":
        return f"{where}: clause added (clause version {change.new_version})"
    if change.kind == "removed":
        return f"{where}: clause removed (was clause version {change.old_version})"
    if change.kind == "moved":
        versions = "" if change.old_version == change.new_version else \
            f"; clause version {change.old_version} → {change.new_version}"
        return f"{where}: clause moved here{versions}"
    if change.kind == "new_version":
        return f"{where}: new clause version ({change.old_version} → {change.new_version})"
    return f"{where}: text changed within clause version {change.new_version} (answers or chosen position)"


def _run(text: str, *, deleted: bool = False, header: bool = False) -> Any:
    """A w:r for `text`: w:rPr first, then w:t (w:delText when deleted), w:tab and w:br in place of tab and newline."""
    run = OxmlElement("w:r")
    if header:
        props = OxmlElement("w:rPr")
        props.append(OxmlElement("w:b"))
        color = OxmlElement("w:color")
        color.set(qn("w:val"), "FFFFFF")
        props.append(color)
        run.append(props)
    for part in re.split(r"(\t|\n)", text):
        if part in ("\t", "\n"):
            run.append(OxmlElement("w:tab" if part == "\t" else "w:br"))
        elif part:
            node = OxmlElement("w:delText" if deleted else "w:t")
            node.set(_XML_SPACE, "preserve")
            node.text = part
            run.append(node)
    return run


def _row_props(*, header: bool) -> Any:
    """A row's w:trPr (to be the first child of its w:tr): never split across pages; header rows repeat."""
    props = OxmlElement("w:trPr")
    props.append(OxmlElement("w:cantSplit"))
    if header:
        props.append(OxmlElement("w:tblHeader"))
    return props


# --- page setup and styles --------------------------------------------------------------------------------------


def _setup(doc: Any, new: Agreement, author: str, stamp: dt.datetime) -> dict[str, str]:
    """Page, styles, footer and core properties; returns the paragraph style ids by name."""
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Twips(11906), Twips(16838)
    section.top_margin, section.bottom_margin = Twips(1361), Twips(1247)
    section.left_margin, section.right_margin = Twips(1247), Twips(1247)
    _styles(doc.styles)
    style_ids = {name: doc.styles[name].style_id for name in _PARAGRAPH_STYLES}
    _footer(section, f"{new.id} — redline to version {new.version}", style_ids["Small"])
    props = doc.core_properties
    props.title = f"{new.title} — redline to version {new.version}"
    props.subject = new.id
    props.author = props.last_modified_by = author
    props.comments = "Generated by qa-builder"
    props.created = props.modified = stamp
    props.revision = 1
    set_custom_properties(doc, {PROPERTY_AGREEMENT_ID: new.id, PROPERTY_KIND: "comparison"})
    return style_ids


def _footer(section: Any, text: str, style_id: str) -> None:
    paragraph = section.footer.paragraphs[0]
    paragraph._p.style = style_id
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    paragraph._p.append(_run(f"{text} — page "))
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), " PAGE ")
    field.append(_run("1"))
    paragraph._p.append(field)


def _styles(styles: Any) -> None:
    _font(styles["Normal"], size=10.5)
    styles["Normal"].paragraph_format.space_after = Pt(6)
    _font(styles["Title"], size=20, bold=True, color=_NAVY)
    _font(styles["Heading 1"], size=13, bold=True, color=_NAVY)
    _font(styles["Heading 2"], size=10.5, bold=True, color=_NAVY)
    for name, before, after in (("Heading 1", 18, 8), ("Heading 2", 10, 4)):
        fmt = styles[name].paragraph_format
        fmt.space_before, fmt.space_after = Pt(before), Pt(after)
        fmt.tab_stops.add_tab_stop(Twips(567))
        fmt.tab_stops.add_tab_stop(Twips(1134))  # for the new number when a renumbering shows both
    _add_style(styles, "Intro", size=10.5).paragraph_format.space_after = Pt(10)
    body = _add_style(styles, "Clause Body", size=10.5)
    body.paragraph_format.left_indent = Twips(567)
    body.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    item = _add_style(styles, "Clause Item", size=10.5)
    item.paragraph_format.left_indent = Twips(1020)
    item.paragraph_format.first_line_indent = Twips(-454)
    item.paragraph_format.space_after = Pt(3)
    item.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    item.paragraph_format.tab_stops.add_tab_stop(Twips(1020))
    table_text = _add_style(styles, "Table Text", size=9)
    table_text.paragraph_format.space_after = Pt(0)
    table_text.paragraph_format.line_spacing = 1.0
    _add_style(styles, "Small", size=8.5).paragraph_format.space_after = Pt(4)


def _add_style(styles: Any, name: str, *, size: float) -> Any:
    style = styles.add_style(name, 1)  # 1 = WD_STYLE_TYPE.PARAGRAPH
    style.base_style = styles["Normal"]
    _font(style, size=size)
    return style


def _font(style: Any, *, size: float, bold: bool | None = None, color: str | None = None) -> None:
    style.font.name = "Calibri"
    fonts = style.element.rPr.rFonts
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)  # a theme font would win over the name in Word
    style.font.size = Pt(size)
    style.font.italic = False
    if bold is not None:
        style.font.bold = bold
    if color is not None:
        style.font.color.rgb = RGBColor.from_string(color)

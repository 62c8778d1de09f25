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
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
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
                  when: dt.datetime | None = None, old_label: str | None = None,
                  replace: bool = True) -> RedlineSummary:
    """Write a DOCX showing `new` against `old` as tracked changes by `author` at `when` (UTC; default now).

    `old_label` names what `old` is when it is not simply an earlier version (e.g. the text the counterparty
    returned); default 'version N'. With `replace=False`, `out` is only created (OutputExistsError if it exists).

    Raises:
        RenderError: the agreement text cannot be put into a DOCX (e.g. control characters).
    """
    stamp = _utc(when)
    summary = compare_agreements(old, new)
    try:
        data = _Redline(author, stamp, old_label or f"version {old.version}").build(old, new, summary)
    except ValueError as exc:
        raise RenderError(f"{out}: cannot write the redline: {exc}") from exc
    with atomic_writer(out, replace=replace) as handle:
        handle.write(data)
    return summary


def _utc(when: dt.datetime | None) -> dt.datetime:
    if when is None:
        return clock.now()
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.UTC, microsecond=0)
    return when.astimezone(dt.UTC).replace(microsecond=0)


def _package(data: bytes, body: str, stamp: dt.datetime) -> bytes:
    """The package python-docx wrote, with `body` (WordprocessingML) put before the body's section properties
    and every entry time set to `stamp`, so equal inputs give equal bytes."""
    date_time = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            content = source.read(entry.filename)
            if entry.filename == "word/document.xml":
                at = content.rindex(b"<w:sectPr")
                content = content[:at] + body.encode("utf-8") + content[at:]
            target.writestr(info, content)
    return buffer.getvalue()


def _human_date(stamp: dt.datetime) -> str:
    return f"{stamp.day} {_MONTHS[stamp.month - 1]} {stamp.year}, {stamp:%H:%M} UTC"


class _Redline:
    """Builds the comparison document; numbers every revision in order of appearance.

    The body is written as WordprocessingML text and put into the package python-docx writes for the rest:
    building it element by element through python-docx (each element parsed on its own, each paragraph
    inserted by scanning the body) was most of a redline's time.
    """

    def __init__(self, author: str, stamp: dt.datetime, old_label: str = "") -> None:
        self.author = author
        self.old_label = old_label
        self.stamp = stamp
        self.date = clock.utc_text(stamp)
        self.doc: Any = docx.Document()
        self.revisions = 0
        self.style_ids: dict[str, str] = {}
        self.body: list[str] = []  # the body's elements, as WordprocessingML text, in document order
        self._revision_attributes = f'w:author="{_escape(author, quote=True)}" w:date="{_escape(self.date)}"'

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
        body = "".join(self.body)
        bad = _NOT_XML.search(body)
        if bad:
            raise ValueError(f"a text holds U+{ord(bad.group()):04X}, which a DOCX cannot hold")
        buffer = io.BytesIO()
        self.doc.save(buffer)  # the body is still empty: python-docx zips only the small parts
        return _package(buffer.getvalue(), body, self.stamp)

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
        self._add("Heading 1", TEXT_HEADING, page_break=True)
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
        self._add("Heading 1", part.heading, page_break=part.new_page)
        self._add("Small", part.note)
        old_rows, new_rows = _keyed(part.rows(old)), _keyed(part.rows(new))
        in_place = _in_order([k for k, _ in old_rows], [k for k, _ in new_rows])
        before = self.revisions
        grid = "".join(f'<w:gridCol w:w="{width}"/>' for width in part.widths)
        self.body.append(f'<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:type="auto" w:w="0"/>'
                         f'<w:tblLayout w:type="fixed"/>{_TABLE_LOOK}</w:tblPr><w:tblGrid>{grid}</w:tblGrid>')
        self._header_row(part.headers, part.widths)
        for old_r, new_r in interleave(old_rows, new_rows, lambda r: r[0], in_place):
            self._table_row(old_r[1] if old_r else None, new_r[1] if new_r else None, part.widths)
        self.body.append("</w:tbl>")
        if old_rows != new_rows and self.revisions == before:
            raise ValueError(f"{part.heading} differs between the versions but no tracked change shows it")

    def _header_row(self, names: Sequence[str], widths: Sequence[int]) -> None:
        style = self.style_ids["Table Text"]
        cells = "".join(
            f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{width}"/><w:shd w:val="clear" w:color="auto" '
            f'w:fill="{_NAVY}"/></w:tcPr><w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr>'
            f"{_run_xml(name, header=True)}</w:p></w:tc>"
            for name, width in zip(names, widths, strict=True))
        self.body.append(f"<w:tr>{_row_props_xml(header=True)}{cells}</w:tr>")

    def _table_row(self, old: Cells | None, new: Cells | None, widths: Sequence[int]) -> None:
        """Append one body row: never split across pages; a whole row added or removed is a tracked row change."""
        mark = paragraph_mark(old, new)
        props = _row_props_xml(header=False, revision=self._revision(mark) if mark != "same" else "")
        style = self.style_ids["Table Text"]
        blank = ("",) * len(widths)
        cells = "".join(
            f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr><w:p><w:pPr><w:pStyle w:val="{style}"/>'
            f"</w:pPr>{self._pieces(word_diff(before, after))}</w:p></w:tc>"
            for before, after, width in zip(old or blank, new or blank, widths, strict=True))
        self.body.append(f"<w:tr>{props}{cells}</w:tr>")

    # revisions

    def _add(self, style: str, text: str = "", *, page_break: bool | None = None) -> None:
        """A new body paragraph in `style`, with `text` as one plain run; `page_break` sets page break before."""
        self.body.append(f"<w:p>{self._paragraph_props(style, page_break)}{_run_xml(text) if text else ''}</w:p>")

    def _paragraph_props(self, style: str, page_break: bool | None = None, mark: str = "") -> str:
        breaks = "" if page_break is None else "<w:pageBreakBefore/>" if page_break else \
            '<w:pageBreakBefore w:val="0"/>'
        return f'<w:pPr><w:pStyle w:val="{self.style_ids[style]}"/>{breaks}{mark}</w:pPr>'

    def _paragraph(self, pieces: Sequence[Piece], style: str, mark: Op) -> None:
        # the paragraph mark's revision is in w:rPr, the last child of w:pPr
        revision = f"<w:rPr>{self._revision(mark)}</w:rPr>" if mark != "same" else ""
        self.body.append(f"<w:p>{self._paragraph_props(style, mark=revision)}{self._pieces(pieces)}</w:p>")

    def _pieces(self, pieces: Sequence[Piece]) -> str:
        runs = []
        for op, text in pieces:
            if not text:
                continue
            run = _run_xml(text, deleted=op == "del")
            runs.append(run if op == "same" else f"{self._revision(op, close=False)}{run}</w:{op}>")
        return "".join(runs)

    def _revision(self, op: str, *, close: bool = True) -> str:
        """A w:ins or w:del element (closed, or open for the run it wraps), numbered in order of appearance."""
        self.revisions += 1
        return f'<w:{op} w:id="{self.revisions}" {self._revision_attributes}{"/" if close else ""}>'


_TABLE_LOOK = ('<w:tblLook w:firstColumn="1" w:firstRow="1" w:lastColumn="0" w:lastRow="0" w:noHBand="0" '
               'w:noVBand="1" w:val="04A0"/>')
_BREAKS = re.compile(r"(\t|\n)")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""A character XML 1.0 cannot hold (a control character, a lone surrogate, U+FFFE or U+FFFF)."""


def _escape(text: str, *, quote: bool = False) -> str:
    """`text` as XML character data (or, with `quote`, as a double-quoted attribute value)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if quote else text


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


def _run_xml(text: str, *, deleted: bool = False, header: bool = False) -> str:
    """A w:r for `text`: w:rPr first, then w:t (w:delText when deleted), w:tab and w:br in place of tab and newline."""
    tag = "w:delText" if deleted else "w:t"
    parts = ['<w:r><w:rPr><w:b/><w:color w:val="FFFFFF"/></w:rPr>' if header else "<w:r>"]
    for part in _BREAKS.split(text):
        if part == "\t":
            parts.append("<w:tab/>")
        elif part == "\n":
            parts.append("<w:br/>")
        elif part:
            parts.append(f'<{tag} xml:space="preserve">{_escape(part)}</{tag}>')
    parts.append("</w:r>")
    return "".join(parts)


def _run(text: str) -> Any:
    """`_run_xml` as an element, for the parts of the package outside the body."""
    return parse_xml(_run_xml(text).replace("<w:r>", f"<w:r {nsdecls('w')}>", 1))


def _row_props_xml(*, header: bool, revision: str = "") -> str:
    """A row's w:trPr (the first child of its w:tr): never split across pages; header rows repeat; a revision
    marks the whole row as inserted or deleted."""
    return f"<w:trPr><w:cantSplit/>{'<w:tblHeader/>' if header else ''}{revision}</w:trPr>"


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

"""Write templates/quality_agreement.docx: the docxtpl template of the Quality Agreement.

The template is generated so that its layout is reviewable as code; run
`python tools/make_template.py` after changing this file and commit both. Only loops and
fields live in the template; every number and text comes from the Agreement model.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

NAVY = RGBColor(0x1F, 0x38, 0x64)
GREY = RGBColor(0x59, 0x59, 0x59)
HEADER_FILL = "1F3864"
BAND_FILL = "E8EDF5"
FONT = "Calibri"
PAGE_WIDTH = Cm(21.0)
MARGIN = Cm(2.2)
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN  # 16.6 cm
# The same words as qa_builder/render/typeset.py (the Typst engine); tests/test_typeset.py compares both documents.
TRACEABILITY_LEGEND = (
    "This annex is informative and not contractual: the clauses of this Agreement govern. It lists each "
    "regulatory requirement that applies to the arrangement of this Agreement (its products, markets, release "
    "arrangement and services) and the clauses that address it. Sources are cited by the short keys listed "
    "under Sources below. A source marked (unverified) was not checked against the primary text of the "
    "instrument: its provision number or wording is not confirmed.")
SOURCES_LEGEND = "Each instrument cited in this annex, once, under the key the table above uses."


# Child order of the property elements, from the WordprocessingML schema (ECMA-376 Part 1, §17).
# Word treats out-of-order or repeated property elements as a damaged file and offers to repair it;
# LibreOffice is lenient, so this order is enforced here and checked by tests/test_build.py.
SCHEMA_ORDER = {
    "pPr": ["pStyle", "keepNext", "keepLines", "pageBreakBefore", "framePr", "widowControl", "numPr",
            "suppressLineNumbers", "pBdr", "shd", "tabs", "suppressAutoHyphens", "kinsoku", "wordWrap",
            "overflowPunct", "topLinePunct", "autoSpaceDE", "autoSpaceDN", "bidi", "adjustRightInd", "snapToGrid",
            "spacing", "ind", "contextualSpacing", "mirrorIndents", "suppressOverlap", "jc", "textDirection",
            "textAlignment", "textboxTightWrap", "outlineLvl", "divId", "cnfStyle", "rPr", "sectPr", "pPrChange"],
    "tblPr": ["tblStyle", "tblpPr", "tblOverlap", "bidiVisual", "tblStyleRowBandSize", "tblStyleColBandSize",
              "tblW", "jc", "tblCellSpacing", "tblInd", "tblBorders", "shd", "tblLayout", "tblCellMar", "tblLook",
              "tblCaption", "tblDescription", "tblPrChange"],
    "trPr": ["cnfStyle", "divId", "gridBefore", "gridAfter", "wBefore", "wAfter", "cantSplit", "trHeight",
             "tblHeader", "tblCellSpacing", "jc", "hidden", "ins", "del", "trPrChange"],
    "tcPr": ["cnfStyle", "tcW", "gridSpan", "hMerge", "vMerge", "tcBorders", "shd", "noWrap", "tcMar",
             "textDirection", "tcFitText", "vAlign", "hideMark", "headers", "cellIns", "cellDel", "cellMerge",
             "tcPrChange"],
}


def _put(parent: object, child: object) -> None:
    """Insert `child` into a property element at its schema position, replacing one of the same kind."""
    local = lambda el: el.tag.rsplit("}", 1)[-1]  # noqa: E731
    order = SCHEMA_ORDER[local(parent)]
    name = local(child)
    for existing in list(parent):  # type: ignore[call-overload]
        if local(existing) == name:
            parent.remove(existing)  # type: ignore[attr-defined]
    rank = order.index(name)
    for sibling in parent:  # type: ignore[attr-defined]
        if local(sibling) in order and order.index(local(sibling)) > rank:
            sibling.addprevious(child)
            return
    parent.append(child)  # type: ignore[attr-defined]


def main(out: Path) -> None:
    doc = Document()
    _styles(doc)
    section = doc.sections[0]
    section.page_width, section.page_height = PAGE_WIDTH, Cm(29.7)
    section.left_margin = section.right_margin = MARGIN
    section.top_margin, section.bottom_margin = Cm(2.4), Cm(2.2)
    section.header_distance, section.footer_distance = Cm(1.1), Cm(1.0)
    section.different_first_page_header_footer = True
    _header_footer(section)
    _cover(doc)
    _contents(doc)
    _body(doc)
    _annexes(doc)
    _signatures(doc)
    _settings(doc)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.core_properties.title = "Quality Agreement"
    doc.core_properties.author = "qa-builder"
    doc.save(str(out))


def _styles(doc: Document) -> None:
    styles = doc.styles
    normal = styles["Normal"]
    normal.font.name, normal.font.size = FONT, Pt(10.5)
    _east_asian_font(normal, FONT)
    pf = normal.paragraph_format
    pf.space_after, pf.line_spacing = Pt(6), 1.12
    for name, size, before, after in (("Heading 1", 13, 18, 8), ("Heading 2", 10.5, 10, 4)):
        style = styles[name]
        style.font.name, style.font.size, style.font.bold = FONT, Pt(size), True
        style.font.color.rgb = NAVY
        _east_asian_font(style, FONT)
        style.paragraph_format.space_before, style.paragraph_format.space_after = Pt(before), Pt(after)
        style.paragraph_format.keep_with_next = True
    title = styles["Title"]
    title.font.name, title.font.size, title.font.color.rgb, title.font.bold = FONT, Pt(28), NAVY, True
    _east_asian_font(title, FONT)
    title.paragraph_format.space_after = Pt(6)
    subtitle = styles["Subtitle"]
    subtitle.font.name, subtitle.font.size, subtitle.font.color.rgb = FONT, Pt(15), GREY
    _east_asian_font(subtitle, FONT)
    body = styles.add_style("Clause Body", WD_STYLE_TYPE.PARAGRAPH)
    body.base_style = normal
    body.paragraph_format.left_indent = Cm(1.0)
    body.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    item = styles.add_style("Clause Item", WD_STYLE_TYPE.PARAGRAPH)
    item.base_style = normal
    item.paragraph_format.left_indent, item.paragraph_format.first_line_indent = Cm(1.8), Cm(-0.8)
    item.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    item.paragraph_format.space_after = Pt(3)
    item.paragraph_format.tab_stops.add_tab_stop(Cm(1.8))
    clause = styles["Heading 2"]
    clause.paragraph_format.tab_stops.add_tab_stop(Cm(1.0))
    section_heading = styles["Heading 1"]
    section_heading.paragraph_format.tab_stops.add_tab_stop(Cm(1.0))
    toc = styles.add_style("TOC 1", WD_STYLE_TYPE.PARAGRAPH)
    toc.base_style = normal
    toc.paragraph_format.space_after = Pt(4)
    toc.paragraph_format.tab_stops.add_tab_stop(TEXT_WIDTH, WD_TAB_ALIGNMENT.RIGHT, 1)  # dotted leader
    small = styles.add_style("Small", WD_STYLE_TYPE.PARAGRAPH)
    small.base_style = normal
    small.font.size = Pt(8.5)
    small.paragraph_format.space_after = Pt(0)
    small.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
    table_text = styles.add_style("Table Text", WD_STYLE_TYPE.PARAGRAPH)
    table_text.base_style = normal
    table_text.font.size = Pt(9)
    table_text.paragraph_format.space_after = Pt(0)
    table_text.paragraph_format.line_spacing = 1.0
    label = styles.add_style("Field Label", WD_STYLE_TYPE.CHARACTER)
    label.font.color.rgb, label.font.bold = GREY, True
    styles["Header"].font.size = styles["Footer"].font.size = Pt(8.5)
    styles["Header"].font.color.rgb = styles["Footer"].font.color.rgb = GREY


def _east_asian_font(style: object, name: str) -> None:
    rpr = style.element.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), name)


def _field(paragraph: object, instruction: str, placeholder: str = "1", *, dirty: bool = False) -> None:
    """Append a complex field (PAGE, NUMPAGES, TOC …) to a paragraph."""
    run = paragraph.add_run()  # type: ignore[attr-defined]
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    if dirty:
        begin.set(qn("w:dirty"), "true")
    run._r.append(begin)
    run = paragraph.add_run()  # type: ignore[attr-defined]
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    run._r.append(instr)
    run = paragraph.add_run()  # type: ignore[attr-defined]
    separate = OxmlElement("w:fldChar")
    separate.set(qn("w:fldCharType"), "separate")
    run._r.append(separate)
    paragraph.add_run(placeholder)  # type: ignore[attr-defined]
    run = paragraph.add_run()  # type: ignore[attr-defined]
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run._r.append(end)


def _header_footer(section: object) -> None:
    header = section.header.paragraphs[0]  # type: ignore[attr-defined]
    header.text = "Quality Agreement {{ agreement.id }} · Version {{ agreement.version }} · {{ agreement.title }}"
    header.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _bottom_border(header)
    footer = section.footer.paragraphs[0]  # type: ignore[attr-defined]
    footer.paragraph_format.tab_stops.add_tab_stop(TEXT_WIDTH, WD_TAB_ALIGNMENT.RIGHT)
    footer.add_run("{{ agreement.sponsor.name }} – {{ agreement.contract_acceptor.name }} · Confidential\tPage ")
    _field(footer, "PAGE")
    footer.add_run(" of ")
    _field(footer, "NUMPAGES")
    first_footer = section.first_page_footer.paragraphs[0]  # type: ignore[attr-defined]
    first_footer.text = "Confidential · {{ agreement.id }} · Version {{ agreement.version }}"
    first_footer.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _bottom_border(paragraph: object) -> None:
    ppr = paragraph._p.get_or_add_pPr()  # type: ignore[attr-defined]
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "4"), ("w:space", "4"), ("w:color", "A6A6A6")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    _put(ppr, borders)


def _cover(doc: Document) -> None:
    for _ in range(5):
        doc.add_paragraph()
    doc.add_paragraph("QUALITY AGREEMENT", style="Title")
    doc.add_paragraph("{{ agreement.title }}", style="Subtitle")
    doc.add_paragraph()
    intro = doc.add_paragraph("This Quality Agreement is made between")
    intro.paragraph_format.space_after = Pt(10)
    for party in ("sponsor", "contract_acceptor"):
        if party == "contract_acceptor":
            doc.add_paragraph("and")
        _cover_party(doc, f"agreement.{party}.name", f"agreement.{party}.address", f"agreement.{party}.country",
                     f'(the "{{{{ agreement.{party}.defined_term }}}}")')
        # the affiliates that join as parties follow their principal (review round 3, R3-3)
        doc.add_paragraph(f"{{%p for f in agreement.affiliates if f.affiliate_of == '{party}' %}}")
        doc.add_paragraph("and")
        _cover_party(doc, "f.name", "f.address", "f.country", "{{ f.term_line }}")
        doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph()
    rows = [
        ("Agreement ID", "{{ agreement.id }}"),
        ("Version", "{{ agreement.version }}"),
        ("Effective date", "{{ agreement.effective_date.strftime('%d %B %Y') }}"),
        ("Products", "{{ agreement.products | join('; ') }}"),
        ("Markets", "{{ agreement.markets | join(', ') }}"),
        ("Clause library", "{{ agreement.library_name }}, version {{ agreement.library_version }}"),
    ]
    table = doc.add_table(rows=0, cols=2)
    _fixed_widths(table, [Cm(4.0), Cm(12.6)])
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].paragraphs[0].add_run(label).bold = True
        cells[1].paragraphs[0].add_run(value)
        for cell in cells:
            cell.paragraphs[0].style = doc.styles["Table Text"]
            _shade(cell, BAND_FILL) if label == "Agreement ID" else None
        _widths_row(cells, [Cm(4.0), Cm(12.6)])
    _borders(table, "D0D7E5")
    _page_break(doc)


def _cover_party(doc: Document, name: str, address: str, country: str, term_line: str) -> None:
    """A party on the cover: its name in bold, its address, and what the agreement calls it."""
    p = doc.add_paragraph()
    run = p.add_run(f"{{{{ {name} }}}}")
    run.bold, run.font.size = True, Pt(13)
    p.paragraph_format.space_after = Pt(0)
    doc.add_paragraph(f"{{{{ {address} }}}}, {{{{ {country} }}}}")
    term = doc.add_paragraph(term_line)
    term.paragraph_format.space_after = Pt(14)


def _contents(doc: Document) -> None:
    heading = doc.add_paragraph("Contents", style="TOC Heading")
    heading.runs[0].font.color.rgb = NAVY
    toc = doc.add_paragraph(style="TOC 1")
    _field(toc, 'TOC \\o "1-1" \\h \\z \\u',
           "The table of contents is refreshed when the document is opened or converted to PDF.", dirty=True)
    doc.add_paragraph()
    doc.add_paragraph("Revision history", style="TOC Heading").runs[0].font.color.rgb = NAVY
    table = doc.add_table(rows=1, cols=3)
    widths = [Cm(2.2), Cm(3.4), Cm(11.0)]
    _fixed_widths(table, widths)
    _header_row(table, ["Version", "Date", "Description of change"], widths)
    _loop_rows(table, "{%tr for r in agreement.revisions %}", "{%tr endfor %}", 3)
    cells = table.add_row().cells
    texts = ["{{ r.version }}", "{{ r.date.strftime('%d %b %Y') }}", "{{ r.description }}"]
    for cell, text in zip(cells, texts, strict=True):
        cell.paragraphs[0].text = text
        cell.paragraphs[0].style = doc.styles["Table Text"]
    _widths_row(cells, widths)
    _move_last_row_before_end(table)
    _borders(table, "A6A6A6")
    _page_break(doc)


def _body(doc: Document) -> None:
    doc.add_paragraph("{%p for s in agreement.sections %}")
    doc.add_paragraph("{{ s.number }}.\t{{ s.title | upper }}", style="Heading 1")
    doc.add_paragraph("{%p for c in s.clauses %}")
    doc.add_paragraph("{{ c.number }}\t{{ c.title }}", style="Heading 2")
    doc.add_paragraph("{%p for para in c.paragraphs %}")
    doc.add_paragraph("{%p if para.kind == 'item' %}")
    doc.add_paragraph("{{ para.label }}\t{{ para.text }}", style="Clause Item")
    doc.add_paragraph("{%p else %}")
    doc.add_paragraph("{{ para.text }}", style="Clause Body")
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("{%p endfor %}")


def _annexes(doc: Document) -> None:
    _page_break(doc)
    doc.add_paragraph("ANNEX A.\tRESPONSIBILITIES MATRIX", style="Heading 1")
    doc.add_paragraph(
        "R = Responsible (performs the activity); A = Accountable (approves and answers for it; exactly one "
        "party per activity); C = Consulted before the activity; I = Informed of the outcome. Rows marked * "
        "differ from the library's default allocation.", style="Small")
    doc.add_paragraph()
    widths = [Cm(1.0), Cm(2.6), Cm(6.0), Cm(1.7), Cm(1.9), Cm(3.4)]
    table = doc.add_table(rows=1, cols=6)
    _fixed_widths(table, widths)
    _header_row(table, ["No.", "Area", "Activity", "Sponsor", "Contract Acceptor", "Notes"], widths)
    _loop_rows(table, "{%tr for r in agreement.raci %}", "{%tr endfor %}", 6)
    cells = table.add_row().cells
    texts = ["{{ r.number }}{% if r.overridden %}*{% endif %}", "{{ r.area }}", "{{ r.activity }}",
             "{{ r.sponsor }}", "{{ r.contract_acceptor }}", "{{ r.notes }}"]
    for i, (cell, text) in enumerate(zip(cells, texts, strict=False)):
        cell.paragraphs[0].text = text
        cell.paragraphs[0].style = doc.styles["Table Text"]
        if i in (3, 4):
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _widths_row(cells, widths)
    _move_last_row_before_end(table)
    _borders(table, "A6A6A6")

    doc.add_paragraph("ANNEX B.\tTIMELINES", style="Heading 1")
    doc.add_paragraph("Every time limit this Agreement sets: the obligation, the party that must act, the clock, "
                      "what starts it, and the clause that sets it. The clause governs; this table lists each clock "
                      "the clauses state and no other.", style="Small")
    doc.add_paragraph()
    widths = [Cm(6.2), Cm(2.4), Cm(3.2), Cm(3.4), Cm(1.4)]
    table = doc.add_table(rows=1, cols=5)
    _fixed_widths(table, widths)
    _header_row(table, ["Obligation", "Who", "Clock", "Trigger", "Clause"], widths)
    _loop_rows(table, "{%tr for t in agreement.timelines %}", "{%tr endfor %}", 5)
    cells = table.add_row().cells
    texts = ["{{ t.event }}", "{{ t.who }}", "{{ t.clock }}", "{{ t.trigger or '–' }}", "{{ t.clause_number }}"]
    for cell, text in zip(cells, texts, strict=False):
        cell.paragraphs[0].text = text
        cell.paragraphs[0].style = doc.styles["Table Text"]
    _widths_row(cells, widths)
    _move_last_row_before_end(table)
    _borders(table, "A6A6A6")

    doc.add_paragraph("ANNEX C.\tREGULATORY TRACEABILITY (INFORMATIVE)", style="Heading 1")
    doc.add_paragraph(TRACEABILITY_LEGEND, style="Small")
    doc.add_paragraph()
    widths = [Cm(9.0), Cm(4.0), Cm(3.6)]  # no column under ~20 characters of 9 pt text (3.5 cm with padding)
    table = doc.add_table(rows=1, cols=3)
    _fixed_widths(table, widths)
    _header_row(table, ["Requirement", "Source", "Clauses"], widths)
    _loop_rows(table, "{%tr for t in agreement.traceability %}", "{%tr endfor %}", 3)
    cells = table.add_row().cells
    texts = ["{{ t.summary }}", "{{ t.citation or t.source }}",
             "{{ t.clause_numbers | join(', ') if t.clause_numbers else '–' }}"]
    for cell, text in zip(cells, texts, strict=False):
        cell.paragraphs[0].text = text
        cell.paragraphs[0].style = doc.styles["Table Text"]
    _widths_row(cells, widths)
    _move_last_row_before_end(table)
    _borders(table, "A6A6A6")

    doc.add_paragraph("Sources", style="Heading 2")
    doc.add_paragraph(SOURCES_LEGEND, style="Small")
    widths = [Cm(3.6), Cm(13.0)]
    table = doc.add_table(rows=1, cols=2)
    _fixed_widths(table, widths)
    _header_row(table, ["Key", "Source"], widths)
    _loop_rows(table, "{%tr for s in agreement.sources %}", "{%tr endfor %}", 2)
    cells = table.add_row().cells
    for cell, text in zip(cells, ["{{ s.key }}", "{{ s.citation }}"], strict=False):
        cell.paragraphs[0].text = text
        cell.paragraphs[0].style = doc.styles["Table Text"]
    _widths_row(cells, widths)
    _move_last_row_before_end(table)
    _borders(table, "A6A6A6")


def _signatures(doc: Document) -> None:
    _page_break(doc)
    doc.add_paragraph("SIGNATURES", style="Heading 1")
    doc.add_paragraph(
        "The Parties execute this Agreement by the electronic signatures of their authorised representatives "
        "below. Each signature shows the signatory's printed name, the date and time of signing (UTC) and the "
        "meaning of the signature, and is cryptographically bound to this document (21 CFR 11.50 and 11.70). "
        "The signatory for {{ agreement.signatories[0].party_name }} signs first, and the others follow in the "
        "order below.", style="Clause Body").paragraph_format.left_indent = Cm(0)
    doc.add_paragraph()
    widths = [Cm(7.6), Cm(9.0)]
    table = doc.add_table(rows=0, cols=2)
    _fixed_widths(table, widths)
    _loop_rows(table, "{%tr for s in agreement.signatories %}", "{%tr endfor %}", 2, first=True)
    cells = table.add_row().cells
    left = cells[0]
    left.paragraphs[0].text = "For and on behalf of"
    left.paragraphs[0].style = doc.styles["Small"]
    p = left.add_paragraph("{{ s.party_name }}", style="Table Text")
    p.runs[0].bold = True
    p.paragraph_format.space_after = Pt(6)
    for label, value in (("Name", "{{ s.name }}"), ("Title", "{{ s.title }}"),
                         ("Meaning", "{{ s.meaning | capitalize }}"), ("E-mail", "{{ s.email }}")):
        line = left.add_paragraph(style="Table Text")
        line.add_run(f"{label}: ", style="Field Label")
        line.add_run(value)
    right = cells[1]
    right.paragraphs[0].text = "Signature field {{ s.field_name }}"
    right.paragraphs[0].style = doc.styles["Small"]
    right.paragraphs[0].runs[0].font.color.rgb = GREY
    _widths_row(cells, widths)
    row = table.rows[-1]
    row.height = Cm(3.6)
    _put(row._tr.get_or_add_trPr(), OxmlElement("w:cantSplit"))
    _move_last_row_before_end(table)
    _borders(table, "A6A6A6")
    doc.add_paragraph()
    doc.add_paragraph(
        "Signature fields are filled in order: the first signature, for {{ agreement.signatories[0].party_name }}, "
        "certifies the document; later "
        "signatures approve it. Any change to the signed document after signing is detectable.", style="Small")


def _page_break(doc: Document) -> None:
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _fixed_widths(table: object, widths: list[object]) -> None:
    table.alignment = WD_TABLE_ALIGNMENT.CENTER  # type: ignore[attr-defined]
    table.autofit = False  # type: ignore[attr-defined]
    tbl = table._tbl  # type: ignore[attr-defined]
    tblpr = tbl.tblPr
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    _put(tblpr, layout)
    width = tblpr.find(qn("w:tblW"))
    if width is None:
        width = OxmlElement("w:tblW")
        _put(tblpr, width)
    width.set(qn("w:w"), str(sum(int(w.twips) for w in widths)))  # type: ignore[attr-defined]
    width.set(qn("w:type"), "dxa")
    grid = tbl.tblGrid
    for col, w in zip(grid.findall(qn("w:gridCol")), widths, strict=False):
        col.set(qn("w:w"), str(int(w.twips)))  # type: ignore[attr-defined]
    margins = OxmlElement("w:tblCellMar")
    for side in ("top", "bottom"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), "50")
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    _put(tblpr, margins)


def _widths_row(cells: list[object], widths: list[object]) -> None:
    for cell, w in zip(cells, widths, strict=False):
        cell.width = w  # type: ignore[attr-defined]


def _header_row(table: object, titles: list[str], widths: list[object]) -> None:
    row = table.rows[0]  # type: ignore[attr-defined]
    trpr = row._tr.get_or_add_trPr()
    _put(trpr, OxmlElement("w:tblHeader"))
    _put(trpr, OxmlElement("w:cantSplit"))
    for cell, title, w in zip(row.cells, titles, widths, strict=False):
        cell.width = w
        paragraph = cell.paragraphs[0]
        run = paragraph.add_run(title)
        run.bold, run.font.size, run.font.color.rgb = True, Pt(9), RGBColor(0xFF, 0xFF, 0xFF)
        paragraph.paragraph_format.space_after = Pt(0)
        _shade(cell, HEADER_FILL)


def _loop_rows(table: object, start: str, end: str, cols: int, *, first: bool = False) -> None:
    """Add the docxtpl loop marker rows (start now; end is moved after the body row later)."""
    for text in (start, end):
        cells = table.add_row().cells  # type: ignore[attr-defined]
        cells[0].paragraphs[0].text = text


def _move_last_row_before_end(table: object) -> None:
    """Rows were added as [start, end, body]; reorder to [start, body, end]."""
    tbl = table._tbl  # type: ignore[attr-defined]
    rows = tbl.findall(qn("w:tr"))
    body, end = rows[-1], rows[-2]
    tbl.remove(body)
    end.addprevious(body)
    for tr in tbl.findall(qn("w:tr")):
        trpr = tr.find(qn("w:trPr"))
        if trpr is not None and trpr.find(qn("w:cantSplit")) is None:
            _put(trpr, OxmlElement("w:cantSplit"))


def _shade(cell: object, fill: str) -> None:
    tcpr = cell._tc.get_or_add_tcPr()  # type: ignore[attr-defined]
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    _put(tcpr, shd)


def _borders(table: object, color: str) -> None:
    tblpr = table._tbl.tblPr  # type: ignore[attr-defined]
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{side}")
        for key, value in (("w:val", "single"), ("w:sz", "4"), ("w:space", "0"), ("w:color", color)):
            el.set(qn(key), value)
        borders.append(el)
    _put(tblpr, borders)


def _settings(doc: Document) -> None:
    settings = doc.settings.element
    lang = settings.find(qn("w:themeFontLang"))
    if lang is not None:
        lang.set(qn("w:val"), "en-GB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "templates" /
         "quality_agreement.docx")

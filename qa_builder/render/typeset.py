"""The only Typst importer: Agreement → tagged PDF/A-2b typeset directly, without a DOCX in between."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import typst

from qa_builder import config
from qa_builder.errors import ConversionError, Hint, Remedy
from qa_builder.files import atomic_writer
from qa_builder.models.agreement import Agreement

TEMPLATE = Path(__file__).with_name("typeset.typ")
PDF_STANDARD: Final = "a-2b"

# Fonts in the order Typst falls back through them, glyph by glyph: Latin text in Carlito (metric-compatible
# with the DOCX template's Calibri), then Liberation Sans; Hebrew, Arabic and other scripts Carlito lacks in
# DejaVu Sans; Chinese, Japanese and Korean in Noto Sans CJK. Each family is found as files (never fetched).
FONT_FAMILIES = ("Carlito", "Liberation Sans", "DejaVu Sans", "Noto Sans CJK JP")
FONT_FILES = {
    "Carlito": ("Carlito-Regular.ttf", "Carlito-Bold.ttf", "Carlito-Italic.ttf", "Carlito-BoldItalic.ttf"),
    "Liberation Sans": ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationSans-Italic.ttf",
                        "LiberationSans-BoldItalic.ttf"),
    "DejaVu Sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf"),
    "Noto Sans CJK JP": ("NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc"),
}
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", "/System/Library/Fonts")
FONT_INSTALL = "install them with 'sudo apt-get install fonts-crosextra-carlito fonts-dejavu-core fonts-noto-cjk'"

# Fixed texts of the document; the same words as the DOCX template (tools/make_template.py), which
# tests/test_typeset.py checks by comparing the text of both documents.
RACI_LEGEND = (
    "R = Responsible (performs the activity); A = Accountable (approves and answers for it; exactly one "
    "party per activity); C = Consulted before the activity; I = Informed of the outcome. Rows marked * "
    "differ from the library's default allocation.")
TIMELINES_LEGEND = (
    "Every time limit this Agreement sets: the obligation, the party that must act, the clock, what starts it, "
    "and the clause that sets it. The clause governs; this table lists each clock the clauses state and no other.")
TRACEABILITY_LEGEND = (
    "This annex is informative and not contractual: the clauses of this Agreement govern. It lists each "
    "regulatory requirement that applies to the arrangement of this Agreement (its products, markets, release "
    "arrangement and services) and the clauses that address it. Sources are cited by the short keys listed "
    "under Sources below. A source marked (unverified) was not checked against the primary text of the "
    "instrument: its provision number or wording is not confirmed.")
SOURCES_LEGEND = "Each instrument cited in this annex, once, under the key the table above uses."
# {first}: the party the first signatory signs for (an affiliate of the Sponsor may sign first, review5 M5)
SIGNATURE_INTRO = (
    "The Parties execute this Agreement by the electronic signatures of their authorised representatives "
    "below. Each signature shows the signatory's printed name, the date and time of signing (UTC) and the "
    "meaning of the signature, and is cryptographically bound to this document (21 CFR 11.50 and 11.70). "
    "The signatory for {first} signs first, and the others follow in the order below.")
SIGNATURE_NOTE = (
    "Signature fields are filled in order: the first signature, for {first}, certifies the document; later "
    "signatures approve it. Any change to the signed document after signing is detectable.")
SIGNATURE_CAPTION = "Signature field "  # what render/fields.py looks for


def find_fonts(font_dirs: list[Path] | None = None) -> list[Path]:
    """Return the font files of FONT_FAMILIES, one list in fallback order.

    Args:
        font_dirs: Folders to search (recursively); default: ``QA_BUILDER_FONT_DIRS`` (``os.pathsep``-separated)
            or the usual system font folders.

    Returns:
        Paths of the font files found; every family has at least its regular face.

    Raises:
        ConversionError: A family is missing; the message names the package that installs it.
    """
    if font_dirs is None:
        font_dirs = config.font_dirs() or [Path(p) for p in FONT_DIRS]
    wanted = {name for names in FONT_FILES.values() for name in names}
    found: dict[str, Path] = {}
    for folder in font_dirs:
        if not folder.is_dir():
            continue
        for root, _dirs, files in os.walk(folder):
            for name in files:
                if name in wanted and name not in found:
                    found[name] = Path(root) / name
    missing = [family for family, names in FONT_FILES.items() if names[0] not in found]
    if missing:
        raise ConversionError(f"the PDF fonts {', '.join(missing)} are not installed: {FONT_INSTALL}")
    return [found[name] for names in FONT_FILES.values() for name in names if name in found]


def document_data(agreement: Agreement) -> dict[str, Any]:
    """Everything the Typst template shows, as display strings in the DOCX template's words.

    The DOCX template formats some fields (dates, joined lists, upper-case section titles); the same
    formatting is done here so that both documents say the same thing.
    """
    a = agreement
    parties = []
    for party in (a.sponsor, a.contract_acceptor):
        parties.append({"name": party.name, "address_line": f"{party.address}, {party.country}",
                        "term_line": f'(the "{party.defined_term}")'})
        parties += [{"name": f.name, "address_line": f"{f.address}, {f.country}", "term_line": f.term_line}
                    for f in a.affiliates if f.affiliate_of == party.role]  # after their principal (R3-3)
    return {
        "fonts": list(FONT_FAMILIES),
        "document_title": f"Quality Agreement {a.id}, version {a.version}: {a.title}",
        "title": a.title,
        "header": f"Quality Agreement {a.id} · Version {a.version} · {a.title}",
        "footer": f"{a.sponsor.name} – {a.contract_acceptor.name} · Confidential",
        "first_footer": f"Confidential · {a.id} · Version {a.version}",
        "parties": parties,
        "cover_rows": [
            ["Agreement ID", a.id],
            ["Version", str(a.version)],
            ["Effective date", a.effective_date.strftime("%d %B %Y")],
            ["Products", "; ".join(a.products)],
            ["Markets", ", ".join(a.markets)],
            ["Clause library", f"{a.library_name}, version {a.library_version}"],
        ],
        "revisions": [[str(r.version), r.date.strftime("%d %b %Y"), r.description] for r in a.revisions],
        "sections": [
            {"number": f"{s.number}.", "title": s.title.upper(),
             "clauses": [{"number": c.number, "title": c.title,
                          "paragraphs": [{"kind": p.kind, "label": p.label, "text": p.text} for p in c.paragraphs]}
                         for c in s.clauses]}
            for s in a.sections],
        "raci_legend": RACI_LEGEND,
        "raci": [[f"{r.number}{'*' if r.overridden else ''}", r.area, r.activity, r.sponsor, r.contract_acceptor,
                  r.notes] for r in a.raci],
        "timelines_legend": TIMELINES_LEGEND,
        "timelines": [[t.event, t.who, t.clock, t.trigger or "–", t.clause_number] for t in a.timelines],
        "traceability_legend": TRACEABILITY_LEGEND,
        "traceability": [[t.summary, t.citation or t.source, ", ".join(t.clause_numbers) or "–"]
                         for t in a.traceability],
        "sources_legend": SOURCES_LEGEND,
        "sources": [[s.key, s.citation] for s in a.sources],
        "signature_intro": SIGNATURE_INTRO.format(first=a.signatories[0].party_name),
        "signatories": [
            {"party_name": s.party_name, "caption": SIGNATURE_CAPTION + s.field_name,
             "lines": [["Name", s.name], ["Title", s.title], ["Meaning", s.meaning.capitalize()],
                       ["E-mail", s.email]]}
            for s in a.signatories],
        "signature_note": SIGNATURE_NOTE.format(first=a.signatories[0].party_name),
    }


# The binding calls comemo's evict(10) after every compile: memoised layout results live on for ten more
# compiles. Our documents differ, so those results are rarely reused, and ten documents' worth (~50 MB each)
# is ~550 MB of resident memory. Ten compiles of an empty document (~2 ms in all) age them out at once.
CACHE_AGE_STEPS = 10


@dataclass
class _Typesetter:
    compiler: typst.Compiler
    ager: typst.Compiler
    documents: int = 0

    def age_cache(self) -> None:
        """Let Typst's global memo cache drop what the last document left in it."""
        for _ in range(CACHE_AGE_STEPS):
            self.ager.compile(input=b"", format="svg")


class PdfTypesetter:
    """Typesets Agreements to PDF/A-2b; thread-safe (one warm Typst compiler per thread).

    A compiler keeps its fonts and template parsed between documents; it is replaced after
    ``recycle_after`` documents so that its caches cannot grow without bound.
    """

    def __init__(self, *, font_dirs: list[Path] | None = None, recycle_after: int = 200) -> None:
        """Find the fonts and read the template; compile nothing yet.

        Raises:
            ConversionError: fonts or the template are missing.
        """
        if recycle_after < 1:
            raise ValueError("recycle_after must be positive")
        self._fonts = find_fonts(font_dirs)
        try:
            self._template = TEMPLATE.read_bytes()
        except OSError as exc:
            raise ConversionError(f"{TEMPLATE}: the Typst template cannot be read ({exc})") from exc
        self._root = tempfile.mkdtemp(prefix="qa-builder-typst-")  # empty: the template reads no files
        self._recycle_after = recycle_after
        self._local = threading.local()
        self._fonts_lock = threading.Lock()
        self._font_book: typst.Fonts | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        """Load the fonts in the background (~0.3 s), while the caller loads the library and assembles."""
        threading.Thread(target=self._shared_fonts, name="typst-fonts", daemon=True).start()

    def _shared_fonts(self) -> typst.Fonts:
        """The fonts, loaded once and shared by every thread's compiler."""
        with self._fonts_lock:
            if self._font_book is None:
                self._font_book = typst.Fonts(include_system_fonts=False, include_embedded_fonts=False,
                                              font_paths=sorted({str(p.parent) for p in self._fonts}))
            return self._font_book

    def close(self) -> None:
        """Remove the empty project folder; the compilers are freed with the threads that made them."""
        shutil.rmtree(self._root, ignore_errors=True)

    def _compiler(self) -> _Typesetter:
        current: _Typesetter | None = getattr(self._local, "typesetter", None)
        if current is None or current.documents >= self._recycle_after:
            fonts = self._shared_fonts()
            nothing = typst.Fonts(include_system_fonts=False, include_embedded_fonts=False)
            current = _Typesetter(typst.Compiler(root=self._root, font_paths=fonts, ignore_system_fonts=True),
                                  typst.Compiler(root=self._root, font_paths=nothing, ignore_system_fonts=True))
            self._local.typesetter = current
        return current

    def typeset(self, agreement: Agreement, pdf: Path, *, now: dt.datetime | None = None) -> None:
        """Write the agreement as a tagged PDF/A-2b file (complete or not at all).

        Args:
            agreement: The assembled agreement.
            pdf: Where to write the PDF (its folder must exist; replaced if present).
            now: The document's creation time (UTC); default: now.

        Raises:
            ConversionError: Typst reported an error (the message says which).
        """
        data = json.dumps(document_data(agreement), ensure_ascii=False)
        typesetter = self._compiler()
        stamp = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        try:
            result = typesetter.compiler.compile(input=self._template, format="pdf", sys_inputs={"agreement": data},
                                                 pdf_standards=[PDF_STANDARD], timestamp=stamp, pdf_tags=True)
        except typst.TypstError as exc:
            raise ConversionError(f"{agreement.id}: Typst could not typeset the PDF: {exc.message}") from exc
        except BaseException as exc:  # a panic inside Typst arrives as pyo3's PanicException (a BaseException)
            if type(exc).__name__ != "PanicException":
                raise
            raise ConversionError(f"{agreement.id}: Typst failed while typesetting the PDF ({exc})",
                                  hint=Hint(Remedy.LIBREOFFICE_ENGINE)) from exc
        finally:
            typesetter.documents += 1
            typesetter.age_cache()
        if not isinstance(result, bytes):
            raise ConversionError(f"{agreement.id}: Typst returned no PDF")
        with atomic_writer(pdf) as handle:
            handle.write(result)

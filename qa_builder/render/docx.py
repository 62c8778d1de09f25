"""The only docxtpl importer: Agreement → DOCX, rendered in the sandbox with XML autoescape."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree

import jinja2
from docx.opc.exceptions import PackageNotFoundError
from docxtpl import DocxTemplate

from qa_builder.bundled import bundled
from qa_builder.errors import Hint, Remedy, TemplateError
from qa_builder.files import ZIP_READ_ERRORS, atomic_writer, read_small_file
from qa_builder.models.agreement import Agreement
from qa_builder.render.anchors import AnchorError, agreement_properties, anchor_agreement, set_custom_properties
from qa_builder.sandbox.environment import RenderLimitExceeded, TemplateProblem, freeze, make_document_environment
from qa_builder.sandbox.names import check_names

TEMPLATE_FILE = "quality_agreement.docx"
_HEADER_URI = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/header"
_FOOTER_URI = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer"
_FOOTNOTES_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
_RENDERED_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")  # as docxtpl renders

_MB = 1024 * 1024
MAX_PART_BYTES = 32 * _MB
"""Largest inflated size of one part of a template."""
MAX_TOTAL_BYTES = 128 * _MB
"""Largest inflated size of all parts of a template."""
MAX_RATIO = 100
"""Largest compression ratio of a part above 1 MB."""
MAX_PARTS = 2000
_XML_ENCODING = re.compile(r"""\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']+)["']""")
_XML_ENCODINGS = {"utf-8", "utf8", "utf-16", "utf16", "us-ascii", "ascii"}


def default_template_path() -> Path:
    """The template shipped with the package (wheel) or found beside it (source tree)."""
    found = bundled(f"templates/{TEMPLATE_FILE}")
    if found is not None and found.is_file():
        return found
    raise TemplateError("the default DOCX template is missing from this installation",
                        hint=Hint(Remedy.TEMPLATE_FILE))


@lru_cache(maxsize=8)
def _template_bytes(path: Path, mtime_ns: int) -> bytes:
    try:
        data = read_small_file(path, MAX_TOTAL_BYTES)  # a FIFO or device is refused, not waited on
    except OSError as exc:
        raise TemplateError(f"{path}: the template cannot be read ({exc.strerror})") from exc
    _preflight(path, data)
    return data


def load_template(path: Path) -> bytes:
    """Read and preflight a template once per process: it must open and use only Agreement fields.

    Raises:
        TemplateError: unreadable, not a DOCX, or using names the Agreement model lacks.
    """
    try:
        return _template_bytes(path.resolve(), path.stat().st_mtime_ns)
    except FileNotFoundError as exc:
        raise TemplateError(f"{path}: template not found") from exc


def template_sha256(path: Path) -> str:
    """sha256 of the template file's bytes."""
    return hashlib.sha256(load_template(path)).hexdigest()


_UNREADABLE_PACKAGE: tuple[type[Exception], ...] = (PackageNotFoundError, *ZIP_READ_ERRORS, KeyError, SyntaxError)
_UNREADABLE_ZIP: tuple[type[Exception], ...] = (*ZIP_READ_ERRORS, OSError)


def _preflight(path: Path, data: bytes) -> None:
    _check_package(path, data)
    try:
        tpl = DocxTemplate(io.BytesIO(data))
        tpl.init_docx()
        sources = [("the document body", tpl.patch_xml(tpl.get_xml()))]
        for uri in (_HEADER_URI, _FOOTER_URI):
            for _key, part in tpl.get_headers_footers(uri):
                sources.append((str(part.partname), tpl.patch_xml(tpl.get_part_xml(part))))
        for part in tpl.docx.part.package.parts:
            if part.content_type == _FOOTNOTES_TYPE:
                sources.append((str(part.partname), tpl.patch_xml(part.blob.decode("utf-8"))))
        properties = tpl.docx.core_properties
        for name in _RENDERED_PROPERTIES:
            sources.append((f"the document property '{name}'", getattr(properties, name) or ""))
    except _UNREADABLE_PACKAGE as exc:
        # python-docx reports malformed XML with lxml's XMLSyntaxError, a SyntaxError
        raise TemplateError(f"{path}: is not a readable DOCX template ({exc})") from exc
    for where, source in sources:
        try:
            check_names(source, {"agreement": Agreement})
        except TemplateProblem as exc:
            raise TemplateError(f"{path}: the template ({where}) {exc}") from exc


def _check_package(path: Path, data: bytes) -> None:
    """Refuse zip bombs and XML entity bombs before any part is inflated or parsed.

    Each part's declared size, the total, and the compression ratio of large parts are checked first
    (zipfile never inflates past a declared size); then every XML part must be UTF-8 or UTF-16 and hold
    no DTD (no <!DOCTYPE>, no <!ENTITY>), since a DOCX never needs one.

    Raises:
        TemplateError: one line naming the template and the part.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            infos = package.infolist()
            if len(infos) > MAX_PARTS:
                raise TemplateError(f"{path}: holds {len(infos):,} parts (at most {MAX_PARTS:,}); not a template")
            total = 0
            for info in infos:
                total += info.file_size
                _check_part_size(path, info)
            if total > MAX_TOTAL_BYTES:
                raise TemplateError(f"{path}: would inflate to {total / _MB:,.0f} MB (at most "
                                    f"{MAX_TOTAL_BYTES // _MB} MB); refused as a possible zip bomb")
            xml_types = _xml_content_types(path, package)
            for info in infos:
                if info.filename.lower().endswith((".xml", ".rels")) or _is_xml_part(info.filename, xml_types):
                    _check_xml_part(path, info.filename, package.read(info))
    except _UNREADABLE_ZIP as exc:
        raise TemplateError(f"{path}: is not a readable DOCX template ({exc})") from exc


def _check_part_size(path: Path, info: zipfile.ZipInfo) -> None:
    if info.file_size > MAX_PART_BYTES:
        raise TemplateError(f"{path}: part {info.filename} would inflate to {info.file_size / _MB:,.0f} MB "
                            f"(at most {MAX_PART_BYTES // _MB} MB); refused as a possible zip bomb")
    if info.file_size > _MB and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise TemplateError(f"{path}: part {info.filename} inflates {info.file_size // max(info.compress_size, 1):,}"
                            f" times (at most {MAX_RATIO}); refused as a possible zip bomb")


def _check_xml_part(path: Path, name: str, raw: bytes) -> None:
    try:
        text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(f"{path}: part {name} is not UTF-8 or UTF-16 XML ({exc.reason})") from exc
    declared = _XML_ENCODING.match(text)
    if declared and declared.group(1).lower().replace("_", "-") not in _XML_ENCODINGS:
        raise TemplateError(f"{path}: part {name} declares encoding '{declared.group(1)}'; only UTF-8 or UTF-16")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise TemplateError(f"{path}: part {name} holds a DTD or entity declaration (<!DOCTYPE/<!ENTITY>); a DOCX "
                            f"template needs none, and they can expand without bound")
    if name.lower().endswith(".rels"):
        _check_relationships(path, name, text)
    elif "instrText" in text or "fldSimple" in text:  # any part: the main document may be named anything
        _check_fields(path, name, text)


_CONTENT_TYPES = "[Content_Types].xml"
_CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"


def _xml_content_types(path: Path, package: zipfile.ZipFile) -> tuple[set[str], set[str]]:
    """The file extensions and part names [Content_Types].xml declares as XML (lower case; names without '/').

    A part is XML by its content type, not its name: a template whose main document was 'word/document.dat'
    (declared as the document's XML) carried an INCLUDEPICTURE field past the checks (session 6 attack).
    """
    try:
        raw = package.read(_CONTENT_TYPES)
    except KeyError:
        return set(), set()
    _check_xml_part(path, _CONTENT_TYPES, raw)
    try:
        root = ElementTree.fromstring(raw)  # no DTD: _check_xml_part refused them
    except ElementTree.ParseError as exc:
        raise TemplateError(f"{path}: part {_CONTENT_TYPES} is not well-formed XML ({exc})") from exc
    extensions = {(e.get("Extension") or "").lower() for e in root.iter(f"{_CT}Default")
                  if "xml" in (e.get("ContentType") or "").lower()}
    names = {(e.get("PartName") or "").lstrip("/").lower() for e in root.iter(f"{_CT}Override")
             if "xml" in (e.get("ContentType") or "").lower()}
    return extensions, names


def _is_xml_part(name: str, xml_types: tuple[set[str], set[str]]) -> bool:
    extensions, names = xml_types
    lowered = name.lower()
    return lowered in names or lowered.rsplit(".", 1)[-1] in extensions


_HYPERLINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"


def _check_relationships(path: Path, name: str, text: str) -> None:
    """Refuse relationships to outside resources (attached templates, linked images, OLE links, frames).

    Word fetches such targets when the built DOCX is opened (a remote .dotm, an image on a server), so a
    template could make every agreement built from it reach out to, or report its opening to, a third party.
    Plain hyperlinks are kept: Word follows them only when a reader clicks one.
    """
    try:
        root = ElementTree.fromstring(text)  # no DTD is possible here: _check_xml_part refused them first
    except ElementTree.ParseError as exc:
        raise TemplateError(f"{path}: part {name} is not well-formed XML ({exc})") from exc
    for rel in root.iter(_RELATIONSHIP):
        if rel.get("TargetMode") == "External" and rel.get("Type") != _HYPERLINK:
            kind = (rel.get("Type") or "?").rsplit("/", 1)[-1]
            raise TemplateError(f"{path}: part {name} links to a resource outside the document ({kind}: "
                                f"{rel.get('Target')!r}); Word would fetch it whenever an agreement is opened, "
                                "so a template may not")


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
SAFE_FIELDS = frozenset({
    "PAGE", "NUMPAGES", "SECTIONPAGES", "SECTION", "TOC", "TC", "PAGEREF", "REF", "NOTEREF", "STYLEREF", "SEQ",
    "HYPERLINK", "DATE", "TIME", "CREATEDATE", "SAVEDATE", "PRINTDATE", "EDITTIME", "TITLE", "SUBJECT", "AUTHOR",
    "KEYWORDS", "COMMENTS", "LASTSAVEDBY", "DOCPROPERTY", "NUMWORDS", "NUMCHARS", "LISTNUM", "AUTONUM",
    "AUTONUMLGL", "AUTONUMOUT", "SYMBOL", "XE", "INDEX", "TA", "TOA", "BIDIOUTLINE", "EQ", "ADVANCE", "IF", "=",
})
"""Field codes a template may hold: numbering, references, dates and document properties. Others (DDE and
DDEAUTO, which start programs; INCLUDETEXT, INCLUDEPICTURE and LINK, which read other files or URLs; MACROBUTTON,
FILLIN, ASK, DATABASE) act when the agreement is opened or its fields are updated, on the reader's computer."""


def _check_fields(path: Path, name: str, text: str) -> None:
    """Refuse field codes outside SAFE_FIELDS, whether written as w:fldSimple or as w:instrText runs (which Word
    joins, so 'DD' + 'EAUTO' in two runs is one DDEAUTO field)."""
    try:
        root = ElementTree.fromstring(text)  # no DTD is possible here: _check_xml_part refused them first
    except ElementTree.ParseError as exc:
        raise TemplateError(f"{path}: part {name} is not well-formed XML ({exc})") from exc
    instructions: list[str] = []
    open_fields: list[list[str]] = []
    for element in root.iter():
        if element.tag == f"{_W}fldSimple":
            instructions.append(element.get(f"{_W}instr") or "")
        elif element.tag == f"{_W}fldChar":
            kind = element.get(f"{_W}fldCharType")
            if kind == "begin":
                open_fields.append([])
            elif kind in ("separate", "end") and open_fields:
                instructions.append("".join(open_fields[-1]))
                open_fields[-1] = []
                if kind == "end":
                    open_fields.pop()
        elif element.tag == f"{_W}instrText" and open_fields:
            open_fields[-1].append(element.text or "")
    instructions += ["".join(parts) for parts in open_fields]
    for instruction in instructions:
        words = instruction.split()
        code = words[0].upper() if words else ""
        if code and code not in SAFE_FIELDS and not code.startswith("="):
            raise TemplateError(f"{path}: part {name} holds the field {code[:40]}, which would act on the reader's "
                                "computer when an agreement is opened or its fields are updated, so a template may "
                                f"not (allowed: page numbers, references, dates, document properties)")


@lru_cache(maxsize=32)
def _patched_xml(source: str) -> str:
    return str(DocxTemplate.patch_xml(None, source))


_LISTING_CHARACTERS = re.compile("[\t\a\n\f]")
"""What docxtpl's `resolve_listing` turns into Word elements (tab, new paragraph, line break, page break)."""


class _CachedTemplate(DocxTemplate):  # type: ignore[misc]
    """docxtpl's template, with its pure XML clean-up (patch_xml) memoised per template part, and its listing
    pass skipped where it has nothing to do."""

    def patch_xml(self, src_xml: str) -> str:
        return _patched_xml(src_xml)

    def resolve_listing(self, xml: str) -> str:
        """docxtpl rewrites every paragraph, run and text of a rendered part with regular expressions to turn
        tabs, newlines, U+0007 and form feeds into Word's elements (a third of a 40-page render); a part that
        holds none of them comes out of that unchanged, so it is returned as it is."""
        if _LISTING_CHARACTERS.search(xml) is None:
            return xml
        return str(super().resolve_listing(xml))


def render_docx(agreement: Agreement, template: Path, out: Path) -> None:
    """Render the agreement into a DOCX at `out` (written atomically), clauses anchored for negotiation.

    Each clause sits in a content control tagged with its id, version, position and number, and each of its
    paragraphs carries a bookmark; the agreement id, version and model digest are custom file properties
    (see render.anchors).

    Args:
        agreement: the assembled agreement.
        template: a docxtpl template whose only variable is `agreement`.
        out: the DOCX to write.

    Raises:
        TemplateError: the template is unusable, was stopped by the sandbox or its limits, or failed to render
            (one line, naming the template; exit status 2); or it shows a clause heading without that
            clause's text after it, so the clauses cannot be anchored.
    """
    data = load_template(template)
    tpl = _CachedTemplate(io.BytesIO(data))
    # Shared memoising environment: docxtpl sets env.autoescape = True on it, which it already is.
    env = make_document_environment()
    try:
        tpl.render({"agreement": freeze(agreement)}, jinja_env=env, autoescape=True)
    except RenderLimitExceeded as exc:
        raise TemplateError(f"{template}: rendering agreement {agreement.id} was stopped: {exc}") from exc
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"{template}: rendering was stopped by the sandbox ({exc})") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{template}: does not compile (line {exc.lineno}: {exc.message})") from exc
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError,
            RecursionError) as exc:
        raise TemplateError(f"{template}: the template failed to render agreement {agreement.id} "
                            f"({type(exc).__name__}: {exc})") from exc
    try:
        anchor_agreement(tpl.docx, agreement)
    except AnchorError as exc:
        raise TemplateError(f"{template}: agreement {agreement.id}: {exc}, so it cannot be anchored for "
                            "negotiation") from exc
    set_custom_properties(tpl.docx, agreement_properties(agreement))
    document = io.BytesIO()  # zipped in memory: a full disk then fails one plain write, not zipfile's clean-up
    tpl.save(document)
    with atomic_writer(out) as handle:
        handle.write(document.getbuffer())

"""Read a DOCX the counterparty returned: tracked changes, comments and clause anchors, within fixed bounds.

The only reader of returned DOCX files. WordprocessingML (ECMA-376 Part 1): insertions and deletions
(§17.13.5.18 `w:ins`, §17.13.5.14 `w:del`), moves (§17.13.5.22/24 `w:moveFrom`, `w:moveTo`), run and paragraph
formatting changes (§17.13.5.31 `w:rPrChange`, §17.13.5.29 `w:pPrChange`), tracked table rows (`w:trPr/w:ins`,
`w:trPr/w:del`), comments (§17.13.4, `word/comments.xml`, replies in Word 2013's `word/commentsExtended.xml`).
Besides the body, the parts whose text the agreement shows are read too: the page headers and footers a section
references (§17.10.2-5 `w:headerReference`, `w:footerReference`, through `word/_rels/document.xml.rels`), the
footnotes and the endnotes (§17.11).
"""

from __future__ import annotations

import errno
import io
import posixpath
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from qa_builder.errors import InputError
from qa_builder.files import ZIP_READ_ERRORS, read_small_file
from qa_builder.render.anchors import ClauseTag, parse_bookmark, parse_clause_tag

__all__ = ["Change", "Comment", "ReturnedDocument", "ReturnedParagraph", "read_returned"]

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
W14 = "{http://schemas.microsoft.com/office/word/2010/wordml}"
W15 = "{http://schemas.microsoft.com/office/word/2012/wordml}"
_CUSTOM = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_VML = "{urn:schemas-microsoft-com:vml}"
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PART_BYTES = 16 * 1024 * 1024
"""Bytes of one part read (document, comments): an agreement's document.xml is about 0.4 MB. Session 6: 64 MiB of
small elements parsed to a 1 GB tree."""
MAX_ENTRIES = 2000
MAX_PARAGRAPHS = 20_000
MAX_REVISIONS = 100_000
"""Tracked changes (insertions, deletions, moves, formatting changes) a returned agreement may hold: a reformatted
40-page agreement holds some thousands. Session 6: 1,200,000 in a 650 KB file took 53 s and 1.2 GB to read."""
MAX_COMMENTS = 20_000
"""Comments a returned agreement may hold (2,000,000 empty ones in a 650 KB file took 58 s and 1.3 GB)."""
MAX_OUTSIDE_PARTS = 100
"""Page headers, footers, footnote and endnote parts read: an agreement has three (a header and two footers)."""
MAX_OUTSIDE_BYTES = MAX_PART_BYTES
"""Bytes of all page headers, footers, footnotes and endnotes together (read and parsed one at a time)."""
_REVISION_TAGS = (W + "ins", W + "del", W + "moveFrom", W + "moveTo", W + "rPrChange", W + "pPrChange")
_PARTS = ("word/document.xml", "word/comments.xml", "word/commentsExtended.xml", "docProps/custom.xml",
          "word/_rels/document.xml.rels")
_RELATIONSHIP = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_PLACES = {("header", "default"): "the page header", ("header", "first"): "the first-page header",
           ("header", "even"): "the even-page header", ("footer", "default"): "the footer",
           ("footer", "first"): "the first-page footer", ("footer", "even"): "the even-page footer"}
"""A section's header or footer reference (kind, w:type) → the words a reader uses for it."""
_NOTES = {"footnotes": ("the footnotes", W + "footnote"), "endnotes": ("the endnotes", W + "endnote")}

ChangeKind = Literal["insertion", "deletion", "move_from", "move_to", "formatting", "paragraph_formatting",
                     "paragraph_inserted", "paragraph_deleted", "row_inserted", "row_deleted"]
_WRAPPERS: dict[str, ChangeKind] = {W + "ins": "insertion", W + "del": "deletion", W + "moveFrom": "move_from",
                                    W + "moveTo": "move_to"}
_ADDED = {W + "ins", W + "moveTo"}
_REMOVED = {W + "del", W + "moveFrom"}


class ReturnedFileError(InputError):
    """The returned file cannot be read safely."""


@dataclass(frozen=True)
class Change:
    """One tracked change, in document order."""

    kind: ChangeKind
    author: str
    date: str
    text: str
    paragraph: int  # index into ReturnedDocument.paragraphs (in `part`: that part's paragraph, counted from 0)
    part: str = ""  # "" in the body; else where the agreement shows it, in words: "the page header", "the footer"


@dataclass(frozen=True)
class Comment:
    """A comment with its author, date, text, the paragraph it is anchored in and the comment it replies to."""

    comment_id: str
    author: str
    date: str
    text: str
    paragraph: int | None
    reply_to: str | None
    part: str = ""  # "" when anchored in the body (or nowhere); else the part, as in Change.part


@dataclass
class ReturnedParagraph:
    """A paragraph as sent (all changes rejected) and as proposed (all accepted), with its anchors."""

    rejected: str
    accepted: str
    in_rejected: bool  # the paragraph exists when all changes are rejected (not an inserted one)
    in_accepted: bool
    joins_next_rejected: bool  # its mark is inserted: rejecting joins it to the next paragraph
    joins_next_accepted: bool  # its mark is deleted: accepting joins it to the next paragraph
    tag: ClauseTag | None
    bookmark: tuple[int, int] | None
    alias: str | None


@dataclass
class ReturnedDocument:
    """What a returned DOCX holds."""

    path: Path
    properties: dict[str, str]
    paragraphs: list[ReturnedParagraph] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    outside: dict[str, list[str]] = field(default_factory=dict)
    """Text shown outside the body (page headers, footers, footnotes, endnotes): where, in words ("the page
    header") → its paragraphs with every change rejected (as sent), in document order, then its watermarks
    ("(watermark) DRAFT", VML text paths); field results (page numbers) left out, and a part that repeats
    another's text for the same place (one per section) kept once."""

    def lines(self, *, accept: bool) -> list[tuple[str, list[int]]]:
        """The body text with all changes accepted (or rejected): each paragraph's text and the paragraphs it
        came from (several when a paragraph mark was removed)."""
        out: list[tuple[str, list[int]]] = []
        carry, sources = "", []
        for index, p in enumerate(self.paragraphs):
            present = p.in_accepted if accept else p.in_rejected
            if not present:
                continue
            carry += p.accepted if accept else p.rejected
            sources.append(index)
            if not (p.joins_next_accepted if accept else p.joins_next_rejected):
                out.append((carry, sources))
                carry, sources = "", []
        if sources:
            out.append((carry, sources))
        return out


def read_returned(path: Path) -> ReturnedDocument:
    """Read a returned DOCX: its body, the page headers, footers, footnotes and endnotes it shows, and comments.

    Raises:
        ReturnedFileError: not a DOCX, damaged, too large, or using DTDs/entities; one line naming the file.
    """
    package = _open(path)
    parts = _read_parts(package)
    if "word/document.xml" not in parts:
        raise ReturnedFileError(f"{path}: is not a Word document (no word/document.xml)")
    document = _parse(path, "word/document.xml", parts["word/document.xml"])
    result = ReturnedDocument(path=path, properties=_properties(path, parts.get("docProps/custom.xml")))
    body = document.find(W + "body")
    if body is None:
        raise ReturnedFileError(f"{path}: word/document.xml has no body")
    revisions = _refuse_more_than(path, "tracked changes", body.iter(*_REVISION_TAGS), MAX_REVISIONS)
    comment_places: dict[str, tuple[str, int]] = {}
    for p in body.iter(W + "p"):
        if len(result.paragraphs) >= MAX_PARAGRAPHS:
            raise ReturnedFileError(f"{path}: has more than {MAX_PARAGRAPHS} paragraphs; not a Quality Agreement")
        index = len(result.paragraphs)
        result.paragraphs.append(_paragraph(p, index, result.changes))
        for node in p.iter(W + "commentRangeStart", W + "commentReference"):
            comment_places.setdefault(node.get(W + "id", ""), ("", index))
    places = _outside_places(path, body, parts.get("word/_rels/document.xml.rels"))
    _read_outside(package, places, result, revisions, comment_places)
    if "word/comments.xml" in parts:
        replies = _replies(path, parts.get("word/commentsExtended.xml"))
        comments = _parse(path, "word/comments.xml", parts["word/comments.xml"])
        _refuse_more_than(path, "comments", comments.iter(W + "comment"), MAX_COMMENTS)
        para_ids: dict[str, str] = {}
        for c in comments.iter(W + "comment"):
            cid = c.get(W + "id", "")
            for p in c.iter(W + "p"):
                if p.get(W14 + "paraId"):
                    para_ids[p.get(W14 + "paraId")] = cid
        for c in comments.iter(W + "comment"):
            cid = c.get(W + "id", "")
            last = [p.get(W14 + "paraId") for p in c.iter(W + "p")][-1:] or [None]
            parent_para = replies.get(last[0] or "")
            text = "\n".join(_text(p, accept=True) for p in c.iter(W + "p"))
            part, paragraph = comment_places.get(cid, ("", None))
            result.comments.append(Comment(cid, c.get(W + "author", ""), c.get(W + "date", ""), text,
                                           paragraph if not part else None, para_ids.get(parent_para or ""),
                                           part))
    return result


def _refuse_more_than(path: Path, what: str, elements: Any, limit: int, before: int = 0) -> int:
    """Refuse a returned file holding more than `limit` of `elements` (besides `before` already counted), counted
    before any is read; returns how many there are in all."""
    count = before
    for count, _element in enumerate(elements, start=before + 1):
        if count > limit:
            raise ReturnedFileError(f"{path}: holds more than {limit:,} {what}; not a Quality Agreement under "
                                    "negotiation")
    return count


class _Package:
    """The zip package of a returned DOCX, read from memory: parts read one at a time, each bounded."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(io.BytesIO(data))
        entries = self.zip.infolist()
        if len(entries) > MAX_ENTRIES:
            raise ReturnedFileError(f"{path}: has {len(entries)} entries; not a Word document")
        self.entries: dict[str, zipfile.ZipInfo] = {}
        for entry in entries:
            if entry.filename in self.entries:  # Word reads one of them, another tool the other: ambiguous
                raise ReturnedFileError(f"{path}: holds {entry.filename} twice; a damaged or altered package, "
                                        "not as Word writes it")
            self.entries[entry.filename] = entry

    def read(self, name: str, limit: int = MAX_PART_BYTES) -> bytes | None:
        """The part `name` (None when absent), refused when it unpacks to more than `limit` bytes."""
        entry = self.entries.get(name)
        if entry is None:
            return None
        with self.zip.open(entry) as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise ReturnedFileError(f"{self.path}: {name} unpacks to more than {_mib(limit)}")
        return data


def _mib(size: int) -> str:
    return f"{size // (1024 * 1024)} MiB"


def _open(path: Path) -> _Package:
    try:  # a FIFO or a device (whose size reads as 0) is refused, not waited on or read without end
        data = read_small_file(path, MAX_FILE_BYTES)
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            raise ReturnedFileError(f"{path}: is larger than {_mib(MAX_FILE_BYTES)}, the most a returned agreement "
                                    "may be") from exc
        raise ReturnedFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    with _zip_errors(path):
        return _Package(path, data)


@contextmanager
def _zip_errors(path: Path) -> Iterator[None]:
    """Damaged zip data or a read failure while reading a package: one line naming the file."""
    try:
        yield
    except ZIP_READ_ERRORS as exc:
        raise ReturnedFileError(f"{path}: is not a readable DOCX (damaged or not a zip package: {exc})") from exc
    except OSError as exc:
        raise ReturnedFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def _read_parts(package: _Package) -> dict[str, bytes]:
    """The fixed parts read (`_PARTS`) that the file has."""
    with _zip_errors(package.path):
        found = {name: package.read(name) for name in _PARTS}
        return {name: data for name, data in found.items() if data is not None}


def _outside_places(path: Path, body: Any, rels: bytes | None) -> list[tuple[str, str, str]]:
    """The parts outside the body whose text the agreement shows: (part name in the package, the place in words,
    what it holds: "header", "footer", "footnotes" or "endnotes"), in document order (sections first).

    Headers and footers count when a section references them (an unreferenced one is never shown); the footnotes
    and endnotes parts when the document's relationships name them.
    """
    if rels is None:
        return []
    targets: dict[str, tuple[str, str]] = {}  # relationship id → (part name, kind)
    for rel in _parse(path, "word/_rels/document.xml.rels", rels).iter(_RELS + "Relationship"):
        kind = rel.get("Type", "")
        if not kind.startswith(_RELATIONSHIP) or rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "")
        name = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join("word", target))
        targets[rel.get("Id", "")] = (name, kind.removeprefix(_RELATIONSHIP))
    places: dict[str, tuple[str, str, str]] = {}
    for section in body.iter(W + "sectPr"):
        if section.getparent() is not None and section.getparent().tag == W + "sectPrChange":
            continue  # the section's properties before a tracked change: not shown
        for reference in section.iterchildren(W + "headerReference", W + "footerReference"):
            kind = "header" if reference.tag == W + "headerReference" else "footer"
            name, target_kind = targets.get(reference.get(_R + "id", ""), ("", ""))
            place = _PLACES.get((kind, reference.get(W + "type", "default")))
            if name and target_kind == kind and place is not None:
                places.setdefault(name, (name, place, kind))
    for name, kind in targets.values():
        if kind in _NOTES:
            places.setdefault(name, (name, _NOTES[kind][0], kind))
    if len(places) > MAX_OUTSIDE_PARTS:
        raise ReturnedFileError(f"{path}: has {len(places)} page headers, footers and note parts, more than "
                                f"{MAX_OUTSIDE_PARTS}; not a Quality Agreement")
    return list(places.values())


def _read_outside(package: _Package, places: list[tuple[str, str, str]], result: ReturnedDocument,
                  revisions: int, comment_places: dict[str, tuple[str, int]]) -> None:
    """Read each part outside the body into `result`: its tracked changes (with `part` set to the place) and its
    text as sent; one part parsed at a time, all within MAX_OUTSIDE_BYTES, MAX_REVISIONS and MAX_PARAGRAPHS."""
    path = package.path
    left = MAX_OUTSIDE_BYTES
    paragraphs = len(result.paragraphs)
    for name, place, kind in places:
        with _zip_errors(path):
            data = package.read(name)
        if data is None:
            continue  # a relationship to a part the package lacks: nothing is shown
        left -= len(data)
        if left < 0:
            raise ReturnedFileError(f"{path}: its page headers, footers and notes unpack to more than "
                                    f"{_mib(MAX_OUTSIDE_BYTES)} together; not a Quality Agreement")
        root = _parse(path, name, data)
        revisions = _refuse_more_than(path, "tracked changes", root.iter(*_REVISION_TAGS), MAX_REVISIONS,
                                      revisions)
        containers = [n for n in root.iter(_NOTES[kind][1]) if n.get(W + "type") in (None, "normal")] \
            if kind in _NOTES else [root]
        shown = [p for c in containers for p in c.iter(W + "p") if _ancestor(p, {_MC + "Fallback"}) is None]
        paragraphs += len(shown)
        if paragraphs > MAX_PARAGRAPHS:
            raise ReturnedFileError(f"{path}: has more than {MAX_PARAGRAPHS} paragraphs; not a Quality Agreement")
        lines = _part_lines(shown) + [f"(watermark) {w.get('string', '')}" for c in containers
                                      for w in c.iter(_VML + "textpath")
                                      if _ancestor(w, {_MC + "Fallback"}) is None]
        known = result.outside.setdefault(place, [])
        if lines != known[-len(lines):] or not lines:  # a later section's copy of the same header is one place
            known.extend(lines)
        numbers = {id(p): n for n, p in enumerate(shown)}
        for container in containers:
            for revision in container.iter(*_REVISION_TAGS):
                change = _part_change(revision, numbers, place)
                if change is not None:
                    result.changes.append(change)
            for node in container.iter(W + "commentRangeStart", W + "commentReference"):
                comment_places.setdefault(node.get(W + "id", ""), (place, 0))


def _part_change(revision: Any, numbers: dict[int, int], place: str) -> Change | None:
    """One tracked change of a page header, footer or note, or None for one not shown (in a Fallback) or one
    that changes nothing a reader sees (the formatting of a paragraph mark)."""
    if _ancestor(revision, {_MC + "Fallback"}) is not None:
        return None
    paragraph = _ancestor(revision, {W + "p"})
    index = numbers.get(id(paragraph), 0)
    author, date = revision.get(W + "author", ""), revision.get(W + "date", "")
    parent = revision.getparent()
    if revision.tag in _WRAPPERS:
        if parent is not None and parent.tag == W + "trPr":
            return Change("row_inserted" if revision.tag in _ADDED else "row_deleted", author, date, "", index, place)
        if parent is not None and parent.tag == W + "rPr":
            return Change("paragraph_inserted" if revision.tag in _ADDED else "paragraph_deleted", author, date, "",
                          index, place)
        return Change(_WRAPPERS[revision.tag], author, date, _plain(revision), index, place)
    if revision.tag == W + "pPrChange":
        return Change("paragraph_formatting", author, date, "", index, place)
    run = _ancestor(revision, {W + "r"})
    return None if run is None else Change("formatting", author, date, _plain(run), index, place)


def _part_lines(paragraphs: list[Any]) -> list[str]:
    """The paragraphs' text with every change rejected, field results (page numbers, dates) left out: they are
    computed when the page is laid out, and LibreOffice saves other values than Word. A paragraph whose mark was
    inserted is joined to the next, as rejecting the insertion does. Each paragraph's own text only: a text box's
    paragraphs are lines of their own."""
    lines: list[str] = []
    carry = ""
    for p in paragraphs:
        depth = 0  # inside how many fields: their code and their result are not compared
        parts: list[str] = []
        for node in p.iter(W + "t", W + "delText", W + "tab", W + "br", W + "cr", W + "fldChar"):
            if _ancestor(node, {W + "p"}) is not p or _ancestor(node, _ADDED) is not None:
                continue
            if node.tag == W + "fldChar":
                kind = node.get(W + "fldCharType")
                depth = depth + 1 if kind == "begin" else max(depth - 1, 0) if kind == "end" else depth
                continue
            if depth or _ancestor(node, {W + "fldSimple"}) is not None:
                continue
            if node.tag == W + "tab" and node.getparent().tag != W + "r":
                continue
            parts.append(node.text or "" if node.tag in (W + "t", W + "delText") else
                         "\t" if node.tag == W + "tab" else "\n")
        mark = p.find(f"{W}pPr/{W}rPr")
        carry += "".join(parts)
        if mark is not None and any(m.tag in _ADDED for m in mark):
            continue
        lines.append(carry)
        carry = ""
    if carry:
        lines.append(carry)
    return lines


def _parse(path: Path, name: str, data: bytes) -> Any:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ReturnedFileError(f"{path}: {name} is damaged ({exc})") from exc
    if root.getroottree().docinfo.doctype:
        raise ReturnedFileError(f"{path}: {name} declares a DTD, which Word never writes; refused")
    return root


def _properties(path: Path, data: bytes | None) -> dict[str, str]:
    if data is None:
        return {}
    root = _parse(path, "docProps/custom.xml", data)
    return {p.get("name", ""): "".join(p.itertext()) for p in root.iter(_CUSTOM + "property")}


def _replies(path: Path, data: bytes | None) -> dict[str, str]:
    """Comment paragraph id → the paragraph id of the comment it replies to."""
    if data is None:
        return {}
    root = _parse(path, "word/commentsExtended.xml", data)
    return {e.get(W15 + "paraId", ""): e.get(W15 + "paraIdParent", "") for e in root.iter(W15 + "commentEx")
            if e.get(W15 + "paraIdParent")}


def _ancestor(node: Any, tags: set[str]) -> Any:
    parent = node.getparent()
    while parent is not None:
        if parent.tag in tags:
            return parent
        parent = parent.getparent()
    return None


def _row_change(p: Any) -> str | None:
    row = _ancestor(p, {W + "tr"})
    if row is None:
        return None
    for tag in ("ins", "del"):
        if row.find(f"{W}trPr/{W}{tag}") is not None:
            return tag
    return None


def _text(p: Any, *, accept: bool) -> str:
    """Text of a paragraph with its changes accepted or rejected (nested paragraphs are not expected)."""
    parts = []
    for node in p.iter(W + "t", W + "delText", W + "tab", W + "br", W + "cr"):
        if node.tag == W + "tab" and node.getparent().tag != W + "r":
            continue  # a tab stop definition, not a tab character
        wrapper = _ancestor(node, _ADDED | _REMOVED)
        if wrapper is not None and wrapper.tag in (_REMOVED if accept else _ADDED):
            continue
        if node.tag in (W + "t", W + "delText"):
            parts.append(node.text or "")
        else:
            parts.append("\t" if node.tag == W + "tab" else "\n")
    return "".join(parts)


def _plain(element: Any) -> str:
    """All text under `element`, deleted or not, tabs and breaks included."""
    return "".join(n.text or "" if n.tag in (W + "t", W + "delText") else "\t" if n.tag == W + "tab" else "\n"
                   for n in element.iter(W + "t", W + "delText", W + "tab", W + "br", W + "cr")
                   if n.tag != W + "tab" or n.getparent().tag == W + "r")


def _paragraph(p: Any, index: int, changes: list[Change]) -> ReturnedParagraph:
    for wrapper in p.iter(*_WRAPPERS):
        if wrapper.getparent() is not None and wrapper.getparent().tag in (W + "rPr", W + "trPr"):
            continue  # paragraph mark or row, below
        text = _plain(wrapper)
        changes.append(Change(_WRAPPERS[wrapper.tag], wrapper.get(W + "author", ""), wrapper.get(W + "date", ""),
                              text, index))
    for change in p.iter(W + "rPrChange"):
        run = _ancestor(change, {W + "r"})
        if run is None:
            continue  # a paragraph mark's formatting
        text = _plain(run)
        changes.append(Change("formatting", change.get(W + "author", ""), change.get(W + "date", ""), text, index))
    for change in p.iter(W + "pPrChange"):
        changes.append(Change("paragraph_formatting", change.get(W + "author", ""), change.get(W + "date", ""), "",
                              index))
    mark = p.find(f"{W}pPr/{W}rPr")
    added = [m for m in mark if m.tag in _ADDED] if mark is not None else []
    removed = [m for m in mark if m.tag in _REMOVED] if mark is not None else []
    inserted_mark, deleted_mark = bool(added), bool(removed)
    for revision in (*added, *removed):
        changes.append(Change("paragraph_inserted" if revision.tag in _ADDED else "paragraph_deleted",
                              revision.get(W + "author", ""), revision.get(W + "date", ""), "", index))
    row = _row_change(p)
    if row is not None and p is _first_paragraph_of_row(p):
        revision = _ancestor(p, {W + "tr"}).find(f"{W}trPr/{W}{row}")
        changes.append(Change("row_inserted" if row == "ins" else "row_deleted", revision.get(W + "author", ""),
                              revision.get(W + "date", ""), "", index))
    sdt = _ancestor(p, {W + "sdt"})
    tag = alias = None
    while sdt is not None and tag is None:
        tag_node = sdt.find(f"{W}sdtPr/{W}tag")
        alias_node = sdt.find(f"{W}sdtPr/{W}alias")
        tag = parse_clause_tag(tag_node.get(W + "val", "")) if tag_node is not None else None
        alias = alias_node.get(W + "val") if alias_node is not None else alias
        sdt = _ancestor(sdt, {W + "sdt"})
    bookmark = next((b for b in (parse_bookmark(n.get(W + "name", "")) for n in p.iter(W + "bookmarkStart")) if b),
                    None)
    return ReturnedParagraph(
        rejected=_text(p, accept=False), accepted=_text(p, accept=True),
        in_rejected=row != "ins", in_accepted=row != "del",
        joins_next_rejected=inserted_mark, joins_next_accepted=deleted_mark,
        tag=tag, bookmark=bookmark, alias=alias)


def _first_paragraph_of_row(p: Any) -> Any:
    row = _ancestor(p, {W + "tr"})
    return next(row.iter(W + "p"))

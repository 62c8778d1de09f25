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
MAX_ELEMENTS = 500_000
"""XML elements of the body, headers, footers, notes and comments together: an agreement's document.xml holds about
12,000. Session 7: 2,500,000 empty text elements (15 MB) took 16 s to walk."""
MAX_OUTSIDE_PARTS = 100
"""Page headers, footers, footnote and endnote parts read: an agreement has three (a header and two footers)."""
MAX_WATERMARKS = 100
"""Watermarks (VML text paths) compared per header or footer."""
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
    elements = _refuse_more_than(path, "XML elements", document.iter(), MAX_ELEMENTS)
    revisions = _refuse_more_than(path, "tracked changes", body.iter(*_REVISION_TAGS), MAX_REVISIONS)
    comment_places: dict[str, tuple[str, int]] = {}
    for p in body.iter(W + "p"):
        if len(result.paragraphs) >= MAX_PARAGRAPHS:
            raise ReturnedFileError(f"{path}: has more than {MAX_PARAGRAPHS} paragraphs; not a Quality Agreement")
        index = len(result.paragraphs)
        paragraph, walk = _paragraph(p, index, result.changes)
        result.paragraphs.append(paragraph)
        for comment_id in walk.comment_ids:
            comment_places.setdefault(comment_id, ("", index))
    places = _outside_places(path, body, parts.get("word/_rels/document.xml.rels"))
    elements = _read_outside(package, places, result, (elements, revisions), comment_places)
    if "word/comments.xml" in parts:
        replies = _replies(path, parts.get("word/commentsExtended.xml"))
        comments = _parse(path, "word/comments.xml", parts["word/comments.xml"])
        _refuse_more_than(path, "XML elements", comments.iter(), MAX_ELEMENTS, elements)
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
            text = "\n".join("".join(_walk(p).accepted) for p in c.iter(W + "p"))
            part, anchor = comment_places.get(cid, ("", None))
            result.comments.append(Comment(cid, c.get(W + "author", ""), c.get(W + "date", ""), text,
                                           anchor if not part else None, para_ids.get(parent_para or ""),
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
                  counted: tuple[int, int], comment_places: dict[str, tuple[str, int]]) -> int:
    """Read each part outside the body into `result`: its tracked changes (with `part` set to the place) and its
    text as sent; one part parsed at a time, all within MAX_OUTSIDE_BYTES, MAX_ELEMENTS, MAX_REVISIONS and
    MAX_PARAGRAPHS (`counted`: the elements and tracked changes of the body). Returns the elements counted."""
    elements, revisions = counted
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
        elements = _refuse_more_than(path, "XML elements", root.iter(), MAX_ELEMENTS, elements)
        revisions = _refuse_more_than(path, "tracked changes", root.iter(*_REVISION_TAGS), MAX_REVISIONS,
                                      revisions)
        containers = [n for n in root.iter(_NOTES[kind][1]) if n.get(W + "type") in (None, "normal")] \
            if kind in _NOTES else [root]
        hidden = {n for c in containers for copy in c.iter(_MC + "Fallback")  # kept alive: the same proxies
                  for n in copy.iter(W + "p", _VML + "textpath")}  # Word shows mc:Choice, not the Fallback copy
        shown = [p for c in containers for p in c.iter(W + "p") if p not in hidden]
        paragraphs += len(shown)
        if paragraphs > MAX_PARAGRAPHS:
            raise ReturnedFileError(f"{path}: has more than {MAX_PARAGRAPHS} paragraphs; not a Quality Agreement")
        lines: list[str] = []
        carry = ""
        for index, p in enumerate(shown):
            changes: list[Change] = []
            paragraph, walk = _paragraph(p, index, changes, skip_fallback=True)
            result.changes.extend(Change(c.kind, c.author, c.date, c.text, c.paragraph, place) for c in changes)
            for comment_id in walk.comment_ids:
                comment_places.setdefault(comment_id, (place, index))
            if not paragraph.in_rejected:
                continue  # a table row inserted with tracking
            carry += "".join(walk.compared)
            if not paragraph.joins_next_rejected:  # rejecting an inserted paragraph mark joins it to the next
                lines.append(carry)
                carry = ""
        lines += [carry] if carry else []
        lines += [f"(watermark) {w.get('string', '')}" for c in containers for w in c.iter(_VML + "textpath")
                  if w not in hidden][:MAX_WATERMARKS]
        known = result.outside.setdefault(place, [])
        if lines != known[-len(lines):] or not lines:  # a later section's copy of the same header is one place
            known.extend(lines)
    return elements


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


MAX_CHANGE_TEXT = 10_000
"""Characters of one tracked change's text kept (a report keeps 2,000)."""
_TEXT = {W + "t", W + "delText", W + "tab", W + "br", W + "cr"}


@dataclass
class _Walk:
    """What one paragraph holds itself (a nested paragraph, in a text box, is walked on its own)."""

    rejected: list[str] = field(default_factory=list)  # its text with every change rejected
    accepted: list[str] = field(default_factory=list)  # ... accepted
    compared: list[str] = field(default_factory=list)  # rejected, without field codes and results
    wrappers: list[tuple[Any, str]] = field(default_factory=list)  # w:ins/w:del/... with the text they hold
    formatting: list[tuple[Any, str]] = field(default_factory=list)  # w:rPrChange with its run's text
    paragraph_formatting: list[Any] = field(default_factory=list)  # w:pPrChange
    bookmarks: list[str] = field(default_factory=list)
    comment_ids: list[str] = field(default_factory=list)


def _walk(p: Any, *, skip_fallback: bool = False) -> _Walk:
    """Walk paragraph `p` once: every node is visited once, whatever the nesting (session 7: looking up each text
    node's ancestors took 96 s for 100,000 empty text nodes 240 elements deep). `skip_fallback` leaves out the
    copies in mc:Fallback (the VML copy of a text box) that Word does not show."""
    walk = _Walk()
    plain: list[str] = []  # all text, deleted or not: a wrapper's or run's text is a slice of it
    fields = 0  # inside how many complex fields (w:fldChar begin … end)

    pending: dict[int, list[Any]] = {}  # a run (by id) → its w:rPrChange, given the run's text when it ends

    def visit(node: Any, added: bool, removed: bool, simple_field: bool, run: Any) -> None:
        nonlocal fields
        for child in node:
            tag = child.tag
            if not isinstance(tag, str) or tag == W + "p" or (skip_fallback and tag == _MC + "Fallback"):
                continue  # an XML comment, a nested paragraph (walked on its own), a copy Word does not show
            if tag in _TEXT:
                if tag == W + "tab" and node.tag != W + "r":
                    continue  # a tab stop definition, not a tab character
                piece = child.text or "" if tag in (W + "t", W + "delText") else "\t" if tag == W + "tab" else "\n"
                if piece:
                    plain.append(piece)
                    if not added:
                        walk.rejected.append(piece)
                        if not (fields or simple_field):
                            walk.compared.append(piece)
                    if not removed:
                        walk.accepted.append(piece)
                continue
            if tag == W + "fldChar":
                kind = child.get(W + "fldCharType")
                fields = fields + 1 if kind == "begin" else max(fields - 1, 0) if kind == "end" else fields
            elif tag == W + "bookmarkStart":
                walk.bookmarks.append(child.get(W + "name", ""))
            elif tag in (W + "commentRangeStart", W + "commentReference"):
                walk.comment_ids.append(child.get(W + "id", ""))
            elif tag == W + "pPrChange":
                walk.paragraph_formatting.append(child)
            elif tag == W + "rPrChange" and run is not None:  # else a paragraph mark's formatting
                pending.setdefault(id(run), []).append(child)
            start = len(plain)
            visit(child, added or tag in _ADDED, removed or tag in _REMOVED, simple_field or tag == W + "fldSimple",
                  child if tag == W + "r" else run)
            if tag in _WRAPPERS and node.tag not in (W + "rPr", W + "trPr"):  # not a paragraph mark or a row
                walk.wrappers.append((child, _joined(plain, start)))
            if tag == W + "r":
                walk.formatting.extend((change, _joined(plain, start)) for change in pending.pop(id(child), []))

    visit(p, False, False, False, None)
    return walk


def _joined(pieces: list[str], start: int) -> str:
    """The pieces from `start` on, at most MAX_CHANGE_TEXT characters (a piece is never empty)."""
    return "".join(pieces[start:start + MAX_CHANGE_TEXT])[:MAX_CHANGE_TEXT]


def _paragraph(p: Any, index: int, changes: list[Change], *,
               skip_fallback: bool = False) -> tuple[ReturnedParagraph, _Walk]:
    """Paragraph `p` as sent and as proposed, with its anchors; its tracked changes appended to `changes`."""
    walk = _walk(p, skip_fallback=skip_fallback)
    for wrapper, text in walk.wrappers:
        changes.append(Change(_WRAPPERS[wrapper.tag], wrapper.get(W + "author", ""), wrapper.get(W + "date", ""),
                              text, index))
    for change, text in walk.formatting:
        changes.append(Change("formatting", change.get(W + "author", ""), change.get(W + "date", ""), text, index))
    for change in walk.paragraph_formatting:
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
    bookmark = next((b for b in map(parse_bookmark, walk.bookmarks) if b), None)
    paragraph = ReturnedParagraph(
        rejected="".join(walk.rejected), accepted="".join(walk.accepted),
        in_rejected=row != "ins", in_accepted=row != "del",
        joins_next_rejected=inserted_mark, joins_next_accepted=deleted_mark,
        tag=tag, bookmark=bookmark, alias=alias)
    return paragraph, walk


def _first_paragraph_of_row(p: Any) -> Any:
    row = _ancestor(p, {W + "tr"})
    return next(row.iter(W + "p"))

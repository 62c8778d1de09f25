"""Read a DOCX the counterparty returned: tracked changes, comments and clause anchors, within fixed bounds.

The only reader of returned DOCX files. WordprocessingML (ECMA-376 Part 1): insertions and deletions
(§17.13.5.18 `w:ins`, §17.13.5.14 `w:del`), moves (§17.13.5.22/24 `w:moveFrom`, `w:moveTo`), run and paragraph
formatting changes (§17.13.5.31 `w:rPrChange`, §17.13.5.29 `w:pPrChange`), tracked table rows (`w:trPr/w:ins`,
`w:trPr/w:del`), comments (§17.13.4, `word/comments.xml`, replies in Word 2013's `word/commentsExtended.xml`).
"""

from __future__ import annotations

import errno
import io
import zipfile
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
_REVISION_TAGS = (W + "ins", W + "del", W + "moveFrom", W + "moveTo", W + "rPrChange", W + "pPrChange")
_PARTS = ("word/document.xml", "word/comments.xml", "word/commentsExtended.xml", "docProps/custom.xml")

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
    paragraph: int  # index into ReturnedDocument.paragraphs


@dataclass(frozen=True)
class Comment:
    """A comment with its author, date, text, the paragraph it is anchored in and the comment it replies to."""

    comment_id: str
    author: str
    date: str
    text: str
    paragraph: int | None
    reply_to: str | None


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
    """Read a returned DOCX.

    Raises:
        ReturnedFileError: not a DOCX, damaged, too large, or using DTDs/entities; one line naming the file.
    """
    parts = _read_parts(path)
    if "word/document.xml" not in parts:
        raise ReturnedFileError(f"{path}: is not a Word document (no word/document.xml)")
    document = _parse(path, "word/document.xml", parts["word/document.xml"])
    result = ReturnedDocument(path=path, properties=_properties(path, parts.get("docProps/custom.xml")))
    body = document.find(W + "body")
    if body is None:
        raise ReturnedFileError(f"{path}: word/document.xml has no body")
    _refuse_more_than(path, "tracked changes", body.iter(*_REVISION_TAGS), MAX_REVISIONS)
    comment_places: dict[str, int] = {}
    for p in body.iter(W + "p"):
        if len(result.paragraphs) >= MAX_PARAGRAPHS:
            raise ReturnedFileError(f"{path}: has more than {MAX_PARAGRAPHS} paragraphs; not a Quality Agreement")
        index = len(result.paragraphs)
        result.paragraphs.append(_paragraph(p, index, result.changes))
        for node in p.iter(W + "commentRangeStart", W + "commentReference"):
            comment_places.setdefault(node.get(W + "id", ""), index)
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
            result.comments.append(Comment(cid, c.get(W + "author", ""), c.get(W + "date", ""), text,
                                           comment_places.get(cid), para_ids.get(parent_para or "")))
    return result


def _refuse_more_than(path: Path, what: str, elements: Any, limit: int) -> None:
    """Refuse a returned file holding more than `limit` of `elements`, counted before any is read."""
    for count, _element in enumerate(elements, start=1):
        if count > limit:
            raise ReturnedFileError(f"{path}: holds more than {limit:,} {what}; not a Quality Agreement under "
                                    "negotiation")


def _read_parts(path: Path) -> dict[str, bytes]:
    try:  # a FIFO or a device (whose size reads as 0) is refused, not waited on or read without end
        data = read_small_file(path, MAX_FILE_BYTES)
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            raise ReturnedFileError(f"{path}: is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, the most a "
                                    "returned agreement may be") from exc
        raise ReturnedFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            entries = package.infolist()
            if len(entries) > MAX_ENTRIES:
                raise ReturnedFileError(f"{path}: has {len(entries)} entries; not a Word document")
            parts = {}
            for entry in entries:
                if entry.filename in _PARTS:
                    with package.open(entry) as handle:
                        data = handle.read(MAX_PART_BYTES + 1)
                    if len(data) > MAX_PART_BYTES:
                        raise ReturnedFileError(f"{path}: {entry.filename} unpacks to more than "
                                                f"{MAX_PART_BYTES // (1024 * 1024)} MiB")
                    parts[entry.filename] = data
            return parts
    except ZIP_READ_ERRORS as exc:
        raise ReturnedFileError(f"{path}: is not a readable DOCX (damaged or not a zip package: {exc})") from exc
    except OSError as exc:
        raise ReturnedFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


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

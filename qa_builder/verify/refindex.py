"""Who refers to whom, in every revision of a PDF: one scan of all object versions per file.

The difference analysis needs, for an object rewritten by an incremental update, the objects that use it (a font
rewritten "for a form field" that a page also uses changes the page). pyHanko builds that reverse-reference index by
parsing the whole object graph once per signed revision; here every stored object version is read once, as bytes:
references are found with one regular expression that skips strings, comments and stream data, so the cost is one
pass over the file's object bodies (issue 17). An object the scanner cannot read with certainty (strings nested
deeper than it follows) is parsed with pyHanko instead. A reference the scan finds by mistake can only add a user,
which makes the analysis stricter, never laxer.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import ObjStreamRef

_TOKENS = re.compile(
    rb"(?P<string>\((?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\))"  # a literal string, one level of nested parentheses
    rb"|(?P<open>\()"  # deeper nesting: parse this object with pyHanko
    rb"|<[0-9A-Fa-f\s]*>"  # a hex string
    rb"|%[^\r\n]*"  # a comment
    rb"|(?P<ref>(?<![\d.+\-])(?P<num>\d+)\s+\d+\s+R(?![^\s()<>\[\]{}/%]))"
    rb"|(?P<end>\bstream(?=[\r\n])|\bendobj\b)",
    re.S)
_MAX_DEPTH = 64
TRAILER = 0  # the trailer's stand-in object number (object 0 is never a real object)


class ReferenceIndex:
    """Object numbers each stored object version refers to, and the reverse, for every revision of one file."""

    def __init__(self, reader: PdfFileReader, data: bytes) -> None:
        self._reader = reader
        self._data = data
        self.revisions = reader.xrefs.total_revisions
        self.defined: dict[int, list[int]] = defaultdict(list)  # object number -> revisions that (re)define it
        self.freed: dict[int, list[int]] = defaultdict(list)  # object number -> revisions that free it
        self._users: dict[int, list[tuple[int, int]]] = defaultdict(list)  # target -> (user, user's revision)
        self.uses: dict[tuple[int, int], frozenset[int]] = {}  # (object, revision) -> object numbers it refers to
        offsets: list[int] = []
        entries: list[tuple[int, int, int | ObjStreamRef]] = []
        for revision in range(self.revisions):
            xref = reader.xrefs.get_xref_data(revision)
            sections = [xref, *([xref.hybrid.xref_data] if xref.hybrid is not None else [])]
            for section in sections:
                for number, (_generation, offset) in section.standard_xrefs.items():
                    entries.append((revision, number, offset))
                    offsets.append(offset)
                for number, location in section.xrefs_in_objstm.items():
                    entries.append((revision, number, location))
                for number in section.freed:
                    self.freed[number].append(revision)
            offsets.append(reader.xrefs.get_startxref_for_revision(revision))
        offsets.sort()
        streams: dict[tuple[int, int], list[bytes]] = {}
        for revision, number, where in entries:
            if isinstance(where, int):
                end = offsets[bisect.bisect_right(offsets, where)] if where < offsets[-1] else len(data)
                targets = self._scan(data, where, end, number, revision)
            else:
                targets = self._scan_in_stream(streams, revision, number, where)
            self.defined[number].append(revision)
            self.uses[(number, revision)] = targets
            for target in targets:
                self._users[target].append((number, revision))
        for revision in range(self.revisions):  # the trailer uses objects too (object number 0 stands for it)
            try:
                trailer = reader.get_historical_resolver(revision).trailer_view
            except Exception:  # a damaged trailer uses nothing we can name
                continue
            found: set[int] = set()
            _collect(trailer, found, 0)
            self.defined[TRAILER].append(revision)
            self.uses[(TRAILER, revision)] = frozenset(found)
            for target in found:
                self._users[target].append((TRAILER, revision))
        for revisions in self.defined.values():
            revisions.sort()

    def version_at(self, number: int, revision: int) -> int | None:
        """The revision whose version of object `number` is in force at `revision` (None: not defined then)."""
        defined = self.defined.get(number, [])
        position = bisect.bisect_right(defined, revision)
        if position == 0:
            return None
        version = defined[position - 1]
        if any(version < freed <= revision for freed in self.freed.get(number, [])):
            return None
        return version

    def users_at(self, number: int, revision: int) -> set[int]:
        """Objects (in force at `revision`) whose body refers to object `number`."""
        return {user for user, version in self._users.get(number, [])
                if self.version_at(user, revision) == version}

    def refs_at(self, number: int, revision: int) -> frozenset[int]:
        """Object numbers the version of `number` in force at `revision` refers to."""
        version = self.version_at(number, revision)
        return frozenset() if version is None else self.uses.get((number, version), frozenset())

    # -- scanning --------------------------------------------------------------------------------------------------

    def _scan(self, data: bytes, start: int, end: int, number: int, revision: int) -> frozenset[int]:
        header = data.find(b"obj", start, min(end, start + 64))
        if header < 0:
            return frozenset()
        found = _references(data, header + 3, end)
        return found if found is not None else self._parsed(number, revision)

    def _scan_in_stream(self, streams: dict[tuple[int, int], list[bytes]], revision: int, number: int,
                        location: ObjStreamRef) -> frozenset[int]:
        key = (location.obj_stream_id, revision)
        if key not in streams:
            streams[key] = self._split_object_stream(location.obj_stream_id, revision)
        bodies = streams[key]
        if location.ix_in_stream >= len(bodies):
            return self._parsed(number, revision)
        body = bodies[location.ix_in_stream]
        found = _references(body, 0, len(body))
        return found if found is not None else self._parsed(number, revision)

    def _split_object_stream(self, stream_number: int, revision: int) -> list[bytes]:
        try:
            stream = self._reader.get_historical_resolver(revision)(generic.Reference(stream_number, 0))
            data = stream.data
            first = int(stream["/First"])
            header = [int(v) for v in data[:first].split()]
        except Exception:  # a damaged object stream: its objects are parsed one by one
            return []
        starts = [first + offset for offset in header[1::2]]
        return [data[start:end] for start, end in zip(starts, [*starts[1:], len(data)], strict=True)]

    def _parsed(self, number: int, revision: int) -> frozenset[int]:
        """References of one object found by pyHanko's parser (the fallback for bodies the scanner cannot read)."""
        try:
            obj = self._reader.get_historical_resolver(revision)(generic.Reference(number, 0))
        except Exception:  # unreadable: it refers to nothing we can name
            return frozenset()
        found: set[int] = set()
        _collect(obj, found, 0)
        return frozenset(found)


def _references(data: bytes, start: int, end: int) -> frozenset[int] | None:
    """Object numbers referred to between `start` and the end of the object's dictionary part; None when a
    string is nested too deeply for the scanner."""
    found: set[int] = set()
    for match in _TOKENS.finditer(data, start, end):
        group = match.lastgroup
        if group == "ref":
            found.add(int(match.group("num")))
        elif group == "end":
            break
        elif group == "open":
            return None
    return frozenset(found)


def _collect(obj: object, found: set[int], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(obj, generic.IndirectObject):
        found.add(obj.idnum)
        return
    values: Iterable[object]
    if isinstance(obj, generic.DictionaryObject):
        values = (obj.raw_get(key) for key in obj)
    elif isinstance(obj, generic.ArrayObject):
        values = (list.__getitem__(obj, i) for i in range(len(obj)))
    else:
        return
    for value in values:
        _collect(value, found, depth + 1)

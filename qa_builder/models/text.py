"""One check for every text and date a user writes (answers and clause library), applied by `InputModel`.

A DOCX is XML 1.0: it cannot hold C0 control characters other than tab, line feed and carriage return,
the non-characters U+FFFE and U+FFFF, or unpaired surrogates. Word also pastes a line break as U+000B,
a page break as U+000C and an alert as U+0007, and U+0085, U+2028 and U+2029 are line and paragraph
breaks too; in a clause or a table cell they would turn into breaks the author never saw. The other C1
controls (U+0080 to U+009F) are Windows-1252 quotes and dashes decoded wrongly. Every one of them is
refused with the field named and a fix, once, here, so no text field of answers or library can forget
the check.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from qa_builder.models.base import StrictModel

EARLIEST_YEAR = 1900
LATEST_YEAR = 2999

TEXT_LIMIT = 500
"""Characters at most in a text of answers whose field has no limit of its own (a site, a number, a country)."""

FIELD_TEXT_LIMITS: Mapping[str, int] = {
    "name": 200, "title": 300, "email": 254, "phone": 50, "country": 100, "dosage_form": 200,
    "governing_law": 200, "address": 1000, "commercial_agreement": 1000,
    "notes": 4000, "split_of_duties": 4000, "description": 4000,
}
"""Characters at most, by field name: a name or title fits a table cell and a signature stamp; notes are a
paragraph. Beyond these a text breaks the page layout (Typst and LibreOffice cannot set a 100 KB party name)
long before it is a plausible answer."""

LIST_LIMIT = 100
"""Entries at most in a list or mapping of answers whose field has no limit of its own."""

FIELD_LIST_LIMITS: Mapping[str, int] = {
    "signatories": 50, "products": 200, "sites": 100, "approved_subcontractors": 100, "responsibilities": 300,
    "revision_history": 300, "positions": 1000,
}
"""Entries at most, by field name. Each signatory is a signature block and a signature field (2,000 of them took
150 s to place), each product, site and row a paragraph or table row; these are far above any real agreement."""

_PASTED_BREAKS = {
    "\x07": "U+0007 (an alert character)",
    "\x0b": "U+000B (a line break pasted from a word processor)",
    "\x0c": "U+000C (a page break pasted from a word processor)",
    "\x85": "U+0085 (a next-line character)",
    "\u2028": "U+2028 (a line separator)",
    "\u2029": "U+2029 (a paragraph separator)",
}


def file_name_problem(name: str) -> str | None:
    """Why a file or folder name cannot be printed as part of one line, or None.

    Args:
        name: a name or path as the operating system gave it (bytes that are not UTF-8 arrive as surrogates).

    Returns:
        A phrase such as "holds U+001B, … rename the file" for a line break, tab, control, bidirectional or
        invisible character, or bytes that are not UTF-8; None for a name that prints as itself.
    """
    found = next((c for c in name if c in "\t\n\r" or text_problem(c)), None)
    if found is None:
        return None
    if "\ud800" <= found <= "\udfff":
        return "is not UTF-8 text; rename the file"
    return (f"holds U+{ord(found):04X}, a line break, control, bidirectional or invisible character that would not "
            "print as itself; rename the file")


def text_problem(text: str) -> str | None:
    """Why `text` cannot stand in an agreement, or None when it can.

    Args:
        text: any text from answers or a clause library.

    Returns:
        A phrase such as "contains U+0001 at character 9, which a DOCX cannot hold; remove it", or None.
    """
    found = _REFUSED.search(text)
    if found is None:
        return None
    index, char = found.start(), found.group()
    code = ord(char)
    at = f"at character {index + 1}"
    if char in _PASTED_BREAKS:
        return (f"contains {_PASTED_BREAKS[char]} {at}, which would silently become a break in the "
                "document; replace it with a space, or a new line in a block text")
    if 0x80 <= code <= 0x9F:
        return (f"contains the control character U+{code:04X} {at}, usually a Windows-1252 character "
                "(quote, dash, ellipsis) decoded wrongly; retype it")
    if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        return (f"contains the bidirectional control U+{code:04X} {at}, which reorders how the text around it is "
                "shown, so the printed agreement could read otherwise than its text; Hebrew and Arabic need none: "
                "remove it")
    if _invisible(code):
        return (f"contains the invisible character U+{code:04X} ({_invisible(code)}) {at}: the text would print the "
                "same as one without it, yet compare as another (a party name, an id); remove it")
    if 0xD800 <= code <= 0xDFFF:
        return f"contains half a surrogate pair (U+{code:04X}) {at}, which is not text; remove it"
    if _private_use(code):
        return (f"contains U+{code:04X} {at}, a private-use character: it means something only to the program "
                "that typed it, and no font of the agreement can show it; retype the character you meant")
    if _noncharacter(code) and code not in (0xFFFE, 0xFFFF):
        return (f"contains U+{code:04X} {at}, a Unicode noncharacter: it is not text, and no font can show it; "
                "retype the character you meant")
    return f"contains the control character U+{code:04X} {at}, which a DOCX cannot hold; remove it"


def _private_use(code: int) -> bool:
    """U+E000-U+F8FF and the private-use planes 15 and 16 (but their two last code points, noncharacters)."""
    return 0xE000 <= code <= 0xF8FF or (code >= 0xF0000 and code & 0xFFFE != 0xFFFE)


def _noncharacter(code: int) -> bool:
    """The 66 noncharacters: U+FDD0-U+FDEF and the last two code points of every plane (U+FFFE, ..., U+10FFFF)."""
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


_INVISIBLE_RANGES = (
    (0x034F, 0x034F, "a combining grapheme joiner"), (0x115F, 0x1160, "a Hangul filler"),
    (0x17B4, 0x17B5, "an invisible Khmer vowel"), (0x200B, 0x200B, "a zero-width space"),
    (0x2060, 0x2064, "a word joiner or invisible operator"), (0x206A, 0x206F, "a deprecated format character"),
    (0x2800, 0x2800, "a blank Braille pattern"), (0x3164, 0x3164, "a Hangul filler"),
    (0xFEFF, 0xFEFF, "a byte-order mark or zero-width no-break space"), (0xFFA0, 0xFFA0, "a Hangul filler"),
    (0xFFF9, 0xFFFB, "an interlinear annotation character"), (0x1D173, 0x1D17A, "a musical formatting character"),
    (0xE0000, 0xE007F, "a tag character"),
)
"""Characters that print as nothing (or as a blank) and that no agreement needs: a party name of them alone printed
blank, and with them a name prints as another yet compares otherwise ('Norvale\ufeff B.V.', session 5; a name of
two U+3164 Hangul fillers, session 6). The joiners U+200C/U+200D (Persian, Indic scripts, emoji), variation
selectors (ideographic variants of names), U+00AD and the Mongolian selectors are kept."""


def _invisible(code: int) -> str | None:
    return next((what for start, end, what in _INVISIBLE_RANGES if start <= code <= end), None)


# Every character text_problem refuses: C0 controls but tab, line feed and carriage return; DEL; the C1
# controls (U+0085 among them); U+2028/U+2029; the bidirectional embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069); the invisible characters of _INVISIBLE_RANGES; lone surrogates; the private-use
# characters (U+E000-U+F8FF, planes 15 and 16) and the 66 noncharacters (U+FDD0-U+FDEF, U+FFFE/U+FFFF of every
# plane): no font of the agreement can show them (Typst refused the PDF with no file or field, session 7 attack).
# One search instead of a Python loop per character (texts are checked on every render).
_NONCHARACTER_PAIRS = "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 15))
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
                      "\ue000-\uf8ff\ufdd0-\ufdef\ufffe\uffff\U000f0000-\U0010ffff" + _NONCHARACTER_PAIRS
                      + "".join(f"{chr(a)}-{chr(b)}" for a, b, _what in _INVISIBLE_RANGES) + "]")


def date_problem(day: dt.date) -> str | None:
    """Why `day` is not a plausible agreement date (a typo in the year), or None."""
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        return f"has the year {day.year}; a date must lie between {EARLIEST_YEAR} and {LATEST_YEAR}"
    return None


def _problem(value: Any, where: str = "") -> str | None:
    """Walk a field value (text, date, or lists and mappings of them) for the first problem."""
    if isinstance(value, str):
        problem = text_problem(value)
        return f"{problem}{where}" if problem else None
    if isinstance(value, dt.date):
        problem = date_problem(value)
        return f"{problem}{where}" if problem else None
    if isinstance(value, BaseModel):
        return None  # a nested model checks its own fields
    if isinstance(value, dict):
        for key, item in value.items():
            found = _problem(key, f" (in the key '{key!s:.40}')") or _problem(item, f" (under '{key!s:.40}')")
            if found:
                return found
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _problem(item, f" (item {index + 1})")
            if found:
                return found
    return None


WORD_LIMIT = 40
"""Characters at most in one word of an answer (a run without a space or hyphen, where a line can break): the cover
sets the parties' names in 13 pt bold, where about 40 wide capitals fill the line, and the PDF cannot break a
longer word (attack round 9: a 990-character address without spaces stopped after ~100 characters; an 80-letter
name after 63 on the cover). E-mail addresses, registration numbers and German compounds are shorter."""
_WORD = re.compile(r"[^\s\-\u2010\u2011]+")


def _long_word(value: Any, limit: int) -> str | None:
    """The first text (in a field value of texts, lists and mappings) holding a word longer than `limit`."""
    if isinstance(value, str):
        found = next((m.group() for m in _WORD.finditer(value) if len(m.group()) > limit), None)
        if found:
            return (f"holds a word of {len(found):,} characters without a space (\"{found[:20]}…\"); a line of the "
                    f"document holds at most {limit}: add spaces")
        return None
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value)) \
        if isinstance(value, (list, tuple)) else []
    for key, item in items:
        found_text = _long_word(item, limit) or (_long_word(key, limit) if isinstance(key, str) else None)
        if found_text:
            return found_text
    return None


def _too_long(value: Any, limit: int, where: str = "") -> str | None:
    """Walk a field value (text, or lists and mappings of texts) for the first text over `limit` characters."""
    if isinstance(value, str):
        if len(value) > limit:
            return f"is {len(value):,} characters long{where}; at most {limit:,} fit here; shorten it"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _too_long(key, limit, " (a key)") or _too_long(item, limit, f" (under '{key!s:.40}')")
            if found:
                return found
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _too_long(item, limit, f" (item {index + 1})")
            if found:
                return found
    return None


def _too_many(value: Any, limit: int) -> str | None:
    """A list or mapping with more than `limit` entries, as a phrase; else None."""
    if isinstance(value, (list, tuple, dict)) and len(value) > limit:
        return f"has {len(value):,} entries; at most {limit:,} fit an agreement"
    return None


def _accepts_bool(annotation: Any) -> bool:
    if annotation is bool:
        return True
    return any(_accepts_bool(arg) for arg in typing.get_args(annotation))


class InputModel(StrictModel):
    """Base of every model read from user input: every text and date field passes `text_problem`/`date_problem`.

    A true/false given where a number is meant (`version: yes` would otherwise become 1) is refused too.
    """

    @field_validator("*", mode="before")
    @classmethod
    def _bounded_and_typed(cls, value: Any, info: ValidationInfo) -> Any:
        """Before the entries are validated one by one: a list of 5,000 products is refused at once; a true/false
        where a number is meant is refused. (One validator for both: each one costs its inspection per field
        whenever a model class is made, which every command start pays.)"""
        if isinstance(value, bool):
            if info.field_name is not None:
                annotation = cls.model_fields[info.field_name].annotation
                if not _accepts_bool(annotation) and _wants_number(annotation):
                    raise PydanticCustomError("bool_not_number", "should be a number, not true/false")
            return value
        problem = _too_many(value, cls.field_list_limits.get(info.field_name or "", cls.list_limit))
        if problem:
            raise PydanticCustomError("too_many", problem)
        return value

    text_limit: ClassVar[int] = TEXT_LIMIT
    """Characters at most in a text field the mapping below does not name."""
    field_text_limits: ClassVar[Mapping[str, int]] = FIELD_TEXT_LIMITS
    """Characters at most, by field name."""
    list_limit: ClassVar[int] = LIST_LIMIT
    """Entries at most in a list or mapping field the mapping below does not name."""
    field_list_limits: ClassVar[Mapping[str, int]] = FIELD_LIST_LIMITS
    """Entries at most, by field name."""

    word_limit: ClassVar[int | None] = WORD_LIMIT
    """Characters at most in a word (a run without spaces) of a text field; None: no limit."""

    @field_validator("*", mode="after")
    @classmethod
    def _text_fits_a_document(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        problem = _problem(value) or _too_long(value, cls.field_text_limits.get(name, cls.text_limit)) or \
            (_long_word(value, cls.word_limit) if cls.word_limit is not None else None)
        if problem:
            raise PydanticCustomError("input_text", problem)
        return value


def _wants_number(annotation: Any) -> bool:
    """The annotation is int (or a union holding it) or a Literal of numbers."""
    if annotation is int:
        return True
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return any(isinstance(arg, int) and not isinstance(arg, bool) for arg in args)
    return any(_wants_number(arg) for arg in args)


class LibraryModel(InputModel):
    """A model of clause library data: its texts are whole clauses, bounded only by the library's file size and
    the sandbox's render limits, not by the per-field limits of answers."""

    text_limit: ClassVar[int] = 1_000_000
    word_limit: ClassVar[int | None] = None  # clause texts may quote long identifiers and addresses of sources
    field_text_limits: ClassVar[Mapping[str, int]] = {}
    list_limit: ClassVar[int] = 1_000_000
    field_list_limits: ClassVar[Mapping[str, int]] = {}

"""Text taken from a file (a PDF field, a certificate name, an audit event) made safe to print on a terminal."""

from __future__ import annotations

import unicodedata

_HIDDEN = {"Cc", "Cf", "Zl", "Zp"}
"""Control (escape sequences, CR, LF), format (bidi overrides, zero-width) and line/paragraph separators."""


def printable(text: str) -> str:
    """`text` with every control, bidi-formatting and line-separator character shown as \\uXXXX.

    Text from a file printed through this can neither add lines, reorder what is shown, nor send terminal
    escape sequences. Everything else (accents, CJK, emoji) is kept as it is.
    """
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in _HIDDEN else c for c in text)


def shown(value: str, limit: int = 60) -> str:
    """A value the user typed, quoted back in a message: escaped as `printable` does and cut to `limit` characters.

    A mistyped option value can be anything (a pasted page, escape sequences); the message names the option and
    shows enough of the value to recognise it.
    """
    return printable(value if len(value) <= limit else value[:limit] + "…")


def printable_json(text: str) -> str:
    """JSON text (as `json.dumps(..., ensure_ascii=False)` writes it) with the characters `printable` hides written
    as JSON escapes, so that JSON printed on a terminal cannot reorder or add lines either; still the same JSON.

    Such characters can only stand inside JSON strings (a JSON writer escapes line feeds in strings, so a raw
    one is layout and is kept), where ``\\uXXXX`` (a surrogate pair above U+FFFF) means the same character.
    """
    def escaped(char: str) -> str:
        code = ord(char)
        if code <= 0xFFFF:
            return f"\\u{code:04x}"
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

    return "".join(escaped(c) if c != "\n" and unicodedata.category(c) in _HIDDEN else c for c in text)

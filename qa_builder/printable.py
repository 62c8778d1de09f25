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

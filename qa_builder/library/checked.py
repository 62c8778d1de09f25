"""Remember which clause-library texts already passed the sandbox name check, so `check` starts fast.

Checking every clause text, condition and deadline of the default library against the data model parses
about 1,100 Jinja templates (~1 s). The result depends only on those texts and on qa-builder's own code, so
a library whose texts all passed once is recorded as an empty entry of qa-builder's cache (`qa_builder.cache`,
kind "library-checks") named by the SHA-256 of every text checked; the cache folder is per code version. Only
passes are recorded: a failing library is checked in full every time. The entry holds no code and no data; at
worst a forged entry lets a text skip the *static* check, and the render-time sandbox (field-only, immutable,
bounded) still confines it.
"""

from __future__ import annotations

from collections.abc import Iterable

from qa_builder.cache import entry_key, read_entry, write_entry

_KIND = "library-checks"


def texts_key(texts: Iterable[str]) -> str:
    """The entry name for this set of texts (hex SHA-256; the cache folder adds the code version)."""
    return entry_key(*(text.encode("utf-8", "surrogatepass") for text in texts))


def already_passed(key: str) -> bool:
    """True when texts with this key passed the name check before (an entry exists)."""
    return read_entry(_KIND, key, limit=0) is not None


def record_pass(key: str) -> None:
    """Record that texts with this key passed; a cache that cannot be written is simply not used."""
    write_entry(_KIND, key, b"")

"""A clause library that passed `load_library`, kept in qa-builder's cache so the next command does not check it
again.

Validating every entry of the bundled library and checking its consistency costs ~35 ms of every `check`,
`build` and `regenerate`; loading the checked library from the cache ~3 ms. The entry is the pickled
`ClauseLibrary`, named by the SHA-256 of the name and bytes of every file `load_library` reads (``*.yaml`` in
the folder and in ``clauses/``) and of the Python and pydantic versions, in qa-builder's cache
(`qa_builder.cache`: a folder per code version, private to the user and refused when others can write it,
where the compiled clause code is kept too). A library with problems is never kept, so it is checked, and its
problems reported, every time. Pickle runs code when loaded: only an entry this user's qa-builder wrote into
that private folder is ever loaded.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pydantic

from qa_builder.cache import entry_key, read_entry, write_entry
from qa_builder.models.library import ClauseLibrary
from qa_builder.yaml_source import SourceError, read_bounded

_KIND = "libraries"
_LIMIT = 64 * 1024 * 1024  # bytes of one pickled library; the bundled one is ~0.5 MB


def library_key(root: Path, clauses_dir: str) -> str | None:
    """The entry name for the library in `root` as its files are now, or None when one of them cannot be read
    (then the library is loaded, and the problem reported, as if nothing were cached)."""
    parts: list[bytes] = []
    for path in [*sorted(root.glob("*.yaml")), *sorted((root / clauses_dir).glob("*.yaml"))]:
        try:
            parts += [str(path.relative_to(root)).encode("utf-8", "surrogateescape"), read_bounded(path)]
        except (OSError, SourceError):
            return None
    return entry_key(b"clause-library", pydantic.VERSION.encode(), sys.version.encode(), *parts)


def stored_library(key: str) -> ClauseLibrary | None:
    """The library kept under `key`, or None."""
    data = read_entry(_KIND, key, limit=_LIMIT)
    if data is None:
        return None
    try:
        library = pickle.loads(data)  # this user's qa-builder wrote it (see above)
    except Exception:  # a truncated or stale entry: check the library again
        return None
    return library if isinstance(library, ClauseLibrary) else None


def store_library(key: str, library: ClauseLibrary) -> None:
    """Keep a library that passed every check; a cache that cannot be written is simply not used."""
    write_entry(_KIND, key, pickle.dumps(library, protocol=pickle.HIGHEST_PROTOCOL))

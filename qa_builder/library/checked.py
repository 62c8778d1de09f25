"""Remember which clause-library texts already passed the sandbox name check, so `check` starts fast.

Checking every clause text, condition and deadline of the default library against the data model parses
about 1,100 Jinja templates (~1 s). The result depends only on those texts and on qa-builder's own code, so
a library whose texts all passed once is recorded as an empty marker file named by the SHA-256 of
(every qa_builder source file, every text checked). Only passes are recorded: a failing library is checked
in full every time. The marker holds no code and no data; at worst a forged marker lets a text skip the
*static* check, and the render-time sandbox (field-only, immutable, bounded) still confines it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from qa_builder.config import cache_dir

_PACKAGE = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def _code_digest() -> bytes:
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(_PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.digest()


def texts_key(texts: Iterable[str]) -> str:
    """The marker name for this set of texts checked by this version of the code (hex SHA-256)."""
    digest = hashlib.sha256(_code_digest())
    for text in texts:
        encoded = text.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()


def _marker(key: str) -> Path:
    return cache_dir() / "library-checks" / key


def already_passed(key: str) -> bool:
    """True when texts with this key passed the name check before (a marker exists)."""
    try:
        return _marker(key).is_file()
    except OSError:
        return False


def record_pass(key: str) -> None:
    """Record that texts with this key passed; a cache that cannot be written is simply not used."""
    marker = _marker(key)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    except OSError:
        pass

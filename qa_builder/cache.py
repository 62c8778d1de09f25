"""qa-builder's on-disk cache: files named by the SHA-256 of what they were made from, private to the user.

What is cached is derived only from inputs named in its key and from this version of qa-builder's own code
(`code_digest`), so a stale entry is never found: a changed clause text, a changed parser or a new Python gets
a new key. Entries live in ``<config.cache_dir()>/<kind>/<code digest>/`` (folders 0700, files 0600, written
atomically); a code version's folder no process used for 30 days is removed (two installed versions, or
a developer's checkouts, each keep theirs). A folder that is not the
user's own, or that others can write, is not used: then nothing is cached and everything is computed.

Callers decide what may be cached. Compiled clause texts (`sandbox`) and parsed library files
(`yaml_source`) are; answers files are not (their contents stay out of shared folders).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import time
from functools import lru_cache
from pathlib import Path

from qa_builder.config import cache_dir, cache_dir_inputs

_PACKAGE = Path(__file__).resolve().parent
_DIGEST_CHARS = 16
_UNUSED_DAYS = 30


@lru_cache(maxsize=1)
def code_digest() -> bytes:
    """SHA-256 over every Python source file of the qa_builder package (names and bytes): this code's identity."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(_PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.digest()


def _private(folder: Path) -> bool:
    """True when `folder` is a real folder owned by this user that nobody else can write."""
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


def _make_private(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return False
    return _private(folder)


def _folder(kind: str) -> Path | None:
    return _folder_in(_base(*cache_dir_inputs()), kind)


@lru_cache(maxsize=4)
def _base(_xdg_cache_home: str | None, _home: str | None) -> Path:
    """`cache_dir()`, worked out once per value of the variables it reads: a command reads ~300 entries, and
    working it out (Path.home(), path joins) for each was most of the time they took."""
    return cache_dir()


@lru_cache(maxsize=16)
def _folder_in(base: Path, kind: str) -> Path | None:
    top = base / kind
    if not _make_private(base) or not _make_private(top):
        return None
    here = top / code_digest().hex()[:_DIGEST_CHARS]
    if not _make_private(here):
        return None
    with contextlib.suppress(OSError):
        os.utime(here)  # in use: kept while any installed version of qa-builder still uses its folder
        unused = time.time() - _UNUSED_DAYS * 86400
        for old in top.iterdir():
            if len(old.name) == _DIGEST_CHARS and old.is_dir() and not old.is_symlink() \
                    and old.stat().st_mtime < unused:
                shutil.rmtree(old, ignore_errors=True)  # another version of the code, unused for a month
    return here


def entry_key(*parts: bytes) -> str:
    """The hex SHA-256 naming an entry made from `parts` (each length-prefixed, so parts cannot run together)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def read_entry(kind: str, key: str, *, limit: int) -> bytes | None:
    """The cached bytes of `key`, or None when absent, unreadable, not a regular file or over `limit` bytes."""
    folder = _folder(kind)
    if folder is None:
        return None
    try:
        with os.fdopen(os.open(folder / key, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            data = handle.read(limit + 1)
    except OSError:
        return None
    return data if len(data) <= limit else None


def write_entry(kind: str, key: str, data: bytes) -> None:
    """Store `data` under `key` (atomically, 0600); a cache that cannot be written is simply not used."""
    folder = _folder(kind)
    if folder is None:
        return
    temporary = folder / f".{key}.{os.getpid()}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, folder / key)
    except OSError:
        temporary.unlink(missing_ok=True)

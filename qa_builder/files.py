"""Safe file writing (temp file in the same folder, fsync, then rename; never a half-written file) and bounded,
validated reading."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TypeVar

from qa_builder.errors import Hint, InputError, OutputExistsError, Remedy

T = TypeVar("T")

ZIP_READ_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, ValueError,
    RuntimeError,  # a part that is encrypted ("password required for extraction")
    zlib.error,  # a part whose compressed data is damaged ("invalid distance too far back")
)
"""What reading a damaged or hostile zip package (a DOCX) raises, besides OSError."""


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()


@contextmanager
def atomic_writer(path: Path, *, replace: bool = True) -> Iterator[IO[bytes]]:
    """Open a temp file beside `path` for binary writing; on success it replaces `path` atomically.

    With `replace=False` the file is only ever created: if another process made `path` meanwhile (two runs
    writing the same output at once, each having checked that it did not exist), OutputExistsError is raised
    and that file is kept, instead of one run silently replacing the other's.

    A failed write leaves nothing: not the temp file, nor the folders made for `path`.

    Raises:
        OutputExistsError: `path` is a device, pipe or socket; or `replace` is False and `path` appeared meanwhile.
        OSError: the file cannot be written; a full disk, a quota, a size limit, a read-only or a not-writable
            folder names `path` as its filename (see `write_problem`).
    """
    created = make_folders(path.parent)
    try:
        with suppress(FileNotFoundError):  # never rename over a device, FIFO or socket (e.g. -o /dev/null as root)
            if not stat.S_ISREG(mode := os.lstat(path).st_mode) and not stat.S_ISLNK(mode):
                raise OutputExistsError(f"{path}: is not a regular file (a device, pipe or socket); it is never "
                                        "replaced: choose a file name")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except BaseException as exc:
        remove_folders(created)
        if _write_problem_of(exc, path):
            raise _named(exc, path) from exc
        raise
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic, and fails if the name exists
            except FileExistsError:
                raise OutputExistsError(f"{path} already exists (another run wrote it meanwhile); it is kept",
                                        hint=Hint(Remedy.OTHER_NAME_OR_REPLACE)) from None
            os.unlink(tmp)
    except BaseException as exc:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        remove_folders(created)
        if _write_problem_of(exc, path):
            raise _named(exc, path) from exc
        raise


def make_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; return the folders made, deepest first (for `remove_folders`).

    Raises:
        OSError: a folder cannot be made (a part of the path is a file, a read-only or full disk, ...).
    """
    missing: list[Path] = []
    current = folder
    while not current.exists() and current.parent != current:
        missing.append(current)
        current = current.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        remove_folders(missing)
        raise
    return missing


def remove_folders(folders: list[Path]) -> None:
    """Remove the folders a failed write made (`make_folders`), deepest first, each only while it is empty:
    a failed command leaves no empty folder behind, and never removes what another run put there meanwhile."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


_NAMED_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM})
"""The errors of a write that `write_problem` words: a full disk, a quota, a size limit, a read-only or a
not-writable folder."""


def _write_problem_of(exc: BaseException, path: Path) -> bool:
    """Whether `exc` is a write problem (`_NAMED_ERRNOS`) of writing `path` that does not name it: a write() or
    fsync() on a full disk names no file, a refused temp file names its hidden name."""
    if not isinstance(exc, OSError) or exc.errno not in _NAMED_ERRNOS:
        return False
    named = os.fsdecode(exc.filename) if exc.filename is not None else None
    return named is None or Path(named).name.startswith(f".{path.name}.")


def _named(exc: BaseException, path: Path) -> OSError:
    """The OSError `exc` naming `path`, the file that could not be written (so that its reader can say which)."""
    assert isinstance(exc, OSError)
    return OSError(exc.errno, exc.strerror or os.strerror(exc.errno or 0), str(path))


def write_bytes_atomic(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write `data` to `path` atomically; with `replace=False` only ever create it (see `atomic_writer`).

    Raises:
        OutputExistsError: `replace` is False and `path` exists by the time the data is written.
    """
    with atomic_writer(path, replace=replace) as handle:
        handle.write(data)


def sha256_file(path: Path) -> str:
    """sha256 hex digest of a regular file's bytes.

    Raises:
        OSError: unreadable, or not a regular file (EINVAL): a FIFO would hang the read, a device never end.
    """
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_small_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, read without blocking on a FIFO or reading a device.

    Every file a command is given or finds (a key, a passphrase or PIN file, a trust root, a template, a PDF, a
    seal, a build record) is read this way: a FIFO would hang a plain open or read, and a link to /dev/zero
    would fill memory.

    Raises:
        OSError: unreadable, not a regular file (EINVAL), or larger than `limit` bytes (EFBIG).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if status.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
        # read what the file holds (plus one byte to notice growth), never a `limit`-sized buffer: read(n)
        # allocates n bytes first, which a memory-bounded verifier cannot afford for a 2 GiB limit
        data = handle.read(status.st_size + 1)
        while len(data) <= limit and (more := handle.read(min(1 << 20, limit + 1 - len(data)))):
            data += more
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
    return data


def problem_line(exc: BaseException) -> str:
    """What is wrong with a file, in one line: a validation error's first field and message, else the first line
    of the error (its type when it says nothing)."""
    from pydantic import ValidationError  # here: importing pydantic costs ~0.1 s of every command's start

    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_validated(path: Path, limit: int, validate: Callable[[bytes], T], what: str, remedy: str = "") -> T:
    """Read a file qa-builder keeps (a build record, a model, a decisions file, ...) and validate it.

    Args:
        path: The file.
        limit: Bytes read at most (a larger file, a FIFO or a device is refused, see read_small_file).
        validate: Turns the bytes into the value, raising ValueError (pydantic's ValidationError is one) or
            RecursionError when they are not one, e.g. `BuildRecord.model_validate_json`.
        what: The kind of file, for the message, e.g. "build record".
        remedy: What the user can do, added to the message after a semicolon, e.g. "import the returned file again".

    Raises:
        InputError: "<path>: is not a readable <what> (<problem>)[; <remedy>]" when the file is missing,
            unreadable, too large or not valid.
    """
    try:
        return validate(read_small_file(path, limit))
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: is not a readable {what} ({problem_line(exc)})"
                         + (f"; {remedy}" if remedy else "")) from exc


def check_plain_name(name: str) -> str:
    """Return `name` if it is a plain file name (no folder part, not '.' or '..'); raise ValueError otherwise.

    Used wherever a file name comes from data (a build record's artefacts, a manifest), so that it can only
    ever name a file inside its own folder.
    """
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"'{name}' is not a plain file name")
    return name


def inside(folder: Path, name: str) -> Path:
    """Join a file name from input data to `folder`, refusing anything that would escape it (also by symlink).

    Raises:
        ValueError: `name` is not a plain file name, or it resolves outside `folder`.
    """
    check_plain_name(name)
    target = (folder / name).resolve()
    if target.parent != folder.resolve():
        raise ValueError(f"'{name}' leads outside {folder} (a symbolic link)")
    return target


def inside_tree(folder: Path, relative: str) -> Path:
    """Join a relative path from data ('audit/seals/seal-3.json') to `folder`, refusing anything outside it.

    Raises:
        ValueError: an absolute path, a NUL byte, or a path that resolves (also by symlink) outside `folder`.
    """
    if not relative or "\x00" in relative or relative.startswith(("/", "\\")):
        raise ValueError(f"'{relative}' is not a relative path")
    root = folder.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root):
        raise ValueError(f"'{relative}' is outside {folder}")
    return target


def fsync_tree(folder: Path) -> None:
    """Flush every file directly in `folder`, and the folder itself, to disk (before it is renamed into place)."""
    for path in folder.iterdir():
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (names created, renamed or removed in it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_WRITE_PROBLEMS = {
    errno.ENOSPC: "the disk is full (no space left); free some space and run again",
    errno.EDQUOT: "the disk quota is used up; free some space and run again",
    errno.EFBIG: "a file would be larger than this system allows (file size limit); raise the limit or "
                 "choose another folder",
    errno.EROFS: "is on a read-only file system; choose a writable folder",
    errno.EACCES: "cannot be written (permission denied); choose a folder you may write to",
    errno.EPERM: "cannot be written (operation not permitted); choose a folder you may write to",
}


def write_problem(folder: Path, exc: OSError) -> str | None:
    """One line for an OSError met while writing into `folder` (disk full, read-only, ...), or None for others."""
    problem = _WRITE_PROBLEMS.get(exc.errno or 0)
    return f"{folder}: {problem}" if problem else None


@contextmanager
def folder_lock(folder: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `folder` itself (flock on the folder) while the block runs.

    A second holder waits until the first is done; `on_wait` is told once when that happens. The lock ends
    with its process, so a run killed with `kill -9` never leaves the folder locked, and no lock file is left.

    Raises:
        OSError: the folder cannot be made or opened (e.g. a read-only parent folder).
    """
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock

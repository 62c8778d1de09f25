"""Configuration in one place: the QA_BUILDER_* environment variables and the default tool and font paths.

Every variable is read when it is needed (not at import), so a changed environment takes effect at once.

| variable | what it sets |
|---|---|
| ``QA_BUILDER_SOFFICE`` | the LibreOffice ``soffice`` program (default: PATH, then `SOFFICE_PLACES`) |
| ``QA_BUILDER_UNO_PYTHON`` | a Python that can ``import uno`` (default: `UNO_PYTHON_PLACES`) |
| ``QA_BUILDER_STAMP_FONT`` | the signature-stamp font: a font file, or ``file.ttc#N`` / ``file.ttc#PostScriptName`` |
| ``QA_BUILDER_FONT_DIRS`` | folders (``os.pathsep``-separated) the Typst engine takes its fonts from |
| ``QA_BUILDER_TODAY`` | the date review checks take as today, YYYY-MM-DD (default: the real UTC date) |
| ``XDG_CACHE_HOME`` | the cache (``qa_builder.cache``) goes under ``qa-builder/`` in it (default ``~/.cache``) |
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from qa_builder.errors import ConfigError

SOFFICE_ENV = "QA_BUILDER_SOFFICE"
UNO_PYTHON_ENV = "QA_BUILDER_UNO_PYTHON"
STAMP_FONT_ENV = "QA_BUILDER_STAMP_FONT"
TODAY_ENV = "QA_BUILDER_TODAY"
FONT_DIRS_ENV = "QA_BUILDER_FONT_DIRS"

#: Where LibreOffice's soffice is looked for after PATH (globs allowed).
SOFFICE_PLACES: tuple[str, ...] = (
    "/usr/bin/soffice",
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice*/program/soffice",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
)
#: Interpreters tried for LibreOffice's Python bridge (``import uno``), in order (globs allowed).
UNO_PYTHON_PLACES: tuple[str, ...] = (
    "/usr/bin/python3",
    "/usr/lib/libreoffice/program/python",
    "/opt/libreoffice*/program/python",
    "/Applications/LibreOffice.app/Contents/Resources/python",
)
#: Signature-stamp fonts tried in order: (label, file, Debian package, face in a collection).
STAMP_FONTS: tuple[tuple[str, Path, str, str], ...] = (
    ("Liberation Sans", Path("/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf"),
     "fonts-liberation2", ""),
    ("Liberation Sans", Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
     "fonts-liberation2", ""),
    ("Noto Sans CJK JP", Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
     "fonts-noto-cjk", "NotoSansCJKjp-Regular"),
    ("DejaVu Sans", Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), "fonts-dejavu-core", ""),
)


def _value(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def soffice() -> str | None:
    """The soffice program named by ``QA_BUILDER_SOFFICE``, or None to search for it."""
    return _value(SOFFICE_ENV)


def uno_python() -> str | None:
    """The interpreter named by ``QA_BUILDER_UNO_PYTHON``, or None to search for one."""
    return _value(UNO_PYTHON_ENV)


def stamp_font() -> str | None:
    """The stamp font named by ``QA_BUILDER_STAMP_FONT`` (``file`` or ``file.ttc#face``), or None."""
    return _value(STAMP_FONT_ENV)


def font_dirs() -> list[Path] | None:
    """The font folders ``QA_BUILDER_FONT_DIRS`` names (``os.pathsep``-separated), or None for the system ones."""
    value = _value(FONT_DIRS_ENV)
    return [Path(part) for part in value.split(os.pathsep) if part] if value else None


def pinned_today() -> dt.date | None:
    """The date ``QA_BUILDER_TODAY`` pins, or None when it is unset.

    Raises:
        ConfigError: the variable is set but is not a YYYY-MM-DD date.
    """
    value = _value(TODAY_ENV)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{TODAY_ENV}={value!r} is not a date; write it as YYYY-MM-DD, or unset it") from exc


def cache_dir() -> Path:
    """qa-builder's own cache folder: ``$XDG_CACHE_HOME/qa-builder`` (default ``~/.cache/qa-builder``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa-builder"


def cache_dir_inputs() -> tuple[str | None, str | None]:
    """The two variables `cache_dir` depends on (XDG_CACHE_HOME, HOME), for callers that keep its result per value."""
    return os.environ.get("XDG_CACHE_HOME"), os.environ.get("HOME")


def child_python_environment(first_path: str) -> dict[str, str]:
    """The environment for a Python child process of qa-builder (the Typst typesetters): this process's, with
    `first_path` (the folder holding this very qa_builder package) first on PYTHONPATH."""
    earlier = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=os.pathsep.join([first_path, *([earlier] if earlier else [])]))

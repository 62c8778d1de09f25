"""One finder for the data shipped with qa-builder: the clause library, the DOCX template, the examples.

In a wheel they live in ``qa_builder/_data/``; in a source checkout beside the package.
"""

from __future__ import annotations

from pathlib import Path

from qa_builder.errors import InputError

_PACKAGE = Path(__file__).resolve().parent


def bundled(relative: str, marker: str | None = None) -> Path | None:
    """The bundled file or folder `relative` (e.g. ``"clause_library"``), or None when it is missing.

    Args:
        relative: Path below ``_data/`` (wheel) or the source tree's root.
        marker: For a folder, a file that must exist inside it (so an empty or partial folder is not taken).
    """
    for base in (_PACKAGE / "_data", _PACKAGE.parent):
        candidate = base / relative
        if (candidate / marker).is_file() if marker else candidate.exists():
            return candidate
    return None


_EXAMPLES_MARKER = "us-eu-drug-product-cmo.yaml"  # a file every complete installation has


def examples_dir() -> Path:
    """The folder of example answers files shipped with qa-builder.

    Raises:
        InputError: the installation lacks them.
    """
    found = bundled("examples", _EXAMPLES_MARKER)
    if found is None:
        raise InputError("the bundled examples are missing from this installation")
    return found

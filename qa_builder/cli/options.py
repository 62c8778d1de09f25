"""Options shared by several commands, declared once so that their names, defaults and help agree."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def default_jobs() -> int:
    """Parallel work by default: one per core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def jobs_option(what: str) -> Callable[[F], F]:
    """`-j/--jobs N`: how many items run in parallel.

    Args:
        what: The end of the help sentence, e.g. "Agreements built in parallel (one LibreOffice worker each)."
    """
    return click.option("-j", "--jobs", type=click.IntRange(1, 64), default=default_jobs,
                        show_default="cores, max 4", help=what)

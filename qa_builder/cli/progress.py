"""Progress reporting for batches: a bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from qa_builder.printable import printable

if TYPE_CHECKING:
    from qa_builder.builds.batch import BatchItem, ProgressCallback

T = TypeVar("T")


def _label(item: BatchItem) -> str:
    if item.result is not None:
        return f"built {item.result.agreement_id} v{item.result.version} ({printable(item.answers.name)})"
    return f"FAILED {printable(item.answers.name)}"


@contextmanager
def progress(total: int, verb: str, label: Callable[[T], str]) -> Iterator[Callable[[T], None]]:
    """Yield a callback that shows progress of `total` items on stderr: a bar on a terminal, else lines.

    Every label is escaped as `printable` does: labels name files and agreements, and a file name can hold a line
    break followed by a forged verdict line.
    """
    if sys.stderr.isatty() and total > 1:
        bar: Any
        with click.progressbar(length=total, label=verb, file=sys.stderr, item_show_func=lambda s: s) as bar:
            def show_bar(item: T) -> None:
                bar.update(1, printable(label(item)))
            yield show_bar
        return
    done = 0

    def show_line(item: T) -> None:
        nonlocal done
        done += 1
        click.echo(f"[{done}/{total}] {printable(label(item))}", err=True)  # labels name files: never raw

    yield show_line


@contextmanager
def batch_progress(total: int) -> Iterator[ProgressCallback]:
    """Progress of a build batch."""
    with progress(total, "Building", _label) as callback:
        yield callback

"""Progress reporting for batches: a bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from qa_builder.batch import BatchItem, ProgressCallback


def _label(item: BatchItem) -> str:
    if item.result is not None:
        return f"built {item.result.agreement_id} v{item.result.version} ({item.answers.name})"
    return f"FAILED {item.answers.name}"


@contextmanager
def batch_progress(total: int) -> Iterator[ProgressCallback]:
    """Yield a callback that shows progress of `total` items on stderr."""
    if sys.stderr.isatty() and total > 1:
        bar: Any
        with click.progressbar(length=total, label="Building", file=sys.stderr,
                               item_show_func=lambda s: s) as bar:
            def show_bar(item: BatchItem) -> None:
                bar.update(1, _label(item))
            yield show_bar
        return
    done = 0

    def show_line(item: BatchItem) -> None:
        nonlocal done
        done += 1
        click.echo(f"[{done}/{total}] {_label(item)}", err=True)

    yield show_line

"""The one clock: today's date and the current time in UTC, pinnable for tests and reproducible runs.

Code that needs "today" or "now" asks this module (or takes the value as an argument from a caller that
did), so a test, the demo or a reproducible build can pin the date instead of depending on the real one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from qa_builder import config

_pinned: dt.datetime | None = None


def now() -> dt.datetime:
    """The current time: timezone-aware UTC, whole seconds (the pinned time inside `pinned`)."""
    if _pinned is not None:
        return _pinned
    return _system_time().replace(microsecond=0)


def _system_time() -> dt.datetime:
    """The machine's clock, UTC (the one place it is read; tests replace it to play a later year)."""
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today's date in UTC.

    Inside `pinned` it is the pinned date; otherwise the environment variable ``QA_BUILDER_TODAY``
    (YYYY-MM-DD, see `qa_builder.config`) pins it for a whole process and its children; otherwise the
    real UTC date. Review checks that depend on the date (e.g. an overdue periodic review) read it here.

    Raises:
        ConfigError: QA_BUILDER_TODAY is set but is not a YYYY-MM-DD date.
    """
    if _pinned is not None:
        return _pinned.date()
    return config.pinned_today() or now().date()


@contextlib.contextmanager
def pinned(moment: dt.datetime | dt.date) -> Iterator[dt.datetime]:
    """Pin `now()` and `today()` to `moment` (a date means its midnight UTC) inside a ``with`` block.

    The pin is process-wide (threads of a build pool see it too), so use it from one thread at a time.

    Yields:
        The pinned time, UTC.
    """
    global _pinned
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.UTC)
    previous, _pinned = _pinned, as_utc(moment).replace(microsecond=0)
    try:
        yield _pinned
    finally:
        _pinned = previous


def as_utc(moment: dt.datetime) -> dt.datetime:
    """`moment` in UTC; a naive time is taken as UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def utc_text(moment: dt.datetime) -> str:
    """A time as qa-builder writes it in records and reports: UTC, whole seconds, ISO 8601 with Z.

    Example: ``2026-11-29T15:04:05Z``. A naive time is taken as UTC.
    """
    return as_utc(moment).replace(microsecond=0).isoformat().replace("+00:00", "Z")

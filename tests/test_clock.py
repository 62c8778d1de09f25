"""The one clock: pinned dates keep builds and reviews reproducible when the real calendar moves on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from qa_builder import clock
from qa_builder.builds.pipeline import BuildSettings, build_one
from qa_builder.bundled import examples_dir
from qa_builder.config import TODAY_ENV
from qa_builder.demo import EXAMPLE_FILE, demo_settings
from qa_builder.errors import ConfigError, ReviewError
from qa_builder.library.loader import load_library
from qa_builder.render.docx import default_template_path
from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS, TEST_TODAY

LATER = dt.datetime(2029, 1, 1, 9, 30, tzinfo=dt.UTC)  # past the review dates of the fixture and the demo example


@pytest.fixture
def machine_in_2029(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """The machine's clock reads 2029-01-01, as it will on a CI run then."""
    monkeypatch.setattr(clock, "_system_time", lambda: LATER)
    return LATER


def _minimal_settings(out: Path, **kwargs: object) -> BuildSettings:
    return BuildSettings(out_dir=out, library=load_library(MINI_LIBRARY), template=default_template_path(),
                         fmt="docx", **kwargs)  # type: ignore[arg-type]


def test_tests_build_in_2029_because_their_date_is_pinned(tmp_path: Path, machine_in_2029: dt.datetime) -> None:
    """The minimal fixture and the demo example still build when the machine says 2029-01-01."""
    assert clock.today() == TEST_TODAY and clock.now() == machine_in_2029
    result = build_one(MINIMAL_ANSWERS, _minimal_settings(tmp_path / "minimal"), None)
    record = json.loads((tmp_path / "minimal" / "QA-MIN-1_v1.build.json").read_text(encoding="utf-8"))
    assert record["created_at"] == "2029-01-01T09:30:00Z"  # the record keeps the real time of the build
    assert not [f for f in result.record.review_findings if f.id == "QA-LIFE-001"]  # type: ignore[union-attr]
    build_one(examples_dir() / EXAMPLE_FILE, demo_settings(tmp_path / "demo", fmt="docx"), None)


def test_without_the_pin_the_2029_build_is_refused_as_overdue(tmp_path: Path, machine_in_2029: dt.datetime,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The counter-proof: unpinned, the real 2029 date makes the fixture overdue (so the pin above matters)."""
    monkeypatch.delenv(TODAY_ENV)
    assert clock.today() == dt.date(2029, 1, 1)
    with pytest.raises(ReviewError, match=r"QA-LIFE-001 agreement\.effective_date: the periodic review was due on "
                                          r"2028-06-01"):
        build_one(MINIMAL_ANSWERS, _minimal_settings(tmp_path), None)
    # Settings pin the date for one build, without the environment.
    build_one(MINIMAL_ANSWERS, _minimal_settings(tmp_path, today=dt.date(2027, 1, 1)), None)


def test_the_demo_reviews_its_example_on_its_effective_date(tmp_path: Path, machine_in_2029: dt.datetime,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """`make demo` (no pin in its environment) still builds in 2029: the demo reviews as of the effective date."""
    monkeypatch.delenv(TODAY_ENV)
    settings = demo_settings(tmp_path, fmt="docx")
    assert settings.today == dt.date(2026, 12, 1)
    build_one(examples_dir() / EXAMPLE_FILE, settings, None)


def test_pinned_overrides_the_environment_and_restores() -> None:
    with clock.pinned(dt.date(2030, 5, 6)) as moment:
        assert clock.today() == dt.date(2030, 5, 6) and clock.now() == moment
        with clock.pinned(dt.datetime(2031, 1, 2, 3, 4, 5, 678, tzinfo=dt.timezone(dt.timedelta(hours=2)))):
            assert clock.now() == dt.datetime(2031, 1, 2, 1, 4, 5, tzinfo=dt.UTC)
        assert clock.today() == dt.date(2030, 5, 6)
    assert clock.today() == TEST_TODAY


def test_a_malformed_pin_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TODAY_ENV, "29/11/2026")
    with pytest.raises(ConfigError, match=r"QA_BUILDER_TODAY='29/11/2026' is not a date; write it as YYYY-MM-DD"):
        clock.today()


def test_one_utc_format() -> None:
    assert clock.utc_text(dt.datetime(2026, 11, 29, 15, 4, 5, 999)) == "2026-11-29T15:04:05Z"
    assert clock.utc_text(dt.datetime(2026, 11, 29, 16, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))) \
        == "2026-11-29T15:04:05Z"

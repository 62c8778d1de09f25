"""qa-builder's on-disk cache: compiled clause texts and parsed library files are reused, never trusted blindly."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa_builder import cache
from qa_builder.sandbox import environment as sandbox
from qa_builder.yaml_source import parse_text, read_source


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    base = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(base))
    sandbox.compile_text.cache_clear()
    sandbox.compile_condition.cache_clear()
    yield base / "qa-builder"
    sandbox.compile_text.cache_clear()
    sandbox.compile_condition.cache_clear()


def _entries(folder: Path, kind: str) -> list[Path]:
    return [p for p in (folder / kind).rglob("*") if p.is_file()]


def test_a_compiled_text_is_reused_from_the_cache_and_renders_the_same(
        private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "{% for m in markets %}{{ m | upper }}{% if not loop.last %}, {% endif %}{% endfor %}"
    first = sandbox.render_text(sandbox.compile_text(text), {"markets": ["eu", "us"]})
    condition = sandbox.evaluate_condition(sandbox.compile_condition("'EU' in markets"), {"markets": ["EU"]})
    assert len(_entries(private_cache, "clause-code")) == 2
    sandbox.compile_text.cache_clear()
    sandbox.compile_condition.cache_clear()

    def no_compiling(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("compiled again although the cache holds the code")

    monkeypatch.setattr(sandbox._ENV, "compile", no_compiling)
    assert sandbox.render_text(sandbox.compile_text(text), {"markets": ["eu", "us"]}) == first == "EU, US"
    assert sandbox.evaluate_condition(sandbox.compile_condition("'EU' in markets"), {"markets": ["EU"]}) \
        is condition is True


def test_cached_code_is_still_confined_by_the_sandbox(private_cache: Path) -> None:
    text = "{{ x.__class__ }}"
    with pytest.raises(sandbox.TemplateProblem):
        sandbox.render_text(sandbox.compile_text(text), {"x": "a"})
    sandbox.compile_text.cache_clear()
    with pytest.raises(sandbox.TemplateProblem):  # from the cache this time: the same refusal
        sandbox.render_text(sandbox.compile_text(text), {"x": "a"})


def test_a_text_that_does_not_compile_is_never_cached(private_cache: Path) -> None:
    for _ in range(2):
        with pytest.raises(sandbox.TemplateProblem, match="does not compile"):
            sandbox.compile_text("{% for %}")
        sandbox.compile_text.cache_clear()
    assert _entries(private_cache, "clause-code") == []


def test_a_damaged_entry_is_compiled_again(private_cache: Path) -> None:
    text = "Hello {{ name }}"
    sandbox.compile_text(text)
    (entry,) = _entries(private_cache, "clause-code")
    entry.write_bytes(b"\xe3not marshal data")
    sandbox.compile_text.cache_clear()
    assert sandbox.render_text(sandbox.compile_text(text), {"name": "QA"}) == "Hello QA"


def test_a_folder_others_can_write_is_not_used(private_cache: Path) -> None:
    private_cache.mkdir(parents=True)
    os.chmod(private_cache, 0o777)
    sandbox.compile_text("Hello {{ name }}")
    assert not (private_cache / "clause-code").exists()
    assert cache.read_entry("clause-code", "0" * 64, limit=10) is None


def test_a_code_version_unused_for_a_month_leaves_no_entries_behind(private_cache: Path) -> None:
    """Another installed version (or checkout) keeps its entries while it is in use; a month unused, they go."""
    stale, current = private_cache / "clause-code" / ("f" * 16), private_cache / "clause-code" / ("e" * 16)
    for folder, days in ((stale, 31), (current, 2)):
        folder.mkdir(parents=True)
        (folder / "old").write_bytes(b"x")
        then = time.time() - days * 86400
        os.utime(folder, (then, then))
    cache._folder_in.cache_clear()
    sandbox.compile_text("Hello {{ name }}")
    assert not stale.exists() and (current / "old").is_file()


def test_a_parsed_library_file_comes_back_whole_from_the_cache(private_cache: Path, tmp_path: Path) -> None:
    source = tmp_path / "library.yaml"
    source.write_text("version: '1'\neffective: 2026-01-01\nat: 2026-01-01T10:00:00+01:00\nitems:\n  - a: 1\n"
                      "    b: [x, 2.5, null, true]\n  - text: \"\\x01 control\"\n", encoding="utf-8")
    fresh = parse_text(source.read_text(encoding="utf-8"))
    first = read_source(source, cached=True)
    assert len(_entries(private_cache, "parsed-sources")) == 1
    again = read_source(source, cached=True)
    assert again.data == first.data == fresh.data and again.lines == fresh.lines
    assert isinstance(again.data["effective"], dt.date) and isinstance(again.data["at"], dt.datetime)
    source.write_text("version: '2'\n", encoding="utf-8")  # the key is the file's bytes: a change is read anew
    assert read_source(source, cached=True).data == {"version": "2"}


def test_answers_are_not_cached(private_cache: Path, tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("sponsor: {name: Confidential Pharma}\n", encoding="utf-8")
    read_source(answers)
    assert not (private_cache / "parsed-sources").exists()


def test_a_bad_library_file_is_reported_every_time(private_cache: Path, tmp_path: Path) -> None:
    bad = tmp_path / "library.yaml"
    bad.write_text("a: &x 1\nb: *x\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(Exception, match="anchor"):
            read_source(bad, cached=True)
    assert _entries(private_cache, "parsed-sources") == []

"""Loading and validating clause libraries: every problem is found up front and named."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from qa_builder.errors import LibraryError
from qa_builder.library.loader import default_library_dir, load_library
from tests.conftest import MINI_LIBRARY, CliResult, run_cli


@pytest.fixture()
def lib(tmp_path: Path) -> Path:
    target = tmp_path / "lib"
    shutil.copytree(MINI_LIBRARY, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _problems(lib: Path) -> str:
    with pytest.raises(LibraryError) as info:
        load_library(lib)
    return str(info.value)


def test_mini_library_loads_in_section_order() -> None:
    library = load_library(MINI_LIBRARY)
    assert library.info.version == "0.0.1"
    assert [c.id for c in library.clauses][:2] == ["scope", "eu_only"]
    assert library.clauses[-1].id == "release"
    assert library.clauses[0].source_file == "clauses/general.yaml"
    assert library.clauses[0].source_line == 2


def test_default_library_loads() -> None:
    library = load_library(default_library_dir())
    assert len(library.clauses) >= 20
    assert len(library.raci) >= 45


def test_duplicate_clause_id(lib: Path) -> None:
    _edit(lib / "clauses" / "general.yaml", "id: eu_only", "id: scope")
    assert "clause 'scope': id already used at clauses/general.yaml line 2" in _problems(lib)


def test_condition_that_does_not_parse(lib: Path) -> None:
    _edit(lib / "clauses" / "general.yaml", 'applies_when: "facts.has_eu"', 'applies_when: "facts.has_eu and ("')
    message = _problems(lib)
    assert "general.yaml line 25: clause 'eu_only': applies_when does not parse" in message


def test_text_that_does_not_compile(lib: Path) -> None:
    _edit(lib / "clauses" / "general.yaml", "text: EU text.", "text: 'EU {% if %} text.'")
    assert "clause 'eu_only': text does not compile" in _problems(lib)


def test_text_using_unknown_answers_field(lib: Path) -> None:
    _edit(lib / "clauses" / "general.yaml", "at least {{ audits.notice_business_days | plural('Business Day') }}. The",
          "at least {{ audits.notice_days }}. The")
    assert "positions.preferred uses audits.notice_days, but audits has no field 'notice_days'" in _problems(lib)


def test_text_using_unknown_name(lib: Path) -> None:
    _edit(lib / "clauses" / "general.yaml", "text: EU text.", "text: '{{ secret_key }}'")
    assert "uses unknown name(s) secret_key" in _problems(lib)


def test_unknown_section_and_reference(lib: Path) -> None:
    _edit(lib / "clauses" / "general.yaml", "section: general\n    order: 20", "section: nowhere\n    order: 20")
    _edit(lib / "clauses" / "general.yaml", "references: [REQ-EU]", "references: [REQ-NONE]")
    message = _problems(lib)
    assert "section 'nowhere' is not listed in library.yaml" in message
    assert "cites requirement 'REQ-NONE', which requirements.yaml does not define" in message


def test_schema_errors_name_file_line_and_field(lib: Path) -> None:
    _edit(lib / "clauses" / "release.yaml", "version: 1", "version: first")
    _edit(lib / "clauses" / "release.yaml", "status: approved", "status: final")
    message = _problems(lib)
    assert "release.yaml line 6: clause 'release': clauses[0].version should be a valid integer" in message
    assert "release.yaml line 7: clause 'release': clauses[0].status should be 'draft', 'approved' or" in message


@pytest.mark.parametrize(("values", "expected"), [
    ("inspection_notice_max_hours: -5\n", "review.yaml line 1: inspection_notice_max_hours should be greater than "
                                            "or equal to 1 (got -5)"),
    ("review_period_max_months: 0\n", "review.yaml line 1: review_period_max_months should be greater than or "
                                        "equal to 1 (got 0)"),
    ("investigation_closure_max_days: 100000\n", "review.yaml line 1: investigation_closure_max_days should be less "
                                                  "than or equal to 366 (got 100000)"),
    ("critical_notify_warning_above_hours: 100\ncritical_notify_error_above_hours: 72\n",
     "review.yaml line 2: critical_notify_error_above_hours is below critical_notify_warning_above_hours (100); an "
     "error threshold must be at least its warning threshold (got 72)"),
])
def test_review_thresholds_outside_their_range_are_refused(lib: Path, values: str, expected: str) -> None:
    """Security test leftover: a negative or zero clock in review.yaml made every answer pass (or fail) its check."""
    (lib / "review.yaml").write_text(values, encoding="utf-8")
    assert expected in _problems(lib)


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("library.yaml", 'version: "0.0.1"', f'version: "{"9" * 100_000}"',
     "library.yaml line 2: version is 100,000 characters long; at most 50 fit here; shorten it"),
    ("library.yaml", "name: mini test library", f"name: {'N' * 201}",
     "library.yaml line 1: name is 201 characters long; at most 200 fit here; shorten it"),
    ("library.yaml", "title: Never Used", f"title: {'T' * 301}", "library.yaml line 6: sections[2].title is 301 "
     "characters long; at most 300 fit here; shorten it"),
    ("clauses/release.yaml", "title: Batch Release", f"title: {'T' * 301}", "release.yaml line 3: clause "
     "'release': clauses[0].title is 301 characters long; at most 300 fit here; shorten it"),
])
def test_texts_printed_on_the_cover_and_in_headings_are_bounded(lib: Path, file: str, old: str, new: str,
                                                                 expected: str) -> None:
    # a version of 100,000 digits passed `library check` and `check`, then failed inside Typst with no file or line
    _edit(lib / file, old, new)
    assert expected in _problems(lib)
    checked = run_cli("library", "check", "--library", str(lib))
    assert checked.returncode == 2 and expected in checked.stderr


@pytest.mark.parametrize("blank", ['""', '"   "'])
def test_a_blank_library_version_is_refused(lib: Path, blank: str) -> None:
    """Attack round 9: `version: ""` passed `library check`, and `impact` then reported "library version changed"
    for a library that has none."""
    text = (lib / "library.yaml").read_text(encoding="utf-8")
    version_line = next(line for line in text.splitlines() if line.startswith("version:"))
    _edit(lib / "library.yaml", version_line, f"version: {blank}")
    assert "library.yaml line 2: version is empty (or only spaces); give a value" in _problems(lib)


def test_text_and_positions_are_exclusive(lib: Path) -> None:
    _edit(lib / "clauses" / "release.yaml", "    position_from: release_model\n",
          "    text: Both.\n    position_from: release_model\n")
    assert "needs either 'text' or 'positions', not both" in _problems(lib)


def test_raci_needs_one_accountable_and_a_responsible(lib: Path) -> None:
    _edit(lib / "raci.yaml", "sponsor: I, contract_acceptor: RA", "sponsor: A, contract_acceptor: A")
    message = _problems(lib)
    assert "activity 'manufacture': needs exactly one Accountable party (A)" in message
    assert "activity 'manufacture': needs at least one Responsible party (R)" in message


def test_raci_fixed_by_names_a_catalogued_requirement(lib: Path) -> None:
    _edit(lib / "raci.yaml", "sponsor: I, contract_acceptor: RA}", "sponsor: I, contract_acceptor: RA, vary_by: "
          "\"'x'\", variants: {x: {sponsor: I, contract_acceptor: RA, fixed_by: NO-SUCH-ROW}}}")
    assert "variant 'x': fixed_by names requirement 'NO-SUCH-ROW'" in _problems(lib)


def test_not_a_library(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="not a clause library"):
        load_library(tmp_path)


def test_yaml_error_in_clause_file(lib: Path) -> None:
    (lib / "clauses" / "broken.yaml").write_text("clauses:\n  - id: [x\n", encoding="utf-8")
    assert "broken.yaml line" in _problems(lib)


def test_all_problems_reported_together(lib: Path) -> None:
    _edit(lib / "clauses" / "general.yaml", "id: eu_only", "id: scope")
    _edit(lib / "raci.yaml", "sponsor: I, contract_acceptor: RA", "sponsor: I, contract_acceptor: R")
    assert len(_problems(lib).splitlines()) >= 2


def _cli(*args: str) -> CliResult:
    return run_cli(*args)


def test_library_check_command(lib: Path) -> None:
    ok = _cli("library", "check", "--library", str(lib))
    assert ok.returncode == 0
    assert "mini test library, version 0.0.1: valid" in ok.stdout
    assert "6 clauses (5 approved, 1 draft, 0 retired)" in ok.stdout
    _edit(lib / "clauses" / "general.yaml", "id: eu_only", "id: scope")
    bad = _cli("library", "check", "--library", str(lib))
    assert bad.returncode == 2
    assert "general.yaml line 18: clause 'scope': id already used" in bad.stderr


def _api_answers(tmp_path: Path) -> Path:
    from tests.conftest import answers_data, write_answers

    data = answers_data()
    data["products"][0]["type"] = "api"
    return write_answers(tmp_path, data, "api.yaml")


def test_library_coverage_lists_requirements_and_gaps(tmp_path: Path) -> None:
    from tests.conftest import MINIMAL_ANSWERS

    covered = _cli("library", "coverage", str(MINIMAL_ANSWERS), "--library", str(MINI_LIBRARY))
    assert covered.returncode == 0, covered.stderr
    assert covered.stdout.splitlines()[:3] == ["REQ-SCOPE    1.1 scope", "REQ-AUDIT    1.2 audits",
                                               "REQ-RELEASE  2.1 release"]
    assert "3 applicable requirements, 3 covered, 0 gaps" in covered.stdout
    gaps = _cli("library", "coverage", str(_api_answers(tmp_path)), "--library", str(MINI_LIBRARY))
    assert gaps.returncode == 1
    assert "gap: REQ-UNCOVERED (Test source 5): Nothing covers this." in gaps.stdout


def test_build_refuses_coverage_gaps_unless_allowed(tmp_path: Path) -> None:
    import json

    answers = _api_answers(tmp_path)
    out = tmp_path / "out"
    refused = _cli("build", str(answers), "-o", str(out), "--format", "docx", "--library", str(MINI_LIBRARY))
    assert refused.returncode == 2
    assert "requirement REQ-UNCOVERED (Test source 5) applies but no included clause satisfies it" in refused.stderr
    allowed = _cli("build", str(answers), "-o", str(out), "--format", "docx", "--library", str(MINI_LIBRARY),
                   "--allow-gaps")
    assert allowed.returncode == 0, allowed.stderr
    record = json.loads((out / "QA-MIN-1_v1.build.json").read_text(encoding="utf-8"))
    assert record["uncovered_requirements"] == ["REQ-UNCOVERED"]


def test_name_check_result_is_remembered_only_for_passing_texts(
    lib: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check` starts fast: a library whose texts passed the sandbox name check once is not parsed again; a
    failing text is never remembered, and any change of text (or of qa-builder's code) is checked anew."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    folder = cache / "qa-builder" / "library-checks"

    def markers() -> set[str]:
        return {p.name for p in folder.rglob("*") if p.is_file()}

    load_library(lib)
    first = markers()
    assert len(first) > 2, "one marker for the whole set of texts, one for each text"
    load_library(lib)  # same texts, same code: the same markers, nothing new
    assert markers() == first

    _edit(lib / "clauses" / "general.yaml", "text: EU text.", "text: '{{ secret_key }}'")
    for _ in range(2):  # refused every time, never remembered
        assert "uses unknown name(s) secret_key" in _problems(lib)
    assert markers() == first


def test_a_changed_library_checks_only_its_changed_texts(
    lib: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new clause version in a workspace's library (`regenerate` after a clause change) parses that clause's
    text, not the ~1,100 texts of the library again."""
    import qa_builder.library.loader as loader

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    load_library(lib)
    checked: list[str] = []
    real = loader.check_names

    def counting(text: str, *args: Any, **kwargs: Any) -> None:
        checked.append(text)
        real(text, *args, **kwargs)

    monkeypatch.setattr(loader, "check_names", counting)
    _edit(lib / "clauses" / "general.yaml", "text: EU text.", "text: EU text, reworded.")
    load_library(lib)
    assert checked == ["EU text, reworded."]


def test_a_checked_library_is_kept_and_a_changed_or_failing_one_checked_again(
    lib: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command loads the library: one that passed every check is loaded from qa-builder's cache (~3 ms
    instead of ~35 ms of validation); any change to its files, and any library with problems, is checked."""
    import qa_builder.library.loader as loader

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = load_library(lib)
    checked: list[Path] = []
    real = loader._load

    def counting(root: Path) -> Any:
        checked.append(root)
        return real(root)

    monkeypatch.setattr(loader, "_load", counting)
    assert load_library(lib) == first
    assert checked == [], "the same files: not checked again"

    _edit(lib / "clauses" / "general.yaml", "text: EU text.", "text: '{{ secret_key }}'")
    for _ in range(2):
        assert "uses unknown name(s) secret_key" in _problems(lib)
    assert checked == [lib, lib], "a library with problems is never kept"

    _edit(lib / "clauses" / "general.yaml", "text: '{{ secret_key }}'", "text: EU text, reworded.")
    reworded = load_library(lib)
    assert any(c.text == "EU text, reworded." for c in reworded.clauses)
    assert len(checked) == 3, "a changed file: checked again"
    for entry in (tmp_path / "cache" / "qa-builder" / "libraries").rglob("*"):
        if entry.is_file():
            entry.write_bytes(b"not a pickle")
    assert load_library(lib) == reworded
    assert len(checked) == 4, "an unreadable entry: checked again"


def test_unwritable_check_cache_is_not_an_error(lib: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert load_library(lib).clauses

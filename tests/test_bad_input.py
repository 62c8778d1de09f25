"""Bad input of every kind ends in one line naming file, line and field, and exit 2; never a crash or a hang.

The cases follow issue 12 ("High: inputs that exhaust resources or end in 'internal error'"): YAML alias
bombs and deep nesting, dates and numbers Python cannot hold, control characters a DOCX cannot hold, and
clause library faults that only show when a clause is rendered.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import shutil
import time
from pathlib import Path

import pytest

from qa_builder.answers.load import load_answers
from qa_builder.errors import AnswersError, LibraryError
from qa_builder.library.loader import load_library
from qa_builder.models import answers as answers_models
from qa_builder.models import library as library_models
from qa_builder.models.text import InputModel, text_problem
from qa_builder.review.checks import _add_months
from qa_builder.yaml_source import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES
from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS, ROOT, CliResult, run_cli

BASE = MINIMAL_ANSWERS.read_text(encoding="utf-8")


def _with(replace: str, by: str) -> str:
    assert replace in BASE, replace
    return BASE.replace(replace, by, 1)


def _error(tmp_path: Path, content: str | bytes, name: str = "a.yaml") -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(AnswersError) as info:
        load_answers(path)
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(str(path)), message
    return message


def _cli(*args: str) -> CliResult:
    """The command in this process (Click's runner): its real exit code and stderr; an exception that escaped
    the CLI's error mapping fails the test. The entry point itself is tested in test_cli.py."""
    return run_cli(*args)


def _one_error_line(result: CliResult) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def _laughs(levels: int = 9) -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    previous = "a"
    for name in "bcdefghijklmnop"[: levels - 1]:
        text += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    return text + f"agreement: *{previous}\n"


# --- Resource bounds of the YAML/JSON reader -----------------------------------------------------------------


def test_billion_laughs_is_refused_at_once(tmp_path: Path) -> None:
    text = _laughs()
    assert len(text) < 10_000
    start = time.monotonic()
    message = _error(tmp_path, text)
    assert time.monotonic() - start < 0.5
    assert "line 1: uses a YAML anchor or alias" in message


def test_a_single_alias_is_refused_too(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("- name: Tokyo Plant", "- name: &plant Tokyo Plant") +
                     "positions: {x: *plant}\n")
    assert "line 20: uses a YAML anchor or alias" in message


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    nested = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    assert "nests lists or mappings more than" in _error(tmp_path, f"agreement: {nested}\n")
    very_deep = "[" * 100_000 + "]" * 100_000
    assert "line 1:" in _error(tmp_path, f"agreement: {very_deep}\n")


def test_deep_json_is_refused(tmp_path: Path) -> None:
    for depth in (MAX_DEPTH + 5, 100_000):
        text = '{"agreement": ' + "[" * depth + "]" * depth + "}"
        assert f"nests lists or objects more than {MAX_DEPTH} levels deep" in _error(tmp_path, text, "a.json")


def test_too_many_values_are_refused(tmp_path: Path) -> None:
    items = "".join(f"  k{i}: v\n" for i in range(MAX_NODES // 2 + 10))
    start = time.monotonic()
    assert f"holds more than {MAX_NODES} values" in _error(tmp_path, BASE + "positions:\n" + items)
    assert time.monotonic() - start < 5


def test_file_size_is_bounded(tmp_path: Path) -> None:
    message = _error(tmp_path, BASE + "# " + "x" * MAX_FILE_BYTES + "\n")
    assert "a.yaml: is larger than 1 MiB, the most an input file may be" in message


def test_python_and_binary_tags_are_refused(tmp_path: Path) -> None:
    assert "uses the YAML tag '!!python/object/apply:os.system'" in _error(
        tmp_path, "!!python/object/apply:os.system ['touch x']\n")
    assert "line 14: uses the YAML tag '!!binary'" in _error(tmp_path, _with("  name: 株式会社テスト製薬",
                                                                            "  name: !!binary aGVsbG8="))


# --- Values Python cannot hold ------------------------------------------------------------------------------


def test_impossible_date_names_line_and_field(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("effective_date: 2026-06-01", "effective_date: 2026-02-30"))
    assert ("a.yaml line 6: agreement.effective_date should be a real date written as YYYY-MM-DD; day value is "
            "outside expected range (got '2026-02-30')") in message


def test_year_zero_names_line_and_field(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("effective_date: 2026-06-01", "effective_date: 0000-06-01"))
    assert "line 6: agreement.effective_date should be a real date written as YYYY-MM-DD; year 0 is out of range" in (
        message)


def test_year_9999_is_refused_in_the_model(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("effective_date: 2026-06-01", "effective_date: 9999-12-01"))
    assert "line 6: agreement.effective_date has the year 9999; a date must lie between 1900 and 2999" in message


def test_add_months_does_not_overflow() -> None:
    assert _add_months(dt.date(9999, 12, 1), 24) == dt.date.max
    assert _add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert _add_months(dt.date(1, 1, 1), -1) == dt.date.min


def test_five_thousand_digit_number_names_line_and_field(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("  version: 1", "  version: " + "9" * 5000))
    assert "line 5: agreement.version is a number of 5000 digits" in message


def test_five_thousand_digit_number_in_json(tmp_path: Path) -> None:
    data = json.dumps({"agreement": {"version": 1}}).replace("1", "9" * 5000)
    assert "holds a number of 5000 digits" in _error(tmp_path, data, "a.json")


# --- Characters -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("escape", "expected"), [
    ("\\u0001", "the control character U+0001 at character 6, which a DOCX cannot hold"),
    ("\\uFFFE", "the control character U+FFFE at character 6"),
    ("\\v", "U+000B (a line break pasted from a word processor) at character 6"),
    ("\\f", "U+000C (a page break pasted from a word processor) at character 6"),
    ("\\a", "U+0007 (an alert character) at character 6"),
])
def test_control_character_in_text_field(tmp_path: Path, escape: str, expected: str) -> None:
    message = _error(tmp_path, _with("- name: Tokyo Plant", f'- name: "Tokyo{escape} Plant"'))
    assert "line 20: contract_acceptor.sites[0].name contains" in message
    assert expected in message


@pytest.mark.parametrize(("escape", "expected"), [
    ("\\uE000", "U+E000 at character 6, a private-use character"),
    ("\\uF8FF", "U+F8FF at character 6, a private-use character"),
    ("\\U000F0001", "U+F0001 at character 6, a private-use character"),
    ("\\uFDD0", "U+FDD0 at character 6, a Unicode noncharacter"),
    ("\\U0001FFFF", "U+1FFFF at character 6, a Unicode noncharacter"),
    ("\\U0010FFFF", "U+10FFFF at character 6, a Unicode noncharacter"),
])
def test_a_character_no_font_can_show_is_refused_with_the_field(tmp_path: Path, escape: str, expected: str) -> None:
    # `check` said "no findings" and `build` failed inside Typst ("could not be displayed with font Carlito")
    message = _error(tmp_path, _with("- name: Tokyo Plant", f'- name: "Tokyo{escape} Plant"'))
    assert "line 20: contract_acceptor.sites[0].name contains " + expected in message
    assert "retype the character you meant" in message


def test_characters_fonts_show_are_kept(tmp_path: Path) -> None:
    text = "Tokyo \U0001F600 \u00AD \u845B\U000E0100 \uFB01 \U00010000 Plant"  # emoji, soft hyphen, variant, ligature
    assert text_problem(text) is None


def test_control_character_in_a_list_or_mapping(tmp_path: Path) -> None:
    message = _error(tmp_path, _with('registration_numbers: {FEI: "3009876543"}',
                                     'registration_numbers: {FEI: "30098\\f76543"}'))
    assert "contract_acceptor.sites[0].registration_numbers contains U+000C" in message
    assert "(under 'FEI')" in message


def test_raw_control_byte_names_line_and_field(tmp_path: Path) -> None:
    for byte in (b"\x01", b"\x00", b"\x7f"):
        raw = _with("- name: Tokyo Plant", f"- name: Tokyo{byte.decode()} Plant").encode()
        message = _error(tmp_path, raw)
        assert (f"line 20: contract_acceptor.sites[0].name contains the control character U+{byte[0]:04X} at "
                "character 6") in message


def test_raw_control_byte_in_json_names_field(tmp_path: Path) -> None:
    text = json.dumps({"agreement": {"title": "A@B"}}, indent=1).replace("@", "\x01")
    with pytest.raises(AnswersError) as info:
        load_answers(_write(tmp_path / "a.json", text))
    message = str(info.value)
    assert "line 3: agreement.title contains the control character U+0001" in message


def test_control_character_in_a_key_is_escaped_in_the_message(tmp_path: Path) -> None:
    with pytest.raises(AnswersError) as info:
        load_answers(_write(tmp_path / "a.yaml", "agreement:\n  id: A\n  k\x1b[2Jey: 1\n"))
    message = str(info.value)
    assert "line 3: agreement.k\\x1b[2Jey is not a known field" in message
    assert "\x1b" not in message


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_every_answers_and_library_model_checks_its_text() -> None:
    for module in (answers_models, library_models):
        for name, model in inspect.getmembers(module, inspect.isclass):
            if model.__module__ == module.__name__ and hasattr(model, "model_fields"):
                assert issubclass(model, InputModel), f"{module.__name__}.{name} skips the text check"


# --- Encodings and shapes a careless user produces ---------------------------------------------------------


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(BASE.encode("utf-16"))
    assert load_answers(path).answers.contract_acceptor.name == "株式会社テスト製薬"


def test_latin1_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    raw = _with("- name: Tokyo Plant", "- name: Tokyo Pl\u00e4nt").encode("utf-8").replace(b"\xc3\xa4", b"\xe4")
    assert "line 20: is not UTF-8 text (byte 0xe4); save it as UTF-8" in _error(tmp_path, raw)


def test_tab_indent_is_named(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("  country: Japan\n  quality_contact", "\tcountry: Japan\n  quality_contact"))
    assert "is not valid YAML: a line is indented with a tab; indent with spaces only" in message


def test_date_in_words_asks_for_iso(tmp_path: Path) -> None:
    for written in ("'1 June 2026'", "2026-06-01 10:00:00"):
        message = _error(tmp_path, _with("effective_date: 2026-06-01", f"effective_date: {written}"))
        assert "line 6: agreement.effective_date should be a real date written as YYYY-MM-DD (got" in message


def test_unquoted_no_as_text_asks_for_quotes(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("  country: Japan\n  quality_contact", "  country: NO\n  quality_contact"))
    assert "contract_acceptor.country should be text, but YAML read it as false; put the value in quotes" in message


# --- The command line ------------------------------------------------------------------------------------


def test_check_and_build_give_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = {
        "laughs.yaml": _laughs(),
        "feb30.yaml": _with("effective_date: 2026-06-01", "effective_date: 2026-02-30"),
        "digits.yaml": _with("  version: 1", "  version: " + "9" * 5000),
        "y9999.yaml": _with("effective_date: 2026-06-01", "effective_date: 9999-12-01"),
        "ctrl.yaml": _with("- name: Tokyo Plant", '- name: "Tokyo\\u0001 Plant"'),
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        for command in (("check", "--library", str(MINI_LIBRARY)),
                        ("build", "--format", "docx", "-o", str(tmp_path / "out"), "--library", str(MINI_LIBRARY)),
                        ("library", "coverage", "--library", str(MINI_LIBRARY))):
            line = _one_error_line(_cli(*command, str(path)))
            assert str(path) in line, (command, line)
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# --- Clause libraries ------------------------------------------------------------------------------------


@pytest.fixture()
def lib(tmp_path: Path) -> Path:
    target = tmp_path / "lib"
    shutil.copytree(MINI_LIBRARY, target)
    return target


def _add_clause(lib: Path, *, date: str = "2026-01-01", condition: str = '"true"', text: str = "Plain.") -> Path:
    path = lib / "clauses" / "general.yaml"
    clause = (f"  - id: zz_bad\n    title: Bad\n    section: general\n    order: 999\n    version: 1\n"
              f"    status: approved\n    effective_date: {date}\n    applies_when: {condition}\n"
              f"    references: []\n    text: {text}\n")
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + clause, encoding="utf-8")
    return path


def _library_problem(lib: Path) -> str:
    with pytest.raises(LibraryError) as info:
        load_library(lib)
    return str(info.value)


def test_library_impossible_date(lib: Path) -> None:
    _add_clause(lib, date="2026-02-30")
    message = _library_problem(lib)
    assert "general.yaml line " in message
    assert "clause 'zz_bad': clauses[" in message
    assert "effective_date should be a real date written as YYYY-MM-DD; day value is outside" in message


def test_library_year_9999(lib: Path) -> None:
    _add_clause(lib, date="9999-01-01")
    assert "clause 'zz_bad': clauses[" in _library_problem(lib)
    assert "effective_date has the year 9999" in _library_problem(lib)


def test_library_alias_bomb(lib: Path) -> None:
    (lib / "raci.yaml").write_text(_laughs(), encoding="utf-8")
    start = time.monotonic()
    message = _library_problem(lib)
    assert time.monotonic() - start < 1
    assert "raci.yaml line 1: uses a YAML anchor or alias" in message


def test_library_control_character_in_clause_text(lib: Path) -> None:
    _add_clause(lib, text='"Plain\\f text."')
    assert "clause 'zz_bad': clauses[" in _library_problem(lib)
    assert "text contains U+000C (a page break pasted from a word processor)" in _library_problem(lib)


def test_library_private_use_character_in_clause_text(lib: Path) -> None:
    _add_clause(lib, text='"Plain\\uE000 text."')
    assert "text contains U+E000 at character 6, a private-use character" in _library_problem(lib)


def test_library_unknown_filter_is_a_compile_error(lib: Path) -> None:
    _add_clause(lib, text='"{{ agreement.title | nosuchfilter }}"')
    message = _library_problem(lib)
    assert "clause 'zz_bad': text the filter 'nosuchfilter' is not allowed" in message
    assert "internal error" not in _cli("library", "check", "--library", str(lib)).stderr


@pytest.mark.parametrize(("condition", "text", "expected"), [
    ('"true"', '"{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"', "'{% macro %}' is not allowed"),
    ('"true"', '"{{ 1 / 0 }}"', "text failed to render (ZeroDivisionError: division by zero)"),
    ('"true"', '"{{ agreement.version + agreement.title }}"', "text failed to render (TypeError: unsupported operand"),
    ('"true"', "'{{ \"\\f\" }} text.'", "text renders a text that contains U+000C"),
    ('"agreement.version / 0"', "Plain.", "condition 'agreement.version / 0' failed to evaluate"),
])
def test_library_render_faults_exit_2_from_check_and_build(lib: Path, tmp_path: Path, condition: str, text: str,
                                                           expected: str) -> None:
    _add_clause(lib, condition=condition, text=text)
    # a clause that does not render is a fault of the library: check stops with one line naming it, exit 2
    checked = _cli("check", "--library", str(lib), str(MINIMAL_ANSWERS))
    assert "internal error" not in checked.stderr and "Traceback" not in checked.stderr
    assert checked.returncode == 2, checked.stderr
    assert "clause 'zz_bad'" in " ".join(checked.stderr.split()), checked.stderr
    assert expected in " ".join(checked.stderr.split()), checked.stderr
    # build stops the same way: exit 2, the clause named
    built = _cli("build", "--format", "docx", "--allow-gaps", "-o", str(tmp_path / "out"), "--library", str(lib),
                 str(MINIMAL_ANSWERS))
    assert built.returncode == 2, built.stderr
    assert "internal error" not in built.stderr and "Traceback" not in built.stderr
    first = next(line for line in built.stderr.splitlines() if line.startswith("error:"))
    assert "general.yaml line " in first and "clause 'zz_bad'" in first and expected in first, built.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.docx"))


def test_workspace_settings_refuse_an_alias_bomb(tmp_path: Path) -> None:
    from qa_builder.errors import InputError
    from qa_builder.workspace.layout import SETTINGS_FILE, init_workspace, open_workspace

    root = init_workspace(tmp_path / "w").root
    (root / SETTINGS_FILE).write_text(_laughs(), encoding="utf-8")
    start = time.monotonic()
    with pytest.raises(InputError, match="line 1: uses a YAML anchor or alias"):
        open_workspace(root)
    assert time.monotonic() - start < 1


@pytest.mark.parametrize(("condition", "text", "expected"), [
    ('"true"', '"{{ 1 / 0 }}"', "text failed to render (ZeroDivisionError: division by zero)"),
    ('"agreement.version / 0"', "Plain.", "condition 'agreement.version / 0' failed to evaluate"),
])
def test_library_check_renders_with_the_examples(tmp_path: Path, condition: str, text: str, expected: str) -> None:
    from qa_builder.library.loader import default_library_dir

    library = tmp_path / "library"
    shutil.copytree(default_library_dir(), library)
    path = _add_clause(library, condition=condition, text=text)
    line = _one_error_line(_cli("library", "check", "--library", str(library)))
    assert line.startswith(f"error: {path} line "), line
    assert "clause 'zz_bad'" in line and expected in line, line
    assert "(rendering with the answers in " in line


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("  version: 1", "  version: yes", "line 5: agreement.version should be a number, not true/false"),
    ("  country: Germany", "  country:", "line 11: sponsor.country is empty; write a value after the colon"),
    ("  country: Germany", "  country: '  '", "line 11: sponsor.country is empty (or only spaces); give a value"),
    ("  country: Germany", '  country: "Ger\\u2028many"', "sponsor.country contains U+2028 (a line separator)"),
    ("  country: Germany", '  country: "Ger\\x92many"', "sponsor.country contains the control character U+0092"),
    ("  name: 株式会社", '  name: 株式\ufeff会社',
     "line 14: contract_acceptor.name contains the invisible character U+FEFF"),
    ("  name: 株式会社テスト製薬", '  name: "株式\\u200b会社テスト製薬"',
     "contract_acceptor.name contains the invisible character U+200B"),
    ("  name: 株式会社テスト製薬", '  name: "株式\\u2060会社テスト製薬"',
     "contract_acceptor.name contains the invisible character U+2060"),
    ("  name: 株式会社テスト製薬", '  name: "\\u3164\\u3164"',
     "contract_acceptor.name contains the invisible character U+3164 (a Hangul filler)"),
    ("  name: 株式会社テスト製薬", '  name: "株式\\u2800会社"',
     "contract_acceptor.name contains the invisible character U+2800 (a blank Braille pattern)"),
    ("  name: 株式会社テスト製薬", '  name: "株式\\U000E0041会社"',
     "contract_acceptor.name contains the invisible character U+E0041 (a tag character)"),
    ("signatories:", "positions: {2026-01-01: x}\nsignatories:",
     "line 32: has the key '2026-01-01', which YAML reads as a date, not text; put it in quotes"),
    ("effective_date: 2026-06-01", "effective_date: '2026-02-30'",
     "agreement.effective_date should be a real date written as YYYY-MM-DD; day value is outside expected range"),
])
def test_careless_values_get_a_plain_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert expected in _error(tmp_path, _with(old, new))


@pytest.mark.parametrize(("field", "condition", "text"), [
    ("text", '"true"', '"{{ ' + "(" * 5000 + "1" + ")" * 5000 + ' }}"'),
    ("text", '"true"', '"' + "{% if true %}" * 2400 + "x" + "{% endif %}" * 2400 + '"'),  # under the 5,000-tag bound
    ("applies_when", '"' + "(" * 5000 + "true" + ")" * 5000 + '"', "Plain."),
])
def test_library_too_deep_to_compile(lib: Path, field: str, condition: str, text: str) -> None:
    _add_clause(lib, condition=condition, text=text)
    message = _library_problem(lib)
    assert f"clause 'zz_bad': {field} does not " in message
    assert "(it is nested too deeply)" in message
    assert len(message.splitlines()) == 1


def test_devices_and_pipes_are_refused_without_reading(tmp_path: Path, lib: Path) -> None:
    import os

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        with pytest.raises(AnswersError, match=f"^{path}: is not a regular file$"):
            load_answers(path)
    (lib / "raci.yaml").unlink()
    (lib / "raci.yaml").symlink_to("/dev/zero")
    assert "raci.yaml: is not a regular file" in _library_problem(lib)


def test_a_clause_the_lint_cannot_render_is_a_library_fault(tmp_path: Path) -> None:
    """The lint renders arrangements the bundled examples do not: a clause failing there is exit 2, one line
    naming file, line and clause (and the arrangement), not a lint finding with clause '-'.

    No bundled example is a finished product released by the contract manufacturer; the lint reaches that
    arrangement among its first few (a contract-laboratory condition was reached only after ~540 renders)."""
    from qa_builder.errors import LibraryError
    from qa_builder.library.lint import lint_library
    from qa_builder.library.loader import load_library

    target = tmp_path / "lib"
    shutil.copytree(ROOT / "clause_library", target)
    path = target / "clauses" / "general.yaml"
    clause = ("  - id: zz_bad\n    title: Bad\n    section: general\n    order: 999\n    version: 1\n"
              "    status: approved\n    effective_date: 2026-01-01\n"
              "    applies_when: \"facts.has_finished_product and not facts.is_lab\n"
              "      and release_model == 'cmo_release_with_sponsor_secondary'\"\n"
              "    references: []\n    text: \"{{ 1 // 0 }}\"\n")
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + clause, encoding="utf-8")
    with pytest.raises(LibraryError) as caught:
        lint_library(load_library(target))
    lines = str(caught.value).splitlines()
    assert len(lines) == 1
    assert "general.yaml line " in lines[0] and "clause 'zz_bad'" in lines[0] and "ZeroDivisionError" in lines[0]
    assert "lint arrangement: cmo, drug_product, US, cmo_release_with_sponsor_secondary," in lines[0], lines[0]


def test_a_library_larger_than_any_clause_library_is_refused_before_it_is_read(lib: Path) -> None:
    """Session 6 attack: each clause file is at most 1 MiB, but not all of them together: 150 files of one
    990,000-character clause each (142 MB) kept `check` loading the library for 110 s at 630 MB."""
    for index in range(17):
        with (lib / "clauses" / f"zz_{index:02d}.yaml").open("wb") as handle:
            handle.truncate(1024 * 1024)  # sparse: never read
    started = time.monotonic()
    message = _library_problem(lib)
    assert message.endswith("clauses: its clause files come to 17 MiB, more than any clause library holds (at most "
                            "16 MiB; the bundled one: 0.5 MiB)"), message
    assert time.monotonic() - started < 5


def test_a_library_file_linking_out_of_the_library_is_refused_unread(lib: Path, tmp_path: Path) -> None:
    """Session 6 attack: a shared library's clauses/zz.yaml, a symbolic link to a private YAML file elsewhere, was
    read as a clause file (its values can be quoted in messages and in the audit trail's failed-build events)."""
    private = tmp_path / "private.yaml"
    private.write_text("clauses:\n  - id: zz_private\n    title: PRIVATE-MARKER-7731\n", encoding="utf-8")
    (lib / "clauses" / "zz.yaml").symlink_to(private)
    message = _library_problem(lib)
    assert message == (f"{lib / 'clauses' / 'zz.yaml'}: is a symbolic link to a file outside the library; a library "
                       "keeps its files inside it: replace the link with the file"), message


def test_a_library_of_more_requirements_than_any_is_refused_before_compiling(lib: Path) -> None:
    """Session 6 attack: 8,500 requirements, each with its own condition (a 0.9 MB file, under the 1 MiB bound),
    kept `check` compiling for 31 s; compiling is not bounded by a render's limits."""
    path = lib / "requirements.yaml"
    extra = "".join(f"  - id: ZZ.r{n}\n    source: x\n    summary: x\n    applies_when: \"{n} == {n}\"\n"
                    for n in range(2_001))
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + extra, encoding="utf-8")
    started = time.monotonic()
    message = _library_problem(lib)
    assert f"{path}: holds 2,0" in message and "requirements, more than any clause library (at most 2,000" in message
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("field_path", [("sponsor", "address"), ("sponsor", "name")])
def test_a_word_no_line_can_hold_is_refused_naming_the_field(tmp_path: Path, field_path: tuple[str, str]) -> None:
    """Attack round 9: a 990-character address without a space passed `check`; the PDF cut it after ~100
    characters. A word of more than 80 characters is refused in answers, naming the field."""
    from tests.conftest import answers_data, run_cli, write_answers

    data = answers_data()
    data[field_path[0]][field_path[1]] = "Dr." + "X" * 190
    path = write_answers(tmp_path, data, "long-word.yaml")
    result = run_cli("check", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{'.'.join(field_path)} holds a word of 193 characters without a space" in result.stderr


def test_an_agreement_version_beyond_any_real_one_is_refused_by_check(tmp_path: Path) -> None:
    """Attack round 9: agreement.version 9007199254740993 (2**53 + 1) passed `check`; `build` then ended in a
    four-line "internal error: ValidationError … BuildRecord"."""
    from tests.conftest import answers_data, run_cli, write_answers

    data = answers_data()
    data["agreement"]["version"] = 2**53 + 1
    result = run_cli("check", str(write_answers(tmp_path, data, "big-version.yaml")))
    assert result.returncode == 2 and "agreement.version should be less than or equal to 99999" in result.stderr, \
        result.stderr

"""Loading answers files: each kind of mistake gives its own clear message with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_builder.answers.load import collect_answers_paths, load_answers, parse_field_path
from qa_builder.errors import AnswersError
from tests.conftest import MINIMAL_ANSWERS


def _error(tmp_path: Path, text: str, name: str = "a.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AnswersError) as info:
        load_answers(path)
    return str(info.value)


def _with(replace: str, by: str) -> str:
    text = MINIMAL_ANSWERS.read_text(encoding="utf-8")
    assert replace in text
    return text.replace(replace, by, 1)


def test_minimal_file_loads_with_sha_and_lines() -> None:
    loaded = load_answers(MINIMAL_ANSWERS)
    assert loaded.answers.agreement.id == "QA-MIN-1"
    assert len(loaded.sha256) == 64
    assert loaded.line_of("contract_acceptor.sites[0].address") == 21
    assert loaded.line_of("agreement.version") == 5


def test_unknown_key_names_line_and_field(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("  review_period_months: 24", "  review_period_months: 24\n  colour: blue"))
    assert "a.yaml line 8: agreement.colour is not a known field" in message


def test_wrong_type_names_line_field_and_value(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("  version: 1", "  version: one"))
    assert "line 5: agreement.version should be a valid integer" in message
    assert "'one'" in message


def test_missing_field_names_parent_line(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("      country: Japan\n", ""))
    assert "contract_acceptor.sites[0].country is required but missing" in message
    assert "line 20" in message


def test_bad_choice_lists_the_allowed_values(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("kind: cmo", "kind: cmx"))
    assert "contract_acceptor.kind should be 'cmo', 'cdmo' or 'contract_laboratory'" in message


def test_version_must_be_at_least_one(tmp_path: Path) -> None:
    assert "agreement.version should be greater than or equal to 1" in _error(tmp_path, _with("  version: 1",
                                                                                               "  version: 0"))


def test_both_parties_must_sign(tmp_path: Path) -> None:
    text = _with("  - {party: contract_acceptor, name: 山田太郎", "  - {party: sponsor, name: 山田太郎")
    assert "signatories needs at least one signatory with party 'contract_acceptor'" in _error(tmp_path, text)


def test_unsafe_agreement_id_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("id: QA-MIN-1", "id: ../../etc/passwd"))
    assert "line 3: agreement.id should use only letters, digits" in message


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    message = _error(tmp_path, "agreement:\n  id: [unclosed\n")
    assert message.startswith(f"{tmp_path / 'a.yaml'} line ")
    assert "is not valid YAML" in message


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("  version: 1", "  version: 1\n  version: 2"))
    assert "line 6: has the key 'version' twice" in message


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    assert "must be a mapping" in _error(tmp_path, "- a\n- b\n")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(AnswersError, match="answers file not found"):
        load_answers(tmp_path / "nope.yaml")
    with pytest.raises(AnswersError, match="is a folder"):
        load_answers(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: Müller".encode("latin-1"))
    with pytest.raises(AnswersError, match="not UTF-8"):
        load_answers(path)


def test_json_is_accepted_and_errors_have_lines(tmp_path: Path) -> None:
    import json

    import yaml

    data = yaml.safe_load(MINIMAL_ANSWERS.read_text(encoding="utf-8"))
    data["agreement"]["effective_date"] = str(data["agreement"]["effective_date"])
    good = tmp_path / "a.json"
    good.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    assert load_answers(good).answers.agreement.id == "QA-MIN-1"
    data["agreement"]["review_period_months"] = "soon"
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(AnswersError, match=r"b\.json line 7: agreement\.review_period_months"):
        load_answers(bad)


def test_bad_email_is_explained(tmp_path: Path) -> None:
    assert "should be an e-mail address" in _error(tmp_path, _with("email: anna@example.com}", "email: anna}"))


def test_invalid_json_has_line(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{\n "agreement": \n}', encoding="utf-8")
    with pytest.raises(AnswersError, match=r"x\.json line 3: is not valid JSON"):
        load_answers(path)


def test_collect_expands_folders(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("x: 1", encoding="utf-8")
    (tmp_path / "a.json").write_text("{}", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("", encoding="utf-8")
    assert [p.name for p in collect_answers_paths([tmp_path])] == ["a.json", "b.yaml"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AnswersError, match="holds no"):
        collect_answers_paths([empty])


def test_parse_field_path() -> None:
    assert parse_field_path("contract_acceptor.sites[0].address") == ("contract_acceptor", "sites", 0, "address")

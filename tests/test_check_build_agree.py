"""`check` sees what `build` sees: over every fixture and example (and the issue's bad files), a file with no
error finding builds (`--format docx`), and a file `build` refuses has an error finding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, FIXTURES, answers_data, run_cli, write_answers

SUB = {"name": "Lab GmbH", "address": "Labstrasse 1, Basel", "activities": ["drug_product_manufacture"]}
BAD: dict[str, dict[str, Any]] = {
    "unknown_raci": {"responsibilities": [{"activity": "batch_releese", "sponsor": "RA", "contract_acceptor": "R"}]},
    "unknown_position": {"positions": {"sponsor_audits": "fallbak"}},
    "unknown_clause": {"positions": {"no_such_clause": "x"}},
    "dropped_subcontractor": {"subcontracting": {"allowed": False, "approved_subcontractors": [SUB]}},
    "subcontractor_outside_services": {"subcontracting": {"allowed": True, "approved_subcontractors": [
        {**SUB, "activities": ["serialisation"]}]}},
}


def _files(tmp_path: Path) -> list[Path]:
    files = sorted((FIXTURES / "answers").glob("*.yaml")) + sorted(EXAMPLES.glob("*.yaml"))
    for name, change in BAD.items():
        data = answers_data(EXAMPLES / "us-eu-drug-product-cmo.yaml")
        data.update(change)
        files.append(write_answers(tmp_path, data, f"{name}.yaml"))
    return files


def test_check_and_build_agree_on_every_file(tmp_path: Path) -> None:
    verdicts: dict[str, tuple[bool, bool]] = {}
    for i, path in enumerate(_files(tmp_path)):
        checked = run_cli("check", str(path))
        built = run_cli("build", str(path), "--format", "docx", "--out", str(tmp_path / f"out{i}"))
        assert checked.returncode in (0, 1), checked.stderr
        verdicts[path.name] = (checked.returncode == 0, built.returncode == 0)
    disagreeing = {name: v for name, v in verdicts.items() if v[0] != v[1]}
    assert disagreeing == {}
    assert not any(verdicts[f"{name}.yaml"][0] for name in BAD)
    assert all(verdicts[p.name][0] for p in EXAMPLES.glob("*.yaml"))


@pytest.mark.parametrize(("name", "expected"), [
    ("unknown_raci", "responsibilities[0].activity 'batch_releese' is not an activity of the RACI matrix"),
    ("unknown_position", "positions.sponsor_audits 'fallbak' is not a position of that clause"),
    ("unknown_clause", "positions.no_such_clause names no clause of the library"),
    ("dropped_subcontractor", "subcontracting is not allowed, yet approved subcontractors are listed (Lab GmbH)"),
    ("subcontractor_outside_services", "subcontractor 'Lab GmbH' performs serialisation, which is not among"),
])
def test_check_names_what_build_refuses(tmp_path: Path, name: str, expected: str) -> None:
    path = next(p for p in _files(tmp_path) if p.name == f"{name}.yaml")
    result = run_cli("check", str(path))
    assert result.returncode == 1
    assert expected in " ".join(result.stdout.split())

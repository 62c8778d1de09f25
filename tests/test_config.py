"""Configuration in one place: every QA_BUILDER_* variable is read in config.py and documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa_builder import config
from qa_builder.errors import ConversionError
from qa_builder.render.pdf import find_soffice
from tests.conftest import ROOT


def test_every_variable_is_read_only_in_config_and_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    declared = {value for name, value in vars(config).items() if name.endswith("_ENV")}
    assert declared == {"QA_BUILDER_SOFFICE", "QA_BUILDER_UNO_PYTHON", "QA_BUILDER_STAMP_FONT", "QA_BUILDER_TODAY",
                        "QA_BUILDER_FONT_DIRS"}
    for variable in declared:
        assert f"| `{variable}` |" in readme, variable
    for source in (ROOT / "qa_builder").rglob("*.py"):
        if source.name != "config.py":
            text = source.read_text(encoding="utf-8")
            assert not re.search(r"os\.environ|getenv", text), f"{source} reads the environment itself"


def test_soffice_variable_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(config.SOFFICE_ENV, str(tmp_path / "no-soffice"))
    with pytest.raises(ConversionError, match=r"LibreOffice was not found at .*no-soffice"):
        find_soffice()
    program = tmp_path / "my-soffice"
    program.write_text("#!/bin/sh\n", encoding="utf-8")
    program.chmod(0o755)
    monkeypatch.setenv(config.SOFFICE_ENV, f"  {program} ")
    assert find_soffice() == str(program)


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert config.cache_dir() == tmp_path / "qa-builder"

"""The public API: what a Python user imports from `qa_builder`, and the README example that uses it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import qa_builder as qa
from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS, ROOT


def test_every_public_name_resolves_and_is_listed() -> None:
    from qa_builder import _HOMES

    assert sorted(qa.__all__) == sorted(["__version__", *_HOMES])
    import qa_builder.cli  # noqa: F401 - loads every submodule the commands use

    missing = [name for name in qa.__all__ if getattr(qa, name, None) is None]
    assert not missing
    # A submodule import sets a package attribute of its name: no public name may be shadowed that way.
    shadowed = [name for name in qa.__all__ if isinstance(getattr(qa, name), types.ModuleType)]
    assert not shadowed
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        qa.no_such_thing  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_package_is_cheap() -> None:
    """`import qa_builder` loads none of the heavy libraries; they come with the names that need them."""
    code = ("import sys, qa_builder\n"
            "heavy = ('pyhanko', 'pydantic', 'docxtpl', 'docx', 'cryptography', 'jinja2', 'yaml')\n"
            "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    assert (ROOT / "qa_builder" / "py.typed").is_file()


def test_check_and_assemble_from_python() -> None:
    library = qa.load_library(MINI_LIBRARY)
    answers = qa.load_answers(MINIMAL_ANSWERS)
    assert qa.check_answers(answers, library=library) == []
    overdue = qa.check_answers(MINIMAL_ANSWERS, library=MINI_LIBRARY, today=qa.load_answers(MINIMAL_ANSWERS)
                       .answers.agreement.effective_date.replace(year=2030))
    assert [f.id for f in overdue if f.severity == "error"] == ["QA-LIFE-001"]
    agreement = qa.assemble_agreement(answers, library=library)
    assert agreement.id == "QA-MIN-1" and len(agreement.model_digest) == 64
    assert agreement.model_digest == qa.assemble_agreement(MINIMAL_ANSWERS, library=MINI_LIBRARY).model_digest


def test_build_many_expands_folders_and_builds_docx(tmp_path: Path) -> None:
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "a.yaml").write_text(MINIMAL_ANSWERS.read_text(encoding="utf-8"), encoding="utf-8")
    items = qa.build_many([folder], qa.build_settings(tmp_path / "out", library=MINI_LIBRARY, fmt="docx"), jobs=2)
    assert [item.error for item in items] == [None]
    assert (tmp_path / "out" / "QA-MIN-1_v1.docx").is_file()


def test_the_demo_calls_only_the_public_api() -> None:
    """Every name the demo imports at run time is a public name, taken from the module the package root re-exports
    it from (the root itself re-exports `run_demo`: importing the root from the demo would be an import cycle)."""
    from qa_builder import _HOMES

    tree = ast.parse((ROOT / "qa_builder" / "demo.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []  # names for the type checker only
    imported: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qa_builder"):
            imported += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            imported += [(alias.name, "") for alias in node.names if alias.name.startswith("qa_builder")]
    assert ("qa_builder.api", "build") in imported and ("qa_builder.audited", "sign_pdf") in imported
    not_public = [(module, name) for module, name in imported
                  if module != "qa_builder.errors" and _HOMES.get(name) != module]
    assert not_public == [], not_public


def _readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None, "the README's Python API section has no python example"
    return found.group(1)


@pytest.mark.libreoffice
def test_readme_example_builds_signs_and_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The README's dozen lines, as they stand. `build` without a converter starts its own PDF engine (Typst by
    default; it failed with "PDF output needs LibreOffice" before)."""
    code = _readme_example()
    assert len([line for line in code.splitlines() if line.strip()]) <= 16
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    assert capsys.readouterr().out.strip() == "TOTAL-PASSED"
    assert (tmp_path / "out" / "signed.pdf").is_file()

"""The wheel carries the library, template and examples: install it fresh and build from elsewhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import DEMO_EXAMPLE, ROOT

pytestmark = [pytest.mark.libreoffice, pytest.mark.slow]


def test_wheel_installs_into_fresh_venv_and_builds(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("qa_builder-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("qa_builder/_data/clause_library/library.yaml", "qa_builder/_data/clause_library/raci.yaml",
                     "qa_builder/_data/templates/quality_agreement.docx",
                     "qa_builder/_data/examples/us-eu-drug-product-cmo.yaml", "qa_builder/render/uno_worker.py",
                     "qa_builder/questionnaire/questionnaire_help.yaml"):
        assert required in names, required

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=300)
    # Dependencies come from the test environment: this test is about what the wheel carries,
    # not about pip's resolver. A plain path line in a .pth file does not run the editable hook.
    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(DEMO_EXAMPLE, elsewhere / "answers.yaml")
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import qa_builder; print(qa_builder.__file__)"],
                           cwd=elsewhere, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(venv)), where.stdout
    helped = subprocess.run([str(venv / "bin" / "python"), "-c", "from qa_builder.questionnaire.help import "
                             "question_help as h; print(*h('release_model').lines(), sep='\\n')"],
                            cwd=elsewhere, capture_output=True, text=True, check=False)
    assert "- EU: Dir 2001/83/EC Art. 51(1)-(3)" in helped.stdout.splitlines(), helped.stderr  # help + library
    result = subprocess.run([str(venv / "bin" / "qa-builder"), "build", "answers.yaml", "-o", "out"],
                            cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert len(list((elsewhere / "out").glob("*.pdf"))) == 1
    assert len(list((elsewhere / "out").glob("*.docx"))) == 1

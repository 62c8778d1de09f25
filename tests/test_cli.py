"""The command line as a user meets it: messages, exit codes, nothing overwritten or half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qa_builder.cli import main
from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS, ROOT, CliResult, answers_data, run_cli, write_answers


def _run(*args: str, env: dict[str, str] | None = None) -> CliResult:
    return run_cli(*args, env=env)


def _build_args(out: Path, *answers: Path, fmt: str = "docx") -> list[str]:
    return ["build", *map(str, answers), "-o", str(out), "--library", str(MINI_LIBRARY), "--format", fmt]


def test_help_lists_commands() -> None:
    """The real entry point (`python -m qa_builder`), as a user starts it."""
    result = subprocess.run([sys.executable, "-m", "qa_builder", "--help"], capture_output=True, text=True,
                            env=os.environ, cwd=ROOT, timeout=60)
    assert result.returncode == 0
    for command in ("build", "schema", "demo"):
        assert command in result.stdout


_IMPORTS_AFTER = """
import sys
from qa_builder.cli import main
def run(args):
    try:
        main(args, prog_name="qa-builder")
    except SystemExit as exc:
        assert not exc.code, exc.code
    return sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("pyhanko", "pyhanko_certvalidator")})
print("help", run(["--help"]), file=sys.stderr)
print("build-docx", run(sys.argv[1:]), file=sys.stderr)
"""


def test_help_and_docx_builds_do_not_import_pyhanko(tmp_path: Path) -> None:
    """pyHanko costs ~1.3 s of imports: only the commands that sign, verify or add signature fields pay it."""
    result = subprocess.run([sys.executable, "-c", _IMPORTS_AFTER, *_build_args(tmp_path, MINIMAL_ANSWERS)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "help []" in result.stderr and "build-docx []" in result.stderr, result.stderr
    assert (tmp_path / "QA-MIN-1_v1.docx").is_file()


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for command in main.commands:
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0 and len(result.output) > 80, command


def test_schema_is_json_schema_of_answers() -> None:
    result = _run("schema")
    schema = json.loads(result.stdout)
    assert schema["title"] == "qa-builder answers file"
    assert {"agreement", "sponsor", "contract_acceptor", "signatories"} <= set(schema["required"])
    assert schema["additionalProperties"] is False


def test_build_docx_and_refuse_overwrite(tmp_path: Path) -> None:
    first = _run(*_build_args(tmp_path, MINIMAL_ANSWERS))
    assert first.returncode == 0, first.stderr
    assert "built QA-MIN-1 v1" in first.stdout
    docx = tmp_path / "QA-MIN-1_v1.docx"
    before = docx.read_bytes()
    second = _run(*_build_args(tmp_path, MINIMAL_ANSWERS))
    assert second.returncode == 2
    assert "QA-MIN-1_v1.docx already exists; use --force" in second.stderr
    assert docx.read_bytes() == before
    third = _run(*_build_args(tmp_path, MINIMAL_ANSWERS), "--force")
    assert third.returncode == 0


def test_bad_answers_give_lines_not_tracebacks_and_write_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL_ANSWERS.read_text(encoding="utf-8").replace("kind: cmo", "kind: factory"), encoding="utf-8")
    out = tmp_path / "out"
    result = _run(*_build_args(out, bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "bad.yaml line 15: contract_acceptor.kind should be 'cmo', 'cdmo' or 'contract_laboratory'" in result.stderr
    assert "0 built, 1 failed" in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_one_failure_does_not_stop_the_others(tmp_path: Path) -> None:
    data = answers_data()
    data["agreement"]["id"] = "QA-OTHER"
    good = write_answers(tmp_path, data, "good.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("agreement: [", encoding="utf-8")
    result = _run(*_build_args(tmp_path / "out", bad, good, MINIMAL_ANSWERS))
    assert result.returncode == 2
    assert "2 built, 1 failed" in result.stderr
    assert (tmp_path / "out" / "QA-OTHER_v1.docx").is_file()
    assert "[3/3]" in result.stderr, "plain progress lines when not on a terminal"


def test_folder_of_answers(tmp_path: Path) -> None:
    folder = tmp_path / "answers"
    folder.mkdir()
    for n in range(3):
        data = answers_data()
        data["agreement"]["id"] = f"QA-F{n}"
        write_answers(folder, data, f"a{n}.yaml")
    result = _run(*_build_args(tmp_path / "out", folder), "--jobs", "2")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.docx")) == ["QA-F0_v1.docx", "QA-F1_v1.docx",
                                                                      "QA-F2_v1.docx"]


def test_library_error_is_reported(tmp_path: Path) -> None:
    result = _run("build", str(MINIMAL_ANSWERS), "-o", str(tmp_path), "--library", str(tmp_path))
    assert result.returncode == 2
    assert f"error: {tmp_path}: not a clause library" in result.stderr


def test_template_with_unknown_variable(tmp_path: Path) -> None:
    from docx import Document

    template = tmp_path / "t.docx"
    document = Document()
    document.add_paragraph("{{ agreement.no_such_field }}")
    document.save(str(template))
    result = _run(*_build_args(tmp_path / "out", MINIMAL_ANSWERS), "--template", str(template))
    assert result.returncode == 2
    assert "uses agreement.no_such_field, but agreement has no field 'no_such_field'" in result.stderr


def test_template_that_is_not_docx(tmp_path: Path) -> None:
    template = tmp_path / "t.docx"
    template.write_text("not a zip", encoding="utf-8")
    result = _run(*_build_args(tmp_path / "out", MINIMAL_ANSWERS), "--template", str(template))
    assert result.returncode == 2
    assert "is not a readable DOCX template" in result.stderr


def test_missing_libreoffice_is_explained(tmp_path: Path) -> None:
    result = _run(*_build_args(tmp_path / "out", MINIMAL_ANSWERS, fmt="pdf"), "--pdf-engine", "libreoffice",
                  env={"QA_BUILDER_SOFFICE": "/nonexistent/soffice"})
    assert result.returncode == 1
    assert "LibreOffice was not found" in result.stderr and "apt-get install" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.libreoffice
def test_parallel_pdf_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`build FOLDER --jobs 2` runs two LibreOffice workers (it ran one: the pool was sized by the arguments)."""
    from qa_builder.cli import build as build_cli
    from qa_builder.render.pdf import PdfConverter

    pools: list[PdfConverter] = []

    class WatchedPool(PdfConverter):  # the real pool; it only remembers that it was made
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            pools.append(self)

    monkeypatch.setattr(build_cli, "PdfConverter", WatchedPool)
    folder = tmp_path / "answers"
    folder.mkdir()
    for n in range(3):
        data = answers_data()
        data["agreement"]["id"] = f"QA-P{n}"
        write_answers(folder, data, f"a{n}.yaml")
    result = _run(*_build_args(tmp_path / "out", folder, fmt="both"), "--jobs", "2", "--pdf-engine", "libreoffice")
    assert result.returncode == 0, result.stderr
    assert [pool.workers for pool in pools] == [2]
    assert len(list((tmp_path / "out").glob("*.pdf"))) == 3
    assert len(list((tmp_path / "out").glob("*.build.json"))) == 3


@pytest.mark.libreoffice
def test_demo_builds_the_bundled_example(tmp_path: Path) -> None:
    result = _run("demo", "-o", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    assert "Built agreement QA-NVP-CSM-001 version 1" in result.stdout
    fields = "sig_sponsor_1, sig_sponsor_2, sig_contract_acceptor_1, sig_contract_acceptor_2"
    assert f"empty signature fields: {fields}" in result.stdout
    for suffix in (".docx", ".pdf", ".build.json", ".signed.pdf"):
        assert (tmp_path / "demo" / f"QA-NVP-CSM-001_v1{suffix}").is_file()
    # four signatures, the B-LT copy's one, and the manifest's (it carries its revocation data: `manifest --trust`)
    assert result.stdout.count("intact, valid, trusted, revocation good") == 6, result.stdout
    assert result.stdout.count("level B-LTA") == 4 and "document timestamp" in result.stdout
    assert "QA-NVP-CSM-001_v1.signed.pdf: PASSED" in result.stdout
    # One signature at B-LT alone (no archive timestamp), verified offline with only the test root trusted.
    assert (tmp_path / "demo" / "QA-NVP-CSM-001_v1.signed-b-lt.pdf").is_file()
    assert "QA-NVP-CSM-001_v1.signed-b-lt.pdf: PASSED" in result.stdout
    assert "QA-NVP-CSM-001_v1.signed-b-lt.pdf TOTAL-PASSED" in result.stdout
    assert result.stdout.count("level B-LT;") == 1, result.stdout
    assert "QA-NVP-CSM-001_v1.manifest.json: PASSED" in result.stdout
    assert "Manifest with 4 listed files; 4 present and unchanged." in result.stdout
    assert (tmp_path / "demo" / "QA-NVP-CSM-001_v1.manifest.json.p7s").is_file()
    assert "certified sig_sponsor_1 as Dr. Ilse Verhoeven" in result.stdout
    pdfsig = subprocess.run(["pdfsig", str(tmp_path / "demo" / "QA-NVP-CSM-001_v1.signed.pdf")],
                            capture_output=True, text=True, timeout=60).stdout
    assert pdfsig.count("Signature is Valid.") == 4, pdfsig
    assert not list((tmp_path / "demo").glob(".*.pdf")), "intermediate files are cleaned up"
    again = _run("demo", "-o", str(tmp_path / "demo"))
    assert again.returncode == 2 and "already exists; use --force" in again.stderr
    assert _run("demo", "-o", str(tmp_path / "demo"), "--force").returncode == 0


def test_readme_documents_every_command() -> None:
    import click

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = []
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            names += [f"{name} {sub}" for sub in command.commands]
        else:
            names.append(name)
    missing = [n for n in names if f"qa-builder {n}" not in readme]
    assert not missing, f"README lacks {missing}"


def test_help_and_schema_start_without_the_heavy_libraries() -> None:
    """`--help` lists the commands without importing pydantic, Jinja, YAML, python-docx or pyHanko (issue 17:
    CLI start ≤ 0.4 s; pydantic alone costs ~0.1 s to import), and `schema` without Jinja, python-docx or
    pyHanko."""
    heavy = ("pydantic", "jinja2", "yaml", "docx", "pyhanko", "typst")
    code = ("import json, sys\nfrom qa_builder.cli import main\ntry:\n    main(sys.argv[1:], prog_name='qa-builder')\n"
            "except SystemExit:\n    pass\n"
            f"print(json.dumps(sorted(m for m in {list(heavy)!r} if m in sys.modules)), file=sys.stderr)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args, allowed in ((["--help"], []), (["schema"], ["pydantic", "yaml"])):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                                check=False)
        imported = json.loads(result.stderr.strip().splitlines()[-1])
        assert [m for m in imported if m not in allowed] == [], (args, imported)


def test_demo_refuses_an_existing_test_pki_before_building_anything(tmp_path: Path) -> None:
    """Attack round 9: `demo -o DIR` with DIR/test-pki present said "already exists" only after building the
    agreement into DIR, and the next run then refused on that DOCX."""
    from tests.conftest import run_cli

    (tmp_path / "test-pki").mkdir()
    result = run_cli("demo", "-o", str(tmp_path))
    assert result.returncode == 2 and "test-pki already exists" in result.stderr, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["test-pki"]


def test_pki_init_never_replaces_files_already_in_the_folder(tmp_path: Path) -> None:
    """Attack round 9: `pki init DIR` into a folder holding the user's own PASSPHRASE and sponsor.p12 (no pki.json)
    replaced both silently (exit 0)."""
    from tests.conftest import run_cli

    (tmp_path / "PASSPHRASE").write_text("mine", encoding="utf-8")
    (tmp_path / "sponsor.p12").write_bytes(b"mykey")
    result = run_cli("pki", "init", str(tmp_path))
    assert result.returncode == 2 and "already holds other files" in result.stderr, result.stderr
    assert (tmp_path / "PASSPHRASE").read_text(encoding="utf-8") == "mine"
    assert (tmp_path / "sponsor.p12").read_bytes() == b"mykey" and len(list(tmp_path.iterdir())) == 2

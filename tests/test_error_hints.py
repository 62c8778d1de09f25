"""Errors carry data (issue 16 item 5): a library error names its remedy as a `Hint` and its problems with
file, line and field path; no library message names a command-line option, and the CLI prints the same
sentences as before by wording the hint as its option."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest

import qa_builder as qa
from qa_builder.cli.errors import _WORDING, error_text, hint_text
from qa_builder.errors import (
    AnswersError,
    CoverageError,
    Hint,
    OutputExistsError,
    Problem,
    Remedy,
    SigningError,
)
from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS, answers_data, run_cli, write_answers


def test_every_remedy_has_cli_wording() -> None:
    assert set(_WORDING) == set(Remedy)
    for remedy in Remedy:
        assert "--" in hint_text(Hint(remedy))


def test_a_hint_survives_pickling_between_processes() -> None:
    """Errors cross process boundaries (worker pools); the hint and problems must come along."""
    problem = Problem(file=Path("a.yaml"), line=3, field_path="agreement.id", message="agreement.id is bad")
    exc = AnswersError.of_problems([problem], hint=Hint(Remedy.REPLACE_OUTPUT, alternative="x"))
    copy = pickle.loads(pickle.dumps(exc))
    assert (type(copy), str(copy), copy.hint, copy.problems) == (AnswersError, "a.yaml line 3: agreement.id is bad",
                                                                 exc.hint, (problem,))


def test_level_without_tsa_library_hint_and_cli_sentence(test_pki: Any, tmp_path: Path) -> None:
    request = qa.SignatureRequest(field="sig_sponsor_1", meaning="approval", level="B-T")
    key = qa.load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase())
    with pytest.raises(SigningError) as refused:
        qa.sign_pdf(tmp_path / "in.pdf", tmp_path / "out.pdf", request, key)
    assert refused.value.hint == Hint(Remedy.TIMESTAMP_AUTHORITY)
    assert str(refused.value) == "level B-T needs a timestamp authority"
    passphrase = tmp_path / "passphrase"
    passphrase.write_bytes(test_pki.passphrase())
    cli = run_cli("sign", str(tmp_path / "in.pdf"), "-o", str(tmp_path / "out.pdf"), "--field", "sig_sponsor_1",
                  "--meaning", "approval", "--level", "B-LT", "--tsa", "http://127.0.0.1:9/",
                  "--key", str(test_pki.p12("sponsor")), "--passphrase-file", str(passphrase))
    assert cli.returncode == 2  # an input error: the request lacks what its level needs
    assert cli.stderr.strip() == ("error: level B-LT embeds the certificate chain's revocation data and needs the "
                                  "trust root: pass --trust ROOT.pem")


def test_renewal_without_tsa_or_trust_names_the_remedy(tmp_path: Path) -> None:
    from qa_builder.signing.pades import renew_archive_timestamp

    with pytest.raises(SigningError) as no_tsa:
        renew_archive_timestamp(tmp_path / "a.pdf", tmp_path / "b.pdf", None, ())
    assert no_tsa.value.hint == Hint(Remedy.TIMESTAMP_AUTHORITY)
    assert error_text(no_tsa.value) == "renewing the archive timestamp needs a timestamp authority: pass --tsa URL"
    with pytest.raises(SigningError) as no_trust:
        renew_archive_timestamp(tmp_path / "a.pdf", tmp_path / "b.pdf", "http://127.0.0.1:9/", ())
    assert no_trust.value.hint == Hint(Remedy.TRUST_ROOT)
    assert "--" not in str(no_trust.value)


def test_existing_build_output_hint_and_cli_sentence(tmp_path: Path) -> None:
    settings = qa.build_settings(tmp_path / "out", library=MINI_LIBRARY, fmt="docx")
    qa.build(MINIMAL_ANSWERS, settings)
    with pytest.raises(OutputExistsError) as refused:
        qa.build(MINIMAL_ANSWERS, settings)
    docx = tmp_path / "out" / "QA-MIN-1_v1.docx"
    assert refused.value.hint == Hint(Remedy.REPLACE_OUTPUT, alternative="raise agreement.version")
    assert str(refused.value) == f"{docx} already exists"
    cli = run_cli("build", str(MINIMAL_ANSWERS), "-o", str(tmp_path / "out"), "--format", "docx",
                  "--library", str(MINI_LIBRARY))
    assert cli.returncode == 2
    assert f"error: {docx} already exists; use --force to replace it or raise agreement.version" in cli.stderr


def test_coverage_gap_hint_and_cli_sentence(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    shutil.copytree(MINI_LIBRARY, library)
    requirements = library / "requirements.yaml"
    requirements.write_text(requirements.read_text(encoding="utf-8")
                            + "  - {id: REQ-GAP, source: Test source 6, summary: Nothing covers this.}\n",
                            encoding="utf-8")
    with pytest.raises(CoverageError) as gap:
        qa.assemble_agreement(MINIMAL_ANSWERS, library=library)
    assert gap.value.hint == Hint(Remedy.ACCEPT_GAPS)
    assert "--" not in str(gap.value)
    args = ["build", str(MINIMAL_ANSWERS), "-o", str(tmp_path / "out"), "--format", "docx", "--library", str(library)]
    reviewed = run_cli(*args)  # the review check QA-COV-001 finds the gap first
    assert reviewed.returncode == 2
    assert (f"error: {MINIMAL_ANSWERS}: not built because of 1 review error(s); see `qa-builder check "
            f"{MINIMAL_ANSWERS}`, fix them, or pass --allow-findings to build anyway and record them as accepted\n"
            in reviewed.stderr), reviewed.stderr
    cli = run_cli(*args, "--allow-findings")
    assert cli.returncode == 2
    assert (f"error: {MINIMAL_ANSWERS}: not built because of 1 coverage gap(s); add or enable clauses that cite "
            "them (see `qa-builder library coverage`), or pass --allow-gaps\n" in cli.stderr), cli.stderr


def test_answers_error_carries_file_line_and_field(tmp_path: Path) -> None:
    data = answers_data()
    data["contract_acceptor"]["kind"] = "factory"
    path = write_answers(tmp_path, data)
    with pytest.raises(AnswersError) as bad:
        qa.load_answers(path)
    error = bad.value
    assert error.file == path and error.field_path == "contract_acceptor.kind"
    assert error.line is not None and error.line > 1
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "factory" in lines[error.line - 1]
    assert str(error) == f"{path} line {error.line}: {error.problems[0].message}"
    assert error.problems[0].message.startswith("contract_acceptor.kind should be")
    cli = run_cli("check", str(path))
    assert f"error: {path} line {error.line}: contract_acceptor.kind should be" in cli.stderr


def test_unreadable_answers_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(AnswersError) as missing:
        qa.load_answers(tmp_path / "nope.yaml")
    assert missing.value.file == tmp_path / "nope.yaml" and missing.value.line is None
    assert str(missing.value) == f"{tmp_path / 'nope.yaml'}: answers file not found"


def test_a_file_another_run_wrote_meanwhile_is_kept_with_a_hint(tmp_path: Path) -> None:
    from qa_builder.files import atomic_writer

    target = tmp_path / "x.pdf"
    with pytest.raises(OutputExistsError) as kept, atomic_writer(target, replace=False) as out:
        out.write(b"ours")
        target.write_bytes(b"theirs")  # another run, between our check and our rename
    assert target.read_bytes() == b"theirs"
    assert kept.value.hint == Hint(Remedy.OTHER_NAME_OR_REPLACE) and "--" not in str(kept.value)
    assert error_text(kept.value) == (f"{target} already exists (another run wrote it meanwhile); it is kept: "
                                      "choose another name, or pass --force to replace it")

"""Workspaces: init, build, impact analysis, regeneration with redlines, and crash safety (kill -9)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from qa_builder.errors import InputError, OutputExistsError
from qa_builder.regenerate import build_new, impact, regenerate
from qa_builder.workspace.layout import Workspace, add_agreement, init_workspace, open_workspace
from tests.conftest import MINI_LIBRARY, ROOT, CliResult, answers_data, run_cli, write_answers

pytestmark = pytest.mark.libreoffice

EU_IDS = ["QA-WS-EU-1", "QA-WS-EU-2", "QA-WS-EU-3"]
US_IDS = ["QA-WS-US-1", "QA-WS-US-2"]


def _variant(agreement_id: str, eu: bool) -> dict[str, Any]:
    data = answers_data()
    data["agreement"]["id"] = agreement_id
    data["agreement"]["title"] = f"Quality Agreement {agreement_id}"
    if eu:
        data["products"][0]["markets"] = ["US", "EU"]
        data["release_model"] = "qp_certification"
    return data


@pytest.fixture(scope="module")
def built_workspace(tmp_path_factory: pytest.TempPathFactory, converter: Any) -> Path:
    """Five agreements (three with an EU market) built as v1 with the mini library."""
    root = tmp_path_factory.mktemp("ws") / "workspace"
    workspace = init_workspace(root)
    shutil.rmtree(workspace.library_dir)
    shutil.copytree(MINI_LIBRARY, workspace.library_dir)
    incoming = tmp_path_factory.mktemp("incoming")
    for agreement_id in EU_IDS + US_IDS:
        path = write_answers(incoming, _variant(agreement_id, agreement_id in EU_IDS), f"{agreement_id}.yaml")
        add_agreement(workspace, path)
    built, failed = build_new(workspace, jobs=2, converter=converter)  # the session pool: no LibreOffice boot
    assert not failed and len(built) == 5
    return root


@pytest.fixture
def workspace(built_workspace: Path, tmp_path: Path) -> Workspace:
    copy = tmp_path / "workspace"
    shutil.copytree(built_workspace, copy)
    return open_workspace(copy)


def _edit_eu_clause(workspace: Workspace) -> None:
    """A new version of the clause that applies to EU markets only, with reworded text."""
    path = workspace.library_dir / "clauses" / "general.yaml"
    text = path.read_text(encoding="utf-8")
    old = "    version: 1\n    status: approved\n    effective_date: 2026-01-01\n    applies_when: \"facts.has_eu\"\n"
    assert old in text and "    text: EU text.\n" in text
    text = text.replace(old, old.replace("version: 1", "version: 2"))
    path.write_text(text.replace("    text: EU text.\n", "    text: EU text, as amended.\n"), encoding="utf-8")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "audit" not in p.parts and p.name != ".lock"}


@pytest.mark.parametrize("name", ["ws\x1b[31mRED", "ws\u202eabc", "ws\nerror: forged", "ws\udcff"])
def test_init_refuses_a_folder_name_that_does_not_print_as_itself(name: str, tmp_path: Path) -> None:
    """Security test leftover: `init` printed the folder name raw (a terminal escape, a fake line), and every later
    message and audit event of the workspace would carry it."""
    result = run_cli("init", str(tmp_path / name))
    assert result.returncode == 2, result.stdout
    line, = result.stderr.splitlines()
    assert line.startswith(f"error: {tmp_path}/ws") and line.endswith("; choose another name"), line
    assert "\x1b" not in line and "\u202e" not in line
    assert os.listdir(tmp_path) == []


def test_init_creates_a_workspace_and_refuses_to_overwrite(tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "new")
    for part in ("qa-builder.yaml", "clause_library/library.yaml", "templates/quality_agreement.docx",
                 "examples/us-eu-drug-product-cmo.yaml", "agreements", "regenerations"):
        assert (workspace.root / part).exists(), part
    with pytest.raises(OutputExistsError, match="not empty"):
        init_workspace(workspace.root)
    with pytest.raises(InputError, match="is not a qa-builder workspace"):
        open_workspace(tmp_path)
    add_agreement(workspace, workspace.root / "examples" / "us-api-cmo.yaml")
    with pytest.raises(OutputExistsError, match="already exists"):
        add_agreement(workspace, workspace.root / "examples" / "us-api-cmo.yaml")
    here = tmp_path / "empty-current-folder"
    here.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(here)
        done = run_cli("init", ".")
    assert done.returncode == 0, done.stderr
    assert open_workspace(here).library_dir.is_dir() and not list(tmp_path.glob(".*init*"))


def test_build_workspace_makes_first_versions_only_once(workspace: Workspace) -> None:
    for agreement_id in EU_IDS + US_IDS:
        assert workspace.versions(agreement_id) == [1]
        folder = workspace.version_dir(agreement_id, 1)
        names = {p.name for p in folder.iterdir()}
        assert {f"{agreement_id}_v1{s}" for s in (".docx", ".pdf", ".build.json", ".agreement.json")} <= names
    assert build_new(workspace) == ([], {})
    assert all(r.affected is False for r in impact(workspace))


def test_a_clause_edit_gives_an_exact_impact_list(workspace: Workspace) -> None:
    _edit_eu_clause(workspace)
    results = {r.agreement_id: r for r in impact(workspace)}
    assert sorted(i for i, r in results.items() if r.affected) == EU_IDS
    for agreement_id in EU_IDS:
        result = results[agreement_id]
        assert result.reasons == ("clause changed",)
        assert [(c.clause_id, c.kind, c.old_version, c.new_version) for c in result.clause_changes] == [
            ("eu_only", "new_version", 1, 2)]
    assert [r.agreement_id for r in impact(workspace, clause="eu_only")] == EU_IDS
    assert impact(workspace, clause="scope") == []


def test_a_responsibilities_matrix_note_in_the_library_is_named_as_a_library_change(workspace: Workspace) -> None:
    """Only a matrix note changed in the workspace's library: impact (and so the revision history) said "clause
    changed", although no clause changed."""
    path = workspace.library_dir / "raci.yaml"
    text = path.read_text(encoding="utf-8")
    old = "activity: Execute batch manufacture, sponsor: I, contract_acceptor: RA}"
    assert old in text
    path.write_text(text.replace(old, old[:-1] + ', notes: "At the Sites only."}'), encoding="utf-8")
    results = [r for r in impact(workspace) if r.affected]
    assert len(results) == 5
    for result in results:
        assert result.reasons == ("library changed",) and result.clause_changes == (), result
        assert "Responsibilities matrix: 1 row changed" in result.other_changes


def test_answers_and_template_changes_are_named(workspace: Workspace) -> None:
    answers = workspace.answers_path(US_IDS[0])
    answers.write_text(answers.read_text(encoding="utf-8").replace("Examplol 10 mg", "Examplol 20 mg"),
                       encoding="utf-8")
    with zipfile.ZipFile(workspace.template, "a") as template:
        template.writestr("customXml/qa-builder-note.xml", "<note>changed</note>")
    results = {r.agreement_id: r for r in impact(workspace)}
    assert set(results[US_IDS[0]].reasons) == {"answers changed", "template changed"}
    assert results[US_IDS[1]].reasons == ("template changed",) and results[US_IDS[1]].affected


def test_regenerate_makes_new_versions_with_redlines_and_never_touches_earlier_ones(workspace: Workspace,
                                                                                      test_pki: Any,
                                                                                      converter: Any) -> None:
    from qa_builder.signing.keys import load_pkcs12_key
    from qa_builder.signing.manifest import write_signed_manifest
    from qa_builder.signing.pades import SignatureRequest, sign_pdf

    v1 = workspace.version_dir(EU_IDS[0], 1)
    stem = f"{EU_IDS[0]}_v1"
    sign_pdf(v1 / f"{stem}.pdf", v1 / f"{stem}.signed.pdf",
             SignatureRequest(field="sig_sponsor_1", meaning="approval", certify=True),
             load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase()))
    write_signed_manifest(v1 / f"{stem}.build.json", load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase()))
    before = _hashes(workspace.root)
    _edit_eu_clause(workspace)
    before_edit = {k: v for k, v in before.items() if not k.startswith("clause_library")}

    dry = regenerate(workspace, dry_run=True)
    assert [p.agreement_id for p in dry.planned] == EU_IDS and _hashes(workspace.root).keys() == before.keys()

    report = regenerate(workspace, jobs=2, converter=converter)
    assert sorted(v.agreement_id for v in report.built) == EU_IDS and sorted(report.skipped) == US_IDS
    assert not report.failed
    after = _hashes(workspace.root)
    changed = [k for k, v in before_edit.items() if after.get(k) != v]
    assert changed == [], f"earlier files changed: {changed}"
    for agreement_id in EU_IDS:
        assert workspace.versions(agreement_id) == [1, 2]
        model = workspace.agreement(agreement_id, 2)
        assert model.version == 2 and model.revisions[-1].version == 2
        assert "eu_only" in model.revisions[-1].description or "new clause version" in model.revisions[-1].description
        record = workspace.record(agreement_id, 2)
        assert "redline" in {a.role for a in record.artefacts}
        redline = workspace.version_dir(agreement_id, 2) / f"{agreement_id}_v2.redline.docx"
        xml = zipfile.ZipFile(redline).read("word/document.xml").decode("utf-8")
        assert "<w:ins " in xml and "<w:del " in xml and 'w:author="qa-builder"' in xml
    for agreement_id in US_IDS:
        assert workspace.versions(agreement_id) == [1]
    summary = report.summary
    assert summary is not None and summary.is_file()
    text = summary.read_text(encoding="utf-8")
    assert all(f"| {i} | v1 → v2 |" in text for i in EU_IDS) and "2 unchanged" in text
    assert not (workspace.regenerations / "pending.json").exists()
    again = regenerate(workspace)
    assert again.built == [] and len(again.skipped) == 5


def test_libreoffice_shows_the_redline_as_tracked_changes(workspace: Workspace, tmp_path: Path, converter: Any) -> None:
    _edit_eu_clause(workspace)
    regenerate(workspace, only=[EU_IDS[0]], converter=converter)
    redline = workspace.version_dir(EU_IDS[0], 2) / f"{EU_IDS[0]}_v2.redline.docx"
    profile = tmp_path / "profile"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "odt",
                    "--outdir", str(tmp_path), str(redline)], check=True, capture_output=True, timeout=180)
    content = zipfile.ZipFile(tmp_path / f"{EU_IDS[0]}_v2.redline.odt").read("content.xml").decode("utf-8")
    assert "<text:tracked-changes" in content
    assert "<text:insertion>" in content and "<text:deletion>" in content


def test_one_failing_agreement_does_not_stop_the_others(workspace: Workspace, converter: Any) -> None:
    _edit_eu_clause(workspace)
    broken = workspace.answers_path(EU_IDS[1])
    broken.write_text(broken.read_text(encoding="utf-8").replace("release_model: qp_certification",
                                                                   "release_model: wishful_thinking"),
                      encoding="utf-8")
    report = regenerate(workspace, jobs=2, converter=converter)
    assert list(report.failed) == [EU_IDS[1]] and "release_model" in report.failed[EU_IDS[1]]
    assert sorted(v.agreement_id for v in report.built) == [EU_IDS[0], EU_IDS[2]]
    assert report.summary is not None and "## Failed" in report.summary.read_text(encoding="utf-8")
    assert not (workspace.regenerations / "pending.json").exists(), "a finished run is not resumed later"


def test_an_answers_file_must_keep_its_folder_id(workspace: Workspace) -> None:
    moved = workspace.answers_path(US_IDS[0])
    moved.write_text(moved.read_text(encoding="utf-8").replace(US_IDS[0], US_IDS[1]), encoding="utf-8")
    result = next(r for r in impact(workspace) if r.agreement_id == US_IDS[0])
    assert result.error and f"agreement.id is '{US_IDS[1]}'" in result.error and not result.affected
    report = regenerate(workspace, only=[US_IDS[1], US_IDS[1]])  # the same ID twice is one agreement
    assert report.built == [] and report.skipped == [US_IDS[1]]


def test_cli_init_add_build_impact_regenerate(tmp_path: Path) -> None:
    def cli(*args: str) -> CliResult:
        return run_cli(*args)

    root = tmp_path / "w"
    assert cli("init", str(root)).returncode == 0
    assert cli("init", str(root)).returncode == 2
    added = cli("add", str(root), str(root / "examples" / "us-api-cmo.yaml"))
    assert added.returncode == 0 and "added QA-HLX-API-001" in added.stdout
    built = cli("build", "--workspace", str(root))
    assert built.returncode == 0, built.stderr
    assert (root / "agreements" / "QA-HLX-API-001" / "v1" / "QA-HLX-API-001_v1.pdf").is_file()
    assert cli("impact", str(root)).returncode == 0
    unknown = cli("impact", str(root), "--clause", "batch_relase")  # a typo is named, not "nothing affected"
    assert unknown.returncode == 2 and "clause 'batch_relase' is neither a clause" in unknown.stderr
    library = root / "clause_library" / "library.yaml"
    library.write_text(library.read_text(encoding="utf-8").replace('version: "', 'version: "9', 1), encoding="utf-8")
    listed = cli("impact", str(root), "--json")
    assert listed.returncode == 1 and json.loads(listed.stdout)[0]["reasons"] == ["library version changed"]
    # The bundled template's PDF is typeset (Typst); a team's own template is converted (LibreOffice), so the
    # PDF says what that template's DOCX says.
    assert _pdf_creator(root / "agreements" / "QA-HLX-API-001" / "v1" / "QA-HLX-API-001_v1.pdf") == "Typst"
    import docx

    template = open_workspace(root).template
    document = docx.Document(str(template))
    document.add_paragraph("Our own closing words, which only the team's template carries.")
    document.save(str(template))
    done = cli("regenerate", str(root), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert "regenerated QA-HLX-API-001 v1 → v2" in done.stdout
    v2 = root / "agreements" / "QA-HLX-API-001" / "v2" / "QA-HLX-API-001_v2.pdf"
    assert _pdf_creator(v2) == "Writer"
    text = subprocess.run(["pdftotext", str(v2), "-"], capture_output=True, text=True, check=True).stdout
    assert "Our own closing words" in " ".join(text.split())
    assert cli("build", str(root / "examples" / "us-api-cmo.yaml")).returncode == 2  # neither -o nor --workspace


def _pdf_creator(pdf: Path) -> str:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return next(line.split()[1] for line in info.splitlines() if line.startswith("Creator:"))


def _end_state(workspace: Workspace) -> dict[str, Any]:
    """What must be the same after an interrupted-and-resumed run as after an uninterrupted one."""
    state: dict[str, Any] = {}
    for agreement_id in workspace.agreement_ids():
        state[agreement_id] = [(v, workspace.record(agreement_id, v).model_digest) for v in
                               workspace.versions(agreement_id)]
    partial = [p for p in workspace.root.rglob(".partial-*")]
    summaries = sorted(workspace.regenerations.glob("*.md"))
    rows = sorted(line for s in summaries for line in s.read_text(encoding="utf-8").splitlines()
                  if line.startswith("| QA-"))
    return {"versions": state, "partial": partial, "rows": rows, "summaries": len(summaries),
            "pending": (workspace.regenerations / "pending.json").exists(),
            "temp_files": [p for p in workspace.root.rglob("*.tmp")]}


def test_kill_minus_nine_at_random_points_then_rerun_gives_the_uninterrupted_end_state(
        built_workspace: Path, tmp_path: Path, converter: Any) -> None:
    reference = tmp_path / "reference"
    shutil.copytree(built_workspace, reference)
    _edit_eu_clause(open_workspace(reference))
    expected = regenerate(open_workspace(reference), jobs=2, converter=converter)
    assert len(expected.built) == 3
    want = _end_state(open_workspace(reference))

    randomness = random.Random(20261126)
    mark = f"kill-test-{os.getpid()}-{time.monotonic_ns()}"  # inherited by every process the runs start
    env = {**os.environ, "QA_BUILDER_TEST_MARK": mark}
    for trial in range(3):
        copy = tmp_path / f"trial-{trial}"
        shutil.copytree(built_workspace, copy)
        workspace = open_workspace(copy)
        _edit_eu_clause(workspace)
        hashes = _hashes(copy)
        process = subprocess.Popen([sys.executable, "-m", "qa_builder", "regenerate", str(copy), "--jobs", "2"],
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True, env=env)
        time.sleep(randomness.uniform(0.5, 6.0))
        os.killpg(process.pid, signal.SIGKILL)  # qa-builder; its LibreOffice workers see it gone and kill themselves
        process.wait()
        interrupted = _end_state(workspace)
        for versions in interrupted["versions"].values():
            assert [v for v, _ in versions] == list(range(1, len(versions) + 1)), "no gaps, no duplicates"
        resumed = subprocess.run([sys.executable, "-m", "qa_builder", "regenerate", str(copy), "--jobs", "2"],
                                 cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
        assert resumed.returncode == 0, resumed.stderr
        got = _end_state(workspace)
        got_digests = {k: [v for v, _ in vs] for k, vs in got["versions"].items()}
        want_digests = {k: [v for v, _ in vs] for k, vs in want["versions"].items()}
        assert got_digests == want_digests
        for agreement_id, versions in got["versions"].items():
            # same content: the version 2 model differs from the reference only by the revision date line
            assert len(versions) == len(want["versions"][agreement_id])
        assert got["partial"] == [] and got["temp_files"] == [] and not got["pending"]
        assert got["rows"] == want["rows"] and got["summaries"] == want["summaries"]
        unchanged = {k: v for k, v in hashes.items() if "/v1/" in k or k.endswith("answers.yaml")}
        now = _hashes(copy)
        assert all(now[k] == v for k, v in unchanged.items()), "earlier versions were touched"
        from qa_builder.audit import AuditTrail, verify_trail

        assert verify_trail(copy).intact, "a kill -9 never breaks the audit chain"
        recorded = [(e.agreement_id, e.agreement_version) for e in AuditTrail(copy).events()
                    if e.action == "regenerate" and e.outcome == "ok"]
        assert sorted(recorded) == [(i, 2) for i in EU_IDS], "every new version is in the trail exactly once"
    deadline = time.monotonic() + 40  # a killed run's LibreOffice workers must not outlive it
    while _office_processes(mark) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _office_processes(mark), "LibreOffice processes of the killed runs were left running"


def _office_processes(mark: str) -> set[int]:
    """PIDs of running soffice.bin processes started by this test's runs (their environment holds `mark`;
    LibreOffice processes of other programs on the machine are not counted)."""
    found = set()
    needle = f"QA_BUILDER_TEST_MARK={mark}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "soffice.bin" and needle in (entry / "environ").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def test_every_action_on_a_workspace_is_in_its_audit_trail(workspace: Workspace, test_pki: Any,
                                                           converter: Any) -> None:
    import qa_builder as qa
    from qa_builder.audit import AuditTrail, verify_trail
    from qa_builder.audited import sign_file, write_signed_manifest
    from qa_builder.errors import SigningError
    from qa_builder.signing.keys import load_pkcs12_key
    from qa_builder.signing.pades import SignatureRequest
    from qa_builder.verify.policy import VerifySettings

    _edit_eu_clause(workspace)
    library = workspace.library_dir / "library.yaml"
    library.write_text(library.read_text(encoding="utf-8").replace('version: "', 'version: "2-', 1), encoding="utf-8")
    impact(workspace)
    regenerate(workspace, only=[EU_IDS[0]], converter=converter)
    folder = workspace.version_dir(EU_IDS[0], 2)
    stem = f"{EU_IDS[0]}_v2"
    request = SignatureRequest(field="sig_sponsor_1", meaning="approval", certify=True)
    with pytest.raises(SigningError):
        sign_file(folder / f"{stem}.pdf", folder / f"{stem}.signed.pdf", request,
                  lambda: load_pkcs12_key(test_pki.p12("sponsor"), b"not the passphrase"), trail=workspace.trail)
    key = load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase())
    sign_file(folder / f"{stem}.pdf", folder / f"{stem}.signed.pdf", request, lambda: key, trail=workspace.trail)
    write_signed_manifest(folder / f"{stem}.build.json", key, trail=workspace.trail)
    qa.verify_files([folder / f"{stem}.signed.pdf"], VerifySettings(trust_roots=(test_pki.root_pem,)),
                    trail=workspace.trail)

    events = AuditTrail(workspace.root).events()
    actions = [(e.action, e.outcome) for e in events]
    assert actions[0] == ("init", "ok") and actions.count(("add", "ok")) == 5 and actions.count(("build", "ok")) == 5
    for expected in [("library_change", "ok"), ("impact", "ok"), ("regenerate", "ok"), ("sign", "failed"),
                     ("sign", "ok"), ("manifest", "ok"), ("verify", "ok")]:
        assert expected in actions, expected
    signed = next(e for e in events if e.action == "sign" and e.outcome == "ok")
    assert signed.signer and "Ilse Verhoeven" in signed.signer
    assert (signed.agreement_id, signed.agreement_version) == (EU_IDS[0], 2)
    assert {f.name for f in signed.files} == {f"agreements/{EU_IDS[0]}/v2/{stem}.pdf",
                                              f"agreements/{EU_IDS[0]}/v2/{stem}.signed.pdf"}
    failed = next(e for e in events if e.action == "sign" and e.outcome == "failed")
    assert "passphrase" in str(failed.details.get("error", "")).lower()
    checked = next(e for e in events if e.action == "verify")
    assert checked.details["indication"] == "INDETERMINATE"  # B-B: no revocation data embedded
    regenerated = next(e for e in events if e.action == "regenerate" and e.outcome == "ok")
    assert regenerated.details["reasons"] and regenerated.agreement_version == 2
    assert verify_trail(workspace.root).intact
    secret = test_pki.passphrase()
    for path in (workspace.root / "audit").rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), f"the passphrase reached {path}"


@pytest.mark.parametrize(("line", "field"), [("library: [1, 2]", "library"), ("colour: blue", "colour")])
def test_a_bad_settings_file_names_the_field(tmp_path: Path, line: str, field: str) -> None:
    """A wrong settings value was reported as "(1 validation error for WorkspaceSettings)", naming no field
    (found attacking the CLI for issue 12)."""
    root = tmp_path / "ws"
    init_workspace(root)
    settings = root / "qa-builder.yaml"
    key = line.split(":")[0]
    kept = [row for row in settings.read_text(encoding="utf-8").splitlines() if not row.startswith(f"{key}:")]
    settings.write_text("\n".join([*kept, line]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        open_workspace(root)
    # attack round 9: the line was not named; the bad value is on the file's last line
    last = len(settings.read_text(encoding="utf-8").splitlines())
    assert f"qa-builder.yaml line {last}: is not a valid workspace settings file: {field}: " in str(caught.value)
    assert "WorkspaceSettings" not in str(caught.value)


def test_an_edited_build_record_names_its_field_not_a_validation_error_count(tmp_path: Path) -> None:
    # Before: "is not a readable build record (1 validation error for BuildRecord)", naming no field.
    root = tmp_path / "ws"
    init_workspace(root)
    workspace = open_workspace(root)
    record = root / "agreements" / "QA-1" / "v1" / "QA-1_v1.build.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"agreement_version": "../../x"}), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        workspace.record("QA-1", 1)
    message = str(caught.value)
    assert "validation error for" not in message and ": Field required" in message

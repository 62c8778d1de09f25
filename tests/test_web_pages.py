"""The web app's pages over HTTP (no browser): review, preview, autosave, audit filters and export, signing refusals.

The server is the real command (`python -m qa_builder serve --port 0 --no-browser`) on a fresh workspace.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import yaml
from markupsafe import escape

import qa_builder as qa
from qa_builder.models.agreement import SelectionDecision
from qa_builder.questionnaire.help import question_help
from qa_builder.render.docx import render_docx
from qa_builder.web.conditions import explain
from qa_builder.web.interview import field_help, replay
from tests.conftest import run_cli
from tests.doctext import docx_blocks
from tests.test_web import ROOT, Server, request

EXAMPLE = "us-api-cmo"


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    return qa.init_workspace(tmp_path / "ws").root


@pytest.fixture()
def agreement_id(workspace: Path) -> str:
    return qa.add_agreement(qa.open_workspace(workspace), workspace / "examples" / f"{EXAMPLE}.yaml")


@pytest.fixture()
def server(workspace: Path, agreement_id: str) -> Iterator[Server]:
    running = Server(workspace)
    try:
        yield running
    finally:
        running.stop()


class Session:
    """A signed-in client of the server: its cookie and the pages' CSRF token."""

    def __init__(self, server: Server) -> None:
        self.server = server
        link = urlsplit(server.link)
        _, headers, _ = request("GET", server.port, f"{link.path}?{link.query}")
        self.cookie = headers["set-cookie"].split(";", 1)[0]
        page = self.get("/new")[1]
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found
        self.csrf = found.group(1)

    def get(self, path: str, **headers: str) -> tuple[int, str]:
        status, _, body = request("GET", self.server.port, path, headers={"Cookie": self.cookie, **headers})
        return status, body.decode("utf-8")

    def post(self, path: str, fields: dict[str, str], *, csrf: bool = True) -> tuple[int, dict[str, str], bytes]:
        sent = {**fields, **({"csrf_token": self.csrf} if csrf else {})}
        body = "&".join(f"{quote(k)}={quote(v)}" for k, v in sent.items()).encode()
        return request("POST", self.server.port, path, body=body, headers={
            "Cookie": self.cookie, "Origin": self.server.base, "Content-Type": "application/x-www-form-urlencoded"})


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_review_page_says_why_each_clause_is_in_or_out(server: Server, workspace: Path, agreement_id: str) -> None:
    session = Session(server)
    status, page = session.get(f"/agreements/{agreement_id}/review")
    assert status == 200
    library = qa.load_library(workspace / "clause_library")
    rows = re.findall(r'<tr class="(included|left-out)" data-clause="([^"]+)">(.*?)</tr>', page, re.S)
    assert {clause_id for _, clause_id, _ in rows} == {c.id for c in library.clauses}
    answers_path = workspace / "agreements" / agreement_id / "answers.yaml"
    model = qa.assemble_agreement(answers_path, library=library)
    included = {d.clause_id for d in model.decisions if d.included}
    assert {clause_id for kind, clause_id, _ in rows if kind == "included"} == included
    text = {clause_id: _text(cells) for _, clause_id, cells in rows}
    lab_only = next(c.id for c in library.clauses if c.applies_when.strip() == "facts.is_lab")
    assert "Left out: it applies only when the contract acceptor is a contract laboratory" in text[lab_only]
    assert not any("facts." in said for said in text.values())
    # A clause that depends on an answer links back to the page asking it.
    shown = replay(yaml.safe_load(answers_path.read_text(encoding="utf-8")))
    prompts = {q.key: q.prompt for section in shown.sections for q in section.questions}
    depends = next(c.id for c in library.clauses if re.search(r"'\w+' (not )?in services", c.applies_when))
    link = re.search(r'href="/agreements/[^/]+/interview/(\d+)"', dict((c, r) for _, c, r in rows)[depends])
    assert link
    _, interview = session.get(f"/agreements/{agreement_id}/interview/{link.group(1)}")
    assert 'data-key="services"' in interview and "services" in prompts
    assert "the services " in text[depends]
    assert 'id="no-gaps"' in page and "Errors (the build refuses these): 0" in _text(page)


def test_preview_is_the_assembled_agreement_escaped(server: Server, workspace: Path, agreement_id: str) -> None:
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    data = yaml.safe_load(answers.read_text(encoding="utf-8"))
    data["agreement"]["title"] = "Quality <b>Agreement</b> & Co"
    answers.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    session = Session(server)
    status, fragment = session.get(f"/agreements/{agreement_id}/preview", **{"HX-Request": "true"})
    assert status == 200 and "<html" not in fragment
    assert "Quality &lt;b&gt;Agreement&lt;/b&gt; &amp; Co" in fragment and "<b>Agreement</b>" not in fragment
    model = qa.assemble_agreement(answers, library=workspace / "clause_library")
    text = _text(fragment)
    for section in model.sections:
        for clause in section.clauses:
            assert f"{clause.number} {clause.title}" in text
            for paragraph in clause.paragraphs:
                assert re.sub(r"\s+", " ", paragraph.text) in text
    for row in model.raci:
        assert row.activity in text
    # An incomplete draft gets a sentence instead of a preview.
    del data["sponsor"]
    answers.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    status, fragment = session.get(f"/agreements/{agreement_id}/preview", **{"HX-Request": "true"})
    assert status == 200 and 'id="preview-pending"' in fragment
    # It names the interview pages still to answer, with links, and no file paths (for people, not programmers).
    pending = _text(fragment)
    assert "Still to answer" in pending and str(answers) not in fragment and "line " not in pending
    assert "Legal name" in pending and "[" not in pending, "question labels, without the terminal's choice lists"
    assert re.search(rf'href="/agreements/{agreement_id}/interview/\d+">Page \d+: Sponsor', fragment), fragment


def test_a_valid_page_is_saved_as_it_is_typed_an_invalid_one_is_not(server: Server, workspace: Path,
                                                                      agreement_id: str) -> None:
    session = Session(server)
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    before = answers.read_bytes()
    status, headers, body = session.post(f"/agreements/{agreement_id}/interview/1/check",
                                         {"q:agreement.review_period_months": "twelve"})
    assert status == 200 and b"integer" in body and "hx-trigger" not in headers
    assert answers.read_bytes() == before  # an invalid answer never reaches the file
    status, headers, body = session.post(f"/agreements/{agreement_id}/interview/1/check",
                                         {"q:agreement.review_period_months": "30"})
    assert status == 200 and headers.get("hx-trigger") == "draft-saved" and b"Draft saved at" in body
    assert qa.load_answers(answers).answers.agreement.review_period_months == 30
    assert [p.name for p in answers.parent.iterdir()] == ["answers.yaml"]  # no temporary file left behind
    cli = run_cli("check", str(answers))
    assert cli.returncode == 0, cli.stdout + cli.stderr
    # The id of an existing agreement is not changed by typing over it.
    status, headers, _ = session.post(f"/agreements/{agreement_id}/interview/1/check",
                                      {"q:agreement.id": "SOMETHING-ELSE"})
    assert "hx-trigger" not in headers
    assert qa.load_answers(answers).answers.agreement.id == agreement_id


def test_the_outline_shows_progress_and_a_new_agreement_starts_from_another(server: Server, workspace: Path,
                                                                               agreement_id: str) -> None:
    session = Session(server)
    _, page = session.get(f"/agreements/{agreement_id}/interview/1")
    found = re.search(r"(\d+) of (\d+) questions answered", page)
    assert found and found.group(1) == found.group(2)
    _, page = session.get("/new")
    assert f'<option value="{agreement_id}"' in page and f'<option value="{EXAMPLE}"' in page
    _, page = session.get(f"/new?from={agreement_id}")
    assert 'data-key="agreement.title"' in page
    title = qa.load_answers(workspace / "agreements" / agreement_id / "answers.yaml").answers.agreement.title
    assert f'value="{html.escape(title)}"' in page  # the other agreement's answers are the defaults...
    assert 'name="q:agreement.id" value=""' in page  # ...but the new one needs its own id


def test_questions_carry_the_questionnaires_help_with_citations(server: Server, agreement_id: str) -> None:
    """What the answer decides, the field's own description and the verified sources, as the terminal shows."""
    session = Session(server)
    shown = described_shown = folded = cited = 0
    for number in range(1, 9):
        _, page = session.get(f"/agreements/{agreement_id}/interview/{number}")
        for index, key in re.findall(r'<input id="q(\d+)" name="q:([^"]+)"', page):
            found = question_help(key)
            assert found is not None, key
            shown += 1
            assert f'<p class="decides" id="q{index}-decides">{escape(found.decides)}</p>' in page
            described = field_help(key)
            ids = f"q{index}-error q{index}-decides" + (f" q{index}-help" if described else "")
            assert re.search(rf'id="q{index}" [^>]*aria-describedby="{ids}"', page)
            if described is not None:
                described_shown += 1
                assert f'<p class="help" id="q{index}-help">{escape(described)}</p>' in page
            block = re.search(rf'(<p|<details) class="sources" id="q{index}-sources">(.*?)</(p|details)>', page, re.S)
            if not found.citations:  # a question about the document's form (e.g. its version) cites no law
                assert block is None, key
                continue
            cited += 1
            assert block is not None, key
            said = html.unescape(re.sub(r"<[^>]+>", "", block.group(2))).split()
            if block.group(1) == "<details":
                folded += 1
                items = re.findall(r"<li>(.*?)</li>", block.group(2), re.S)
                assert [html.unescape(re.sub(r"<[^>]+>", "", item)) for item in items] == [
                    c.line for c in found.citations]
            else:
                assert said == ("Sources: " + "; ".join(c.line for c in found.citations)).split()
    assert shown > 20 and described_shown > 0 and folded > 0 and cited > 20


@pytest.mark.parametrize("example", [EXAMPLE, "contract-qc-laboratory"])  # the laboratory has RACI overrides (*)
def test_the_preview_annexes_say_what_the_document_says(server: Server, workspace: Path, agreement_id: str,
                                                        tmp_path: Path, example: str) -> None:
    """The preview's Annexes A to C have the DOCX's rows and legends: in Annex C the citation column, and each
    instrument once under Sources."""
    if example != EXAMPLE:
        agreement_id = qa.add_agreement(qa.open_workspace(workspace), workspace / "examples" / f"{example}.yaml")
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    model = qa.assemble_agreement(answers, library=workspace / "clause_library")
    docx = tmp_path / "agreement.docx"
    render_docx(model, workspace / "templates" / "quality_agreement.docx", docx)  # the template builds use
    blocks = docx_blocks(docx)
    _, fragment = Session(server).get(f"/agreements/{agreement_id}/preview", **{"HX-Request": "true"})
    for letter, following in (("A", "ANNEX B"), ("B", "ANNEX C"), ("C", "SIGNATURES")):
        start = next(i for i, b in enumerate(blocks) if b.text.startswith(f"ANNEX {letter}."))
        end = next(i for i, b in enumerate(blocks) if i > start and b.text.startswith(following))
        in_document = [b.text for b in blocks[start:end] if b.style == "row"]
        legends = [b.text for b in blocks[start:end] if b.style != "row" and b.text.strip()][1:]
        annex = fragment[fragment.index(f'<section class="doc-section" id="annex-{letter.lower()}">'):]
        annex = annex[:annex.index("</section>")]
        rows = ["\t".join(html.unescape(re.sub(r"<[^>]+>", "", cell))
                          for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row))
                for row in re.findall(r"<tr>(.*?)</tr>", annex, re.S)]
        assert rows == in_document, letter
        said = [_text(p) for p in re.findall(r'<p class="legend">(.*?)</p>', annex, re.S)]
        assert said == [legend for legend in legends if legend != "Sources"], letter
        assert len(said) == (2 if letter == "C" else 1)
    assert any(t.citation and t.citation != t.source for t in model.traceability)
    assert example == EXAMPLE or any(r.overridden for r in model.raci)
    annex_c = fragment[fragment.index('id="annex-c"'):]
    assert re.findall(r'<table class="sources-list">.*?</table>', annex_c, re.S)
    keys = re.findall(r"<tr><td>([^<]*)</td><td>", annex_c.split('<table class="sources-list">')[1])
    assert [html.unescape(k) for k in keys] == [s.key for s in model.sources] and keys


def test_a_long_audit_trail_is_shown_a_page_at_a_time(server: Server, workspace: Path) -> None:
    """Security test leftover: the audit page listed every event of the trail in one page (a trail of years holds
    tens of thousands). Pages of AUDIT_PAGE_EVENTS, the newest page first, the filters kept in the page links."""
    from qa_builder.web.app import AUDIT_PAGE_EVENTS

    trail = qa.AuditTrail(workspace)
    before = len(trail.events())
    for number in range(2 * AUDIT_PAGE_EVENTS + 10):
        trail.append("export", details={"format": "csv", "events": number})
    total = before + 2 * AUDIT_PAGE_EVENTS + 10
    session = Session(server)
    status, page = session.get("/audit")
    body = _text(page.split("<tbody>")[1])
    assert status == 200 and f"{total - 2 * AUDIT_PAGE_EVENTS} shown" in page and "Page 3 of 3" in page
    assert "events: 409" in body and "events: 209" not in body  # the newest events
    assert 'page=2" rel="prev">Earlier events' in page and 'rel="next"' not in page
    status, page = session.get("/audit?action=export&page=1")
    assert f"{AUDIT_PAGE_EVENTS} shown, 1–{AUDIT_PAGE_EVENTS} of {2 * AUDIT_PAGE_EVENTS + 10}" in page
    assert "events: 0;" in _text(page.split("<tbody>")[1])
    assert 'href="/audit?action=export&amp;page=2" rel="next"' in page
    for odd in ("999999999999", "-1", "x", "%EF%BC%91"):  # out of range or not a number: the nearest page
        status, page = session.get(f"/audit?page={odd}")
        assert status == 200 and " shown" in page, odd


def test_audit_trail_filters_and_exports_without_changing_events(server: Server, workspace: Path,
                                                                  agreement_id: str) -> None:
    session = Session(server)
    status, page = session.get("/audit?action=add")
    assert status == 200 and "The chain is intact" in page
    assert "1 shown" in page and agreement_id in _text(page.split("<tbody>")[1])
    status, page = session.get("/audit?action=sign")
    assert "0 shown" in page
    status, page = session.get("/audit?since=yesterday")
    assert status == 422 and "From date: &#39;yesterday&#39; is not a date" in page
    status, _, _ = session.post("/audit/export", {}, csrf=False)
    assert status == 403
    trail = qa.AuditTrail(workspace)
    count = len(trail.events())
    status, headers, body = session.post("/audit/export", {})
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert "attachment" in headers["content-disposition"]
    lines = body.decode("utf-8").splitlines()
    assert lines[0].startswith("seq,time,actor") and len(lines) == count + 1
    assert [e.action for e in trail.events()][count:] == ["export"]  # the export is itself recorded
    assert qa.verify_trail(workspace).intact
    assert not list(workspace.rglob("audit-trail*.csv"))  # nothing left in the workspace


def test_token_signing_needs_a_module_chosen_on_the_command_line(server: Server, workspace: Path) -> None:
    session = Session(server)
    status, _, _ = session.post("/regenerate", {"only": "NOPE"})
    assert status == 404
    result = subprocess.run([sys.executable, "-m", "qa_builder", "serve", str(workspace), "--port", "0",
                             "--no-browser", "--pkcs11-module", "/nonexistent/libtoken.so"], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: --pkcs11-module /nonexistent/libtoken.so: no such file"]


@pytest.mark.parametrize(("condition", "included", "expected"), [
    ("facts.is_lab", False, "Left out: it applies only when the contract acceptor is a contract laboratory, which "
                            "is not so for these answers."),
    ("not facts.is_lab", True, "Included because the contract acceptor is not a contract laboratory."),
    ("facts.has_eu and not facts.is_lab", True,
     "Included because a product is for the EU market and the contract acceptor is not a contract laboratory."),
    ("not (facts.has_eu or facts.has_us)", True,
     "Included because no product is for the EU market and no product is for the US market."),
    ("'stability_testing' in services", False,
     "Left out: it applies only when the services include stability testing, which is not so for these answers."),
    ("release_model == 'qp_certification'", True,
     "Included because the answer to “Release model” is qp certification."),
    ("change_control.filing_assessment_owner not in ('sponsor', 'contract_acceptor')", False,
     "Left out: it applies only when the answer to “Who assesses” is not sponsor or contract acceptor, which is "
     "not so for these answers."),
    ("subcontracting.allowed", True, "Included because the answer to “May the contract acceptor subcontract?” is "
                                     "yes (or set)."),
    ("term.exit_handover", False, "Left out: it applies only when term › exit handover is yes (or set), which is "
                                  "not so for these answers."),
    ("true", True, "Included: it applies to every agreement."),
])
def test_conditions_read_in_plain_words(condition: str, included: bool, expected: str) -> None:
    prompts = {"release_model": "Release model [cmo_release_with_sponsor_secondary, sponsor_release]",
               "change_control.filing_assessment_owner": "Who assesses [sponsor, contract_acceptor]",
               "subcontracting.allowed": "May the contract acceptor subcontract? (yes/no)"}
    reason = (f"included: condition '{condition}' holds" if included else
              f"left out: condition '{condition}' is false for these answers")
    decision = SelectionDecision(clause_id="c", version=1, included=included, position=None, reason=reason)
    said = explain(decision, condition, prompts)
    assert said.sentence == expected
    assert said.included is included
    assert set(said.answers) <= set(prompts)


def test_a_condition_the_reader_cannot_say_is_shown_as_written() -> None:
    decision = SelectionDecision(clause_id="c", version=1, included=True, position=None,
                                 reason="included: condition 'facts.markets | length > 1' holds")
    said = explain(decision, "facts.markets | length > 1", {})
    assert said.sentence == "Included because the condition facts.markets | length > 1 holds."


def test_an_edit_made_outside_the_browser_shows_at_once(server: Server, workspace: Path, agreement_id: str) -> None:
    """The review is computed once per version of the answers file: an editor's change (even one that keeps the
    file's size) is seen on the next page, never a stale review."""
    session = Session(server)
    _, page = session.get(f"/agreements/{agreement_id}/review")
    assert "QA-INSP-001" not in page
    preview = session.get(f"/agreements/{agreement_id}/preview", **{"HX-Request": "true"})[1]
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    text = answers.read_text(encoding="utf-8")
    edited = re.sub(r"notify_within_hours: 24\b", "notify_within_hours: 72", text)
    assert edited != text and len(edited) == len(text)
    with answers.open("r+", encoding="utf-8") as file:  # in place, as some editors save
        file.write(edited)
    _, page = session.get(f"/agreements/{agreement_id}/review")
    assert "QA-INSP-001" in page
    after = session.get(f"/agreements/{agreement_id}/preview", **{"HX-Request": "true"})[1]
    assert after.count("72 hours") > preview.count("72 hours")


def _multipart(fields: dict[str, str], files: list[Path]) -> tuple[str, bytes]:
    boundary = "qa-builder-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    for path in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
    return f"multipart/form-data; boundary={boundary}", b"".join(parts) + f"--{boundary}--\r\n".encode()


def test_a_manifest_uploaded_with_its_files_verifies_as_from_the_cli(server: Server, signed_build: Path,
                                                                      test_pki: Any, tmp_path: Path) -> None:
    build = tmp_path / "received"
    shutil.copytree(signed_build, build)
    qa.write_signed_manifest(build / "QA-MIN-1_v1.build.json",
                             qa.load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase()))
    manifest = build / "QA-MIN-1_v1.manifest.json"
    session = Session(server)

    def verified(files: list[Path]) -> tuple[int, str]:
        content_type, body = _multipart({"csrf_token": session.csrf}, files)
        status, _, page = request("POST", server.port, "/verify", body=body, headers={
            "Cookie": session.cookie, "Origin": server.base, "Content-Type": content_type})
        return status, page.decode("utf-8")

    def cli(path: Path) -> str:
        return run_cli("verify", str(path)).stdout

    status, page = verified(sorted(p for p in build.iterdir() if p.is_file()))
    assert status == 200
    verdict = re.search(r'<strong id="verdict">([^<]+)</strong>', page)
    said = cli(manifest)
    assert verdict and verdict.group(1) in ("INDETERMINATE", "TOTAL-PASSED", "TOTAL-FAILED")
    assert "QA-MIN-1_v1.manifest.json" in _text(page)
    first_line = said.splitlines()[0].replace(str(build) + "/", "")
    assert first_line in _text(page), (first_line, _text(page)[:2000])
    assert str(build) not in page and "qa-builder-verify-" not in page  # no temporary paths in the page
    # Without the DOCX the manifest lists, the report says so, as the CLI does on a folder without it.
    (build / "QA-MIN-1_v1.docx").unlink()
    status, page = verified(sorted(p for p in build.iterdir() if p.is_file()))
    without = cli(manifest).splitlines()[0].replace(str(build) + "/", "")
    assert without != first_line and without in _text(page)
    # A name that could leave the temporary folder, or a file of another kind, is refused in one sentence.
    odd = tmp_path / "notes.txt"
    odd.write_text("hello", encoding="utf-8")
    status, page = verified([odd])
    assert status == 422 and "notes.txt: only PDF, DOCX, JSON and .p7s files" in html.unescape(page)


CORPUS = Path("/work/shared/corpus/signed-pdfs")


@pytest.fixture()
def built(workspace: Path, agreement_id: str) -> Path:
    """The agreement's v1 built in the workspace: its folder."""
    _, failed = qa.build_workspace(qa.open_workspace(workspace), ids=[agreement_id])
    assert not failed, failed
    return workspace / "agreements" / agreement_id / "v1"


def test_an_unreadable_signed_pdf_is_shown_in_its_row_and_the_pages_still_work(
        server: Server, workspace: Path, agreement_id: str, built: Path, tmp_path: Path) -> None:
    """A truncated, a malformed-encryption (DSS spoofing corpus) and an encrypted file where a version's signed PDF
    belongs made the dashboard, the agreement and the sign page answer 422 or 500 (attack8): each is now
    "unreadable" with the reason in its row, and every other part of the pages works."""
    session = Session(server)
    pdf = built / f"{agreement_id}_v1.pdf"
    signed = built / f"{agreement_id}_v1.signed.pdf"
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(pdf.read_bytes()[: pdf.stat().st_size // 2])
    for bad, reason in ((truncated, "is not a readable PDF"),
                        (CORPUS / "dss" / "pdf-spoofing-attack.pdf", "Encryption settings must be an indirect"),
                        (CORPUS / "dss" / "encrypted.pdf", "is encrypted")):
        shutil.copyfile(bad, signed)
        status, page = session.get("/")
        assert status == 200, page[:300]
        text = _text(page)
        assert "unreadable" in text and reason in text and f"agreements/{agreement_id}/v1/" in text
        assert f"{workspace}/agreements" not in text  # the path is said within the workspace
        assert "Start a new agreement" in text  # the rest of the dashboard is there
        status, page = session.get(f"/agreements/{agreement_id}")
        assert status == 200 and reason in _text(page) and "Review findings" in _text(page)
        status, page = session.get(f"/agreements/{agreement_id}/sign")
        assert status == 200 and reason in _text(page) and 'id="sign-button"' not in page
        assert "Every signature field is signed" not in page


def test_a_version_folders_pdfs_are_read_once_per_change(server: Server, workspace: Path, agreement_id: str,
                                                        built: Path) -> None:
    """What the pages read from a version's PDF is remembered by path, time, size and inode: a 10 MB PDF was parsed
    again on every load (8 s a dashboard, attack8). Bytes changed in place with time and size kept are not seen;
    a new time is."""
    session = Session(server)
    signed = built / f"{agreement_id}_v1.signed.pdf"
    shutil.copyfile(built / f"{agreement_id}_v1.pdf", signed)
    assert "partly signed" in _text(session.get("/")[1])
    before = signed.stat()
    with signed.open("r+b") as file:  # the same inode, size and time: the remembered fields are used
        file.write(b"\0" * before.st_size)
    os.utime(signed, ns=(before.st_atime_ns, before.st_mtime_ns))
    text = _text(session.get("/")[1])
    assert "partly signed" in text and "unreadable" not in text
    os.utime(signed, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    text = _text(session.get("/")[1])
    assert "unreadable" in text and "partly signed" not in text


def _page_asking(draft_path: Path, key: str) -> int:
    """The interview page (from 1) that asks question `key` of the draft."""
    result = replay(yaml.safe_load(draft_path.read_text(encoding="utf-8")))
    return next(n for n, s in enumerate(result.sections, start=1) for q in s.questions if q.key == key)


@pytest.mark.parametrize("key", ["contract_acceptor.sites", "products", "subcontracting.approved_subcontractors"])
def test_a_wrong_count_is_an_error_beside_its_question(server: Server, workspace: Path, agreement_id: str,
                                                       key: str) -> None:
    """"How many sites" = 0, -1, 101, abc or nothing answered HTTP 500 (int() of the unanswered marker, attack8),
    on the page and as typed: now the question says what it takes and nothing is saved."""
    session = Session(server)
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    data = yaml.safe_load(answers.read_text(encoding="utf-8"))
    if key.startswith("subcontracting."):  # the example allows none: allow subcontracting, so the count is asked
        data["subcontracting"] = {**data["subcontracting"], "allowed": True}
        answers.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    before = answers.read_bytes()
    number = _page_asking(answers, key)
    for value in ("0", "-1", "100", "101", "100000", "abc", ""):
        status, _, body = session.post(f"/agreements/{agreement_id}/interview/{number}", {f"q:{key}": value})
        page = _text(body.decode("utf-8"))
        assert status == 422 and "give a whole number from" in page, (value, page[:300])
        status, headers, body = session.post(f"/agreements/{agreement_id}/interview/{number}/check",
                                             {f"q:{key}": value})
        assert status == 200 and b"give a whole number from" in body and "hx-trigger" not in headers, value
        assert answers.read_bytes() == before, value


@pytest.mark.parametrize(("typed", "said"), [
    ("Helix \x1b[31mPharma", "contains the control character U+001B"),
    ("Helix\x07 Pharma", "contains U+0007 (an alert character)"),
    ("Helix \u202eamrahP", "contains the bidirectional control U+202E"),
    ("Helix \u2066Pharma\u2069", "contains the bidirectional control U+2066"),
    ("N" * 300, "is 300 characters long; at most 200 fit here"),
])
def test_an_answer_the_answers_model_refuses_is_an_error_and_never_saved(server: Server, workspace: Path,
                                                                        agreement_id: str, typed: str,
                                                                        said: str) -> None:
    """Controls, bidirectional controls and a name over its 200 characters were autosaved by the interview although
    `qa-builder check` refuses them (attack8): the page now applies the same text rules and limits, as typed and
    when the page is sent."""
    session = Session(server)
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    before = answers.read_bytes()
    number = _page_asking(answers, "sponsor.name")
    status, headers, body = session.post(f"/agreements/{agreement_id}/interview/{number}/check",
                                         {"q:sponsor.name": typed})
    assert status == 200 and said in html.unescape(body.decode("utf-8")) and "hx-trigger" not in headers
    status, _, body = session.post(f"/agreements/{agreement_id}/interview/{number}", {"q:sponsor.name": typed})
    assert status == 422 and said in html.unescape(body.decode("utf-8"))
    assert answers.read_bytes() == before


def test_a_form_larger_than_an_answers_file_is_refused_unread(server: Server, workspace: Path,
                                                              agreement_id: str) -> None:
    """A 3 MB (and a 45 MB) sponsor name was read and written to answers.yaml, after which the agreement could not
    be opened (attack8): a form without files over 1 MB is refused from its Content-Length, nothing saved."""
    session = Session(server)
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    before = answers.read_bytes()
    number = _page_asking(answers, "sponsor.name")
    for path in (f"/agreements/{agreement_id}/interview/{number}",
                 f"/agreements/{agreement_id}/interview/{number}/check", "/new"):
        status, _, body = session.post(path, {"q:sponsor.name": "N" * 3_000_000})
        assert status == 413 and b"this form is limited to 1 MB" in body, (path, body[:200])
    assert answers.read_bytes() == before
    assert session.get(f"/agreements/{agreement_id}/interview/{number}")[0] == 200


def test_an_agreement_whose_answers_cannot_be_read_can_be_answered_again(server: Server, workspace: Path,
                                                                         agreement_id: str) -> None:
    """An answers file over the 1 MiB bound (as the interview once saved) made every page of the agreement answer
    422, a corrected page included: the agreement was stuck. Its pages now open and say why; a saved page
    starts the answers afresh and keeps the unreadable file beside them."""
    session = Session(server)
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    original = yaml.safe_load(answers.read_text(encoding="utf-8"))
    first_page = replay(original).sections[0]
    broken = answers.read_text(encoding="utf-8").replace("name: ", f"name: {'N' * 1_200_000}", 1).encode()
    answers.write_bytes(broken)
    for path in ("/", f"/agreements/{agreement_id}", f"/agreements/{agreement_id}/interview/1",
                 f"/agreements/{agreement_id}/interview/3", f"/agreements/{agreement_id}/review",
                 f"/agreements/{agreement_id}/preview"):
        status, page = session.get(path)
        assert status == 200, (path, page[:300])
        if "/interview/" in path or path.endswith(agreement_id) or path.endswith("preview"):
            assert "larger than 1 MiB" in _text(page), path
    status, headers, _ = session.post(f"/agreements/{agreement_id}/interview/1",
                                      {f"q:{q.key}": q.value for q in first_page.questions})
    assert status == 303, headers
    kept = [p for p in answers.parent.iterdir() if p.name.startswith("answers.unreadable-")]
    assert len(kept) == 1 and kept[0].read_bytes() == broken  # nothing the person wrote is lost
    saved = yaml.safe_load(answers.read_text(encoding="utf-8"))
    assert saved["agreement"]["title"] == original["agreement"]["title"]
    assert saved["agreement"]["id"] == agreement_id
    status, page = session.get(f"/agreements/{agreement_id}/interview/1")
    assert status == 200 and "cannot be read" not in page


@pytest.mark.parametrize("sent", ["/", "./", "a/", "/tmp/", "a/./"])
def test_an_upload_whose_name_is_a_folder_is_refused_in_one_sentence(server: Server, sent: str) -> None:
    """An upload named "/" or "./" to /verify was written to the temporary folder itself: HTTP 500 IsADirectoryError
    (attack8). Such a name leaves no file name: refused, naming what was sent."""
    session = Session(server)
    boundary = "qa-builder-test-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{session.csrf}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{sent}"\r\n'
            "Content-Type: application/pdf\r\n\r\n%PDF-1.7\r\n"
            f"--{boundary}--\r\n").encode()
    status, _, page = request("POST", server.port, "/verify", body=body, headers={
        "Cookie": session.cookie, "Origin": server.base, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    text = _text(page.decode("utf-8"))
    assert status == 422 and f"Files: the name '{sent}': only PDF, DOCX, JSON and .p7s files" in text, text[:500]


def test_the_regeneration_summary_keeps_each_row_one_table_row(server: Server, workspace: Path, agreement_id: str,
                                                                built: Path) -> None:
    """A library version "| x | y |" with a line break and "# Heading <script>" split the summary's table row and
    made a Markdown heading of it (attack8): each cell is now one line, its pipes escaped, its HTML written as text.
    Regenerated from the dashboard, as a person does."""
    library = workspace / "clause_library" / "library.yaml"
    text = library.read_text(encoding="utf-8")
    library.write_text(re.sub(r'(?m)^version: .*$', 'version: "2026.12 | x | y |\\\\n# Heading <script>x</script>"',
                              text, count=1), encoding="utf-8")
    assert "\\n# Heading" in library.read_text(encoding="utf-8")
    session = Session(server)
    status, _, _ = session.post("/regenerate", {"only": agreement_id})
    assert status == 303
    deadline = time.monotonic() + 120
    while "new version(s) built" not in _text(session.get("/regenerate/status")[1]):
        assert time.monotonic() < deadline, _text(session.get("/regenerate/status")[1])
        time.sleep(0.5)
    summaries = list((workspace / "regenerations").glob("*.md"))
    assert len(summaries) == 1
    lines = summaries[0].read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines if line.startswith(f"| {agreement_id} ")]
    assert len(rows) == 1 and rows[0].endswith(" |") and "2026.12 \\| x \\| y \\|" in rows[0]
    assert "&lt;script&gt;" in rows[0] and "<script>" not in "\n".join(lines)
    assert [line for line in lines if line.startswith("#")] == [lines[0]]  # the title is the only heading
    assert len([line for line in lines if line.startswith("|")]) == 3  # header, rule, the one row


def test_answers_of_the_wrong_shape_open_in_the_interview_for_correction(server: Server, workspace: Path,
                                                                          agreement_id: str) -> None:
    """A hand-edited answers file whose lists or mappings hold the wrong kind of value (a market that is a number,
    a list where the registration numbers are a mapping) made its interview pages fail (TypeError, an HTTP 500):
    every page now opens, and the page asking that question says what is wrong."""
    session = Session(server)
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    data = yaml.safe_load(answers.read_text(encoding="utf-8"))
    data["products"][0]["markets"] = 5
    data["contract_acceptor"]["sites"][0]["activities"] = [["api_manufacture"]]
    data["contract_acceptor"]["sites"][0]["registration_numbers"] = ["FEI 1234"]
    answers.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    pages = len(replay(data).sections)
    said = []
    for number in range(1, pages + 1):
        status, page = session.get(f"/agreements/{agreement_id}/interview/{number}")
        assert status == 200, (number, page[:300])
        said.append(_text(page))
    assert any("unknown: ['api_manufacture']" in text for text in said)
    assert any("Markets" in text and "unknown: 5" in text for text in said)
    for path in (f"/agreements/{agreement_id}", f"/agreements/{agreement_id}/review",
                 f"/agreements/{agreement_id}/preview", "/"):
        assert session.get(path)[0] == 200, path


def test_saving_one_page_keeps_a_wrong_answer_of_another_page(server: Server, workspace: Path,
                                                               agreement_id: str) -> None:
    """A saved answer the interview refuses (a hand-written 300-character name, a bidirectional control) is shown
    as an error on its own page; saving another page writes it back as it was, not blank: nothing is lost."""
    session = Session(server)
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    data = yaml.safe_load(answers.read_text(encoding="utf-8"))
    long_name, odd_address = "N" * 300, "Main Street \u202e1"
    data["sponsor"]["name"], data["sponsor"]["address"] = long_name, odd_address
    answers.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    number = _page_asking(answers, "sponsor.name")
    status, page = session.get(f"/agreements/{agreement_id}/interview/{number}")
    assert status == 200 and "is 300 characters long; at most 200 fit here" in _text(page)
    assert "contains the bidirectional control U+202E" in _text(page)
    status, headers, _ = session.post(f"/agreements/{agreement_id}/interview/1/check",
                                      {"q:agreement.review_period_months": "30"})
    assert headers.get("hx-trigger") == "draft-saved"
    saved = yaml.safe_load(answers.read_text(encoding="utf-8"))
    assert saved["agreement"]["review_period_months"] == 30
    assert saved["sponsor"]["name"] == long_name and saved["sponsor"]["address"] == odd_address


def test_an_unanswered_contact_is_no_default_for_the_signatory() -> None:
    """Attack round 9: a new agreement's draft, saved after page 1, held signatories named "[]" with the title "[]":
    the signatory's default was taken from the still unanswered quality contact (the replay's empty marker) and
    offered, then saved, as the text "[]". An answered contact is still the default."""
    from qa_builder.web.interview import _plain, replay

    empty = _plain(replay({}).data)
    assert [(s["name"], s["title"]) for s in empty["signatories"]] == [(None, None), (None, None)]
    draft = {"sponsor": {"quality_contact": {"name": "Dr. Ilse Verhoeven", "title": "Head of Quality"}}}
    answered = _plain(replay(draft).data)
    assert (answered["signatories"][0]["name"], answered["signatories"][0]["title"]) == \
        ("Dr. Ilse Verhoeven", "Head of Quality")


def test_a_form_that_is_not_utf8_is_refused_not_saved_changed(server: Server, workspace: Path,
                                                             agreement_id: str) -> None:
    """Attack round 9: %ff%fe%80 in an answer was saved as U+FFFD three times ("Main\\ufffd\\ufffd\\ufffdSt"): the
    form parser replaces what is not UTF-8. Such a form is refused (400) and nothing is saved."""
    session = Session(server)
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    before = answers.read_bytes()
    number = _page_asking(answers, "sponsor.address")
    body = f"q%3Asponsor.address=Main%ff%fe%80St&csrf_token={session.csrf}".encode()
    status, _, page = request("POST", server.port, f"/agreements/{agreement_id}/interview/{number}", body=body,
                              headers={"Cookie": session.cookie, "Origin": server.base,
                                       "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and b"are not UTF-8 text" in page, (status, page[:300])
    assert answers.read_bytes() == before
    assert session.post(f"/agreements/{agreement_id}/interview/{number}", {"q:sponsor.address": "Main St"})[0] == 303


def test_an_agreement_id_sent_with_another_page_is_refused_on_the_page(server: Server, workspace: Path,
                                                                      agreement_id: str) -> None:
    """Attack round 9: q:agreement.id=HIJACK sent with the sponsor page was refused, but under the label of the
    page's first question ("Legal name: the id of an agreement cannot be changed"). The refusal now stands on the
    question that asks for the id, or on the page when it does not ask for it; nothing is saved either way."""
    session = Session(server)
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    before = answers.read_bytes()
    own, other = _page_asking(answers, "agreement.id"), _page_asking(answers, "sponsor.name")
    assert own != other
    status, _, body = session.post(f"/agreements/{agreement_id}/interview/{other}",
                                   {"q:sponsor.name": "Acme", "q:agreement.id": "HIJACK"})
    page = body.decode()
    assert status == 422 and 'id="page-error"' in page and "the id of an agreement cannot be changed" in page
    assert page.count("cannot be changed") == 1
    status, _, body = session.post(f"/agreements/{agreement_id}/interview/{own}", {"q:agreement.id": "HIJACK"})
    assert status == 422 and b"cannot be changed" in body and b'id="page-error"' not in body
    assert answers.read_bytes() == before

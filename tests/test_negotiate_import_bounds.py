"""negotiate import keeps a bounded report the tool can always read back, and never reuses an unreadable one."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa_builder.cli import main
from qa_builder.errors import InputError
from qa_builder.negotiation import decide
from qa_builder.negotiation.decisions import MAX_IMPORT_BYTES, latest_import, read_import
from qa_builder.negotiation.importer import (
    MAX_RECORDED,
    MAX_RECORDED_PER_CLAUSE,
    READER,
    ClauseFinding,
    ImportReport,
)
from qa_builder.negotiation.returned import Change, Comment
from qa_builder.workspace.layout import Workspace, init_workspace

AGREEMENT = "QA-BIG-1"


def _hostile(count: int = 15_000, proposed: list[str] | None = None) -> ImportReport:
    """What a returned DOCX with `count` long comments (and as many tracked changes) on one clause proposes."""
    comments = [Comment(str(n), "A" * 200, "2026-01-01T00:00:00Z", "t" * 1000, 3, None) for n in range(count)]
    changes = [Change("insertion", "B" * 200, "2026-01-01T00:00:00Z", "x" * 300, 3) for _ in range(count)]
    finding = ClauseFinding("scope", "1.1", "Scope", "non_standard", "text that is not in the clause library",
                            proposed or ["1.1\tScope", "new text"], changes=changes, comments=comments)
    outside = [Comment("o", "C", "", "outside", None, None)] * 3000
    return ImportReport(AGREEMENT, 1, "returned.docx", {"content_control": 3}, [finding], [], outside, [])


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    ws = init_workspace(tmp_path / "ws")
    ws.agreement_dir(AGREEMENT).mkdir(parents=True)
    monkeypatch.setattr(decide, "import_returned", lambda *_: _hostile())
    return ws


def _returned(tmp_path: Path, content: bytes = b"docx") -> Path:
    path = tmp_path / "returned.docx"
    path.write_bytes(content)
    return path


def test_a_report_of_15000_comments_is_bounded_says_what_it_left_out_and_reads_back(workspace: Workspace,
                                                                                 tmp_path: Path) -> None:
    report, target, again, unreadable = decide.record_import(workspace, AGREEMENT, _returned(tmp_path))
    assert not again and not unreadable and target.name == "v1-import-1.json"
    assert target.stat().st_size <= MAX_IMPORT_BYTES
    finding = report.clauses[0]
    assert len(finding.comments) == len(finding.changes) == MAX_RECORDED_PER_CLAUSE
    assert report.left_out_comments == 15_000 - MAX_RECORDED_PER_CLAUSE + 3000 - MAX_RECORDED_PER_CLAUSE
    assert report.left_out_changes == 15_000 - MAX_RECORDED_PER_CLAUSE
    assert len(report.outside_comments) == MAX_RECORDED_PER_CLAUSE <= MAX_RECORDED
    assert "left out of the report" in (report.left_out() or "")
    again_read = read_import(workspace, AGREEMENT, target.name)
    assert again_read.left_out_comments == report.left_out_comments
    assert json.loads(target.read_text(encoding="utf-8"))["left_out_changes"] == report.left_out_changes


def test_the_command_says_what_the_report_left_out(workspace: Workspace, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["negotiate", "import", str(workspace.root), AGREEMENT,
                                       str(_returned(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "14800 tracked change(s) and 17600 comment(s) left out of the report" in result.output


def test_a_report_too_large_to_read_back_is_never_written(workspace: Workspace, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decide, "import_returned", lambda *_: _hostile(10, ["p" * 1000] * 20_000))
    monkeypatch.setattr(decide, "MAX_IMPORT_BYTES", 1_000_000)
    with pytest.raises(InputError, match="over the 1000000 bytes a report may hold"):
        decide.record_import(workspace, AGREEMENT, _returned(tmp_path))
    assert not list((workspace.agreement_dir(AGREEMENT) / "negotiation").glob("*.json"))


def test_an_unreadable_earlier_report_is_not_reused_and_a_fresh_one_is_written(workspace: Workspace,
                                                                              tmp_path: Path) -> None:
    returned = _returned(tmp_path)
    first, target, _, _ = decide.record_import(workspace, AGREEMENT, returned)
    target.write_bytes(b"{" + b" " * (MAX_IMPORT_BYTES + 1))  # as the 24 MB report of an unbounded import was
    report, fresh, again, unreadable = decide.record_import(workspace, AGREEMENT, returned)
    assert not again and unreadable == ["v1-import-1.json"] and fresh.name == "v1-import-2.json"
    assert report.returned_sha256 == first.returned_sha256
    latest = latest_import(workspace, AGREEMENT)
    assert latest is not None and latest[0] == "v1-import-2.json"
    result = CliRunner().invoke(main, ["negotiate", "import", str(workspace.root), AGREEMENT, str(returned)])
    assert result.exit_code == 0, result.output
    assert "already imported as v1-import-2.json" in result.output
    assert "v1-import-1.json cannot be read; it is not reused" in result.output


def test_a_report_made_by_an_older_reader_of_the_same_file_is_not_reused(workspace: Workspace, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Session 7 attack: a file whose page header edits the reader of that day missed was "already imported" with
    0 changes after the fix too: the earlier report stood."""
    returned = _returned(tmp_path)
    _, old, _, _ = decide.record_import(workspace, AGREEMENT, returned)
    kept = json.loads(old.read_text(encoding="utf-8"))
    del kept["reader"]  # as reports were before: made by the reader of the body only
    old.write_text(json.dumps(kept), encoding="utf-8")
    assert read_import(workspace, AGREEMENT, old.name).reader == 1
    monkeypatch.setattr(decide, "import_returned", lambda *_: replace(_hostile(), reader=READER))
    report, target, again, _ = decide.record_import(workspace, AGREEMENT, returned)
    assert not again and target.name == "v1-import-2.json" and report.reader == READER == 2
    _, same, again, _ = decide.record_import(workspace, AGREEMENT, returned)
    assert again and same == target


_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


@pytest.mark.parametrize(("body", "comments", "expected"), [
    ('<w:ins w:id="1"><w:r><w:t>x</w:t></w:r></w:ins>' * 100_001, "", "holds more than 100,000 tracked changes"),
    ("", '<w:comment w:id="1"/>' * 20_001, "holds more than 20,000 comments"),
])
def test_a_returned_file_of_more_changes_or_comments_than_an_agreement_holds_is_refused_at_once(
        tmp_path: Path, body: str, comments: str, expected: str) -> None:
    """Session 6 attack: a 650 KB returned DOCX of 1,200,000 tracked insertions (or 2,000,000 empty comments) took
    53 s (58 s) and 1.2 GB (1.3 GB) to import, only for the report to keep 2,000 of them."""
    import time
    import zipfile

    from qa_builder.negotiation.returned import ReturnedFileError, read_returned

    path = tmp_path / "returned.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("word/document.xml", f'<w:document xmlns:w="{_W_NS}"><w:body><w:p>{body}</w:p></w:body>'
                                              "</w:document>")
        if comments:
            package.writestr("word/comments.xml", f'<w:comments xmlns:w="{_W_NS}">{comments}</w:comments>')
    started = time.monotonic()
    with pytest.raises(ReturnedFileError, match=expected):
        read_returned(path)
    assert time.monotonic() - started < 5


def _deep_docx(path: Path, part: str, count: int) -> Path:
    """A returned DOCX whose body or page header holds `count` empty text elements 240 elements deep."""
    import zipfile

    nested = "<w:sdt><w:sdtContent>" * 120 + "<w:r>" + "<w:t/>" * count + "</w:r>" + "</w:sdtContent></w:sdt>" * 120
    body = f"<w:p>{nested}</w:p>" if part == "body" else "<w:p/>"
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("word/document.xml", f'<w:document xmlns:w="{_W_NS}" xmlns:r="{rels}"><w:body>{body}'
                                              '<w:sectPr><w:headerReference w:type="default" r:id="rId1"/></w:sectPr>'
                                              "</w:body></w:document>")
        package.writestr("word/_rels/document.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/'
                         f'package/2006/relationships"><Relationship Id="rId1" Type="{rels}/header" '
                         'Target="header1.xml"/></Relationships>')
        package.writestr("word/header1.xml", f'<w:hdr xmlns:w="{_W_NS}">'
                                             f'{"<w:p>" + nested + "</w:p>" if part == "header" else "<w:p/>"}</w:hdr>')
    return path


@pytest.mark.parametrize("part", ["body", "header"])
def test_deeply_nested_text_is_read_in_one_pass_and_a_part_of_too_many_elements_refused(tmp_path: Path,
                                                                                       part: str) -> None:
    """Session 7: each text element's ancestors were looked up, so 100,000 empty text elements 240 deep took 96 s
    to read (a 16 MiB part would have taken the best part of an hour)."""
    import time

    from qa_builder.negotiation.returned import MAX_ELEMENTS, ReturnedFileError, read_returned

    started = time.monotonic()
    document = read_returned(_deep_docx(tmp_path / "deep.docx", part, 60_000))
    assert time.monotonic() - started < 8  # about 0.3 s; 60 s before
    assert [p.rejected for p in document.paragraphs] == [""] and document.outside == {"the page header": [""]}
    started = time.monotonic()
    with pytest.raises(ReturnedFileError, match=f"holds more than {MAX_ELEMENTS:,} XML elements"):
        read_returned(_deep_docx(tmp_path / "more.docx", part, MAX_ELEMENTS))
    assert time.monotonic() - started < 15

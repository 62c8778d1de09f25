"""A hostile build record (edited by hand or by an attacker) is one ManifestError line, never an internal error."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from qa_builder.errors import ManifestError
from qa_builder.signing.manifest import load_build_record


def _record() -> dict[str, Any]:
    return {
        "tool": "qa-builder", "tool_version": "0.1.0", "agreement_id": "QA-1", "agreement_version": 1,
        "answers_file": "answers.yaml", "answers_sha256": "0" * 64, "library_name": "lib", "library_version": "1",
        "clauses": [{"id": "scope", "version": 1, "position": None, "number": "1.1"}],
        "template_file": "t.docx", "template_sha256": "0" * 64, "model_digest": "0" * 64,
        "artefacts": [{"file": "QA-1_v1.pdf", "role": "pdf", "media_type": "application/pdf",
                       "sha256": "0" * 64, "size": 10}],
        "signature_fields": [], "review_findings": [], "findings_accepted": False,
        "uncovered_requirements": [], "created_at": "2026-01-01T00:00:00Z", "audit_head": {"seq": 3, "hash": "0" * 64},
    }


def test_a_valid_record_loads(tmp_path: Path) -> None:
    path = tmp_path / "QA-1_v1.build.json"
    path.write_text(json.dumps(_record()), encoding="utf-8")
    assert load_build_record(path).agreement_version == 1


@pytest.mark.parametrize(("text", "expected"), [
    # 100 000 nested brackets overflowed json.loads' recursion: "internal error: RecursionError"
    ("[" * 100_000 + "]" * 100_000, "is not a readable build record"),
    # 5 000 digits: "internal error: ValueError: Exceeds the limit (4300 digits)"
    (json.dumps(_record()).replace('"agreement_version": 1', '"agreement_version": ' + "9" * 5000),
     "is not a readable build record"),
    # 4 000 digits were accepted, then the RFC 8785 canonicaliser failed: "internal error: IntegerDomainError"
    (json.dumps({**_record(), "agreement_version": 10**3999}), "agreement_version: Input should be less than"),
    (json.dumps({**_record(), "agreement_version": -1}), "agreement_version: Input should be greater than"),
    (json.dumps({**_record(), "artefacts": [{**_record()["artefacts"][0], "size": 10**30}]}),
     "artefacts.0.size: Input should be less than"),
    (json.dumps({**_record(), "audit_head": {"seq": 2**60, "hash": "0"}}), "audit_head.seq: Input should be less"),
    ("\ufeff" + json.dumps(_record()), "is not a readable build record"),
])
def test_hostile_records_are_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "QA-1_v1.build.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match=expected) as caught:
        load_build_record(path)
    assert "\n" not in str(caught.value)


def test_a_record_that_is_a_fifo_or_a_device_is_refused_without_reading_it(tmp_path: Path) -> None:
    # Before: a FIFO hung `manifest`, and a link to /dev/zero grew to 23 GB until the OOM killer came.
    fifo = tmp_path / "fifo.build.json"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.build.json"
    zero.symlink_to("/dev/zero")
    for path in (fifo, zero):
        with pytest.raises(ManifestError, match="is not a readable build record \\(not a regular file\\)"):
            load_build_record(path)

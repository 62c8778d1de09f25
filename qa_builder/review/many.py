"""Review many answers files: findings per file, for `check` and for `build`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from qa_builder.answers.load import load_answers
from qa_builder.errors import QABuilderError
from qa_builder.models.findings import FileFindings
from qa_builder.models.library import ClauseLibrary
from qa_builder.review.checks import review_answers


def _utf8(text: str) -> str:
    """`text` with a file name's bytes that are not UTF-8 (surrogate escapes) shown as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _file_text(path: Path) -> str:
    return _utf8(str(path))


def review_files(paths: list[Path], library: ClauseLibrary, *, today: dt.date | None = None) -> list[FileFindings]:
    """Check every answers file; an unreadable file gets an `error` instead of findings."""
    results: list[FileFindings] = []
    for path in paths:
        try:
            answers_file = load_answers(path)
            findings = review_answers(answers_file, library, today=today)
        except QABuilderError as exc:
            results.append(FileFindings(file=_file_text(path), error=_utf8(str(exc))))
            continue
        results.append(FileFindings(
            file=_file_text(path), findings=findings,
            errors=sum(f.severity == "error" for f in findings),
            warnings=sum(f.severity == "warning" for f in findings),
            notices=answers_file.notices,
        ))
    return results

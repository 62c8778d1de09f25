"""Review many answers files: findings per file, for `check` and for `build`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from qa_builder.answers import AnswersFile, load_answers
from qa_builder.assemble import assemble_agreement
from qa_builder.checks import review_answers
from qa_builder.errors import QABuilderError
from qa_builder.library.select import check_answer_references, select_clauses
from qa_builder.models.findings import FileFindings
from qa_builder.models.library import ClauseLibrary


def review_files(paths: list[Path], library: ClauseLibrary, *, today: dt.date | None = None) -> list[FileFindings]:
    """Check every answers file; an unreadable file gets an `error` instead of findings."""
    results: list[FileFindings] = []
    for path in paths:
        try:
            answers_file = load_answers(path)
            findings = review_answers(answers_file, library, today=today)
            _assembles(answers_file, library)
        except QABuilderError as exc:
            results.append(FileFindings(file=str(path), error=str(exc)))
            continue
        results.append(FileFindings(
            file=str(path), findings=findings,
            errors=sum(f.severity == "error" for f in findings),
            warnings=sum(f.severity == "warning" for f in findings),
        ))
    return results


def _assembles(answers_file: AnswersFile, library: ClauseLibrary) -> None:
    """Select and render every clause as `build` would, so a library fault stops `check` as it stops `build`.

    Raises:
        AnswersError: the answers name a clause or position the library does not have.
        LibraryError, RenderError: a condition or clause text fails for these answers (names file, line, clause).
    """
    check_answer_references(answers_file, library)
    assemble_agreement(answers_file.answers, library, select_clauses(library, answers_file.answers))

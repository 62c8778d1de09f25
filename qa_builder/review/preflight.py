"""The validation `build` runs before it renders, shared with `check` so that the two cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass

from qa_builder.answers.load import AnswersFile
from qa_builder.library.assemble import assemble_agreement
from qa_builder.library.coverage import requirement_coverage
from qa_builder.library.select import check_answer_references, select_clauses
from qa_builder.models.agreement import Agreement
from qa_builder.models.library import ClauseLibrary, Requirement


@dataclass(frozen=True)
class Preflight:
    """The assembled agreement and the applicable requirements no included clause satisfies."""

    agreement: Agreement
    gaps: list[Requirement]


def preflight(answers_file: AnswersFile, library: ClauseLibrary) -> Preflight:
    """Validate and assemble one agreement exactly as `build` does, short of writing files.

    Checks that the answers name only existing RACI activities, clauses and positions, selects the clauses,
    computes requirement coverage and renders every clause text and Annex B clock in the sandbox.

    Args:
        answers_file: loaded, schema-valid answers.
        library: the clause library.

    Raises:
        AnswersError: the answers name a RACI activity, clause or position the library lacks (one line each).
        RenderError: a clause text failed to render.
        LibraryError: a library condition failed to evaluate for these answers.
    """
    check_answer_references(answers_file, library)
    selection = select_clauses(library, answers_file.answers)
    coverage = requirement_coverage(library, answers_file.answers, selection)
    agreement = assemble_agreement(answers_file.answers, library, selection, coverage=coverage)
    return Preflight(agreement=agreement, gaps=[c.requirement for c in coverage if c.is_gap])

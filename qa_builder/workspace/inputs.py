"""What a workspace agreement is built from: the workspace's library and template, and the agreement's answers as
the workspace builds them (its own version number and revision history)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qa_builder.answers.load import AnswersFile, load_answers
from qa_builder.builds.pipeline import default_pdf_engine, open_pdf_engine
from qa_builder.errors import InputError
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import Agreement
from qa_builder.models.answers import RevisionEntry
from qa_builder.models.library import ClauseLibrary
from qa_builder.render.docx import template_sha256
from qa_builder.workspace.layout import Workspace

if TYPE_CHECKING:
    from qa_builder.render.pdf import PdfConverter
    from qa_builder.render.typeset import PdfTypesetter

__all__ = ["Inputs", "current_inputs", "effective_answers", "history_of", "load_workspace_answers",
           "open_workspace_engine"]


@dataclass(frozen=True)
class Inputs:
    """The library and template every agreement of a run is built with."""

    library: ClauseLibrary
    template: Path
    template_sha256: str


def current_inputs(workspace: Workspace) -> Inputs:
    """Load the workspace's library and template."""
    return Inputs(library=load_library(workspace.library_dir), template=workspace.template,
                  template_sha256=template_sha256(workspace.template))


def open_workspace_engine(workspace: Workspace, *, workers: int = 1) -> PdfConverter | PdfTypesetter:
    """The PDF engine a workspace builds with, not started yet: Typst for the bundled template, LibreOffice's
    pool of `workers` for a team's own template (see `default_pdf_engine`).

    Raises:
        InputError: the workspace's template cannot be read. ConversionError: the engine is not installed.
    """
    return open_pdf_engine(default_pdf_engine(workspace.template), workers=workers)


def load_workspace_answers(workspace: Workspace, agreement_id: str) -> AnswersFile:
    """An agreement's answers, which must carry the ID of the folder they are in.

    Raises:
        AnswersError / InputError: unreadable answers, or an agreement.id that is not the folder's.
    """
    path = workspace.answers_path(agreement_id)
    answers_file = load_answers(path)
    found = answers_file.answers.agreement.id
    if found != agreement_id:
        raise InputError(f"{path} line {answers_file.line_of('agreement.id')}: agreement.id is '{found}' but the "
                         f"file is in agreements/{agreement_id}/; an agreement keeps its ID (add a new agreement "
                         "with `qa-builder add` instead)")
    return answers_file


def effective_answers(answers_file: AnswersFile, version: int, history: list[RevisionEntry]) -> AnswersFile:
    """The answers as the workspace builds them: its own version number and revision history."""
    answers = answers_file.answers
    info = answers.agreement.model_copy(update={"version": version})
    adjusted = answers.model_copy(update={"agreement": info, "revision_history": history})
    return dataclasses.replace(answers_file, answers=adjusted)


def history_of(agreement: Agreement) -> list[RevisionEntry]:
    """An agreement's revision history as answers entries, to carry into its next version."""
    return [RevisionEntry(version=r.version, date=r.date, description=r.description) for r in agreement.revisions]

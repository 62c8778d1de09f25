"""The outgoing counter-proposal: the next version as tracked changes against the text the counterparty returned."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.errors import InputError, QABuilderError
from qa_builder.library.assemble import split_paragraphs
from qa_builder.models.agreement import Agreement
from qa_builder.negotiation.decisions import clause_source_text, latest_import, load_negotiation, proposed_body
from qa_builder.negotiation.importer import ImportReport
from qa_builder.negotiation.overrides import apply_overrides
from qa_builder.negotiation.rerender import with_answer
from qa_builder.redline import write_redline
from qa_builder.workspace.layout import Workspace

__all__ = ["proposal_model", "write_counter_proposal", "write_latest_proposal"]

_TEXT_CHANGES = {"library_position", "answer_value", "deletes_clause", "non_standard"}


def proposal_model(sent: Agreement, report: ImportReport, *, reassembled: Agreement | None = None) -> Agreement:
    """`sent` with every clause the counterparty changed replaced by its text (all its changes accepted).

    Args:
        reassembled: the agreement re-assembled with the answer values and positions the counterparty proposed, so
            that the annexes (timelines, traceability) show what its proposal implies; used instead of `sent`.
    """
    proposed = {f.clause_id: proposed_body(f) for f in report.clauses if f.classification in _TEXT_CHANGES}
    sections = []
    for section in (reassembled or sent).sections:
        clauses = []
        for clause in section.clauses:
            if clause.clause_id in proposed:
                clause = clause.model_copy(update={
                    "paragraphs": split_paragraphs(clause_source_text(proposed[clause.clause_id]))})
            clauses.append(clause)
        sections.append(section.model_copy(update={"clauses": clauses}))
    return (reassembled or sent).model_copy(update={"sections": sections, "model_digest": ""}).with_digest()


def _reassembled(workspace: Workspace, sent: Agreement, report: ImportReport) -> Agreement | None:
    """The agreement as of `sent`'s version, with today's answers and library and the counterparty's proposed answer
    values and positions; None when that cannot be assembled (then only the clause texts are used)."""
    from qa_builder.workspace.inputs import current_inputs, effective_answers, history_of, load_workspace_answers

    try:
        answers_file = load_workspace_answers(workspace, sent.id)
        answers = answers_file.answers
        for finding in report.clauses:
            if finding.classification == "answer_value" and finding.answer_field:
                changed = with_answer(answers, tuple(finding.answer_field.split(".")), finding.answer_value)
                answers = changed if changed is not None else answers
            elif finding.classification == "library_position" and finding.position:
                answers = answers.model_copy(update={"positions": {**answers.positions,
                                                                   finding.clause_id: finding.position}})
        frame = effective_answers(dataclasses.replace(answers_file, answers=answers), sent.version, history_of(sent))
        assembled = prepare_agreement(frame, current_inputs(workspace).library, allow_gaps=True)
        return apply_overrides(assembled, load_negotiation(workspace, sent.id).overrides)[0]  # as agreed before
    except QABuilderError:
        return None


def write_counter_proposal(workspace: Workspace, previous: Agreement, new: Agreement, out: Path, *,
                           replace: bool = True) -> Path | None:
    """Write `out` when the counterparty returned `previous` marked up (an import of it exists); else None.

    With `replace=False`, `out` is only created (OutputExistsError if it exists when written).

    The DOCX shows, as tracked changes by the sponsor, how `new` differs from the text the counterparty proposed:
    our counter-proposals and rejections; what we accepted shows no change.
    """
    found = latest_import(workspace, previous.id)
    if found is None or found[1].version != previous.version:
        return None
    report = found[1]
    proposal = proposal_model(previous, report, reassembled=_reassembled(workspace, previous, report))
    write_redline(proposal, new, out, author=new.sponsor.name,
                  old_label=f"the text the counterparty returned for version {previous.version}", replace=replace)
    return out


def write_latest_proposal(workspace: Workspace, agreement_id: str, out: Path, *,
                          replace: bool = True) -> tuple[int, int]:
    """Write the counter-proposal of the agreement's latest version against the latest returned file, without
    building a version (e.g. when every point was rejected, so the agreement text did not change).

    Returns:
        (the version the counterparty returned, the version the DOCX proposes).

    Raises:
        InputError: nothing was imported, or a version cannot be read.
    """
    found = latest_import(workspace, agreement_id)
    latest = workspace.latest(agreement_id)
    if found is None or latest is None:
        raise InputError(f"agreement {agreement_id}: no returned DOCX was imported, so there is nothing to answer")
    returned = found[1].version
    written = write_counter_proposal(workspace, workspace.agreement(agreement_id, returned),
                                     workspace.agreement(agreement_id, latest), out, replace=replace)
    assert written is not None  # the import is of that very version
    return returned, latest

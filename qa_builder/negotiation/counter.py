"""The outgoing counter-proposal: the next version as tracked changes against the text the counterparty returned."""

from __future__ import annotations

from pathlib import Path

from qa_builder.assemble import split_paragraphs
from qa_builder.models.agreement import Agreement
from qa_builder.negotiation.decisions import clause_source_text, latest_import, proposed_body
from qa_builder.negotiation.importer import ImportReport
from qa_builder.redline import write_redline
from qa_builder.workspace import Workspace

__all__ = ["proposal_model", "write_counter_proposal"]

_TEXT_CHANGES = {"library_position", "answer_value", "deletes_clause", "non_standard"}


def proposal_model(sent: Agreement, report: ImportReport) -> Agreement:
    """`sent` with every clause the counterparty changed replaced by its text (all its changes accepted)."""
    proposed = {f.clause_id: proposed_body(f) for f in report.clauses if f.classification in _TEXT_CHANGES}
    sections = []
    for section in sent.sections:
        clauses = []
        for clause in section.clauses:
            if clause.clause_id in proposed:
                clause = clause.model_copy(update={
                    "paragraphs": split_paragraphs(clause_source_text(proposed[clause.clause_id]))})
            clauses.append(clause)
        sections.append(section.model_copy(update={"clauses": clauses}))
    return sent.model_copy(update={"sections": sections, "model_digest": ""}).with_digest()


def write_counter_proposal(workspace: Workspace, previous: Agreement, new: Agreement, out: Path) -> Path | None:
    """Write `out` when the counterparty returned `previous` marked up (an import of it exists); else None.

    The DOCX shows, as tracked changes by the sponsor, how `new` differs from the text the counterparty proposed:
    our counter-proposals and rejections; what we accepted shows no change.
    """
    found = latest_import(workspace, previous.id)
    if found is None or found[1].version != previous.version:
        return None
    write_redline(proposal_model(previous, found[1]), new, out, author=new.sponsor.name,
                  old_label=f"the text the counterparty returned for version {previous.version}")
    return out

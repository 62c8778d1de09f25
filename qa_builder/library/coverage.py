"""Requirement coverage: for one agreement, every applicable requirement and the clauses that satisfy it."""

from __future__ import annotations

from dataclasses import dataclass

from qa_builder.library.context import build_context
from qa_builder.library.select import ClauseSelection, condition_holds
from qa_builder.models.answers import Answers
from qa_builder.models.library import ClauseLibrary, Requirement
from qa_builder.sandbox.environment import accounted


@dataclass(frozen=True)
class RequirementCoverage:
    """An applicable requirement and the ids of the included clauses that cite it (empty = a gap)."""

    requirement: Requirement
    clause_ids: list[str]

    @property
    def is_gap(self) -> bool:
        """True when no included clause satisfies the requirement."""
        return not self.clause_ids


@accounted()
def requirement_coverage(
    library: ClauseLibrary, answers: Answers, selection: ClauseSelection
) -> list[RequirementCoverage]:
    """Every requirement that applies to these answers, with the selected clauses citing it."""
    context = build_context(answers, library.clocks, library.jurisdictions)
    citing: dict[str, list[str]] = {}
    for selected in selection.selected:
        for ref in selected.clause.references:
            citing.setdefault(ref, []).append(selected.clause.id)
    return [
        RequirementCoverage(requirement, citing.get(requirement.id, []))
        for requirement in library.requirements
        if condition_holds(requirement.applies_when, context, f"requirements.yaml: '{requirement.id}'")
    ]

"""Decide which clauses, at which position, go into an agreement, and say why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qa_builder.answers.load import AnswersFile
from qa_builder.errors import AnswersError, LibraryError
from qa_builder.library.context import build_context
from qa_builder.models.agreement import SelectionDecision
from qa_builder.models.answers import Answers
from qa_builder.models.library import Clause, ClauseLibrary
from qa_builder.sandbox.environment import TemplateProblem, accounted, compile_condition, evaluate_condition


@dataclass(frozen=True)
class SelectedClause:
    """A clause chosen for the agreement, with its chosen position (None for single-text clauses)."""

    clause: Clause
    position: str | None


@dataclass(frozen=True)
class ClauseSelection:
    """The clauses chosen, in library order, and a decision for every clause considered."""

    selected: list[SelectedClause]
    decisions: list[SelectionDecision]


def condition_holds(expression: str, context: dict[str, Any], where: str) -> bool:
    """Evaluate a library condition; a failure names where the condition lives."""
    try:
        return bool(evaluate_condition(compile_condition(expression), context))
    except TemplateProblem as exc:
        raise LibraryError(f"{where}: condition '{expression}' {exc}") from exc


def check_answer_references(answers_file: AnswersFile, library: ClauseLibrary) -> None:
    """Answers that name library entries (RACI overrides, clause positions) must name existing ones."""
    answers = answers_file.answers
    problems: list[str] = []
    activities = {a.id for a in library.raci}
    for i, override in enumerate(answers.responsibilities):
        if override.activity not in activities:
            field = f"responsibilities[{i}].activity"
            problems.append(
                f"{answers_file.path} line {answers_file.line_of(field)}: {field} '{override.activity}' is not an "
                f"activity of the RACI matrix (see raci.yaml in the clause library)"
            )
    clauses = {c.id: c for c in library.clauses}
    for clause_id, position in answers.positions.items():
        field = f"positions.{clause_id}"
        where = f"{answers_file.path} line {answers_file.line_of(field)}: {field}"
        clause = clauses.get(clause_id)
        if clause is None:
            problems.append(f"{where} names no clause of the library")
        elif not clause.positions:
            problems.append(f"{where}: clause '{clause_id}' has no alternative positions")
        elif position not in clause.positions:
            problems.append(f"{where} '{position}' is not a position of that clause (it has: "
                            f"{', '.join(clause.positions)})")
    if problems:
        raise AnswersError(problems)


@accounted()
def select_clauses(library: ClauseLibrary, answers: Answers) -> ClauseSelection:
    """Choose the clauses that apply to these answers.

    A clause is included when it is approved, already effective on the agreement's effective date and
    its `applies_when` condition holds. Its position comes from the answers' `positions`, else from its
    `position_from` expression, else it is the first position listed.
    """
    context = build_context(answers, library.clocks, library.jurisdictions)
    effective = answers.agreement.effective_date
    selected: list[SelectedClause] = []
    decisions: list[SelectionDecision] = []
    for clause in library.clauses:
        where = f"{clause.source_file} line {clause.source_line}: clause '{clause.id}'"
        reason, position = _decide(clause, answers, context, effective, where)
        included = reason.startswith("included")
        decisions.append(SelectionDecision(
            clause_id=clause.id, version=clause.version, included=included, position=position, reason=reason
        ))
        if included:
            selected.append(SelectedClause(clause=clause, position=position))
    return ClauseSelection(selected=selected, decisions=decisions)


def _decide(
    clause: Clause, answers: Answers, context: dict[str, Any], effective: Any, where: str
) -> tuple[str, str | None]:
    if clause.status != "approved":
        return f"left out: status is {clause.status}", None
    if clause.effective_date > effective:
        return f"left out: clause version {clause.version} is effective only from {clause.effective_date}", None
    if not condition_holds(clause.applies_when, context, where):
        return f"left out: condition '{clause.applies_when}' is false for these answers", None
    why = "included: always applies" if clause.applies_when.strip() == "true" else (
        f"included: condition '{clause.applies_when}' holds")
    if not clause.positions:
        return why, None
    if clause.id in answers.positions:
        return f"{why}; position chosen in answers", answers.positions[clause.id]
    if clause.position_from is not None:
        try:
            value = evaluate_condition(compile_condition(clause.position_from), context)
        except TemplateProblem as exc:
            raise LibraryError(f"{where}: position_from '{clause.position_from}' {exc}") from exc
        if str(value) not in clause.positions:
            raise LibraryError(f"{where}: position_from '{clause.position_from}' gave '{value}', which is not one "
                               f"of its positions ({', '.join(clause.positions)})")
        return f"{why}; position from {clause.position_from}", str(value)
    return f"{why}; default position", next(iter(clause.positions))

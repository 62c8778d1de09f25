"""The responsibilities matrix for one agreement: the library's defaults, filtered and overridden."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qa_builder.errors import LibraryError
from qa_builder.library.select import condition_holds
from qa_builder.models.answers import Answers
from qa_builder.models.library import ClauseLibrary, RaciActivity, RaciVariant
from qa_builder.sandbox import TemplateProblem, compile_condition, evaluate_condition


@dataclass(frozen=True)
class ResolvedActivity:
    """One activity as it applies to the agreement; `override` is its index in answers.responsibilities."""

    activity: RaciActivity
    sponsor: str
    contract_acceptor: str
    notes: str
    split_of_duties: str | None
    override: int | None
    title: str = ""  # the activity as Annex A words it: the variant's wording, else the row's

    def wording(self) -> str:
        """The activity's wording in Annex A."""
        return self.title or self.activity.activity

    def codes(self) -> tuple[str, str]:
        """(sponsor, contract acceptor) codes, '-' meaning none."""
        return self.sponsor, self.contract_acceptor


def resolve_raci(answers: Answers, library: ClauseLibrary, context: dict[str, Any]) -> list[ResolvedActivity]:
    """Apply the answers' overrides to the library activities whose condition holds."""
    overrides = {o.activity: (i, o) for i, o in enumerate(answers.responsibilities)}
    rows: list[ResolvedActivity] = []
    for activity in library.raci:
        if not condition_holds(activity.applies_when, context, f"raci.yaml: activity '{activity.id}'"):
            continue
        found = overrides.get(activity.id)
        if found is None:
            default = _variant(activity, context)
            rows.append(ResolvedActivity(activity, default.sponsor, default.contract_acceptor,
                                         default.notes or "", default.split_of_duties, None,
                                         default.activity or activity.activity))
            continue
        index, override = found
        rows.append(ResolvedActivity(activity, override.sponsor, override.contract_acceptor,
                                     override.notes or activity.notes or "", override.split_of_duties, index,
                                     _variant(activity, context).activity or activity.activity))
    return rows


def _variant(activity: RaciActivity, context: dict[str, Any]) -> RaciVariant:
    """The row's default codes: its variant for the value of `vary_by`, else its own codes."""
    own = RaciVariant(sponsor=activity.sponsor, contract_acceptor=activity.contract_acceptor, notes=activity.notes,
                      split_of_duties=activity.split_of_duties)
    if activity.vary_by is None:
        return own
    try:
        value = evaluate_condition(compile_condition(activity.vary_by), context)
    except TemplateProblem as exc:
        raise LibraryError(f"raci.yaml: activity '{activity.id}': vary_by '{activity.vary_by}' {exc}") from exc
    return activity.variants.get(str(value), own)

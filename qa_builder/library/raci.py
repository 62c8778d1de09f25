"""The responsibilities matrix for one agreement: the library's defaults, filtered and overridden."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qa_builder.errors import LibraryError
from qa_builder.library.select import condition_holds
from qa_builder.models.answers import Answers
from qa_builder.models.facts import ACCEPTOR_TERM, SPONSOR_TERM, Facts
from qa_builder.models.library import AffiliateActs, ClauseLibrary, RaciActivity, RaciVariant
from qa_builder.sandbox.environment import TemplateProblem, compile_condition, evaluate_condition


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
                                         _with_affiliates(default.notes or "", activity, context),
                                         default.split_of_duties, None, default.activity or activity.activity))
            continue
        index, override = found
        rows.append(ResolvedActivity(activity, override.sponsor, override.contract_acceptor,
                                     _with_affiliates(override.notes or activity.notes or "", activity, context),
                                     override.split_of_duties, index,
                                     _variant(activity, context).activity or activity.activity))
    return rows


def default_variant(activity: RaciActivity, context: dict[str, Any]) -> RaciVariant:
    """The codes the library gives `activity` for this arrangement, before any answers override.

    Raises:
        LibraryError: the row's `vary_by` does not evaluate.
    """
    return _variant(activity, context)


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


#: how a note names a market (as the clauses do)
MARKET_NAMES = {"US": "the United States", "EU": "the EU/EEA", "UK": "the United Kingdom", "CH": "Switzerland",
                "JP": "Japan", "CA": "Canada", "AU": "Australia", "KR": "the Republic of Korea"}


def _with_affiliates(notes: str, activity: RaciActivity, context: dict[str, Any]) -> str:
    """`notes` followed by the sentences naming the affiliates that act in `activity` for their market."""
    facts = context.get("facts")
    if activity.affiliates is None or facts is None:
        return notes
    said = affiliate_sentences(activity.affiliates, facts)
    if not said:
        return notes
    notes = notes.strip()
    if notes and not notes.endswith((".", "!", "?", ".)")):
        notes += "."
    return " ".join(x for x in (notes, *said) if x)


def affiliate_sentences(acts: AffiliateActs, facts: Facts | Any) -> list[str]:
    """One sentence per affiliate that acts for its market in a RACI activity, from the facts the clauses read.

    Args:
        acts: the activity's `affiliates` (what a marketing-authorisation-holding affiliate does; which release
            steps' affiliate certifiers to name and what they do).
        facts: the arrangement's facts (a Facts, or the frozen Record of one that a rendering context holds):
            `ma_holders` (market -> affiliate of the Sponsor that is a party and
            holds the marketing authorisation there) and `certifications` (who certifies or decides per market).

    Returns:
        e.g. ["For Japan, Kestrel Japan K.K. (an affiliate of the Sponsor) decides ... that market."], in the
        order the facts list the affiliates; empty when no affiliate acts in the activity.
    """
    found: dict[tuple[str, str, str], list[str]] = {}  # (affiliate, party term, words) -> markets
    if acts.holder:
        for market, name in facts.ma_holders.items():
            _add_market(found, (name, SPONSOR_TERM, acts.holder), market)
    if acts.step_words:
        for c in facts.certifications:
            if c.entity_is_affiliate and c.step in acts.steps:
                term = SPONSOR_TERM if c.certifier == "sponsor" else ACCEPTOR_TERM
                _add_market(found, (c.entity, term, acts.step_words.replace("{step}", c.step)), c.market)
    return [f"For {_join([MARKET_NAMES.get(m, m) for m in markets])}, {name} (an affiliate of the {term}) {words}."
            for (name, term, words), markets in found.items()]


def _add_market(found: dict[tuple[str, str, str], list[str]], key: tuple[str, str, str], market: str) -> None:
    markets = found.setdefault(key, [])
    if market not in markets:
        markets.append(market)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

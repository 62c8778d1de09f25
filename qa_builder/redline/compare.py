"""What changed between two versions of an agreement: clauses matched by clause id, everything else in sentences.

The comparison only; the word diff is in `qa_builder.redline.worddiff`, the DOCX in `qa_builder.redline.writer`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from qa_builder.models.agreement import Agreement, AgreementClause, AgreementSection, RaciRow

TEXT_HEADING = "Text of the agreement"
COVER_HEADING = "Cover page"
RACI_HEADING = "Responsibilities matrix"
TIMELINES_HEADING = "Timelines"
TRACE_HEADING = "Regulatory traceability"
SOURCES_HEADING = "Sources of the regulatory traceability"
SIGNATURES_HEADING = "Signature blocks"
HISTORY_HEADING = "Revision history"
SELECTION_HEADING = "Clause selection record"

ChangeKind = Literal["added", "removed", "new_version", "new_text", "moved"]
T = TypeVar("T")
Pair = tuple[T | None, T | None]
"""An old item and its new counterpart; None on the side where it does not exist."""


@dataclass(frozen=True)
class ClauseChange:
    """One clause that differs between the versions, numbered as in the new version (old number if removed)."""

    clause_id: str
    number: str
    title: str
    kind: ChangeKind
    old_version: int | None
    new_version: int | None


@dataclass(frozen=True)
class RedlineSummary:
    """What changed from one version of an agreement to another."""

    agreement_id: str
    old_version: int
    new_version: int
    clause_changes: tuple[ClauseChange, ...]
    other_changes: tuple[str, ...]


@dataclass(frozen=True)
class SectionPlan:
    """A section as the redline shows it: old and/or new side, and its clauses in reading order."""

    old: AgreementSection | None
    new: AgreementSection | None
    clauses: tuple[Pair[AgreementClause], ...]



def compare_agreements(old: Agreement, new: Agreement) -> RedlineSummary:
    """Compare two versions: clauses matched by clause_id, then everything else as plain sentences."""
    plans = plan_sections(old, new)
    return RedlineSummary(
        agreement_id=new.id,
        old_version=old.version,
        new_version=new.version,
        clause_changes=_clause_changes(plans, old, new),
        other_changes=_other_changes(old, new, plans),
    )


def plan_sections(old: Agreement, new: Agreement) -> tuple[SectionPlan, ...]:
    """The sections in reading order, each with its clauses paired old/new (a moved clause: removed and added)."""
    in_place = _clauses_in_place(old, new)
    common = {s.id for s in old.sections} & {s.id for s in new.sections}
    plans = []
    for old_s, new_s in interleave(old.sections, new.sections, lambda s: s.id, common):
        old_cs = old_s.clauses if old_s else []
        new_cs = new_s.clauses if new_s else []
        pairs = interleave(old_cs, new_cs, lambda c: c.clause_id, in_place)
        plans.append(SectionPlan(old_s, new_s, tuple(pairs)))
    return tuple(plans)


def _clauses_in_place(old: Agreement, new: Agreement) -> set[str]:
    """Clause ids in the same section and the same relative order in both versions (the rest moved)."""
    old_at = {c.clause_id: s.id for s in old.sections for c in s.clauses}
    new_at = {c.clause_id: s.id for s in new.sections for c in s.clauses}
    same_section = {cid for cid, section in old_at.items() if new_at.get(cid) == section}
    old_seq = [cid for cid in old_at if cid in same_section]
    new_seq = [cid for cid in new_at if cid in same_section]
    matcher = difflib.SequenceMatcher(None, old_seq, new_seq, autojunk=False)
    return {cid for block in matcher.get_matching_blocks() for cid in old_seq[block.a:block.a + block.size]}


def interleave(old: Sequence[T], new: Sequence[T], key: Callable[[T], str], paired: Collection[str]) -> list[Pair[T]]:
    """New items in order, each with its old counterpart if paired; unpaired old items after their old predecessor."""
    olds = {key(item): item for item in old if key(item) in paired}
    after: dict[str | None, list[T]] = {}
    anchor: str | None = None
    for item in old:
        if key(item) in paired:
            anchor = key(item)
        else:
            after.setdefault(anchor, []).append(item)
    merged: list[Pair[T]] = [(gone, None) for gone in after.get(None, [])]
    for item in new:
        merged.append((olds.get(key(item)), item))
        if key(item) in paired:
            merged.extend((gone, None) for gone in after.get(key(item), []))
    return merged



def _clause_changes(plans: Sequence[SectionPlan], old: Agreement, new: Agreement) -> tuple[ClauseChange, ...]:
    old_by_id = {c.clause_id: c for s in old.sections for c in s.clauses}
    new_ids = {c.clause_id for s in new.sections for c in s.clauses}
    changes = (_clause_change(o, n, old_by_id, new_ids) for plan in plans for o, n in plan.clauses)
    return tuple(change for change in changes if change is not None)


def _clause_change(old: AgreementClause | None, new: AgreementClause | None,
                   old_by_id: dict[str, AgreementClause], new_ids: set[str]) -> ClauseChange | None:
    if new is None:
        assert old is not None
        if old.clause_id in new_ids:
            return None  # moved: reported where it now stands
        return ClauseChange(old.clause_id, old.number, old.title, "removed", old.version, None)
    if old is None:
        before = old_by_id.get(new.clause_id)
        if before is None:
            return ClauseChange(new.clause_id, new.number, new.title, "added", None, new.version)
        return ClauseChange(new.clause_id, new.number, new.title, "moved", before.version, new.version)
    if old.version != new.version:
        return ClauseChange(new.clause_id, new.number, new.title, "new_version", old.version, new.version)
    if old.title != new.title or old.paragraphs != new.paragraphs:
        return ClauseChange(new.clause_id, new.number, new.title, "new_text", old.version, new.version)
    return None


def _other_changes(old: Agreement, new: Agreement, plans: Sequence[SectionPlan]) -> tuple[str, ...]:
    found = [*_header_changes(old, new), *_section_changes(plans)]
    renumbered = sum(1 for p in plans for o, n in p.clauses if o and n and o.number != n.number)
    if renumbered:
        found.append(f"Clause numbering changed for {_count(renumbered, 'clause')}")
    found.extend(_raci_changes(old.raci, new.raci))
    sentences = (_row_changes(TIMELINES_HEADING, old.timelines, new.timelines, lambda r: r.event),
                 _row_changes(TRACE_HEADING, old.traceability, new.traceability, lambda r: r.requirement_id),
                 _row_changes(SOURCES_HEADING, old.sources, new.sources, lambda r: r.key),
                 _row_changes(SIGNATURES_HEADING, old.signatories, new.signatories, lambda r: r.field_name),
                 _row_changes(HISTORY_HEADING, old.revisions, new.revisions, lambda r: str(r.version)),
                 _row_changes(SELECTION_HEADING, old.decisions, new.decisions, lambda r: r.clause_id))
    found.extend(sentence for sentence in sentences if sentence)
    return tuple(found)


def _header_changes(old: Agreement, new: Agreement) -> list[str]:
    found = []
    if old.id != new.id:
        found.append(f"Agreement ID changed from {old.id} to {new.id}")
    if old.title != new.title:
        found.append("Title changed")
    if old.effective_date != new.effective_date:
        found.append(f"Effective date changed from {old.effective_date} to {new.effective_date}")
    if old.review_period_months != new.review_period_months:
        found.append(f"Review period changed from {old.review_period_months} to {new.review_period_months} months")
    if old.sponsor != new.sponsor:
        found.append("Sponsor details changed")
    if old.contract_acceptor != new.contract_acceptor:
        found.append("Contract acceptor details changed")
    if old.affiliates != new.affiliates:
        found.append("Affiliates that are parties changed")
    if old.products != new.products:
        found.append("Products changed")
    if old.markets != new.markets:
        found.append("Markets changed")
    if (old.library_name, old.library_version) != (new.library_name, new.library_version):
        found.append(f"Clause library changed from {old.library_name} {old.library_version} "
                     f"to {new.library_name} {new.library_version}")
    return found


def _section_changes(plans: Sequence[SectionPlan]) -> list[str]:
    found = []
    for plan in plans:
        if plan.new is None:
            assert plan.old is not None
            found.append(f"Section {plan.old.number} ({plan.old.title}) removed")
        elif plan.old is None:
            found.append(f"Section {plan.new.number} ({plan.new.title}) added")
        elif plan.old.title != plan.new.title:
            found.append(f"Section {plan.new.number} title changed")
    return found


def _raci_changes(old: Sequence[RaciRow], new: Sequence[RaciRow]) -> list[str]:
    shown = _row_changes(RACI_HEADING, old, new, lambda r: r.activity_id, _unnumbered)
    return [shown] if shown else []


def _unnumbered(row: RaciRow) -> dict[str, Any]:
    return row.model_dump(exclude={"number"})


def _row_changes(name: str, old: Sequence[T], new: Sequence[T], key: Callable[[T], str],
                 value: Callable[[T], object] | None = None) -> str | None:
    """'Name: 1 row added, 2 rows changed', or None when the rows are the same."""
    old_by = {key(row): row for row in old}
    new_by = {key(row): row for row in new}
    look = value or (lambda row: row)
    added = sum(1 for k in new_by if k not in old_by)
    removed = sum(1 for k in old_by if k not in new_by)
    changed = sum(1 for k, row in new_by.items() if k in old_by and look(row) != look(old_by[k]))
    parts = [f"{_count(n, 'row')} {verb}" for n, verb in ((added, "added"), (removed, "removed"),
                                                        (changed, "changed")) if n]
    return f"{name}: {', '.join(parts)}" if parts else None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


"""Impact analysis: how each agreement's latest version differs from what the current inputs would produce."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qa_builder.audit.record import record
from qa_builder.audit.store import AuditTrail
from qa_builder.builds.pipeline import prepare_agreement
from qa_builder.errors import InputError, QABuilderError
from qa_builder.models.agreement import Agreement
from qa_builder.models.build import ClauseUse
from qa_builder.negotiation.decisions import load_negotiation
from qa_builder.negotiation.overrides import OverrideState, apply_overrides, conflict_message
from qa_builder.printable import printable
from qa_builder.redline import ClauseChange, compare_agreements
from qa_builder.workspace.inputs import Inputs, current_inputs, effective_answers, history_of, load_workspace_answers
from qa_builder.workspace.layout import Workspace

Reason = Literal["answers changed", "clause changed", "template changed", "library version changed",
                 "negotiated override", "library changed"]
"""Why an agreement is affected. "library changed": the library changed outside the clauses (a responsibilities-
matrix row or note, a timeline, a source) with no other reason; "clause changed" named that too before."""


@dataclass(frozen=True)
class Impact:
    """How an agreement's latest version differs from what the current inputs would produce."""

    agreement_id: str
    version: int
    affected: bool
    reasons: tuple[Reason, ...]
    clause_changes: tuple[ClauseChange, ...]
    other_changes: tuple[str, ...]
    candidate_digest: str
    error: str | None = None
    overrides: tuple[OverrideState, ...] = ()  # the negotiated clause overrides, applied or in conflict



def analyse(workspace: Workspace, inputs: Inputs, agreement_id: str) -> Impact | None:
    """The impact of the current inputs on one agreement's latest version (None when it has no version)."""
    try:
        latest = workspace.latest(agreement_id)
    except QABuilderError as exc:  # e.g. its folder or answers file is a link: this agreement's error only
        return Impact(agreement_id, 0, False, (), (), (), "", error=str(exc).splitlines()[0])
    if latest is None:
        return None
    try:
        record = workspace.record(agreement_id, latest)
        built = workspace.agreement(agreement_id, latest)
        answers_file = load_workspace_answers(workspace, agreement_id)
        same_frame = effective_answers(answers_file, latest, history_of(built))
        candidate = prepare_agreement(same_frame, inputs.library)
        candidate, overrides = apply_overrides(candidate, load_negotiation(workspace, agreement_id).overrides)
    except QABuilderError as exc:
        return Impact(agreement_id, latest, False, (), (), (), "", error=str(exc).splitlines()[0])
    if any(o.state != "applied" for o in overrides):
        return Impact(agreement_id, latest, False, (), (), (), "", overrides=tuple(overrides),
                      error=conflict_message(agreement_id, overrides).splitlines()[0])
    comparison = compare_agreements(built, candidate)
    reasons: list[Reason] = []
    answers_changed = record.answers_sha256 != answers_file.sha256
    if answers_changed:
        reasons.append("answers changed")
    before = {c.clause_id: c.paragraphs for s in built.sections for c in s.clauses}
    negotiated = {o.clause_id for o in overrides if o.state == "applied"
                  and before.get(o.clause_id) != next((c.paragraphs for s in candidate.sections for c in s.clauses
                                                       if c.clause_id == o.clause_id), None)}
    if negotiated:
        reasons.append("negotiated override")
    library_side = tuple(c for c in comparison.clause_changes
                         if not (c.clause_id in negotiated and c.kind == "new_text"))
    if _library_changed_clauses(record.clauses, library_side, answers_changed=answers_changed):
        reasons.append("clause changed")
    if record.template_sha256 != inputs.template_sha256:
        reasons.append("template changed")
    if record.library_version != inputs.library.info.version:
        reasons.append("library version changed")
    affected = _content_digest(candidate) != _content_digest(built) or "template changed" in reasons
    if affected and not reasons:
        reasons.append("clause changed" if comparison.clause_changes else "library changed")
    return Impact(agreement_id, latest, affected, tuple(reasons), comparison.clause_changes,
                  comparison.other_changes, candidate.model_digest, overrides=tuple(overrides))


def _content_digest(agreement: Agreement) -> str:
    """The model digest without the decisions about clauses left out: a new version of a clause that does not
    apply to an agreement changes its selection record, not the agreement."""
    included = [d for d in agreement.decisions if d.included]
    return agreement.model_copy(update={"decisions": included, "model_digest": ""}).with_digest().model_digest


def _library_changed_clauses(used: list[ClauseUse], changes: tuple[ClauseChange, ...], *,
                             answers_changed: bool) -> bool:
    """Whether a clause changed in the library: a new version, or (with the answers unchanged) new text or a
    different selection. With changed answers, new text and a different selection are put down to them."""
    if any(c.kind == "new_version" for c in changes):
        return True
    versions = {c.id: c.version for c in used}
    if any(c.kind == "added" and c.clause_id in versions and versions[c.clause_id] != c.new_version
           for c in changes):
        return True
    return not answers_changed and any(c.kind in ("new_text", "added", "removed") for c in changes)


def impact(workspace: Workspace, *, clause: str | None = None, only: list[str] | None = None) -> list[Impact]:
    """The impact on every built agreement (or `only` these), optionally only those where `clause` changed.

    Recorded in the audit trail, with a library_change / template_change event when the library version or
    the template differs from what the trail last saw.
    """
    inputs = current_inputs(workspace)
    found = [r for i in only or workspace.agreement_ids() if (r := analyse(workspace, inputs, i)) is not None]
    if clause:
        known = {c.id for c in inputs.library.clauses} | {c.clause_id for r in found for c in r.clause_changes}
        if clause not in known:  # a typo would otherwise read as "no agreement affected"
            raise InputError(f"clause '{printable(clause)[:80]}' is neither a clause of the workspace's clause "
                             "library nor one removed from an agreement; check the clause id")
    record_impact(workspace, inputs, found)
    if clause:
        found = [r for r in found if any(c.clause_id == clause for c in r.clause_changes)]
    return found


def record_impact(workspace: Workspace, inputs: Inputs, results: list[Impact]) -> None:
    """An `impact` event, preceded by library_change / template_change events for inputs new to the trail."""
    seen_library, seen_template = _last_seen_inputs(workspace.trail)
    library_file = workspace.library_dir / "library.yaml"
    if seen_library != inputs.library.info.version:
        record(workspace.trail, "library_change", files=[library_file],
               details={"from_version": seen_library, "to_version": inputs.library.info.version})
    if seen_template != inputs.template_sha256:
        record(workspace.trail, "template_change", files=[inputs.template],
               details={"from_sha256": seen_template, "to_sha256": inputs.template_sha256})
    affected = [r.agreement_id for r in results if r.affected]
    record(workspace.trail, "impact", details={
        "library_version": inputs.library.info.version, "template_sha256": inputs.template_sha256,
        "analysed": len(results), "affected": affected,
        "could_not_analyse": [r.agreement_id for r in results if r.error]})


def _last_seen_inputs(trail: AuditTrail) -> tuple[str | None, str | None]:
    """The library version and template sha256 the trail last recorded (from any event that names them)."""
    library = template = None
    for event in trail.events():
        details = event.details
        library = details.get("to_version", details.get("library_version", library)) \
            if event.action in ("library_change", "impact", "build", "regenerate") else library
        template = details.get("to_sha256", details.get("template_sha256", template)) \
            if event.action in ("template_change", "impact", "build", "regenerate") else template
    return (str(library) if library is not None else None, str(template) if template is not None else None)


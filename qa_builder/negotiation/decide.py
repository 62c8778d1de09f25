"""Decide the points of an imported returned DOCX: accept, reject or counter, each with who and why.

Accepting (or countering with) a library position or an answer value edits the agreement's answers file, which
stays the source of truth. Accepting (or countering with) other text stores it as an override of that clause for
this agreement. Every decision is kept in the negotiation record and is an audit-trail event.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from qa_builder.audit.events import DetailValue, current_actor
from qa_builder.audit.record import record, recorded
from qa_builder.errors import InputError
from qa_builder.files import folder_lock, sha256_file, write_bytes_atomic
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import Agreement, AgreementClause
from qa_builder.models.text import text_problem
from qa_builder.negotiation.answers_edit import Scalar, set_answer
from qa_builder.negotiation.decisions import (
    MAX_IMPORT_BYTES,
    MAX_TEXT,
    OUTSIDE,
    Decision,
    Effect,
    Negotiation,
    Override,
    Verdict,
    clause_lines,
    clause_source_text,
    latest_import,
    load_negotiation,
    proposed_body,
    read_import,
    save_negotiation,
)
from qa_builder.negotiation.importer import ClauseFinding, ImportReport, import_returned
from qa_builder.printable import printable
from qa_builder.workspace.layout import Workspace

__all__ = ["Counter", "decide", "resolve_override"]

_AUDIT_TEXT = 300
"""Longest counterparty or decision text copied into an audit event (escaped, cut)."""


@dataclass(frozen=True)
class Counter:
    """What we propose instead: exactly one of these."""

    text: str | None = None
    position: str | None = None
    answer_field: str | None = None
    answer_value: Scalar = None


MAX_BY = 500
"""Characters of --by, as a decision and an override record it (a longer one was an internal ValidationError)."""


def _clean(text: str, what: str, limit: int = MAX_TEXT) -> str:
    text = text.strip()
    if not text:
        raise InputError(f"{what} is empty; say who decided and why")
    if len(text) > limit:
        raise InputError(f"{what} is {len(text):,} characters long; at most {limit:,} are kept: shorten it")
    problem = text_problem(text)
    if problem:  # e.g. a right-to-left override that would make the negotiation log read otherwise
        raise InputError(f"{what} holds text that {problem}")
    return text


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clause(model: Agreement, clause_id: str) -> AgreementClause | None:
    return next((c for s in model.sections for c in s.clauses if c.clause_id == clause_id), None)


def _answer_path(field: str) -> list[str]:
    """'audits.notice_business_days' → its parts, checked against the answers model (scalars only).

    Raises:
        InputError: no such answer.
    """
    from qa_builder.negotiation.rerender import _scalar_annotation  # one home for the answers-shape rules

    parts = field.split(".")
    if not all(parts) or _scalar_annotation(tuple(parts)) is None:
        raise InputError(f"'{field}' is not an answer that takes one value (e.g. audits.notice_business_days; "
                         "`qa-builder schema` lists them)")
    return parts


def parse_answer_value(field: str, raw: str) -> Scalar:
    """A value typed on the command line for `field`: numbers, yes/no/true/false, none, or text."""
    _answer_path(field)
    lowered = raw.strip().lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    if lowered in ("none", "null", ""):
        return None
    if lowered.lstrip("-").isdigit() and len(lowered) < 10:
        return int(lowered)
    return raw.strip()


def decide(workspace: Workspace, agreement_id: str, clause_id: str, verdict: Verdict, *, by: str, reason: str,
           counter: Counter | None = None) -> Decision:
    """Record a decision on one point (see `_decide`); a refused decision is recorded as a failed attempt."""
    with recorded(workspace.trail, "negotiate_decision", agreement_id=agreement_id,
                  details={"clause": _short(clause_id), "verdict": verdict, "decided_by": _short(by)}), \
            folder_lock(workspace.agreement_dir(agreement_id) / "negotiation"):  # one decision at a time
        return _decide(workspace, agreement_id, clause_id, verdict, by=by, reason=reason, counter=counter)


def _decide(workspace: Workspace, agreement_id: str, clause_id: str, verdict: Verdict, *, by: str, reason: str,
            counter: Counter | None = None) -> Decision:
    """Record a decision on one point of the latest import of `agreement_id`.

    Args:
        clause_id: the clause the point is about, or 'outside' for changes outside the clauses.
        verdict: 'accept', 'reject' or 'counter'.
        by: who decided (the approver, as they sign).
        reason: why.
        counter: with 'counter', what we propose instead.

    Raises:
        InputError: no import, no such point, an already decided point, a decision that cannot apply (accepting a
            deletion that leaves a requirement uncovered, a counter without a proposal), or a value the answers do
            not allow; nothing is changed then.
    """
    by, reason = _clean(by, "--by", MAX_BY), _clean(reason, "--reason")
    found = latest_import(workspace, agreement_id)
    if found is None:
        raise InputError(f"agreement {agreement_id}: no returned DOCX was imported; run `qa-builder negotiate import "
                         f"{workspace.root} {agreement_id} RETURNED.docx` first")
    point, report = found
    negotiation = load_negotiation(workspace, agreement_id)
    if any(d.point == point and d.clause_id == clause_id for d in negotiation.decisions):
        raise InputError(f"agreement {agreement_id}: clause {clause_id} of {point} is already decided (see "
                         "`negotiate status`); import the next returned file for new points")
    finding = next((f for f in report.clauses if f.clause_id == clause_id), None)
    if finding is None and not (clause_id == OUTSIDE and (report.outside_changes or report.outside_comments)):
        known = ", ".join([f.clause_id for f in report.clauses]
                          + ([OUTSIDE] if report.outside_changes or report.outside_comments else [])) or "none"
        raise InputError(f"agreement {agreement_id}: {point} has no point on clause '{clause_id}' (its points: "
                         f"{known})")
    if verdict == "counter" and counter is None:
        raise InputError("counter: say what we propose with --text/--text-file, --position or --answer FIELD=VALUE")
    model = workspace.agreement(agreement_id, report.version)
    effect: Effect = "none"
    decision = Decision(seq=len(negotiation.decisions) + 1, time=_now(), actor=current_actor(), by=by, reason=reason,
                        agreement_version=report.version, point=point, clause_id=clause_id,
                        classification=finding.classification if finding else "outside", verdict=verdict,
                        effect=effect)
    overrides = dict(negotiation.overrides)
    if finding is not None and verdict in ("accept", "counter"):
        proposal = counter if verdict == "counter" else _accepted(finding, model)
        if proposal is not None:
            decision, override = _apply(workspace, agreement_id, model, finding, proposal, decision)
            if override is not None:
                overrides[clause_id] = override
                from qa_builder.negotiation.overrides import apply_overrides

                apply_overrides(model, overrides)  # refused when the agreement would grow past its bounds
            elif decision.effect in ("answer", "position"):
                overrides.pop(clause_id, None)  # the library text stands again
    if finding is not None and verdict == "reject":
        decision = decision.model_copy(update={"effect": "none"})
    save_negotiation(workspace, Negotiation(agreement_id=agreement_id,
                                            decisions=[*negotiation.decisions, decision], overrides=overrides))
    _audit(workspace, agreement_id, decision, finding)
    return decision


def _accepted(finding: ClauseFinding, model: Agreement) -> Counter | None:
    """What accepting a finding means; None when nothing in the agreement changes (formatting, comments)."""
    if finding.classification == "library_position":
        return Counter(position=finding.position)
    if finding.classification == "answer_value":
        return Counter(answer_field=finding.answer_field, answer_value=finding.answer_value)
    if finding.classification == "non_standard":
        return Counter(text=clause_source_text(proposed_body(finding)))
    if finding.classification == "deletes_clause":
        if finding.lost_requirements:
            raise InputError(f"clause {finding.number} {finding.title}: accepting its deletion would leave "
                             f"{', '.join(finding.lost_requirements)} without a clause; reject it, or counter with "
                             "text that keeps what the requirement needs")
        return Counter(text="[Intentionally omitted.]")
    return None


def _apply(workspace: Workspace, agreement_id: str, model: Agreement, finding: ClauseFinding, proposal: Counter,
           decision: Decision) -> tuple[Decision, Override | None]:
    given = [x for x in (proposal.text, proposal.position, proposal.answer_field) if x is not None]
    if len(given) != 1:
        raise InputError("say exactly one of: a text, a position, or an answer")
    answers_path = workspace.answers_path(agreement_id)
    if proposal.position is not None:
        library = load_library(workspace.library_dir)
        source = next((c for c in library.clauses if c.id == finding.clause_id), None)
        if source is None or not source.positions or proposal.position not in source.positions:
            have = ", ".join(source.positions) if source is not None and source.positions else "none"
            raise InputError(f"clause {finding.clause_id} has no library position '{proposal.position}' (it has: "
                             f"{have})")
        set_answer(answers_path, ["positions", finding.clause_id], proposal.position)
        return decision.model_copy(update={"effect": "position", "position": proposal.position}), None
    if proposal.answer_field is not None:
        parts = _answer_path(proposal.answer_field)
        set_answer(answers_path, parts, proposal.answer_value)
        return decision.model_copy(update={"effect": "answer", "answer_field": proposal.answer_field,
                                           "answer_value": proposal.answer_value}), None
    text = _clean(proposal.text or "", "the override text")
    clause = _clause(model, finding.clause_id)
    if clause is None:
        raise InputError(f"clause {finding.clause_id} is not in version {model.version} of {agreement_id}")
    try:
        override = Override(clause_id=clause.clause_id, text=text, base_text="\n".join(clause_lines(clause)),
                            base_version=clause.version, approved_by=decision.by, reason=decision.reason,
                            decided_at=decision.time, agreement_version=model.version)
    except ValueError as exc:
        raise InputError(f"the override text of clause {clause.clause_id} cannot stand in an agreement "
                         f"({_problem(exc)})") from exc
    return decision.model_copy(update={"effect": "override", "text": text}), override


def resolve_override(workspace: Workspace, agreement_id: str, clause_id: str, *, keep: bool, by: str,
                     reason: str, text: str | None = None) -> Decision:
    """Settle an override whose library clause changed: keep it (now against the new library text, optionally as a
    merged `text`) or drop it.

    Raises:
        InputError: the agreement has no override of that clause, or its clause left the agreement (keep).
    """
    by, reason = _clean(by, "--by", MAX_BY), _clean(reason, "--reason")
    with folder_lock(workspace.agreement_dir(agreement_id) / "negotiation"):  # one decision at a time
        return _resolve(workspace, agreement_id, clause_id, keep=keep, by=by, reason=reason, text=text)


def _resolve(workspace: Workspace, agreement_id: str, clause_id: str, *, keep: bool, by: str, reason: str,
             text: str | None) -> Decision:
    from qa_builder.builds.pipeline import prepare_agreement
    from qa_builder.negotiation.overrides import apply_overrides
    from qa_builder.workspace.inputs import current_inputs, effective_answers, history_of, load_workspace_answers

    negotiation = load_negotiation(workspace, agreement_id)
    override = negotiation.overrides.get(clause_id)
    if override is None:
        have = ", ".join(negotiation.overrides) or "none"
        raise InputError(f"agreement {agreement_id} has no override of clause '{clause_id}' (it has: {have})")
    overrides = dict(negotiation.overrides)
    latest = workspace.latest(agreement_id) or override.agreement_version
    if keep:
        answers = load_workspace_answers(workspace, agreement_id)
        built = workspace.agreement(agreement_id, latest)
        candidate = prepare_agreement(effective_answers(answers, latest, history_of(built)),
                                      current_inputs(workspace).library)
        _, states = apply_overrides(candidate, {clause_id: override})
        clause = _clause(candidate, clause_id)
        if clause is None or states[0].state == "clause_gone":
            raise InputError(f"clause {clause_id} is no longer in agreement {agreement_id}; drop its override")
        try:
            override = Override.model_validate({
                **override.model_dump(), "base_text": "\n".join(clause_lines(clause)), "base_version": clause.version,
                "text": _clean(text, "the override text") if text is not None else override.text,
                "approved_by": by, "reason": reason, "decided_at": _now()})
        except ValueError as exc:
            raise InputError(f"the override text of clause {clause_id} cannot stand in an agreement "
                             f"({_problem(exc)})") from exc
        overrides[clause_id] = override
    else:
        overrides.pop(clause_id)
    decision = Decision(seq=len(negotiation.decisions) + 1, time=_now(), actor=current_actor(), by=by, reason=reason,
                        agreement_version=latest, point="override", clause_id=clause_id, classification="override",
                        verdict="keep_override" if keep else "drop_override",
                        effect="override" if keep else "override_removed", text=override.text if keep else None)
    save_negotiation(workspace, Negotiation(agreement_id=agreement_id, decisions=[*negotiation.decisions, decision],
                                            overrides=overrides))
    _audit(workspace, agreement_id, decision, None)
    return decision


def _problem(exc: ValueError) -> str:
    """What an Override refused, in words: the field and why, without pydantic's links (session 7: "For further
    information visit https://errors.pydantic.dev/…/string_too_long" was all a user saw)."""
    if isinstance(exc, ValidationError):
        words = {"text": "the text", "base_text": "the clause text it replaces", "reason": "--reason",
                 "approved_by": "--by"}
        error = exc.errors()[0]
        where = words.get(str(error["loc"][0]) if error["loc"] else "", "the override")
        message = str(error["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}"
    return str(exc).splitlines()[-1].strip()


def _short(text: str | None) -> str:
    flat = printable(" ".join((text or "").split()))
    return flat if len(flat) <= _AUDIT_TEXT else flat[:_AUDIT_TEXT - 1] + "…"


def _audit(workspace: Workspace, agreement_id: str, decision: Decision, finding: ClauseFinding | None) -> None:
    details: dict[str, DetailValue] = {
        "clause": decision.clause_id, "point": decision.point, "verdict": decision.verdict,
        "effect": decision.effect, "decided_by": _short(decision.by), "reason": _short(decision.reason),
        "classification": decision.classification}
    if finding is not None:
        details["changes_by"] = sorted({_short(c.author) for c in finding.changes})[:20]
    if decision.answer_field is not None:
        details["answer"] = f"{decision.answer_field} = {_short(str(decision.answer_value))}"
    if decision.position is not None:
        details["position"] = decision.position
    if decision.text is not None:
        details["text"] = _short(decision.text)
    files = [workspace.agreement_dir(agreement_id) / "negotiation" / "decisions.json"]
    if decision.effect in ("answer", "position"):
        files.append(workspace.answers_path(agreement_id))
    record(workspace.trail, "negotiate_decision", agreement_id=agreement_id,
           agreement_version=decision.agreement_version, files=files, details=details)


def record_import(workspace: Workspace, agreement_id: str,
                  returned: Path) -> tuple[ImportReport, Path, bool, list[str]]:
    """Import `returned` (see `import_returned`), keep its report and record the import in the audit trail.

    The report keeps a bounded number of changes and comments (`ImportReport.bound`), and is never written when
    it would be larger than the tool reads back (MAX_IMPORT_BYTES).

    Returns:
        The report, the report file, whether this very file (same sha256) was imported before for the same
        version (then the earlier report and its decisions stand and nothing new is written), and the earlier
        reports that could not be read (never reused: a fresh report is written instead).

    Raises:
        InputError: as `import_returned`, or a report too large to keep even when bounded.
    """
    with recorded(workspace.trail, "negotiate_import", agreement_id=agreement_id,
                  details={"returned_file": _short(returned.name)}):
        report = import_returned(workspace, agreement_id, returned)
        report.returned_sha256 = sha256_file(returned)
        report.bound()
        folder = workspace.agreement_dir(agreement_id) / "negotiation"
        earlier = sorted(folder.glob(f"v{report.version}-import-*.json")) if folder.is_dir() else []
        unreadable: list[str] = []
        for path in earlier:
            try:
                before = read_import(workspace, agreement_id, path.name)
            except InputError:
                unreadable.append(path.name)
                continue
            if before.returned_sha256 == report.returned_sha256 and before.reader == report.reader:
                return before, path, True, unreadable
        data = report.to_json()
        if len(data) > MAX_IMPORT_BYTES:  # never write a report that `read_import` would refuse
            raise InputError(f"{returned}: its import report would be {len(data)} bytes, over the "
                             f"{MAX_IMPORT_BYTES} bytes a report may hold, even with changes and comments bounded; "
                             "the file proposes too much to import (ask for a returned file with fewer changes)")
        numbers = [int(m[1]) for p in earlier if (m := re.search(r"-import-([0-9]+)\.json$", p.name))]
        target = folder / f"v{report.version}-import-{max(numbers, default=0) + 1}.json"
        write_bytes_atomic(target, data)  # makes the folder, and leaves none when it cannot write
        kinds = ("formatting_only", "library_position", "answer_value", "deletes_clause", "non_standard",
                 "comments_only")
        counts = [(f"{kind}_clauses", sum(1 for f in report.clauses if f.classification == kind)) for kind in kinds]
        left_out = [("left_out_changes", report.left_out_changes), ("left_out_comments", report.left_out_comments),
                    ("left_out_untracked", report.left_out_untracked)]
        audit_import(workspace, agreement_id, report.version, target.name, returned.name,
                     [*(c for c in counts if c[1]), ("changes_outside_clauses", len(report.outside_changes)),
                      ("untracked_edits", len(report.untracked)), *(c for c in left_out if c[1]),
                      ("returned_sha256", report.returned_sha256)])
    return report, target, False, unreadable


def audit_import(workspace: Workspace, agreement_id: str, version: int, report_file: str, returned_name: str,
                 counts: Sequence[tuple[str | int, ...]]) -> None:
    """The import as an audit event: which file, which report, how many points of each kind (no text)."""
    details: dict[str, DetailValue] = {"returned_file": _short(returned_name), "report": report_file}
    for key, value in counts:
        details[str(key)] = value
    record(workspace.trail, "negotiate_import", agreement_id=agreement_id, agreement_version=version,
           files=[workspace.agreement_dir(agreement_id) / "negotiation" / report_file], details=details)

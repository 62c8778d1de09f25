"""Apply an agreement's clause overrides to a freshly assembled Agreement, or name the conflict three-way.

An override was approved against the library clause as rendered for this agreement then (its base text). If the
library (or the answers) now render that clause the same way, the override is applied as it was agreed. If they
render it differently, the override is not applied and not dropped: the agreement stops with the old clause, the
new clause and the override shown, until someone decides (`negotiate keep-override` / `drop-override`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from qa_builder.errors import InputError
from qa_builder.library.assemble import MAX_CLAUSE_CHARACTERS, MAX_CLAUSE_PARAGRAPHS, split_paragraphs
from qa_builder.models.agreement import Agreement, AgreementClause
from qa_builder.negotiation.decisions import Override, clause_lines

__all__ = ["OverrideConflict", "OverrideState", "apply_overrides", "conflict_message"]

State = Literal["applied", "conflict", "clause_gone"]


@dataclass(frozen=True)
class OverrideState:
    """What happened to one override in one build."""

    clause_id: str
    number: str
    title: str
    state: State
    old: str  # the clause the override was agreed against
    new: str  # the clause as the library renders it now ('' when it left the agreement)
    override: str
    library_changed: bool  # the clause's library version differs from the one the override was agreed on


class OverrideConflict(InputError):
    """An override's clause changed under it; the agreement is not built until someone decides."""


def _text(clause: AgreementClause) -> str:
    return "\n".join(clause_lines(clause))


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def apply_overrides(agreement: Agreement, overrides: Mapping[str, Override]) -> tuple[Agreement, list[OverrideState]]:
    """`agreement` with every override applied whose base text is still what the library renders.

    Returns:
        The agreement (digest recomputed) and the state of every override; conflicting ones are left unapplied.

    Raises:
        InputError: with the overrides the agreement's clauses would make more than MAX_CLAUSE_PARAGRAPHS
            paragraphs or MAX_CLAUSE_CHARACTERS characters, the bounds the library's clauses are held to.
    """
    states: list[OverrideState] = []
    sections = []
    seen: set[str] = set()
    for section in agreement.sections:
        clauses = []
        for clause in section.clauses:
            override = overrides.get(clause.clause_id)
            if override is None:
                clauses.append(clause)
                continue
            seen.add(clause.clause_id)
            now = _text(clause)
            clean = _same(now, override.base_text)
            states.append(OverrideState(clause.clause_id, clause.number, clause.title,
                                        "applied" if clean else "conflict", override.base_text, now, override.text,
                                        clause.version != override.base_version))
            if clean:
                clause = clause.model_copy(update={"paragraphs": split_paragraphs(override.text)})
            clauses.append(clause)
        sections.append(section.model_copy(update={"clauses": clauses}))
    for clause_id, override in overrides.items():
        if clause_id not in seen:
            states.append(OverrideState(clause_id, "—", clause_id, "clause_gone", override.base_text, "",
                                        override.text, True))
    paragraphs = [p for s in sections for c in s.clauses for p in c.paragraphs]
    characters = sum(len(p.text) for p in paragraphs)
    if len(paragraphs) > MAX_CLAUSE_PARAGRAPHS or characters > MAX_CLAUSE_CHARACTERS:
        raise InputError(f"agreement {agreement.id}: with its negotiated overrides its clauses would make "
                         f"{len(paragraphs):,} paragraphs and {characters:,} characters, more than an agreement may "
                         f"({MAX_CLAUSE_PARAGRAPHS:,} paragraphs, {MAX_CLAUSE_CHARACTERS:,} characters); shorten or "
                         "drop an override (negotiate drop-override)")
    changed = agreement.model_copy(update={"sections": sections, "model_digest": ""}).with_digest()
    return changed, states


def conflict_message(agreement_id: str, states: Sequence[OverrideState]) -> str:
    """The conflicts of `states` as lines: the first says what stopped; then, per clause, what the library changed
    (old clause → new clause) and what the override changed (old clause → override), as word differences."""
    conflicts = [s for s in states if s.state != "applied"]
    names = ", ".join(f"{s.number} {s.title} [{s.clause_id}]" for s in conflicts)
    lines = [f"agreement {agreement_id}: the library text under the override of {names} changed, so no new version "
             f"is built until someone decides; see `qa-builder negotiate status` and decide with `negotiate "
             f"keep-override` or `negotiate drop-override`"]
    for s in conflicts:
        override = _one_line("\n".join(f"{p.label} {p.text}" if p.label else p.text
                                        for p in split_paragraphs(s.override)))
        gone = s.state == "clause_gone"
        lines.append(f"  {s.number} {s.title} [{s.clause_id}]: "
                     + ("the clause is no longer in the agreement" if gone else "three-way conflict"))
        library = word_diff(_one_line(s.old), _one_line(s.new)) if s.new else "(the clause left the agreement)"
        lines.append(f"    old clause → new clause: {library}")
        lines.append(f"    old clause → override:   {word_diff(_one_line(s.old), override)}")
    return "\n".join(lines)


def word_diff(old: str, new: str, *, context: int = 4, hunks: int = 3) -> str:
    """Where `new` differs from `old`, word by word: '… may [-refer-]{+promptly refer+} the …', at most `hunks`."""
    a, b = old.split(), new.split()
    shown: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if len(shown) == hunks:
            shown.append("…")
            break
        gone = f"[-{' '.join(a[i1:i2])}-]" if i2 > i1 else ""
        added = f"{{+{' '.join(b[j1:j2])}+}}" if j2 > j1 else ""
        before = " ".join(a[max(0, i1 - context):i1])
        after = " ".join(a[i2:i2 + context])
        shown.append(f"…{before} {gone}{added} {after}…")
    return " ".join(shown) if shown else "(no difference in wording)"


def _one_line(text: str) -> str:
    return " ¶ ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())

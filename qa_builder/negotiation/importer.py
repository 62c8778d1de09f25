"""`negotiate import`: map a returned DOCX's changes and comments to clauses, and classify each changed clause."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeVar

from qa_builder.builds.pipeline import output_stem
from qa_builder.errors import InputError, QABuilderError
from qa_builder.library.assemble import split_paragraphs
from qa_builder.library.context import build_context
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import Agreement, AgreementClause
from qa_builder.models.answers import Answers
from qa_builder.models.library import ClauseLibrary
from qa_builder.negotiation.rerender import AnswerChange, AnswerValue, RenderBudget, find_answer_change
from qa_builder.negotiation.returned import Change, Comment, ReturnedDocument, ReturnedFileError, read_returned
from qa_builder.render.anchors import PROPERTY_AGREEMENT_ID, PROPERTY_DIGEST, PROPERTY_KIND, PROPERTY_VERSION
from qa_builder.sandbox.environment import TemplateProblem, accounted, compile_text, render_text
from qa_builder.workspace.layout import Workspace

__all__ = ["OUTSIDE_BODY", "ClauseFinding", "ImportReport", "UntrackedEdit", "analyse_returned", "import_returned",
           "make_answer_finder"]

Classification = Literal["formatting_only", "library_position", "answer_value", "deletes_clause", "non_standard",
                         "comments_only"]
AnswerFinder = Callable[[AgreementClause, list[str]], AnswerChange | None]
"""(clause as sent, proposed paragraph lines without the heading) → the answer change that renders them, if any."""
_SPACES = re.compile(r"\s+")
_FORMATTING = {"formatting", "paragraph_formatting"}
_Item = TypeVar("_Item", Change, Comment)
MAX_RECORDED_PER_CLAUSE = 200
"""The most changes, and the most comments, an import report keeps for one clause (and for outside the clauses)."""
MAX_RECORDED = 2000
"""The most changes, comments and untracked edits an import report keeps in all, each: a hostile DOCX with tens
of thousands of comments must not make a report the tool can no longer read."""
MAX_RECORDED_TEXT = 2000
READER = 2
"""What reads a returned file now: 1 read the body only; 2 also the page headers, footers, footnotes and endnotes
(session 7). A report an older reader made of the same file is not reused: it may have missed changes there."""
OUTSIDE_BODY = "the cover, annexes or signature blocks"
"""Where a change outside the clauses is when it is in the body (Change.part names the other places)."""
"""The most characters a kept change's or comment's author, date or text, or an untracked edit's texts, keep."""


@dataclass(frozen=True)
class UntrackedEdit:
    """A difference between what was sent and the returned file with every change rejected."""

    where: str
    sent: str
    returned: str

    def excerpts(self, context: int = 5) -> tuple[str, str]:
        """(sent, returned) cut to where they differ, with `context` words either side and '…' where cut, so that
        two long paragraphs that differ in one word do not print the same beginning twice."""
        a, b = self.sent.split(), self.returned.split()
        start = 0
        while start < min(len(a), len(b)) and a[start] == b[start]:
            start += 1
        end = 0
        while end < min(len(a), len(b)) - start and a[len(a) - 1 - end] == b[len(b) - 1 - end]:
            end += 1

        def cut(words: list[str]) -> str:
            first, last = max(0, start - context), len(words) - max(0, end - context)
            return ("… " if first else "") + " ".join(words[first:last]) + (" …" if last < len(words) else "")

        return cut(a), cut(b)


@dataclass
class ClauseFinding:
    """A clause the counterparty changed or commented on."""

    clause_id: str
    number: str
    title: str
    classification: Classification
    detail: str
    proposed: list[str]
    changes: list[Change] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    lost_requirements: list[str] = field(default_factory=list)
    position: str | None = None  # library_position: the position the proposed text equals
    answer_field: str | None = None  # answer_value: the answer (dotted path) and the value that render it
    answer_value: AnswerValue = None
    answer_current: AnswerValue = None


@dataclass
class ImportReport:
    """What a returned DOCX proposes, clause by clause."""

    agreement_id: str
    version: int
    returned: str
    anchored_by: dict[str, int]  # how many paragraphs each anchor kind mapped: content_control, bookmark, text
    clauses: list[ClauseFinding]
    outside_changes: list[Change]
    outside_comments: list[Comment]
    untracked: list[UntrackedEdit]
    returned_sha256: str = ""  # of the returned file, so importing the same file twice is recognised
    left_out_changes: int = 0  # tracked changes not kept in the report (over MAX_RECORDED_PER_CLAUSE / MAX_RECORDED)
    left_out_comments: int = 0
    left_out_untracked: int = 0
    reader: int = 1  # READER when made; 1 (reports without it) read the body only

    def outside_places(self) -> list[str]:
        """Where the changes and comments outside the clauses are, in words, each place once, e.g.
        ["the cover, annexes or signature blocks", "the page header", "the footer"]."""
        parts = [c.part for c in self.outside_changes] + [c.part for c in self.outside_comments]
        return list(dict.fromkeys(part or OUTSIDE_BODY for part in parts))

    def left_out(self) -> str | None:
        """A sentence saying what the report leaves out, or None when it keeps everything."""
        parts = [f"{n} {what}" for n, what in ((self.left_out_changes, "tracked change(s)"),
                                                (self.left_out_comments, "comment(s)"),
                                                (self.left_out_untracked, "untracked edit(s)")) if n]
        if not parts:
            return None
        return (f"{' and '.join(parts)} left out of the report (it keeps at most {MAX_RECORDED_PER_CLAUSE} changes "
                f"and {MAX_RECORDED_PER_CLAUSE} comments per clause, {MAX_RECORDED} of each in all)")

    def bound(self) -> None:
        """Keep at most MAX_RECORDED_PER_CLAUSE changes and comments per clause and MAX_RECORDED of each in all
        (texts cut to MAX_RECORDED_TEXT characters), counting what is left out in the left_out_* fields."""
        budget = {"changes": MAX_RECORDED, "comments": MAX_RECORDED}

        def keep(items: list[_Item], kind: str, cut: Callable[[_Item], _Item]) -> tuple[list[_Item], int]:
            n = min(len(items), MAX_RECORDED_PER_CLAUSE, budget[kind])
            budget[kind] -= n
            return [cut(item) for item in items[:n]], len(items) - n

        for finding in self.clauses:
            finding.changes, changes = keep(finding.changes, "changes", _cut_change)
            finding.comments, comments = keep(finding.comments, "comments", _cut_comment)
            self.left_out_changes += changes
            self.left_out_comments += comments
        self.outside_changes, changes = keep(self.outside_changes, "changes", _cut_change)
        self.outside_comments, comments = keep(self.outside_comments, "comments", _cut_comment)
        self.left_out_changes += changes
        self.left_out_comments += comments
        self.left_out_untracked += max(0, len(self.untracked) - MAX_RECORDED)
        self.untracked = [UntrackedEdit(e.where[:MAX_RECORDED_TEXT], e.sent[:MAX_RECORDED_TEXT],
                                        e.returned[:MAX_RECORDED_TEXT]) for e in self.untracked[:MAX_RECORDED]]

    def to_json(self) -> bytes:
        """The report as indented UTF-8 JSON."""
        return json.dumps(asdict(self), indent=1, ensure_ascii=False).encode("utf-8")


def _cut_change(change: Change) -> Change:
    """A change with its author, date and text cut to MAX_RECORDED_TEXT characters."""
    n = MAX_RECORDED_TEXT
    return replace(change, author=change.author[:n], date=change.date[:n], text=change.text[:n])


def _cut_comment(comment: Comment) -> Comment:
    """A comment with its ids, author, date and text cut to MAX_RECORDED_TEXT characters."""
    n = MAX_RECORDED_TEXT
    return replace(comment, comment_id=comment.comment_id[:n], author=comment.author[:n], date=comment.date[:n],
                   text=comment.text[:n], reply_to=comment.reply_to[:n] if comment.reply_to else comment.reply_to)


def _norm(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _lines(clause: AgreementClause) -> list[str]:
    return [f"{clause.number}\t{clause.title}",
            *(f"{p.label}\t{p.text}" if p.label else p.text for p in clause.paragraphs)]


@accounted()
def import_returned(workspace: Workspace, agreement_id: str, returned: Path) -> ImportReport:
    """Read `returned` against the version of `agreement_id` it was made from.

    Raises:
        InputError: the file is unreadable, is another agreement, or the workspace lacks the version it names.
    """
    known = workspace.agreement_ids()
    if agreement_id not in known:
        raise InputError(f"{workspace.root}: has no agreement '{agreement_id}' (it has: {', '.join(known) or 'none'})")
    document = read_returned(returned)
    if document.properties.get(PROPERTY_KIND) == "comparison":
        latest = workspace.latest(agreement_id)
        clean = f"{output_stem(agreement_id, latest)}.docx" if latest is not None else "the agreement DOCX"
        raise InputError(f"{returned}: is a comparison document (a redline or counter-proposal), not a version of "
                         f"the agreement; have the counterparty mark up {clean} and import that")
    found_id = document.properties.get(PROPERTY_AGREEMENT_ID)
    if found_id is not None and found_id != agreement_id:
        raise InputError(f"{returned}: is agreement {found_id}, not {agreement_id}")
    versions = workspace.versions(agreement_id)
    if not versions:
        raise InputError(f"{workspace.root}: agreement {agreement_id} has no built version to compare with")
    text_version = document.properties.get(PROPERTY_VERSION, "")
    version = int(text_version) if text_version.isdigit() else versions[-1]
    if version not in versions:
        raise InputError(f"{returned}: was made from version {version} of {agreement_id}, which this workspace "
                         "does not have")
    model = workspace.agreement(agreement_id, version)
    digest = document.properties.get(PROPERTY_DIGEST)
    if digest is not None and digest != model.model_digest:
        raise InputError(f"{returned}: its model digest does not match version {version} of {agreement_id} in "
                         "this workspace; it was not made from that version")
    sent_path = workspace.version_dir(agreement_id, version) / f"{output_stem(agreement_id, version)}.docx"
    try:
        sent = read_returned(sent_path)
    except ReturnedFileError as exc:
        raise InputError(f"the DOCX sent as version {version} cannot be read: {exc}") from exc
    positions = _positions(workspace, agreement_id, model)
    return analyse_returned(document, sent, model, positions, answer_finder=_answer_finder(workspace, agreement_id))


def _answer_finder(workspace: Workspace, agreement_id: str) -> AnswerFinder:
    from qa_builder.workspace.inputs import load_workspace_answers

    return make_answer_finder(load_library(workspace.library_dir),
                              load_workspace_answers(workspace, agreement_id).answers)


def make_answer_finder(library: ClauseLibrary, answers: Answers) -> AnswerFinder:
    """Re-renders a clause with other values of the answers it reads (see negotiation.rerender)."""
    clauses = {c.id: c for c in library.clauses}
    budget = RenderBudget()

    def find(clause: AgreementClause, proposed: list[str]) -> AnswerChange | None:
        source = clauses.get(clause.clause_id)
        return None if source is None else find_answer_change(source, clause.position, answers, library, proposed,
                                                              budget)

    return find


def _positions(workspace: Workspace, agreement_id: str, model: Agreement) -> dict[str, dict[str, list[str]]]:
    """Each clause's library positions as this agreement's answers render them: clause id → position → lines."""
    from qa_builder.workspace.inputs import load_workspace_answers

    library = load_library(workspace.library_dir)
    context = build_context(load_workspace_answers(workspace, agreement_id).answers, library.clocks,
                            library.jurisdictions)
    rendered: dict[str, dict[str, list[str]]] = {}
    used = {c.clause_id for s in model.sections for c in s.clauses}
    for clause in library.clauses:
        if clause.id not in used or not clause.positions:
            continue
        for name, source in clause.positions.items():
            try:
                paragraphs = split_paragraphs(render_text(compile_text(source), context))
            except (TemplateProblem, QABuilderError):
                continue  # a position these answers cannot render is no candidate
            rendered.setdefault(clause.id, {})[name] = [f"{p.label}\t{p.text}" if p.label else p.text
                                                         for p in paragraphs]
    return rendered


def analyse_returned(document: ReturnedDocument, sent: ReturnedDocument, model: Agreement,
                     positions: dict[str, dict[str, list[str]]], *,
                     answer_finder: AnswerFinder | None = None) -> ImportReport:
    """Map the returned document to `model`'s clauses, find untracked edits against `sent`, classify clauses.

    Args:
        document: the returned file.
        sent: the file as sent (no tracked changes).
        model: the Agreement model `sent` was rendered from.
        positions: clause id → library position → rendered paragraph lines (without the heading).
        answer_finder: finds the answer value under which a clause renders a proposed text (None: not tried).
    """
    clauses = [c for s in model.sections for c in s.clauses]
    owner, anchored_by = _owners(document, clauses)
    by_clause: dict[int, ClauseFinding] = {}
    outside_changes: list[Change] = []
    outside_comments: list[Comment] = []
    touched: dict[int, tuple[list[Change], list[Comment]]] = {}
    for change in document.changes:
        index = None if change.part else owner[change.paragraph]
        if index is None:
            outside_changes.append(change)
        else:
            touched.setdefault(index, ([], []))[0].append(change)
    for comment in document.comments:
        index = owner[comment.paragraph] if comment.paragraph is not None else None
        if index is None:
            outside_comments.append(comment)
        else:
            touched.setdefault(index, ([], []))[1].append(comment)
    accepted: dict[int, list[str]] = {}
    for text, sources in document.lines(accept=True):
        # a deleted paragraph mark joins what is left of a paragraph to the next one: the joined text belongs to
        # the paragraphs that still give it text (a clause deleted whole, marks and all, keeps none of the next
        # heading's text)
        giving = [i for i in sources if document.paragraphs[i].accepted.strip()] or sources
        index = next((owner[i] for i in giving if owner[i] is not None), None)
        if index is not None:
            accepted.setdefault(index, []).append(text)
    for index, (changes, comments) in sorted(touched.items()):
        clause = clauses[index]
        proposed = accepted.get(index, [])
        by_clause[index] = _classify(clause, proposed, changes, comments, positions.get(clause.clause_id, {}),
                                     model, answer_finder)
    return ImportReport(
        agreement_id=model.id, version=model.version, returned=str(document.path), anchored_by=anchored_by,
        clauses=[by_clause[i] for i in sorted(by_clause)], outside_changes=outside_changes,
        outside_comments=outside_comments, untracked=_untracked(document, sent, owner, clauses), reader=READER)


def _owners(document: ReturnedDocument, clauses: Sequence[AgreementClause]) -> tuple[list[int | None], dict[str, int]]:
    """The clause (index into `clauses`) of each paragraph: content control, then bookmark, then text alignment;
    a paragraph the counterparty inserted belongs to the clause of the paragraph before it."""
    by_id = {c.clause_id: i for i, c in enumerate(clauses)}
    line_owner: dict[str, set[int]] = {}
    for i, clause in enumerate(clauses):
        for line in _lines(clause):
            line_owner.setdefault(_norm(line), set()).add(i)
    owner: list[int | None] = []
    counts = {"content_control": 0, "bookmark": 0, "text": 0, "inserted": 0}
    for p in document.paragraphs:
        index: int | None = None
        if p.tag is not None and p.tag.clause_id in by_id:
            index, how = by_id[p.tag.clause_id], "content_control"
        elif p.bookmark is not None and 1 <= p.bookmark[0] <= len(clauses):
            index, how = p.bookmark[0] - 1, "bookmark"
        elif len(line_owner.get(_norm(p.rejected), ())) == 1 and _norm(p.rejected):
            index, how = next(iter(line_owner[_norm(p.rejected)])), "text"
        elif owner and owner[-1] is not None and (p.joins_next_rejected or not p.in_rejected
                                                  or not _norm(p.rejected)):
            index, how = owner[-1], "inserted"
        if index is not None:
            counts[how] += 1
        owner.append(index)
    return owner, counts


def _classify(clause: AgreementClause, proposed: list[str], changes: list[Change], comments: list[Comment],
              positions: dict[str, list[str]], model: Agreement, answer_finder: AnswerFinder | None) -> ClauseFinding:
    finding = ClauseFinding(clause.clause_id, clause.number, clause.title, "non_standard", "", proposed, changes,
                            comments)
    sent = [_norm(line) for line in _lines(clause)]
    now = [_norm(line) for line in proposed if _norm(line)]
    if not now:
        finding.classification = "deletes_clause"
        finding.lost_requirements = _lost(clause, model)
        lost = ", ".join(finding.lost_requirements) or "none"
        finding.detail = f"deletes clause {clause.number}; requirements left without a clause: {lost}"
    elif now == sent:
        if any(c.kind in _FORMATTING for c in changes) and all(c.kind in _FORMATTING for c in changes):
            finding.classification, finding.detail = "formatting_only", "formatting changed; the text is as sent"
        elif not changes:
            finding.classification, finding.detail = "comments_only", "comments only; the text is as sent"
        else:
            finding.classification, finding.detail = "formatting_only", "changes cancel out; the text is as sent"
    else:
        body = now[1:] if now and now[0] == sent[0] else now
        match = next((name for name, lines in positions.items() if [_norm(x) for x in lines] == body), None)
        plain_position = match is not None and match != clause.position and not _position_from_answers(clause, model)
        answer = None if plain_position or answer_finder is None else answer_finder(clause, body)
        if answer is not None:
            finding.classification = "answer_value"
            finding.answer_field, finding.answer_value, finding.answer_current = \
                answer.field, answer.value, answer.current
            finding.detail = (f"equals the clause with {answer.field} = {_shown(answer.value)} (the answers say "
                              f"{_shown(answer.current)})")
        elif match is not None and match != clause.position:
            finding.classification, finding.position = "library_position", match
            finding.detail = f"equals library position '{match}' of clause {clause.clause_id}"
        else:
            finding.detail = "text that is not in the clause library"
    return finding


def _position_from_answers(clause: AgreementClause, model: Agreement) -> bool:
    """Whether the clause's position follows an answer (position_from) rather than being chosen by name."""
    decision = next((d for d in model.decisions if d.clause_id == clause.clause_id), None)
    return decision is not None and "position from" in decision.reason


def _shown(value: AnswerValue) -> str:
    return "none" if value is None else "yes" if value is True else "no" if value is False else str(value)


def _lost(clause: AgreementClause, model: Agreement) -> list[str]:
    """Requirements whose only satisfying clause in the agreement is `clause`."""
    return [row.requirement_id for row in model.traceability if row.clause_numbers == [clause.number]]


def _untracked(document: ReturnedDocument, sent: ReturnedDocument, owner: list[int | None],
               clauses: Sequence[AgreementClause]) -> list[UntrackedEdit]:
    returned_lines = document.lines(accept=False)
    sent_lines = sent.lines(accept=False)
    a = [_norm(text) for text, _ in sent_lines]
    b = [_norm(text) for text, _ in returned_lines]
    edits = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        sources = [i for _, src in returned_lines[j1:j2] for i in src] or \
            [i for _, src in returned_lines[max(j1 - 1, 0):j1] for i in src]
        index = next((owner[i] for i in sources if owner[i] is not None), None)
        if index is not None:
            where = f"clause {clauses[index].number} {clauses[index].title}"
        else:
            where = f"paragraph {(sources[0] + 1) if sources else j1 + 1} of the body (outside the clauses)"
        edits.append(UntrackedEdit(where, "\n".join(a[i1:i2]), "\n".join(b[j1:j2])))
    for place in dict.fromkeys([*sent.outside, *document.outside]):
        edits.extend(_untracked_outside(place, sent.outside.get(place, []), document.outside.get(place, [])))
    return edits


def _untracked_outside(place: str, sent: list[str], returned: list[str]) -> list[UntrackedEdit]:
    """The differences between a page header, footer or the notes as sent and as returned with every change
    rejected, named by the place ("the page header"); empty lines and spacing are not compared."""
    a = [line for line in map(_norm, sent) if line]
    b = [line for line in map(_norm, returned) if line]
    return [UntrackedEdit(place, "\n".join(a[i1:i2]), "\n".join(b[j1:j2]))
            for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
            if tag != "equal"]

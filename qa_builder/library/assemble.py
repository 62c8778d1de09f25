"""Selected clauses + answers → the numbered Agreement model (texts rendered in the sandbox)."""

from __future__ import annotations

import re
from typing import Any

from qa_builder.errors import LibraryError, RenderError
from qa_builder.library.context import ACCEPTOR_TERM, SPONSOR_TERM, build_context
from qa_builder.library.coverage import RequirementCoverage, requirement_coverage
from qa_builder.library.raci import resolve_raci
from qa_builder.library.select import ClauseSelection, condition_holds
from qa_builder.library.sources import SourceIndex
from qa_builder.models.agreement import (
    UNVERIFIED_MARK,
    AffiliatePartyBlock,
    Agreement,
    AgreementClause,
    AgreementSection,
    ClauseParagraph,
    PartyBlock,
    RaciRow,
    RevisionRow,
    SignatoryBlock,
    SourceRow,
    TimelineRow,
    TraceRow,
)
from qa_builder.models.answers import Answers, Contact
from qa_builder.models.library import Clause, ClauseLibrary
from qa_builder.sandbox.environment import TemplateProblem, accounted, compile_text, raci_code, render_text

ITEM_LABELS = "abcdefghijklmnopqrstuvwxyz"


@accounted()
def assemble_agreement(answers: Answers, library: ClauseLibrary, selection: ClauseSelection, *,
                       coverage: list[RequirementCoverage] | None = None) -> Agreement:
    """Build the Agreement model, with its model_digest.

    Args:
        answers: validated answers.
        library: the clause library.
        selection: the clauses chosen for these answers.
        coverage: the requirement coverage of this selection, when the caller already computed it.

    Raises:
        LibraryError: a clause text was refused by the sandbox, overran its limits or failed to render (names
            the clause and its file).
        RenderError: a clause text rendered empty.
    """
    context = build_context(answers, library.clocks, library.jurisdictions)
    if coverage is None:
        coverage = requirement_coverage(library, answers, selection)
    sections, numbers = _sections(library, selection, context)
    traceability, sources = _traceability(library, selection, numbers, coverage)
    info = answers.agreement
    agreement = Agreement(
        id=info.id,
        title=info.title,
        version=info.version,
        effective_date=info.effective_date,
        review_period_months=info.review_period_months,
        sponsor=_party("sponsor", SPONSOR_TERM, answers.sponsor.name, answers.sponsor.address,
                       answers.sponsor.country, answers.sponsor.quality_contact),
        contract_acceptor=_party("contract_acceptor", ACCEPTOR_TERM, answers.contract_acceptor.name,
                                 answers.contract_acceptor.address, answers.contract_acceptor.country,
                                 answers.contract_acceptor.quality_contact),
        affiliates=_affiliate_parties(answers),
        products=[_product_label(p.name, p.dosage_form) for p in answers.products],
        markets=sorted({m for p in answers.products for m in p.markets}),
        library_name=library.info.name,
        library_version=library.info.version,
        sections=sections,
        raci=_raci(answers, library, context),
        timelines=_timelines(selection, numbers, context),
        signatories=_signatories(answers),
        revisions=_revisions(answers),
        traceability=traceability,
        sources=sources,
        decisions=selection.decisions,
    )
    return agreement.with_digest()


def _party(role: Any, term: str, name: str, address: str, country: str, contact: Contact) -> PartyBlock:
    return PartyBlock(role=role, defined_term=term, name=name, address=address, country=country,
                      quality_contact_name=contact.name, quality_contact_title=contact.title,
                      quality_contact_email=contact.email)


MAX_CLAUSE_PARAGRAPHS = 10_000
"""Paragraphs of all the clauses of one agreement (the 37-page example has about 240). One clause text of a million
characters made 250,000 paragraphs: an agreement `negotiate import` refuses (over 20,000 paragraphs) whose build
took 80 s and 900 MB (session 5 attack)."""
MAX_CLAUSE_CHARACTERS = 1_000_000
"""Characters of all the clauses of one agreement (the bundled examples have 66,000 to 84,000). Each text is bounded
by its render, but five clauses of 945,000 characters each (as one paragraph) made a build of 76 s and 1.3 GB,
and the whole library's would have made one of 13 GB (session 6 attack)."""


def _affiliate_parties(answers: Answers) -> list[AffiliatePartyBlock]:
    """The affiliates that are parties (joins_as_party), each with the words the cover says of it."""
    terms = {"sponsor": SPONSOR_TERM, "contract_acceptor": ACCEPTOR_TERM}
    return [AffiliatePartyBlock(affiliate_of=a.affiliate_of, name=a.name, address=a.address, country=a.country,
                                term_line=f"(an affiliate of the {terms[a.affiliate_of]}, a party to this Agreement "
                                          f"in its role as {a.role.rstrip('.')})")
            for a in answers.affiliates if a.joins_as_party]


def _product_label(name: str, dosage_form: str | None) -> str:
    return f"{name} ({dosage_form})" if dosage_form else name


def _render(clause: Clause, source: str, label: str, context: dict[str, Any]) -> str:
    """Render one clause text in the sandbox, within its limits (sandbox.CLAUSE_LIMITS).

    Raises:
        LibraryError: the text was refused, overran its limits or failed; one line naming file, line and clause.
    """
    try:
        return render_text(compile_text(source), context)
    except TemplateProblem as exc:
        where = f"{clause.source_file} line {clause.source_line}"
        raise LibraryError(f"{where}: clause '{clause.id}' {label} {exc}") from exc


def split_paragraphs(text: str) -> list[ClauseParagraph]:
    """Blank lines separate body paragraphs; lines starting '- ' are lettered items."""
    paragraphs: list[ClauseParagraph] = []
    items = 0
    for block in re.split(r"\n\s*\n", text.strip()):
        body: list[str] = []
        for line in block.splitlines():
            stripped = line.strip()
            if stripped.startswith("- "):
                if body:
                    paragraphs.append(ClauseParagraph(kind="body", text=" ".join(body)))
                    body = []
                    items = 0
                label = f"({ITEM_LABELS[items % len(ITEM_LABELS)]})"
                items += 1
                paragraphs.append(ClauseParagraph(kind="item", label=label, text=_squash(stripped[2:])))
            elif stripped:
                body.append(_squash(stripped))
        if body:
            paragraphs.append(ClauseParagraph(kind="body", text=" ".join(body)))
            items = 0
    return paragraphs


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _sections(
    library: ClauseLibrary, selection: ClauseSelection, context: dict[str, Any]
) -> tuple[list[AgreementSection], dict[str, str]]:
    by_section: dict[str, list[AgreementClause]] = {}
    numbers: dict[str, str] = {}
    total = characters = 0
    ordered = sorted(library.info.sections, key=lambda s: s.order)
    section_number = {s.id: 0 for s in ordered}
    next_number = 0
    for section in ordered:
        if any(sel.clause.section == section.id for sel in selection.selected):
            next_number += 1
            section_number[section.id] = next_number
    for sel in selection.selected:
        clause = sel.clause
        source = clause.text if clause.text is not None else (clause.positions or {})[sel.position or ""]
        label = "text" if sel.position is None else f"position '{sel.position}'"
        paragraphs = split_paragraphs(_render(clause, source, label, context))
        if not paragraphs:
            raise RenderError(f"{clause.source_file} line {clause.source_line}: clause '{clause.id}' renders empty")
        characters += sum(len(p.text) for p in paragraphs)
        if characters > MAX_CLAUSE_CHARACTERS:
            raise LibraryError(f"{clause.source_file} line {clause.source_line}: clause '{clause.id}' {label} "
                               f"brings the agreement's clauses past {MAX_CLAUSE_CHARACTERS:,} characters (a Quality "
                               "Agreement has under 100,000)")
        total += len(paragraphs)
        if total > MAX_CLAUSE_PARAGRAPHS:
            raise LibraryError(f"{clause.source_file} line {clause.source_line}: clause '{clause.id}' {label} "
                               f"renders {len(paragraphs):,} paragraphs, which brings the agreement's clauses past "
                               f"{MAX_CLAUSE_PARAGRAPHS:,} paragraphs (a Quality Agreement has a few hundred)")
        clauses = by_section.setdefault(clause.section, [])
        number = f"{section_number[clause.section]}.{len(clauses) + 1}"
        numbers[clause.id] = number
        clauses.append(AgreementClause(number=number, clause_id=clause.id, version=clause.version,
                                       position=sel.position, title=clause.title, paragraphs=paragraphs,
                                       references=clause.references))
    sections = [
        AgreementSection(number=section_number[s.id], id=s.id, title=s.title, clauses=by_section[s.id])
        for s in ordered if s.id in by_section
    ]
    return sections, numbers


def format_raci(code: str) -> str:
    """'RA' → 'R/A'; '-' → '–' (the same notation clause texts get from the `raci_code` filter)."""
    return raci_code(code)


def _raci(answers: Answers, library: ClauseLibrary, context: dict[str, Any]) -> list[RaciRow]:
    rows: list[RaciRow] = []
    for number, resolved in enumerate(resolve_raci(answers, library, context), start=1):
        activity = resolved.activity
        notes = _join_notes(resolved.notes or "", resolved.split_of_duties or "")
        rows.append(RaciRow(number=number, activity_id=activity.id, area=activity.area, activity=resolved.wording(),
                            sponsor=format_raci(resolved.sponsor),
                            contract_acceptor=format_raci(resolved.contract_acceptor),
                            notes=notes, overridden=resolved.override is not None))
    return rows


def _join_notes(notes: str, split: str) -> str:
    """A row's notes and its split of duties as one cell; the notes get a full stop so the two do not run on."""
    notes, split = notes.strip(), split.strip()
    if notes and split and not notes.endswith((".", "!", "?", ".)")):
        notes += "."
    return " ".join(x for x in (notes, split) if x)


def _timelines(selection: ClauseSelection, numbers: dict[str, str], context: dict[str, Any]) -> list[TimelineRow]:
    rows: list[TimelineRow] = []
    for sel in selection.selected:
        clause = sel.clause
        for i, timeline in enumerate(clause.timelines):
            where = f"{clause.source_file} line {clause.source_line}: clause '{clause.id}' timelines[{i}]"
            if not condition_holds(timeline.applies_when, context, where):
                continue
            deadline = _squash(_render(clause, timeline.deadline, f"timelines[{i}].deadline", context))
            clock, trigger = split_deadline(deadline)
            rows.append(TimelineRow(event=timeline.event, deadline=deadline, clause_number=numbers[clause.id],
                                    who=WHO[timeline.who], clock=clock, trigger=trigger))
    return rows


WHO = {"sponsor": SPONSOR_TERM, "contract_acceptor": ACCEPTOR_TERM, "both": "Both parties"}
_CLOCK_THEN_TRIGGER = re.compile(
    r"^(.*?\b\d+\s+(?:hours?|(?:Business |working )?[Dd]ays?|months?|years?))"
    r"\s+((?:of|after|before|from|until)\b.*)$")


def split_deadline(deadline: str) -> tuple[str, str]:
    """'within 24 hours of discovery' → ('within 24 hours', 'of discovery'); no trigger → (deadline, '')."""
    match = _CLOCK_THEN_TRIGGER.match(deadline)
    if match is None:
        return deadline, ""
    return match.group(1), match.group(2)


def _signatories(answers: Answers) -> list[SignatoryBlock]:
    counts = {"sponsor": 0, "contract_acceptor": 0}
    names = {"sponsor": answers.sponsor.name, "contract_acceptor": answers.contract_acceptor.name}
    blocks: list[SignatoryBlock] = []
    ordered = [s for s in answers.signatories if s.party == "sponsor"] + [
        s for s in answers.signatories if s.party == "contract_acceptor"]
    for signatory in ordered:
        counts[signatory.party] += 1
        blocks.append(SignatoryBlock(field_name=f"sig_{signatory.party}_{counts[signatory.party]}",
                                     party=signatory.party,
                                     party_name=signatory.on_behalf_of or names[signatory.party],
                                     name=signatory.name, title=signatory.title, email=signatory.email,
                                     meaning=signatory.meaning))
    return blocks


def _revisions(answers: Answers) -> list[RevisionRow]:
    rows = [RevisionRow(version=r.version, date=r.date, description=r.description) for r in answers.revision_history]
    info = answers.agreement
    if not any(r.version == info.version for r in rows):
        text = "First issue." if info.version == 1 else f"Version {info.version}."
        rows.append(RevisionRow(version=info.version, date=info.effective_date, description=text))
    return sorted(rows, key=lambda r: r.version)


def _traceability(
    library: ClauseLibrary, selection: ClauseSelection, numbers: dict[str, str], coverage: list[RequirementCoverage]
) -> tuple[list[TraceRow], list[SourceRow]]:
    """Annex C: each requirement that applies to this arrangement (its `applies_when` holds), with the clauses that
    cite it, and the instruments those rows cite, each once under its short key.

    A clause may cite a requirement that does not apply here (a clause serving US and EU arrangements cites both);
    such a requirement is no row: Annex C lists what applies to this agreement, not what the library knows.
    """
    applicable = {c.requirement.id for c in coverage}
    citing: dict[str, list[str]] = {}
    for sel in selection.selected:
        for ref in sel.clause.references:
            citing.setdefault(ref, []).append(numbers[sel.clause.id])
    index = SourceIndex(library.sources)
    rows: list[TraceRow] = []
    for requirement in library.requirements:
        if requirement.id not in applicable:
            continue
        citation = "; ".join(c.short for c in index.cite(requirement.source))
        if not requirement.verified:
            citation = f"{citation} {UNVERIFIED_MARK}"
        rows.append(TraceRow(requirement_id=requirement.id, source=requirement.source, summary=requirement.summary,
                             clause_numbers=citing.get(requirement.id, []), citation=citation))
    return rows, [SourceRow(key=key, citation=citation) for key, citation in index.used()]

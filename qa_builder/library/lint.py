"""Library lint: render every clause under a matrix of arrangements and refuse text a reader would stumble on.

What it refuses, per rendered paragraph: a body paragraph without terminal punctuation (a Jinja branch that
never reaches the shared tail), an empty list item, Jinja that was not rendered, doubled spaces, "1 Days"-style
plurals, defined terms used but not defined (and defined but never used), and clocks that the clause text
states but Annex B does not list (or the other way round).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qa_builder.errors import LibraryError, QABuilderError
from qa_builder.library.assemble import assemble_agreement
from qa_builder.library.select import select_clauses
from qa_builder.models.agreement import Agreement
from qa_builder.models.answers import Answers
from qa_builder.models.library import ClauseLibrary
from qa_builder.sandbox.environment import accounted

UNITS = {
    "hour": "hour", "hours": "hour",
    "day": "day", "days": "day",
    "business day": "business day", "business days": "business day",
    "working day": "working day", "working days": "working day",
    "month": "month", "months": "month",
}
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "ten": 10}
# A clock: a number and a time unit. Retention periods in years and "preceding 12 months" look-back windows
# are durations of a record or a statistic, not clocks an obligation must meet, and are not matched.
CLOCK = re.compile(r"(?<![\w.])(\d+)\s+(hours?|(?:Business|business|working)\s+Days?|days?|months?)\b",
                   re.IGNORECASE)
NOT_A_CLOCK_BEFORE = re.compile(r"(preceding|previous|past|last)\s*$", re.IGNORECASE)
BAD_PLURAL = re.compile(r"(?<![\d.])1\s+(hours|days|Business Days|working days|months|years)\b")
TERMINAL = (".", ":", ";", "?", "!", ".)", ".\"", ".”")
DEFINED = re.compile(r"^\"([A-Z][^\"]+)\"(?: and \"([A-Z][^\"]+)\")? mean")


@dataclass(frozen=True)
class LintFinding:
    """One problem in a rendered clause, with the arrangement that shows it."""

    clause_id: str
    arrangement: str
    problem: str

    def line(self) -> str:
        """The finding as one line for the terminal."""
        return f"clause '{self.clause_id}' ({self.arrangement}): {self.problem}"


@dataclass(frozen=True)
class LintReport:
    """What the lint rendered and what it found."""

    contexts: int
    clauses: int
    paragraphs: int
    findings: list[LintFinding]


def clock_key(amount: str, unit: str) -> tuple[int, str]:
    """('5', 'Business Days') → (5, 'business day')."""
    return int(amount), UNITS[re.sub(r"\s+", " ", unit.lower())]


def clocks_in(text: str) -> Counter[tuple[int, str]]:
    """The clocks a piece of text states, as (amount, unit) with their counts."""
    found: Counter[tuple[int, str]] = Counter()
    for match in CLOCK.finditer(text):
        if NOT_A_CLOCK_BEFORE.search(text[max(0, match.start() - 20):match.start()]):
            continue
        found[clock_key(match.group(1), match.group(2))] += 1
    return found


def clock_mismatches(agreement: Agreement) -> Iterator[tuple[str, str]]:
    """(clause id, problem) for each clock a clause states that Annex B lacks for it, and the reverse."""
    annex: dict[str, set[tuple[int, str]]] = {}
    for row in agreement.timelines:
        annex.setdefault(row.clause_number, set()).update(clocks_in(row.deadline))
    for section in agreement.sections:
        for clause in section.clauses:
            stated = set(clocks_in(" ".join(p.text for p in clause.paragraphs)))
            listed = annex.get(clause.number, set())
            for amount, unit in sorted(stated - listed):
                yield clause.clause_id, (f"clause {clause.number} states a clock of {amount} {unit}(s) that "
                                         "Annex B does not list for it")
            for amount, unit in sorted(listed - stated):
                yield clause.clause_id, (f"Annex B lists a clock of {amount} {unit}(s) for clause {clause.number}, "
                                         "which its text does not state")


def defined_terms(agreement: Agreement, *, inline: bool = True) -> set[str]:
    """The capitalised terms the Definitions clause defines, and (with `inline`) those defined in a clause's
    own text ('(the "Sponsor")', '"KPIs" means')."""
    terms: set[str] = set()
    for section in agreement.sections:
        for clause in section.clauses:
            for paragraph in clause.paragraphs:
                match = DEFINED.match(paragraph.text)
                if clause.clause_id == "definitions" and match:
                    terms.update(t for t in match.groups() if t)
                if inline:
                    terms.update(re.findall(r"\((?:the |a |together, )?\"([A-Z][^\"]+)\"\)", paragraph.text))
                    terms.update(re.findall(r"\"([A-Z][\w -]+)\" means", paragraph.text))
    return terms


def paragraph_problems(text: str, kind: str) -> Iterator[str]:
    """Problems in one rendered paragraph."""
    shown = text if len(text) <= 70 else f"…{text[-60:]}"
    if not text.strip():
        yield "an empty " + ("list item" if kind == "item" else "paragraph")
        return
    if "{{" in text or "{%" in text or "}}" in text or "%}" in text:
        yield f"unrendered Jinja in '{shown}'"
    if "  " in text:
        yield f"doubled space in '{shown}'"
    if kind == "body" and not text.rstrip().endswith(TERMINAL):
        yield f"paragraph ends without terminal punctuation: '{shown}'"
    for match in BAD_PLURAL.finditer(text):
        yield f"'{match.group(0)}' should be singular"


def lint_agreement(agreement: Agreement, arrangement: str, terms_used: Counter[str],
                   watched: tuple[str, ...] = (), clause_raci: dict[str, list[str]] | None = None
                   ) -> Iterator[LintFinding]:
    """Every problem in one assembled agreement.

    Args:
        agreement: the assembled agreement.
        arrangement: a label for the arrangement, used in findings.
        terms_used: counts of defined terms used, updated in place.
        watched: the library's defined terms.
        clause_raci: clause id → the RACI activity ids the clause relies on.
    """
    terms = defined_terms(agreement)
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    used_term = re.compile(rf"(?<![\w\"])({alternatives})s?\b(?!\")") if terms else None
    rows = {r.activity_id for r in agreement.raci}
    for section in agreement.sections:
        for clause in section.clauses:
            for missing in sorted(set((clause_raci or {}).get(clause.clause_id, [])) - rows):
                yield LintFinding(clause.clause_id, arrangement, f"relies on RACI activity '{missing}', which the "
                                  "Responsibilities Matrix of this arrangement does not have")
    for section in agreement.sections:
        for clause in section.clauses:
            for paragraph in clause.paragraphs:
                for problem in paragraph_problems(paragraph.text, paragraph.kind):
                    yield LintFinding(clause.clause_id, arrangement, problem)
            body = " ".join(p.text for p in clause.paragraphs)
            for term in set(used_term.findall(body)) if used_term else ():
                terms_used[term] += 1
            for used in (term for term in watched if term in body):
                if used not in terms:
                    yield LintFinding(clause.clause_id, arrangement, f"uses the term '{used}', which is not defined")
    for clause_id, problem in clock_mismatches(agreement):
        yield LintFinding(clause_id, arrangement, problem)


# --- The matrix of arrangements -------------------------------------------------------------------

KINDS = ("cmo", "cdmo", "contract_laboratory")
PRODUCTS = ("drug_product", "sterile_drug_product", "api", "biologic", "biological_drug_substance", "investigational")
MARKETS: tuple[tuple[str, ...], ...] = (("US",), ("EU",), ("US", "EU"), ("JP",), ("UK", "CH"))
RELEASE_MODELS = ("sponsor_release", "cmo_release_with_sponsor_secondary", "qp_certification")
SERVICE_SETS: tuple[tuple[str, ...], ...] = (
    ("drug_product_manufacture",),
    ("drug_product_manufacture", "release_testing", "stability_testing", "primary_packaging", "tech_transfer"),
    ("qc_testing",),
    ("qc_testing", "stability_testing"),
)


def base_answers() -> dict[str, Any]:
    """A complete, plain arrangement the matrix varies."""
    return {
        "agreement": {"id": "LINT-1", "title": "Lint", "version": 1, "effective_date": "2026-06-01",
                      "review_period_months": 24, "commercial_agreement": "Supply Agreement of 1 May 2026"},
        "sponsor": {"name": "Sponsor Ltd", "address": "1 Road", "country": "Ireland",
                    "quality_contact": {"name": "A", "title": "QA", "email": "a@example.com"}},
        "contract_acceptor": {
            "name": "Acceptor GmbH", "kind": "cmo", "address": "2 Street", "country": "Germany",
            "quality_contact": {"name": "B", "title": "QA", "email": "b@example.com"},
            "sites": [{"name": "Plant", "address": "2 Street", "country": "Germany",
                       "registration_numbers": {"FEI": "1"}, "activities": []}]},
        "products": [{"name": "Product", "type": "drug_product", "markets": ["US"]}],
        "services": [],
        "release_model": "sponsor_release",
        "signatories": [{"party": "sponsor", "name": "A", "title": "QA", "email": "a@example.com",
                         "meaning": "approval"},
                        {"party": "contract_acceptor", "name": "B", "title": "QA", "email": "b@example.com",
                         "meaning": "approval"}],
    }


def arrangements(library: ClauseLibrary) -> Iterator[tuple[str, Answers]]:
    """Every arrangement the clause conditions distinguish (kind × product × market × release × services),
    each once with the default clocks and positions, and (for the fuller service sets) once with every answers
    clock set to 1 (to catch '1 Days') and every negotiable clause at its last position."""
    last_positions = {c.id: list(c.positions)[-1] for c in library.clauses
                      if c.positions and len(c.positions) > 1 and c.position_from is None}
    for kind, product, markets, release, services in itertools.product(
            KINDS, PRODUCTS, MARKETS, RELEASE_MODELS, SERVICE_SETS):
        lab = kind == "contract_laboratory"
        if lab != ("qc_testing" in services):
            continue
        for ones in (False, True) if len(services) > 1 else (False,):
            data = base_answers()
            data["contract_acceptor"]["kind"] = kind
            data["products"][0].update(type=product, markets=list(markets))
            data["services"] = list(services)
            data["contract_acceptor"]["sites"][0]["activities"] = list(services)
            data["release_model"] = release
            if ones:
                data.update(_all_ones())
                data["positions"] = dict(last_positions)
            label = f"{kind}, {product}, {'+'.join(markets)}, {release}, {'+'.join(services)}" + (
                ", clocks of 1" if ones else "")
            yield label, Answers.model_validate(data)


def _all_ones() -> dict[str, Any]:
    return {
        "deviations": {"critical_notify_hours": 1, "major_notify_business_days": 1, "investigation_closure_days": 1},
        "complaints": {"forward_business_days": 1, "acknowledge_business_days": 1, "critical_assessment_hours": 1,
                       "final_report_days": 1},
        "inspections": {"notify_within_hours": 1, "share_reports_within_business_days": 1},
        "change_control": {"major_change_notice_days": 1, "minor_change_notice_days": 1,
                           "filing_assessment_owner": "contract_acceptor"},
        "audits": {"routine_frequency_months": 1, "notice_business_days": 1, "capa_response_days": 1},
        "records": {"pre_destruction_notice_days": 1},
        "term": {"termination_notice_months": 1, "initial_years": 1},
        "release": {"documentation_within_business_days": 1},
        "subcontracting": {"allowed": True, "approved_subcontractors": [
            {"name": "Lab", "address": "3 Lane", "activities": ["qc_testing"]}]},
    }


@accounted(lint=True)
def lint_library(library: ClauseLibrary) -> LintReport:
    """Render every clause of `library` under every arrangement of the matrix and collect the problems.

    Returns:
        The number of arrangements, distinct clauses and paragraphs rendered, and the findings (each problem
        once per clause, with the first arrangement that shows it).

    Raises:
        LibraryError: a clause does not render (or a condition fails) under one of the arrangements.
    """
    seen: dict[tuple[str, str], LintFinding] = {}
    clauses: set[str] = set()
    paragraphs = 0
    contexts = 0
    terms_used: Counter[str] = Counter()
    all_terms: set[str] = set()
    for label, answers in arrangements(library):
        contexts += 1
        try:
            agreement = assemble_agreement(answers, library, select_clauses(library, answers))
        except QABuilderError as exc:
            # A clause that does not render at all is a fault of the library, not a lint finding: one line per
            # problem naming file, line and clause (exit 2), with the arrangement that shows it.
            raise LibraryError([f"{line} (lint arrangement: {label})" for line in str(exc).splitlines()]) from exc
        all_terms |= defined_terms(agreement, inline=False)
        for section in agreement.sections:
            for clause in section.clauses:
                clauses.add(clause.clause_id)
                paragraphs += len(clause.paragraphs)
        for finding in lint_agreement(agreement, label, terms_used, tuple(library.info.defined_terms),
                                      {c.id: c.raci for c in library.clauses}):
            seen.setdefault((finding.clause_id, _generic(finding.problem)), finding)
    for term in sorted(all_terms):
        if terms_used[term] <= 1:
            seen.setdefault(("definitions", term), LintFinding(
                "definitions", "every arrangement", f"defines '{term}', which no clause uses"))
    for finding in unstated_verification(library):
        seen.setdefault(("requirements", finding.problem), finding)
    return LintReport(contexts, len(clauses), paragraphs, list(seen.values()))


def unstated_verification(library: ClauseLibrary) -> list[LintFinding]:
    """Requirements that do not say whether their source was checked against the primary text.

    Such a requirement counts as unverified (Annex C marks it "(unverified)"), but a library should say so, with
    a `verification_note`, rather than leave it to the default (review6 R6-1).

    Returns:
        One finding per requirement without an explicit `verified: true|false`, in library order.
    """
    return [LintFinding("requirements", "every arrangement",
                        f"requirement '{r.id}' does not say whether its source was checked against the primary "
                        "text: add verified: true or false, with a verification_note")
            for r in library.requirements if "verified" not in r.model_fields_set]


def _generic(problem: str) -> str:
    return re.sub(r"'.*'", "'…'", re.sub(r"clause \d+\.\d+", "clause", problem)) if "clock" not in problem else (
        re.sub(r"clause \d+\.\d+", "clause", problem))

"""Review checks: the Quality Agreement mistakes inspectors cite, found while the agreement is a draft."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from qa_builder import clock
from qa_builder.answers.load import AnswersFile
from qa_builder.errors import AnswersError, LibraryError
from qa_builder.library.context import Facts, build_context, derive_facts
from qa_builder.library.raci import ResolvedActivity, default_variant, resolve_raci
from qa_builder.models.agreement import Agreement
from qa_builder.models.answers import Answers
from qa_builder.models.findings import Finding, Severity
from qa_builder.models.library import ClauseLibrary, ReviewThresholds
from qa_builder.review.preflight import Preflight, preflight

FINAL_RELEASE = "final_release"
BATCH_CERTIFICATION = "batch_certification"
COVERAGE_GAP = "QA-COV-001"


@dataclass(frozen=True)
class Hit:
    """What a check found: where, what, why it matters, how to fix it."""

    field: str
    message: str
    reason: str
    fix: str
    severity: Severity = "error"


@dataclass
class Review:
    """Everything a check may look at."""

    answers: Answers
    library: ClauseLibrary
    today: dt.date
    raci: list[ResolvedActivity] = field(default_factory=list)
    agreement: Agreement | None = None
    context: dict[str, object] = field(default_factory=dict)  # the clause-rendering context of the answers

    @property
    def limits(self) -> ReviewThresholds:
        """The library's review thresholds."""
        return self.library.review

    @property
    def facts(self) -> Facts:
        """The arrangement facts (derived once per review from the library's jurisdiction rules)."""
        if self._facts is None:
            self._facts = derive_facts(self.answers, self.library.jurisdictions)
        return self._facts

    _facts: Facts | None = None


CheckFunction = Callable[[Review], Iterator[Hit]]


@dataclass(frozen=True)
class Check:
    """A registered check: stable id, title for the README table, sources (requirement ids)."""

    id: str
    title: str
    sources: tuple[str, ...]
    run: CheckFunction


CHECKS: list[Check] = []


def check(check_id: str, title: str, *sources: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under a stable id."""

    def register(function: CheckFunction) -> CheckFunction:
        if any(c.id == check_id for c in CHECKS):
            raise ValueError(f"check id {check_id} registered twice")
        CHECKS.append(Check(check_id, title, sources, function))
        return function

    return register


def review_answers(answers_file: AnswersFile, library: ClauseLibrary, *, today: dt.date | None = None) -> list[Finding]:
    """Run the build's preflight and every check on one answers file; findings sorted by line, then id.

    See `review_with_preflight`, which also returns the preflight (the assembled agreement) for the build to use.
    """
    return review_with_preflight(answers_file, library, today=today)[0]


def review_with_preflight(answers_file: AnswersFile, library: ClauseLibrary, *,
                          today: dt.date | None = None) -> tuple[list[Finding], Preflight | None]:
    """The findings of `review_answers`, and the preflight they were judged on (None when the answers name what
    the library lacks): a build reuses it instead of selecting and assembling the agreement a second time.

    Everything `build` refuses about the answers shows here as an error finding (QA-BUILD-001 unknown names,
    QA-COV-001 coverage gaps), so a file that passes `check` builds. A clause that does not render for these
    answers is a fault of the library: it raises, as it does in `build`. `today` is the date date-dependent
    checks (an overdue periodic review) judge by; default `clock.today()`.

    Raises:
        RenderError: a clause text failed to render for these answers (names file, line and clause).
        LibraryError: a library condition failed to evaluate for these answers.
    """
    answers = answers_file.answers
    context = build_context(answers, library.clocks, library.jurisdictions)
    findings = []
    agreement: Agreement | None = None
    checked: Preflight | None = None
    try:
        checked = preflight(answers_file, library)
        agreement = checked.agreement
        for requirement in checked.gaps:
            findings.append(Finding(
                id=COVERAGE_GAP, severity="error", field="services", line=answers_file.line_of("services"),
                message=f"requirement {requirement.id} ({requirement.source}) applies but no included clause "
                        "satisfies it",
                reason="build refuses an agreement that leaves an applicable regulatory requirement uncovered.",
                fix="Enable or add a clause that cites it (see `qa-builder library coverage`), or build with "
                    "--allow-gaps and record why.", sources=[requirement.id]))
    except AnswersError as exc:
        # The answers name what the library lacks: findings at the answers' fields. A clause that does not
        # render (RenderError, LibraryError) is a fault of the library, not of the answers: it propagates, so
        # `check` and `build` both stop with one line naming file, line and clause, and exit 2.
        findings.extend(_preflight_findings(answers_file, exc))
    review = Review(answers=answers, library=library, today=today or clock.today(),
                    raci=_resolve_or_empty(answers, library, context), agreement=agreement, context=context)
    for registered in CHECKS:
        for hit in registered.run(review):
            findings.append(Finding(id=registered.id, severity=hit.severity, field=hit.field,
                                    line=answers_file.line_of(hit.field), message=hit.message, reason=hit.reason,
                                    fix=hit.fix, sources=list(registered.sources)))
    return sorted(findings, key=lambda f: (f.line, f.id, f.field)), checked


_LOCATED = re.compile(r"^.*? line (\d+): (\S+?):? (.*)$")


def _preflight_findings(answers_file: AnswersFile, exc: AnswersError) -> list[Finding]:
    """One error finding per line of a preflight failure, at the answers field it names where it names one."""
    found: list[Finding] = []
    for text in str(exc).splitlines():
        match = _LOCATED.match(text)
        field_path, line, message = ("", 0, text) if match is None else (
            match.group(2), int(match.group(1)), f"{match.group(2)} {match.group(3)}")
        found.append(Finding(
            id="QA-BUILD-001", severity="error", field=field_path or "-", line=line, message=message,
            reason="build refuses this file: it names something the clause library lacks.",
            fix="Correct the name (see raci.yaml and the clause ids and positions of the library)",
            sources=[]))
    return found


def _resolve_or_empty(answers: Answers, library: ClauseLibrary, context: dict[str, object]) -> list[ResolvedActivity]:
    try:
        return resolve_raci(answers, library, context)
    except LibraryError:
        return []


def _raci_field(row: ResolvedActivity, party: str = "") -> str:
    if row.override is None:
        return "responsibilities"
    return f"responsibilities[{row.override}]" + (f".{party}" if party else "")


# --- RACI ------------------------------------------------------------------------------------------


@check("QA-RACI-001", "Each activity has exactly one Accountable party", "EUGMP7.14", "FDA-QA-2016.qu-disposition")
def _one_accountable(review: Review) -> Iterator[Hit]:
    for row in review.raci:
        count = sum("A" in code for code in row.codes())
        if count != 1:
            yield Hit(_raci_field(row), f"activity '{row.activity.id}' has {'no' if count == 0 else 'two'} "
                      "Accountable parties",
                      "Each GMP activity needs one party that answers for it; none or two leaves it unowned.",
                      "Give the letter A to exactly one of sponsor and contract_acceptor for this activity.")


@check("QA-RACI-002", "Each activity has a Responsible party", "EUGMP7.14")
def _a_responsible(review: Review) -> Iterator[Hit]:
    for row in review.raci:
        if not any("R" in code for code in row.codes()):
            yield Hit(_raci_field(row), f"activity '{row.activity.id}' has no Responsible party",
                      "Nobody is assigned to perform the activity, so it will not be done.",
                      "Give the letter R to the party that performs this activity.")


@check("QA-RACI-003", "Shared responsibility has a written split of duties (an error on a critical activity)",
       "EUGMP7.14", "FDA-QA-2016.qu-disposition")
def _critical_split(review: Review) -> Iterator[Hit]:
    for row in review.raci:
        if all("R" in code for code in row.codes()) and not row.split_of_duties:
            critical = row.activity.critical
            yield Hit(_raci_field(row), f"both parties are Responsible for the {'critical ' * critical}activity "
                      f"'{row.activity.id}' without a written split of duties",
                      "Shared responsibility without a written split is where inspectors find gaps (\"both, "
                      "unresolved\"): each party must know its part" + (
                          "; for release, change approval, deviations, complaints, recalls or regulatory reporting "
                          "it is a finding." if critical else "."),
                      "Add split_of_duties to this responsibilities entry, or make one party Responsible.",
                      "error" if critical else "warning")


# --- Stand-alone agreement -------------------------------------------------------------------------


@check("QA-RACI-004", "An override does not move an Accountable role that the law gives a party and a clause states",
       "ICHQ7-11.5")
def _fixed_accountable(review: Review) -> Iterator[Hit]:
    sources = {r.id: r.source for r in review.library.requirements}
    names = {"sponsor": "Sponsor", "contract_acceptor": "Contract Acceptor"}
    for row in review.raci:
        if row.override is None:
            continue
        try:
            default = default_variant(row.activity, review.context)
        except LibraryError:
            continue
        if default.fixed_by is None:
            continue
        owner = "sponsor" if "A" in default.sponsor else "contract_acceptor"
        if "A" in dict(zip(names, row.codes(), strict=True))[owner]:
            continue
        other = "contract_acceptor" if owner == "sponsor" else "sponsor"
        source = sources.get(default.fixed_by, default.fixed_by)
        yield Hit(_raci_field(row, other), f"the responsibilities entry for '{row.activity.id}' takes the "
                  f"Accountable role from the {names[owner]}, to whom {source} gives it",
                  f"The agreement's clause states that the {names[owner]} holds this role; an override "
                  "that gives it to the other party makes two parties decide the same thing, and the matrix, which "
                  "prevails over the clauses, then contradicts them.",
                  f"Remove this responsibilities entry, or give the letter A back to the {names[owner]} (the other "
                  "party may keep R or C, with a split_of_duties).")


@check("QA-STANDALONE-001", "The agreement stands alone, separate from the commercial agreement",
       "FDA-QA-2016.written-separate")
def _standalone(review: Review) -> Iterator[Hit]:
    if not review.answers.agreement.standalone:
        yield Hit("agreement.standalone", "the Quality Agreement is declared part of the commercial agreement",
                  "FDA expects the CGMP division of labour in a separate agreement approved by both quality "
                  "units, so that quality terms are not negotiated away with commercial terms.",
                  "Set agreement.standalone to true and refer to the commercial agreement in "
                  "agreement.commercial_agreement.")


@check("QA-STANDALONE-002", "The agreement prevails on quality matters", "APIC-II.precedence")
def _prevails(review: Review) -> Iterator[Hit]:
    if not review.answers.agreement.prevails_on_quality_matters:
        yield Hit("agreement.prevails_on_quality_matters",
                  "the agreement does not prevail over the commercial agreement on quality matters",
                  "Without a precedence clause a commercial term can silently override a GMP obligation.",
                  "Set agreement.prevails_on_quality_matters to true.")


# --- Subcontracting --------------------------------------------------------------------------------


@check("QA-SUB-001", "Permitted subcontracting lists the approved subcontractors", "EUGMP7.10", "ICHQ7-16.14")
def _subcontractors_listed(review: Review) -> Iterator[Hit]:
    sub = review.answers.subcontracting
    if sub.allowed and not sub.approved_subcontractors:
        yield Hit("subcontracting.approved_subcontractors",
                  "subcontracting is allowed but no approved subcontractor is listed",
                  "The contract giver must evaluate and approve each subcontractor before work is passed on.",
                  "List each approved subcontractor with its address and activities, or set "
                  "subcontracting.allowed to false.")


@check("QA-SUB-002", "Each subcontractor has its site and activities", "EUGMP7.10", "FDA-QA-2016.subcontracting")
def _subcontractor_details(review: Review) -> Iterator[Hit]:
    for i, sub in enumerate(review.answers.subcontracting.approved_subcontractors):
        missing = [name for name, value in (("address", sub.address), ("activities", sub.activities)) if not value]
        if missing:
            yield Hit(f"subcontracting.approved_subcontractors[{i}].{missing[0]}",
                      f"subcontractor '{sub.name}' has no {' and no '.join(missing)}",
                      "An approval is for named work at a named site; without them it approves nothing specific.",
                      "Give the subcontractor's site address and the services it performs.")


@check("QA-SUB-003", "Quality obligations flow down to subcontractors", "EUGMP7.10", "FDA-QA-2016.subcontracting")
def _flow_down(review: Review) -> Iterator[Hit]:
    sub = review.answers.subcontracting
    if sub.allowed and not sub.flow_down:
        yield Hit("subcontracting.flow_down", "subcontracting is allowed without flow-down of quality obligations",
                  "A subcontractor must give the same GMP commitments and information flow as the contract "
                  "acceptor.",
                  "Set subcontracting.flow_down to true.")


@check("QA-SUB-004", "Subcontracting needs the sponsor's prior written consent", "EUGMP7.10", "ICHQ7-16.14")
def _consent(review: Review) -> Iterator[Hit]:
    sub = review.answers.subcontracting
    if sub.allowed and not sub.prior_written_consent:
        yield Hit("subcontracting.prior_written_consent",
                  "subcontracting is permitted without the sponsor's prior written consent",
                  "Silently permitted subcontracting lets GMP work move to sites the sponsor never qualified.",
                  "Set subcontracting.prior_written_consent to true.")


@check("QA-SUB-005", "Listed subcontractors are not silently dropped", "EUGMP7.10", "FDA-QA-2016.subcontracting")
def _dropped_subcontractors(review: Review) -> Iterator[Hit]:
    sub = review.answers.subcontracting
    if not sub.allowed and sub.approved_subcontractors:
        names = ", ".join(s.name for s in sub.approved_subcontractors)
        yield Hit("subcontracting.allowed", f"subcontracting is not allowed, yet approved subcontractors are listed "
                  f"({names})", "The agreement would forbid the subcontracting the listed sites are relied on for, "
                  "and the list would not appear in it.",
                  "Set subcontracting.allowed to true, or remove approved_subcontractors.")


@check("QA-SUB-006", "Subcontracted activities are within the contracted services", "FDA-QA-2016.scope", "EUGMP7.10")
def _subcontractor_services(review: Review) -> Iterator[Hit]:
    services = set(review.answers.services)
    for i, sub in enumerate(review.answers.subcontracting.approved_subcontractors):
        for j, activity in enumerate(sub.activities):
            if activity not in services:
                yield Hit(f"subcontracting.approved_subcontractors[{i}].activities[{j}]",
                          f"subcontractor '{sub.name}' performs {activity}, which is not among the services",
                          "The scope clause forbids any GMP activity outside the services, so the subcontracting "
                          "clause would permit what the scope clause forbids.",
                          f"Add {activity} to services, or remove it from the subcontractor.")


# --- Sites -----------------------------------------------------------------------------------------


@check("QA-SITE-001", "Each site has an address, registration number and activities",
       "FDA-QA-2016.facilities-equipment", "FDA-QA-2016.scope")
def _site_details(review: Review) -> Iterator[Hit]:
    for i, site in enumerate(review.answers.contract_acceptor.sites):
        for name, value, what in (("address", site.address, "address"),
                                  ("registration_numbers", site.registration_numbers, "registration number"),
                                  ("activities", site.activities, "activities")):
            if not value:
                yield Hit(f"contract_acceptor.sites[{i}].{name}", f"site '{site.name}' has no {what}",
                          "The agreement must identify each site and the work done there; registration numbers "
                          "(FEI, EU manufacturing authorisation) tie it to the regulator's records.",
                          f"Add the site's {what}.")


@check("QA-SITE-002", "Site activities are within the contracted services", "FDA-QA-2016.scope")
def _site_services(review: Review) -> Iterator[Hit]:
    services = set(review.answers.services)
    for i, site in enumerate(review.answers.contract_acceptor.sites):
        for j, activity in enumerate(site.activities):
            if activity not in services:
                yield Hit(f"contract_acceptor.sites[{i}].activities[{j}]",
                          f"site '{site.name}' performs {activity}, which is not among the services",
                          "Work outside the agreed services is work no clause of the agreement governs.",
                          f"Add {activity} to services, or remove it from the site.")


# --- Change control --------------------------------------------------------------------------------


@check("QA-CC-001", "Changes affecting filed information need the sponsor's prior approval",
       "FDA-QA-2016.change-control", "ICHQ7-16.16", "EUGMP7.11")
def _prior_approval(review: Review) -> Iterator[Hit]:
    if not review.answers.change_control.sponsor_prior_approval_for_filed_changes:
        yield Hit("change_control.sponsor_prior_approval_for_filed_changes",
                  "changes that affect filed information do not need the sponsor's prior approval",
                  "The application holder must assess and file such changes (PAS, CBE-30, Type II...) before "
                  "the product is distributed.",
                  "Set change_control.sponsor_prior_approval_for_filed_changes to true.")


@check("QA-CC-002", "Someone owns the filing-trigger assessment", "CFR-314.70", "EU-Reg1234-2008")
def _filing_owner(review: Review) -> Iterator[Hit]:
    if review.answers.change_control.filing_assessment_owner is None:
        yield Hit("change_control.filing_assessment_owner", "no party owns the regulatory filing assessment of "
                  "changes", "Without an owner nobody decides whether a change needs a variation or supplement "
                  "before it is implemented.", "Set change_control.filing_assessment_owner (normally sponsor).")


@check("QA-CC-003", "Like-for-like equipment changes are still notified", "FDA-QA-2016.change-control")
def _like_for_like(review: Review) -> Iterator[Hit]:
    notice = review.answers.change_control.like_for_like_notice
    if notice in ("none", "annual_review"):
        yield Hit("change_control.like_for_like_notice",
                  "like-for-like equipment changes go unreported" if notice == "none"
                  else "like-for-like equipment changes are reported only at the annual review",
                  "A 'like-for-like' swap can still affect validated state or a filing; the sponsor must hear of "
                  "it in time to assess it.",
                  "Set change_control.like_for_like_notice to before_implementation.",
                  "error" if notice == "none" else "warning")


@check("QA-CC-004", "Changes needing a filing get at least as much notice as other changes", "TYP.change-lead-time",
       "CFR-314.70")
def _major_vs_minor(review: Review) -> Iterator[Hit]:
    cc = review.answers.change_control
    if cc.major_change_notice_days < cc.minor_change_notice_days:
        yield Hit("change_control.major_change_notice_days",
                  f"changes needing a regulatory filing get {cc.major_change_notice_days} days' notice, less than "
                  f"the {cc.minor_change_notice_days} days other changes get",
                  "A change the Sponsor must assess and file needs more lead time than one it only approves; the "
                  "reverse order is almost always two values swapped.",
                  "Set change_control.major_change_notice_days to at least minor_change_notice_days "
                  "(typically 90-180 days).")


@check("QA-CC-005", "Notice of changes needing a filing leaves time to assess and file", "TYP.change-lead-time",
       "CFR-314.70", "EU-Reg1234-2008")
def _filed_notice(review: Review) -> Iterator[Hit]:
    days = review.answers.change_control.major_change_notice_days
    minimum = review.limits.filed_change_notice_min_days
    if days < minimum:
        yield Hit("change_control.major_change_notice_days",
                  f"changes needing a regulatory filing are notified only {days} days before implementation "
                  f"(less than {minimum})",
                  "The Sponsor needs the notice to assess the filing category and file before the change is used: "
                  "a CBE-30 supplement alone must wait 30 days after FDA receives it (21 CFR 314.70); prior-approval "
                  "supplements and Type II variations take months.",
                  f"Set change_control.major_change_notice_days to {minimum} or more (typically 90-180).")


# --- Inspections -----------------------------------------------------------------------------------


@check("QA-INSP-001", "The sponsor is told of an inspection within 24 hours",
       "FDA-QA-2016.fda-inspections", "TYP.inspection-notice")
def _inspection_clock(review: Review) -> Iterator[Hit]:
    hours = review.answers.inspections.notify_within_hours
    limit = review.limits.inspection_notice_max_hours
    if hours is None:
        yield Hit("inspections.notify_within_hours", "there is no clock for telling the sponsor of an inspection",
                  "The sponsor must be able to support product-related inspections and respond to findings.",
                  f"Set inspections.notify_within_hours to {limit} or less.")
    elif hours > limit:
        yield Hit("inspections.notify_within_hours", f"the sponsor is told of an inspection only within {hours} "
                  f"hours (more than {limit})", "A late notice can leave the sponsor out of an inspection of its "
                  "own product.", f"Set inspections.notify_within_hours to {limit} or less.")


@check("QA-INSP-002", "Inspection reports and 483s are shared by a deadline",
       "FDA-QA-2016.fda-inspections", "TYP.483-sharing")
def _reports_deadline(review: Review) -> Iterator[Hit]:
    if review.answers.inspections.share_reports_within_business_days is None:
        yield Hit("inspections.share_reports_within_business_days",
                  "there is no deadline for sharing Form 483s and inspection reports",
                  "FDA considers 483 responses within 15 business days; the sponsor needs the observations first.",
                  "Set inspections.share_reports_within_business_days (typically 2-5).")


@check("QA-INSP-004", "Inspection observations are shared well inside FDA's 483 response window",
       "TYP.483-sharing", "FDA-QA-2016.fda-inspections")
def _reports_plausible(review: Review) -> Iterator[Hit]:
    days = review.answers.inspections.share_reports_within_business_days
    limits = review.limits
    if days is None or days <= limits.reports_share_warning_above_business_days:
        return
    error = days > limits.reports_share_error_above_business_days
    yield Hit("inspections.share_reports_within_business_days",
              f"Form 483s and inspection reports are shared only within {days} business days",
              "The Sponsor must see the observations before it reviews the draft response, and FDA's program sets a "
              "short timeframe for 483 responses (F-US-10; the often-cited 15-business-day figure is UNVERIFIED "
              "against the primary text); industry practice shares them within about 2-5 business days.",
              f"Set inspections.share_reports_within_business_days to "
              f"{limits.reports_share_warning_above_business_days} or less.", "error" if error else "warning")


@check("QA-INSP-003", "The sponsor is told of Warning Letters and equivalents", "FDA-QA-2016.fda-inspections")
def _warning_letters(review: Review) -> Iterator[Hit]:
    if not review.answers.inspections.notify_warning_letters:
        yield Hit("inspections.notify_warning_letters", "the sponsor is not told of Warning Letters or equivalents",
                  "Regulatory action against the site can stop supply of, or approvals for, the sponsor's product.",
                  "Set inspections.notify_warning_letters to true.")


# --- Audits ----------------------------------------------------------------------------------------


@check("QA-AUDIT-001", "Routine audits are frequent enough for the acceptor's risk",
       "FDA-QA-2016.audits", "EUGMP7.16", "TYP.audit-frequency")
def _audit_frequency(review: Review) -> Iterator[Hit]:
    audits = review.answers.audits
    low_risk = audits.acceptor_status == "established" and audits.risk_tier == 1
    limits = review.limits
    limit = limits.audit_frequency_max_months_low_risk if low_risk else limits.audit_frequency_max_months_other
    if audits.routine_frequency_months > limit:
        kind = "an established tier 1" if low_risk else f"a {audits.acceptor_status}, tier {audits.risk_tier}"
        yield Hit("audits.routine_frequency_months", f"routine audits every {audits.routine_frequency_months} months "
                  f"are too far apart for {kind} contract acceptor (at most {limit})",
                  "The sponsor's oversight must match the risk of the outsourced work.",
                  f"Set audits.routine_frequency_months to {limit} or less.")


@check("QA-AUDIT-002", "The sponsor may audit for cause", "FDA-QA-2016.audits", "ICHQ7-16.13")
def _for_cause(review: Review) -> Iterator[Hit]:
    if not review.answers.audits.for_cause:
        yield Hit("audits.for_cause", "the sponsor has no right to a for-cause audit",
                  "After a serious deviation, complaint or recall the sponsor must be able to look at once.",
                  "Set audits.for_cause to true.")


@check("QA-AUDIT-003", "The sponsor may be present at inspections concerning its product",
       "FDA-QA-2016.fda-inspections", "TYP.inspection-notice")
def _may_attend(review: Review) -> Iterator[Hit]:
    if not review.answers.inspections.sponsor_may_attend:
        yield Hit("inspections.sponsor_may_attend",
                  "the sponsor has no right to be present at regulatory inspections concerning its product",
                  "The application holder answers for its product and must be able to support the inspection.",
                  "Set inspections.sponsor_may_attend to true.")


# --- Release ---------------------------------------------------------------------------------------


def _release_field(review: Review, index: int, name: str = "model") -> str:
    """The answers field that sets a product's release `name`: its own release block, else the default."""
    product = review.answers.products[index]
    own = product.release
    if own is not None and getattr(own, name) not in (None, []):
        return f"products[{index}].release.{name}"
    return "release_model" if name == "model" else f"release.{name}"


@check("QA-REL-001", "QP certification where the law requires it (EU, UK, CH finished and EU investigational "
       "product), never for active substances", "EU-Dir2001-83-Art51", "EU-Reg536-2014-Art62", "UK-HMR2012-reg41",
       "CH-AMBV-Art7-13", "ICHQ7")
def _qp_certification(review: Review) -> Iterator[Hit]:
    for i, (product, facts) in enumerate(zip(review.answers.products, review.facts.products, strict=True)):
        field = _release_field(review, i)
        if facts.qp_required and facts.release_model != "qp_certification":
            steps = [c for c in review.facts.certifications if c.product == product.name and c.qp]
            laws = "; ".join(sorted({f"{c.market}: {c.role} under {c.law}" for c in steps}))
            yield Hit(field, f"product '{product.name}' ({facts.type}, markets {', '.join(facts.markets)}) needs "
                      f"certification of each Batch ({laws}), but its release model is {facts.release_model}",
                      "Each Batch of this product may be placed on those markets (or supplied to the trial) only "
                      "after certification by the person the law names; an agreement without it cannot be worked.",
                      f"Set {field} to qp_certification, and say whose Qualified Person certifies with "
                      f"{_release_field(review, i, 'certifier')} (sponsor or contract_acceptor).")
        if facts.qp_refused and facts.release_model == "qp_certification":
            yield Hit(field, f"product '{product.name}' is an active substance ({facts.type}) but its release model "
                      "is qp_certification",
                      "Active substances are released by the manufacturer's quality unit (ICH Q7); QP certification "
                      "(Article 51 of Directive 2001/83/EC) is for medicinal products" + (
                          ", and a site outside the EU/EEA has no EU authorisation whose QP could certify."
                          if review.facts.site_outside_eea else "."),
                      f"Set {field} to cmo_release_with_sponsor_secondary (the acceptor's quality unit releases, "
                      "the Sponsor confirms) or sponsor_release.")


@check("QA-REL-002", "The sponsor performs final release; whoever certifies is Responsible for certification",
       "CFR-211.22a", "FDA-QA-2016.qu-disposition", "EUGMP7.principle-qp")
def _sponsor_release(review: Review) -> Iterator[Hit]:
    row = next((r for r in review.raci if r.activity.id == FINAL_RELEASE), None)
    if row is not None and ("R" not in row.sponsor or "A" not in row.sponsor):
        yield Hit(_raci_field(row, "sponsor"), f"the release model {', '.join(review.facts.release_models)} needs "
                  "the sponsor's (secondary or final) release, but the sponsor is not Responsible and Accountable "
                  "for final release", "The owner's quality unit must approve or reject the product for "
                  "distribution (21 CFR 211.22(a)); the contract acceptor's release is necessary but not "
                  "sufficient.", "Make the sponsor R/A for final_release.")
    certification = next((r for r in review.raci if r.activity.id == BATCH_CERTIFICATION), None)
    if certification is None:
        return
    for party, certifies in (("sponsor", review.facts.sponsor_certifies),
                             ("contract_acceptor", review.facts.acceptor_certifies)):
        code = certification.sponsor if party == "sponsor" else certification.contract_acceptor
        if certifies and "R" not in code:
            yield Hit(_raci_field(certification, party), f"the {party}'s Qualified Person certifies Batches under "
                      "the release arrangement, but the RACI matrix does not make the "
                      f"{party} Responsible for batch_certification",
                      "The matrix and the release clause must name the same certifier; the certifying QP bears "
                      "full responsibility for the certification (Article 51 of Directive 2001/83/EC).",
                      f"Make {party} R for batch_certification, or change release.certifier "
                      "(or products[].release.certifier).")


@check("QA-REL-003", "The certifying site and Qualified Person are named where the acceptor's QP certifies",
       "EU-Dir2001-83-Art51", "EUGMP7.principle-qp")
def _acceptor_qp_named(review: Review) -> Iterator[Hit]:
    for i, product in enumerate(review.answers.products):
        release = review.answers.release_of(product)
        if release.model != "qp_certification" or release.certifier != "contract_acceptor":
            continue
        if not any(c.qp and c.product == product.name for c in review.facts.certifications):
            continue
        for name, what in (("batch_release_site", "batch-release site"),
                           ("authorisation_number", "manufacturing authorisation number of the batch-release site"),
                           ("qualified_person", "certifying Qualified Person")):
            if not getattr(release, name):
                field = _release_field(review, i, name)
                yield Hit(field, f"the contract acceptor's Qualified Person certifies '{product.name}', but the "
                          f"{what} is not given",
                          "Where the acceptor's site is the batch-release site of the marketing authorisation, the "
                          "agreement must identify that site, its authorisation and the certifying QP so that each "
                          "party knows who bears the certification.",
                          f"Give {field}.", "warning")


@check("QA-REL-004", "Whoever certifies, releases or holds the licence for a market is a party to the agreement",
       "EU-Dir2017-1572", "EU-DelReg2017-1569", "JP-GQP-Ord136")
def _certifier_is_party(review: Review) -> Iterator[Hit]:
    names = {a.name: i for i, a in enumerate(review.answers.affiliates)}
    seen: set[str] = set()
    for step in review.facts.certifications:
        if step.entity_is_party or step.entity in seen:
            continue
        seen.add(step.entity)
        yield Hit(f"affiliates[{names[step.entity]}].joins_as_party",
                  f"{step.entity} ({step.role}, {step.step} for {step.market}) is named in the agreement but does "
                  "not join it as a party",
                  "The contract must define how the certifying Qualified Person (or the marketing authorisation "
                  "holder deciding on shipment) discharges its responsibility (Directive (EU) 2017/1572 Art 12, "
                  "Delegated Regulation (EU) 2017/1569 Art 13; GQP supervision of manufacturers): an entity that is "
                  "not a party has no contractual right to the audits, records and notices it relies on.",
                  f"Set affiliates[{names[step.entity]}].joins_as_party to true (and add a signatory on_behalf_of it), "
                  "or add a separate delegation agreement and record it.", "warning")


@check("QA-MAH-001", "The holder of an EU/EEA marketing authorisation is established in the EU/EEA",
       "EU-Reg726-2004-Art2", "EU-Dir2001-83-Art8.2")
def _eu_holder_established(review: Review) -> Iterator[Hit]:
    eea = {country.casefold() for country in review.library.jurisdictions.eea_countries}
    marketed = [facts.name for facts in review.facts.products
                if "EU" in facts.markets and not facts.is_investigational and not facts.is_drug_substance]
    if not marketed:
        return
    why = ("The holder of an EU/EEA marketing authorisation must be established in the EU/EEA (Regulation (EC) "
           "No 726/2004 Art 2 for a centralised authorisation; Directive 2001/83/EC Art 8(2) for a national one), so "
           "the agreement would give the EU holder's duties (quality-defect reports, variations, recalls) to a party "
           "that cannot hold the authorisation.")
    holders = [(i, a) for i, a in enumerate(review.answers.affiliates)
               if a.affiliate_of == "sponsor" and a.holds_marketing_authorisation and "EU" in a.markets]
    for i, affiliate in holders:
        if affiliate.country.casefold() not in eea:
            yield Hit(f"affiliates[{i}].country", f"{affiliate.name} holds the EU/EEA marketing authorisation of "
                      f"{', '.join(marketed)} but is established in {affiliate.country}, outside the EU/EEA", why,
                      f"Name the EU/EEA-established holder instead, or correct affiliates[{i}].country.")
    if holders or review.answers.sponsor.country.casefold() in eea:
        return
    yield Hit("sponsor.country", f"the Sponsor {review.answers.sponsor.name} is established outside the EU/EEA "
              f"({review.answers.sponsor.country}), and no affiliate is named as holder of the "
              f"EU/EEA marketing authorisation of {', '.join(marketed)}", why,
              "Add the EU/EEA-established holder under affiliates (affiliate_of: sponsor, markets: [EU], "
              "joins_as_party: true, holds_marketing_authorisation: true), or set holds_marketing_authorisation: "
              "true on the affiliate that holds it.")


@check("QA-APP-001", "The application type fits the product (FAR for NDA/ANDA, BPDR for BLA)",
       "CFR-314.81b1-FAR", "CFR-600.14")
def _application_type(review: Review) -> Iterator[Hit]:
    for i, (product, facts) in enumerate(zip(review.answers.products, review.facts.products, strict=True)):
        if facts.application_fits:
            continue
        yield Hit(f"products[{i}].application_type", f"product '{product.name}' is a {facts.type} for "
                  f"{', '.join(facts.markets)}, but its application_type is {product.application_type}",
                  "The application type decides the reporting duty and change regime (Field Alert Reports for "
                  "NDA/ANDA under 21 CFR 314.81(b)(1), biological product deviation reports for a BLA under "
                  "21 CFR 600.14; 314.70 vs 601.12): a wrong one puts the wrong law in the agreement.",
                  f"Set products[{i}].application_type to one of "
                  f"{', '.join(facts.application_candidates) or 'the types that apply'}, "
                  f"or correct products[{i}].type.")


@check("QA-TRIAL-001", "A trial sponsor outside the EU/EEA names its EU legal representative", "EU-Reg536-2014-Art74")
def _legal_representative(review: Review) -> Iterator[Hit]:
    if not review.facts.eu_legal_representative_needed:
        return
    for i, (product, facts) in enumerate(zip(review.answers.products, review.facts.products, strict=True)):
        trial = product.trial
        if trial is None or trial.eu_legal_representative or "EU" not in facts.markets:
            continue
        yield Hit(f"products[{i}].trial.eu_legal_representative", f"the trial sponsor '{trial.sponsor}' of "
                  f"'{product.name}' is established outside the EU/EEA and no EU legal representative is named",
                  "A sponsor not established in the Union must have a legal representative established in the "
                  "Union (Article 74 of Regulation (EU) No 536/2014).",
                  f"Give products[{i}].trial.eu_legal_representative (name and address).")


# --- Records ---------------------------------------------------------------------------------------


@check("QA-REC-001", "Record retention meets the legal minimum of every market and product", "CFR-211.180a",
       "EU-Dir2017-1572-Art9.1", "UK-HMR2012-reg41", "JP-GMP-Ord179-Art20")
def _retention(review: Review) -> Iterator[Hit]:
    records = review.answers.records
    for minimum in review.facts.retention_minima:
        products = ", ".join(minimum.products)
        if records.retention_years_after_expiry < minimum.years_after_expiry:
            yield Hit("records.retention_years_after_expiry",
                      f"records are kept {records.retention_years_after_expiry} year(s) after expiry, less than the "
                      f"{minimum.market} minimum of {minimum.years_after_expiry} for {products}",
                      f"The law keeps them {minimum.text}.",
                      f"Set records.retention_years_after_expiry to at least {minimum.years_after_expiry}.")
        if records.retention_years_after_certification < minimum.years_after_certification:
            yield Hit("records.retention_years_after_certification",
                      f"records are kept {records.retention_years_after_certification} year(s) after certification, "
                      f"less than the {minimum.market} minimum of {minimum.years_after_certification} for {products}",
                      f"The law keeps them {minimum.text}.",
                      f"Set records.retention_years_after_certification to at least "
                      f"{minimum.years_after_certification}.")


@check("QA-REC-002", "The sponsor is told before records are destroyed", "FDA-QA-2016.records-retention")
def _pre_destruction(review: Review) -> Iterator[Hit]:
    if review.answers.records.pre_destruction_notice_days is None:
        yield Hit("records.pre_destruction_notice_days", "there is no notice to the sponsor before records are "
                  "destroyed", "The sponsor may need the records for complaints, recalls or inspections after the "
                  "retention period.", "Set records.pre_destruction_notice_days (typically 60-90).")


# --- Investigations and complaints -----------------------------------------------------------------


@check("QA-INV-001", "Investigations close within 30 days or under an extension process",
       "FDA-QA-2016.deviations", "TYP.investigation-closure")
def _closure(review: Review) -> Iterator[Hit]:
    deviations = review.answers.deviations
    limit = review.limits.investigation_closure_max_days
    if deviations.investigation_closure_days > limit and not deviations.extension_process:
        yield Hit("deviations.investigation_closure_days", f"investigations may take "
                  f"{deviations.investigation_closure_days} days with no extension process",
                  "Open investigations hold batch disposition and hide systemic problems.",
                  f"Set deviations.investigation_closure_days to {limit} or less, or set extension_process to true.")


@check("QA-DEV-001", "Critical deviations are notified within 24 hours", "TYP.critical-event", "TYP.deviation-notice",
       "CFR-314.81b1-FAR")
def _critical_clock(review: Review) -> Iterator[Hit]:
    hours = review.answers.deviations.critical_notify_hours
    limits = review.limits
    if hours <= limits.critical_notify_warning_above_hours:
        return
    error = hours > limits.critical_notify_error_above_hours
    facts = review.facts
    duty = ("the Sponsor can meet the 3-working-day Field Alert clock (21 CFR 314.81(b)(1))" if facts.field_alert
            else "the Sponsor can report a biological product deviation within 45 days of discovery (21 CFR "
                 "600.14)" if facts.bpdr else "the Sponsor can assess the event and any report it owes")
    eu = " and EU quality-defect reporting" if facts.eu_quality_defect else ""
    yield Hit("deviations.critical_notify_hours", f"critical deviations are notified only within {hours} hours",
              f"A critical deviation may affect distributed product: the recall and reporting clauses give such "
              f"events 24 hours so {duty}{eu}; a longer clock gives the same event two deadlines.",
              f"Set deviations.critical_notify_hours to {limits.critical_notify_warning_above_hours} or less.",
              "error" if error else "warning")


@check("QA-CLOCK-001", "The same event never gets two different clocks", "TYP.critical-event")
def _one_clock_per_event(review: Review) -> Iterator[Hit]:
    if review.agreement is None:
        return
    seen: dict[str, tuple[str, str]] = {}
    for row in review.agreement.timelines:
        first = seen.setdefault(row.event, (row.deadline, row.clause_number))
        if first[0] != row.deadline:
            yield Hit("deviations", f"'{row.event}' gets two clocks: {first[0]} (clause {first[1]}) and "
                      f"{row.deadline} (clause {row.clause_number})",
                      "Two deadlines for one event leave each party free to pick the later one.",
                      "Align the answers values that feed these clauses (see Annex B).")


@check("QA-CLOCK-002", "Every clock the agreement's text states is listed in Annex B", "TYP.critical-event")
def _clock_in_annex_b(review: Review) -> Iterator[Hit]:
    from qa_builder.library.lint import clock_mismatches

    if review.agreement is None:
        return
    for clause_id, problem in clock_mismatches(review.agreement):
        matrix = clause_id == "responsibilities_matrix"
        yield Hit("responsibilities" if matrix else "services", problem,
                  "Annex B promises every time limit the Agreement sets; a clock stated only in the text, for "
                  "example in the notes of a negotiated RACI row (which clause 1.6 makes prevail over every "
                  "clause), is missed by whoever works from the timetable and may contradict a clause's clock.",
                  "Take the number of days out of the RACI notes and set the clock through the answers value or "
                  "clause that governs it, or ask the library owner to add the clock to the clause's timelines."
                  if matrix else "Report it to the library owner: `qa-builder library check` should refuse it.",
                  "warning")


@check("QA-COMP-001", "Complaints are investigated jointly before a root cause is assigned",
       "CFR-211.198", "EU-GMP-Ch8")
def _joint_investigation(review: Review) -> Iterator[Hit]:
    if not review.answers.complaints.joint_investigation:
        yield Hit("complaints.joint_investigation", "a complaint's root cause can be assigned to the contract "
                  "acceptor without a joint investigation", "Both parties hold part of the evidence; a one-sided "
                  "conclusion misses causes and CAPA.", "Set complaints.joint_investigation to true.")


# --- Technology transfer ---------------------------------------------------------------------------


@check("QA-TT-001", "Technology transfer and site or scale changes require comparability and filing updates",
       "FDA-QA-2016.product-specific", "EUGMP7.1")
def _tech_transfer(review: Review) -> Iterator[Hit]:
    answers = review.answers
    tt = answers.tech_transfer
    in_scope = "tech_transfer" in answers.services or tt.site_or_scale_change
    if not in_scope:
        return
    if not tt.comparability_required:
        yield Hit("tech_transfer.comparability_required", "technology transfer or a site/scale change is in scope "
                  "without a comparability requirement", "Product made after the transfer must be shown "
                  "comparable before it is released.", "Set tech_transfer.comparability_required to true.")
    if not tt.update_filings:
        yield Hit("tech_transfer.update_filings", "technology transfer or a site/scale change is in scope without "
                  "updating the regulatory filings", "A new site or scale is a filed change (variation or "
                  "supplement).", "Set tech_transfer.update_filings to true.")


# --- Life cycle ------------------------------------------------------------------------------------


@check("QA-LIFE-001", "The agreement is reviewed periodically and not overdue", "FDA-QA-2016.lifecycle",
       "TYP.qa-review")
def _review_period(review: Review) -> Iterator[Hit]:
    info = review.answers.agreement
    limit = review.limits.review_period_max_months
    if info.review_period_months > limit:
        yield Hit("agreement.review_period_months", f"the agreement is reviewed only every "
                  f"{info.review_period_months} months (more than {limit})", "Regulations, products and sites "
                  "change; an unreviewed agreement drifts from practice.",
                  f"Set agreement.review_period_months to {limit} or less.", "warning")
    due = _add_months(info.effective_date, info.review_period_months)
    if due < review.today:
        yield Hit("agreement.effective_date", f"the periodic review was due on {due.isoformat()}",
                  "An agreement past its review date may no longer describe how the work is done.",
                  "Review the agreement, then issue a new version with a new effective date.")


@check("QA-LIFE-002", "Exit hands over batch records, retained samples and stability inventory",
       "FDA-QA-2016.lifecycle", "EUGMP7.15")
def _exit(review: Review) -> Iterator[Hit]:
    if not review.answers.term.exit_handover:
        yield Hit("term.exit_handover", "there is no exit handover of master batch records, retained samples and "
                  "stability inventory", "The sponsor keeps its obligations for marketed batches after the "
                  "contract ends and needs these to meet them.", "Set term.exit_handover to true.")


def _add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus `months` calendar months, on the month's last day when it is shorter.

    Past the calendar Python can hold the result saturates: `dt.date.max` after 9999, `dt.date.min` before 1.
    """
    year, month = divmod(day.month - 1 + months, 12)
    target_year, target_month = day.year + year, month + 1
    if target_year > dt.MAXYEAR:
        return dt.date.max
    if target_year < dt.MINYEAR:
        return dt.date.min
    for candidate_day in (day.day, 30, 29, 28):
        try:
            return dt.date(target_year, target_month, candidate_day)
        except ValueError:
            continue
    raise AssertionError("unreachable")

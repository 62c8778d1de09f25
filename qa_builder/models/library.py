"""The clause library model: sections, clauses with versions and positions, requirements, RACI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from qa_builder.models.base import JSON_SAFE_INT
from qa_builder.models.jurisdictions import Jurisdictions
from qa_builder.models.text import LibraryModel

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
ClauseStatus = Literal["draft", "approved", "retired"]


ClockUnit = Literal["hour", "day", "Business Day", "working day", "month", "year"]


class Clock(LibraryModel):
    """A time limit the library fixes (not the answers), declared once in clocks.yaml.

    Clause texts and their Annex B `timelines:` entries both render it (`{{ clocks.<id> | clock }}` →
    '2 Business Days'), so the two cannot drift apart.
    """

    id: Identifier
    amount: int = Field(ge=1, le=10000)
    unit: ClockUnit = Field(description="singular unit; rendered plural when amount is not 1")
    source: str = Field(min_length=1, description="why this value: industry practice (DOMAIN.md TYP.x) or a "
                                                  "regulation")


class Section(LibraryModel):
    """A numbered section of the agreement; clauses belong to one."""

    field_text_limits: ClassVar[Mapping[str, int]] = {"title": 300}
    """A title is a heading and a table-of-contents line (clause texts stay bounded by the file size alone)."""

    id: Identifier
    title: str
    order: int = Field(ge=-JSON_SAFE_INT, le=JSON_SAFE_INT)


class Timeline(LibraryModel):
    """A clock a clause sets; collected into the agreement's timelines table (Annex B).

    The clause text must state the same clock: both render it from one datum (an answers value, or a
    catalogue clock `{{ clocks.<id> | clock }}` of clocks.yaml), and `library check` renders both and refuses
    a clock stated in one and not the other (a literal number written in only one of them).
    """

    field_text_limits: ClassVar[Mapping[str, int]] = {"event": 500}
    """An event is one cell of the timelines table."""

    event: str = Field(description="The obligation, e.g. 'Critical Deviation'.")
    who: Literal["sponsor", "contract_acceptor", "both"] = Field(
        default="contract_acceptor", description="The party that must act by the deadline.")
    deadline: str = Field(description="Jinja text: the clock and its trigger, e.g. \"within "
                                      "{{ deviations.critical_notify_hours | plural('hour') }} of discovery\".")
    applies_when: str = "true"


class Clause(LibraryModel):
    """One clause of the library, at its current version."""

    field_text_limits: ClassVar[Mapping[str, int]] = {"title": 300}
    """A title is a heading; the clause's texts are bounded by the library's file size and the render limits."""

    id: Identifier
    title: str
    section: Identifier
    order: int = Field(ge=-JSON_SAFE_INT, le=JSON_SAFE_INT)
    version: int = Field(ge=1, le=JSON_SAFE_INT)  # as the build record holds it: a larger one passed `library check`
    status: ClauseStatus
    effective_date: dt.date
    applies_when: str = Field(default="true", description="Jinja expression over the answers.")
    references: list[str] = Field(default_factory=list, description="Requirement ids this clause satisfies.")
    text: str | None = None
    positions: dict[Identifier, str] | None = Field(
        default=None, description="Alternative texts by position name; the first is the default."
    )
    position_from: str | None = Field(
        default=None, description="Jinja expression giving the position name, e.g. 'release_model'."
    )
    timelines: list[Timeline] = Field(default_factory=list)
    raci: list[Identifier] = Field(
        default_factory=list, description="RACI activity ids whose allocation the clause text states or relies on; "
                                          "each must exist, and must apply wherever the clause does.")
    source_file: str = ""
    source_line: int = 0


class Requirement(LibraryModel):
    """A regulatory requirement the agreement may have to satisfy."""

    id: str
    source: str
    summary: str
    applies_when: str = "true"
    verified: bool = Field(
        default=False,
        description="True only when the provision was confirmed against the primary text (say where in the note); "
                    "a requirement that does not say so is unverified, and Annex C marks its source '(unverified)'.",
    )
    verification_note: str | None = Field(
        default=None, description="Where the text was read, or why it could not be verified."
    )


class Source(LibraryModel):
    """An instrument requirements cite (a regulation, directive, guideline, template), listed once in Annex C.

    A requirement's `source` is split at ';' into parts; a part that starts with one of `prefixes` (the longest
    match wins, case ignored) is shown as the key followed by the rest of the part (the provision), e.g.
    "21 CFR 211.22(a)" → key "21 CFR", provision "211.22(a)"."""

    key: str = Field(min_length=1, max_length=24, description="Short key the Annex C rows use, e.g. 'FDA QA Guidance'.")
    citation: str = Field(min_length=1, description="The full citation, printed once in Annex C's list of sources.")
    prefixes: list[str] = Field(min_length=1, description="How requirement sources of this instrument begin.")
    before_number: str = Field(default="", max_length=8,
                               description="Put before a provision that starts with a digit, e.g. '§'.")


class RaciVariant(LibraryModel):
    """The codes (and notes) of a RACI row for one value of the answer it varies by."""

    sponsor: str
    contract_acceptor: str
    notes: str | None = None
    split_of_duties: str | None = None
    activity: str | None = Field(
        default=None, description="The activity's wording for this variant, where the act itself differs (e.g. an "
                                  "investigational Batch is released by its certification and the Sponsor then "
                                  "authorises its shipment); the row's own wording when None.")
    fixed_by: str | None = Field(
        default=None, description="Id of the requirement (requirements.yaml) that gives this variant's Accountable "
                                  "party its role, which a clause states: an answers override that moves the A "
                                  "elsewhere contradicts that clause (check QA-RACI-004). Example: 'ICHQ7-11.5'.")


class AffiliateActs(LibraryModel):
    """What an affiliate acting for a party in its market does under a RACI row: Annex A has only the two parties'
    columns, so the row's note names the affiliate, from the same facts the clauses read (review5 R5-2)."""

    holder: str | None = Field(
        default=None, description="What an affiliate of the Sponsor that is a party and holds the marketing "
                                  "authorisation for a market (facts.ma_holders) does there, after 'For Japan, "
                                  "X (an affiliate of the Sponsor) ...'. Example: 'holds the marketing "
                                  "authorisation and files the changes and reports for that market'")
    steps: list[str] = Field(
        default_factory=list, description="Release steps (jurisdictions.yaml certifications[].step) whose "
                                          "certifier, where it is an affiliate (facts.certifications), the note "
                                          "names. Example: ['certification']")
    step_words: str | None = Field(
        default=None, description="What that affiliate does, '{step}' standing for the step. "
                                  "Example: 'decides on the {step} of each Batch'")


class RaciActivity(LibraryModel):
    """A default row of the responsibilities matrix."""

    id: Identifier
    area: str
    activity: str
    sponsor: str
    contract_acceptor: str
    critical: bool = False
    notes: str | None = None
    split_of_duties: str | None = Field(
        default=None, description="Who does which part; required where both parties are Responsible (R).")
    applies_when: str = "true"
    vary_by: str | None = Field(
        default=None, description="Expression over the answers (e.g. 'change_control.filing_assessment_owner') "
                                  "whose value picks one of `variants`; the clause that reads the same answer and "
                                  "this row then always agree.")
    variants: dict[str, RaciVariant] = Field(
        default_factory=dict, description="Codes by the value of `vary_by` ('None' for no value).")
    affiliates: AffiliateActs | None = Field(
        default=None, description="The affiliates whose part in this activity, for their market, the row's note "
                                  "states.")


class LibraryInfo(LibraryModel):
    """The library's own identity (library.yaml)."""

    field_text_limits: ClassVar[Mapping[str, int]] = {"name": 200, "version": 50, "defined_terms": 100}
    """The name and version are printed on the cover and in the build record, manifest and audit trail (a version
    of 100,000 digits passed `library check` and failed the PDF: a PDF string holds 32,767 characters at most); a
    defined term is a word or phrase."""

    name: str = Field(min_length=1)  # never blank: both identify the library in every build record and redline
    version: str = Field(min_length=1)
    sections: list[Section]
    defined_terms: list[str] = Field(
        default_factory=list,
        description="Capitalised terms the clauses use as defined terms; the lint requires each one used in an "
                    "agreement to be defined in it.")




Hours = Annotated[int, Field(ge=1, le=8_760, description="whole hours, 1 to 8,760 (a year)")]
Days = Annotated[int, Field(ge=1, le=366, description="whole days, 1 to 366")]
BusinessDays = Annotated[int, Field(ge=1, le=261, description="whole business days, 1 to 261 (a year)")]
Months = Annotated[int, Field(ge=1, le=120, description="whole months, 1 to 120")]


class ReviewThresholds(LibraryModel):
    """The thresholds the review checks apply (review.yaml); one reviewed place.

    Each is a whole number of its unit within the range a quality agreement can use (a negative or zero clock
    would make every answer pass or fail); each warning threshold is at most its error threshold.
    """

    inspection_notice_max_hours: Hours = 24
    audit_frequency_max_months_low_risk: Months = 24
    audit_frequency_max_months_other: Months = 12
    investigation_closure_max_days: Days = 30
    review_period_max_months: Months = 36
    critical_notify_warning_above_hours: Hours = 24
    critical_notify_error_above_hours: Hours = 72
    reports_share_warning_above_business_days: BusinessDays = 5
    reports_share_error_above_business_days: BusinessDays = 10
    filed_change_notice_min_days: Days = 30

    @field_validator("critical_notify_error_above_hours", "reports_share_error_above_business_days")
    @classmethod
    def _not_below_its_warning(cls, value: int, info: ValidationInfo) -> int:
        warning = str(info.field_name).replace("_error_", "_warning_")
        if warning in info.data and info.data[warning] > value:
            raise ValueError(f"is below {warning} ({info.data[warning]}); an error threshold must be at least its "
                             "warning threshold")
        return value


class ClauseLibrary(LibraryModel):
    """A loaded, validated clause library."""

    info: LibraryInfo
    clauses: list[Clause]
    requirements: list[Requirement]
    raci: list[RaciActivity]
    review: ReviewThresholds = ReviewThresholds()
    clocks: list[Clock] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    jurisdictions: Jurisdictions = Field(
        default_factory=Jurisdictions,
        description="Jurisdiction rules (jurisdictions.yaml); a library without the file uses the bundled ones.")

"""The clause library model: sections, clauses with versions and positions, requirements, RACI."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from qa_builder.models.text import InputModel

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
ClauseStatus = Literal["draft", "approved", "retired"]


class Section(InputModel):
    """A numbered section of the agreement; clauses belong to one."""

    id: Identifier
    title: str
    order: int


class Timeline(InputModel):
    """A clock a clause sets; collected into the agreement's timelines table."""

    event: str
    deadline: str = Field(description="Jinja text, e.g. '{{ inspections.notify_within_hours }} hours'.")
    applies_when: str = "true"


class Clause(InputModel):
    """One clause of the library, at its current version."""

    id: Identifier
    title: str
    section: Identifier
    order: int
    version: int = Field(ge=1)
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
    source_file: str = ""
    source_line: int = 0


class Requirement(InputModel):
    """A regulatory requirement the agreement may have to satisfy."""

    id: str
    source: str
    summary: str
    applies_when: str = "true"


class RaciActivity(InputModel):
    """A default row of the responsibilities matrix."""

    id: Identifier
    area: str
    activity: str
    sponsor: str
    contract_acceptor: str
    critical: bool = False
    notes: str | None = None
    applies_when: str = "true"


class LibraryInfo(InputModel):
    """The library's own identity (library.yaml)."""

    name: str
    version: str
    sections: list[Section]




class RecordsMinimum(InputModel):
    """Legal minimum retention of batch records for one market."""

    years_after_expiry: int = 0
    years_after_certification: int = 0
    source: str


class ReviewThresholds(InputModel):
    """The thresholds the review checks apply (review.yaml); one reviewed place."""

    inspection_notice_max_hours: int = 24
    audit_frequency_max_months_low_risk: int = 24
    audit_frequency_max_months_other: int = 12
    investigation_closure_max_days: int = 30
    review_period_max_months: int = 36
    records_minimum: dict[str, RecordsMinimum] = Field(default_factory=dict)


class ClauseLibrary(InputModel):
    """A loaded, validated clause library."""

    info: LibraryInfo
    clauses: list[Clause]
    requirements: list[Requirement]
    raci: list[RaciActivity]
    review: ReviewThresholds = ReviewThresholds()

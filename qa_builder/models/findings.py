"""Review findings: the common Quality Agreement mistakes found in an answers file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from qa_builder.models.base import StrictModel

Severity = Literal["error", "warning"]


class Finding(StrictModel):
    """One problem found by a review check."""

    id: str
    severity: Severity
    field: str
    line: int
    message: str
    reason: str
    fix: str
    sources: list[str]


class FileFindings(StrictModel):
    """The findings for one answers file (the unit of `qa-builder check --json`)."""

    file: str
    error: str | None = None
    errors: int = 0
    warnings: int = 0
    findings: list[Finding] = Field(default_factory=list)
    notices: list[str] = Field(default_factory=list, description="What was assumed where the answers use an old "
                                                                 "shape, and how to state it explicitly.")

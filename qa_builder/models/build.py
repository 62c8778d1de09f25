"""The build record: what one build produced, from which inputs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from qa_builder.files import check_plain_name
from qa_builder.models.base import JSON_SAFE_INT, StrictModel
from qa_builder.models.findings import Finding

BUILD_RECORD_LIMIT = 64 * 1024 * 1024
"""A build record is tens of kilobytes; over 64 MiB it is not read (bytes)."""

ArtefactRole = Literal["docx", "pdf", "signed-pdf", "build-record", "redline", "counter-proposal"]


class Artefact(StrictModel):
    """One file a build produced."""

    file: str
    role: ArtefactRole
    media_type: str
    sha256: str
    size: int = Field(ge=0, le=JSON_SAFE_INT)

    @field_validator("file")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        """An artefact is a file beside its record: a plain name, never a path (no '../', no folders)."""
        return check_plain_name(value)


class ClauseUse(StrictModel):
    """A clause as used in the build: id, version, position and number."""

    id: str
    version: int = Field(ge=1, le=JSON_SAFE_INT)
    position: str | None
    number: str


class AuditHead(StrictModel):
    """The head of a workspace's audit trail (its last event) at one moment."""

    seq: int = Field(ge=0, le=JSON_SAFE_INT)
    hash: str


class BuildRecord(StrictModel):
    """Written beside the outputs as <id>_v<version>.build.json."""

    tool: str = "qa-builder"
    tool_version: str
    agreement_id: str
    agreement_version: int = Field(ge=1, le=JSON_SAFE_INT)
    answers_file: str
    answers_sha256: str
    library_name: str
    library_version: str
    clauses: list[ClauseUse]
    template_file: str
    template_sha256: str
    model_digest: str
    artefacts: list[Artefact]
    signature_fields: list[str]
    review_findings: list[Finding]
    findings_accepted: bool
    uncovered_requirements: list[str]
    created_at: str
    audit_head: AuditHead | None = None
    """Workspace builds: the audit trail's head when this version was built. Kept outside the trail's database
    (and covered by the manifest's signature), it lets `audit verify` see events deleted or rewritten later."""

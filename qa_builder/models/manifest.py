"""The signed manifest: what one build produced, from which inputs, and who signed it."""

from __future__ import annotations

from pydantic import field_validator

from qa_builder.models.base import StrictModel
from qa_builder.models.build import Artefact, ClauseUse


class LibraryUse(StrictModel):
    """The clause library a build used, with every clause id@version and position."""

    name: str
    version: str
    clauses: list[ClauseUse]


class SignatureEntry(StrictModel):
    """A signature present in the signed PDF."""

    field: str
    signer: str
    meaning: str
    time: str
    time_source: str


class Manifest(StrictModel):
    """Serialised as RFC 8785 canonical JSON and signed with a detached CMS signature."""

    manifest_format: int = 1
    tool: str = "qa-builder"
    tool_version: str
    agreement_id: str
    agreement_version: int
    answers_sha256: str
    library: LibraryUse
    template_sha256: str
    model_digest: str
    artefacts: list[Artefact]
    signatures: list[SignatureEntry]
    created_at: str

    @field_validator("artefacts")
    @classmethod
    def _each_file_once(cls, value: list[Artefact]) -> list[Artefact]:
        """A build lists each file it made once; a manifest listing one file 20,000 times made verify hash it
        20,000 times (67 s), and said "60000 listed files"."""
        seen: set[str] = set()
        for artefact in value:
            if artefact.file in seen:
                raise ValueError(f"lists '{artefact.file}' more than once")
            seen.add(artefact.file)
        return value

"""The verification report: one result per file, one entry per signature; its JSON form is the `--json` output."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from qa_builder import clock
from qa_builder.models.base import StrictModel

Indication = Literal["TOTAL-PASSED", "TOTAL-FAILED", "INDETERMINATE"]
Revocation = Literal["good", "revoked", "unknown", "not_checked"]
Coverage = Literal["entire_file", "entire_revision", "partial"]
Modification = Literal["none", "lta_updates", "form_filling", "annotations", "other"]
Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
ModificationClass = Literal["none", "validation_data", "form_filling", "annotations", "signature_added", "other"]

_SEVERITY: dict[Indication, int] = {"TOTAL-PASSED": 0, "INDETERMINATE": 1, "TOTAL-FAILED": 2}


class Verdict(StrictModel):
    """An ETSI EN 319 102-1 indication with its sub-indication (null when passed)."""

    indication: Indication
    sub_indication: str | None = None


class SignatureReport(StrictModel):
    """What one signature (or the detached CMS signature of a manifest) says and how it validated."""

    field: str = Field(description="Signature field name (for a manifest: the .p7s file name).")
    signer_subject: str = Field(description="Subject DN of the signing certificate ('' when it is missing).")
    signer_common_name: str
    stated_name: str | None = Field(description="/Name: the printed name the signer gave.")
    stated_meaning: str | None = Field(description="/Reason: the stated meaning of the signature.")
    claimed_time: str | None = Field(description="Signing time the signer's own clock claims (UTC).")
    timestamp_time: str | None = Field(description="Time in the RFC 3161 signature timestamp (UTC).")
    timestamp_trusted: bool | None = Field(description="Whether that timestamp validated to a trusted TSA.")
    intact: bool | None = Field(description="The digest of the signed bytes matches the one that was signed "
                                            "(null: not checked).")
    valid: bool | None = Field(description="The cryptographic signature verifies with the signer's public key "
                                           "(null: not checked).")
    trusted: bool = Field(description="The signer's certificate chains to one of the given trust roots.")
    revocation: Revocation
    coverage: Coverage | None = Field(description="What the signature covers (null for a manifest).")
    modification: Modification | None = Field(description="Changes made after signing (null for a manifest).")
    docmdp_ok: bool | None = Field(description="Changes after signing are allowed by the DocMDP and FieldMDP "
                                               "permissions in force.")
    modification_classes: list[ModificationClass] = Field(default_factory=list, description=(
        "Classes of the changes made after this signature (ETSI/DSS): none, validation_data, form_filling, "
        "annotations, signature_added, other."))
    changes_after_signing: list[str] = Field(default_factory=list, description=(
        "Each change made after this signature: revision, class, objects and pages, and why it is not allowed "
        "when it is not."))
    certification: str | None = Field(description="no_changes / fill_forms / annotate for a certification "
                                                  "signature, null for an approval signature.")
    level: Level | None = Field(description="PAdES baseline level reached (null: not a PAdES signature).")
    part11_manifestation: bool = Field(description="Printed name, date/time and meaning are all present.")
    validation_time: str | None = Field(default=None, description=(
        "The time the verdict refers to (UTC): the validation time, or the signing time a timestamp proves when "
        "the signature was validated there (long-term validation); null when not established."))
    indication: Indication
    sub_indication: str | None
    problems: list[str] = Field(description="Each problem as a plain sentence.")


class TimestampReport(StrictModel):
    """A document timestamp (/DocTimeStamp): the evidence record of PAdES B-LTA."""

    field: str
    tsa_subject: str
    time: str | None
    intact: bool
    valid: bool
    trusted: bool
    coverage: Coverage | None
    modification: Modification | None
    modification_classes: list[ModificationClass] = Field(default_factory=list)
    changes_after_signing: list[str] = Field(default_factory=list)
    indication: Indication
    sub_indication: str | None
    problems: list[str]


class ArtefactCheck(StrictModel):
    """A file a manifest lists, checked beside it."""

    file: str
    present: bool
    sha256_ok: bool
    size_ok: bool


class FileReport(StrictModel):
    """The result for one file."""

    file: str
    sha256: str | None
    kind: Literal["pdf", "manifest"]
    indication: Indication
    sub_indication: str | None
    error: str | None = Field(description="Why the file could not be verified at all, else null.")
    signatures: list[SignatureReport]
    doc_timestamps: list[TimestampReport]
    artefacts: list[ArtefactCheck] = Field(default_factory=list, description="Manifests only.")


class VerifyReport(StrictModel):
    """The whole `qa-builder verify --json` document."""

    tool_version: str
    results: list[FileReport]


def worst(verdicts: list[Verdict]) -> Verdict:
    """The most severe verdict (TOTAL-FAILED > INDETERMINATE > TOTAL-PASSED); the first one of equal severity."""
    chosen = Verdict(indication="TOTAL-PASSED")
    for verdict in verdicts:
        if _SEVERITY[verdict.indication] > _SEVERITY[chosen.indication]:
            chosen = verdict
    return chosen


def exit_code(results: list[FileReport]) -> int:
    """0 when every file passed, 1 when any failed, 3 otherwise (indeterminate)."""
    indications = {result.indication for result in results}
    if "TOTAL-FAILED" in indications:
        return 1
    if "INDETERMINATE" in indications:
        return 3
    return 0


def utc_text(moment: dt.datetime | None) -> str | None:
    """A time as the report shows it (`qa_builder.clock.utc_text`), or None for no time."""
    return None if moment is None else clock.utc_text(moment)

"""The assembled Agreement: everything the document shows, numbered, with its digest."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Literal

from pydantic import Field

from qa_builder.models.base import StrictModel


class PartyBlock(StrictModel):
    """A party as the cover page and the notices clause show it."""

    role: Literal["sponsor", "contract_acceptor"]
    defined_term: str
    name: str
    address: str
    country: str
    quality_contact_name: str
    quality_contact_title: str
    quality_contact_email: str


class AffiliatePartyBlock(StrictModel):
    """An affiliate that joins the agreement as a party, as the cover page shows it beside its principal."""

    affiliate_of: Literal["sponsor", "contract_acceptor"]
    name: str
    address: str
    country: str
    term_line: str = Field(description="What it is to the agreement, e.g. '(an affiliate of the Sponsor, a party "
                                       "to this Agreement as holder of the UK marketing authorisation)'.")


class ClauseParagraph(StrictModel):
    """A paragraph of clause text: the body or a lettered item under it."""

    kind: Literal["body", "item"]
    label: str = ""
    text: str


class AgreementClause(StrictModel):
    """A clause as numbered in this agreement."""

    number: str
    clause_id: str
    version: int
    position: str | None
    title: str
    paragraphs: list[ClauseParagraph]
    references: list[str]


class AgreementSection(StrictModel):
    """A numbered section with its clauses."""

    number: int
    id: str
    title: str
    clauses: list[AgreementClause]


class RaciRow(StrictModel):
    """One resolved row of the responsibilities matrix."""

    number: int
    activity_id: str
    area: str
    activity: str
    sponsor: str
    contract_acceptor: str
    notes: str
    overridden: bool


class TimelineRow(StrictModel):
    """A clock the agreement sets, with the party that must act and the clause that sets it (Annex B)."""

    event: str
    deadline: str = Field(description="The whole time limit as the clause states it: clock and trigger.")
    clause_number: str
    who: str = Field(default="", description="'Sponsor', 'Contract Acceptor' or 'Both parties'.")
    clock: str = Field(default="", description="The clock alone, e.g. 'within 24 hours'.")
    trigger: str = Field(default="", description="What starts the clock, e.g. 'of discovery'; empty if none.")


class SignatoryBlock(StrictModel):
    """One signature block, and the name of its empty PDF signature field."""

    field_name: str
    party: Literal["sponsor", "contract_acceptor"]
    party_name: str
    name: str
    title: str
    email: str
    meaning: str


class RevisionRow(StrictModel):
    """A row of the revision history table."""

    version: int
    date: dt.date
    description: str


# Put after an Annex C citation that the library marks `verified: false`, so a reader sees which sources were
# not checked against the primary text (the Annex C legend explains it; the interview's help uses the same word).
UNVERIFIED_MARK = "(unverified)"


class TraceRow(StrictModel):
    """A regulatory requirement that applies to this agreement and the clauses that satisfy it (Annex C)."""

    requirement_id: str
    source: str = Field(description="The requirement's source as the library states it.")
    summary: str
    clause_numbers: list[str]
    citation: str = Field(default="", description="The source as Annex C shows it: short keys of `sources` with "
                                                  "their provisions, e.g. 'ICH Q7 §16.12; 21 CFR 211.22(a)', "
                                                  "followed by UNVERIFIED_MARK where requirements.yaml marks the "
                                                  "requirement verified: false.")


class SourceRow(StrictModel):
    """An instrument Annex C cites, listed once: its short key and full citation."""

    key: str
    citation: str


class SelectionDecision(StrictModel):
    """Why a library clause was included or left out."""

    clause_id: str
    version: int
    included: bool
    position: str | None
    reason: str


class Agreement(StrictModel):
    """The whole agreement, ready to render; deterministic for the same inputs."""

    id: str
    title: str
    version: int
    effective_date: dt.date
    review_period_months: int
    sponsor: PartyBlock
    contract_acceptor: PartyBlock
    affiliates: list[AffiliatePartyBlock] = Field(default_factory=list, description="Affiliates that join as "
                                                  "parties, in answers order; the cover lists them after their "
                                                  "principal.")
    products: list[str]
    markets: list[str]
    library_name: str
    library_version: str
    sections: list[AgreementSection]
    raci: list[RaciRow]
    timelines: list[TimelineRow]
    signatories: list[SignatoryBlock]
    revisions: list[RevisionRow]
    traceability: list[TraceRow]
    sources: list[SourceRow] = Field(default_factory=list, description="Every instrument `traceability` cites, "
                                                                       "once, in order of first use.")
    decisions: list[SelectionDecision]
    model_digest: str = Field(default="", description="sha256 of the canonical JSON of every other field.")

    def canonical_json(self) -> bytes:
        """Canonical JSON of the model without its digest: sorted keys, no spaces, UTF-8."""
        data = self.model_dump(mode="json", exclude={"model_digest"})
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def with_digest(self) -> Agreement:
        """Return a copy whose model_digest is the sha256 of its canonical JSON."""
        return self.model_copy(update={"model_digest": hashlib.sha256(self.canonical_json()).hexdigest()})

"""The negotiation record of one agreement: imported points, the decisions taken on them, and clause overrides.

Kept as `agreements/<ID>/negotiation/decisions.json` (one file per agreement, at most `MAX_DECISIONS_BYTES`,
validated on every read, replaced atomically). An override is agreed text that replaces a clause of this
agreement; it is data, never a template: it is split into paragraphs and never rendered as Jinja.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, TypeAdapter, field_validator

from qa_builder.errors import InputError
from qa_builder.files import read_validated, write_bytes_atomic
from qa_builder.library.assemble import split_paragraphs
from qa_builder.models.agreement import AgreementClause
from qa_builder.models.base import StrictModel
from qa_builder.models.text import text_problem
from qa_builder.negotiation.importer import ClauseFinding, ImportReport
from qa_builder.workspace.layout import Workspace

__all__ = ["DECISIONS_FILE", "Decision", "Negotiation", "OpenPoint", "Override", "clause_source_text",
           "latest_import", "load_negotiation", "open_points", "save_negotiation"]

DECISIONS_FILE = "decisions.json"
FORMAT = "qa-builder-decisions/1"
MAX_DECISIONS_BYTES = 4 * 1024 * 1024
MAX_IMPORT_BYTES = 16 * 1024 * 1024
MAX_TEXT = 100_000
"""Longest override text or reason (characters); a clause is a few thousand."""
MAX_OVERRIDE_PARAGRAPHS = 500
"""Paragraphs (and items) one override may make; a clause has a handful. Session 7: a 99,000-character override of
14,000 '- ' items made a 12,518-paragraph version (311 pages, 12.7 s, 722 MB to build)."""
OUTSIDE = "outside"
"""The point id of changes outside the clauses (cover, annexes, signature blocks)."""
_IMPORT = re.compile(r"^v([1-9][0-9]{0,5})-import-([1-9][0-9]{0,5})\.json$")

Verdict = Literal["accept", "reject", "counter", "keep_override", "drop_override"]
Effect = Literal["none", "answer", "position", "override", "override_removed"]
Scalar = str | int | bool | None


def _checked_text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(f"text that {problem}")
    return value


class Override(StrictModel):
    """Agreed text replacing one clause of this agreement, with the library text it replaced."""

    clause_id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=200)
    text: str = Field(max_length=MAX_TEXT, description="Paragraphs separated by blank lines; '- ' starts an item.")
    base_text: str = Field(max_length=2 * MAX_TEXT, description="The clause as the library rendered it for this "
                                                            "agreement when the override was approved.")
    base_version: int = Field(ge=1)
    approved_by: str = Field(min_length=1, max_length=500)
    reason: str = Field(min_length=1, max_length=MAX_TEXT)
    decided_at: str = Field(max_length=40)
    agreement_version: int = Field(ge=1, description="The version the point was raised on.")

    _text_ok = field_validator("text", "base_text", "approved_by", "reason")(_checked_text)

    @field_validator("text")
    @classmethod
    def _few_paragraphs(cls, value: str) -> str:
        count = len(split_paragraphs(value))
        if count > MAX_OVERRIDE_PARAGRAPHS:
            raise ValueError(f"makes {count:,} paragraphs; an override of one clause makes at most "
                             f"{MAX_OVERRIDE_PARAGRAPHS}")
        return value


class Decision(StrictModel):
    """One decision on one point, as taken."""

    seq: int = Field(ge=1)
    time: str = Field(max_length=40)
    actor: str = Field(max_length=500, description="The operating-system user who recorded it.")
    by: str = Field(min_length=1, max_length=500, description="Who decided (the approver).")
    reason: str = Field(min_length=1, max_length=MAX_TEXT)
    agreement_version: int = Field(ge=1)
    point: str = Field(max_length=200, description="The import report the point comes from, e.g. v1-import-2.json.")
    clause_id: str = Field(max_length=200)
    classification: str = Field(max_length=40)
    verdict: Verdict
    effect: Effect
    answer_field: str | None = Field(default=None, max_length=500)
    answer_value: Scalar = None
    position: str | None = Field(default=None, max_length=200)
    text: str | None = Field(default=None, max_length=MAX_TEXT)

    _text_ok = field_validator("by", "reason")(_checked_text)


class Negotiation(StrictModel):
    """Everything decided for one agreement."""

    format: Literal["qa-builder-decisions/1"] = "qa-builder-decisions/1"
    agreement_id: str = Field(max_length=200)
    decisions: list[Decision] = Field(default_factory=list, max_length=10_000)
    overrides: dict[str, Override] = Field(default_factory=dict, max_length=1000)


def _path(workspace: Workspace, agreement_id: str) -> Path:
    return workspace.agreement_dir(agreement_id) / "negotiation" / DECISIONS_FILE


def load_negotiation(workspace: Workspace, agreement_id: str) -> Negotiation:
    """The agreement's decisions and overrides (none yet: an empty record).

    Raises:
        InputError: the file is damaged, oversized, not a regular file, or for another agreement; one line.
    """
    path = _path(workspace, agreement_id)
    if not path.exists() and not path.is_symlink():
        return Negotiation(agreement_id=agreement_id)
    found = read_validated(path, MAX_DECISIONS_BYTES, lambda data: Negotiation.model_validate(json.loads(data)),
                           "decisions file", "restore it from your backup or version control")
    if found.agreement_id != agreement_id:
        raise InputError(f"{path}: holds the decisions of agreement {found.agreement_id}, not {agreement_id}")
    return found


def save_negotiation(workspace: Workspace, negotiation: Negotiation) -> Path:
    """Replace the decisions file atomically (validated again first)."""
    path = _path(workspace, negotiation.agreement_id)
    data = json.dumps(Negotiation.model_validate(negotiation.model_dump()).model_dump(mode="json"), indent=1,
                      ensure_ascii=False).encode("utf-8")
    if len(data) > MAX_DECISIONS_BYTES:
        raise InputError(f"{path}: would exceed {MAX_DECISIONS_BYTES // (1024 * 1024)} MiB; not written")
    write_bytes_atomic(path, data)
    return path


_REPORT = TypeAdapter(ImportReport)


def read_import(workspace: Workspace, agreement_id: str, name: str) -> ImportReport:
    """One import report of the agreement by its file name (e.g. 'v1-import-2.json').

    Raises:
        InputError: not an import report name, or the report is missing, damaged or oversized.
    """
    if not _IMPORT.match(name):
        raise InputError(f"'{name}' is not the name of an import report (v<version>-import-<n>.json)")
    path = workspace.agreement_dir(agreement_id) / "negotiation" / name
    return read_validated(path, MAX_IMPORT_BYTES, _REPORT.validate_json, "import report",
                          "import the returned file again")


def latest_import(workspace: Workspace, agreement_id: str) -> tuple[str, ImportReport] | None:
    """The newest import report of the agreement's newest imported version: (file name, report), or None.

    Raises:
        InputError: the report is damaged or oversized.
    """
    folder = workspace.agreement_dir(agreement_id) / "negotiation"
    found = [(int(m[1]), int(m[2]), p) for p in (folder.iterdir() if folder.is_dir() else [])
             if (m := _IMPORT.match(p.name))]
    if not found:
        return None
    _, _, path = max(found)
    return path.name, read_import(workspace, agreement_id, path.name)


@dataclass(frozen=True)
class OpenPoint:
    """A point of the latest import, with the decision on it if there is one."""

    clause_id: str
    number: str
    title: str
    finding: ClauseFinding | None
    decision: Decision | None


def open_points(report: ImportReport, point: str, negotiation: Negotiation) -> list[OpenPoint]:
    """Every point of `report` (each changed clause, and the changes outside the clauses), decided or not."""
    decided = {d.clause_id: d for d in negotiation.decisions if d.point == point}
    points = [OpenPoint(clause_id=f.clause_id, number=f.number, title=f.title, finding=f,
                        decision=decided.get(f.clause_id)) for f in report.clauses]
    if report.outside_changes or report.outside_comments:
        points.append(OpenPoint(clause_id=OUTSIDE, number="—", title=f"outside the clauses "
                                f"({', '.join(report.outside_places())})", finding=None,
                                decision=decided.get(OUTSIDE)))
    return points


def clause_source_text(lines: list[str]) -> str:
    """Paragraph lines as shown in a DOCX ('(a)<tab>text' for items) → an override text (blank-line paragraphs,
    '- ' items), which `split_paragraphs` turns back into the same paragraphs."""
    blocks = []
    for line in lines:
        label, tab, rest = line.partition("\t")
        if tab and re.fullmatch(r"\([a-z]{1,2}\)", label.strip()):
            blocks.append(f"- {rest.strip()}")
        else:
            blocks.append(" ".join(line.split()))
    return "\n\n".join(b for b in blocks if b.strip())


def clause_lines(clause: AgreementClause) -> list[str]:
    """A clause's paragraphs as a DOCX shows them (without its heading)."""
    return [f"{p.label}\t{p.text}" if p.label else p.text for p in clause.paragraphs]


def proposed_body(finding: ClauseFinding) -> list[str]:
    """The counterparty's paragraphs of a clause, without its heading line."""
    lines = [line for line in finding.proposed if line.strip()]
    if lines and lines[0].split("\t", 1)[0].strip() == finding.number:  # the heading, even with a new title
        lines = lines[1:]
    return lines

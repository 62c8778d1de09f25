"""Building one version of a workspace agreement: in a staging folder, with its redline and counter-proposal
against the previous version, made visible by one atomic rename and recorded in the audit trail."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa_builder import clock
from qa_builder.audit.events import DetailValue
from qa_builder.audit.record import record
from qa_builder.builds.pipeline import BuildSettings, build_answers, default_pdf_engine, output_stem
from qa_builder.errors import InputError
from qa_builder.files import fsync_dir, fsync_tree, sha256_file, write_bytes_atomic
from qa_builder.models.agreement import Agreement
from qa_builder.models.answers import RevisionEntry
from qa_builder.models.build import Artefact, AuditHead
from qa_builder.negotiation.counter import write_counter_proposal
from qa_builder.negotiation.decisions import load_negotiation
from qa_builder.negotiation.overrides import OverrideConflict, apply_overrides, conflict_message
from qa_builder.redline import ClauseChange, write_redline
from qa_builder.regenerate.analysis import Impact, analyse
from qa_builder.render.pdf import PdfConverter

if TYPE_CHECKING:
    from qa_builder.render.typeset import PdfTypesetter
from qa_builder.workspace.inputs import Inputs, effective_answers, history_of, load_workspace_answers
from qa_builder.workspace.layout import MODEL_SUFFIX, PARTIAL_PREFIX, Workspace

REGENERATION_SUFFIX = ".regeneration.json"
"""A regenerated version's note (its run and what changed), beside its build record."""


@dataclass(frozen=True)
class VersionBuilt:
    """One new version, as the summary reports it."""

    agreement_id: str
    old_version: int | None
    new_version: int
    reasons: tuple[str, ...]
    clause_changes: tuple[ClauseChange, ...]
    other_changes: tuple[str, ...]


def build_version(workspace: Workspace, inputs: Inputs, agreement_id: str,
                  converter: PdfConverter | PdfTypesetter | None, *,
                  before: Impact | None = None, run_id: str | None = None, allow_findings: bool = False,
                  allow_gaps: bool = False) -> VersionBuilt:
    """Build the agreement's next version (its first when it has none) into a new version folder.

    Args:
        before: the impact analysis of the latest version, when already made (it is made here otherwise).

    Raises:
        QABuilderError: the build failed; no version folder was made.
    """
    answers_file = load_workspace_answers(workspace, agreement_id)
    latest = workspace.latest(agreement_id)
    previous = workspace.agreement(agreement_id, latest) if latest is not None else None
    if before is None and latest is not None:
        before = analyse(workspace, inputs, agreement_id)
    version = (latest + 1) if latest is not None else answers_file.answers.agreement.version
    history = history_of(previous) if previous is not None else list(answers_file.answers.revision_history)
    description = _revision_text(before) if before is not None else ""
    if description:
        history.append(RevisionEntry(version=version, date=clock.today(), description=description))
    staging = workspace.agreement_dir(agreement_id) / f"{PARTIAL_PREFIX}{version}-{secrets.token_hex(4)}"
    target = workspace.version_dir(agreement_id, version)
    try:
        settings = BuildSettings(out_dir=staging, library=inputs.library, template=inputs.template,
                                 allow_findings=allow_findings, allow_gaps=allow_gaps,
                                 pdf_engine=default_pdf_engine(inputs.template, sha256=inputs.template_sha256))
        head = workspace.trail.head()  # the trail as this version is built: anchored in its record
        overrides = load_negotiation(workspace, agreement_id).overrides

        def negotiated(agreement: Agreement) -> Agreement:
            changed, states = apply_overrides(agreement, overrides)
            if any(s.state != "applied" for s in states):
                raise OverrideConflict(conflict_message(agreement_id, states))
            return changed

        result = build_answers(effective_answers(answers_file, version, history), settings, converter,
                               adjust=negotiated if overrides else None)
        assert result.agreement is not None and result.record is not None
        stem = output_stem(agreement_id, version)
        write_bytes_atomic(staging / f"{stem}{MODEL_SUFFIX}", result.agreement.model_dump_json(indent=1).encode())
        built = VersionBuilt(agreement_id, latest, version, before.reasons if before else (),
                             before.clause_changes if before else (), before.other_changes if before else ())
        build_record = result.record.model_copy(
            update={"audit_head": AuditHead(seq=head.seq, hash=head.hash) if head is not None else None})
        if previous is not None:
            redline = staging / f"{stem}.redline.docx"
            write_redline(previous, result.agreement, redline)
            build_record = build_record.model_copy(update={"artefacts": [*build_record.artefacts, Artefact(
                file=redline.name, role="redline", media_type=_DOCX, sha256=sha256_file(redline),
                size=redline.stat().st_size)]})
            counter = write_counter_proposal(workspace, previous, result.agreement, staging / f"{stem}.counter.docx")
            if counter is not None:
                build_record = build_record.model_copy(update={"artefacts": [*build_record.artefacts, Artefact(
                    file=counter.name, role="counter-proposal", media_type=_DOCX, sha256=sha256_file(counter),
                    size=counter.stat().st_size)]})
        write_bytes_atomic(staging / f"{stem}.build.json", json_bytes(build_record.model_dump(mode="json")))
        if run_id is not None:
            note = {"run_id": run_id, **note_data(built)}
            write_bytes_atomic(staging / f"{stem}{REGENERATION_SUFFIX}", json_bytes(note))
        if target.exists():
            raise InputError(f"{target} appeared while this version was being built; nothing was replaced")
        fsync_tree(staging)  # on disk before it has a name: a power cut cannot leave an empty PDF in a version
        os.rename(staging, target)  # the version appears whole, or not at all
        fsync_dir(target.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    facts: dict[str, DetailValue] = {"reasons": list(built.reasons),
                                     "clause_changes": note_data(built)["clause_changes"],  # type: ignore[dict-item]
                                     "previous_version": latest, "library_version": inputs.library.info.version,
                                     "template_sha256": inputs.template_sha256}
    if run_id is not None:
        facts["run_id"] = run_id
    record(workspace.trail, "regenerate" if latest is not None else "build", agreement_id=agreement_id,
           agreement_version=version, files=sorted(target.iterdir()), details=facts)
    return built


_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _revision_text(before: Impact) -> str:
    """The revision-history line: what changed and why."""
    changed = [f"{c.number} {c.title} ({_KIND_WORDS[c.kind]})" for c in before.clause_changes]
    why = ", ".join(before.reasons) or "regenerated"
    what = "; ".join(changed) if changed else "no clause text changed"
    text = f"Regenerated ({why}): {what}."
    return text if len(text) <= 900 else text[:897] + "..."


_KIND_WORDS = {"added": "added", "removed": "removed", "new_version": "new clause version",
               "new_text": "text changed", "moved": "moved"}


# -- regeneration runs -----------------------------------------------------------------------------------------------


def note_data(built: VersionBuilt) -> dict[str, object]:
    """What a version's regeneration note and the run summary say about it (JSON-ready)."""
    return {"agreement_id": built.agreement_id, "old_version": built.old_version,
            "new_version": built.new_version, "reasons": list(built.reasons),
            "clause_changes": [f"{c.number} {c.title} ({_KIND_WORDS[c.kind]})" for c in built.clause_changes],
            "other_changes": list(built.other_changes)}


def json_bytes(data: object) -> bytes:
    """Indented UTF-8 JSON with a final newline, as the workspace's notes and plans are kept."""
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

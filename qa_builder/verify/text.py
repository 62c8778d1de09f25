"""The verification report in words, for people: what was signed, by whom, meaning, when, and what is wrong."""

from __future__ import annotations

from qa_builder.printable import printable as _printable
from qa_builder.verify.manifest import artefact_problems
from qa_builder.verify.report import FileReport, SignatureReport, TimestampReport

_HEADLINE = {
    "TOTAL-PASSED": "PASSED",
    "TOTAL-FAILED": "FAILED",
    "INDETERMINATE": "INDETERMINATE (could not be confirmed)",
}
_MODIFICATIONS = {
    "none": "none",
    "lta_updates": "validation data and timestamps only",
    "form_filling": "form filling and later signatures",
    "annotations": "comments",
    "other": "other changes",
}
_CLASSES = {
    "none": "none",
    "validation_data": "validation data",
    "form_filling": "form filling",
    "annotations": "comments",
    "signature_added": "signatures added",
    "other": "other changes",
}


def describe(report: FileReport) -> list[str]:
    """Lines describing one file's result (text taken from the file cannot add lines or terminal codes)."""
    return [_printable(line) for line in _describe(report)]


def _describe(report: FileReport) -> list[str]:
    sub = f" [{report.sub_indication}]" if report.sub_indication else ""
    lines = [f"{report.file}: {_HEADLINE[report.indication]}{sub}"]
    if report.error:
        return [*lines, f"  The file {report.error}."]
    if report.kind == "manifest":
        lines.append(f"  Manifest with {len(report.artefacts)} listed files; "
                     f"{sum(a.present and a.sha256_ok and a.size_ok for a in report.artefacts)} present and unchanged.")
        lines += [f"  ! {problem}" for problem in artefact_problems(report)]
    for number, signature in enumerate(report.signatures, 1):
        lines += _signature(number, signature, report.kind)
    for timestamp in report.doc_timestamps:
        lines += _timestamp(timestamp)
    return lines


def _signature(number: int, s: SignatureReport, kind_of_file: str) -> list[str]:
    who = _cut(s.stated_name or s.signer_common_name or "unknown signer")
    meaning = f', meaning "{_cut(s.stated_meaning)}"' if s.stated_meaning else ""
    when = _when(s)
    if kind_of_file == "manifest":
        kind = "detached CMS signature over the manifest"
    else:
        certification = s.certification.replace("_", " ") if s.certification else ""
        kind = f"certification ({certification} allowed)" if s.certification else "approval"
        kind += f", level {s.level or 'not PAdES'}"
    holder = f"certificate of {s.signer_common_name}" if s.signer_common_name else "no signer certificate"
    lines = [f"  {number}. {s.field}: {who}{meaning}; {when}",
             f"     {kind}; {holder}",
             f"     {_checks(s)}; {_HEADLINE[s.indication]}{f' [{s.sub_indication}]' if s.sub_indication else ''}"]
    if s.validation_time and s.validation_time == s.timestamp_time:
        embedded = "" if kind_of_file == "manifest" else ", with the validation data embedded in the file"
        lines.append(f"     validated as of {s.validation_time}, the signing time its timestamp proves{embedded}")
    return lines + [f"     ! {problem}" for problem in s.problems]


def _cut(text: str, limit: int = 300) -> str:
    """A text a signed file states (a name, a meaning), cut for a report line: a PDF can state megabytes."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _when(s: SignatureReport) -> str:
    if s.timestamp_time:
        trust = "trusted" if s.timestamp_trusted else "NOT trusted"
        if s.claimed_time and s.claimed_time != s.timestamp_time:
            # the stamp and `sign` show the stated time; the token is taken a moment later, after signing
            return f"signed {s.claimed_time} as stated, timestamped {s.timestamp_time} ({trust})"
        return f"signed {s.timestamp_time} (timestamp, {trust})"
    if s.claimed_time:
        return f"signed {s.claimed_time} (signer's own clock, no timestamp)"
    return "no signing time"


def _checks(s: SignatureReport) -> str:
    parts = [_fact(s.intact, "intact", "NOT intact", "integrity not checked"),
             _fact(s.valid, "valid", "NOT valid", "signature value not checked"),
             "trusted" if s.trusted else "NOT trusted", f"revocation {s.revocation.replace('_', ' ')}"]
    if s.modification_classes:
        allowed = "" if s.docmdp_ok is not False else " (NOT allowed)"
        words = ", ".join(_CLASSES[c] for c in s.modification_classes)
        parts.append(f"changes after signing: {words}{allowed}")
    elif s.modification is not None:
        allowed = "" if s.docmdp_ok is not False else " (NOT allowed)"
        parts.append(f"changes after signing: {_MODIFICATIONS[s.modification]}{allowed}")
    return ", ".join(parts)


def _fact(value: bool | None, yes: str, no: str, unknown: str) -> str:
    return unknown if value is None else yes if value else no


def _timestamp(t: TimestampReport) -> list[str]:
    lines = [f"  document timestamp {t.field}: {t.time or 'no time'} by {t.tsa_subject or 'unknown TSA'}; "
             f"{_HEADLINE[t.indication]}{f' [{t.sub_indication}]' if t.sub_indication else ''}"]
    return lines + [f"     ! {problem}" for problem in t.problems]

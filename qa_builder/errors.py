"""The one error family: every failure a user can cause or meet is a QABuilderError.

An error carries data as well as its message: the `Problem`s it found (file, line, field path, message) and,
where the caller can remedy it by asking differently, a `Hint` naming the remedy. The library's messages name
no command-line option; the CLI words a hint as its option when it prints the error (qa_builder/cli/errors.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Self


class Remedy(StrEnum):
    """What the caller can change to get past an error (the Python argument; the CLI option in brackets)."""

    REPLACE_OUTPUT = "replace_output"
    """Replace the existing output: ``force=True`` (``--force``)."""
    OTHER_OUTPUT_OR_REPLACE = "other_output_or_replace"
    """Write to another file, or replace the existing one: ``force=True`` (``-o``, ``--force``)."""
    OTHER_NAME_OR_REPLACE = "other_name_or_replace"
    """Choose another file name, or replace the file: ``force=True`` (``--force``)."""
    TIMESTAMP_AUTHORITY = "timestamp_authority"
    """Give an RFC 3161 timestamp authority: ``tsa_url`` (``--tsa URL``)."""
    TRUST_ROOT = "trust_root"
    """Give the trust root certificate: ``trust_roots`` (``--trust ROOT.pem``)."""
    LIBRARY_FOLDER = "library_folder"
    """Give a clause library folder: ``library`` (``--library DIR``)."""
    TEMPLATE_FILE = "template_file"
    """Give a DOCX template: ``template`` (``--template FILE``)."""
    ACCEPT_GAPS = "accept_gaps"
    """Build despite requirement gaps, recording them: ``allow_gaps=True`` (``--allow-gaps``)."""
    ACCEPT_FINDINGS = "accept_findings"
    """Build despite review errors, recording them as accepted: ``allow_findings=True`` (``--allow-findings``)."""
    LIBREOFFICE_ENGINE = "libreoffice_engine"
    """Make the PDF with LibreOffice: ``pdf_engine="libreoffice"`` (``--pdf-engine libreoffice``)."""


@dataclass(frozen=True)
class Hint:
    """The remedy of an error, for its caller to word.

    Attributes:
        remedy: what to change.
        subject: what the remedy acts on, when not the culprit itself (e.g. "the demo's test PKI").
        alternative: another way out that needs no option (e.g. "raise agreement.version").
    """

    remedy: Remedy
    subject: str | None = None
    alternative: str | None = None


@dataclass(frozen=True)
class Problem:
    """One problem found in an input: where it is and what is wrong.

    Attributes:
        file: the file holding the problem, if any.
        line: its 1-based line in that file, when known.
        field_path: the field, dotted with [index] for list items (e.g. ``sites[0].address``), when known.
        message: the sentence after "FILE line N: ", naming the field and the fix.
    """

    file: Path | None
    line: int | None
    field_path: str | None
    message: str

    def __str__(self) -> str:
        """"FILE line N: MESSAGE" (the line left out when unknown; only MESSAGE without a file)."""
        if self.file is None:
            return self.message
        # A line break in a file name would start a second, forged "error: …" line (session 5 attack).
        return f"{one_line(str(self.file))}{f' line {self.line}' if self.line else ''}: {self.message}"


_LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}
"""Every character str.splitlines() breaks a line at."""


def first_line(text: str) -> str:
    """`text` up to its first line break, escaped or not (what follows a line break inside one sentence may be
    another program's text, which the audit trail does not keep)."""
    cut = min((i for i in (text.find(m) for m in (*_LINE_BREAKS.values(), *map(chr, _LINE_BREAKS))) if i >= 0),
              default=len(text))
    return text[:cut]


def one_line(text: str) -> str:
    """`text` with every character that would start a new line (see str.splitlines) shown as \\uXXXX.

    An error's message is one line per problem; a file or folder name quoted in it is anything a file system
    allows, line feeds included, and would otherwise print a second, forged "error: …" line.
    """
    return text.translate(_LINE_BREAKS)


class QABuilderError(Exception):
    """Base of every error qa-builder reports to a user as a one-line message.

    The message is a sentence that names the culprit (file, line, field). The fix, when it is to ask
    differently (replace an output, give a timestamp authority ...), is the `hint`, worded by the caller.

    Args:
        message: the sentence, or one sentence per problem; a line break inside a sentence (from a file name
            quoted in it) is shown as \\u000a, so that each sentence prints as one line.
        hint: the remedy, or None.
        problems: the problems, each with its file, line and field path.

    Attributes:
        message: the message (one line per problem).
        hint: the remedy, or None.
        problems: the problems, each with its file, line and field path; empty when the error has none.
        file, line, field_path: those of the first problem (None when there is none).
    """

    exit_code: int = 1

    def __init__(self, message: str | Sequence[str] = "", *, hint: Hint | None = None,
                 problems: Sequence[Problem] = ()) -> None:
        message = one_line(message) if isinstance(message, str) else "\n".join(one_line(m) for m in message)
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problems = tuple(problems)

    @classmethod
    def of_problems(cls, problems: Sequence[Problem], *, hint: Hint | None = None) -> Self:
        """The error of these problems, its message one line per problem."""
        return cls([str(p) for p in problems], hint=hint, problems=problems)

    @property
    def file(self) -> Path | None:
        return self.problems[0].file if self.problems else None

    @property
    def line(self) -> int | None:
        return self.problems[0].line if self.problems else None

    @property
    def field_path(self) -> str | None:
        return self.problems[0].field_path if self.problems else None


class InputError(QABuilderError):
    """Input the user gave cannot be used (usage or input error, exit code 2)."""

    exit_code = 2


class ConfigError(InputError):
    """A QA_BUILDER_* environment variable is set to something unusable."""


class AnswersError(InputError):
    """An answers file is unreadable or does not validate."""


class LibraryError(InputError):
    """The clause library (or the requirement catalogue / RACI data) is invalid."""


class TemplateError(InputError):
    """The DOCX template is missing, unreadable, or uses unknown variables."""


class ReviewError(InputError):
    """Review checks found errors and they were not accepted (allow_findings; hint ACCEPT_FINDINGS)."""


class CoverageError(InputError):
    """An applicable regulatory requirement is satisfied by no clause and gaps were not allowed (allow_gaps)."""


class OutputExistsError(InputError):
    """An output file exists and replacing it was not asked for (force; hint REPLACE_OUTPUT)."""


class OutputFolderError(QABuilderError):
    """The output folder cannot take the outputs: disk full, read-only, not allowed to write."""


class RenderError(InputError):
    """Rendering a clause text or the DOCX failed: a fault of the clause library or template (exit code 2)."""


class ConversionError(QABuilderError):
    """LibreOffice could not convert a DOCX to PDF (missing, crashed, timed out)."""


class SigningError(QABuilderError):
    """A signature could not be made: key, certificate, field or document state is not right."""


class SigningInputError(SigningError, InputError):
    """A signature could not be made because of what the user gave (exit code 2): an option, the PDF, the key
    file or token, its passphrase or PIN, its certificate, a trust root, or an output that exists."""


class ManifestError(QABuilderError):
    """A manifest could not be made or signed."""


class ManifestInputError(ManifestError, InputError):
    """The build record or an artefact it lists cannot be used (exit code 2)."""


class SignatureFieldError(QABuilderError):
    """The empty signature fields could not be placed on the PDF."""


class AuditError(QABuilderError):
    """The audit trail cannot be used: missing, unreadable, not writable, or an event was refused (exit code 3).

    Exit code 3 keeps "the trail could not be checked or written" apart from exit code 1 of `audit verify`,
    which means "the trail was checked and found tampered".
    """

    exit_code = 3


def failure_line(exc: BaseException) -> str:
    """One line for a failed item of a batch: our own errors as they are, anything else with type and cause."""
    if isinstance(exc, QABuilderError):
        return str(exc).splitlines()[0]
    cause = f" (caused by {type(exc.__cause__).__name__}: {exc.__cause__})" if exc.__cause__ else ""
    return f"internal error: {type(exc).__name__}: {exc}{cause}"

"""The one error family: every failure a user can cause or meet is a QABuilderError."""

from __future__ import annotations


class QABuilderError(Exception):
    """Base of every error qa-builder reports to a user as a one-line message.

    The message is a sentence that names the culprit (file, line, field) and,
    where there is one, the fix.
    """

    exit_code: int = 1


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
    """Review checks found errors and --allow-findings was not given."""


class CoverageError(InputError):
    """An applicable regulatory requirement is satisfied by no clause and --allow-gaps was not given."""


class OutputExistsError(InputError):
    """An output file exists and --force was not given."""


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

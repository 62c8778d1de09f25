"""How the command line words a library error: its message, and its hint as the option that remedies it."""

from __future__ import annotations

from qa_builder.errors import Hint, QABuilderError, Remedy

_WORDING: dict[Remedy, str] = {
    Remedy.REPLACE_OUTPUT: "; use --force to replace {subject}",
    Remedy.OTHER_OUTPUT_OR_REPLACE: "; choose another -o or pass --force",
    Remedy.OTHER_NAME_OR_REPLACE: ": choose another name, or pass --force to replace it",
    Remedy.TIMESTAMP_AUTHORITY: ": pass --tsa URL",
    Remedy.TRUST_ROOT: ": pass --trust ROOT.pem",
    Remedy.LIBRARY_FOLDER: "; pass --library DIR",
    Remedy.TEMPLATE_FILE: "; pass --template FILE",
    Remedy.ACCEPT_GAPS: ", or pass --allow-gaps",
    Remedy.ACCEPT_FINDINGS: ", or pass --allow-findings to build anyway and record them as accepted",
    Remedy.LIBREOFFICE_ENGINE: "; use --pdf-engine libreoffice",
}
"""What the CLI appends to a message for each remedy (every Remedy has one: a test checks it)."""


def hint_text(hint: Hint | None) -> str:
    """The words the CLI appends to an error's message for its hint ("" without one)."""
    if hint is None:
        return ""
    text = _WORDING[hint.remedy].format(subject=hint.subject or "it")
    return f"{text} or {hint.alternative}" if hint.alternative else text


def error_text(exc: BaseException) -> str:
    """A library error as the CLI prints it: its message, ending with the option that remedies it."""
    message = str(exc)
    return message + hint_text(exc.hint) if isinstance(exc, QABuilderError) else message

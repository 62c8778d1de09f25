"""The questionnaire's own interview, one section per page: the web app runs `Interview` with a form as asker.

Each request replays the whole interview (`qa_builder.questionnaire.questions.Interview`) over the saved draft: the
questions of the page being submitted take the typed values, every other question its saved value or default.
So which questions apply, their defaults and their validation (the Answers model's own types) stay in one
place, shared with `qa-builder questionnaire`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from qa_builder.files import write_bytes_atomic
from qa_builder.questionnaire.help import QuestionHelp, question_help
from qa_builder.questionnaire.questions import Interview, Validator, render_answers, value_at


class _Unanswered(list[Any]):
    """What an unanswered question yields while the interview is replayed: empty, falsy, iterable.

    `kept` is the draft's own value when the question was not on the submitted page and that saved value is
    wrong: saving another page writes it back as it was (the person corrects it on its own page), never blank.
    """

    def __init__(self, kept: Any = None) -> None:
        super().__init__()
        self.kept = kept


@dataclass
class Question:
    """One question as the page shows it."""

    key: str
    prompt: str
    value: str
    error: str | None = None
    unanswered: bool = False

    @property
    def help(self) -> QuestionHelp | None:
        """What the answer decides and the sources that make it matter (the questionnaire's own help)."""
        return question_help(self.key)

    @property
    def described(self) -> str | None:
        """The answers model's own description of the field this question sets (how to answer), if any."""
        return field_help(self.key)


@dataclass
class Section:
    """A page of the interview."""

    title: str
    note: str
    questions: list[Question] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not any(q.error or q.unanswered for q in self.questions)


class FormAsker:
    """Answers the interview's questions from a submitted form, or from the saved draft and defaults."""

    def __init__(self, submitted: Mapping[str, str] | None = None, draft: Mapping[str, Any] | None = None) -> None:
        self.submitted = dict(submitted or {})
        self.draft = draft or {}
        self.sections: list[Section] = []

    def section(self, title: str, note: str = "") -> None:
        self.sections.append(Section(title, note))

    def ask(self, key: str, prompt: str, default: str | None, parse: Validator) -> Any:
        if not self.sections:
            self.sections.append(Section("Questions", ""))
        raw = self.submitted.get(key)
        shown = raw if raw is not None else (default or "")
        question = Question(key, prompt, shown)
        self.sections[-1].questions.append(question)
        try:
            return parse(shown)
        except ValueError as exc:
            if raw is None and not shown:
                question.unanswered = True
            else:
                question.error = str(exc)
            return _Unanswered(kept=value_at(self.draft, key) if raw is None else None)


@dataclass
class Replay:
    """The interview replayed over a draft (and perhaps a submitted page)."""

    data: dict[str, Any]
    sections: list[Section]

    @property
    def complete(self) -> bool:
        return all(s.complete for s in self.sections)

    def section_of(self, field_path: str) -> int | None:
        """The page holding the question a finding's field path names (the longest matching key)."""
        best: tuple[int, int] | None = None
        for number, section in enumerate(self.sections):
            for question in section.questions:
                key = question.key
                concerns = field_path == key or field_path.startswith((key + ".", key + "["))
                if concerns and (best is None or len(key) > best[0]):
                    best = (len(key), number)
        return best[1] if best else None


def replay(draft: dict[str, Any], submitted: Mapping[str, str] | None = None) -> Replay:
    """Run the interview over `draft`, taking the answers in `submitted` (question key -> typed text)."""
    asker = FormAsker(submitted, draft)
    data = Interview(asker, start=draft).run()
    sections = [s for s in asker.sections if s.questions]
    return Replay(data=data, sections=sections)


@functools.cache
def field_help(key: str) -> str | None:
    """The description the Answers model gives the field at `key` (``contract_acceptor.sites[0].activities``),
    so that help text lives with the field (and in `qa-builder schema`), not in the web app.

    Returns:
        The description, or None when the field has none or the key names no model field.
    """
    from qa_builder.models.answers import Answers

    model: type[BaseModel] | None = Answers
    description = None
    for part in re.sub(r"\[\d+\]", "", key).split("."):
        info = model.model_fields.get(part) if model is not None else None
        if info is None:
            return None
        description = info.description
        model = _model_in(info.annotation)
    return description


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside a field's type (``Site``, ``list[Site]``, ``Site | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def read_draft(path: Path) -> dict[str, Any]:
    """The saved answers (complete or not) as plain data; an absent file is an empty draft.

    Raises:
        InputError: the file is not YAML mapping.
    """
    from qa_builder.errors import InputError

    if not path.is_file():
        return {}
    from qa_builder.yaml_source import SourceError, read_plain_yaml

    try:  # libyaml's loader (the pure-Python one took 5 ms of every page), within the answers files' bounds
        data = read_plain_yaml(path)
    except (OSError, SourceError) as exc:
        raise InputError(f"{path}: cannot be read as answers ({str(exc).splitlines()[0]})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: is not an answers file (the top level must be a mapping)")
    return data


def save_draft(path: Path, data: dict[str, Any]) -> bool:
    """Write the answers file atomically, unanswered questions as empty values (the CLI names them).

    Returns:
        False when the file already says exactly this (it is then left alone), True when it was written.
    """
    text = render_answers(_plain(data)).encode("utf-8")
    try:
        if path.is_file() and path.read_bytes() == text:
            return False
    except OSError:
        pass
    write_bytes_atomic(path, text)
    return True


def _plain(value: Any) -> Any:
    if isinstance(value, _Unanswered):
        return value.kept
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value

"""Is a counterparty's clause text what the library would render with another answer value (a notice period, ...)?

The clause's library text is parsed (never run by anything but the sandbox) to find the answers it reads
(`audits.notice_business_days`); each is tried with candidate values: the numbers the proposed text states, the
other value of a yes/no answer, the other choices of a fixed list. A candidate that gives exactly the proposed
text is the answer change the counterparty asks for.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from jinja2 import nodes
from pydantic import BaseModel, ValidationError

from qa_builder.errors import QABuilderError
from qa_builder.library.assemble import split_paragraphs
from qa_builder.library.context import build_context
from qa_builder.models.answers import Answers
from qa_builder.models.library import Clause, ClauseLibrary
from qa_builder.sandbox.environment import (
    TemplateProblem,
    compile_condition,
    compile_text,
    evaluate_condition,
    parse,
    render_text,
)

__all__ = ["AnswerChange", "AnswerValue", "RenderBudget", "answer_paths", "find_answer_change", "paragraph_lines",
           "with_answer"]

AnswerValue = str | int | bool | None
MAX_CANDIDATES = 200
"""Most re-renders tried for one clause (each is a few milliseconds)."""
MAX_RENDERS = 1500
"""Most re-renders tried for one returned file, whatever it holds (about 7 ms each: 10 s at worst)."""


@dataclass
class RenderBudget:
    """Re-renders left for one returned file."""

    left: int = MAX_RENDERS
_NUMBER = re.compile(r"\b\d{1,6}\b")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class AnswerChange:
    """The answer (dotted field path, e.g. 'audits.notice_business_days') and value that render the proposed text."""

    field: str
    value: AnswerValue
    current: AnswerValue


def paragraph_lines(text: str) -> list[str]:
    """A rendered clause text as the lines a DOCX shows: 'label<tab>text' for items, the text for body paragraphs."""
    return [f"{p.label}\t{p.text}" if p.label else p.text for p in split_paragraphs(text)]


def _norm(lines: Sequence[str]) -> list[str]:
    return [s for s in (_SPACES.sub(" ", line).strip() for line in lines) if s]


def _chains(node: nodes.Node) -> Iterator[tuple[str, ...]]:
    """Every `name.attr.attr` chain in a parsed text, outermost attribute last."""
    inner: set[int] = set()
    for getattr_node in node.find_all(nodes.Getattr):
        if isinstance(getattr_node.node, nodes.Getattr):
            inner.add(id(getattr_node.node))
    for getattr_node in node.find_all(nodes.Getattr):
        if id(getattr_node) in inner:
            continue
        parts: list[str] = []
        current: nodes.Node = getattr_node
        while isinstance(current, nodes.Getattr):
            parts.append(current.attr)
            current = current.node
        if isinstance(current, nodes.Name):
            yield (current.name, *reversed(parts))


def _scalar_annotation(path: tuple[str, ...]) -> Any | None:
    """The annotation of an answers field reached by `path` when it is a scalar we can vary, else None."""
    model: type[BaseModel] = Answers
    annotation: Any = None
    for i, name in enumerate(path):
        info = model.model_fields.get(name)
        if info is None:
            return None
        annotation = info.annotation
        if i < len(path) - 1:
            inner = _model_of(annotation)
            if inner is None:
                return None
            model = inner
    return annotation if _model_of(annotation) is None else None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for option in _options(annotation):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None


def _options(annotation: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return tuple(o for arg in typing.get_args(annotation) for o in _options(arg))
    if origin is typing.Annotated:
        return _options(typing.get_args(annotation)[0])
    return (annotation,)


def answer_paths(clause: Clause, source: str) -> list[tuple[str, ...]]:
    """The scalar answers a clause text (and its position rule) reads, as field paths, in first-use order."""
    found: list[tuple[str, ...]] = []
    texts = [source] + ([f"{{{{ {clause.position_from} }}}}"] if clause.position_from else [])
    for text in texts:
        try:
            tree = parse(text, validate=False)
        except TemplateProblem:
            continue
        chains = [*_chains(tree), *((n.name,) for n in tree.find_all(nodes.Name))]
        for chain in chains:
            for length in range(len(chain), 0, -1):  # 'audits.notice_business_days' and not its '.real'
                path = chain[:length]
                if _scalar_annotation(path) is not None:
                    if path not in found:
                        found.append(path)
                    break
    return found


def _current(answers: Answers, path: tuple[str, ...]) -> Any:
    value: Any = answers
    for name in path:
        value = getattr(value, name)
    return value


def _candidates(annotation: Any, current: Any, proposed: Sequence[str]) -> list[AnswerValue]:
    values: list[AnswerValue] = []
    for option in _options(annotation):
        if option is bool:
            values += [True, False]
        elif option is int:
            values += [int(n) for line in proposed for n in _NUMBER.findall(line)]
        elif option is type(None):
            values.append(None)
        elif typing.get_origin(option) is Literal:
            values += [v for v in typing.get_args(option) if isinstance(v, str | int | bool)]
    unique: list[AnswerValue] = []
    for value in values:
        if value != current and value not in unique and not (isinstance(value, bool) is not isinstance(current, bool)
                                                             and current is not None and value is not None):
            unique.append(value)
    return unique


def with_answer(answers: Answers, path: tuple[str, ...], value: AnswerValue) -> Answers | None:
    """`answers` with the field at `path` set to `value`, validated; None when the answers do not allow it."""
    data = answers.model_dump(mode="python")
    target = data
    for name in path[:-1]:
        if target.get(name) is None:
            return None
        target = target[name]
    target[path[-1]] = value
    try:
        return Answers.model_validate(data)
    except ValidationError:
        return None  # a value the answers do not allow (a notice period over its maximum) is no candidate


def _render(clause: Clause, answers: Answers, library: ClauseLibrary, position: str | None) -> list[str] | None:
    context = build_context(answers, library.clocks)
    try:
        if clause.positions and clause.id not in answers.positions and clause.position_from is not None:
            position = str(evaluate_condition(compile_condition(clause.position_from), context))
        source = clause.text if clause.text is not None else (clause.positions or {}).get(position or "")
        if source is None:
            return None
        return paragraph_lines(render_text(compile_text(source), context))
    except (TemplateProblem, QABuilderError):
        return None


def find_answer_change(clause: Clause, position: str | None, answers: Answers, library: ClauseLibrary,
                       proposed: Sequence[str], budget: RenderBudget | None = None) -> AnswerChange | None:
    """The one-answer change under which `clause` renders exactly `proposed` (its paragraph lines), if any.

    Args:
        clause: the library clause.
        position: the clause's position in the agreement as sent.
        answers: the agreement's answers.
        library: the clause library (for its clocks).
        proposed: the counterparty's text of the clause, one line per paragraph, without the heading.
        budget: re-renders left for the whole returned file; none are tried once it is spent.
    """
    source = clause.text if clause.text is not None else (clause.positions or {}).get(position or "")
    if source is None:
        return None
    want = _norm(proposed)
    tried = 0
    for path in answer_paths(clause, source):
        current = _current(answers, path)
        for value in _candidates(_scalar_annotation(path), current, proposed):
            tried += 1
            if tried > MAX_CANDIDATES or (budget is not None and budget.left <= 0):
                return None
            if budget is not None:
                budget.left -= 1
            changed = with_answer(answers, path, value)
            if changed is None:
                continue
            lines = _render(clause, changed, library, position)
            if lines is not None and _norm(lines) == want:
                return AnswerChange(".".join(path), value, current)
    return None

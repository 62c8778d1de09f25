"""Set one value in an answers file's text, keeping everything else (comments, order, quoting) as the user wrote it.

The answers file stays the source of truth: a decision changes exactly the line of the answer it decides, or adds
that answer under its section, and the result is validated as answers before it replaces the file (atomically).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from qa_builder.errors import AnswersError
from qa_builder.files import write_bytes_atomic
from qa_builder.models.answers import Answers
from qa_builder.yaml_source import SourceError, decode_source, parse_text, read_bounded

__all__ = ["set_answer", "set_answer_text"]

Scalar = str | int | bool | None
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYWORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none"}


def _scalar_text(value: Scalar) -> str:
    """A value as a YAML flow scalar: a plain word as it is (`fallback`), anything else as JSON (valid YAML)."""
    if isinstance(value, str) and _PLAIN.match(value) and value.lower() not in _KEYWORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def set_answer_text(text: str, path: Sequence[str], value: Scalar, *, is_json: bool = False) -> str:
    """`text` (an answers file) with the mapping entry at `path` set to `value`.

    Raises:
        AnswersError: the text does not parse, or a part of `path` is not a mapping.
    """
    if is_json or text.lstrip().startswith("{"):
        data = json.loads(text)
        target = data
        for name in path[:-1]:
            target = target.setdefault(name, {})
            if not isinstance(target, dict):
                raise AnswersError(f"{'.'.join(path)}: {name} is not a section")
        target[path[-1]] = value
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise AnswersError(f"the answers do not parse ({exc})") from exc
    if not isinstance(root, yaml.MappingNode):
        raise AnswersError("the answers are not a mapping of sections")
    node: yaml.MappingNode = root
    lines = text.splitlines(keepends=True)
    for depth, name in enumerate(path):
        entry = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == name), None)
        last = depth == len(path) - 1
        if entry is not None and last:
            return _replace_span(text, entry[1], _scalar_text(value))
        if entry is not None and isinstance(entry[1], yaml.MappingNode):
            node = entry[1]
            continue
        if entry is not None and not (isinstance(entry[1], yaml.ScalarNode) and entry[1].value in ("", "null", "~")):
            raise AnswersError(f"{'.'.join(path[:depth + 1])} is not a section")
        rest = _nested(path[depth:], value)
        if entry is not None:  # 'audits:' with nothing under it
            return _replace_span(text, entry[1], _flow(rest[path[depth]]))
        if node.flow_style:
            return _replace_span(text, node, _flow({**_plain(text, node), **rest}))
        return _insert_block(lines, node, rest)
    raise AnswersError("no answer named")  # pragma: no cover - path is never empty


def _nested(path: Sequence[str], value: Scalar) -> dict[str, Any]:
    result: dict[str, Any] = {path[-1]: value}
    for name in reversed(path[:-1]):
        result = {name: result}
    return result


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return _scalar_text(value)


def _plain(text: str, node: yaml.Node) -> dict[str, Any]:
    data = yaml.load(text[node.start_mark.index:node.end_mark.index], Loader=_Loader)
    return data if isinstance(data, dict) else {}


def _replace_span(text: str, node: yaml.Node, replacement: str) -> str:
    start, end = node.start_mark.index, node.end_mark.index
    if start == end:  # an empty value: 'audits:' then end of line
        return text[:start] + " " + replacement + text[end:]
    return text[:start] + replacement + text[end:]


def _insert_block(lines: list[str], node: yaml.MappingNode, entries: dict[str, Any]) -> str:
    """Add `entries` as block lines after the last entry of a block mapping, at its indentation."""
    indent = node.value[0][0].start_mark.column if node.value else 0
    last_line = max(v.end_mark.line - (1 if v.end_mark.column == 0 and v.end_mark.line > v.start_mark.line else 0)
                    for _, v in node.value) if node.value else len(lines) - 1
    new: list[str] = []

    def emit(data: dict[str, Any], level: int) -> None:
        for key, value in data.items():
            if isinstance(value, dict):
                new.append(" " * level + f"{key}:\n")
                emit(value, level + 2)
            else:
                new.append(" " * level + f"{key}: {_scalar_text(value)}\n")

    emit(entries, indent)
    at = last_line + 1
    if at > len(lines):
        at = len(lines)
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    return "".join(lines[:at] + new + lines[at:])


def set_answer(path: Path, field: Sequence[str], value: Scalar) -> str:
    """Set one answer in the answers file at `path` (atomic replace), after validating the result as answers.

    Returns:
        The new text.

    Raises:
        AnswersError: the file cannot be read, or the new value is not allowed (naming the field).
    """
    try:
        raw = read_bounded(path)
        text = decode_source(raw)
    except (SourceError, OSError) as exc:
        raise AnswersError(f"{path}: cannot be read ({exc})") from exc
    is_json = path.suffix.lower() == ".json"
    new_text = set_answer_text(text, field, value, is_json=is_json)
    dotted = ".".join(field)
    try:
        source = parse_text(new_text, is_json=is_json)
        Answers.model_validate(source.data)
    except SourceError as exc:
        raise AnswersError(f"{path}: setting {dotted} would not give a readable file ({exc}); nothing was changed") \
            from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        shown = _scalar_text(value)  # the value as typed, cut: a 10,000-character one was echoed whole
        shown = shown if len(shown) <= 80 else shown[:80] + "…"
        raise AnswersError(f"{path}: {dotted} = {shown} is not allowed ({first['msg']}); nothing was "
                           "changed") from exc
    write_bytes_atomic(path, new_text.encode("utf-8"))
    return new_text

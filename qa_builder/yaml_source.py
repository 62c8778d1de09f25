"""Read YAML (or JSON) into plain data while remembering the line of every key and item."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class SourceError(Exception):
    """The text cannot be parsed; `line` is 1-based, 0 when unknown."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class SourceDocument:
    """Parsed data and a map from each key/item path to its 1-based line."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """The line of `path`, or of its nearest ancestor that has one (0 if none)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line:
                return line
        return 0


def parse_text(text: str, *, is_json: bool = False) -> SourceDocument:
    """Parse YAML (or JSON) text; duplicate keys are errors."""
    if is_json:
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicate_pairs)
        except json.JSONDecodeError as exc:
            raise SourceError(f"is not valid JSON: {exc.msg}", exc.lineno) from exc
        try:
            lines = _parse_yaml(text)[1]
        except SourceError:
            lines = {}
        return SourceDocument(data, lines)
    data, lines = _parse_yaml(text)
    return SourceDocument(data, lines)


def read_source(path: Path) -> SourceDocument:
    """Read and parse a YAML or JSON file (by suffix); raise SourceError on any problem."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise SourceError("does not exist") from exc
    except IsADirectoryError as exc:
        raise SourceError("is a folder, not a file") from exc
    except OSError as exc:
        raise SourceError(f"cannot be read ({exc.strerror})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError("is not UTF-8 text; save it as UTF-8") from exc
    return parse_text(text, is_json=path.suffix.lower() == ".json")


def _no_duplicate_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise SourceError(f"has the key '{key}' twice in one object")
        result[key] = value
    return result


def _parse_yaml(text: str) -> tuple[Any, dict[Path_, int]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        data = _construct(loader, node, (), lines) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise SourceError(f"is not valid YAML: {exc.problem or exc.context}", line) from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"is not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return data, lines


def _construct(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SourceError("uses a YAML merge key ('<<'); write the keys out", key_node.start_mark.line + 1)
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int)):
                raise SourceError(f"has a key that is not text: {key!r}", key_node.start_mark.line + 1)
            key = str(key)
            if key in result:
                raise SourceError(f"has the key '{key}' twice", key_node.start_mark.line + 1)
            child = (*path, key)
            result[key] = _construct(loader, value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, (*path, i), lines) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)

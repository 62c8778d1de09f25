"""Read YAML (or JSON) into plain data while remembering the line of every key and item.

Input files are data a user or a team edits, so reading them is bounded: a file is at most
`MAX_FILE_BYTES`, nests at most `MAX_DEPTH` levels and holds at most `MAX_NODES` values; YAML anchors
and aliases (the "billion laughs" expansion), merge keys and tags other than YAML's plain types are
refused, and a number or date that Python cannot hold is a line naming the field, not a crash.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qa_builder.cache import entry_key, read_entry, write_entry

Path_ = tuple[str | int, ...]

MAX_FILE_BYTES = 1024 * 1024
"""Largest answers or library file read (1 MiB; the bundled library's largest file is 35 KB)."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and lists (the answers model needs 5 levels)."""
MAX_NODES = 100_000
"""Most keys, items and values in one file."""
MAX_NUMBER_DIGITS = 30
"""Longest integer literal; no answer or library value needs more."""

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in
                        ("str", "int", "float", "bool", "null", "timestamp", "map", "seq"))


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
    """Parse YAML (or JSON) text; duplicate keys are errors.

    Raises:
        SourceError: the text is not valid YAML/JSON or exceeds a bound (depth, size, aliases, numbers).
    """
    if is_json:
        data = _parse_json(text)
        try:
            lines = _parse_yaml(text)[1]
        except SourceError:
            lines = {}
        return SourceDocument(data, lines)
    data, lines = _parse_yaml(text)
    return SourceDocument(data, lines)


def decode_source(raw: bytes) -> str:
    """Decode the bytes of an input file: UTF-8 (with or without BOM), or UTF-16 with a BOM.

    Raises:
        SourceError: the file is larger than `MAX_FILE_BYTES` or not in one of those encodings.
    """
    if len(raw) > MAX_FILE_BYTES:
        raise SourceError(f"is {len(raw) / 1024 / 1024:.1f} MiB; input files may be at most "
                          f"{MAX_FILE_BYTES // 1024 // 1024} MiB")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not raw.startswith(codecs.BOM_UTF32_LE):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SourceError("is not valid UTF-16 text; save it as UTF-8") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise SourceError(f"is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8", line) from exc


def read_bounded(path: Path) -> bytes:
    """The bytes of a regular file of at most `MAX_FILE_BYTES` (never a device, pipe or folder).

    Raises:
        FileNotFoundError, IsADirectoryError, OSError: the file cannot be opened or read.
        SourceError: it is not a regular file (e.g. /dev/zero, a pipe) or is larger than `MAX_FILE_BYTES`.
    """
    # O_NONBLOCK: opening a named pipe must not wait for a writer; it is refused below like a device.
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise SourceError("is not a regular file")
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise SourceError(f"is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB, the most an input file may be")
    return raw


def read_plain_yaml(path: Path) -> Any:
    """The data of a YAML file, parsed by libyaml without line numbers (fast, for the web app's drafts), within
    the bounds `read_source` keeps: a regular file of at most MAX_FILE_BYTES, no anchors or aliases, plain tags,
    MAX_DEPTH and MAX_NODES. A draft read with a bare `yaml.load` expanded a 1 KB nest of aliases until the server
    held 800 MB and stopped answering.

    Raises:
        OSError: the file cannot be read.
        SourceError: it is not a regular file, too large, not UTF-8/UTF-16 text, not valid YAML, or over a bound.
    """
    text = decode_source(read_bounded(path))
    _check_events(text)
    try:
        return yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        raise SourceError(f"is not valid YAML: {str(exc).splitlines()[0]}") from exc


def read_source(path: Path, *, cached: bool = False) -> SourceDocument:
    """Read and parse a YAML or JSON file (by suffix); raise SourceError on any problem.

    Args:
        cached: keep the parsed result in qa-builder's cache (see `qa_builder.cache`), named by the file's bytes,
            and use it next time: for clause-library files (parsing the bundled library's ~7,500 values costs
            ~0.2 s, loading them from the cache ~20 ms). Not for answers files, whose contents stay where the
            user keeps them. Only results that parsed are kept; a bad file is parsed, and reported, every time.
    """
    try:
        raw = read_bounded(path)
    except FileNotFoundError as exc:
        raise SourceError("does not exist") from exc
    except IsADirectoryError as exc:
        raise SourceError("is a folder, not a file") from exc
    except OSError as exc:
        raise SourceError(f"cannot be read ({exc.strerror})") from exc
    is_json = path.suffix.lower() == ".json"
    if not cached:
        return parse_text(decode_source(raw), is_json=is_json)
    key = entry_key(b"source", raw, b"json" if is_json else b"yaml")
    found = _from_cache(read_entry("parsed-sources", key, limit=64 * MAX_FILE_BYTES))
    if found is not None:
        return found
    document = parse_text(decode_source(raw), is_json=is_json)
    stored = _to_cache(document)
    if stored is not None:
        write_entry("parsed-sources", key, stored)
    return document


_DATE, _TIME = "\x00date", "\x00time"  # never a key of parsed data (see _to_cache)


def _to_cache(document: SourceDocument) -> bytes | None:
    """JSON of the document, dates and times tagged; None when a key could be taken for a tag."""
    def encode(value: Any) -> Any:
        if isinstance(value, dict):
            if any(key.startswith("\x00") for key in value):
                raise ValueError("a key starts with NUL")
            return {key: encode(item) for key, item in value.items()}
        if isinstance(value, list):
            return [encode(item) for item in value]
        if isinstance(value, dt.datetime):
            return {_TIME: value.isoformat()}
        if isinstance(value, dt.date):
            return {_DATE: value.isoformat()}
        return value

    try:
        return json.dumps({"data": encode(document.data),
                           "lines": [[list(path), line] for path, line in document.lines.items()]},
                          ensure_ascii=False).encode("utf-8", "surrogatepass")
    except ValueError:
        return None


def _from_cache(stored: bytes | None) -> SourceDocument | None:
    """The document `_to_cache` wrote, or None when absent or unreadable."""
    def decode(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, item),) = value.items()
                if key == _DATE:
                    return dt.date.fromisoformat(item)
                if key == _TIME:
                    return dt.datetime.fromisoformat(item)
            return {key: decode(item) for key, item in value.items()}
        if isinstance(value, list):
            return [decode(item) for item in value]
        return value

    if stored is None:
        return None
    try:
        content = json.loads(stored.decode("utf-8", "surrogatepass"))
        return SourceDocument(decode(content["data"]), {tuple(path): line for path, line in content["lines"]})
    except (ValueError, TypeError, KeyError, RecursionError):
        return None


def _parse_json(text: str) -> Any:
    def parse_int(literal: str) -> int:
        if len(literal.lstrip("-")) > MAX_NUMBER_DIGITS:
            raise SourceError(f"holds a number of {len(literal.lstrip('-'))} digits; no value needs more than "
                              f"{MAX_NUMBER_DIGITS}")
        return int(literal)

    try:
        # strict=False: a raw control character inside a string reaches the models, which name its field.
        data = json.loads(text, object_pairs_hook=_no_duplicate_pairs, parse_int=parse_int, strict=False)
    except json.JSONDecodeError as exc:
        raise SourceError(f"is not valid JSON: {exc.msg}", exc.lineno) from exc
    except RecursionError as exc:
        raise SourceError(f"nests lists or objects more than {MAX_DEPTH} levels deep") from exc
    _check_json_shape(data)
    return data


def _check_json_shape(data: Any) -> None:
    nodes = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise SourceError(f"holds more than {MAX_NODES} values")
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise SourceError(f"nests lists or objects more than {MAX_DEPTH} levels deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _no_duplicate_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise SourceError(f"has the key '{_printable(key)}' twice in one object")
        result[key] = value
    return result


# What the YAML reader refuses outright (yaml.reader.Reader.NON_PRINTABLE), and DEL.
_UNREADABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def _mask_unreadable(text: str) -> tuple[str, dict[int, str]]:
    """Stand each character the YAML reader refuses in for an unused private-use one, to restore after parsing.

    A raw control byte then reaches the models, which name its field and line, instead of failing the
    whole file with a position only.
    """
    found = sorted(set(_UNREADABLE.findall(text)))
    if not found:
        return text, {}
    free = (chr(code) for code in range(0xF0000, 0xFFFFE) if chr(code) not in text)
    masks = dict(zip(found, free, strict=False))
    masked = _UNREADABLE.sub(lambda match: masks[match.group()], text)
    return masked, {ord(mask): char for char, mask in masks.items()}


def _restore(data: Any, table: dict[int, str]) -> Any:
    if isinstance(data, str):
        return data.translate(table)
    if isinstance(data, dict):
        return {_restore(key, table): _restore(value, table) for key, value in data.items()}
    if isinstance(data, list):
        return [_restore(item, table) for item in data]
    return data


def _parse_yaml(text: str) -> tuple[Any, dict[Path_, int]]:
    text, table = _mask_unreadable(text)
    data, lines = _parse_masked(text)
    if not table:
        return data, lines
    restored_lines = {tuple(_restore(part, table) for part in path): line for path, line in lines.items()}
    return _restore(data, table), restored_lines


def _parse_masked(text: str) -> tuple[Any, dict[Path_, int]]:
    _check_events(text)
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        data = _construct(loader, node, (), lines) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, text) from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"is not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return data, lines


def _check_events(text: str) -> None:
    """Walk the parser's events (no recursion, no expansion) and refuse what could exhaust resources."""
    depth = nodes = 0
    loader = _SafeLoader(text)
    try:
        while loader.check_event():
            event = loader.get_event()  # type: ignore[no-untyped-call]
            line = event.start_mark.line + 1 if event.start_mark else 0
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise SourceError("uses a YAML anchor or alias ('&name' / '*name'); write the values out "
                                  "in full", line)
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in _PLAIN_TAGS and tag != "!":
                shown = tag.replace("tag:yaml.org,2002:", "!!")
                raise SourceError(f"uses the YAML tag '{shown}'; only plain text, numbers, dates, true/false, "
                                  "lists and mappings are allowed", line)
            if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
                nodes += 1
                if nodes > MAX_NODES:
                    raise SourceError(f"holds more than {MAX_NODES} values", line)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise SourceError(f"nests lists or mappings more than {MAX_DEPTH} levels deep", line)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, text) from exc
    except yaml.reader.ReaderError as exc:
        # libyaml counts the position in UTF-8 bytes, the pure-Python reader in characters.
        before = text.encode("utf-8", "surrogatepass")[:exc.position] if _SafeLoader is not yaml.SafeLoader else (
            text[:exc.position].encode("utf-8", "surrogatepass"))
        line = before.count(b"\n") + 1
        raise SourceError(f"holds the control character U+{exc.character:04X}, which text may not contain; "
                          "remove it", line) from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"is not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.MarkedYAMLError, text: str) -> SourceError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 0
    lines = text.splitlines()
    if line and line <= len(lines) and "\t" in lines[line - 1][: len(lines[line - 1]) - len(lines[line - 1].lstrip())]:
        return SourceError("is not valid YAML: a line is indented with a tab; indent with spaces only", line)
    return SourceError(f"is not valid YAML: {exc.problem or exc.context}", line)


def _construct(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SourceError("uses a YAML merge key ('<<'); write the keys out", key_node.start_mark.line + 1)
            if not isinstance(key_node, yaml.ScalarNode):
                raise SourceError("has a key that is a list or mapping; keys must be text",
                                  key_node.start_mark.line + 1)
            key = _scalar(loader, key_node, path)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                kind = {"bool": "true/false", "float": "a number", "date": "a date", "datetime": "a time",
                        "NoneType": "empty"}.get(type(key).__name__, type(key).__name__)
                raise SourceError(f"has the key {key_node.value!r}, which YAML reads as {kind}, not text; put it "
                                  "in quotes", key_node.start_mark.line + 1)
            key = str(key)
            if key in result:
                raise SourceError(f"has the key '{_printable(key)}' twice", key_node.start_mark.line + 1)
            child = (*path, key)
            result[key] = _construct(loader, value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _scalar(loader, node, path)


def _scalar(loader: yaml.SafeLoader, node: yaml.Node, path: Path_) -> Any:
    """Construct one scalar; a value Python cannot hold (a 30 February, a 5,000-digit number) names its field."""
    line = node.start_mark.line + 1
    where = _field_name(path)
    if node.tag == "tag:yaml.org,2002:int":
        digits = len(str(node.value).lstrip("+-").replace("_", ""))
        if digits > MAX_NUMBER_DIGITS:
            raise SourceError(f"{where} is a number of {digits} digits; no value needs more than "
                              f"{MAX_NUMBER_DIGITS}", line)
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        if node.tag == "tag:yaml.org,2002:timestamp":
            # 2026-02-30 looks like a date but is none: keep the text, and the model names field and reason.
            return str(node.value)
        raise SourceError(f"{where} '{str(node.value)[:40]}' cannot be read ({exc})", line) from exc


def _field_name(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the value"


def _printable(text: str) -> str:
    """`text` with control characters escaped, for a message printed to a terminal."""
    return text if text.isprintable() else repr(text)[1:-1]

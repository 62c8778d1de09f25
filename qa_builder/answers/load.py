"""Load and validate answers files (YAML or JSON), naming file, line and field in every error."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qa_builder.errors import AnswersError, Problem
from qa_builder.models.answers import Answers
from qa_builder.models.text import file_name_problem
from qa_builder.yaml_source import SourceDocument, SourceError, decode_source, parse_text, read_bounded

ANSWERS_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class AnswersFile:
    """A validated answers file, with what is needed to point back into it."""

    path: Path
    answers: Answers
    sha256: str
    source: SourceDocument

    @property
    def notices(self) -> list[str]:
        """One line per assumption the old answers shape left open, e.g. 'FILE line 9: products[0].type: type
        'biologic' read as biological_drug_product because ...; write type: ... to state it'."""
        found = []
        for field_path, text in self.answers.assumptions():
            line = self.line_of(field_path)
            where = f"{self.path} line {line}" if line else str(self.path)
            found.append(f"{where}: {field_path}: {text}")
        return found

    def line_of(self, field_path: str) -> int:
        """The line of a dotted field path such as 'contract_acceptor.sites[0].address' (0 if unknown)."""
        return self.source.line_of(parse_field_path(field_path))


def load_answers(path: Path) -> AnswersFile:
    """Read, parse and validate one answers file.

    Args:
        path: a .yaml, .yml or .json file.

    Returns:
        The validated answers with the file's sha256 and line map.

    Raises:
        AnswersError: one line per problem, each naming the file, line and field path.
    """
    name_problem = file_name_problem(path.name)
    if name_problem:  # 'ok\nerror: forged.yaml' in a shared folder printed "ok" and a forged "error: …" line
        raise _file_error(path, f"its file name {name_problem}")
    try:
        raw = read_bounded(path)
    except SourceError as exc:
        raise _file_error(path, str(exc)) from exc
    except FileNotFoundError as exc:
        raise _file_error(path, "answers file not found") from exc
    except IsADirectoryError as exc:
        raise _file_error(path, "is a folder; pass the answers files inside it") from exc
    except OSError as exc:
        raise _file_error(path, f"cannot be read ({exc.strerror})") from exc
    try:
        source = parse_text(decode_source(raw), is_json=path.suffix.lower() == ".json")
    except SourceError as exc:
        raise AnswersError.of_problems([Problem(file=path, line=exc.line or None, field_path=None,
                                                message=str(exc))]) from exc
    if not isinstance(source.data, dict):
        raise _file_error(path, "the answers must be a mapping of sections (agreement:, sponsor:, ...)")
    try:
        answers = Answers.model_validate(source.data)
    except ValidationError as exc:
        raise AnswersError.of_problems([_describe(path, source, err) for err in exc.errors()]) from exc
    return AnswersFile(path=path, answers=answers, sha256=hashlib.sha256(raw).hexdigest(), source=source)


def _file_error(path: Path, message: str) -> AnswersError:
    """An error about the whole file (no line, no field): "FILE: MESSAGE"."""
    return AnswersError.of_problems([Problem(file=path, line=None, field_path=None, message=message)])


def collect_answers_paths(inputs: list[Path]) -> list[Path]:
    """Expand folders into the answers files they hold (sorted); keep files as given."""
    paths: list[Path] = []
    for item in inputs:
        if item.is_dir():
            # Every entry with an answers suffix that is not a folder: a pipe or a broken link then fails with a
            # line naming it, instead of being skipped while the others pass (session 5 attack).
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in ANSWERS_SUFFIXES and not p.is_dir())
            if not found:
                raise AnswersError(f"{item}: folder holds no .yaml, .yml or .json answers files")
            paths.extend(found)
        else:
            paths.append(item)
    return paths


def format_field_path(loc: tuple[Any, ...]) -> str:
    """('sites', 0, 'address') → 'sites[0].address'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = str(part) if str(part).isprintable() else repr(str(part))[1:-1]  # no raw control characters
            text += f".{name}" if text else name
    return text or "(top level)"


def parse_field_path(field_path: str) -> tuple[str | int, ...]:
    """'sites[0].address' → ('sites', 0, 'address')."""
    parts: list[str | int] = []
    for chunk in field_path.replace("]", "").split("."):
        name, *indexes = chunk.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indexes)
    return tuple(parts)


_PATTERN_MEANING = {
    "id": "should use only letters, digits, '.', '_' and '-', start with a letter or digit, "
          "and be at most 64 characters (it names the output files)",
    "email": "should be an e-mail address such as name@example.com",
    "sponsor": "should be a RACI code: any of the letters R, A, C, I in that order, or '-'",
    "contract_acceptor": "should be a RACI code: any of the letters R, A, C, I in that order, or '-'",
}


def _describe(path: Path, source: SourceDocument, err: Any) -> Problem:
    return describe_problem(path, source, err)


def describe_error(path: Path, source: SourceDocument, err: Any, *, subject: str = "",
                   unknown_hint: str = "check its spelling (`qa-builder schema` lists every field)") -> str:
    """One line "FILE line N: FIELD PROBLEM" for one pydantic error of a file read with `yaml_source`.

    The text of `describe_problem` (see there for the arguments).
    """
    return str(describe_problem(path, source, err, subject=subject, unknown_hint=unknown_hint))


def describe_problem(path: Path, source: SourceDocument, err: Any, *, subject: str = "",
                     unknown_hint: str = "check its spelling (`qa-builder schema` lists every field)") -> Problem:
    """One pydantic error of a file read with `yaml_source`, as a Problem: file, line, field path and message
    ("FIELD PROBLEM"); ``str()`` of it is the line "FILE line N: FIELD PROBLEM".

    Args:
        path: the file.
        source: its parsed document, for the line of the error's field path.
        err: one entry of `ValidationError.errors()`, its `loc` a path from the top of the file.
        subject: put before the field, e.g. "clause 'audits': ".
        unknown_hint: the advice given for a field the model does not know.
    """
    loc = tuple(err["loc"])
    line = source.line_of(loc)
    field = format_field_path(loc)
    kind = err["type"]
    if kind == "missing":
        problem = "is required but missing; add it"
    elif kind == "string_pattern_mismatch":
        given = err.get("input")
        problem = f"{_PATTERN_MEANING.get(str(loc[-1]), 'has an invalid format')} (got {given!r})"
    elif kind == "input_text":
        problem = str(err["msg"])  # names the character and its place; the value itself may not print
    elif kind == "extra_forbidden":
        problem = f"is not a known field; {unknown_hint}"
    elif kind.startswith(("date_", "datetime_")):
        reason = (err.get("ctx") or {}).get("error")
        because = f"; {reason}" if isinstance(reason, str) and "range" in reason else ""
        problem = f"should be a real date written as YYYY-MM-DD{because} (got {_shown(err.get('input'))})"
    elif kind == "bool_not_number":
        problem = str(err["msg"])
    elif err.get("input") is None and kind in ("string_type", "int_type", "model_type", "dict_type", "list_type"):
        problem = "is empty; write a value after the colon, or leave the key out where it is optional"
    elif kind == "string_too_short":
        problem = "is empty (or only spaces); give a value"
    elif kind == "too_short":
        least = (err.get("ctx") or {}).get("min_length", 1)
        problem = f"needs at least {least} item{'s' * (least != 1)}"
    elif kind in ("model_type", "dict_type"):
        problem = f"should be a group of `key: value` lines (got {_shown(err.get('input'))})"
    elif kind == "string_type" and isinstance(err.get("input"), (bool, int, float, dt.date)):
        given = err.get("input")
        problem = (f"should be text, but YAML read it as {_shown(given)}; put the value in quotes "
                   "(YAML reads unquoted yes/no/on/off, numbers and dates as other types)")
    else:
        message = str(err["msg"])
        message = message.replace("Input should be", "should be").replace("Value error, ", "")
        if message.startswith(("String ", "List ", "Dictionary ", "Value ")):
            message = message[0].lower() + message[1:]
        given = err.get("input")
        shown = "" if isinstance(given, (dict, list)) or given is None else f" (got {_shown(given)})"
        problem = f"{message}{shown}"
    return Problem(file=path, line=line or None, field_path=field, message=f"{subject}{field} {problem}")


def _shown(value: Any) -> str:
    """A value as the user wrote it in YAML, not as Python spells it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return repr(value)

"""Load and validate a library's jurisdiction rules (jurisdictions.yaml), or the bundled ones."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from qa_builder.answers.load import describe_error
from qa_builder.bundled import bundled
from qa_builder.errors import Hint, LibraryError, Remedy
from qa_builder.models.facts import Facts
from qa_builder.models.jurisdictions import Jurisdictions, Rule
from qa_builder.yaml_source import SourceError, read_source

JURISDICTIONS_FILE = "jurisdictions.yaml"
REQUIREMENTS_FILE = "requirements.yaml"
_BOOLEAN_FACTS = frozenset(name for name, info in Facts.model_fields.items() if info.annotation is bool)


def bundled_jurisdictions() -> Jurisdictions:
    """The jurisdiction rules of the bundled library (for a library without jurisdictions.yaml, and for
    `derive_facts` called without a library). Read once per process.

    Raises:
        LibraryError: the bundled file is missing or invalid.
    """
    root = bundled("clause_library", JURISDICTIONS_FILE)
    if root is None:
        raise LibraryError("the bundled jurisdiction rules (clause_library/jurisdictions.yaml) are missing from "
                           "this installation", hint=Hint(Remedy.LIBRARY_FOLDER))
    return _bundled_jurisdictions(root)


@lru_cache(maxsize=4)
def _bundled_jurisdictions(root: Path) -> Jurisdictions:
    problems: list[str] = []
    found = read_jurisdictions(root / JURISDICTIONS_FILE, problems, None)
    if problems or found is None:
        raise LibraryError(problems or [f"{root / JURISDICTIONS_FILE}: cannot be read"])
    return found


def load_jurisdictions(root: Path, problems: list[str], requirement_ids: set[str]) -> Jurisdictions:
    """The jurisdiction rules of the library folder `root`; the bundled rules when it has no jurisdictions.yaml.

    Args:
        root: the library folder.
        problems: collects one line per problem (file, line, field).
        requirement_ids: the ids of the library's requirements.yaml; every rule's source must be one.
    """
    path = root / JURISDICTIONS_FILE
    if not path.is_file():
        return bundled_jurisdictions()
    return read_jurisdictions(path, problems, requirement_ids) or Jurisdictions()


def read_jurisdictions(path: Path, problems: list[str], requirement_ids: set[str] | None) -> Jurisdictions | None:
    """Read one jurisdictions.yaml (bounded like every library file) and check it.

    Checks: the schema, unique rule and market ids, facts that are true/false fields of Facts, and (when
    `requirement_ids` is given) sources that are requirement ids. Problems are appended to `problems`.
    """
    try:
        doc = read_source(path, cached=True)
    except SourceError as exc:
        problems.append(f"{path}{f' line {exc.line}' if exc.line else ''}: {exc}")
        return None
    try:
        rules = Jurisdictions.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(describe_error(path, doc, err, unknown_hint="check its spelling") for err in exc.errors())
        return None
    _unique(path, [f"certifications.{item.id}" for item in rules.certifications], "rule", problems)
    groups: dict[str, list[Rule]] = {
        "gmp_bases": rules.gmp_bases, "defect_reporting": rules.defect_reporting,
        "change_regimes": rules.change_regimes, "retention_minima": list(rules.retention_minima),
        "duties": rules.duties}
    for group, items in groups.items():
        _unique(path, [f"{group}.{item.id}" for item in items], "rule", problems)
        for item in items:
            if item.fact is not None and item.fact not in _BOOLEAN_FACTS:
                problems.append(f"{path}: rule '{group}.{item.id}' sets fact '{item.fact}', which is not a "
                                "true/false field of Facts (qa_builder/models/facts.py)")
    _unique(path, [m.id for m in rules.markets], "market", problems)
    if requirement_ids is not None:
        for rule_id, source in rules.sources():
            if source not in requirement_ids:
                problems.append(f"{path}: rule '{rule_id}' cites source '{source}', which {REQUIREMENTS_FILE} does "
                                "not define")
    return rules


def _unique(path: Path, ids: list[str], what: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            problems.append(f"{path}: {what} id '{item}' is defined twice")
        seen.add(item)

"""Load a clause library folder and validate all of it up front."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from qa_builder.answers.load import describe_error, parse_field_path
from qa_builder.bundled import bundled
from qa_builder.errors import Hint, LibraryError, Remedy
from qa_builder.library.checked import already_passed, record_pass, texts_key
from qa_builder.library.context import context_names
from qa_builder.library.jurisdictions import JURISDICTIONS_FILE, load_jurisdictions
from qa_builder.library.stored import library_key, store_library, stored_library
from qa_builder.models.library import (
    Clause,
    ClauseLibrary,
    Clock,
    LibraryInfo,
    RaciActivity,
    Requirement,
    ReviewThresholds,
    Source,
)
from qa_builder.sandbox.environment import TemplateProblem, compile_condition
from qa_builder.sandbox.names import check_names
from qa_builder.yaml_source import SourceDocument, SourceError, read_source

M = TypeVar("M", bound=BaseModel)

LIBRARY_FILE = "library.yaml"
CLAUSES_DIR = "clauses"
REQUIREMENTS_FILE = "requirements.yaml"
RACI_FILE = "raci.yaml"
REVIEW_FILE = "review.yaml"
CLOCKS_FILE = "clocks.yaml"
SOURCES_FILE = "sources.yaml"

_ITEM_LABELS = {"Clause": "clause", "Requirement": "requirement", "RaciActivity": "activity"}


def default_library_dir() -> Path:
    """The clause library shipped with the package (wheel) or found beside it (source tree).

    Raises:
        LibraryError: the installation lacks it."""
    found = bundled("clause_library", LIBRARY_FILE)
    if found is not None:
        return found
    raise LibraryError("the default clause library is missing from this installation",
                       hint=Hint(Remedy.LIBRARY_FOLDER))


def load_library(directory: Path | None = None) -> ClauseLibrary:
    """Load and validate a clause library.

    Checks everything before any build uses it: schema of every entry, unique ids, known sections and
    requirement ids, conditions that parse, texts that compile and only use names of the answers model,
    and a RACI matrix with exactly one Accountable and at least one Responsible party per activity.

    Args:
        directory: the library folder; the default library when None.

    Raises:
        LibraryError: one line per problem, naming file, line and field.
    """
    root = directory if directory is not None else default_library_dir()
    if not (root / LIBRARY_FILE).is_file():
        raise LibraryError(f"{root}: not a clause library (no {LIBRARY_FILE} in it)")
    clause_folder = root / CLAUSES_DIR
    named = [root / n for n in (LIBRARY_FILE, REQUIREMENTS_FILE, RACI_FILE, REVIEW_FILE, CLOCKS_FILE, SOURCES_FILE,
                                JURISDICTIONS_FILE)]
    outside = [p for p in [*named, *(sorted(clause_folder.glob("*.yaml")) if clause_folder.is_dir() else [])]
               if _leads_out(p, root)]
    if outside:  # a shared library's link to a private file: its values would be quoted in messages and events
        raise LibraryError([f"{p}: is a symbolic link to a file outside the library; a library keeps its files inside "
                            "it: replace the link with the file" for p in outside])
    total = sum(_size(p) for p in clause_folder.glob("*.yaml")) if clause_folder.is_dir() else 0
    if total > MAX_CLAUSE_FILES_BYTES:  # before anything reads them (the stored library's key reads them all)
        raise LibraryError(f"{clause_folder}: its clause files come to {total / 2**20:,.0f} MiB, more than any clause "
                           f"library holds (at most {MAX_CLAUSE_FILES_BYTES // 2**20} MiB; the bundled one: 0.5 MiB)")
    key = library_key(root, CLAUSES_DIR)
    checked = stored_library(key) if key is not None else None
    if checked is not None:  # these very files passed every check below before (qa_builder.library.stored)
        return checked
    library = _load(root)
    if key is not None:
        store_library(key, library)
    return library


def _load(root: Path) -> ClauseLibrary:
    """Read, validate and check the library in `root` (see `load_library`)."""
    problems: list[str] = []
    info_doc = _read(root / LIBRARY_FILE, problems)
    info = _one(root / LIBRARY_FILE, info_doc, (), LibraryInfo, problems) if info_doc else None

    clauses: list[Clause] = []
    located: dict[int, tuple[SourceDocument, tuple[str | int, ...]]] = {}
    clause_files = sorted((root / CLAUSES_DIR).glob("*.yaml")) if (root / CLAUSES_DIR).is_dir() else []
    if not clause_files:
        problems.append(f"{root / CLAUSES_DIR}: holds no clause files (*.yaml)")
    for path in clause_files:
        doc = _read(path, problems)
        for _item, loc in _items(path, doc, "clauses", problems):
            extra = {"source_file": str(path.relative_to(root)), "source_line": doc.line_of(loc) if doc else 0}
            clause = _one(path, doc, loc, Clause, problems, extra=extra)
            if clause is not None and doc is not None:
                clauses.append(clause)
                located[id(clause)] = (doc, loc)

    requirements = _list_file(root / REQUIREMENTS_FILE, "requirements", Requirement, problems)
    raci = _list_file(root / RACI_FILE, "activities", RaciActivity, problems)
    too_many = [f"{where}: holds {count:,} {what}, more than any clause library (at most {limit:,}; the bundled one "
                f"holds {bundled})" for where, count, what, limit, bundled in (
                    (root / CLAUSES_DIR, len(clauses), "clauses", MAX_CLAUSES, 53),
                    (root / REQUIREMENTS_FILE, len(requirements), "requirements", MAX_REQUIREMENTS, 172),
                    (root / RACI_FILE, len(raci), "activities", MAX_ACTIVITIES, 63)) if count > limit]
    if too_many:  # before any condition or text is compiled: 8,500 requirements took `check` 31 s to compile
        raise LibraryError([*problems, *too_many])
    review = ReviewThresholds()
    if (root / REVIEW_FILE).is_file():
        review_doc = _read(root / REVIEW_FILE, problems)
        review = _one(root / REVIEW_FILE, review_doc, (), ReviewThresholds, problems) or review

    clocks = _list_file(root / CLOCKS_FILE, "clocks", Clock, problems) if (root / CLOCKS_FILE).is_file() else []
    jurisdictions = load_jurisdictions(root, problems, {r.id for r in requirements})
    _unique(root / CLOCKS_FILE, [c.id for c in clocks], "clock", problems)
    sources = _list_file(root / SOURCES_FILE, "sources", Source, problems) if (root / SOURCES_FILE).is_file() else []
    _unique(root / SOURCES_FILE, [s.key for s in sources], "source", problems)
    if info is not None:
        _check_consistency(root, info, clauses, located, requirements, raci, problems, [c.id for c in clocks])
    if problems:
        raise LibraryError(problems)
    assert info is not None
    return ClauseLibrary(
        info=info,
        clauses=sorted(clauses, key=lambda c: (_section_order(info, c.section), c.order, c.id)),
        requirements=requirements,
        raci=raci,
        review=review,
        clocks=clocks,
        sources=sources,
        jurisdictions=jurisdictions,
    )




def _section_order(info: LibraryInfo, section: str) -> int:
    return next((s.order for s in info.sections if s.id == section), 0)


MAX_CLAUSES = 2_000
MAX_REQUIREMENTS = 2_000
MAX_ACTIVITIES = 1_000
"""Entries at most of a library (the bundled one: 53 clauses, 172 requirements, 63 RACI activities). Each condition
and text is compiled once, and compiling is not bounded by a render's limits: 8,500 requirements (a 0.9 MB file)
kept `check` busy for 31 s (session 6 attack)."""
MAX_CLAUSE_FILES_BYTES = 16 * 1024 * 1024
"""Bytes of all clause files together (the bundled library: 0.5 MiB). Each file is at most 1 MiB, but 150 of them
(142 MB) kept `check` loading the library for 110 s at 630 MB (session 6 attack)."""


def _leads_out(path: Path, root: Path) -> bool:
    """Whether `path` is a symbolic link to a regular file outside the library `root` (a link to a device or pipe is
    left to the read, which refuses it as not a regular file)."""
    try:
        return path.is_symlink() and path.is_file() and not path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # missing, a link loop: reading it says what is wrong


def _read(path: Path, problems: list[str]) -> SourceDocument | None:
    try:
        return read_source(path, cached=True)
    except SourceError as exc:
        where = f" line {exc.line}" if exc.line else ""
        problems.append(f"{path}{where}: {exc}")
        return None


def _items(
    path: Path, doc: SourceDocument | None, key: str, problems: list[str]
) -> list[tuple[Any, tuple[str | int, ...]]]:
    if doc is None:
        return []
    if not isinstance(doc.data, dict) or not isinstance(doc.data.get(key), list):
        problems.append(f"{path}: must be a mapping with a list under '{key}:'")
        return []
    return [(item, (key, i)) for i, item in enumerate(doc.data[key])]


def _one(
    path: Path,
    doc: SourceDocument | None,
    loc: tuple[str | int, ...],
    model: type[M],
    problems: list[str],
    *,
    extra: dict[str, Any] | None = None,
) -> M | None:
    if doc is None:
        return None
    data: Any = doc.data
    for part in loc:
        data = data[part]
    if extra and isinstance(data, dict):
        data = {**data, **extra}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        label = _ITEM_LABELS.get(model.__name__)
        item_id = data.get("id") if isinstance(data, dict) else None
        subject = f"{label} '{item_id}': " if label and isinstance(item_id, str) and item_id.isprintable() else ""
        for err in exc.errors():
            full = {**err, "loc": (*loc, *err["loc"])}
            problems.append(describe_error(path, doc, full, subject=subject, unknown_hint="check its spelling"))
        return None


def _list_file(path: Path, key: str, model: type[M], problems: list[str]) -> list[M]:
    if not path.exists():
        problems.append(f"{path}: missing (every library needs it)")
        return []
    doc = _read(path, problems)
    found: list[M] = []
    for _item, loc in _items(path, doc, key, problems):
        parsed = _one(path, doc, loc, model, problems)
        if parsed is not None:
            found.append(parsed)
    return found


def _check_consistency(
    root: Path,
    info: LibraryInfo,
    clauses: list[Clause],
    located: dict[int, tuple[SourceDocument, tuple[str | int, ...]]],
    requirements: list[Requirement],
    raci: list[RaciActivity],
    problems: list[str],
    clock_ids: list[str],
) -> None:
    known = context_names(clock_ids)
    deferred: list[tuple[str, str, str, bool]] = []  # (where, label, text, is_expression): the sandbox name checks
    sections = {s.id for s in info.sections}
    requirement_ids = _unique(root / REQUIREMENTS_FILE, [r.id for r in requirements], "requirement", problems)
    raci_ids = _unique(root / RACI_FILE, [a.id for a in raci], "RACI activity", problems)
    seen: dict[str, str] = {}
    for clause in clauses:
        doc, loc = located[id(clause)]

        def at(field: str, clause: Clause = clause, doc: SourceDocument = doc,
               loc: tuple[str | int, ...] = loc) -> str:
            line = doc.line_of((*loc, *parse_field_path(field)))
            return f"{root / clause.source_file} line {line}: clause '{clause.id}'"

        where = at("id")
        if clause.id in seen:
            problems.append(f"{where}: id already used at {seen[clause.id]}")
        seen[clause.id] = f"{clause.source_file} line {clause.source_line}"
        if clause.section not in sections:
            problems.append(f"{where}: section '{clause.section}' is not listed in {LIBRARY_FILE}")
        if (clause.text is None) == (clause.positions is None):
            problems.append(f"{where}: needs either 'text' or 'positions', not both and not neither")
        if clause.positions is not None and not clause.positions:
            problems.append(f"{where}: 'positions' is empty")
        if clause.position_from is not None and clause.positions is None:
            problems.append(f"{where}: 'position_from' needs 'positions'")
        for row in clause.raci:
            if row not in raci_ids:
                problems.append(f"{at('raci')}: names RACI activity '{row}', which {RACI_FILE} does not define")
        for ref in clause.references:
            if ref not in requirement_ids:
                problems.append(f"{where}: cites requirement '{ref}', which {REQUIREMENTS_FILE} does not define")
        deferred.append((at("applies_when"), "applies_when", clause.applies_when, True))
        if clause.position_from is not None:
            deferred.append((at("position_from"), "position_from", clause.position_from, True))
        texts = {"text": clause.text} if clause.text is not None else {}
        texts.update({f"positions.{k}": v for k, v in (clause.positions or {}).items()})
        for i, timeline in enumerate(clause.timelines):
            texts[f"timelines[{i}].deadline"] = timeline.deadline
            deferred.append((at(f"timelines[{i}].applies_when"), f"timelines[{i}].applies_when",
                             timeline.applies_when, True))
        deferred.extend((at(label), label, text, False) for label, text in texts.items())
    for requirement in requirements:
        deferred.append((f"{root / REQUIREMENTS_FILE}: requirement '{requirement.id}'", "applies_when",
                         requirement.applies_when, True))
    for activity in raci:
        where = f"{root / RACI_FILE}: activity '{activity.id}'"
        deferred.append((where, "applies_when", activity.applies_when, True))
        if activity.vary_by is not None:
            deferred.append((where, "vary_by", activity.vary_by, True))
        elif activity.variants:
            problems.append(f"{where}: 'variants' needs 'vary_by'")
        allocations = [("", activity.sponsor, activity.contract_acceptor, activity.split_of_duties)] + [
            (f" variant '{key}'", v.sponsor, v.contract_acceptor, v.split_of_duties)
            for key, v in activity.variants.items()]
        for key, variant in activity.variants.items():
            if variant.fixed_by is not None and variant.fixed_by not in requirement_ids:
                problems.append(f"{where} variant '{key}': fixed_by names requirement '{variant.fixed_by}', which "
                                f"{REQUIREMENTS_FILE} does not define")
        for label, sponsor, acceptor, split in allocations:
            codes = (sponsor, acceptor)
            if sum("A" in c for c in codes) != 1:
                problems.append(f"{where}{label}: needs exactly one Accountable party (A)")
            if not any("R" in c for c in codes):
                problems.append(f"{where}{label}: needs at least one Responsible party (R)")
            if all("R" in c for c in codes) and not split:
                problems.append(f"{where}{label}: both parties are Responsible (R) but no split_of_duties says who "
                                "does which part")
            for code in codes:
                if code != "-" and (not code or any(ch not in "RACI" for ch in code)):
                    problems.append(f"{where}{label}: code '{code}' must use only the letters R, A, C, I (or '-')")

    _check_names(deferred, known, clock_ids, problems)


def _check_names(checks: list[tuple[str, str, str, bool]], known: dict[str, Any], clock_ids: list[str],
                 problems: list[str]) -> None:
    """Every text and condition uses only names of the data model (qa_builder.sandbox.names); a set of
    texts that passed before with the same code is not parsed again (qa_builder.library.checked), nor is
    a single text that passed before: a new clause version costs the check of its own texts only."""
    key = texts_key([*clock_ids, "\x00", *(f"{int(is_expression)}{text}" for _, _, text, is_expression in checks)])
    if already_passed(key):
        return
    before = len(problems)
    for where, label, text, is_expression in checks:
        text_key = texts_key([*clock_ids, "\x00", f"{int(is_expression)}{text}"])
        if already_passed(text_key):
            continue
        found = len(problems)
        if is_expression:
            _check_expression(where, label, text, known, problems)
        else:
            try:
                check_names(text, known)
            except TemplateProblem as exc:
                problems.append(f"{where}: {label} {exc}")
        if len(problems) == found:
            record_pass(text_key)
    if len(problems) == before:
        record_pass(key)


def _check_expression(where: str, label: str, expression: str, known: dict[str, Any], problems: list[str]) -> None:
    try:
        compile_condition(expression)
        check_names(expression, known, expression=True)
    except TemplateProblem as exc:
        problems.append(f"{where}: {label} {exc}")


def _unique(path: Path, ids: list[str], what: str, problems: list[str]) -> set[str]:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            problems.append(f"{path}: {what} id '{item}' is defined twice")
        seen.add(item)
    return seen

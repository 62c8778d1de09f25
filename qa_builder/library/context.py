"""The names a clause text or condition can use: the answers, plus facts derived from them."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic import create_model

from qa_builder.library.facts import derive
from qa_builder.models.answers import Answers
from qa_builder.models.base import StrictModel
from qa_builder.models.facts import (  # re-exported: the Facts contract is read from here
    ACCEPTOR_TERM,
    SPONSOR_TERM,
    Certification,
    Facts,
    NamedRule,
    ProductFacts,
)
from qa_builder.models.jurisdictions import Jurisdictions
from qa_builder.models.library import Clock
from qa_builder.sandbox.environment import FrozenContext, Record, freeze, freeze_context

__all__ = ["ACCEPTOR_TERM", "SPONSOR_TERM", "Certification", "Facts", "NamedRule", "ProductFacts", "build_context",
           "clocks_model", "context_names", "derive_facts"]


def derive_facts(answers: Answers, jurisdictions: Jurisdictions | None = None) -> Facts:
    """Compute the derived facts for one answers file.

    Args:
        answers: the validated answers.
        jurisdictions: the library's jurisdiction rules (ClauseLibrary.jurisdictions); the bundled ones
            when None.
    """
    return derive(answers, jurisdictions)


def clocks_model(clock_ids: Sequence[str]) -> type[StrictModel]:
    """The type of `clocks` in the rendering context: one `Clock` field per catalogue id, so that
    `library check` refuses `clocks.<id>` for an id the catalogue does not declare.

    Made once per catalogue (building a pydantic model costs ~13 ms; every build context needs it)."""
    return _clocks_model(tuple(clock_ids))


@lru_cache(maxsize=16)
def _clocks_model(clock_ids: tuple[str, ...]) -> type[StrictModel]:
    fields: dict[str, Any] = {clock_id: (Clock, ...) for clock_id in clock_ids}
    return create_model("Clocks", __base__=StrictModel, **fields)


def context_names(clock_ids: Sequence[str] = ()) -> dict[str, Any]:
    """Every top-level name a text may use, with its type annotation (a model, `list[str]`, `bool`, ...).

    Args:
        clock_ids: the ids of the library's clock catalogue (clocks.yaml), reachable as `clocks.<id>`.
    """
    names: dict[str, Any] = {name: info.annotation for name, info in Answers.model_fields.items()}
    names["facts"] = Facts
    names["clocks"] = clocks_model(clock_ids)
    return names


def build_context(answers: Answers, clocks: Sequence[Clock] = (),
                  jurisdictions: Jurisdictions | None = None) -> dict[str, Any]:
    """The rendering context: each answers field by its own name, `facts`, and the library's `clocks`
    (id → Clock), as frozen plain data.

    Texts see `Record`s of declared fields, tuples and read-only mappings (qa_builder.sandbox.environment.freeze), never
    the pydantic models themselves: nothing a text does can call a model method or change the answers.

    Args:
        answers: the validated answers.
        clocks: the library's clock catalogue (ClauseLibrary.clocks).
        jurisdictions: the library's jurisdiction rules (ClauseLibrary.jurisdictions); bundled when None.
    """
    with _RECENT_LOCK:
        for entry in _RECENT:
            if entry[0] is answers and entry[1] is clocks and entry[2] is jurisdictions:
                return entry[3]
    context: dict[str, Any] = {name: getattr(answers, name) for name in Answers.model_fields}
    context["facts"] = derive_facts(answers, jurisdictions)
    frozen = freeze_context(context)
    # What freezing an instance of clocks_model(ids) gives, without making that model (~13 ms per process):
    # the name checks need the model's type; a render only needs the clocks by id.
    frozen["clocks"] = Record("Clocks", {clock.id: freeze(clock) for clock in clocks})
    with _RECENT_LOCK:
        _RECENT.insert(0, (answers, clocks, jurisdictions, frozen))
        del _RECENT[_RECENT_SIZE:]
    return frozen


# The contexts made last, by the very objects they were made from: one build asks for its context four times
# (review, selection, coverage, assembly). Answers, clocks and jurisdictions are immutable models, and the entry
# holds them, so an identical object is the same input (an id cannot be reused while the entry lives); the frozen
# context can be shared (nothing can change it). A few entries: one per build running in parallel.
_RECENT_SIZE = 8
_RECENT: list[tuple[Answers, Sequence[Clock], Jurisdictions | None, FrozenContext]] = []
_RECENT_LOCK = threading.Lock()

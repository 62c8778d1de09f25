"""The names a clause text or condition can use: the answers, plus facts derived from them."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic import create_model

from qa_builder.models.answers import Answers
from qa_builder.models.base import StrictModel
from qa_builder.models.library import Clock
from qa_builder.sandbox import freeze_context

SPONSOR_TERM = "Sponsor"
ACCEPTOR_TERM = "Contract Acceptor"
EU_QP_MARKETS = ("EU",)


class Facts(StrictModel):
    """Facts derived from the answers so that conditions stay short and readable."""

    markets: list[str]
    product_types: list[str]
    product_names: list[str]
    site_names: list[str]
    has_us: bool
    has_eu: bool
    has_api: bool
    has_finished_product: bool
    has_sterile: bool
    has_biologic: bool
    has_investigational: bool
    is_lab: bool
    is_cdmo: bool
    subcontracting_allowed: bool
    sponsor: str
    acceptor: str


def derive_facts(answers: Answers) -> Facts:
    """Compute the derived facts for one answers file."""
    markets: list[str] = sorted({str(m) for p in answers.products for m in p.markets})
    types: list[str] = sorted({str(p.type) for p in answers.products})
    services = set(answers.services)
    return Facts(
        markets=markets,
        product_types=types,
        product_names=[p.name for p in answers.products],
        site_names=[s.name for s in answers.contract_acceptor.sites],
        has_us="US" in markets,
        has_eu=any(m in EU_QP_MARKETS for m in markets),
        has_api="api" in types,
        has_finished_product=any(t != "api" for t in types),
        has_sterile="sterile_drug_product" in types or "sterile_fill_finish" in services,
        has_biologic="biologic" in types,
        has_investigational="investigational" in types or "clinical_supply" in services,
        is_lab=answers.contract_acceptor.kind == "contract_laboratory",
        is_cdmo=answers.contract_acceptor.kind == "cdmo",
        subcontracting_allowed=answers.subcontracting.allowed,
        sponsor=SPONSOR_TERM,
        acceptor=ACCEPTOR_TERM,
    )


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


def build_context(answers: Answers, clocks: Sequence[Clock] = ()) -> dict[str, Any]:
    """The rendering context: each answers field by its own name, `facts`, and the library's `clocks`
    (id → Clock), as frozen plain data.

    Texts see `Record`s of declared fields, tuples and read-only mappings (qa_builder.sandbox.freeze), never
    the pydantic models themselves: nothing a text does can call a model method or change the answers.

    Args:
        answers: the validated answers.
        clocks: the library's clock catalogue (ClauseLibrary.clocks).
    """
    context: dict[str, Any] = {name: getattr(answers, name) for name in Answers.model_fields}
    context["facts"] = derive_facts(answers)
    model = clocks_model([c.id for c in clocks])
    context["clocks"] = model.model_validate({c.id: c for c in clocks})
    return freeze_context(context)

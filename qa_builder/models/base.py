"""The strict base model every domain model derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Frozen, no unknown keys, no silent type coercion from strings to numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

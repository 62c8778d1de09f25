"""The strict base model every domain model derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

JSON_SAFE_INT = 2**53 - 1
"""The largest integer RFC 8785 canonical JSON (the signed manifest) can hold exactly."""


class StrictModel(BaseModel):
    """Frozen, no unknown keys, no silent type coercion from strings to numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

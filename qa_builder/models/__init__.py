"""Frozen pydantic models of the domain; no I/O and no imports from the rest of the package."""

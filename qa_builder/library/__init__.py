"""Clause library: load and validate, evaluate conditions, select clauses for an agreement."""

"""Negotiation round trip: read what the counterparty returned, map it to clauses, classify it."""

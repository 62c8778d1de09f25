"""Signing stage: PAdES signatures, keys, timestamps, test PKI."""

"""Verification of signed agreements and manifests received from anyone, in ETSI EN 319 102-1 terms."""

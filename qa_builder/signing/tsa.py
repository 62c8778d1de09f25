"""The RFC 3161 timestamp client (pyHanko's HTTPTimeStamper), shared by PDF signatures and detached CMS."""

from __future__ import annotations

from pyhanko.sign.timestamps import HTTPTimeStamper


def timestamper_for(url: str) -> HTTPTimeStamper:
    """One RFC 3161 client for the TSA at `url` (pyHanko caches its size estimate in it).

    Args:
        url: The timestamp authority's HTTP(S) URL.
    """
    return HTTPTimeStamper(url)

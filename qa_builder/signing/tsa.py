"""The RFC 3161 timestamp client (pyHanko's HTTPTimeStamper), shared by PDF signatures and detached CMS; and
what went wrong with a timestamp authority, in one sentence naming its URL and the reason."""

from __future__ import annotations

import asyncio
import os
from functools import lru_cache
from urllib.parse import urlsplit

from pyhanko.sign.timestamps import HTTPTimeStamper

from qa_builder.errors import SigningInputError
from qa_builder.printable import printable


@lru_cache(maxsize=8)
def timestamper_for(url: str) -> HTTPTimeStamper:
    """One RFC 3161 client for the TSA at `url` per process (pyHanko caches its size estimate in it).

    Args:
        url: The timestamp authority's HTTP(S) URL.

    Raises:
        SigningInputError: `url` is not an http:// or https:// URL.
    """
    return HTTPTimeStamper(check_tsa_url(url))


def check_tsa_url(url: str) -> str:
    """Return `url` if it can name a timestamp authority: an http:// or https:// URL with a host.

    Raises:
        SigningInputError: anything else (a typo such as `notaurl` or `ftp://…`), naming the option.
    """
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unbalanced '[' in the host
        usable = False
    if not usable:
        raise SigningInputError(f"--tsa {printable(url)}: is not an http:// or https:// URL of a timestamp authority")
    return url


def tsa_failure(url: str, exc: BaseException) -> str:
    """One sentence: the timestamp authority at `url` did not give a timestamp, and why (from `exc`'s causes).

    Args:
        url: the TSA URL as the user gave it.
        exc: what pyHanko or aiohttp raised; its chain of causes is searched for the most telling reason.
    """
    return f"the timestamp authority {printable(url)} gave no timestamp: {_reason(exc)}"


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 20:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _reason(exc: BaseException) -> str:
    import aiohttp

    chain = _chain(exc)
    for item in chain:
        if isinstance(item, aiohttp.ContentTypeError):
            return f"its answer is not a timestamp ({item.message})"
        if isinstance(item, aiohttp.ClientResponseError):
            return f"it answered HTTP {item.status} {item.message}"
        if isinstance(item, aiohttp.ClientConnectorDNSError):
            return "its host name is not known (DNS lookup failed)"
        if isinstance(item, aiohttp.ClientConnectorCertificateError):
            return f"its TLS certificate was not accepted ({item.certificate_error})"
        if isinstance(item, aiohttp.ClientConnectorError):
            error = item.os_error
            return f"cannot connect ({os.strerror(error.errno) if error.errno else error})"
        if isinstance(item, aiohttp.InvalidURL):
            return "the URL is not valid"
        if isinstance(item, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
            return "no answer in time"
        if isinstance(item, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
            return f"the connection broke off ({type(item).__name__})"
    last = chain[-1]
    if isinstance(last, ValueError | TypeError | KeyError):
        return f"its answer is not a valid RFC 3161 response ({type(last).__name__}: {last})"
    text = str(last) or type(last).__name__
    return text if text.startswith(type(last).__name__) else f"{type(last).__name__}: {text}"


def is_tsa_failure(exc: BaseException) -> bool:
    """Whether `exc` (or one of its causes) is a timestamp authority's failure rather than the document's."""
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    return any(isinstance(item, TimestampRequestError) for item in _chain(exc))

"""The RFC 3161 timestamp client (pyHanko's HTTPTimeStamper), shared by PDF signatures and detached CMS; and
what went wrong with a timestamp authority, in one sentence naming its URL and the reason."""

from __future__ import annotations

import asyncio
import os
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from asn1crypto import tsp
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError

from qa_builder.errors import SigningInputError
from qa_builder.printable import printable

MAX_TSA_RESPONSE_BYTES = 1024 * 1024
"""The largest timestamp reply read (a reply with its TSA's certificate chain: a few KiB). A server that streams
an endless body was read for its whole timeout: 3.2 GB in 8 s (attack round 9)."""


class OversizedReply(TimestampRequestError):
    """The timestamp authority's reply exceeded MAX_TSA_RESPONSE_BYTES."""


class BoundedTimeStamper(HTTPTimeStamper):
    """pyHanko's RFC 3161 HTTP client, reading at most MAX_TSA_RESPONSE_BYTES of a reply."""

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        import aiohttp

        headers = await self.async_request_headers()
        try:
            async with self._acquire_session() as session, session.post(
                    url=self.url, headers=headers, data=req.dump(), auth=self.auth, raise_for_status=True,
                    timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                kind = response.headers.get("Content-Type")
                if kind != "application/timestamp-reply":
                    raise aiohttp.ContentTypeError(response.request_info, response.history, headers=response.headers,
                                                   message=f"expected application/timestamp-reply, got {kind}")
                body = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > MAX_TSA_RESPONSE_BYTES:
                        raise OversizedReply(f"its answer is larger than {MAX_TSA_RESPONSE_BYTES:,} bytes, far "
                                             "more than a timestamp")
        except (aiohttp.ClientError, OSError) as exc:
            raise TimestampRequestError("Error while contacting timestamp service") from exc
        return tsp.TimeStampResp.load(bytes(body))


@lru_cache(maxsize=8)
def timestamper_for(url: str) -> HTTPTimeStamper:
    """One RFC 3161 client for the TSA at `url` per process (pyHanko caches its size estimate in it).

    Args:
        url: The timestamp authority's HTTP(S) URL.

    Raises:
        SigningInputError: `url` is not an http:// or https:// URL.
    """
    return BoundedTimeStamper(check_tsa_url(url))


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
        raise SigningInputError(f"--tsa {shown_tsa_url(url)}: is not an http:// or https:// URL of a timestamp "
                                "authority")
    return url


def shown_tsa_url(url: str) -> str:
    """`url` as it may be shown or stored: user name, password and query values replaced by ``***``.

    A TSA URL can carry credentials (``http://user:password@host/tsr``) or a token (``?api_key=...``); these
    are secrets and never reach a message, a log or the audit trail. The scheme, host, port, path and query
    names stay, so the user still recognises which authority is meant. Every message naming a TSA URL uses
    this; the result is also made printable (`qa_builder.printable.printable`).

    Args:
        url: the TSA URL as the user gave it (need not be valid).

    Returns:
        e.g. ``http://***@127.0.0.1:9/tsr?api_key=***`` for ``http://u:pw@127.0.0.1:9/tsr?api_key=s3cret``.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rpartition("@")[2]
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(name, "***") for name, _ in pairs], safe="*") if pairs else "***"
        fragment = "***" if parts.fragment else ""
        return printable(urlunsplit((parts.scheme, netloc, parts.path, query, fragment)))
    except ValueError:  # unparseable: show nothing that could be a secret
        return "(an unparseable URL)"


def tsa_failure(url: str, exc: BaseException) -> str:
    """One sentence: the timestamp authority at `url` did not give a timestamp, and why (from `exc`'s causes).

    Args:
        url: the TSA URL as the user gave it; shown without credentials or query values (`shown_tsa_url`).
        exc: what pyHanko or aiohttp raised; its chain of causes is searched for the most telling reason.
    """
    return f"the timestamp authority {shown_tsa_url(url)} gave no timestamp: {_without_secrets(_reason(exc), url)}"


def _without_secrets(text: str, url: str) -> str:
    """`text` (an exception's words, which may quote the URL) with the URL and each of its secrets masked."""
    text = text.replace(url, shown_tsa_url(url))
    try:
        parts = urlsplit(url)
        secrets = [parts.username, parts.password, *(value for _, value in parse_qsl(parts.query))]
    except ValueError:
        return text
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


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
        if isinstance(item, OversizedReply):
            return str(item)
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

"""Fetching certificates and revocation data (OCSP, CRLs) over HTTP for pyhanko-certvalidator, every answer bounded.

The URLs come from certificates, including those of received PDFs: a server that answered 200 with an endless body
held `sign --trust` at 4 GB and `verify --online` at 2 GB until its timeout (attack round 9). pyhanko-certvalidator
bounds how many requests it makes (FetchLimits), not how much of an answer it reads; the session given to its
aiohttp backend here reads at most MAX_FETCHED_BYTES of any answer.
"""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp
import certifi
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.util import LazySession
from pyhanko_certvalidator.fetchers.api import OwnedFetcherBackend

MAX_FETCHED_BYTES = 32 * 1024 * 1024
"""The largest answer read: an OCSP response or a certificate is a few KiB; the CRL of a large public CA is a few
MiB, so 32 MiB leaves room for any real one."""


class _BoundedResponse(aiohttp.ClientResponse):
    """An HTTP response whose `read()` stops with ClientPayloadError past MAX_FETCHED_BYTES."""

    async def read(self) -> bytes:
        if self._body is None:
            body = bytearray()
            async for chunk in self.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > MAX_FETCHED_BYTES:
                    self.close()
                    raise aiohttp.ClientPayloadError(f"the answer is larger than {MAX_FETCHED_BYTES:,} bytes")
            self._body = bytes(body)
        return self._body


class _BoundedLazySession(LazySession):
    """pyhanko-certvalidator's lazily made session (bound to the event loop that first uses it), with bounded
    answers and the certifi CA bundle for HTTPS, as its default session has."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            context = ssl.create_default_context(cafile=certifi.where())
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context),
                                                  response_class=_BoundedResponse)
        session: aiohttp.ClientSession = self._session
        return session


def bounded_fetcher_backend() -> Any:
    """A fetcher backend for a `ValidationContext(fetcher_backend=...)` (or `.get_fetchers()`) that reads at most
    MAX_FETCHED_BYTES of each answer. Close it with ``await backend.close()`` when done (its session is closed then).
    """
    session: Any = _BoundedLazySession()  # pyhanko-certvalidator takes its own LazySession too (typed otherwise)
    return AIOHttpFetcherBackend(session=session)


def owned_bounded_fetcher_backend() -> Any:
    """`bounded_fetcher_backend`, handed over to the `ValidationContext` it is given to, which closes it when the
    validation it was made for is over (a backend passed plainly is left open: "Unclosed client session")."""
    return OwnedFetcherBackend(bounded_fetcher_backend())

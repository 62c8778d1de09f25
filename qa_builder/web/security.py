"""The local web app's gate: one-time token → session cookie, Host allowlist, Origin and CSRF checks, CSP.

As Jupyter does, `qa-builder serve` prints a URL with a random token; the first request carrying it gets a
session cookie (HttpOnly, SameSite=Strict) and the token is spent. Every other request needs the cookie and a
Host header naming this server (no DNS rebinding). Every POST needs an Origin header naming this server, a
Content-Length within the upload cap, and the page's CSRF token (checked by `checked_form`).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.datastructures import FormData
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp

COOKIE = "qa_builder_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_FORM_BYTES = 1024 * 1024
"""Bytes at most in a form without files (an interview page, a filter): an answers file is at most 1 MiB."""
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def same_secret(sent: str, secret: str) -> bool:
    """Whether `sent` (from a request) is `secret`, compared in constant time. A sent text with non-ASCII
    characters is simply different: `hmac.compare_digest` raises TypeError on such a str (a 500 and a traceback
    for `?token=%C3%A9`, session 5 attack)."""
    return hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), secret.encode("utf-8"))


class Refused(Exception):
    """A request the gate refuses (status and a sentence for the person)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Gate:
    """The secrets of one server run; never written anywhere but the printed URL and the browser's cookie."""

    port: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    session: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    max_upload: int = MAX_UPLOAD_BYTES
    _spent: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def url(self, path: str = "/") -> str:
        """The one-time sign-in URL to print or open."""
        return f"http://127.0.0.1:{self.port}{path}?token={self.token}"

    def spend(self, token: str) -> bool:
        """True once for the right token; the token is worthless afterwards."""
        with self._lock:
            if self._spent or not same_secret(token, self.token):
                return False
            self._spent = True
            return True


class GateMiddleware(BaseHTTPMiddleware):
    """Applies the `Gate` to every request and the security headers to every response."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        super().__init__(app)
        self.gate = gate

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        try:
            response = await self._checked(request, call_next)
        except Refused as exc:
            response = PlainTextResponse(str(exc), status_code=exc.status)
        headers = response.headers
        headers["Content-Security-Policy"] = CSP
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"  # "no-referrer" makes Chrome send "Origin: null"
        headers["Cache-Control"] = "no-store"
        return response

    async def _checked(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        host = request.headers.get("host", "")
        if host not in self.gate.hosts:
            raise Refused(400, f"Refused: this server answers only to {' or '.join(sorted(self.gate.hosts))}.")
        token = request.query_params.get("token")
        if token is not None:
            if not self.gate.spend(token):
                raise Refused(403, "Refused: this sign-in link is wrong or was already used. Stop the server and "
                                   "start `qa-builder serve` again for a new link.")
            response = RedirectResponse(request.url.path, status_code=303)
            response.set_cookie(COOKIE, self.gate.session, httponly=True, samesite="strict", path="/")
            return response
        cookie = request.cookies.get(COOKIE, "")
        if not same_secret(cookie, self.gate.session):
            raise Refused(403, "Refused: open the link that `qa-builder serve` printed when it started.")
        if request.method not in ("GET", "HEAD"):
            self._check_post(request, host)
        return await call_next(request)

    def _check_post(self, request: Request, host: str) -> None:
        if request.headers.get("origin") != f"http://{host}":
            raise Refused(403, "Refused: the form was not sent from this application's own page.")
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise Refused(411, "Refused: the upload did not say its size.")
        if int(length) > self.gate.max_upload:
            raise Refused(413, f"Refused: uploads are limited to {self.gate.max_upload // (1024 * 1024)} MB.")


async def checked_form(request: Request, gate: Gate, *, max_files: int = 1,
                       max_bytes: int = MAX_FORM_BYTES) -> FormData:
    """The posted form, once its size is within `max_bytes` (judged by Content-Length, before the body is read)
    and its CSRF token (field or header) matches this run's.

    Args:
        request: the POST request. gate: this run's secrets.
        max_files: how many uploaded files the form may carry (the total stays within the upload cap).
        max_bytes: bytes at most in the whole body (uploads included; never above the upload cap). Every text
            field is held to `MAX_FORM_BYTES` too.

    Raises:
        Refused: a body over `max_bytes` (413), no or a wrong CSRF token (403).
    """
    limit = min(max_bytes, gate.max_upload)
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > limit:  # refused unread: a 45 MB answer was read, then saved
        raise Refused(413, f"Refused: this form is limited to {_size(limit)}; no answer or file sent with it is "
                           "that large. Nothing was saved.")
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        _check_utf8(await request.body())  # read once (bounded above); the form below parses the same bytes
    form = await request.form(max_files=max_files, max_fields=2000, max_part_size=MAX_FORM_BYTES)
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not same_secret(sent, gate.csrf):
        raise Refused(403, "Refused: the page is out of date or was not made by this server; reload it and "
                           "try again.")
    return form


def _check_utf8(body: bytes) -> None:
    """Refuse a form whose answers are not UTF-8 text: the form parser replaces such bytes with U+FFFD, so an
    answer would be saved changed (a browser always sends UTF-8; only a hand-made request does not).

    Raises:
        Refused: 400, naming what to do.
    """
    try:
        parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict",
                  max_num_fields=2000)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "Refused: the form's answers are not UTF-8 text, so they cannot be saved as sent. "
                           "Nothing was saved; send the page from the browser again.") from None


def _size(count: int) -> str:
    return f"{count // (1024 * 1024)} MB" if count >= 1024 * 1024 else f"{count // 1024} KB"

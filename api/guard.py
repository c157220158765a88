"""What every request passes before any route runs: cross-site checks, auth before the body,
body size limits, and the security headers of every response.

One ASGI middleware (`RequestGuard`), so every current and future route is covered (device
positions, which skip the routing, pass through an instance of their own:
`geoint.api.osmand.DevicePositions`):

- **Cross-site requests.** A state change (any method but GET, HEAD, OPTIONS) that does not
  carry its own credential (``Authorization: Bearer``, or a device's ``key=`` parameter
  without a session cookie) may
  only come from a page of this origin: a browser's ``Sec-Fetch-Site`` must be ``same-origin``
  (or ``none``: typed by the user) and its ``Origin`` must be this host and port. SameSite=Strict
  alone does not cover this: a page on another port of the same host is the same *site*, so the
  browser attaches the cookie to its form posts. A request with the session cookie must show
  one of the two headers (every browser sends them on a POST). GET never changes state with a
  session: the device route (``/osmand``) accepts only keys (`geoint.api.auth`).
- **Auth before anything else.** Every request but ``/health`` and ``/login`` is
  authenticated from its headers (a Bearer key, the session cookie or a ``key=`` parameter)
  before any route runs: without a live credential it gets 401 (a browser the sign-in page),
  its body is never read and its parameters are never looked at. The routes then check the
  role, the sector scope and which credentials they accept (`geoint.api.auth`).
- **Size limits.** ``Content-Length`` above the route's limit is refused with 413 before
  reading; a body without one (chunked) is counted as it streams and refused the moment it
  passes the limit. Ingest routes allow ``max_body_bytes``, photo uploads ``max_photo_bytes``,
  every other route ``max_request_bytes``.
- **Headers.** ``X-Content-Type-Options: nosniff`` on every response; HTML pages also get a
  Content-Security-Policy (scripts, styles and data from this origin; map tiles from
  OpenStreetMap when that base map is chosen), ``X-Frame-Options: DENY`` and a same-origin
  referrer policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote_plus, urlsplit

import sqlalchemy as sa
from starlette.exceptions import HTTPException
from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geoint.api.auth import SESSION_COOKIE, bearer_credential, identify
from geoint.api.errors import Problem, problem_for, problem_response, storage_problem
from geoint.api.ingest import KINDS

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/health", "/login"})
PUBLIC_WITH_BODY = frozenset({"/login"})
INGEST_PATHS = frozenset(f"/api/v1/{kind}" for kind in KINDS)
SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})
_KEY_PARAMETER = re.compile(rb"(?:^|&)key=([^&]*)")
PHOTO_UPLOAD = re.compile(r"/api/v1/seizures/[^/]+/photos")  # photos: max_photo_bytes
# Folium writes its map as inline scripts, and the vendored leaflet-measure compiles its
# templates with `new Function`: hence 'unsafe-inline' and 'unsafe-eval'. Every data string is
# escaped before it reaches the page (web/map.py); the policy still keeps the page from being
# framed, from loading or sending anything off this origin (but the optional OSM tiles), and
# from posting forms elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: https://tile.openstreetmap.org; connect-src 'self'; "
    "font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_HTML_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class RequestGuard:
    """Cross-site checks, auth before the body, body size limits and security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send)
        refusal = await self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        limit = self._limit(scope)
        await self.app(scope, _bounded(receive, limit), send)

    def _limit(self, scope: Scope) -> int:
        service = scope["state"]["services"].settings.api
        path = scope["path"]
        if path in INGEST_PATHS:
            return service.max_body_bytes
        if PHOTO_UPLOAD.fullmatch(path):
            return service.max_photo_bytes
        return service.max_request_bytes

    async def _refusal(self, scope: Scope) -> Response | None:
        """The response refusing the request before any route runs, or None."""
        request = Request(scope)
        headers = header_values(scope)
        bearer = bearer_credential(headers.get("authorization"))
        key_text = key_parameter(scope.get("query_string", b""))
        cookies = headers.get("cookie")
        # /login acts on the key in its form, never on the cookie it may find
        token = None
        if cookies is not None and scope["path"] not in PUBLIC_WITH_BODY:
            token = cookie_parser(cookies).get(SESSION_COOKIE)
        session = token is not None
        # a page cannot set Authorization across origins; a `key=` it can add, so that one
        # counts only without a session cookie (routes prefer the cookie to it)
        own_credential = bearer is not None or (key_text is not None and not session)
        if scope["method"] not in SAFE_METHODS and not own_credential:
            reason = _cross_site(headers, session)
            if reason is not None:
                return problem_response(403, reason, "cross-site-request")
        if scope["path"] not in PUBLIC_PATHS:
            try:
                await identify(request, bearer, token, key_text)
            except Problem as problem:
                return await problem_for(request, problem)
            except (OSError, sa.exc.OperationalError) as exc:  # the keys cannot be read
                return await storage_problem(request, exc)
        declared = headers.get("content-length")  # a chunked body is counted as it streams
        if declared is not None and declared != "0":
            if not declared.isdigit():
                return problem_response(400, "Content-Length must be a number", "bad-request")
            limit = self._limit(scope)
            if int(declared) > limit:
                return _too_large_response(limit)
        return None


def header_values(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name, the first of a repeated one (as Starlette's
    `Headers.get`). A dict: `Headers.get` raises and catches a KeyError for each absent name,
    a tenth of a live position's cost on the event loop."""
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in reversed(scope["headers"])
    }


def key_parameter(query: bytes) -> str | None:
    """The ``key`` query parameter (the last one, as Starlette's `QueryParams.get`), or None.

    Found in the raw query string: parsing all of it was a twentieth of a live position's
    cost. A key parameter whose name is percent-encoded is not seen: refused (fails closed).
    """
    if b"key=" not in query:
        return None
    found = _KEY_PARAMETER.findall(query)
    return unquote_plus(found[-1].decode("latin-1")) if found else None


def _cross_site(headers: Mapping[str, str], has_session: bool) -> str | None:
    """Why a state change without its own credential is refused as cross-site, or None."""
    fetch_site = headers.get("sec-fetch-site")
    origin = headers.get("origin")
    if fetch_site is not None and fetch_site.lower() not in SAME_ORIGIN_FETCH:
        return f"cross-site request refused (Sec-Fetch-Site: {fetch_site[:32]})"
    if origin is not None:
        parts = urlsplit(origin) if origin != "null" else None
        if parts is None or parts.netloc.lower() != headers.get("host", "").lower():
            return f"cross-origin request refused (Origin: {origin[:100]})"
    elif has_session and fetch_site is None:
        return "a request with the session cookie must come from this origin's pages (no Origin)"
    return None


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the body exceeds {limit} bytes; split it")


def _too_large_response(limit: int) -> Response:
    return problem_response(
        413, f"the body exceeds {limit} bytes; split it", "body-too-large", max_bytes=limit
    )


def _bounded(receive: Receive, limit: int) -> Receive:
    """`receive`, raising 413 once the body read so far passes `limit` bytes."""
    size = 0

    async def bounded() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise _too_large(limit)
        return message

    return bounded


def _with_security_headers(send: Send) -> Send:
    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {name.lower() for name, _ in headers}
            if b"x-content-type-options" not in names:
                headers.append((b"x-content-type-options", b"nosniff"))
            content_type = dict(headers).get(b"content-type", b"")
            if content_type.startswith(b"text/html"):
                headers.extend(h for h in _HTML_HEADERS if h[0] not in names)
            message = {**message, "headers": headers}
        await send(message)

    return secured

"""Every error leaves the service as an RFC 9457 ``application/problem+json`` document.

One map from domain error class to status, and one handler each for domain errors, explicit
problems raised by routes, Starlette's HTTP errors and request validation, installed once.
"""

from __future__ import annotations

import html
import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import orjson
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response

from geoint.alerts.store import AlertNotFoundError, AlertStateError
from geoint.errors import (
    CorruptPartError,
    GeointError,
    InputError,
    PatrolError,
    QueryError,
    RegionError,
    StorageFullError,
    WorkspaceError,
    is_storage_full,
)
from geoint.store.groups import GroupNotFoundError
from geoint.web.i18n import gettext_for, negotiate

PROBLEM_JSON = "application/problem+json"
MAX_DETAIL_CHARS = 500  # of a problem's detail (which may quote the request)
log = logging.getLogger("geoint.api")

STATUS_BY_ERROR: dict[type[Exception], int] = {
    AlertNotFoundError: 404,
    GroupNotFoundError: 404,
    AlertStateError: 409,
    InputError: 422,
    PatrolError: 422,
    QueryError: 400,
    StorageFullError: 507,
    WorkspaceError: 503,
    RegionError: 500,
    GeointError: 400,
}
_PARAMETER_LOCATIONS = {"query", "path", "header", "cookie"}


class Problem(Exception):
    """An error a route raises on purpose: status, a detail for the client, extension members."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.headers = headers
        self.extensions = extensions


def parameter_error(name: str, detail: str) -> Problem:
    """A 400 problem naming one query parameter."""
    return Problem(
        400,
        f"query parameter '{name}': {detail}",
        slug="invalid-parameter",
        errors=[{"in": "query", "field": name, "reason": "invalid", "detail": detail}],
    )


def problem_body(
    status: int, detail: str, slug: str | None = None, **extensions: Any
) -> dict[str, Any]:
    """The problem document: ``type`` is a URN naming the kind, or about:blank.

    Details may quote the request (a parameter, a value): each is cut at `MAX_DETAIL_CHARS`,
    so an oversized input never comes back whole in its own error.
    """
    if isinstance(extensions.get("errors"), list):
        extensions["errors"] = [
            {**e, "detail": cut(e["detail"])} if isinstance(e.get("detail"), str) else e
            for e in extensions["errors"]
        ]
    return {
        "type": f"urn:geoint:problem:{slug}" if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": cut(detail),
        **extensions,
    }


def cut(text: str, limit: int | None = None) -> str:
    """`text`, or its first `limit` (`MAX_DETAIL_CHARS`) characters and how many were left."""
    limit = MAX_DETAIL_CHARS if limit is None else limit
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def problem_response(
    status: int,
    detail: str,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem+json response."""
    body = orjson.dumps(problem_body(status, detail, slug, **extensions))
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error class to a problem response (the one place that does)."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(GeointError, _on_domain_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(OSError, storage_problem)
    app.add_exception_handler(sa.exc.OperationalError, storage_problem)
    app.add_exception_handler(Exception, _on_unexpected)


async def problem_for(request: Request, exc: Problem) -> Response:
    """The response to a problem: the sign-in page for a browser's 401, else problem+json."""
    return await _on_problem(request, exc)


async def _on_problem(request: Request, exc: Problem) -> Response:
    if exc.status == 401 and _wants_html(request):
        return _sign_in_page(request, exc)
    return problem_response(exc.status, exc.detail, exc.slug, exc.headers, **exc.extensions)


async def _on_domain_error(_request: Request, exc: GeointError) -> Response:
    status = next(STATUS_BY_ERROR[c] for c in type(exc).__mro__ if c in STATUS_BY_ERROR)
    detail = " ".join(str(exc).split())
    if isinstance(exc, QueryError):
        problem = parameter_error(exc.field, exc.detail)
        return problem_response(problem.status, problem.detail, problem.slug, **problem.extensions)
    if isinstance(exc, InputError):
        return problem_response(
            status,
            detail,
            "unreadable-input",
            file=exc.file,
            column=exc.column,
            expected=cut(exc.expected),
        )
    if status == 507:
        log.error("storage full: %s", detail)
        return _storage_full()
    if isinstance(exc, CorruptPartError):
        log.error("unreadable workspace file: %s", detail)
        return problem_response(
            503,
            "a stored ping file is unreadable; the server log names it (an administrator "
            "repairs it with 'geoint check --repair')",
            "unreadable-storage",
        )
    if status >= 500:
        log.error("server-side domain error: %s", detail)
        detail = "the server's region or workspace is not usable; see the server log"
    return problem_response(status, detail, type(exc).__name__)


async def _on_http_error(_request: Request, exc: HTTPException) -> Response:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(exc.status_code, detail, headers=exc.headers)


async def _on_validation_error(_request: Request, exc: RequestValidationError) -> Response:
    errors = [
        {
            "in": str(error["loc"][0]) if error.get("loc") else "request",
            "field": ".".join(str(part) for part in error.get("loc", ())[1:]),
            "reason": error.get("type", "invalid"),
            "detail": error.get("msg", ""),
        }
        for error in exc.errors()
    ]
    parameters_only = all(e["in"] in _PARAMETER_LOCATIONS for e in errors)
    status = 400 if parameters_only else 422
    fields = ", ".join(f"{e['in']} {e['field']}".strip() for e in errors)
    return problem_response(status, f"invalid request: {fields}", "invalid-request", errors=errors)


async def storage_problem(request: Request, exc: Exception) -> Response:
    """A full disk or database (any write: an alert action, a session) is 507; a database
    another process keeps locked past the busy timeout, or a PostgreSQL server that cannot be
    reached, is 503; anything else unexpected."""
    if is_storage_full(exc):
        log.error("storage full on %s %s: %s", request.method, request.url.path, exc)
        return _storage_full()
    if type(getattr(exc, "orig", None)).__module__.startswith("psycopg"):
        # PostgreSQL's operational errors: the server is down, restarting or dropped us
        log.error("database unreachable on %s %s: %s", request.method, request.url.path, exc)
        return problem_response(
            503, "the database cannot be reached; retry shortly", "unavailable",
            {"Retry-After": "5"},
        )  # fmt: skip
    if "database is locked" in str(exc):
        log.error("database locked on %s %s", request.method, request.url.path)
        return problem_response(
            503, "the database is busy; retry shortly", "busy", {"Retry-After": "5"}
        )
    return await _on_unexpected(request, exc)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "unexpected server error; it was logged")


def _storage_full() -> Response:
    return problem_response(
        507, "no space left on the server's storage; nothing was changed", "storage-full"
    )


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.method == "GET" and "text/html" in accept


def _sign_in_page(request: Request, exc: Problem) -> Response:
    """A browser asking for a page without a session is told where to sign in (still 401)."""
    target = html.escape(f"/login?next={quote(request.url.path)}", quote=True)
    lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))
    sign_in = html.escape(gettext_for(lang)("Sign in"))
    page = (
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='0; url={target}'><title>{sign_in}</title></head>"
        f"<body><p>{html.escape(exc.detail)} <a href='{target}'>{sign_in}</a></p></body></html>"
    )
    return HTMLResponse(page, status_code=401, headers=exc.headers)

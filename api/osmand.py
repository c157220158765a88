"""``GET|POST /osmand``: one position from a tracking app (OsmAnd, Traccar Client).

The route a fleet's devices call thousands of times a second, so it takes only the request
and reads its parameters itself (`position_record`); they are documented in the OpenAPI
schema by hand (`OSMAND_PARAMETERS`). FastAPI's per-parameter validation and dependency
solving were a third of the event loop's time per position (docs/ingest.md, "Session 9"). The
checks are the same as before: a missing or malformed parameter is a 400 naming it; the
device's key is checked by `geoint.api.auth.device_key` and the write is audited.
`DevicePositions` takes these requests past the framework's layers to the route's function.
"""

import hashlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import anyio
import orjson
from fastapi import APIRouter, BackgroundTasks, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from geoint.api.audit import AuditMiddleware, audit_fields, audited_device, recorded_in_group
from geoint.api.errors import parameter_error
from geoint.api.guard import RequestGuard
from geoint.api.ingest import RESPONSES, input_name, reported, schedule_analysis
from geoint.api.state import get_services
from geoint.pipeline.ingest import Position
from geoint.schema import MAX_ID_CHARS

KNOTS_TO_KMH = 1.852
_METHODS = frozenset({"GET", "POST"})
_EPOCH_SECONDS_MAX = 2**31 - 1  # larger epoch numbers are milliseconds (as Traccar reads them)
_TEXT, _NUMBER = {"type": "string"}, {"type": "number"}
# (name, required, JSON schema, description): the query parameters the route reads
_PARAMETERS = (
    ("id", True, {**_TEXT, "minLength": 1, "maxLength": MAX_ID_CHARS}, "device id"),
    ("lat", True, _NUMBER, "latitude, WGS84 degrees"),
    ("lon", True, _NUMBER, "longitude, WGS84 degrees"),
    (
        "timestamp",
        True,
        _TEXT,
        "epoch seconds (milliseconds above 2^31 - 1, as Traccar reads them) or ISO 8601",
    ),
    ("speed", False, _NUMBER, "speed in knots"),
    ("bearing", False, _NUMBER, "heading in degrees"),
    ("accuracy", False, _NUMBER, "horizontal accuracy, m"),
    (
        "key",
        False,
        _TEXT,
        "the API key, for tracking clients (OsmAnd, Traccar Client) that cannot send "
        "headers; prefer `Authorization: Bearer`. The server never logs it.",
    ),
)
OSMAND_PARAMETERS = [
    {"name": name, "in": "query", "required": required, "schema": schema, "description": text}
    for name, required, schema, text in _PARAMETERS
]


def osmand_router() -> APIRouter:
    """The device route, by GET and by POST (Traccar Client posts its query string)."""
    router = APIRouter(tags=["ingest"])
    for method in ("GET", "POST"):
        router.add_api_route(
            "/osmand",
            osmand,
            methods=[method],
            name=f"osmand_{method.lower()}",
            summary=f"OsmAnd / Traccar Client position ({method})",
            responses={**RESPONSES, 400: {"description": "a parameter is missing or malformed"}},
            openapi_extra={"parameters": OSMAND_PARAMETERS, "security": [{"apiKey": []}]},
        )
    return router


async def osmand(request: Request, tasks: BackgroundTasks) -> Response:
    """One position from a tracking app; stored as a ping (``source`` = ``osmand``).

    Parameters are read from the query string (as OsmAnd and Traccar Client send them);
    others (``altitude``, ``batt``, ...) are accepted and not stored. The device's key comes
    as ``Authorization: Bearer`` or, for apps that cannot send headers, the ``key`` parameter.
    """
    note = await audited_device(request)
    record = position_record(query_values(request.scope["query_string"]))
    services = get_services(request)
    name = input_name(request, note)
    sha = hashlib.sha256(orjson.dumps(record)).hexdigest()
    # awaited on the event loop: thousands of devices wait for their group without threads
    position = Position(record, name, sha, audit_fields(request.scope, note))
    report = recorded_in_group(note, await services.posts.submit_async(position))
    schedule_analysis(services, report, tasks)
    if report.already_ingested or not (report.quarantined or report.duplicates):
        return reported(services, report, note)
    return await anyio.to_thread.run_sync(reported, services, report, note)  # reads the rows


def query_values(query: bytes) -> dict[str, str]:
    """The query string's parameters by name, the last of a repeated one (as Starlette's
    `QueryParams.get`): a plain dict, whose lookups of absent names raise nothing."""
    return dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))


def position_record(query: Mapping[str, str]) -> dict[str, Any]:
    """The ping an OsmAnd query string stands for, in `geoint.pipeline.ingest.POSITION_SCHEMA`'s
    columns; a 400 problem names the first parameter missing or malformed. Values are checked
    as pings are at ingest (out of range: quarantined, with the row's reason)."""
    device = _required(query, "id")
    if len(device) > MAX_ID_CHARS:
        raise parameter_error("id", f"at most {MAX_ID_CHARS} characters, got {len(device)}")
    speed = _number(query, "speed")
    return {
        "vehicle_id": device,
        "ts": _time(_required(query, "timestamp")),
        "lat": _number(query, "lat", required=True),
        "lon": _number(query, "lon", required=True),
        "speed_kmh": None if speed is None else speed * KNOTS_TO_KMH,
        "heading": _number(query, "bearing"),
        "accuracy_m": _number(query, "accuracy"),
        "source": "osmand",
    }


def _required(query: Mapping[str, str], name: str) -> str:
    value = query.get(name)
    if not value:
        raise parameter_error(name, "required" if value is None else "must not be empty")
    return value


def _number(query: Mapping[str, str], name: str, required: bool = False) -> float | None:
    text = _required(query, name) if required else query.get(name)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise parameter_error(name, f"expected a number, got {text[:40]!r}") from None


def _time(text: str) -> str:
    """Epoch seconds or milliseconds as seconds; any other text as sent (ISO 8601)."""
    try:
        value = float(text)
    except ValueError:
        return text
    return repr(value / 1000 if value > _EPOCH_SECONDS_MAX else value)


class DevicePositions:
    """ASGI middleware: device positions (``GET|POST /osmand``) go straight to `osmand`,
    through the same request guard and audit as every request, but not through the
    framework's exception, routing and dependency layers: they were two thirds of a position's
    cost on the event loop (docs/ingest.md, "Session 10"). Errors become the same responses,
    by the app's own handlers (`geoint.api.errors`); an unexpected one is the outermost
    layer's 500, as for any route. The route stays registered, for the OpenAPI document and
    for servers with OpenTelemetry on (`create_app` then leaves this out: a span names the
    route it matched)."""

    def __init__(self, app: ASGIApp, handlers: Mapping[Any, Callable[..., Any]]) -> None:
        self.app = app
        self.handlers = handlers
        self.positions = RequestGuard(AuditMiddleware(self._position))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/osmand" and scope["method"] in _METHODS:
            await self.positions(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _position(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        tasks = BackgroundTasks()
        try:
            response = await osmand(request, tasks)
            response.background = tasks  # run after the response is sent, as FastAPI does
        except Exception as exc:
            handler = _handler_for(self.handlers, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


def _handler_for(
    handlers: Mapping[Any, Callable[..., Any]], exc: Exception
) -> Callable[..., Any] | None:
    """The app's handler of `exc`'s nearest class, but the catch-all (the outermost layer's)."""
    for kind in type(exc).__mro__:
        if kind is Exception:
            return None
        if kind in handlers:
            return handlers[kind]
    return None

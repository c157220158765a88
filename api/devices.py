"""The lean path of device positions: well-formed ``/osmand`` requests stored without FastAPI's
routing and parameter solving.

A tracking device posts one position per request, so under load the server's time goes to the
request rather than the storage (docs/ingest.md: FastAPI's routing, dependency solving and
response handling were ~80 % of the event loop's time for an OsmAnd post). `DevicePositions`
sits inside the guard and the audit, so a post is still authenticated before anything is read,
size-checked, cross-site-checked and audited. It stores only requests it can read without doubt:
no session cookie, no body, every parameter present and a plain number where a number is due,
and a key whose role may ingest. Anything else goes on to the FastAPI route (`osmand` in
`geoint.api.ingest`), which answers it, errors included, exactly as before; both paths store
through `store_position`, whose group wakes the analyses (`geoint.api.analysis`), and a
failed store gets the route's problem (503 when the storage process stopped, 507 on a full disk).
"""

import re
from urllib.parse import parse_qsl

import sqlalchemy as sa
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from geoint.api.audit import AuditNote
from geoint.api.auth import WRITE_ROLES
from geoint.api.errors import Problem, problem_for, storage_problem
from geoint.api.guard import IDENTIFIED_KEY
from geoint.api.ingest import JSON, input_name, osmand_record, store_position
from geoint.schema import MAX_ID_CHARS

DEVICE_PATH = "/osmand"
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_REQUIRED_NUMBERS = ("lat", "lon")
_OPTIONAL_NUMBERS = ("speed", "bearing", "accuracy")
_BODY_HEADERS = frozenset({b"cookie", b"transfer-encoding"})


class DevicePositions:
    """Stores well-formed device positions itself; passes every other request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != DEVICE_PATH:
            await self.app(scope, receive, send)
            return
        state = scope["state"]
        key = state.get(IDENTIFIED_KEY)
        record = _plain_position(scope)
        if record is None or key is None or key.role not in WRITE_ROLES:
            await self.app(scope, receive, send)  # the route answers, with its problem
            return
        services = state["services"]
        note = state["audit"] = AuditNote(key.id)
        name = input_name(scope["method"], DEVICE_PATH, note)
        try:
            body = await store_position(services, record, name, note)
        except Problem as problem:  # answered as the route's error handlers would
            await (await problem_for(Request(scope), problem))(scope, receive, send)
            return
        except (OSError, sa.exc.OperationalError) as exc:  # a full disk (507), a lock (503)
            await (await storage_problem(Request(scope), exc))(scope, receive, send)
            return
        headers = [(b"content-type", JSON.encode()), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _plain_position(scope: Scope) -> dict | None:
    """The request's position record, or None unless it is read without doubt."""
    if scope["method"] not in ("GET", "POST"):
        return None
    for name, value in scope["headers"]:
        if name in _BODY_HEADERS or (name == b"content-length" and value != b"0"):
            return None
    params = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
    device, timestamp = params.get("id", ""), params.get("timestamp", "")
    if not 0 < len(device) <= MAX_ID_CHARS or not timestamp:
        return None
    numbers: dict[str, float | None] = {}
    for field in (*_REQUIRED_NUMBERS, *_OPTIONAL_NUMBERS):
        text = params.get(field)
        if text is None and field in _OPTIONAL_NUMBERS:
            numbers[field] = None
        elif text is None or not _NUMBER.fullmatch(text):
            return None
        else:
            numbers[field] = float(text)
    return osmand_record(device, timestamp=timestamp, **numbers)

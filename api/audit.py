"""The audit of writes: who (key id), what (method, path, status, summary), when.

A write route depends on `audited_writer` (or signs in/out), which leaves an `AuditNote` on the
request; the route adds a summary of what it did. `AuditMiddleware` records the note with the
response status, so refused writes (413, 415, 422) are audited too.
Only the path is recorded, never the query string (it may hold a device's key).
"""

import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geoint.api.auth import admin, device_key, seizure_writer, writer
from geoint.api.dependencies import Paging, paging
from geoint.api.settings import ServiceSettings
from geoint.api.state import get_services
from geoint.schema import IngestReport
from geoint.store.keys import ApiKey

log = logging.getLogger("geoint.api")


@dataclass
class AuditNote:
    """A write in progress: the key doing it and, once known, what it did."""

    key_id: str
    summary: str = ""
    # already stored with the write, in its transaction (a post stored in a group): the
    # response needs no entry of its own, unless it fails after all
    recorded: bool = False


def recorded_in_group(note: AuditNote, report: IngestReport) -> IngestReport:
    """Note that a post stored in a group (one carrying `audit_fields`) was audited in the
    group's transaction; one already ingested stored nothing, so its response records it."""
    note.recorded = not report.already_ingested
    return report


def audit_fields(scope: Scope, note: AuditNote) -> dict[str, str]:
    """A request's audit entry but its outcome (`geoint.pipeline.ingest.AuditFields`)."""
    return {"key_id": note.key_id, "method": scope["method"], "path": scope["path"]}


# The dependencies here, `geoint.api.ingest.body_format` and
# `geoint.api.state.request_services` are `async` though they do no I/O: FastAPI runs a plain
# `def` dependency on the thread pool, a hop (and a wait for the interpreter lock, up to its
# 5 ms switch interval, while another thread holds it) per dependency per request.


async def audited_writer(request: Request, key: Annotated[ApiKey, Depends(writer)]) -> AuditNote:
    """An ingesting key, noted for the audit."""
    request.state.audit = note = AuditNote(key.id)
    return note


async def audited_seizure_writer(
    request: Request, key: Annotated[ApiKey, Depends(seizure_writer)]
) -> AuditNote:
    """A key entering seizures or their photos (units too), noted for the audit."""
    request.state.audit = note = AuditNote(key.id)
    return note


async def audited_device(request: Request) -> AuditNote:
    """A tracking device's key (header or query parameter; `geoint.api.auth.device_key`),
    noted for the audit. Called by the device route itself, not as a dependency."""
    request.state.audit = note = AuditNote((await device_key(request)).id)
    return note


class AuditMiddleware:
    """Records a request's audit note, if any, with its status before the response goes out.

    Recording first means a client that sees a write's response finds it in the audit. A
    request that fails without a response is recorded as 500. A note the write recorded
    itself (`AuditNote.recorded`) is not recorded again, unless the response is not a 200.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        recorded = False

        async def record(status: int) -> None:
            nonlocal recorded
            state = scope.get("state") or {}
            note = state.get("audit")
            recorded = True
            if note is not None and not (note.recorded and status == HTTPStatus.OK):
                entry = {
                    **audit_fields(scope, note),
                    "status": status,
                    "summary": note.summary or HTTPStatus(status).phrase,
                }
                try:  # with the other writes recorded meanwhile, in one transaction
                    await state["services"].audit_log.submit_async(entry)
                except sa.exc.OperationalError as exc:  # a full or locked database: the
                    # response (507, 503) says so; the log keeps what could not be audited
                    log.error("audit not recorded (%s %s %d by %s): %s", scope["method"],
                              scope["path"], status, note.key_id, exc.orig)  # fmt: skip

        async def send_recorded(message: Message) -> None:
            if message["type"] == "http.response.start" and not recorded:
                await record(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recorded)
        finally:
            if not recorded:
                await record(500)


def audit_router(service: ServiceSettings) -> APIRouter:
    """``GET /api/v1/audit``: the audit log for admins, newest first, paged."""
    router = APIRouter(prefix="/api/v1", tags=["audit"])

    @router.get("/audit", summary="Audit log of writes (admins)")
    def audit_log(
        request: Request,
        _key: Annotated[ApiKey, Depends(admin)],
        page: Annotated[Paging, Depends(paging(service))],
    ) -> Response:
        entries, total = get_services(request).keys.audit(page.limit, page.offset)
        links = [{"rel": "self", "href": str(request.url), "type": "application/json"}]
        if page.offset + len(entries) < total:
            following = request.url.include_query_params(
                offset=page.offset + page.limit, limit=page.limit
            )
            links.append({"rel": "next", "href": str(following), "type": "application/json"})
        body = {
            "entries": entries,
            "numberMatched": total,
            "numberReturned": len(entries),
            "links": links,
        }
        return Response(orjson.dumps(body), media_type="application/json")

    return router

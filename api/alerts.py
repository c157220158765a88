"""Alerts and their feeds (SPEC §8, §12): JSON with cursor paging, GeoJSON, CAP 1.2, Atom,
Server-Sent Events of alert changes, and the lifecycle actions.

Every feed applies the caller's sector scope: a unit key sees the alerts of its sectors only
(an alert outside them is answered 404, as if it did not exist). Lists are newest first and
bounded; ``cursor`` is the ``next_cursor`` of the previous page. JSON escapes ``<``, ``>`` and
``&`` as ``\\u003c``-style sequences, so alert text is inert even when pasted into HTML.
State changes (ack, resolve, dismiss, label) are audited with the caller's key id as actor.

The SSE stream sends every alert change (``id`` = its sequence number, ``data`` = the change
and the alert's current state) after ``Last-Event-ID``: a client that reconnects with the last
id it saw misses nothing and gets nothing twice. Every change is retained, so ``0`` replays all.
It also sends, as ``event: share``, what is shared with the caller's closed user groups
(api/groups.py), each delivery audited; once shares exist the ids are ``A.S`` (the last alert
change and the last share seen), and ``A`` alone means ``A.0``.
"""

import re
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response, StreamingResponse

from geoint.alerts.cap import ATOM_MEDIA_TYPE, CAP_MEDIA_TYPE, atom_feed, cap_xml
from geoint.alerts.rules import SEVERITIES
from geoint.alerts.store import STATUSES, AlertQuery, AlertStore
from geoint.api.audit import AuditNote
from geoint.api.auth import reader, sector_scope
from geoint.api.collections import Bbox, Sectors
from geoint.api.compression import respond
from geoint.api.dependencies import bbox_param
from geoint.api.errors import Problem, parameter_error
from geoint.api.settings import ServiceSettings
from geoint.api.state import get_services
from geoint.serve.caches import BytesLRU
from geoint.settings import AlertSettings
from geoint.store.groups import GroupStore
from geoint.store.keys import ApiKey, KeyStore

JSON = "application/json"
GEOJSON = "application/geo+json"
EVENT_STREAM = "text/event-stream"
EVIDENCE_LINKS = 20  # events linked from one alert (all ids are in `evidence`)
_HTML_SAFE = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"))
AlertId = Annotated[int, Path(ge=1, le=2**63 - 1, description="alert id")]
_STREAM_ID = re.compile(r"(\d{1,18})(?:\.(\d{1,18}))?")


class ChangeBody(BaseModel):
    """An optional note for a lifecycle change."""

    note: str = Field(
        "",
        max_length=4000,
        pattern=r"^[^\x00]*$",  # NUL: no database text holds it
        description="why (kept in the alert's history; no NUL character)",
    )


class LabelBody(ChangeBody):
    """A true/false-positive label."""

    label: Literal["true_positive", "false_positive"]


def alerts_router(service: ServiceSettings) -> APIRouter:
    """The alert routes under ``/api/v1``."""
    router = APIRouter(prefix="/api/v1", tags=["alerts"])
    Scope = Annotated[Sectors, Depends(sector_scope)]

    async def filters(  # async: pure parsing, no threadpool hop
        bbox: Annotated[Bbox | None, Depends(bbox_param)],
        since: Annotated[
            datetime | None,
            Query(description="alerts changed at or after this time (RFC 3339; UTC if naive)"),
        ] = None,
        status: Annotated[list[str] | None, Query(description=", ".join(STATUSES))] = None,
        severity: Annotated[list[str] | None, Query(description=", ".join(SEVERITIES))] = None,
        alert_type: Annotated[
            list[str] | None,
            Query(alias="type", description="event type, emerging_hotspot or high_risk"),
        ] = None,
        sector: Annotated[list[str] | None, Query(description="sector ids")] = None,
        cursor: Annotated[
            str | None, Query(description="`next_cursor` of the previous page")
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=service.max_limit, description="alerts per page")
        ] = service.default_limit,
    ) -> AlertQuery:
        for name, values, allowed in (
            ("status", status, STATUSES),
            ("severity", severity, SEVERITIES),
        ):
            unknown = sorted(set(values or ()) - set(allowed))
            if unknown:
                raise parameter_error(name, f"expected {', '.join(allowed)}, got {unknown}")
        if cursor is not None and not (cursor.isdigit() and len(cursor) < 12):
            raise parameter_error("cursor", f"expected a next_cursor value, got {cursor!r}")
        if since is not None:
            try:
                since = (since.replace(tzinfo=UTC) if since.tzinfo is None else since).astimezone(
                    UTC
                )
            except OverflowError:
                raise parameter_error("since", f"out of range: {since.isoformat()}") from None
        return AlertQuery(
            limit=limit,
            cursor=int(cursor) if cursor is not None else None,
            since=since,
            status=status or (),
            severity=severity or (),
            alert_type=alert_type or (),
            sector=sector or (),
            boxes=bbox.boxes() if bbox is not None else (),
        )

    Filters = Annotated[AlertQuery, Depends(filters)]

    def page(
        request: Request, query: AlertQuery, sectors: Sectors
    ) -> tuple[list[dict[str, Any]], list[dict[str, str]], int | None]:
        query.sectors = sectors
        found, following = get_services(request).alerts.list(query)
        links = [{"rel": "self", "href": str(request.url)}]
        if following is not None:
            links.append(
                {
                    "rel": "next",
                    "href": str(request.url.include_query_params(cursor=str(following))),
                }
            )
        links_of = _alert_links(request)
        for alert in found:
            alert["links"] = links_of(alert)
        return found, links, following

    # encoded pages keyed by URL, scope and the last alert change: any change is a new key
    pages = BytesLRU(service.alert_cache_mib * 2**20)

    @router.get("/alerts", summary="Alerts, newest first (filters, cursor paging)")
    async def list_alerts(request: Request, query: Filters, sectors: Scope) -> Response:
        services = get_services(request)
        last_seq = services.alerts.known_last_seq()
        if last_seq is None:
            last_seq = await anyio.to_thread.run_sync(services.alerts.last_seq)
        key = (str(request.url), sectors, last_seq)

        def compute() -> bytes:
            data = encoded_page(request, query, sectors)
            pages.put(key, data)
            return data

        headers = {"X-Content-Type-Options": "nosniff"}
        cached = pages.get(key)[1]
        # a poller sending this back gets 304 until an alert changes (its scope is in the tag)
        scope = None if sectors is None else sorted(sectors)
        etag = f'"{last_seq}-{zlib.crc32(repr(scope).encode()):08x}"'
        return await respond(
            request, cached, compute, JSON, services.gzip, services.compute, headers, etag
        )

    def encoded_page(request: Request, query: AlertQuery, sectors: Sectors) -> bytes:
        alerts, links, following = page(request, query, sectors)
        body = {
            "alerts": alerts,
            "numberReturned": len(alerts),
            "next_cursor": None if following is None else str(following),
            "links": links,
        }
        return safe_json(body)

    @router.get(
        "/alerts.geojson",
        summary="Alerts as GeoJSON points (same filters and paging)",
        response_class=Response,
        responses={200: {"content": {GEOJSON: {}}, "description": "GeoJSON"}},
    )
    def alerts_geojson(request: Request, query: Filters, sectors: Scope) -> Response:
        found, links, _ = page(request, query, sectors)
        features = [
            {
                "type": "Feature",
                "id": alert["id"],
                "geometry": {"type": "Point", "coordinates": [alert["lon"], alert["lat"]]},
                "properties": alert,
            }
            for alert in found
        ]
        body = {"type": "FeatureCollection", "features": features, "links": links}
        return _json(body, GEOJSON)

    @router.get(
        "/alerts/feed.atom",
        summary="Atom feed of the alerts' CAP 1.2 messages (same filters)",
        response_class=Response,
        responses={200: {"content": {ATOM_MEDIA_TYPE: {}}, "description": "Atom 1.0"}},
    )
    def alerts_atom(request: Request, query: Filters, sectors: Scope) -> Response:
        services = get_services(request)
        query.sectors = sectors
        store = services.alerts
        found, _ = store.list(query)
        body = atom_feed(
            [(alert, store.history(alert["id"])) for alert in found],
            str(request.url),
            lambda alert_id: str(request.url_for("alert_cap", alert_id=alert_id)),
            services.settings.alerts,
        )
        return Response(body, media_type=ATOM_MEDIA_TYPE)

    @router.get(
        "/alerts/stream",
        summary="Server-Sent Events of alert changes, resuming after Last-Event-ID",
        response_class=StreamingResponse,
        responses={200: {"content": {EVENT_STREAM: {}}, "description": "text/event-stream"}},
    )
    async def alert_stream(
        request: Request,
        sectors: Scope,
        key: Annotated[ApiKey, Depends(reader)],
        last_event_id: Annotated[
            str | None,
            Header(
                alias="Last-Event-ID",
                description="resume after this id (an alert change, or A.S: also the last "
                "share); 0 replays every retained change and share; without it the stream "
                "starts with the next change",
            ),
        ] = None,
    ) -> StreamingResponse:
        services = get_services(request)
        store = services.alerts
        match = _STREAM_ID.fullmatch(last_event_id.strip()) if last_event_id is not None else None
        if last_event_id is None:
            start = await anyio.to_thread.run_sync(store.last_seq)
            shared = await anyio.to_thread.run_sync(services.groups.last_seq)
        elif match is not None:
            start, shared = int(match.group(1)), int(match.group(2) or 0)
        else:
            raise Problem(
                400,
                f"header 'Last-Event-ID': expected a change number, got {last_event_id!r}",
                slug="invalid-parameter",
                errors=[{"in": "header", "field": "Last-Event-ID", "reason": "invalid"}],
            )
        shares = _Shares(services.groups, services.keys, key.id, shared, request.url.path)
        return StreamingResponse(
            _changes(request, store, start, sectors, services.settings.alerts, shares),
            media_type=EVENT_STREAM,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.get("/alerts/{alert_id}", name="alert", summary="One alert and its history")
    def get_alert(request: Request, alert_id: AlertId, sectors: Scope) -> Response:
        store = get_services(request).alerts
        alert = store.get(alert_id, sectors)
        alert["history"] = store.history(alert_id)
        alert["links"] = _alert_links(request)(alert)
        return _json(alert)

    @router.get(
        "/alerts/{alert_id}/cap",
        name="alert_cap",
        summary="The alert as a CAP 1.2 message (scope Restricted)",
        response_class=Response,
        responses={200: {"content": {CAP_MEDIA_TYPE: {}}, "description": "CAP 1.2 XML"}},
    )
    def get_cap(request: Request, alert_id: AlertId, sectors: Scope) -> Response:
        services = get_services(request)
        store = services.alerts
        alert = store.get(alert_id, sectors)
        web = str(request.url_for("alert", alert_id=alert_id))
        body = cap_xml(alert, store.history(alert_id), services.settings.alerts, web)
        return Response(body, media_type=CAP_MEDIA_TYPE)

    for verb, summary in (
        ("ack", "Acknowledge a new alert"),
        ("resolve", "Resolve an acknowledged alert"),
        ("dismiss", "Dismiss an acknowledged alert (false alarm)"),
    ):
        router.add_api_route(
            f"/alerts/{{alert_id}}/{verb}",
            _transition_route(verb),
            methods=["POST"],
            summary=f"{summary} (audited)",
            name=f"alert_{verb}",
        )

    @router.post("/alerts/{alert_id}/label", summary="Label a true or false positive (audited)")
    def label_alert(
        request: Request,
        alert_id: AlertId,
        body: LabelBody,
        key: Annotated[ApiKey, Depends(reader)],
        sectors: Scope,
    ) -> Response:
        note = _audit(request, key)
        store = get_services(request).alerts
        alert = store.label(alert_id, body.label, key.id, body.note, sectors)
        note.summary = f"alert {alert_id} labelled {body.label}"
        return _json(alert)

    return router


def _transition_route(verb: str):
    def change(
        request: Request,
        alert_id: AlertId,
        key: Annotated[ApiKey, Depends(reader)],
        sectors: Annotated[Sectors, Depends(sector_scope)],
        body: ChangeBody | None = None,
    ) -> Response:
        note = _audit(request, key)
        store = get_services(request).alerts
        text = body.note if body is not None else ""
        alert = store.transition(alert_id, verb, key.id, text, sectors)
        note.summary = f"alert {alert_id} {alert['status']}"
        return _json(alert)

    return change


class _Shares:
    """The shares a stream's key receives: after `seq`, into its groups, each one audited."""

    def __init__(self, groups: GroupStore, keys: KeyStore, key_id: str, seq: int, path: str):
        self.groups, self.keys, self.key_id, self.seq, self.path = groups, keys, key_id, seq, path
        self.covered = -1  # every share up to here was looked at

    def stream_id(self, alert_seq: int) -> bytes:
        """The SSE id of the stream's position: ``A``, or ``A.S`` once a share is known."""
        return b"%d" % alert_seq if self.seq == 0 else b"%d.%d" % (alert_seq, self.seq)

    async def new(self, limit: int) -> list[dict[str, Any]]:
        """The shares committed since the last call (none queried while nothing commits)."""
        latest = self.groups.known_last_seq()
        if latest is None:
            latest = await anyio.to_thread.run_sync(self.groups.last_seq)
        if latest <= max(self.covered, self.seq):
            return []
        found = await anyio.to_thread.run_sync(
            self.groups.shares_since, self.seq, self.key_id, limit
        )
        if len(found) < limit:
            self.covered = latest
        for share in found:
            summary = f"read share {share['seq']} of group {share['group_id']} (stream)"
            await anyio.to_thread.run_sync(
                self.keys.record, self.key_id, "GET", self.path, 200, summary
            )
        return found


async def _changes(
    request: Request,
    store: AlertStore,
    seq: int,
    sectors: Sectors,
    config: AlertSettings,
    shares: _Shares,
) -> AsyncIterator[bytes]:
    """SSE frames of the changes after `seq` (and of the key's group shares) as they are
    committed, until the client leaves.

    A poll queries the changes only when the last change number moved past what the previous
    query covered (it is recalled without a query while nothing commits), so an idle stream
    costs microseconds per poll, whatever the number of clients.
    """
    yield b"retry: 2000\n\n"
    idle, covered = 0.0, -1  # every change up to `covered` in scope was sent
    while not await request.is_disconnected():
        latest = store.known_last_seq()
        if latest is None:
            latest = await anyio.to_thread.run_sync(store.last_seq)
        changes = []
        if latest > max(covered, seq):
            changes = await anyio.to_thread.run_sync(
                store.changes_since, seq, sectors, config.stream_batch
            )
            if len(changes) < config.stream_batch:  # committed before the query: all seen
                covered = latest
        for change in changes:
            seq = change["seq"]
            frame = (shares.stream_id(seq), safe_json(change))
            yield b"id: %s\nevent: alert\ndata: %s\n\n" % frame
        shared = await shares.new(config.stream_batch)
        for share in shared:
            shares.seq = share["seq"]
            yield b"id: %s\nevent: share\ndata: %s\n\n" % (shares.stream_id(seq), safe_json(share))
        if changes or shared:
            idle = 0.0
            continue
        await anyio.sleep(config.stream_poll_s)
        idle += config.stream_poll_s
        if idle >= config.stream_keepalive_s:
            idle = 0.0
            yield b": keepalive\n\n"


def _audit(request: Request, key: ApiKey) -> AuditNote:
    request.state.audit = note = AuditNote(key.id)
    return note


def _alert_links(request: Request) -> Callable[[dict[str, Any]], list[dict[str, str]]]:
    """The links of an alert: self, its CAP message, its first evidence events as OGC items.

    ``url_for`` walks every route, so each URL is resolved once per request (with a marker id)
    and completed per alert.
    """
    alert_url = str(request.url_for("alert", alert_id=0)).removesuffix("0")
    cap_suffix = str(request.url_for("alert_cap", alert_id=0)).removeprefix(f"{alert_url}0")
    marker = "0"
    event_url = str(
        request.url_for("ogc_item", collection_id="events", feature_id=marker)
    ).removesuffix(marker)

    def links(alert: dict[str, Any]) -> list[dict[str, str]]:
        alert_id = alert["id"]
        out = [
            {"rel": "self", "href": f"{alert_url}{alert_id}", "type": JSON},
            {
                "rel": "alternate",
                "href": f"{alert_url}{alert_id}{cap_suffix}",
                "type": CAP_MEDIA_TYPE,
            },
        ]
        for event_id in alert["evidence"]["events"][:EVIDENCE_LINKS]:
            out.append(
                {
                    "rel": "related",
                    "href": f"{event_url}{event_id}",
                    "type": GEOJSON,
                    "title": "event",
                }
            )
        return out

    return links


def safe_json(body: Any) -> bytes:
    """JSON on one line with ``<``, ``>`` and ``&`` escaped (only strings can hold them)."""
    data = orjson.dumps(body)
    for raw, escaped in _HTML_SAFE:
        data = data.replace(raw, escaped)
    return data


def _json(body: Any, media_type: str = JSON) -> Response:
    return _encoded(safe_json(body), media_type)


def safe_json_response(body: Any, status_code: int = 200) -> Response:
    """A JSON response with ``<``, ``>`` and ``&`` escaped, as every alert feed sends."""
    headers = {"X-Content-Type-Options": "nosniff"}
    return Response(safe_json(body), status_code, headers=headers, media_type=JSON)


def _encoded(data: bytes, media_type: str = JSON) -> Response:
    return Response(data, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})

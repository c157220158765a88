"""Patrol plans over HTTP: ``POST /api/v1/patrols/plan`` (analysts and admins).

The body carries the flags of ``geoint patrol plan``; the response is the same JSON report
(SPEC §12), or the plan as GPX 1.1 (``?format=gpx``) or GeoJSON (``?format=geojson``). The travel
graph of the served region is built on the first request and kept. A plan that cannot be made
(a base joined to no road or passable ground, no teams, a shift shorter than any trip) is a 422
problem. A base far from the border reaches it over the coarser transit graph, also kept.
"""

import threading
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response

from geoint.api.audit import AuditNote
from geoint.api.auth import debriefer, planner
from geoint.api.errors import Problem
from geoint.api.ingest import bounded_body
from geoint.api.state import Services, get_services
from geoint.patrol.debrief import debrief_sha256, parse_debrief, store_debrief
from geoint.patrol.plan import PatrolRequest, TravelGraph, parse_base, parse_start
from geoint.patrol.shift import plan_shift
from geoint.patrol.travel import build_transit_graph, build_travel_graph
from geoint.store.keys import ApiKey

GPX_MEDIA = "application/gpx+xml"
GEOJSON_MEDIA = "application/geo+json"


class PatrolPlanBody(BaseModel):
    """One shift to plan."""

    base: str = Field(description="the teams' base, 'LAT,LON' (WGS84)", examples=["7.72,2.72"])
    teams: int = Field(description="number of teams, at least 1", examples=[3])
    hours: float = Field(description="shift length in hours", examples=[8])
    start: str = Field(
        description="shift start, ISO 8601 (UTC without offset)", examples=["2026-03-04T18:00:00Z"]
    )
    seed: int | None = Field(None, description="unpredictable mode: a seeded near-optimal plan")


class DebriefBody(BaseModel):
    """A patrol's debrief: its GPS track, the plan it followed and its outcomes."""

    outcomes: str = Field(
        description="outcomes CSV: stop or cell or lat,lon; outcome (nothing|seizure); "
        "seizure_id; minutes; time",
        examples=["stop,outcome,minutes,seizure_id\nT1-01,nothing,25,\n"],
    )
    track: str | None = Field(None, description="the team's GPS track as GPX text")
    plan: dict[str, Any] | None = Field(
        None, description="the plan followed (the JSON report of /api/v1/patrols/plan)"
    )


def patrol_router() -> APIRouter:
    """The patrol planning routes, with the region's travel graphs cached per app."""
    router = APIRouter(prefix="/api/v1/patrols", tags=["patrols"])
    graphs: dict[str, TravelGraph] = {}
    lock = threading.Lock()

    def travel_graph(services: Services, kind: str = "border") -> TravelGraph:
        with lock:
            if kind not in graphs:
                settings = services.settings
                graphs[kind] = (
                    build_travel_graph(services.region, settings.patrol, settings.h3_resolution)
                    if kind == "border"
                    else build_transit_graph(services.region, settings.patrol)
                )
            return graphs[kind]

    @router.post(
        "/plan",
        summary="Plan a patrol shift (JSON report, GPX 1.1 or GeoJSON)",
        responses={200: {"content": {GPX_MEDIA: {}, GEOJSON_MEDIA: {}}}},
    )
    def plan(
        body: PatrolPlanBody,
        request: Request,
        _key: Annotated[ApiKey, Depends(planner)],
        output: Annotated[
            Literal["json", "gpx", "geojson"],
            Query(alias="format", description="json (default), gpx or geojson"),
        ] = "json",
    ) -> Response:
        services = get_services(request)
        region = services.region
        shift = PatrolRequest(
            *parse_base(body.base),
            body.teams,
            body.hours,
            parse_start(body.start),
            body.seed,
            region.timezone,
        )
        result = plan_shift(
            services.workspace,
            region,
            travel_graph(services),
            lambda: travel_graph(services, "transit"),
            shift,
            services.settings.patrol,
        )
        if output == "gpx":
            disposition = {"Content-Disposition": 'attachment; filename="patrol.gpx"'}
            return Response(result.to_gpx(), media_type=GPX_MEDIA, headers=disposition)
        if output == "geojson":
            return Response(orjson.dumps(result.to_geojson()), media_type=GEOJSON_MEDIA)
        return Response(orjson.dumps(result.to_dict()), media_type="application/json")

    @router.post(
        "/debrief",
        summary="Record a patrol debrief as effort per cell and day (docs/patrol.md)",
    )
    def debrief(
        request: Request,
        key: Annotated[ApiKey, Depends(debriefer)],
        body: Annotated[bytes, Depends(bounded_body)],
    ) -> Response:
        request.state.audit = note = AuditNote(key.id)
        try:
            given = DebriefBody.model_validate_json(body)
        except ValidationError as exc:
            errors = [
                {"in": "body", "field": ".".join(map(str, e["loc"])), "reason": e["type"],
                 "detail": e["msg"]}
                for e in exc.errors()
            ]  # fmt: skip
            raise Problem(422, "expected a debrief body", errors=errors) from None
        services = get_services(request)
        track = given.track.encode() if given.track is not None else None
        outcomes = given.outcomes.encode()
        parsed = parse_debrief(
            track, "track.gpx", outcomes, "outcomes.csv", given.plan, services.settings.patrol
        )
        plan = orjson.dumps(given.plan) if given.plan is not None else None
        sha = debrief_sha256(track, plan, outcomes)
        report = store_debrief(services.workspace, parsed, f"api:{key.id}", sha)
        note.summary = f"debrief {report['debrief']}: {report['accepted']} outcomes"
        return Response(orjson.dumps(report), media_type="application/json")

    return router

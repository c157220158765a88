"""Patrol plans over HTTP: ``POST /api/v1/patrols/plan`` (analysts and admins).

The body carries the flags of ``geoint patrol plan``; the response is the same JSON report
(SPEC §12), or the plan as GPX 1.1 (``?format=gpx``) or GeoJSON (``?format=geojson``). The travel
graph of the served region is built on the first request and kept. A plan that cannot be made
(base outside the region, no teams, a shift shorter than any trip) is a 422 problem.
"""

import threading
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from geoint.api.auth import planner
from geoint.api.state import Services, get_services
from geoint.patrol.plan import (
    PatrolRequest,
    TravelGraph,
    parse_base,
    parse_start,
    plan_patrol,
    read_risk_tables,
)
from geoint.patrol.travel import build_travel_graph
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


def patrol_router() -> APIRouter:
    """The patrol planning routes, with the region's travel graph cached per app."""
    router = APIRouter(prefix="/api/v1/patrols", tags=["patrols"])
    graphs: list[TravelGraph] = []
    lock = threading.Lock()

    def travel_graph(services: Services) -> TravelGraph:
        with lock:
            if not graphs:
                settings = services.settings
                graphs.append(
                    build_travel_graph(services.region, settings.patrol, settings.h3_resolution)
                )
            return graphs[0]

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
        shift = PatrolRequest(
            *parse_base(body.base), body.teams, body.hours, parse_start(body.start), body.seed
        )
        risk, emerging = read_risk_tables(services.workspace)
        settings = services.settings.patrol
        result = plan_patrol(travel_graph(services), risk, emerging, shift, settings)
        if output == "gpx":
            disposition = {"Content-Disposition": 'attachment; filename="patrol.gpx"'}
            return Response(result.to_gpx(), media_type=GPX_MEDIA, headers=disposition)
        if output == "geojson":
            return Response(orjson.dumps(result.to_geojson()), media_type=GEOJSON_MEDIA)
        return Response(orjson.dumps(result.to_dict()), media_type="application/json")

    return router

"""Patrol plans over HTTP: ``POST /api/v1/patrols/plan`` (analysts and admins).

The body carries the flags of ``geoint patrol plan``; the response is the same JSON report
(SPEC §12), or the plan as GPX 1.1 (``?format=gpx``) or GeoJSON (``?format=geojson``). The travel
graph of the served region is built on the first request and kept. A plan that cannot be made
(a base joined to no road or passable ground, no teams, a shift shorter than any trip) is a 422
problem. A base far from the border reaches it over the coarser transit graph, also kept.
"""

import threading
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from geoint.api.auth import planner
from geoint.api.state import Services, get_services
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

    return router

"""The heatmap as GeoJSON H3 polygons (``/api/v1/heatmap``) and as Mapbox vector tiles (``/tiles``).

Both serve the cell tables of the last analysis through `geoint.serve.heatmap.Heatmaps` (cached
bytes, orjson); a unit key sees only the cells of its sectors. Metrics (``value`` column):
``risk`` (risk, with its contributions ``c_<factor>`` and their sum), ``anomaly`` (anomaly_z),
``activity`` (distinct vehicles), ``hotspot`` (Gi* z of significant cells), ``seizures``.
"""

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from geoint.api.auth import sector_scope
from geoint.api.collections import Bbox, Sectors
from geoint.api.compression import respond
from geoint.api.dependencies import bbox_param
from geoint.api.errors import Problem, parameter_error
from geoint.api.settings import ServiceSettings
from geoint.api.state import get_services
from geoint.serve.cell_views import METRICS, RESOLUTIONS
from geoint.serve.heatmap import MAX_ZOOM, HeatmapQuery, TileQuery

GEOJSON = "application/geo+json"
MVT = "application/vnd.mapbox-vector-tile"
MetricName = StrEnum("MetricName", {name: name for name in METRICS})
DateParam = Annotated[
    date | None, Query(alias="date", description="UTC day (YYYY-MM-DD); default: the latest")
]


def heatmap_router(service: ServiceSettings) -> APIRouter:
    """``GET /api/v1/heatmap`` and ``GET /tiles/{metric}/{z}/{x}/{y}.mvt``."""
    router = APIRouter(tags=["heatmap"])
    Scope = Annotated[Sectors, Depends(sector_scope)]

    @router.get(
        "/api/v1/heatmap",
        summary="Heatmap of H3 cells as GeoJSON polygons",
        response_class=Response,
        responses={200: {"content": {GEOJSON: {}}, "description": "GeoJSON FeatureCollection"}},
    )
    async def heatmap(
        request: Request,
        sectors: Scope,
        metric: Annotated[MetricName, Query(description="what `value` holds")],
        bbox: Annotated[Bbox | None, Depends(bbox_param)],
        day: DateParam = None,
        res: Annotated[
            int, Query(ge=min(RESOLUTIONS), le=max(RESOLUTIONS), description="H3 resolution")
        ] = max(RESOLUTIONS),
        limit: Annotated[
            int,
            Query(ge=1, le=service.heatmap_max_limit, description="most cells, highest first"),
        ] = service.heatmap_default_limit,
    ) -> Response:
        if bbox is not None and bbox.minx > bbox.maxx:
            raise parameter_error("bbox", "boxes crossing the antimeridian are not served")
        query = HeatmapQuery(
            metric.value,
            res,
            day,
            None if bbox is None else (bbox.minx, bbox.miny, bbox.maxx, bbox.maxy),
            sectors,
            limit,
        )
        services = get_services(request)
        return await respond(
            request,
            services.heatmaps.cached_geojson(query),
            lambda: services.heatmaps.geojson(query),  # blocking geo work: in a thread
            GEOJSON,
            services.gzip,
            services.compute,
        )

    @router.get(
        "/tiles/{metric}/{z}/{x}/{y}.mvt",
        summary="Heatmap as a Mapbox vector tile (H3 resolution by zoom)",
        response_class=Response,
        responses=_TILE_RESPONSES,
    )
    async def tile(
        request: Request,
        sectors: Scope,
        metric: MetricName,
        z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
        x: Annotated[int, Path(ge=0)],
        y: Annotated[int, Path(ge=0)],
        day: DateParam = None,
    ) -> Response:
        if x >= 2**z or y >= 2**z:
            detail = f"tile {z}/{x}/{y} does not exist: x and y must be below 2**z"
            raise Problem(
                400,
                detail,
                slug="invalid-parameter",
                errors=[{"in": "path", "field": "x,y", "reason": "invalid", "detail": detail}],
            )
        services = get_services(request)
        heatmaps = services.heatmaps
        query = TileQuery(metric.value, z, x, y, day, sectors)
        found, body = heatmaps.cached_tile(query)
        headers = {"Cache-Control": "private, max-age=60"}
        if found and body is None:
            return Response(status_code=204, headers=headers)
        return await respond(
            request,
            body,
            lambda: heatmaps.tile(query),
            MVT,
            services.gzip,
            services.compute,
            headers,
        )

    return router


_TILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {MVT: {}}, "description": "one layer named after the metric"},
    204: {"description": "no cell in this tile"},
}

"""Seizure queries (CEN-style) under ``/api/v1/seizures``: a filtered, paged list (JSON,
GeoJSON or KML), trends per field and period, and the summary the ``/trends`` page draws.

Every filter runs in SQL (`geoint.intel.query`); a unit key sees the seizures of its sectors.
Any query parameter a route does not declare is a 400 naming it, so a misspelt filter never
silently returns everything.
"""

from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from geoint.api.alerts import safe_json
from geoint.api.auth import reader, sector_scope
from geoint.api.collections import Bbox, Sectors, SeizureCollection
from geoint.api.dependencies import FromQuery, Paging, ToQuery, bbox_param, paging
from geoint.api.errors import Problem, parameter_error
from geoint.api.settings import ServiceSettings
from geoint.api.state import Services, get_services
from geoint.intel.operations import list_operations, seizure_operations
from geoint.intel.profiles import declarations_json, load_profiles, score_declarations
from geoint.intel.quality import quality_report
from geoint.intel.query import FILTER_FIELDS, Scope, SeizureFilter, field_values, parse_day
from geoint.intel.trends import PERIODS, TREND_FIELDS, check_trend, seizure_summary, seizure_trends
from geoint.serve.kml import KML_MEDIA_TYPE, SEIZURES, kml_document
from geoint.store.keys import ApiKey

JSON = "application/json"
GEOJSON = "application/geo+json"
FORMATS = ("json", "geojson", "kml")


FILTER_PARAMETERS = frozenset({*FILTER_FIELDS, "from", "to", "bbox", "q"})


async def seizure_filter(  # async: pure parsing, no threadpool hop
    request: Request,
    bbox: Annotated[Bbox | None, Depends(bbox_param)],
    commodity: Annotated[list[str] | None, Query(description="any of these commodities")] = None,
    transport_mode: Annotated[list[str] | None, Query(description="means of transport")] = None,
    concealment: Annotated[
        list[str] | None, Query(description="concealment method (case-insensitive)")
    ] = None,
    detection_method: Annotated[
        list[str] | None, Query(description="detection method (code or label)")
    ] = None,
    direction: Annotated[list[str] | None, Query(description="import, export, transit")] = None,
    vehicle_type: Annotated[
        list[str] | None, Query(description="vehicle type (code or label)")
    ] = None,
    origin_country: Annotated[list[str] | None, Query(description="country of origin")] = None,
    destination_country: Annotated[
        list[str] | None, Query(description="country of destination")
    ] = None,
    crossing: Annotated[
        list[str] | None, Query(description="official crossing within the radius")
    ] = None,
    origin: Annotated[
        list[str] | None,
        Query(description="`local` (this workspace's own) or a partner administration's name"),
    ] = None,
    start: FromQuery = None,
    end: ToQuery = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="text in id, description, place, concealment, vehicle"),
    ] = None,
) -> SeizureFilter:
    """The filter of a seizure request; values may repeat or be comma-separated (any of them)."""
    given = {
        "commodity": commodity,
        "transport_mode": transport_mode,
        "concealment": concealment,
        "detection_method": detection_method,
        "direction": direction,
        "vehicle_type": vehicle_type,
        "origin_country": origin_country,
        "destination_country": destination_country,
        "crossing": crossing,
        "origin": origin,
    }
    pairs = [(name, value) for name, values in given.items() for value in values or ()]
    first = parse_day("from", start) if start else None
    last = parse_day("to", end, end=True) if end else None
    if first is not None and last is not None and first > last:
        raise parameter_error("to", f"ends before 'from' starts: {start!r} > {end!r}")
    boxes = tuple(bbox.boxes()) if bbox is not None else ()
    vocabularies = get_services(request).vocabularies
    return SeizureFilter(field_values(pairs, vocabularies), first, last, boxes, q or None)


def _reject_unknown(request: Request, known: set[str]) -> None:
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        expected = ", ".join(sorted(known))
        raise parameter_error(unknown[0], f"unknown parameter; expected {expected}")


def seizures_router(service: ServiceSettings) -> APIRouter:
    """The seizure query routes under ``/api/v1``."""
    router = APIRouter(prefix="/api/v1", tags=["seizures"])
    Chosen = Annotated[SeizureFilter, Depends(seizure_filter)]
    ScopeDep = Annotated[Sectors, Depends(sector_scope)]

    @router.get(
        "/seizures",
        summary="Seizures meeting the filters, by time (JSON, GeoJSON or KML; paged)",
        response_class=Response,
        responses={
            200: {
                "content": {JSON: {}, GEOJSON: {}, KML_MEDIA_TYPE: {}},
                "description": "seizures",
            }
        },
    )
    def list_seizures(
        request: Request,
        chosen: Chosen,
        sectors: ScopeDep,
        page: Annotated[Paging, Depends(paging(service))],
        f: Annotated[str, Query(description="json, geojson or kml")] = "json",
    ) -> Response:
        _reject_unknown(request, {*FILTER_PARAMETERS, "limit", "offset", "f"})
        if f not in FORMATS:
            raise parameter_error("f", f"expected one of {', '.join(FORMATS)}, got {f!r}")
        result = _collection(request).page(chosen, page.limit, page.offset, sectors)
        rows = [
            {
                **feature["properties"],
                "lon": feature["geometry"]["coordinates"][0],
                "lat": feature["geometry"]["coordinates"][1],
            }
            for feature in result.features
        ]
        if f == "kml":
            return Response(kml_document(rows, SEIZURES), media_type=KML_MEDIA_TYPE)
        _tag_operations(request, rows)
        links = [{"rel": "self", "href": str(request.url)}]
        if page.offset + len(rows) < result.matched:
            following = request.url.include_query_params(offset=page.offset + page.limit)
            links.append({"rel": "next", "href": str(following)})
        body: dict[str, Any] = {"numberMatched": result.matched, "numberReturned": len(rows)}
        if f == "geojson":
            body = {"type": "FeatureCollection", "features": result.features, **body}
            return _json({**body, "links": links}, GEOJSON)
        return _json({"seizures": rows, **body, "links": links}, JSON)

    @router.get(
        "/seizures/trends",
        summary="Seizure counts and quantities per value of a CEN field and period",
    )
    def trends(
        request: Request,
        chosen: Chosen,
        sectors: ScopeDep,
        by: Annotated[str, Query(description=", ".join(TREND_FIELDS))] = "commodity",
        period: Annotated[str, Query(description=", ".join(PERIODS))] = "month",
    ) -> Response:
        _reject_unknown(request, {*FILTER_PARAMETERS, "by", "period"})
        check_trend(by, period)
        services = get_services(request)
        _locate(request, chosen, by)
        series = seizure_trends(services.workspace, chosen, by, period, _scope(services, sectors))
        return _json({"by": by, "period": period, "series": series}, JSON)

    @router.get(
        "/seizures/summary",
        summary="Headline figures, breakdowns, top routes and positions of the seizures",
    )
    def summary(request: Request, chosen: Chosen, sectors: ScopeDep) -> Response:
        _reject_unknown(request, set(FILTER_PARAMETERS))
        services = get_services(request)
        _locate(request, chosen, "crossing")
        intel = services.settings.intel
        body = seizure_summary(
            services.workspace,
            chosen,
            intel.top_routes,
            intel.max_points,
            _scope(services, sectors),
        )
        return _json(body, JSON)

    return router


def _tag_operations(request: Request, rows: list[dict[str, Any]]) -> None:
    """Add ``operations``: the ids of the enforcement operations tagging each seizure."""
    services = get_services(request)
    found = list_operations(services.workspace)
    frame = pl.DataFrame(
        {
            "ts": [row["ts"] for row in rows],
            "commodity": [row["commodity"] for row in rows],
            "lat": [row["lat"] for row in rows],
            "lon": [row["lon"] for row in rows],
        },
        schema={
            "ts": pl.Datetime("us", "UTC"),
            "commodity": pl.String,
            "lat": pl.Float64,
            "lon": pl.Float64,
        },
    )
    for row, tags in zip(rows, seizure_operations(frame, found, services.index), strict=True):
        row["operations"] = tags


def _collection(request: Request) -> SeizureCollection:
    found = get_services(request).collections["seizures"]
    assert isinstance(found, SeizureCollection)
    return found


def _locate(request: Request, chosen: SeizureFilter, by: str) -> None:
    """Locate new seizures at crossings when the request filters or groups by crossing."""
    if by == "crossing" or "crossing" in chosen.values:
        _collection(request).locator.update(get_services(request).workspace)


def _scope(services: Services, sectors: Sectors) -> Scope | None:
    return None if sectors is None else Scope(services.index, sectors)


def _json(body: dict[str, Any], media_type: str) -> Response:
    """JSON with ``<``, ``>`` and ``&`` escaped: untrusted text stays inert if pasted in HTML."""
    return Response(
        safe_json(body), media_type=media_type, headers={"X-Content-Type-Options": "nosniff"}
    )


def quality_router() -> APIRouter:
    """``GET /api/v1/quality``: the data-quality report of the seizure records."""
    router = APIRouter(prefix="/api/v1", tags=["seizures"])

    @router.get("/quality", summary="Data quality of the seizure records per source and week")
    def quality(request: Request, key: Annotated[ApiKey, Depends(reader)]) -> Response:
        if key.role == "unit":
            raise Problem(403, "a unit key may not read every source's quality report",
                          slug="forbidden", role=key.role)  # fmt: skip
        _reject_unknown(request, set())
        return _json(quality_report(get_services(request).workspace), JSON)

    return router


def declarations_router(service: ServiceSettings) -> APIRouter:
    """``GET /api/v1/declarations``: declarations scored by the risk profiles."""
    router = APIRouter(prefix="/api/v1", tags=["declarations"])

    @router.get("/declarations", summary="Transit declarations with their risk score and hits")
    def declarations(
        request: Request,
        sectors: Annotated[Sectors, Depends(sector_scope)],
        page: Annotated[Paging, Depends(paging(service))],
        level: Annotated[list[str] | None, Query(description="high, medium, low")] = None,
    ) -> Response:
        _reject_unknown(request, {"level", "limit", "offset"})
        unknown = sorted(set(level or ()) - {"high", "medium", "low"})
        if unknown:
            raise parameter_error("level", f"expected high, medium or low, got {unknown}")
        services = get_services(request)
        settings = services.settings
        profiles = load_profiles(settings.intel.profiles_file)
        scored = score_declarations(services.workspace, profiles, services.index, settings)
        if level:
            scored = scored.filter(pl.col("level").is_in(level))
        if sectors is not None:  # a unit sees the declarations bound for its sectors
            scored = (
                Scope(services.index, sectors)
                .keep(scored.with_columns(lat="dest_lat", lon="dest_lon"))
                .drop("lat", "lon")
            )
        rows = declarations_json(scored.slice(page.offset, page.limit))
        body = {"declarations": rows, "numberMatched": scored.height, "numberReturned": len(rows)}
        return _json(body, JSON)

    return router

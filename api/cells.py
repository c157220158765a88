"""Cell detail (``/api/v1/cells/{cell}``): why a cell scores what it does, and what happened there.

The cell's static context, latest risk factors (value, weight, points), emerging hotspot class
and daily series come from the cell tables (`geoint.serve.cell_views.explain`); its events from the
stored events; nearby seizures from the seizures table (``description`` is untrusted text,
returned as a JSON string). A unit key sees only cells of its sectors (others are 404), and only
the events and seizures located in its sectors.
"""

from typing import Annotated, Any

import orjson
import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from geoint.api.auth import sector_scope
from geoint.api.collections import Sectors
from geoint.api.errors import Problem
from geoint.api.settings import ServiceSettings
from geoint.api.state import Services, get_services
from geoint.h3index import cells_to_hex
from geoint.serve.cell_views import cell_events, explain, nearby, parse_cell

MAX_SERIES_DAYS = 366


def cells_router(service: ServiceSettings) -> APIRouter:
    """``GET /api/v1/cells/{cell}``."""
    router = APIRouter(prefix="/api/v1/cells", tags=["cells"])
    Scope = Annotated[Sectors, Depends(sector_scope)]
    Limit = Query(ge=1, le=service.max_limit)

    @router.get("/{cell}", summary="A cell's context, risk factors, series, events and seizures")
    def cell_detail(
        request: Request,
        sectors: Scope,
        cell: str,
        days: Annotated[
            int, Query(ge=1, le=MAX_SERIES_DAYS, description="days of daily series")
        ] = 28,
        events_limit: Annotated[int, Limit] = service.default_limit,
        seizures_limit: Annotated[int, Limit] = service.default_limit,
        radius_m: Annotated[
            float, Query(gt=0, le=100_000, description="nearby seizures within this distance")
        ] = service.seizure_radius_m,
    ) -> Response:
        try:
            value, resolution = parse_cell(cell)
        except ValueError as exc:  # not an H3 id at all: the request is wrong (400)
            raise Problem(
                400,
                f"path parameter 'cell': {exc}",
                slug="invalid-parameter",
                errors=[{"in": "path", "field": "cell", "reason": "invalid", "detail": str(exc)}],
            ) from None
        services = get_services(request)
        weights = services.settings.cells.risk_weights
        detail = explain(services.heatmaps.store, value, resolution, weights, days)
        if detail is None or (sectors is not None and detail["sector"] not in sectors):
            raise _not_found(f"no analysed cell {cell!r}")
        events = _visible(
            cell_events(services.heatmaps.store, value, resolution), services, sectors
        )
        centre = detail["context"]
        seizures = services.workspace.read_table("seizures").drop("batch")
        close = _visible(
            nearby(seizures, centre["lat"], centre["lon"], radius_m), services, sectors
        )
        detail["events"] = _page(_event_records(events.head(events_limit)), events.height)
        detail["seizures"] = _page(_seizure_records(close.head(seizures_limit)), close.height)
        detail["seizures"]["radius_m"] = radius_m
        return Response(orjson.dumps(detail), media_type="application/json")

    return router


def _not_found(detail: str) -> Problem:
    return Problem(404, detail, slug="not-found")


def _visible(frame: pl.DataFrame, services: Services, sectors: Sectors) -> pl.DataFrame:
    """The rows located in the caller's sectors (all for non-unit keys)."""
    if sectors is None or frame.height == 0:
        return frame
    owner = services.index.sector(frame["lat"].to_numpy(), frame["lon"].to_numpy())
    return frame.filter(pl.Series(owner, dtype=pl.String).is_in(list(sectors)))


def _page(items: list[dict[str, Any]], matched: int) -> dict[str, Any]:
    return {"numberMatched": matched, "numberReturned": len(items), "items": items}


def _with_hex(frame: pl.DataFrame) -> pl.DataFrame:
    cells = frame["cell"].cast(pl.UInt64).to_numpy()
    return frame.with_columns(pl.Series("cell", cells_to_hex(cells), dtype=pl.String))


def _event_records(events: pl.DataFrame) -> list[dict[str, Any]]:
    records = _with_hex(events).to_dicts()
    for record in records:
        record["detail"] = orjson.loads(record["detail"]) if record["detail"] else None
    return records


def _seizure_records(seizures: pl.DataFrame) -> list[dict[str, Any]]:
    return _with_hex(seizures).to_dicts()

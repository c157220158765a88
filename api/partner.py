"""Partner alerts and events (nCEN exchange) under ``/api/v1/partner``: what other
administrations sent, as received, with their origin.

They are kept apart from this workspace's alerts and events (they belong to the partner's
lifecycle), so they have their own lists rather than an ``origin`` on ``/api/v1/alerts``. A unit
key sees those whose position lies in its sectors. Record text is untrusted: served as escaped
JSON like alert text.
"""

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from geoint.api.alerts import safe_json_response
from geoint.api.auth import sector_scope
from geoint.api.collections import Bbox, Sectors
from geoint.api.dependencies import FromQuery, Paging, ToQuery, bbox_param, paging
from geoint.api.errors import parameter_error
from geoint.api.settings import ServiceSettings
from geoint.api.state import get_services
from geoint.exchange.provenance import partner_records
from geoint.intel.query import Scope, parse_day

PARAMETERS = {"origin", "from", "to", "bbox", "limit", "offset"}


def partner_router(service: ServiceSettings) -> APIRouter:
    """``GET /api/v1/partner/alerts`` and ``GET /api/v1/partner/events``."""
    router = APIRouter(prefix="/api/v1/partner", tags=["exchange"])

    @router.get(
        "/{kind}",
        summary="Alerts or events received from partner administrations, by time (paged)",
    )
    def partner_list(
        request: Request,
        kind: Literal["alerts", "events"],
        sectors: Annotated[Sectors, Depends(sector_scope)],
        page: Annotated[Paging, Depends(paging(service))],
        bbox: Annotated[Bbox | None, Depends(bbox_param)],
        origin: Annotated[
            list[str] | None, Query(description="the sending administration(s), exact names")
        ] = None,
        start: FromQuery = None,
        end: ToQuery = None,
    ) -> Response:
        unknown = sorted(set(request.query_params) - PARAMETERS)
        if unknown:
            raise parameter_error(unknown[0], f"unknown parameter; expected {sorted(PARAMETERS)}")
        services = get_services(request)
        found = partner_records(
            services.workspace,
            (kind,),
            origin or (),
            parse_day("from", start) if start else None,
            parse_day("to", end, end=True) if end else None,
            tuple(bbox.boxes()) if bbox is not None else (),
        )
        if sectors is not None:
            found = Scope(services.index, sectors).keep(found)
        shown = found.slice(page.offset, page.limit)
        records = [
            {
                "id": row["record_id"],
                "origin": row["origin"],
                "package_id": row["package_id"],
                "time": row["ts"].isoformat(),
                "lat": row["lat"],
                "lon": row["lon"],
                "record": orjson.loads(row["content"]),
            }
            for row in shown.iter_rows(named=True)
        ]
        links = [{"rel": "self", "href": str(request.url)}]
        if page.offset + len(records) < found.height:
            following = request.url.include_query_params(offset=page.offset + page.limit)
            links.append({"rel": "next", "href": str(following)})
        body = {
            kind: records,
            "numberMatched": found.height,
            "numberReturned": len(records),
            "links": links,
        }
        return safe_json_response(body)

    return router

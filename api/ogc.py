"""OGC API – Features (Part 1: Core, GeoJSON) under ``/ogc``.

Collections are the region's vector layers, the workspace's seizures and its events (see
`geoint.api.collections`). Items are paged with ``limit`` and ``offset`` (``next``/``prev``
links, ``numberMatched``/``numberReturned``) and serialised with orjson. A unit key sees only
the items of its sectors; an item outside them is answered 404, as if it did not exist.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from geoint.api.auth import reader, sector_scope
from geoint.api.collections import (
    CRS84,
    Bbox,
    Collection,
    Interval,
    ItemQuery,
    Sectors,
)
from geoint.api.dependencies import Paging, bbox_param, datetime_param, paging
from geoint.api.errors import Problem, parameter_error
from geoint.api.settings import ServiceSettings
from geoint.api.state import get_services
from geoint.store.keys import ApiKey

GEOJSON = "application/geo+json"
JSON = "application/json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
_GEOJSON_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {}}, "description": "GeoJSON"}
}


def ogc_router(service: ServiceSettings) -> APIRouter:
    """The OGC API – Features routes."""
    router = APIRouter(prefix="/ogc", tags=["OGC API – Features"])
    Reader = Annotated[ApiKey, Depends(reader)]
    Scope = Annotated[Sectors, Depends(sector_scope)]

    @router.get("", name="ogc_landing", summary="Landing page")
    @router.get("/", include_in_schema=False)
    def landing(request: Request, _key: Reader) -> Response:
        links = [
            _link(request.url_for("ogc_landing"), "self", JSON, "this document"),
            _link(
                request.url_for("openapi"),
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.1",
                "the API definition",
            ),
            _link(request.url_for("docs"), "service-doc", "text/html", "the API documentation"),
            _link(request.url_for("ogc_conformance"), "conformance", JSON, "conformance"),
            _link(request.url_for("ogc_collections"), "data", JSON, "collections"),
        ]
        return _json(
            {
                "title": service.title,
                "description": "Border GEOINT: region layers, seizures and track events",
                "links": links,
            }
        )

    @router.get("/conformance", name="ogc_conformance", summary="Conformance classes")
    def conformance(_key: Reader) -> Response:
        return _json({"conformsTo": CONFORMANCE})

    @router.get("/collections", name="ogc_collections", summary="Collections")
    def collections(request: Request, sectors: Scope) -> Response:
        available = get_services(request).collections.values()
        return _json(
            {
                "links": [_link(request.url_for("ogc_collections"), "self", JSON, "collections")],
                "collections": [_describe(request, c, sectors) for c in available],
            }
        )

    @router.get("/collections/{collection_id}", name="ogc_collection", summary="A collection")
    def collection(request: Request, collection_id: str, sectors: Scope) -> Response:
        return _json(_describe(request, _find(request, collection_id), sectors))

    @router.get(
        "/collections/{collection_id}/items",
        name="ogc_items",
        summary="Items of a collection",
        response_class=Response,
        responses=_GEOJSON_RESPONSE,
    )
    def items(
        request: Request,
        collection_id: str,
        sectors: Scope,
        page: Annotated[Paging, Depends(paging(service))],
        bbox: Annotated[Bbox | None, Depends(bbox_param)],
        interval: Annotated[Interval | None, Depends(datetime_param)],
        origin: Annotated[
            str | None,
            Query(
                max_length=128,
                description="seizures only: `local` (this workspace's own) or the name of the "
                "partner administration that sent them",
            ),
        ] = None,
    ) -> Response:
        found = _find(request, collection_id)
        if interval is not None and not found.temporal:
            raise parameter_error("datetime", f"collection '{found.id}' has no time")
        if origin is not None and found.id != "seizures":
            raise parameter_error("origin", f"collection '{found.id}' has no origin")
        query = ItemQuery(bbox, interval, page.limit, page.offset, sectors, origin)
        result = found.items(query)
        links = [
            _link(request.url, "self", GEOJSON, "this page"),
            _link(
                request.url_for("ogc_collection", collection_id=found.id),
                "collection",
                JSON,
                found.title,
            ),
        ]
        if page.offset + len(result.features) < result.matched:
            following = request.url.include_query_params(
                offset=page.offset + page.limit, limit=page.limit
            )
            links.append(_link(following, "next", GEOJSON, "next page"))
        if page.offset > 0:
            preceding = request.url.include_query_params(
                offset=max(page.offset - page.limit, 0), limit=page.limit
            )
            links.append(_link(preceding, "prev", GEOJSON, "previous page"))
        body = {
            "type": "FeatureCollection",
            "features": result.features,
            "numberMatched": result.matched,
            "numberReturned": len(result.features),
            "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "links": links,
        }
        return _geojson(body)

    @router.get(
        "/collections/{collection_id}/items/{feature_id:path}",
        name="ogc_item",
        summary="One item",
        response_class=Response,
        responses=_GEOJSON_RESPONSE,
    )
    def item(request: Request, collection_id: str, feature_id: str, sectors: Scope) -> Response:
        found = _find(request, collection_id)
        feature = found.item(feature_id, sectors)
        if feature is None:
            raise Problem(
                404, f"no item {feature_id!r} in collection '{found.id}'", slug="not-found"
            )
        feature["links"] = [
            _link(request.url, "self", GEOJSON, "this item"),
            _link(
                request.url_for("ogc_collection", collection_id=found.id),
                "collection",
                JSON,
                found.title,
            ),
        ]
        return _geojson(feature)

    return router


def _find(request: Request, collection_id: str) -> Collection:
    found = get_services(request).collections.get(collection_id)
    if found is None:
        raise Problem(404, f"no collection '{collection_id}'", slug="not-found")
    return found


def _describe(request: Request, collection: Collection, sectors: Sectors) -> dict[str, Any]:
    items = request.url_for("ogc_items", collection_id=collection.id)
    description: dict[str, Any] = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link(
                request.url_for("ogc_collection", collection_id=collection.id),
                "self",
                JSON,
                collection.title,
            ),
            _link(items, "items", GEOJSON, f"{collection.title} items"),
        ],
    }
    extent = collection.extent(sectors)
    if extent:
        description["extent"] = extent
    return description


def _link(href: Any, rel: str, media: str, title: str) -> dict[str, str]:
    return {"href": str(href), "rel": rel, "type": media, "title": title}


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type=JSON)


def _geojson(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type=GEOJSON)

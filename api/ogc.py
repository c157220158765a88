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
from geoint.serve.kml import KML_MEDIA_TYPE, SEIZURES, kml_document
from geoint.store.keys import ApiKey

GEOJSON = "application/geo+json"
JSON = "application/json"
SCHEMA_JSON = "application/schema+json"
# items parameters every collection takes; collections add their queryables (and `q`)
ITEM_PARAMETERS = frozenset({"limit", "offset", "bbox", "datetime", "f", "origin"})
FORMATS = ("json", "geojson", "kml")
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
_GEOJSON_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {}}, "description": "GeoJSON"}
}
_ITEMS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {}, KML_MEDIA_TYPE: {}}, "description": "GeoJSON, or KML (f=kml)"}
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
        responses=_ITEMS_RESPONSE,
        description="Besides these parameters, a collection takes its queryables "
        "(`/ogc/collections/{collectionId}/queryables`) as `name=value` (repeated or "
        "comma-separated: any of them) and, when it has queryables, `q` (text); any other "
        "parameter is a 400.",
    )
    def items(
        request: Request,
        collection_id: str,
        sectors: Scope,
        page: Annotated[Paging, Depends(paging(service))],
        bbox: Annotated[Bbox | None, Depends(bbox_param)],
        interval: Annotated[Interval | None, Depends(datetime_param)],
        f: Annotated[str, Query(description="geojson (json) or kml")] = "geojson",
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
        if f not in FORMATS:
            raise parameter_error("f", f"expected one of {', '.join(FORMATS)}, got {f!r}")
        if f == "kml" and found.id != "seizures":
            raise parameter_error("f", f"kml is offered for the seizures, not '{found.id}'")
        if origin is not None and found.id != "seizures":
            raise parameter_error("origin", f"collection '{found.id}' has no origin")
        properties, text = _property_filters(request, found)
        query = ItemQuery(
            bbox, interval, page.limit, page.offset, sectors, origin, properties, text
        )
        result = found.items(query)
        if f == "kml":
            return Response(
                kml_document(_kml_rows(result.features), SEIZURES), media_type=KML_MEDIA_TYPE
            )
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
        "/collections/{collection_id}/queryables",
        name="ogc_queryables",
        summary="Queryables of a collection (JSON Schema)",
        response_class=Response,
        responses={200: {"content": {SCHEMA_JSON: {}}, "description": "JSON Schema"}},
    )
    def queryables(request: Request, collection_id: str, _key: Reader) -> Response:
        found = _find(request, collection_id)
        body = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": str(request.url),
            "type": "object",
            "title": found.title,
            "properties": found.queryables,
            "additionalProperties": False,
        }
        return Response(orjson.dumps(body), media_type=SCHEMA_JSON)

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


def _property_filters(
    request: Request, collection: Collection
) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """The (queryable, value) pairs and the text of an items request; any other parameter is
    a 400 naming it (OGC API – Features /req/core/query-param-unknown)."""
    allowed = ITEM_PARAMETERS | set(collection.queryables)
    if collection.queryables:
        allowed |= {"q"}
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise parameter_error(
            unknown[0],
            f"unknown parameter for '{collection.id}'; expected {', '.join(sorted(allowed))}",
        )
    pairs = tuple(
        (name, value)
        for name, value in request.query_params.multi_items()
        if name in collection.queryables
    )
    text = request.query_params.get("q")
    return pairs, text or None


def _kml_rows(features: list[Any]) -> list[dict[str, Any]]:
    """The rows of point features: their properties with ``lat`` and ``lon``."""
    return [
        {
            **feature["properties"],
            "lon": feature["geometry"]["coordinates"][0],
            "lat": feature["geometry"]["coordinates"][1],
        }
        for feature in features
    ]


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
    if collection.queryables:
        queryables = request.url_for("ogc_queryables", collection_id=collection.id)
        description["links"].append(
            _link(
                queryables,
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                SCHEMA_JSON,
                f"{collection.title} queryables",
            )
        )
        description["links"].append(
            _link(f"{items}?f=kml", "alternate", KML_MEDIA_TYPE, f"{collection.title} as KML")
        )
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

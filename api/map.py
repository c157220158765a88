"""The web map (``/map``), its day's layers (``/api/v1/map/day``), its JS/CSS (``/static/web/``)
and a post's own basemap tiles (``/basemap/{z}/{x}/{y}.{ext}``), all behind the usual auth.

The page is built by `geoint.web.map.build_map` from the service's region, the day's layers by
`geoint.web.map.day_layers` from the rows `geoint.serve.map_data.map_data` reads from its
workspace (never by calling this server over HTTP); the page's assets are served from
``web/static/`` rather than inlined, so the page stays light. Every reader may open it: a unit
key's map holds only what lies in its sectors (the query layer filters every layer by the key's
scope, the tiles and the cell detail are scoped by the API).
The language is ``?lang=`` or the browser's ``Accept-Language`` (`geoint.web.i18n`). The served
page draws the risk from ``/tiles``, links cells to ``/api/v1/cells/{hex}``, lets a reader
acknowledge new alerts (a same-origin ``fetch`` carrying the SameSite=Strict session cookie, so
another site cannot forge it) and fetches its day's layers, and another day's without reloading,
from ``/api/v1/map/day`` (``?vehicle=`` adds a vehicle's track).

The page holds no data: it fetches the day in its address from ``/api/v1/map/day``. So it is
built once per sector scope, language and asset URL and kept in a `BytesLRU`
(``map_cache_mib``) whatever the data does. The day's layers are kept in the same LRU, keyed by
the day asked (None: the default day, which only moves with the data), the scope, the vehicle,
the language and `map_data_version` of the workspace (cell tables, events, alerts' latest
change, seizures, committed ingests), read *before* building so a change during a build is
never cached under the new version. Neither holds a token or user name, so callers of the same
scope share one copy.
"""

import html
from collections.abc import Callable
from datetime import date as Date
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from geoint.api.auth import authenticated, sector_scope
from geoint.api.compression import respond
from geoint.api.errors import Problem
from geoint.api.settings import ServiceSettings
from geoint.api.state import Services, request_services
from geoint.serve.basemap import FORMATS
from geoint.serve.caches import BytesLRU
from geoint.serve.map_data import map_data, map_data_version
from geoint.store.keys import ApiKey
from geoint.web.i18n import LANGUAGES, negotiate
from geoint.web.map import STATIC, build_map, day_layers

HTML = "text/html; charset=utf-8"
JSON = "application/json"
API_PREFIX = "/api/v1"  # where the alert and cell routes live (same origin as the map)


def map_router(service: ServiceSettings) -> APIRouter:
    """``GET /map``, ``GET /api/v1/map/day``, ``GET /static/web/{path}``, ``GET /basemap/...``."""
    router = APIRouter(tags=["map"])
    pages = BytesLRU(service.map_cache_mib * 2**20)
    Scope = Annotated[frozenset[str] | None, Depends(sector_scope)]
    Key = Annotated[ApiKey, Depends(authenticated)]
    State = Annotated[Services, Depends(request_services)]
    DateQuery = Annotated[
        Date | None, Query(description="UTC day shown (default: the latest complete day)")
    ]
    VehicleQuery = Annotated[
        str | None, Query(max_length=128, description="a vehicle whose pings of the day are drawn")
    ]
    LangQuery = Annotated[
        str | None,
        Query(pattern="^[a-z]{2}$", description=f"language: {', '.join(LANGUAGES)} "
              "(default: the browser's Accept-Language)"),
    ]  # fmt: skip

    async def cached(
        request: Request, services: Services, key: tuple, build: Callable[[], bytes], media: str
    ) -> Response:
        """The body kept under `key`, else `build()`'s, kept under it."""

        def compute() -> bytes:
            body = build()
            pages.put(key, body)
            return body

        # a build takes up to a second: the page builders, not the heatmaps' compute thread
        body = pages.get(key)[1]
        return await respond(request, body, compute, media, services.gzip, services.pages)

    @router.get("/map", response_class=HTMLResponse, summary="The web map (Folium, offline)")
    async def web_map(
        request: Request,
        sectors: Scope,
        services: State,
        date: DateQuery = None,
        vehicle: VehicleQuery = None,
        lang: LangQuery = None,
        day: Annotated[
            Date | None,
            Query(description="UTC day shown, as the page keeps it in its address (= `date`)"),
        ] = None,
    ) -> Response:
        """The page fetches the day in its address from ``/api/v1/map/day``: it holds nothing
        that changes with the data, so one copy per scope and language serves every day
        (`date`, `day` and `vehicle` are only checked here: a bad one is a 400)."""
        language = negotiate(lang, request.headers.get("accept-language"))
        static_url = request.url_for("web_static", path="").path

        def build() -> bytes:
            m = build_map(
                services.region, None, sectors=sectors, static_url=static_url,
                api_url=API_PREFIX, lang=language, local_basemap=_local_basemap(services),
                weights=services.settings.cells.risk_weights,
            )  # fmt: skip
            return m.get_root().render().encode()

        key = ("page", sectors, language, static_url)
        response = await cached(request, services, key, build, HTML)
        response.headers["Content-Language"] = language
        response.headers["Vary"] = "Accept-Language, Accept-Encoding"
        return response

    @router.get(f"{API_PREFIX}/map/day", summary="A day's map layers (what /map replaces)")
    async def map_day(
        request: Request,
        sectors: Scope,
        services: State,
        date: DateQuery = None,
        vehicle: VehicleQuery = None,
        lang: LangQuery = None,
    ) -> Response:
        """The header and layers of a day as GeoJSON with escaped popups, scoped like ``/map``
        (risk excluded: the map reads it from ``/tiles``)."""
        language = negotiate(lang, request.headers.get("accept-language"))
        # read before the build: a change during it is never kept under the new version
        version = await anyio.to_thread.run_sync(
            map_data_version, services.workspace, services.alerts, vehicle
        )

        def build() -> bytes:
            import orjson

            data = map_data(
                services.workspace, date, vehicle, services.alerts, sectors=sectors,
                ground=services.index,
                complete_margin_s=services.settings.map.complete_day_margin_s,
            )  # fmt: skip
            layers = day_layers(services.region, data, API_PREFIX, language,
                                services.settings.cells.risk_weights)  # fmt: skip
            return orjson.dumps(layers)

        key = ("day", date, sectors, vehicle, language, version)
        return await cached(request, services, key, build, JSON)

    @router.get("/static/web/{path:path}", name="web_static", include_in_schema=False)
    def web_static(path: str, _key: Key) -> FileResponse:
        target = (STATIC / path).resolve()
        if not target.is_relative_to(STATIC) or not target.is_file():
            raise Problem(404, f"no map asset {path!r}", slug="not-found")
        return FileResponse(target)

    @router.get("/basemap/{z}/{x}/{y}.{ext}", summary="A tile of the post's own basemap")
    def basemap_tile(
        _key: Key,
        services: State,
        z: Annotated[int, Path(ge=0, le=24)],
        x: Annotated[int, Path(ge=0)],
        y: Annotated[int, Path(ge=0)],
        ext: str,
    ) -> Response:
        """A tile of ``geoint serve --basemap FILE`` (204 where the file has none)."""
        source = services.basemap
        if source is None:
            raise Problem(404, "this server has no basemap (geoint serve --basemap FILE)",
                          slug="not-found")  # fmt: skip
        if ext != source.info.format:
            raise Problem(404, f"the basemap holds {source.info.format} tiles, not {ext!r}",
                          slug="not-found")  # fmt: skip
        data = source.tile(z, x, y)
        if data is None:
            return Response(status_code=204)
        encoding = source.encoding(data)
        headers = {"Cache-Control": "private, max-age=3600"}
        if encoding:
            headers["Content-Encoding"] = encoding
        return Response(data, media_type=FORMATS[ext], headers=headers)

    return router


def _local_basemap(services: Services) -> dict[str, object] | None:
    """The base-layer spec of the post's basemap for the page (None without one)."""
    if services.basemap is None:
        return None
    info = services.basemap.info
    return {
        "url": f"/basemap/{{z}}/{{x}}/{{y}}.{info.format}",
        "format": info.format,
        "name": html.escape(info.name),  # the layer switcher shows names as HTML
        "maxzoom": info.max_zoom,
        "attribution": info.attribution,
    }

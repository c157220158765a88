"""The web map (``/map``) and its JS/CSS (``/static/web/...``), both behind the usual auth.

The page is built by `geoint.web.map.build_map` from the service's region and the rows
`geoint.serve.map_data.map_data` reads from its workspace (never by calling this server over
HTTP); its assets are served from ``web/static/`` rather than inlined,
so the page stays light. A unit key is refused: the map shows every sector. The served page
links cells to ``/api/v1/cells/{hex}``, lets a reader acknowledge new alerts (a same-origin
``fetch`` carrying the SameSite=Strict session cookie, so another site cannot forge it), offers
a date selector (``?date=``) and draws a vehicle's track (``?vehicle=``).

Building the page takes about a second on a 10 M-ping workspace, so its bytes are kept in a
`BytesLRU` (``map_cache_mib``) keyed by everything the page depends on: the day asked (None:
the latest analysed, which only moves with the data), the caller's sector scope (a unit key is
refused before the cache is consulted; its scope would still keep its page apart), the vehicle,
the asset URL and `map_data_version` of the workspace (cell tables, events, alerts' latest change,
seizures, committed ingests), read *before* building so a change during a build is never cached
under the new version. Nothing in the page depends on the session otherwise: every role that may
open the map may also acknowledge (the button shows for each new alert, the API checks the
key), and the page holds no token or user name, so callers of the same scope share one copy.
Concurrent first requests for one page each build it (no lock: a build blocks no other page).
"""

from datetime import date as Date
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from geoint.api.auth import authenticated, reader, sector_scope
from geoint.api.compression import respond
from geoint.api.errors import Problem
from geoint.api.settings import ServiceSettings
from geoint.api.state import Services, get_services
from geoint.serve.caches import BytesLRU
from geoint.serve.map_data import map_data, map_data_version
from geoint.store.keys import ApiKey
from geoint.web.map import STATIC, build_map

HTML = "text/html; charset=utf-8"
API_PREFIX = "/api/v1"  # where the alert and cell routes live (same origin as the map)


def map_router(service: ServiceSettings) -> APIRouter:
    """``GET /map`` and ``GET /static/web/{path}``."""
    router = APIRouter(tags=["map"])
    pages = BytesLRU(service.map_cache_mib * 2**20)
    Reader = Annotated[ApiKey, Depends(reader)]
    Scope = Annotated[frozenset[str] | None, Depends(sector_scope)]
    Key = Annotated[ApiKey, Depends(authenticated)]
    State = Annotated[Services, Depends(get_services)]

    @router.get("/map", response_class=HTMLResponse, summary="The web map (Folium, offline)")
    async def web_map(
        request: Request,
        key: Reader,
        sectors: Scope,
        services: State,
        date: Annotated[
            Date | None, Query(description="UTC day shown (default: the latest analysed)")
        ] = None,
        vehicle: Annotated[
            str | None,
            Query(max_length=128, description="a vehicle whose pings of the day are drawn"),
        ] = None,
    ) -> Response:
        if key.role == "unit":
            raise Problem(403, "a unit key may not open the map: it shows every sector",
                          slug="forbidden", role=key.role)  # fmt: skip
        static_url = request.url_for("web_static", path="").path
        version = await anyio.to_thread.run_sync(
            map_data_version, services.workspace, services.alerts, vehicle
        )
        cache_key = (date, sectors, vehicle, static_url, version)

        def build() -> bytes:
            data = map_data(services.workspace, date, vehicle, services.alerts)
            m = build_map(services.region, data, static_url=static_url, api_url=API_PREFIX)
            page = m.get_root().render().encode()
            pages.put(cache_key, page)
            return page

        # a build takes up to a second: the general thread pool, not the heatmaps' compute thread
        builders = anyio.to_thread.current_default_thread_limiter()
        cached = pages.get(cache_key)[1]
        return await respond(request, cached, build, HTML, services.gzip, builders)

    @router.get("/static/web/{path:path}", name="web_static", include_in_schema=False)
    def web_static(path: str, _key: Key) -> FileResponse:
        target = (STATIC / path).resolve()
        if not target.is_relative_to(STATIC) or not target.is_file():
            raise Problem(404, f"no map asset {path!r}", slug="not-found")
        return FileResponse(target)

    return router

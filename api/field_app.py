"""The field app's page and inbox: ``/field/`` (the page; ``/field`` redirects to it),
``/field/sw.js`` (its service worker, whose scope ``/field/`` must hold the page),
``/field/basemap.json`` (its offline basemap) and ``/api/v1/inbox`` (the caller's open alerts in
words), all behind the usual auth.

The page is a shell in the caller's language (``?lang=`` or ``Accept-Language``); the app draws
it from the API with same-origin ``fetch`` calls carrying the session cookie, so every state
change passes the cross-site guard (`geoint.api.guard`). A signed-out browser is sent to
``/login?next=/field/``. See docs/field.md.
"""

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from geoint.api.alerts import safe_json_response
from geoint.api.auth import authenticated, sector_scope
from geoint.api.settings import ServiceSettings
from geoint.api.state import Services, request_services
from geoint.serve.map_data import open_alerts
from geoint.store.keys import ApiKey
from geoint.web.basemap import basemap
from geoint.web.field import field_page, inbox_entries, region_view, service_worker
from geoint.web.i18n import LANGUAGES, negotiate

LangQuery = Annotated[
    str | None,
    Query(pattern="^[a-z]{2}$", description=f"language: {', '.join(LANGUAGES)} "
          "(default: the browser's Accept-Language)"),
]  # fmt: skip


def field_app_router(service: ServiceSettings) -> APIRouter:
    """``GET /field/``, ``/field/sw.js``, ``/field/basemap.json`` and ``/api/v1/inbox``."""
    router = APIRouter(tags=["field app"])
    Key = Annotated[ApiKey, Depends(authenticated)]
    Scope = Annotated[frozenset[str] | None, Depends(sector_scope)]
    State = Annotated[Services, Depends(request_services)]

    @router.get("/field", include_in_schema=False)
    def field_root(request: Request, _key: Key) -> RedirectResponse:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/field/{query}", status_code=307)

    @router.get("/field/", response_class=HTMLResponse, summary="The field app (offline-first)")
    def field(request: Request, _scope: Scope, services: State, lang: LangQuery = None) -> Response:
        language = negotiate(lang, request.headers.get("accept-language"))
        urls = {
            "serviceWorker": "/field/sw.js",
            "scope": "/field/",
            "basemap": "/field/basemap.json",
            "inbox": "/api/v1/inbox",
            "api": "/api/v1",
            "login": "/login?next=/field/",
        }
        static_url = request.url_for("web_static", path="").path
        region = services.region
        view = views.setdefault(str(region.path), region_view(region))
        page = field_page(service.title, language, static_url, urls, view)
        headers = {"Content-Language": language, "Vary": "Accept-Language"}
        return HTMLResponse(page, headers=headers)

    worker = service_worker()  # the app's files are read once, at start
    views: dict[str, list[list[float]]] = {}  # the region's box, read once per region

    @router.get("/field/sw.js", include_in_schema=False)
    def field_worker(_key: Key) -> Response:
        # no-cache: the browser checks for a new worker on every visit (it is small)
        headers = {"Cache-Control": "no-cache"}
        return Response(worker, media_type="text/javascript", headers=headers)

    @router.get("/field/basemap.json", summary="The field app's offline basemap (GeoJSON)")
    def field_basemap(_key: Key, services: State) -> Response:
        return safe_json_response(basemap(services.region).to_json())

    @router.get("/api/v1/inbox", summary="The caller's open alerts in words, newest first")
    async def inbox(
        request: Request, sectors: Scope, services: State, lang: LangQuery = None
    ) -> Response:
        """Open alerts of the caller's sectors (a unit's own; all for other readers), newest
        first, at most ``inbox_limit``, each with its reason in words in the caller's language."""
        language = negotiate(lang, request.headers.get("accept-language"))
        found = await anyio.to_thread.run_sync(
            open_alerts, services.workspace, services.alerts, sectors, service.inbox_limit
        )
        return safe_json_response({"alerts": inbox_entries(found, language)})

    return router

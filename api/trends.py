"""The seizure trends page (``/trends``): a shell whose script reads ``/api/v1/seizures/...``
and ``/api/v1/quality`` with the browser's session, so a unit key sees its sectors' seizures.

The shell depends on the region alone (its border), which does not change while the server
runs: it is built once per asset address, on first request.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from geoint.api.auth import reader
from geoint.api.state import get_services
from geoint.store.keys import ApiKey
from geoint.web.trends import build_trends_page

API_PREFIX = "/api/v1"


def trends_router() -> APIRouter:
    """``GET /trends``."""
    router = APIRouter(tags=["seizures"])
    Reader = Annotated[ApiKey, Depends(reader)]
    pages: dict[tuple[int, str], str] = {}

    @router.get("/trends", response_class=HTMLResponse, summary="Seizure trends page (offline)")
    def trends_page(request: Request, _key: Reader) -> HTMLResponse:
        region = get_services(request).region
        static_url = request.url_for("web_static", path="").path
        key = (id(region), static_url)
        if key not in pages:
            map_url = request.url_for("web_map").path
            pages[key] = build_trends_page(region, static_url, API_PREFIX, map_url)
        return HTMLResponse(pages[key], headers={"X-Content-Type-Options": "nosniff"})

    return router

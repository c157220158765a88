"""The FastAPI application: `create_app` composes the routers over state opened once.

Everything but ``/health`` and ``/login`` needs a key (Bearer) or a browser session, the API
documentation included. Swagger UI's files come from the ``fastapi-offline`` package, so
``/docs`` works without internet. Run with `serve`: one process, or several worker processes
on one PostgreSQL database.
"""

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.telemetry import TelemetryConfig

from geoint import __version__
from geoint.alerts.store import AlertStore
from geoint.api.alerts import alerts_router
from geoint.api.audit import AuditMiddleware, audit_router
from geoint.api.auth import authenticated
from geoint.api.background import BatchAnalysis, CellRefresh, GroupCommit
from geoint.api.cells import cells_router
from geoint.api.child_work import close_child_workspaces, start_store_process
from geoint.api.collections import build_collections
from geoint.api.compression import GzipVariants
from geoint.api.errors import Problem, install_error_handlers
from geoint.api.field import field_router
from geoint.api.field_app import field_app_router
from geoint.api.groups import groups_router
from geoint.api.guard import RequestGuard
from geoint.api.heatmap import heatmap_router
from geoint.api.ingest import catch_up, ingest_router, post_groups
from geoint.api.map import map_router
from geoint.api.ogc import ogc_router
from geoint.api.operations import operations_router
from geoint.api.osmand import DevicePositions, osmand_router
from geoint.api.partner import partner_router
from geoint.api.patrols import patrol_router
from geoint.api.read_threads import ReadThreads
from geoint.api.seizures import declarations_router, quality_router, seizures_router
from geoint.api.session import session_router
from geoint.api.settings import ApiSettings
from geoint.api.state import Services
from geoint.api.trends import trends_router
from geoint.intel.crossings import SeizureLocator
from geoint.layers import Region, RegionIndex
from geoint.layers.gazetteer import build_gazetteer
from geoint.serve.basemap import TileSource
from geoint.serve.cell_views import CellStore
from geoint.serve.heatmap import Heatmaps
from geoint.store.groups import GroupStore
from geoint.store.keys import ApiKey, KeyStore
from geoint.store.workspace import Workspace
from geoint.vocabularies import region_vocabularies

SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")
log = logging.getLogger("geoint.api")


def open_services(settings: ApiSettings) -> Services:
    """Open the workspace, key store and region, and build the indexes and collections."""
    workspace = Workspace(settings.workspace, settings.database_url)
    region = Region.load(settings.region)
    index = RegionIndex(region)
    alerts = AlertStore(workspace)
    vocabularies = region_vocabularies(settings.region)
    collections = build_collections(
        region, workspace, index, alerts, SeizureLocator(index, settings.intel.crossing_radius_m)
    )
    collections["seizures"].vocabularies = vocabularies  # type: ignore[attr-defined]
    keys = KeyStore(workspace)
    return Services(
        settings=settings,
        workspace=workspace,
        keys=keys,
        alerts=alerts,
        region=region,
        index=index,
        gazetteer=build_gazetteer(region),
        collections=collections,
        heatmaps=Heatmaps(
            CellStore(workspace.root),
            cache_bytes=settings.api.heatmap_cache_mib * 2**20,
            tile_cache_bytes=settings.api.tile_cache_mib * 2**20,
            max_tile_features=settings.api.tile_max_features,
        ),
        compute=ReadThreads("geoint-compute", settings.api.compute_threads, settings.api.read_nice),
        pages=ReadThreads("geoint-pages", settings.api.page_threads, settings.api.read_nice),
        cell_refresh=CellRefresh(settings.alerts.incremental_cells_interval_s),
        batch_analysis=BatchAnalysis(settings.alerts.incremental_events_interval_s),
        posts=post_groups(workspace, settings),
        audit_log=GroupCommit(keys.record_many),
        groups=GroupStore(workspace),
        gzip=GzipVariants(settings.api.gzip_cache_mib * 2**20),
        basemap=TileSource(settings.basemap) if settings.basemap else None,
        vocabularies=vocabularies,
    )


def _telemetry(enabled: bool) -> TelemetryConfig:
    """FastAPI's native OpenTelemetry: all or nothing (`ServiceSettings.opentelemetry`)."""
    return {"tracing": enabled, "metrics": enabled, "logs": enabled}


def create_app(settings: ApiSettings) -> FastAPI:
    """The service for one workspace and region."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Services]]:
        services = open_services(settings)
        try:
            # batches a stopped server stored but never analysed, while requests are served
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_catch_up, services)
                if settings.api.child_processes:  # ready means ready to store posts at once
                    await _start_store_process(settings)
                yield {"services": services}
        finally:
            services.posts.close()
            if settings.api.child_processes:
                close_child_workspaces(settings)
            services.audit_log.close()
            services.compute.close()
            services.pages.close()
            services.workspace.close()
            if services.basemap is not None:
                services.basemap.close()

    app = FastAPI(
        title=settings.api.title,
        version=__version__,
        description="Border GEOINT: ingest, OGC API – Features over layers, seizures and "
        "events. Authenticate with `Authorization: Bearer <API key>` (`geoint keys create`) "
        "or sign in at `/login`.",
        lifespan=lifespan,
        telemetry=_telemetry(settings.api.opentelemetry),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(RequestGuard)  # before any route reads a body
    # device positions past the routing, through a guard and an audit of their own; not with
    # OpenTelemetry on, whose spans are named by the route matched (the full path then)
    if not settings.api.opentelemetry:
        app.add_middleware(DevicePositions, handlers=app.exception_handlers)
    app.include_router(osmand_router())  # first: routes are matched in order, devices call most
    app.include_router(session_router(settings.api))
    app.include_router(ingest_router(settings.api))
    app.include_router(ogc_router(settings.api))
    app.include_router(audit_router(settings.api))
    app.include_router(alerts_router(settings.api))
    app.include_router(heatmap_router(settings.api))
    app.include_router(cells_router(settings.api))
    app.include_router(map_router(settings.api))
    app.include_router(patrol_router())
    app.include_router(groups_router(settings.api))
    app.include_router(operations_router(settings.api))
    app.include_router(partner_router(settings.api))
    app.include_router(seizures_router(settings.api))
    app.include_router(field_router(settings.api))  # after: /seizures/{id} is its
    app.include_router(trends_router())
    app.include_router(quality_router())
    app.include_router(declarations_router(settings.api))
    app.include_router(field_app_router(settings.api))
    _add_service_routes(app)
    return app


async def _start_store_process(settings: ApiSettings) -> None:
    try:
        await anyio.to_thread.run_sync(start_store_process, settings)
    except Exception:  # the first post starts it again, and answers 503 if it cannot
        log.exception("starting the process storing posts failed")


async def _catch_up(services: Services) -> None:
    try:
        await anyio.to_thread.run_sync(catch_up, services)
    except Exception:  # the service stays up; `geoint analyze` or the next start retries
        log.exception("catching up with unanalysed ping batches failed")


def _add_service_routes(app: FastAPI) -> None:
    """``/health`` (public), ``/openapi.json`` and ``/docs`` (with offline assets)."""
    swagger = Path(str(files("fastapi_offline") / "static"))
    Key = Annotated[ApiKey, Depends(authenticated)]

    @app.get("/health", tags=["service"], summary="Liveness (public)")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/openapi.json", name="openapi", include_in_schema=False)
    def openapi(_key: Key) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", name="docs", include_in_schema=False)
    def docs(request: Request, _key: Key) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=request.url_for("openapi").path,
            title=f"{app.title} API",
            swagger_js_url=request.url_for("docs_asset", name=SWAGGER_FILES[0]).path,
            swagger_css_url=request.url_for("docs_asset", name=SWAGGER_FILES[1]).path,
            swagger_favicon_url=request.url_for("docs_asset", name=SWAGGER_FILES[2]).path,
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/assets/{name}", name="docs_asset", include_in_schema=False)
    def docs_asset(name: str, _key: Key) -> FileResponse:
        if name not in SWAGGER_FILES:
            raise Problem(404, f"no documentation asset {name!r}", slug="not-found")
        return FileResponse(swagger / name)


class RedactKeys(logging.Filter):
    """Hides ``key=`` query values (device keys) in uvicorn's access log."""

    _KEY = re.compile(r"([?&]key=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = self._KEY.sub(r"\1[redacted]", str(args[2]))
            record.args = tuple(args)
        return True


def serve(settings: ApiSettings, host: str, port: int) -> None:
    """Run the service with uvicorn in this process until interrupted."""
    import uvicorn

    config = uvicorn.Config(create_app(settings), host=host, port=port, proxy_headers=False)
    logging.getLogger("uvicorn.access").addFilter(RedactKeys())  # after Config set up logging
    uvicorn.Server(config).run()


def serve_workers(factory: str, host: str, port: int, workers: int) -> None:
    """Run the service in `workers` processes sharing one listening socket until interrupted;
    each builds its app by calling `factory` (``module:function``, which should add
    `RedactKeys` to the access log). What they coordinate, and how: docs/deploy.md."""
    import uvicorn

    uvicorn.run(factory, factory=True, host=host, port=port, workers=workers, proxy_headers=False)

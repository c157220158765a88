"""`geoint serve`, `geoint map` and `geoint demo`: the API, the map page and the sample run."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from geoint.cli.common import (
    JsonOption,
    RequiredRegionOption,
    WorkspaceOption,
    emit,
    err,
    load_region,
    open_workspace,
    out,
    print_analysis,
    print_evaluation,
    print_report,
    progress,
)
from geoint.errors import GeointError
from geoint.settings import GeointSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from geoint.store.workspace import Workspace

app = typer.Typer()
WORKER_SETTINGS = "GEOINT_SERVE_SETTINGS_JSON"  # `serve --workers N` hands its settings over


@app.command(
    "serve",
    epilog="Example: geoint serve --region ws/region --workspace ws --port 8000 "
    "--basemap post.mbtiles --workers 1",
)
def serve_command(
    region: RequiredRegionOption,
    workspace: WorkspaceOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
    basemap: Annotated[
        Path | None,
        typer.Option("--basemap", help="a post's MBTiles or PMTiles file, offered on the map"),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="API processes sharing the port (more than 1 needs GEOINT_DATABASE_URL)"
        ),
    ] = 1,
) -> None:
    """Serve the API (ingest, OGC API – Features, docs) and the map for a workspace and region."""
    from geoint.api.app import serve
    from geoint.api.settings import ApiSettings
    from geoint.serve.basemap import TileSource
    from geoint.store.workspace import Workspace

    overrides: dict[str, Any] = {"region": region}
    if basemap is not None:
        TileSource(basemap).close()  # a bad file is one line here, not a failed startup
        overrides["basemap"] = basemap
    if workspace is not None:
        overrides["workspace"] = workspace
    settings = ApiSettings(**overrides)
    store = Workspace(settings.workspace, settings.database_url)  # no driver, unreachable: here
    dialect = store.engine.dialect.name
    store.close()
    if workers > 1 and dialect == "sqlite":
        raise GeointError(
            f"--workers {workers}: several API processes need a PostgreSQL database "
            "(GEOINT_DATABASE_URL=postgresql+psycopg://…); SQLite lets one process write at "
            "a time, so workers would queue behind each other's writes"
        )
    if workers == 1:
        serve(settings, host, port)
        return
    from geoint.api.app import serve_workers

    os.environ[WORKER_SETTINGS] = settings.model_dump_json()  # read back by `worker_app`
    serve_workers(f"{__name__}:worker_app", host, port, workers)


def worker_app() -> FastAPI:
    """The app of one worker process of ``geoint serve --workers N`` (settings from its
    parent, which resolved the options and the environment once)."""
    from geoint.api.app import RedactKeys, create_app
    from geoint.api.settings import ApiSettings

    logging.getLogger("uvicorn.access").addFilter(RedactKeys())
    return create_app(ApiSettings.model_validate_json(os.environ[WORKER_SETTINGS]))


@app.command(
    "map",
    epilog="Example: geoint map --region ws/region --workspace ws --out map.html --date 2026-03-03 "
    "--lang fr",
)
def map_command(
    region: RequiredRegionOption,
    out_file: Annotated[Path, typer.Option("--out", help="HTML file to write")],
    workspace: WorkspaceOption = None,
    day: Annotated[
        str | None,
        typer.Option("--date", help="UTC day YYYY-MM-DD (default: the latest complete day)"),
    ] = None,
    patrol: Annotated[
        Path | None,
        typer.Option(
            "--patrol", help="patrol plan as GeoJSON or GPX (geoint patrol plan --geojson/--gpx)"
        ),
    ] = None,
    vehicle: Annotated[
        str | None, typer.Option("--vehicle", help="draw this vehicle's track of the day")
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="language of the map's labels: en or fr")
    ] = "en",
    as_json: JsonOption = False,
) -> None:
    """Write the map as one self-contained HTML file (every asset inlined; works offline)."""
    from datetime import date

    from geoint.serve.map_data import map_data
    from geoint.web.i18n import LANGUAGES
    from geoint.web.map import build_map, to_html

    if lang not in LANGUAGES:
        raise GeointError(f"--lang: expected one of {', '.join(LANGUAGES)}, got {lang!r}")

    try:
        when = date.fromisoformat(day) if day else None
    except ValueError:
        raise GeointError(f"--date: expected YYYY-MM-DD, got {day!r}") from None
    settings, store = open_workspace(workspace)
    plan = None
    if patrol is not None:
        from geoint.patrol.plan import read_plan_file

        plan = read_plan_file(patrol)
    data = map_data(store, when, vehicle, complete_margin_s=settings.map.complete_day_margin_s)
    m = build_map(load_region(region), data, patrol=plan, lang=lang,
                  weights=settings.cells.risk_weights)  # fmt: skip
    page = to_html(m)
    out_file.write_text(page, encoding="utf-8")
    payload = {"file": str(out_file), "bytes": len(page.encode())}
    emit(as_json, payload, lambda: out.print(f"map written to {out_file}"))


@app.command(
    "demo",
    epilog="Example: geoint demo --workspace ws --serve --port 8000",
)
def demo_command(
    workspace: WorkspaceOption = None,
    samples: Annotated[Path | None, typer.Option(help="sample data folder")] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="then serve the API and the map on 127.0.0.1")
    ] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="port for --serve")] = 8000,
    as_json: JsonOption = False,
) -> None:
    """Ingest the sample scenario into a workspace, analyse it and score it against its truth.

    With ``--serve`` it then creates an analyst key (unless a live one exists), prints the map's
    URL and how to sign in, and serves the API and the map on 127.0.0.1 until interrupted.
    """
    import shutil

    from geoint.cli.demo import SAMPLES, SCENARIO, ingest_scenario
    from geoint.layers import RegionIndex
    from geoint.layers.gazetteer import build_gazetteer
    from geoint.pipeline.analyze import analyze
    from geoint.sim.evaluate import evaluate_workspace

    settings, store = open_workspace(workspace)
    log = None if as_json else err.print
    scenario = (samples or SAMPLES) / SCENARIO
    region_dir = settings.workspace / "region"
    if log:
        log(f"copying the sample region (Benin–Nigeria with generated layers) to {region_dir}")
    shutil.copytree(scenario / "region", region_dir, dirs_exist_ok=True)
    region = load_region(region_dir)
    reports = ingest_scenario(store, settings, build_gazetteer(region), scenario, log)
    with progress(as_json) as step:
        analysis = analyze(store, RegionIndex(region), settings, progress=step)
    evaluation = evaluate_workspace(store, scenario / "truth.csv", settings=settings.evaluation)
    payload = {
        "region": str(region_dir),
        "workspace": str(settings.workspace),
        "reports": [r.to_dict() for r in reports],
        "analysis": analysis,
        "evaluation": evaluation,
    }
    if as_json:
        emit(True, payload, lambda: None)
    else:
        for report in reports:
            print_report(report)
        print_analysis(analysis)
        print_evaluation(evaluation)
        out.print(f"region: {region_dir}\nworkspace: {settings.workspace}")
    if serve:
        _serve_demo(settings, store, region_dir, port)


def _serve_demo(settings: GeointSettings, store: Workspace, region: Path, port: int) -> None:
    """Make sure an analyst key exists, say how to sign in, and serve on 127.0.0.1."""
    from geoint.api.app import serve
    from geoint.api.settings import ApiSettings
    from geoint.store.keys import KeyStore

    keys = KeyStore(store)
    live = [k for k in keys.all_keys() if k.role == "analyst" and k.revoked_at is None]
    if live:
        key = (
            f"the analyst key {live[0].id} printed when it was created, or a new one from\n"
            f"  geoint keys create --role analyst --workspace {settings.workspace}"
        )
    else:
        key = f"the analyst key (shown only this once):\n  {keys.create('analyst', [])[1]}"
    # the server opens the workspace itself
    store.engine.dispose()
    url = f"http://127.0.0.1:{port}"
    err.print(
        f"serving the API and the map (Ctrl-C stops)\n  map: {url}/map\n"
        f"sign in at {url}/login with {key}",
        soft_wrap=True,
    )
    serve(
        ApiSettings(
            workspace=settings.workspace, region=region, database_url=settings.database_url
        ),
        "127.0.0.1",
        port,
    )

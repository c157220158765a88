"""The ``geoint`` command: the composition root that builds settings and wires the stages."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from geoint.errors import GeointError
from geoint.schema import IngestReport
from geoint.settings import GeointSettings

app = typer.Typer(
    help="Border GEOINT platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
region_app = typer.Typer(help="Region layers: derive, extend, inspect.", no_args_is_help=True)
ingest_app = typer.Typer(
    help="Ingest pings, seizures, watch lists, declarations.", no_args_is_help=True
)
bench_app = typer.Typer(
    help="Benchmarks that print a figure and its baseline.", no_args_is_help=True
)
quarantine_app = typer.Typer(
    help="Rows refused at ingest, with their reasons.", no_args_is_help=True
)
app.add_typer(region_app, name="region")
app.add_typer(ingest_app, name="ingest")
app.add_typer(bench_app, name="bench")
keys_app = typer.Typer(help="API keys for the service: create, list, revoke.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(keys_app, name="keys")
events_app = typer.Typer(help="Track events stored by 'geoint analyze'.", no_args_is_help=True)
app.add_typer(events_app, name="events")
cells_app = typer.Typer(help="Cell analytics stored by 'geoint analyze'.", no_args_is_help=True)
app.add_typer(cells_app, name="cells")
patrol_app = typer.Typer(help="Patrol plans: routes over cell risk, GPX.", no_args_is_help=True)
app.add_typer(patrol_app, name="patrol")
alerts_app = typer.Typer(
    help="Alerts raised by 'geoint analyze': list, show, ack, resolve, dismiss, label.",
    no_args_is_help=True,
)
app.add_typer(alerts_app, name="alerts")

err = Console(stderr=True)
out = Console()

WorkspaceOption = Annotated[Path | None, typer.Option("--workspace", "-w", help="workspace folder")]
RegionOption = Annotated[Path | None, typer.Option("--region", help="region folder (manifest)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")]
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="replace an existing region in the folder")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="no progress output")]
FormatOption = Annotated[
    str | None, typer.Option("--format", help="csv, geojson, gpx, parquet, ndjson")
]
MapOption = Annotated[
    list[str] | None,
    typer.Option("--map", help="column mapping CANONICAL=SOURCE, e.g. lat=latitude"),
]


def _column_map(items: list[str] | None) -> dict[str, str]:
    from geoint.ingest.readers import parse_column_map

    try:
        return parse_column_map(items or [])
    except ValueError as exc:
        raise GeointError(f"--map: {exc}") from exc


def _settings(workspace: Path | None) -> GeointSettings:
    settings = GeointSettings()
    if workspace is not None:
        settings = settings.model_copy(update={"workspace": workspace})
    return settings


def _emit(as_json: bool, payload: dict[str, Any], render: Callable[[], None]) -> None:
    if as_json:
        # orjson writes NaN and infinity (no road, no crossing) as null: valid JSON for clients
        sys.stdout.write(orjson.dumps(payload, default=str).decode() + "\n")
    else:
        render()


@contextmanager
def _progress(quiet: bool, total: int | None = None) -> Iterator[Callable[[str], None]]:
    """Yield a callback advancing a Rich progress display on stderr (or doing nothing)."""
    if quiet:
        yield lambda _step: None
        return
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("starting", total=total)
        yield lambda step: progress.update(task, description=step, advance=1)


def _print_report(report: IngestReport) -> None:
    table = Table(title=f"ingest {report.kind}: {Path(report.file).name}", show_header=False)
    table.add_row("rows", f"{report.rows:,}")
    table.add_row("accepted", f"{report.accepted:,}")
    table.add_row("duplicates", f"{report.duplicates:,}")
    table.add_row("quarantined", f"{report.quarantined:,}")
    for reason, count in report.quarantined_by_reason.items():
        table.add_row(f"  {reason}", f"{count:,}")
    if report.kind == "pings":
        table.add_row("flagged GPS spikes", f"{report.flagged_spikes:,}")
    if report.already_ingested:
        table.add_row("note", "this exact file was already ingested; nothing stored again")
    table.add_row("seconds", f"{report.seconds:.2f}")
    out.print(table)


# ---------------------------------------------------------------------------- region
@region_app.command("init")
def region_init(
    directory: Path,
    countries: Annotated[str, typer.Option(help='two countries, e.g. "Benin,Nigeria"')],
    timezone: Annotated[str | None, typer.Option(help="IANA zone; default from the border")] = None,
    crs: Annotated[str | None, typer.Option(help="metric CRS; default the UTM zone")] = None,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Derive a region (border, sides, places, elevation) from the bundled world data."""
    from geoint.layers import init_region

    names = [c.strip() for c in countries.split(",") if c.strip()]
    if len(names) != 2:
        raise GeointError(
            f'--countries: expected two names separated by a comma, got "{countries}"'
        )
    region = init_region(
        directory, (names[0], names[1]), timezone=timezone, crs=crs, overwrite=overwrite
    )
    _emit(as_json, region.summary(), lambda: _print_summary(region.summary()))


@region_app.command("sample")
def region_sample(
    directory: Path, overwrite: OverwriteOption = False, as_json: JsonOption = False
) -> None:
    """Build the Benin–Nigeria sample region (border, sides, places, elevation, rivers, roads)."""
    from geoint.layers import build_sample_region

    region = build_sample_region(directory, overwrite=overwrite)
    _emit(as_json, region.summary(), lambda: _print_summary(region.summary()))


@region_app.command("add-layer")
def region_add_layer(
    directory: Path,
    kind: Annotated[
        str,
        typer.Argument(
            help="roads, crossings, corridors, stop_areas, sectors, places, elevation, rivers"
        ),
    ],
    file: Path,
    as_json: JsonOption = False,
) -> None:
    """Validate a layer file, store it normalised in the region and list it in the manifest."""
    from geoint.layers.region import Region

    region = Region.load(directory)
    region.add_layer(kind, file)
    _emit(as_json, region.summary(), lambda: _print_summary(region.summary()))


@region_app.command("show")
def region_show(directory: Path, as_json: JsonOption = False) -> None:
    """Print a region's manifest and layer sizes."""
    from geoint.layers.region import Region

    summary = Region.load(directory).summary()
    _emit(as_json, summary, lambda: _print_summary(summary))


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"region {summary.get('name', '')}", show_header=False)
    for key, value in summary.items():
        table.add_row(
            str(key),
            json.dumps(value, default=str) if isinstance(value, dict | list) else str(value),
        )
    out.print(table)


@app.command("layers")
def layers_query(
    region: Annotated[Path, typer.Option("--region", help="region folder")],
    points: Annotated[list[str], typer.Argument(help="LAT,LON points to look up")],
    as_json: JsonOption = False,
) -> None:
    """Answer layer questions at points: side, distances, sector, elevation and slope."""
    import numpy as np

    from geoint.layers.queries import RegionIndex
    from geoint.layers.region import Region

    lat, lon = _parse_points(points)
    index = RegionIndex(Region.load(region))
    frame = index.point_context(np.array(lat), np.array(lon))
    rows = frame.to_dicts()
    _emit(as_json, {"points": rows}, lambda: out.print(frame))


def _parse_points(points: list[str]) -> tuple[list[float], list[float]]:
    lat, lon = [], []
    for text in points:
        try:
            a, b = (float(v) for v in text.split(","))
        except ValueError as exc:
            raise GeointError(f"point {text!r}: expected LAT,LON in decimal degrees") from exc
        lat.append(a)
        lon.append(b)
    return lat, lon


# ---------------------------------------------------------------------------- ingest
@ingest_app.command("pings")
def ingest_pings_command(
    file: Path,
    workspace: WorkspaceOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
    mapping: MapOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    analyze: Annotated[
        bool,
        typer.Option(
            "--analyze",
            help="then analyse the batch's vehicles, raise their alerts and update the cell "
            "tables (needs --region)",
        ),
    ] = False,
) -> None:
    """Ingest a ping file (CSV, GeoJSON, GPX, Parquet, NDJSON) into the workspace."""
    from geoint.pipeline.incremental import analyze_batch
    from geoint.pipeline.ingest import ingest_pings
    from geoint.store.workspace import Workspace

    if analyze and region is None:
        raise GeointError("--analyze needs --region")
    settings = _settings(workspace)
    store = Workspace(settings.workspace, settings.database_url)
    with _progress(quiet or as_json) as step:
        report = ingest_pings(
            store, file, settings, fmt=fmt, column_map=_column_map(mapping), progress=step
        )
    payload = report.to_dict()
    if region is not None:
        payload["outside_region"] = _outside_region(store, region, report)
    if analyze and region is not None and report.accepted and not report.already_ingested:
        from geoint.layers.queries import RegionIndex
        from geoint.layers.region import Region

        ground = RegionIndex(Region.load(region))
        payload["analysis"] = analyze_batch(store, ground, settings, int(report.batch_id))
    _emit(as_json, payload, lambda: _print_ping_ingest(report, payload.get("analysis")))


def _print_ping_ingest(report: IngestReport, analysis: dict[str, Any] | None) -> None:
    _print_report(report)
    if analysis:
        alerts = analysis["alerts"]
        out.print(
            f"analysed {analysis['pings']:,} pings of {analysis['vehicles']:,} vehicles: "
            f"{analysis['events']:,} events, {alerts['created']:,} new alerts, "
            f"{alerts['updated']:,} updated ({analysis['seconds']:.2f} s)"
        )
        if "cells" in analysis:
            cells = analysis["cells"]
            out.print(
                f"cells updated: {cells['recomputed']:,} vehicle-days recomputed, "
                f"{cells['cell_days']:,} cell-days, {cells['alerts']['created']:,} new cell "
                f"alerts ({cells['seconds']:.2f} s)"
            )


def _outside_region(store: Any, region: Path, report: IngestReport) -> int:
    """Count the batch's pings that lie outside both sides of the region's border."""
    import polars as pl

    from geoint.layers.queries import RegionIndex
    from geoint.layers.region import Region

    if report.already_ingested or not report.accepted:
        return 0
    index = RegionIndex(Region.load(region))
    pings = (
        store.scan_pings()
        .filter(pl.col("ping_id") >= _first_ping(store, report))
        .select("lat", "lon")
        .collect()
    )
    return int((index.side(pings["lat"].to_numpy(), pings["lon"].to_numpy()) < 0).sum())


def _first_ping(store: Any, report: IngestReport) -> int:
    batch = store.batch(int(report.batch_id))
    return (batch.first_ping_id if batch else None) or 0


def _ingest_records(
    kind: str,
    file: Path,
    workspace: Path | None,
    region: Path | None,
    fmt: str | None,
    mapping: list[str] | None,
    as_json: bool,
) -> None:
    from geoint.layers.gazetteer import build_gazetteer
    from geoint.layers.region import Region
    from geoint.pipeline.ingest import ingest_records
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    store = Workspace(settings.workspace, settings.database_url)
    gazetteer = None
    if kind == "seizures":
        gazetteer = build_gazetteer(Region.load(region) if region else None)
    report = ingest_records(
        store,
        kind,
        file,
        settings,
        gazetteer=gazetteer,
        fmt=fmt,
        column_map=_column_map(mapping),
    )
    _emit(as_json, report.to_dict(), lambda: _print_report(report))


@ingest_app.command("seizures")
def ingest_seizures_command(
    file: Path,
    workspace: WorkspaceOption = None,
    region: RegionOption = None,
    fmt: FormatOption = None,
    mapping: MapOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest CEN-style seizures; place names resolve against the region's and world places."""
    _ingest_records("seizures", file, workspace, region, fmt, mapping, as_json)


@ingest_app.command("watchlist")
def ingest_watchlist_command(
    file: Path,
    workspace: WorkspaceOption = None,
    fmt: FormatOption = None,
    mapping: MapOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest a CTS-style watch list (vehicle_id, reason, expires)."""
    _ingest_records("watchlist", file, workspace, None, fmt, mapping, as_json)


@ingest_app.command("declarations")
def ingest_declarations_command(
    file: Path,
    workspace: WorkspaceOption = None,
    fmt: FormatOption = None,
    mapping: MapOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest transit declarations (vehicle, corridor, start, deadline, destination)."""
    _ingest_records("declarations", file, workspace, None, fmt, mapping, as_json)


@quarantine_app.command("list")
def quarantine_list(
    workspace: WorkspaceOption = None,
    kind: Annotated[
        str | None, typer.Option(help="pings, seizures, watchlist, declarations")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """List quarantined rows with file, row, column, reason and detail."""
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    rows = Workspace(settings.workspace, settings.database_url).quarantined(kind, limit)
    _emit(as_json, {"quarantined": rows.to_dicts()}, lambda: out.print(rows))


@app.command("compact")
def compact_command(
    workspace: WorkspaceOption = None,
    min_parts: Annotated[
        int | None, typer.Option(min=2, help="merge a date's small parts from this many")
    ] = None,
    grace_s: Annotated[
        float | None, typer.Option(min=0, help="delete merged parts' files older than this")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Merge small ping parts (each ingest merges them too) and delete merged files."""
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    store, ingest = Workspace(settings.workspace, settings.database_url), settings.ingest
    with store.writer():
        report = store.compact(
            min_parts or ingest.compact_min_parts,
            ingest.compact_small_bytes,
            ingest.compact_grace_s if grace_s is None else grace_s,
        )
    _emit(as_json, report, lambda: out.print(report))


# ----------------------------------------------------------------------------- bench
@bench_app.command("ingest")
def bench_ingest(
    pings: Annotated[int, typer.Option(help="synthetic pings to generate")] = 10_000_000,
    loop_pings: Annotated[
        int, typer.Option(help="pings for the per-row h3 loop baseline")
    ] = 500_000,
    repeats: Annotated[int, typer.Option(min=1, help="runs; medians are reported")] = 3,
    as_json: JsonOption = False,
) -> None:
    """H3 indexing and Parquet ingest throughput, with the per-row h3 loop as the baseline."""
    from geoint.bench.ingest import run_ingest_benchmark

    result = run_ingest_benchmark(pings, loop_pings, repeats, log=None if as_json else err.print)
    _emit(as_json, result, lambda: _print_summary(result))


@bench_app.command("events")
def bench_events(
    pings: Annotated[
        list[int] | None, typer.Option("--pings", help="sizes (repeatable); default 1 M and 10 M")
    ] = None,
    slice_pings: Annotated[
        int, typer.Option(help="pings for the MovingPandas stop-detection comparison")
    ] = 100_000,
    as_json: JsonOption = False,
) -> None:
    """Event detection time and peak memory; stop detection against MovingPandas."""
    import tempfile

    from geoint.bench.events import run_events_benchmark
    from geoint.layers import RegionIndex, build_sample_region
    from geoint.sim.synthetic_layers import add_synthetic_layers

    with tempfile.TemporaryDirectory(prefix="geoint-bench-") as tmp:
        region = build_sample_region(Path(tmp) / "region")
        add_synthetic_layers(region, seed=0)
        corridors = sorted(set(region.read("corridors")["corridor_id"]))
        result = run_events_benchmark(
            RegionIndex(region),
            corridors,
            tuple(pings or (1_000_000, 10_000_000)),
            slice_pings,
            log=None if as_json else err.print,
        )
    _emit(as_json, result, lambda: _print_summary(result))


@bench_app.command("simulate")
def bench_simulate(
    pings: Annotated[
        list[int] | None, typer.Option("--pings", help="sizes (repeatable); default 1 M and 10 M")
    ] = None,
    days: Annotated[int, typer.Option(help="days of every scenario")] = 7,
    interval: Annotated[int, typer.Option(help="seconds between pings (30-120)")] = 60,
    as_json: JsonOption = False,
) -> None:
    """Scenario generation time and pings per second on the sample region."""
    import tempfile

    from geoint.bench.simulate import run_simulate_benchmark
    from geoint.layers import RegionIndex, build_sample_region
    from geoint.sim.scenery import Geography
    from geoint.sim.synthetic_layers import add_synthetic_layers

    with tempfile.TemporaryDirectory(prefix="geoint-bench-") as tmp:
        region = build_sample_region(Path(tmp) / "region")
        add_synthetic_layers(region, seed=0)
        geography = Geography.of(region)
        result = run_simulate_benchmark(
            RegionIndex(region),
            geography,
            tuple(pings or (1_000_000, 10_000_000)),
            days,
            interval,
            log=None if as_json else err.print,
        )
    _emit(as_json, result, lambda: _print_summary(result))


@bench_app.command("cells")
def bench_cells(
    pings: Annotated[int, typer.Option(help="synthetic pings (84 days)")] = 10_000_000,
    as_json: JsonOption = False,
) -> None:
    """All cell analytics at resolution 8; Gi* on every window against esda on one."""
    import tempfile

    from geoint.bench.cells import run_cells_benchmark
    from geoint.layers import RegionIndex, build_sample_region

    with tempfile.TemporaryDirectory(prefix="geoint-bench-") as tmp:
        ground = RegionIndex(build_sample_region(Path(tmp) / "region"))
        result = run_cells_benchmark(ground, pings, log=None if as_json else err.print)
    _emit(as_json, result, lambda: _print_summary(result))


@bench_app.command("api")
def bench_api(
    pings: Annotated[int, typer.Option(help="synthetic pings (7 days; 10000000 for SPEC §14)")] = (
        1_000_000
    ),
    clients: Annotated[int, typer.Option(min=1, help="concurrent clients")] = 20,
    viewports: Annotated[int, typer.Option(min=1, help="map windows per resolution")] = 50,
    rounds: Annotated[int, typer.Option(min=1, help="repeats of the warm (cached) phase")] = 5,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="keep the workspace here (reused when present)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Heatmap and vector-tile latency of a real server (loopback) under concurrent clients."""
    import os

    from geoint.bench.api import run_api_benchmark

    log = None if as_json else err.print
    result = run_api_benchmark(
        pings, os.environ, clients, viewports, rounds, folder=folder, log=log
    )
    _emit(as_json, result, lambda: out.print_json(data=result))


@bench_app.command("alerts")
def bench_alerts(
    alerts: Annotated[int, typer.Option(min=1, help="alerts stored for the list timing")] = (
        100_000
    ),
    trials: Annotated[int, typer.Option(min=1, help="planted crossings POSTed in turn")] = 100,
    requests: Annotated[int, typer.Option(min=1, help="alert list requests per phase")] = 200,
    clients: Annotated[int, typer.Option(min=1, help="concurrent clients of the list")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Alert list p95 with many alerts stored; POSTed pings → alert on SSE latency (real server)."""
    import os
    import shutil
    import tempfile

    from geoint.bench.alerts import run_alerts_benchmark
    from geoint.layers import Region, RegionIndex, shipped_region_path

    log = None if as_json else err.print
    with tempfile.TemporaryDirectory(prefix="geoint-bench-alerts-") as tmp:
        region = Path(shutil.copytree(shipped_region_path(), Path(tmp) / "region"))
        ground = RegionIndex(Region.load(region))
        result = run_alerts_benchmark(
            Path(tmp), region, ground, os.environ, alerts, trials, requests, clients, log=log
        )
    _emit(as_json, result, lambda: out.print_json(data=result))


@bench_app.command("posts")
def bench_posts(
    posts: Annotated[int, typer.Option(min=10, help="positions posted, one per request")] = 1_000,
    devices: Annotated[int, typer.Option(min=1, help="tracking devices")] = 20,
    clients: Annotated[int, typer.Option(min=1, help="concurrent posting clients")] = 4,
    as_json: JsonOption = False,
) -> None:
    """OsmAnd posts to a real server: latency first vs last, parts read; baseline: no merging."""
    import os
    import shutil
    import tempfile

    from geoint.bench.posts import run_posts_benchmark
    from geoint.layers import shipped_region_path

    with tempfile.TemporaryDirectory(prefix="geoint-bench-posts-") as tmp:
        region = Path(shutil.copytree(shipped_region_path(), Path(tmp) / "region"))
        result = run_posts_benchmark(
            Path(tmp), region, os.environ, posts, devices, clients, None if as_json else err.print
        )
    _emit(as_json, result, lambda: out.print_json(data=result))


@bench_app.command("patrol")
def bench_patrol(
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="a 'geoint demo' workspace")],
    region: RegionOption = None,
    base: Annotated[
        str | None, typer.Option(help="LAT,LON; default the crossing nearest the riskiest cell")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="ISO start; default 18:00 UTC before the last risk day")
    ] = None,
    shifts: Annotated[int, typer.Option(min=1, help="seeded shifts for the repeat rate")] = 10,
    as_json: JsonOption = False,
) -> None:
    """A 3-team, 8-hour plan (graph and solve, target ≤ 10 s), its greedy ratio and repeats."""
    from geoint.bench.patrol import default_start, nearest_to_risk, run_patrol_benchmark
    from geoint.layers import Region
    from geoint.patrol.plan import PatrolRequest, parse_base, parse_start, read_risk_tables
    from geoint.patrol.travel import build_travel_graph
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    loaded = Region.load(region or workspace / "region")
    risk, emerging = read_risk_tables(Workspace(settings.workspace, settings.database_url))
    moment = default_start(risk) if start is None else parse_start(start)
    if base is None:
        crossings = loaded.read("crossings").geometry
        lat_lon = nearest_to_risk(risk, moment, crossings.y.to_numpy(), crossings.x.to_numpy())
    else:
        lat_lon = parse_base(base)
    request = PatrolRequest(*lat_lon, teams=3, hours=8, start=moment)
    result = run_patrol_benchmark(
        lambda: build_travel_graph(loaded, settings.patrol, settings.h3_resolution),
        risk,
        emerging,
        request,
        settings.patrol,
        shifts,
        log=None if as_json else err.print,
    )
    _emit(as_json, result, lambda: out.print_json(data=result))


# -------------------------------------------------------------------------- simulate
@app.command("simulate")
def simulate_command(
    region: Annotated[
        Path, typer.Option("--region", help="region folder; generated layers are written into it")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the scenario files")],
    seed: Annotated[int, typer.Option(help="random seed: same seed, same files")] = 7,
    vehicles: Annotated[int, typer.Option(help="fleet size, about 30 % planted")] = 150,
    days: Annotated[int, typer.Option(help="days to simulate")] = 3,
    interval: Annotated[int, typer.Option(help="seconds between pings (30-120)")] = 60,
    start: Annotated[str, typer.Option(help="first day, a UTC date")] = "2026-03-02",
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Generate layers into a region, then a scenario with ground truth into a folder."""
    from datetime import date

    from geoint.layers.queries import RegionIndex
    from geoint.layers.region import Region
    from geoint.sim.scenery import Geography
    from geoint.sim.simulate import SimulationOptions, simulate
    from geoint.sim.synthetic_layers import add_synthetic_layers

    try:
        options = SimulationOptions(seed, vehicles, days, interval, date.fromisoformat(start))
    except ValueError as exc:
        raise GeointError(f"simulate: {exc}") from exc
    loaded = Region.load(region)
    layers = add_synthetic_layers(loaded, seed)
    geography = Geography.of(loaded)
    log = None if (quiet or as_json) else err.print
    scenario = simulate(RegionIndex(loaded), geography, options, _settings(None), log=log)
    files = scenario.write(out_dir)
    payload = {
        "region": str(region),
        "out": str(out_dir),
        "layers": layers,
        "pings": scenario.pings.height,
        "vehicles": scenario.vehicles.height,
        "seizures": scenario.seizures.height,
        "declarations": scenario.declarations.height,
        "watchlist": scenario.watchlist.height,
        "events": scenario.counts(),
        "seconds": {k: round(v, 3) for k, v in scenario.seconds.items()},
        "files": [str(p) for p in files.values()],
    }
    _emit(as_json, payload, lambda: _print_summary(payload))


# --------------------------------------------------------------------------- analyze
@app.command("analyze")
def analyze_command(
    region: Annotated[Path, typer.Option("--region", help="region folder (manifest)")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Detect track events over every stored ping and store them in the workspace."""
    from geoint.layers.queries import RegionIndex
    from geoint.layers.region import Region
    from geoint.pipeline.analyze import analyze
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    ground = RegionIndex(Region.load(region))
    store = Workspace(settings.workspace, settings.database_url)
    with _progress(quiet or as_json) as step:
        report = analyze(store, ground, settings, progress=step)
    _emit(as_json, report, lambda: _print_analysis(report))


def _print_analysis(report: dict[str, Any]) -> None:
    table = Table(title=f"events of {report['pings']:,} pings, {report['vehicles']:,} vehicles")
    table.add_column("type")
    table.add_column("events", justify="right")
    for kind, count in report["events"].items():
        table.add_row(kind, f"{count:,}")
    table.add_row("total", f"{report['events_total']:,}")
    out.print(table)
    cells = report["cells"]
    out.print(
        f"cells: {cells['cells']:,} cells, {cells['cell_days']:,} cell-days, "
        f"{cells['hotspot_cell_days']:,} hot cell-days, {cells['anomalous_cell_days']:,} "
        f"anomalous; emerging {json.dumps(cells['emerging'])} (geoint cells show CELL)"
    )
    alerts = report["alerts"]
    out.print(
        f"alerts: {alerts['created']:,} new, {alerts['updated']:,} updated with "
        f"{alerts['repeats']:,} repeats, {alerts['open']:,} open (geoint alerts list)"
    )
    out.print(f"{report['seconds']:.2f} s ({json.dumps(report['stage_seconds'])})")


@cells_app.command("show")
def cells_show(
    cell: Annotated[str, typer.Argument(help="H3 cell as hex (resolution 8, or 5-7 parents)")],
    region: Annotated[Path, typer.Option("--region", help="region folder (manifest)")],
    workspace: WorkspaceOption = None,
    days: Annotated[int, typer.Option(min=1, help="days of time series shown")] = 28,
    as_json: JsonOption = False,
) -> None:
    """Explain a cell: static context, risk factors and contributions, daily time series."""
    from geoint.analytics.scoring import explain_cell
    from geoint.layers.queries import RegionIndex
    from geoint.layers.region import Region
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    store = Workspace(settings.workspace, settings.database_url)
    ground = RegionIndex(Region.load(region))
    report = explain_cell(store, ground, cell, settings, days)
    _emit(as_json, report, lambda: _print_cell(report))


def _print_cell(report: dict[str, Any]) -> None:
    out.print(f"cell {report['cell']} (resolution {report['resolution']})")
    out.print(json.dumps(report["context"], default=str))
    latest = report["latest"]
    if latest is None:
        out.print("no activity, events or seizures in this cell")
        return
    table = Table(title=f"risk {latest['risk']:.1f} on {latest['date']}")
    for column in ("factor", "value", "weight", "points"):
        table.add_column(column, justify="left" if column == "factor" else "right")
    for name, factor in latest["factors"].items():
        table.add_row(
            name, f"{factor['value']:.3f}", f"{factor['weight']:g}", f"{factor['points']:.2f}"
        )
    out.print(table)
    if report.get("emerging"):
        out.print(f"emerging: {report['emerging']['emerging']}")
    series = Table(title="daily series (all columns with --json)")
    columns = [c for c in _CELL_SERIES if report["series"] and c in report["series"][0]]
    for column in columns:
        series.add_column(column, justify="right")
    for row in report["series"]:
        series.add_row(
            *(f"{row[c]:.2f}" if isinstance(row[c], float) else str(row[c]) for c in columns)
        )
    out.print(series)


_CELL_SERIES = ("date", "risk", "vehicles", "events", "severity", "anomaly_z", "gi_z", "gi_bin")


@events_app.command("export")
def events_export(
    out_file: Annotated[Path, typer.Option("--out", help="file to write")],
    fmt: Annotated[str, typer.Option("--format", help="csv or geojson")] = "csv",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the stored events as CSV or GeoJSON (cells as hex, times ISO 8601 UTC)."""
    from geoint.serve.export import EXPORT_FORMATS, export_events
    from geoint.store.workspace import Workspace

    if fmt not in EXPORT_FORMATS:
        raise GeointError(f"--format: expected one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    settings = _settings(workspace)
    events = Workspace(settings.workspace, settings.database_url).read_events()
    rows = export_events(events, out_file, fmt)
    payload = {"file": str(out_file), "format": fmt, "events": rows}
    _emit(as_json, payload, lambda: out.print(f"{rows:,} events written to {out_file}"))


# ------------------------------------------------------------------------------- map
@app.command("map")
def map_command(
    region: Annotated[Path, typer.Option("--region", help="region folder (manifest)")],
    out_file: Annotated[Path, typer.Option("--out", help="HTML file to write")],
    workspace: WorkspaceOption = None,
    day: Annotated[
        str | None, typer.Option("--date", help="UTC day YYYY-MM-DD (default: latest analysed)")
    ] = None,
    patrol: Annotated[
        Path | None,
        typer.Option("--patrol", help="patrol plan GeoJSON (geoint patrol plan --geojson)"),
    ] = None,
    vehicle: Annotated[
        str | None, typer.Option("--vehicle", help="draw this vehicle's track of the day")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the map as one self-contained HTML file (every asset inlined; works offline)."""
    from datetime import date

    from geoint.layers import Region
    from geoint.serve.map_data import map_data
    from geoint.store.workspace import Workspace
    from geoint.web.map import build_map, to_html

    try:
        when = date.fromisoformat(day) if day else None
    except ValueError:
        raise GeointError(f"--date: expected YYYY-MM-DD, got {day!r}") from None
    settings = _settings(workspace)
    store = Workspace(settings.workspace, settings.database_url)
    plan = None
    if patrol is not None:
        try:
            plan = json.loads(patrol.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GeointError(f"{patrol}: expected a patrol plan GeoJSON file ({exc})") from None
    data = map_data(store, when, vehicle)
    page = to_html(build_map(Region.load(region), data, patrol=plan))
    out_file.write_text(page, encoding="utf-8")
    payload = {"file": str(out_file), "bytes": len(page.encode())}
    _emit(as_json, payload, lambda: out.print(f"map written to {out_file}"))


# -------------------------------------------------------------------------- evaluate
@app.command("evaluate")
def evaluate_command(
    truth: Annotated[Path, typer.Option("--truth", help="ground-truth events CSV (truth.csv)")],
    workspace: WorkspaceOption = None,
    illicit_cells: Annotated[
        Path | None,
        typer.Option(
            "--illicit-cells", help="illicit cells CSV; default illicit_cells.csv beside --truth"
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score the stored events against ground truth and the cell ranking against illicit cells."""
    from geoint.sim.evaluate import evaluate_workspace
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    store = Workspace(settings.workspace, settings.database_url)
    report = evaluate_workspace(store, truth, illicit_cells, settings.evaluation)
    _emit(as_json, report, lambda: _print_evaluation(report))


def _print_evaluation(report: dict[str, Any]) -> None:
    table = Table(title="events: detections against ground truth")
    for column in ("type", "truth", "detected", "recall", "precision"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for kind, score in report["events"].items():
        shown = [
            f"{v:.3f}" if isinstance(v, float) else "-" if v is None else str(v)
            for v in score.values()
        ]
        table.add_row(kind, *shown)
    out.print(table)
    top_k = report["cells"]["top_k_precision"]
    shown = ", ".join(f"k={k}: {'-' if v is None else f'{v:.3f}'}" for k, v in top_k.items())
    out.print(f"cells top-k precision: {shown}")
    for note in report["notes"]:
        out.print(f"note: {note}")


# ------------------------------------------------------------------------------ keys
@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin, analyst, unit or feeder")],
    sector: Annotated[
        list[str] | None,
        typer.Option("--sector", help="sector id a unit key may see (repeatable; units only)"),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key; its text is printed once and only its hash is stored."""
    from geoint.store.keys import KeyStore
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    keys = KeyStore(Workspace(settings.workspace, settings.database_url))
    key, text = keys.create(role, sector or [])
    payload = {"id": key.id, "key": text, "role": key.role, "sectors": list(key.sectors)}
    _emit(
        as_json,
        payload,
        lambda: out.print(f"key {key.id} ({key.role}): {text}\nit is shown only this once"),
    )


@keys_app.command("list")
def keys_list(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """List API keys (never their text), revoked ones included."""
    from geoint.store.keys import KeyStore
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    store = KeyStore(Workspace(settings.workspace, settings.database_url))
    keys = [k.to_dict() for k in store.all_keys()]
    table = Table("id", "role", "sectors", "created_at", "revoked_at")
    for key in keys:
        table.add_row(*(", ".join(v) if isinstance(v, list) else str(v) for v in key.values()))
    _emit(as_json, {"keys": keys}, lambda: out.print(table))


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke an API key; its browser sessions end with it."""
    from geoint.store.keys import KeyStore
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    key = KeyStore(Workspace(settings.workspace, settings.database_url)).revoke(key_id)
    _emit(as_json, key.to_dict(), lambda: out.print(f"key {key.id} revoked at {key.revoked_at}"))


# ---------------------------------------------------------------------------- alerts
AlertIdArgument = Annotated[
    int, typer.Argument(min=1, max=2**62, help="alert id (see 'geoint alerts list')")
]
NoteOption = Annotated[str, typer.Option("--note", help="why (kept in the alert's history)")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="who acts; default cli:<login name>")
]


def _alert_store(workspace: Path | None) -> Any:
    from geoint.alerts.store import AlertStore
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    return AlertStore(Workspace(settings.workspace, settings.database_url))


def _actor(actor: str | None) -> str:
    import getpass

    return actor or f"cli:{getpass.getuser()}"


@alerts_app.command("list")
def alerts_list(
    workspace: WorkspaceOption = None,
    status: Annotated[list[str] | None, typer.Option(help="new, acknowledged, ...")] = None,
    severity: Annotated[list[str] | None, typer.Option(help="Extreme, Severe, ...")] = None,
    alert_type: Annotated[list[str] | None, typer.Option("--type", help="event type")] = None,
    sector: Annotated[list[str] | None, typer.Option(help="sector id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="alerts shown")] = 100,
    cursor: Annotated[
        int | None, typer.Option(min=1, max=2**62, help="next_cursor of the previous page")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List alerts, newest first: {"alerts": [...], "next_cursor"} with --json."""
    from rich.markup import escape

    from geoint.alerts.store import AlertQuery

    query = AlertQuery(
        limit=limit,
        cursor=cursor,
        status=status or (),
        severity=severity or (),
        alert_type=alert_type or (),
        sector=sector or (),
    )
    found, following = _alert_store(workspace).list(query)
    table = Table("id", "status", "severity", "rule", "vehicles / cell", "sector", "count", "last")
    for a in found:
        subject = ", ".join(a["vehicles"]) or a["cell"]
        row = (a["id"], a["status"], a["severity"], a["rule"], subject, a["sector"], a["count"])
        table.add_row(*(escape(str(v)) for v in (*row, a["last_seen"])))  # ids are untrusted
    payload = {"alerts": found, "next_cursor": following}
    _emit(as_json, payload, lambda: out.print(table))


@alerts_app.command("show")
def alerts_show(
    alert_id: AlertIdArgument, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """Show an alert, its explanation and its history."""
    store = _alert_store(workspace)
    payload = {"alert": store.get(alert_id), "history": store.history(alert_id)}
    _emit(as_json, payload, lambda: _print_alert(payload))


def _print_alert(payload: dict[str, Any]) -> None:
    alert = payload["alert"]
    out.print(
        f"alert {alert['id']} [{alert['status']}] {alert['severity']} {alert['title']}",
        markup=False,
    )
    out.print(alert["explanation"], markup=False)
    for change in payload["history"]:
        note = f": {change['note']}" if change["note"] else ""
        out.print(f"  {change['at']} {change['action']} by {change['actor']}{note}", markup=False)


def _transition(verb: str, alert_id: int, workspace, note: str, actor, as_json: bool) -> None:
    alert = _alert_store(workspace).transition(alert_id, verb, _actor(actor), note)
    _emit(as_json, alert, lambda: out.print(f"alert {alert_id} is {alert['status']}"))


@alerts_app.command("ack")
def alerts_ack(
    alert_id: AlertIdArgument,
    workspace: WorkspaceOption = None,
    note: NoteOption = "",
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Acknowledge a new alert."""
    _transition("ack", alert_id, workspace, note, actor, as_json)


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: AlertIdArgument,
    workspace: WorkspaceOption = None,
    note: NoteOption = "",
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve an acknowledged alert."""
    _transition("resolve", alert_id, workspace, note, actor, as_json)


@alerts_app.command("dismiss")
def alerts_dismiss(
    alert_id: AlertIdArgument,
    workspace: WorkspaceOption = None,
    note: NoteOption = "",
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Dismiss an acknowledged alert (a false alarm)."""
    _transition("dismiss", alert_id, workspace, note, actor, as_json)


@alerts_app.command("label")
def alerts_label(
    alert_id: AlertIdArgument,
    label: Annotated[str, typer.Argument(help="true_positive or false_positive")],
    workspace: WorkspaceOption = None,
    note: NoteOption = "",
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Label an alert a true or false positive (per-rule precision in 'geoint evaluate')."""
    alert = _alert_store(workspace).label(alert_id, label, _actor(actor), note)
    _emit(as_json, alert, lambda: out.print(f"alert {alert_id} labelled {alert['label']}"))


# ---------------------------------------------------------------------------- patrol
@patrol_app.command("plan")
def patrol_plan(
    region: Annotated[Path, typer.Option("--region", help="region folder (manifest)")],
    base: Annotated[str, typer.Option(help="the teams' base, LAT,LON")],
    teams: Annotated[int, typer.Option(help="number of teams")],
    hours: Annotated[float, typer.Option(help="shift length in hours")],
    start: Annotated[str, typer.Option(help="shift start, ISO 8601 (UTC without offset)")],
    seed: Annotated[
        int | None, typer.Option(help="unpredictable mode: a seeded near-optimal plan")
    ] = None,
    gpx: Annotated[Path | None, typer.Option(help="write the plan as GPX 1.1 here")] = None,
    geojson: Annotated[Path | None, typer.Option(help="write the plan as GeoJSON here")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Plan a shift: risk targets, team routes within the shift, ETAs and reasons."""
    from geoint.layers import Region
    from geoint.patrol.plan import (
        PatrolRequest,
        parse_base,
        parse_start,
        plan_patrol,
        read_risk_tables,
    )
    from geoint.patrol.travel import build_travel_graph
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    request = PatrolRequest(*parse_base(base), teams, hours, parse_start(start), seed)
    risk, emerging = read_risk_tables(Workspace(settings.workspace, settings.database_url))
    graph = build_travel_graph(Region.load(region), settings.patrol, settings.h3_resolution)
    plan = plan_patrol(graph, risk, emerging, request, settings.patrol)
    if gpx is not None:
        gpx.write_text(plan.to_gpx(), encoding="utf-8")
    if geojson is not None:
        geojson.write_bytes(orjson.dumps(plan.to_geojson()))
    payload = plan.to_dict()
    _emit(as_json, payload, lambda: _print_plan(payload))


def _print_plan(plan: dict[str, Any]) -> None:
    for team in plan["teams"]:
        table = Table(
            title=f"team {team['team']}: {team['duration_h']:.2f} h, "
            f"risk {team['collected_risk']:.1f}"
        )
        for column in ("eta", "cell", "lat", "lon", "reason"):
            table.add_column(column)
        for w in team["waypoints"]:
            table.add_row(w["eta"], w["cell"], f"{w['lat']:.5f}", f"{w['lon']:.5f}", w["reason"])
        out.print(table)
    out.print(
        f"collected risk {plan['collected_risk']:.1f} "
        f"(greedy nearest-high-risk baseline {plan['greedy_collected_risk']:.1f})"
    )


# ----------------------------------------------------------------------------- serve
@app.command("serve")
def serve_command(
    region: Annotated[Path, typer.Option("--region", help="region folder (manifest)")],
    workspace: WorkspaceOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
) -> None:
    """Serve the API (ingest, OGC API – Features, docs) for a workspace and region."""
    from geoint.api.app import serve
    from geoint.api.settings import ApiSettings

    overrides: dict[str, Any] = {"region": region}
    if workspace is not None:
        overrides["workspace"] = workspace
    serve(ApiSettings(**overrides), host, port)


# ------------------------------------------------------------------------------ demo
@app.command("demo")
def demo(
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
    from geoint.layers import Region, RegionIndex
    from geoint.layers.gazetteer import build_gazetteer
    from geoint.pipeline.analyze import analyze
    from geoint.sim.evaluate import evaluate_workspace
    from geoint.store.workspace import Workspace

    settings = _settings(workspace)
    log = None if as_json else err.print
    scenario = (samples or SAMPLES) / SCENARIO
    region_dir = settings.workspace / "region"
    if log:
        log(f"copying the sample region (Benin–Nigeria with generated layers) to {region_dir}")
    shutil.copytree(scenario / "region", region_dir, dirs_exist_ok=True)
    region = Region.load(region_dir)
    store = Workspace(settings.workspace, settings.database_url)
    reports = ingest_scenario(store, settings, build_gazetteer(region), scenario, log)
    with _progress(as_json) as step:
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
        _emit(True, payload, lambda: None)
    else:
        for report in reports:
            _print_report(report)
        _print_analysis(analysis)
        _print_evaluation(evaluation)
        out.print(f"region: {region_dir}\nworkspace: {settings.workspace}")
    if serve:
        store.engine.dispose()
        _serve_demo(settings, region_dir, port)


def _serve_demo(settings: GeointSettings, region: Path, port: int) -> None:
    """Make sure an analyst key exists, say how to sign in, and serve on 127.0.0.1."""
    from geoint.api.app import serve
    from geoint.api.settings import ApiSettings
    from geoint.store.keys import KeyStore
    from geoint.store.workspace import Workspace

    workspace = settings.workspace
    store = Workspace(workspace, settings.database_url)
    keys = KeyStore(store)
    live = [k for k in keys.all_keys() if k.role == "analyst" and k.revoked_at is None]
    if live:
        key = (
            f"the analyst key {live[0].id} printed when it was created, or a new one from\n"
            f"  geoint keys create --role analyst --workspace {workspace}"
        )
    else:
        key = f"the analyst key (shown only this once):\n  {keys.create('analyst', [])[1]}"
    store.engine.dispose()
    url = f"http://127.0.0.1:{port}"
    err.print(
        f"serving the API and the map (Ctrl-C stops)\n  map: {url}/map\n"
        f"sign in at {url}/login with {key}",
        soft_wrap=True,
    )
    serve(
        ApiSettings(workspace=workspace, region=region, database_url=settings.database_url),
        "127.0.0.1",
        port,
    )


def main() -> None:
    """Run the CLI; domain errors end with one line on stderr and exit code 2."""
    try:
        app(standalone_mode=False)
    except GeointError as exc:
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise

"""`geoint ingest ...`, `geoint quarantine list` and `geoint compact`: getting data in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from geoint.cli.common import (
    JsonOption,
    QuietOption,
    RegionOption,
    WorkspaceOption,
    emit,
    load_ground,
    load_region,
    open_workspace,
    out,
    print_report,
    progress,
)
from geoint.errors import GeointError
from geoint.schema import IngestReport

app = typer.Typer()
ingest_app = typer.Typer(
    help="Ingest pings, seizures, watch lists, declarations.", no_args_is_help=True
)
quarantine_app = typer.Typer(
    help="Rows refused at ingest, with their reasons.", no_args_is_help=True
)
app.add_typer(ingest_app, name="ingest")
app.add_typer(quarantine_app, name="quarantine")

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


@ingest_app.command(
    "pings",
    epilog="Example: geoint ingest pings pings.csv -w ws --region ws/region --analyze --json",
)
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

    if analyze and region is None:
        raise GeointError("--analyze needs --region")
    settings, store = open_workspace(workspace)
    with progress(quiet or as_json) as step:
        report = ingest_pings(
            store, file, settings, fmt=fmt, column_map=_column_map(mapping), progress=step
        )
    payload = report.to_dict()
    if region is not None:
        payload["outside_region"] = _outside_region(store, region, report)
    if analyze and region is not None and report.accepted and not report.already_ingested:
        ground = load_ground(region)
        payload["analysis"] = analyze_batch(store, ground, settings, int(report.batch_id))
    emit(as_json, payload, lambda: _print_ping_ingest(report, payload.get("analysis")))


def _print_ping_ingest(report: IngestReport, analysis: dict[str, Any] | None) -> None:
    print_report(report)
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

    if report.already_ingested or not report.accepted:
        return 0
    index = load_ground(region)
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
    from geoint.pipeline.ingest import ingest_records
    from geoint.vocabularies import region_vocabularies

    settings, store = open_workspace(workspace)
    gazetteer = None
    if kind == "seizures":
        gazetteer = build_gazetteer(load_region(region) if region else None)
    report = ingest_records(
        store,
        kind,
        file,
        settings,
        gazetteer=gazetteer,
        fmt=fmt,
        column_map=_column_map(mapping),
        vocabularies=region_vocabularies(region),
    )
    emit(as_json, report.to_dict(), lambda: print_report(report))


@ingest_app.command(
    "seizures",
    epilog="Example: geoint ingest seizures seizures.csv -w ws --region ws/region --json",
)
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


@ingest_app.command(
    "watchlist",
    epilog="Example: geoint ingest watchlist watchlist.csv --workspace ws --json",
)
def ingest_watchlist_command(
    file: Path,
    workspace: WorkspaceOption = None,
    fmt: FormatOption = None,
    mapping: MapOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest a CTS-style watch list (vehicle_id, reason, expires)."""
    _ingest_records("watchlist", file, workspace, None, fmt, mapping, as_json)


@ingest_app.command(
    "declarations",
    epilog="Example: geoint ingest declarations declarations.csv --workspace ws --json",
)
def ingest_declarations_command(
    file: Path,
    workspace: WorkspaceOption = None,
    fmt: FormatOption = None,
    mapping: MapOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest transit declarations (vehicle, corridor, start, deadline, destination)."""
    _ingest_records("declarations", file, workspace, None, fmt, mapping, as_json)


@quarantine_app.command(
    "list",
    epilog="Example: geoint quarantine list --workspace ws --kind pings --limit 20 --json",
)
def quarantine_list(
    workspace: WorkspaceOption = None,
    kind: Annotated[
        str | None, typer.Option(help="pings, seizures, watchlist, declarations")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """List quarantined rows with file, row, column, reason and detail."""
    _, store = open_workspace(workspace)
    rows = store.quarantined(kind, limit)
    emit(as_json, {"quarantined": rows.to_dicts()}, lambda: out.print(rows))


@app.command(
    "compact",
    epilog="Example: geoint compact --workspace ws --min-parts 4 --json",
)
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
    settings, store = open_workspace(workspace)
    ingest = settings.ingest
    with store.writer():
        report = store.compact(
            min_parts or ingest.compact_min_parts,
            ingest.compact_small_bytes,
            ingest.compact_grace_s if grace_s is None else grace_s,
        )
    emit(as_json, report, lambda: out.print(report))

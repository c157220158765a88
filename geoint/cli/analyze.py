"""`geoint analyze`, `geoint events export`, `geoint cells show` and `geoint evaluate`."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from geoint.cli.common import (
    JsonOption,
    QuietOption,
    RequiredRegionOption,
    WorkspaceOption,
    emit,
    load_ground,
    open_workspace,
    out,
    print_analysis,
    print_evaluation,
    progress,
)
from geoint.errors import GeointError

app = typer.Typer()
events_app = typer.Typer(help="Track events stored by 'geoint analyze'.", no_args_is_help=True)
cells_app = typer.Typer(help="Cell analytics stored by 'geoint analyze'.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(cells_app, name="cells")

_CELL_SERIES = ("date", "risk", "vehicles", "events", "severity", "anomaly_z", "gi_z", "gi_bin")


@app.command(
    "analyze",
    epilog="Example: geoint analyze --region ws/region --workspace ws --engine dask --workers 2",
)
def analyze_command(
    region: RequiredRegionOption,
    workspace: WorkspaceOption = None,
    engine: Annotated[
        str, typer.Option("--engine", help="local (one partition at a time) or dask")
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address (default: a local cluster)"),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="workers of the local Dask cluster")
    ] = 2,
    partitions: Annotated[
        int | None,
        typer.Option("--partitions", min=1, help="vehicle partitions (default: from the data)"),
    ] = None,
    pings_url: Annotated[
        str | None,
        typer.Option(
            "--pings-url", help="read the ping parts from this copy of the pings folder (s3://…)"
        ),
    ] = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Detect track events over every stored ping and store them in the workspace."""
    from geoint.pipeline.analyze import analyze

    if engine not in ("local", "dask"):
        raise GeointError(f"--engine: expected local or dask, got {engine!r}")
    if scheduler is not None and engine != "dask":
        raise GeointError("--scheduler: only with --engine dask")
    ground = load_ground(region)
    settings, store = open_workspace(workspace)
    with progress(quiet or as_json) as step, ExitStack() as stack:
        runner = None
        if engine == "dask":
            from geoint.pipeline.distributed import dask_engine

            runner = stack.enter_context(dask_engine(scheduler, workers))
        report = analyze(
            store,
            ground,
            settings,
            progress=step,
            partitions=partitions,
            engine=runner,
            region=str(Path(region).resolve()),
            pings_url=pings_url,
        )
    report["engine"] = engine
    emit(as_json, report, lambda: print_analysis(report))


@cells_app.command(
    "show",
    epilog="Example: geoint cells show 8858a309a5fffff --region ws/region -w ws --json",
)
def cells_show(
    cell: Annotated[str, typer.Argument(help="H3 cell as hex (resolution 8, or 5-7 parents)")],
    region: RequiredRegionOption,
    workspace: WorkspaceOption = None,
    days: Annotated[int, typer.Option(min=1, help="days of time series shown")] = 28,
    as_json: JsonOption = False,
) -> None:
    """Explain a cell: static context, risk factors and contributions, daily time series."""
    from geoint.analytics.scoring import explain_cell

    settings, store = open_workspace(workspace)
    report = explain_cell(store, load_ground(region), cell, settings, days)
    emit(as_json, report, lambda: _print_cell(report))


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


@events_app.command(
    "export",
    epilog="Example: geoint events export --out events.geojson --format geojson -w ws",
)
def events_export(
    out_file: Annotated[Path, typer.Option("--out", help="file to write")],
    fmt: Annotated[str, typer.Option("--format", help="csv, geojson or kml")] = "csv",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the stored events as CSV, GeoJSON or KML (cells as hex, times ISO 8601 UTC)."""
    from geoint.serve.export import EXPORT_FORMATS, export_events

    if fmt not in EXPORT_FORMATS:
        raise GeointError(f"--format: expected one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    _, store = open_workspace(workspace)
    rows = export_events(store.read_events(), out_file, fmt)
    payload = {"file": str(out_file), "format": fmt, "events": rows}
    emit(as_json, payload, lambda: out.print(f"{rows:,} events written to {out_file}"))


@app.command(
    "evaluate",
    epilog="Example: geoint evaluate --truth sample_tracks/scenario/truth.csv -w ws --json",
)
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

    settings, store = open_workspace(workspace)
    report = evaluate_workspace(store, truth, illicit_cells, settings.evaluation)
    emit(as_json, report, lambda: print_evaluation(report))

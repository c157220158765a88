"""`geoint seizures ...`: CEN-style trends and filtered exports of the stored seizures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geoint.cli.common import (
    JsonOption,
    RegionOption,
    WorkspaceOption,
    emit,
    load_ground,
    open_workspace,
    out,
)

if TYPE_CHECKING:
    from geoint.intel.query import SeizureFilter
    from geoint.settings import GeointSettings
    from geoint.store.workspace import Workspace

app = typer.Typer()
seizures_app = typer.Typer(
    help="Seizures: trends by CEN field and period, filtered exports.", no_args_is_help=True
)
app.add_typer(seizures_app, name="seizures")

FromOption = Annotated[
    str | None, typer.Option("--from", help="from this date (ISO, UTC) or date-time")
]
ToOption = Annotated[str | None, typer.Option("--to", help="to this date (included)")]
WhereOption = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        help="FIELD=VALUE[,VALUE...]: commodity, transport_mode, concealment, detection_method,"
        " direction, origin_country, destination_country, crossing, origin (local or a partner"
        " administration; repeat: all must hold)",
    ),
]
TextOption = Annotated[str | None, typer.Option("--text", help="text in id, description, ...")]


def seizure_filter(
    where: list[str] | None, start: str | None, end: str | None, text: str | None
) -> SeizureFilter:
    """The filter the options describe (errors name the option)."""
    from geoint.errors import QueryError
    from geoint.intel.query import SeizureFilter, field_values, parse_day

    pairs = []
    for item in where or ():
        name, sep, value = item.partition("=")
        if not sep:
            raise QueryError("--where", f"expected FIELD=VALUE, got {item!r}")
        pairs.append((name.strip(), value))
    first = parse_day("--from", start) if start else None
    last = parse_day("--to", end, end=True) if end else None
    return SeizureFilter(field_values(pairs), first, last, (), text or None)


def _locate(settings: GeointSettings, store: Workspace, region: Path | None, needed: bool) -> None:
    """Locate the seizures at the region's crossings (needed to filter or group by crossing);
    the region is `region`, else the workspace's own copy (``W/region``, as `geoint demo`
    makes)."""
    from geoint.errors import GeointError
    from geoint.intel.crossings import locate_seizures

    if region is None and needed and (store.root / "region" / "region.toml").is_file():
        region = store.root / "region"
    if region is not None:
        locate_seizures(store, load_ground(region), settings.intel.crossing_radius_m)
    elif needed:
        raise GeointError("--region: needed to place seizures at crossings (by or where crossing)")


@seizures_app.command(
    "trends",
    epilog="Example: geoint seizures trends -w ws --by transport_mode --period week "
    "--from 2026-03-01 --where commodity=fuel --json",
)
def seizures_trends(
    by: Annotated[str, typer.Option("--by", help="commodity, transport_mode, ..., crossing")],
    period: Annotated[str, typer.Option("--period", help="day, week or month")] = "month",
    start: FromOption = None,
    end: ToOption = None,
    where: WhereOption = None,
    text: TextOption = None,
    region: RegionOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Seizures per value of a CEN field and period: {"series": [{key, period, count,
    quantity, unit}]} with --json (a period is named by its first day)."""
    from geoint.intel.trends import check_trend, seizure_trends

    check_trend(by, period)
    chosen = seizure_filter(where, start, end, text)
    settings, store = open_workspace(workspace)
    _locate(settings, store, region, by == "crossing" or "crossing" in chosen.values)
    series = seizure_trends(store, chosen, by, period)
    table = Table(by, period, "count", "quantity", "unit")
    for row in series:
        shown = (
            "" if v is None else f"{v:,.1f}" if isinstance(v, float) else str(v)
            for v in row.values()
        )
        table.add_row(*(escape(v) for v in shown))  # CEN text is untrusted
    emit(as_json, {"by": by, "period": period, "series": series}, lambda: out.print(table))


@seizures_app.command(
    "export",
    epilog="Example: geoint seizures export --out seizures.kml --format kml -w ws "
    "--where commodity=fuel",
)
def seizures_export(
    out_file: Annotated[Path, typer.Option("--out", help="file to write")],
    fmt: Annotated[str, typer.Option("--format", help="csv, geojson or kml")] = "csv",
    start: FromOption = None,
    end: ToOption = None,
    where: WhereOption = None,
    text: TextOption = None,
    region: RegionOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the seizures meeting the filters as CSV, GeoJSON or KML (styled by commodity)."""
    from geoint.errors import GeointError
    from geoint.intel.query import read_seizures
    from geoint.serve.export import EXPORT_FORMATS, export_records

    if fmt not in EXPORT_FORMATS:
        raise GeointError(f"--format: expected one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    chosen = seizure_filter(where, start, end, text)
    settings, store = open_workspace(workspace)
    _locate(settings, store, region, "crossing" in chosen.values)
    rows = export_records(read_seizures(store, chosen), out_file, fmt, "seizures")
    payload = {"file": str(out_file), "format": fmt, "seizures": rows}
    emit(as_json, payload, lambda: out.print(f"{rows:,} seizures written to {out_file}"))


@app.command("quality", epilog="Example: geoint quality -w ws --json")
def quality(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Data quality of the seizure records per source and week (WCO Data Quality Charter):
    submitted, quarantined by reason, completeness of each CEN field, entry delay."""
    from geoint.intel.quality import quality_report

    report = quality_report(open_workspace(workspace)[1])
    table = Table("source", "week", "submitted", "quarantined", "completeness", "median delay")
    for w in report["weeks"]:
        share = "" if w["completeness"] is None else f"{w['completeness']:.0%}"
        delay = "" if w["median_delay_days"] is None else f"{w['median_delay_days']:.1f} d"
        shown = (w["source"], w["week"], w["submitted"], w["quarantined"], share, delay)
        table.add_row(*(escape(str(v)) for v in shown))
    emit(as_json, report, lambda: out.print(table))

"""`geoint patrol plan`: team routes over cell risk within a shift."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from geoint.cli.common import (
    JsonOption,
    RequiredRegionOption,
    WorkspaceOption,
    emit,
    load_region,
    open_workspace,
    out,
)

app = typer.Typer()
patrol_app = typer.Typer(help="Patrol plans: routes over cell risk, GPX.", no_args_is_help=True)
app.add_typer(patrol_app, name="patrol")


@patrol_app.command(
    "plan",
    epilog="Example: geoint patrol plan --region ws/region -w ws --base 6.45,2.70 "
    "--teams 3 --hours 8 --start 2026-03-04T18:00 --gpx plan.gpx",
)
def patrol_plan(
    region: RequiredRegionOption,
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
    from geoint.patrol.plan import (
        PatrolRequest,
        parse_base,
        parse_start,
        plan_patrol,
        read_risk_tables,
    )
    from geoint.patrol.travel import build_travel_graph

    request = PatrolRequest(*parse_base(base), teams, hours, parse_start(start), seed)
    settings, store = open_workspace(workspace)
    risk, emerging = read_risk_tables(store)
    graph = build_travel_graph(load_region(region), settings.patrol, settings.h3_resolution)
    plan = plan_patrol(graph, risk, emerging, request, settings.patrol)
    if gpx is not None:
        gpx.write_text(plan.to_gpx(), encoding="utf-8")
    if geojson is not None:
        geojson.write_bytes(orjson.dumps(plan.to_geojson()))
    payload = plan.to_dict()
    emit(as_json, payload, lambda: _print_plan(payload))


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

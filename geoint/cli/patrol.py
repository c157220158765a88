"""`geoint patrol plan|debrief|brief`: team routes over cell risk, debriefs, briefs on paper."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import typer

from geoint.atomic import write_bytes, write_text
from geoint.cli.common import (
    JsonOption,
    RegionOption,
    RequiredRegionOption,
    WorkspaceOption,
    emit,
    load_region,
    open_workspace,
    out,
)
from geoint.times import clock_label

Language = Literal["en", "fr"]

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
    """Plan a shift: stops, team routes within the shift, local times, what to look for."""
    from geoint.patrol.plan import PatrolRequest, parse_base, parse_start
    from geoint.patrol.shift import plan_shift
    from geoint.patrol.travel import build_transit_graph, build_travel_graph

    settings, store = open_workspace(workspace)
    loaded = load_region(region)
    request = PatrolRequest(
        *parse_base(base), teams, hours, parse_start(start), seed, loaded.timezone
    )
    graph = build_travel_graph(loaded, settings.patrol, settings.h3_resolution)
    plan = plan_shift(
        store,
        loaded,
        graph,
        lambda: build_transit_graph(loaded, settings.patrol),
        request,
        settings.patrol,
    )
    if gpx is not None:
        gpx.write_text(plan.to_gpx(), encoding="utf-8")
    if geojson is not None:
        geojson.write_bytes(orjson.dumps(plan.to_geojson()))
    payload = plan.to_dict()
    emit(as_json, payload, lambda: _print_plan(payload))


@patrol_app.command(
    "debrief",
    epilog="Example: geoint patrol debrief -w ws --track team1.gpx --plan plan.json "
    "--outcomes outcomes.csv",
)
def patrol_debrief(
    outcomes: Annotated[
        Path, typer.Option(help="CSV: stop|cell|lat,lon; outcome (nothing|seizure); seizure_id")
    ],
    track: Annotated[Path | None, typer.Option(help="the team's GPS track (GPX)")] = None,
    plan: Annotated[
        Path | None, typer.Option(help="the plan followed (geoint patrol plan --json)")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record where a patrol went and what it found, as effort per cell and day."""
    from geoint.errors import GeointError
    from geoint.patrol.debrief import debrief_sha256, parse_debrief, store_debrief

    def read(path: Path | None) -> bytes | None:
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError as exc:
            raise GeointError(f"{path}: cannot read ({exc.strerror})") from None

    plan_bytes = read(plan)
    try:
        plan_data = orjson.loads(plan_bytes) if plan_bytes is not None else None
    except orjson.JSONDecodeError as exc:
        raise GeointError(
            f"{plan}: expected the JSON of geoint patrol plan --json ({exc})"
        ) from None
    settings, store = open_workspace(workspace)
    track_bytes, outcome_bytes = read(track), read(outcomes)
    parsed = parse_debrief(
        track_bytes, str(track), outcome_bytes or b"", str(outcomes), plan_data, settings.patrol
    )
    sha = debrief_sha256(track_bytes, plan_bytes, outcome_bytes)
    report = store_debrief(store, parsed, str(outcomes), sha)
    emit(
        as_json,
        report,
        lambda: out.print(
            f"debrief {report['debrief']}: {report['accepted']} outcomes kept, "
            f"{report['quarantined']} quarantined; {report['minutes']} minutes over "
            f"{report['cells']} cells, {report['seizures']} seizures"
            + (" (recorded before)" if report["already_recorded"] else "")
        ),
    )


@patrol_app.command(
    "brief",
    epilog="Example: geoint patrol brief plan.json -w ws --out brief.pdf --lang fr",
)
def patrol_brief(
    plan: Annotated[Path, typer.Argument(help="the plan (geoint patrol plan --json > plan.json)")],
    out_file: Annotated[
        Path, typer.Option("--out", help="FILE.pdf (ReportLab) or FILE.html (self-contained)")
    ],
    lang: Annotated[Language, typer.Option(help="language of the brief: en or fr")] = "en",
    region: RegionOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print a plan on paper: one page per team with its route map, stops and radio fields."""
    from geoint.errors import GeointError
    from geoint.web.brief import brief_html, brief_pdf, read_brief_plan

    kind = out_file.suffix.lower()
    if kind not in (".pdf", ".html", ".htm"):
        raise GeointError(f"--out: expected a FILE.pdf or FILE.html, got {str(out_file)!r}")
    try:
        data = plan.read_bytes()
    except OSError as exc:
        raise GeointError(f"{plan}: cannot read ({exc.strerror})") from None
    parsed = read_brief_plan(data, str(plan))
    settings, _ = open_workspace(workspace)
    loaded = load_region(region or settings.workspace / "region")
    if kind == ".pdf":
        write_bytes(brief_pdf(parsed, loaded, lang), out_file)
    else:
        write_text(brief_html(parsed, loaded, lang), out_file)
    payload = {"file": str(out_file), "pages": len(parsed.teams), "lang": lang}
    emit(
        as_json,
        payload,
        lambda: out.print(f"brief of {len(parsed.teams)} teams written to {out_file}"),
    )


WIDTH = 80  # every line of the table fits an 80-column terminal


def _print_plan(plan: dict[str, Any]) -> None:
    for line in plan_lines(plan):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """The plan as text lines of at most 80 characters, times in the region's time zone."""
    first = datetime.fromisoformat(plan["start"])
    zone = first.strftime("%Z") or plan["timezone"]
    lines = [f"Shift from {first:%Y-%m-%d %H:%M} {zone} ({plan['timezone']}), base "
             f"{plan['base']['lat']:.5f}, {plan['base']['lon']:.5f}"]  # fmt: skip
    for team in plan["teams"]:
        lines += [
            "",
            f"Team {team['team']}: leaves {_clock(team['depart'], first)}, back "
            f"{_clock(team['return'], first)}, {team['distance_km']:.1f} km, "
            f"{len(team['waypoints'])} stops, risk {team['collected_risk']:.1f}",
            "  #  arrive  depart  leg km  min  position            cells   risk",
        ]
        for w in team["waypoints"]:
            lines.append(
                f"{int(w['stop'].split('-')[1]):>3}  {_clock(w['arrive'], first):<6}  "
                f"{_clock(w['depart'], first):<6}  {w['leg_km']:6.1f}  {w['leg_min']:3.0f}  "
                f"{w['lat']:8.5f}, {w['lon']:8.5f}  {len(w['cells']):5d}  {w['risk']:5.1f}"
            )
            text = w["look_for"] or w["reason"]
            lines += textwrap.wrap(text, WIDTH, initial_indent=" " * 5, subsequent_indent=" " * 5)
        lines.append(
            f"     back at base {_clock(team['return'], first)} "
            f"(last leg {team['return_leg_km']:.1f} km, {team['return_leg_min']:.0f} min)"
        )
    lines += [
        "",
        f"collected risk {plan['collected_risk']:.1f} "
        f"(greedy nearest-high-risk baseline {plan['greedy_collected_risk']:.1f})",
    ]
    return lines


def _clock(text: str, first: datetime) -> str:
    """'HH:MM' local, with '+N' on a later day than the shift's start."""
    return clock_label(datetime.fromisoformat(text), first)

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
    _,
    emit,
    language,
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
            _(
                "debrief {debrief}: {accepted} outcomes kept, {quarantined} quarantined; "
                "{minutes} minutes over {cells} cells, {seizures} seizures"
            ).format(**report)
            + (_(" (recorded before)") if report["already_recorded"] else "")
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
    lang: Annotated[
        Language | None,
        typer.Option(help="language of the brief: en or fr (default: the messages')"),
    ] = None,
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
    settings = open_workspace(workspace)[0]
    loaded = load_region(region or settings.workspace / "region")
    lang = lang or language()
    if kind == ".pdf":
        write_bytes(brief_pdf(parsed, loaded, lang), out_file)
    else:
        write_text(brief_html(parsed, loaded, lang), out_file)
    payload = {"file": str(out_file), "pages": len(parsed.teams), "lang": lang}
    emit(
        as_json,
        payload,
        lambda: out.print(
            _("brief of {teams} teams written to {file}").format(
                teams=len(parsed.teams), file=out_file
            )
        ),
    )


WIDTH = 80  # every line of the table fits an 80-column terminal


def _print_plan(plan: dict[str, Any]) -> None:
    for line in plan_lines(plan):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """The plan as text lines of at most 80 characters, times in the region's time zone."""
    first = datetime.fromisoformat(plan["start"])
    zone = first.strftime("%Z") or plan["timezone"]
    lines = [_("Shift from {start} {zone} ({timezone}), base {lat:.5f}, {lon:.5f}").format(
        start=f"{first:%Y-%m-%d %H:%M}", zone=zone, timezone=plan["timezone"],
        lat=plan["base"]["lat"], lon=plan["base"]["lon"],
    )]  # fmt: skip
    french = language() == "fr"
    for team in plan["teams"]:
        lines += [
            "",
            _("Team {team}: leaves {depart}, back {back}, {km:.1f} km, {stops} stops, "
              "risk {risk:.1f}").format(
                team=team["team"], depart=_clock(team["depart"], first),
                back=_clock(team["return"], first), km=team["distance_km"],
                stops=len(team["waypoints"]), risk=team["collected_risk"],
            ),
            # the columns below line up under these headings: a translation keeps their widths
            _("  #  arrive  depart  leg km  min  position            cells   risk"),
        ]  # fmt: skip
        for w in team["waypoints"]:
            lines.append(
                f"{int(w['stop'].split('-')[1]):>3}  {_clock(w['arrive'], first):<6}  "
                f"{_clock(w['depart'], first):<6}  {w['leg_km']:6.1f}  {w['leg_min']:3.0f}  "
                f"{w['lat']:8.5f}, {w['lon']:8.5f}  {len(w['cells']):5d}  {w['risk']:5.1f}"
            )
            text = (w.get("look_for_fr") if french else None) or w["look_for"] or w["reason"]
            lines += textwrap.wrap(text, WIDTH, initial_indent=" " * 5, subsequent_indent=" " * 5)
        lines.append(
            "     "
            + _("back at base {time} (last leg {km:.1f} km, {minutes:.0f} min)").format(
                time=_clock(team["return"], first), km=team["return_leg_km"],
                minutes=team["return_leg_min"],
            )
        )  # fmt: skip
    lines += [
        "",
        _("collected risk {risk:.1f} (greedy nearest-high-risk baseline {greedy:.1f})").format(
            risk=plan["collected_risk"], greedy=plan["greedy_collected_risk"]
        ),
    ]
    return lines


def _clock(text: str, first: datetime) -> str:
    """'HH:MM' local, with '+N' on a later day than the shift's start."""
    return clock_label(datetime.fromisoformat(text), first)

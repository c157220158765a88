"""Patrol planning: travel graph, optimality against an exact solver, plan invariants, outputs."""

import html
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import geopandas as gpd
import gpxpy
import h3
import numpy as np
import orjson
import polars as pl
import pytest
import shapely
from fastapi.testclient import TestClient
from scipy.sparse.csgraph import dijkstra
from support.api import api_settings, bearer, create_key
from support.toy_region import build_toy_region
from typer.testing import CliRunner

from geoint.api.app import create_app
from geoint.cli.main import app as cli_app
from geoint.errors import PatrolError
from geoint.h3index import cell_centres, latlng_to_cells
from geoint.layers import Region
from geoint.layers.terrain import Terrain
from geoint.patrol.plan import (
    PatrolRequest,
    greedy_orienteering,
    plan_patrol,
    rank_targets,
    read_risk_tables,
    route_minutes,
    solve_orienteering,
)
from geoint.patrol.travel import base_access, build_transit_graph, build_travel_graph
from geoint.patrol.words import describe_stops, read_evidence
from geoint.settings import PatrolSettings
from geoint.store.cell_tables import read_table
from geoint.store.workspace import Workspace

BASE = (7.12814, 2.74964)  # the Porto-Novo–Abeokuta crossing (border km 96)
START = datetime(2026, 3, 4, 18, tzinfo=UTC)
FAST = PatrolSettings(solver_time_s=1.0)
PROBLEM = "application/problem+json"


def exact_orienteering(
    travel: np.ndarray, dwell: np.ndarray, prizes: np.ndarray, shift: float, teams: int
) -> float:
    """The optimum: Held-Karp over subsets for one route, then teams over disjoint subsets."""
    n = len(travel) - 1
    full, bits = 1 << n, 1 << np.arange(n)
    leave = travel[1:, 1:] + dwell[1:, None]
    dp = np.full((full, n), np.inf)
    dp[bits, np.arange(n)] = travel[0, 1:]
    for mask in range(1, full):
        reach = (dp[mask][:, None] + leave).min(axis=0)
        for j in np.flatnonzero((mask & bits) == 0):
            dp[mask | bits[j], j] = min(dp[mask | bits[j], j], reach[j])
    back = (dp + dwell[1:] + travel[1:, 0]).min(axis=1)
    back[0] = 0.0
    masks = np.arange(full)
    single = np.where(back <= shift + 1e-9, ((masks[:, None] & bits) > 0) @ prizes[1:], -np.inf)
    best = single  # best[m]: most prize of the teams so far using nodes of m only
    for _ in range(teams - 1):
        subsets = [masks[(masks & ~m) == 0] for m in masks]
        best = np.array(
            [np.max(single[s] + best[m ^ s]) for m, s in zip(masks, subsets, strict=True)]
        )
    return float(best.max())


def _instance(seed: int, n: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 60, (n + 1, 2))
    points[0] = 30
    travel = np.hypot(*(points[:, None] - points[None]).transpose(2, 0, 1)) * 1.5
    dwell = np.full(n + 1, 20.0)
    dwell[0] = 0
    return travel, dwell, np.concatenate([[0.0], rng.uniform(5, 60, n)])


@pytest.mark.parametrize("seed", [0, 1, 2, 10])
def test_small_instances_within_two_percent_of_the_exact_optimum(seed):
    travel, dwell, prizes = _instance(seed)
    for teams, shift in [(1, 240.0), (2, 200.0), (3, 150.0)]:
        optimum = exact_orienteering(travel, dwell, prizes, shift, teams)
        routes = solve_orienteering(travel, dwell, prizes, shift, teams, 0.3)
        assert all(route_minutes(r, travel, dwell) <= shift for r in routes)
        visited = [j for r in routes for j in r]
        assert len(visited) == len(set(visited))  # teams never share a target
        assert sum(prizes[r].sum() for r in routes) >= 0.98 * optimum


def test_exact_solver_agrees_with_enumeration():
    from itertools import permutations

    travel, dwell, prizes = _instance(3, n=6)
    feasible = {
        frozenset(p): prizes[list(p)].sum()
        for k in range(7)
        for p in permutations(range(1, 7), k)
        if route_minutes(list(p), travel, dwell) <= 100
    }
    two = max(feasible[a] + feasible[b] for a in feasible for b in feasible if not a & b)
    assert exact_orienteering(travel, dwell, prizes, 100, 2) == pytest.approx(two)


def test_greedy_respects_the_shift():
    travel, dwell, prizes = _instance(4)
    routes = greedy_orienteering(travel, dwell, prizes, 150, 2)
    assert all(route_minutes(r, travel, dwell) <= 150 for r in routes)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A workspace built by `geoint demo`, its region, the travel graph and the risk tables."""
    ws = tmp_path_factory.mktemp("patrol") / "W"
    command = [sys.executable, "-m", "geoint", "demo", "--workspace", str(ws), "--json"]
    subprocess.run(command, check=True, capture_output=True)
    region = Region.load(ws / "region")
    risk, emerging = read_risk_tables(Workspace(ws))
    return ws, region, build_travel_graph(region, FAST), risk, emerging


@pytest.fixture(scope="module")
def plan(demo):
    _, _, graph, risk, emerging = demo
    request = PatrolRequest(*BASE, 3, 8, START, timezone="Africa/Lagos")
    return plan_patrol(graph, risk, emerging, request, FAST)


def test_graph_speeds_and_river_barriers(demo):
    _, region, graph, _, _ = demo
    assert set(np.unique(graph.speed_kmh[graph.road])) <= set(FAST.road_speed_kmh.values())
    assert (graph.speed_kmh[~graph.road] <= FAST.offroad_speed_kmh).all()
    lat, lon = cell_centres(graph.cells)
    edges = shapely.linestrings(
        np.stack(
            [
                np.column_stack([lon[graph.src], lat[graph.src]]),
                np.column_stack([lon[graph.dst], lat[graph.dst]]),
            ],
            axis=1,
        )
    )
    rivers = shapely.union_all(region.read("rivers").geometry.to_numpy())
    wet = shapely.intersects(edges, rivers)
    assert wet.any()  # bridges exist
    assert (graph.road[graph.src[wet]] & graph.road[graph.dst[wet]]).all()
    # every edge joins H3 neighbours
    pairs = zip(graph.src[:500], graph.dst[:500], strict=True)
    assert all(
        h3.are_neighbor_cells(
            h3.int_to_str(int(graph.cells[a])), h3.int_to_str(int(graph.cells[b]))
        )
        for a, b in pairs
    )


def test_plan_beats_greedy_and_fits_the_shift(plan):
    assert plan.collected_risk > plan.greedy_collected_risk
    cells = [s.cell for t in plan.teams for s in t.stops]
    assert len(cells) == len(set(cells)) > 10
    for team in plan.teams:
        assert team.minutes <= 8 * 60
        etas = [s.eta for s in team.stops]
        assert etas == sorted(etas) and all(START < e < START + timedelta(hours=8) for e in etas)
        assert team.path[0] == team.path[-1] == plan.base_cell
        hexes = [h3.int_to_str(int(c)) for c in team.path]
        assert all(h3.are_neighbor_cells(a, b) for a, b in pairwise(hexes) if a != b)
        assert {s.cell for s in team.stops} <= set(team.path.tolist())


def test_json_report_has_the_spec_shape(plan):
    report = plan.to_dict()
    assert set(report) >= {"teams", "collected_risk", "greedy_collected_risk"}
    team = report["teams"][0]
    assert set(team) >= {"team", "duration_h", "collected_risk", "waypoints"}
    assert set(team) >= {"depart", "return", "distance_km"}
    waypoint = team["waypoints"][0]
    assert set(waypoint) >= {"lat", "lon", "cell", "eta", "reason"}
    assert set(waypoint) >= {"arrive", "depart", "leg_km", "leg_min", "look_for", "cells", "stop"}
    assert h3.is_valid_cell(waypoint["cell"]) and waypoint["eta"].endswith("Z")
    assert waypoint["reason"].startswith("risk ") and " on 2026-03-04" in waypoint["reason"]


def test_times_are_local_and_legs_add_up(plan):
    report = plan.to_dict()
    for team, route in zip(report["teams"], plan.teams, strict=True):
        assert team["depart"] == "2026-03-04T19:00:00+01:00"  # Africa/Lagos, 18:00 UTC
        legs = [w["leg_km"] for w in team["waypoints"]] + [team["return_leg_km"]]
        assert team["distance_km"] == pytest.approx(sum(legs), abs=0.2)
        for w, stop in zip(team["waypoints"], route.stops, strict=True):
            arrive = datetime.fromisoformat(w["arrive"])
            assert arrive == stop.eta and w["arrive"].endswith("+01:00")
            assert datetime.fromisoformat(w["depart"]) - arrive >= timedelta(minutes=20)
        minutes = sum(w["leg_min"] for w in team["waypoints"]) + team["return_leg_min"]
        assert minutes <= route.minutes + 1e-6


def test_neighbouring_targets_are_one_stop(plan):
    stops = [s for t in plan.teams for s in t.stops]
    assert any(len(s.cells) > 1 for s in stops)
    for stop in stops:
        first = h3.int_to_str(stop.cell)
        assert stop.cells[0] == stop.cell
        assert all(h3.grid_distance(first, h3.int_to_str(c)) <= 1 for c in stop.cells)
    seeds = [h3.int_to_str(s.cell) for s in stops]
    assert not any(h3.are_neighbor_cells(a, b) for a in seeds for b in seeds if a != b)


def test_stops_say_what_to_look_for(demo, plan):
    ws, region, graph, *_ = demo
    evidence = read_evidence(Workspace(ws), region, START, FAST)
    describe_stops(plan, evidence, graph, FAST)
    texts = [s.look_for for t in plan.teams for s in t.stops]
    assert all(texts)
    assert any(re.search(r"; \d+ in the last 7 days", t) for t in texts)
    assert any(re.search(r"\d+ km (north|south|east|west)[a-z-]* of [A-Z]", t) for t in texts)
    assert any(t.startswith(("night ", "unofficial", "vehicles", "off-road")) for t in texts)
    french = [s.look_for_fr for t in plan.teams for s in t.stops]
    assert all(french) and french != texts
    assert any(re.search(r" ; \d+ ces 7 derniers jours", t) for t in french)
    assert any(re.search(r"à \d+ km (au|à l')[a-z' -]* de [A-Z]", t) for t in french)


def test_gpx_parses_with_gpxpy_and_geojson_has_routes(plan):
    gpx = gpxpy.parse(plan.to_gpx())
    stops = sum(len(t.stops) for t in plan.teams)
    assert len(gpx.waypoints) == stops + 1 and len(gpx.routes) == 3
    assert gpx.waypoints[1].time is not None and gpx.routes[0].points
    assert 'version="1.1"' in plan.to_gpx()
    kinds = [f["properties"]["kind"] for f in plan.to_geojson()["features"]]
    assert kinds.count("route") == 3 and kinds.count("waypoint") == stops


def test_no_waypoint_or_path_in_impassable_cells(demo):
    _, region, _, risk, emerging = demo
    steep = FAST.model_copy(update={"slope_limit_deg": 0.15})
    graph = build_travel_graph(region, steep)
    lat, lon = cell_centres(graph.cells)
    slope = Terrain(region.raster_path("elevation")).sample(lat, lon)[1]
    blocked = graph.speed_kmh == 0
    assert blocked.sum() > 0.2 * len(graph.cells) and (slope[blocked] > 0.15).all()
    plan = plan_patrol(graph, risk, emerging, PatrolRequest(*BASE, 2, 6, START), steep)
    for team in plan.teams:
        assert (graph.speed_kmh[graph.index(team.path)] > 0).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_plans_differ_and_stay_near_optimal(demo, plan, seed):
    _, _, graph, risk, emerging = demo
    request = PatrolRequest(*BASE, 3, 8, START, seed=seed)
    seeded = plan_patrol(graph, risk, emerging, request, FAST)
    fixed = {s.cell for t in plan.teams for s in t.stops}
    assert {s.cell for t in seeded.teams for s in t.stops} != fixed
    assert seeded.collected_risk >= FAST.near_optimal_share * plan.collected_risk - 1e-9
    assert seeded.collected_risk >= seeded.greedy_collected_risk - 1e-9
    assert all(t.minutes <= 8 * 60 for t in seeded.teams)


def test_a_base_far_from_the_border_plans_with_transit(demo):
    _, region, graph, risk, emerging = demo
    transit = build_transit_graph(region, FAST)
    parakou = (9.35, 2.61)
    assert graph.index(latlng_to_cells(np.array([9.35]), np.array([2.61]), 8))[0] < 0
    with pytest.raises(PatrolError, match="outside the region's travel graph"):
        plan_patrol(graph, risk, emerging, PatrolRequest(*parakou, 3, 8, START), FAST)
    access = base_access(graph, transit, *parakou)
    request = PatrolRequest(*parakou, 3, 8, START, timezone="Africa/Lagos")
    plan = plan_patrol(graph, risk, emerging, request, FAST, access)
    assert sum(len(t.stops) for t in plan.teams) >= 3
    for team in plan.teams:
        assert team.minutes <= 8 * 60
        first = team.stops[0]
        assert first.leg_min >= access.minutes.min()  # the transit is driven, and counted
        for stop in team.stops:  # border targets: in the border zone's graph
            assert graph.index(np.array(stop.cells, dtype=np.uint64)).min() >= 0
        fine = team.path[graph.index(team.path) >= 0]
        coarse = team.path[graph.index(team.path) < 0]
        assert (graph.speed_kmh[graph.index(fine)] > 0).all()  # never an impassable cell
        assert (transit.speed_kmh[transit.index(coarse)] > 0).all()
        assert h3.get_resolution(h3.int_to_str(int(team.path[0]))) == FAST.transit_resolution
    gpx = gpxpy.parse(plan.to_gpx())
    assert gpx.waypoints[0].name == "BASE" and gpx.waypoints[0].latitude == 9.35
    assert len(gpx.routes) == 3 and all(len(r.points) > 10 for r in gpx.routes)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (PatrolRequest(12.9, 5.1, 3, 8, START), "outside the region"),
        (PatrolRequest(*BASE, 0, 8, START), "teams must be at least 1"),
        (PatrolRequest(*BASE, 1, 0.05, START), "shorter than any trip"),
    ],
)
def test_bad_requests_are_clear_errors(demo, request_, message):
    _, _, graph, risk, emerging = demo
    with pytest.raises(PatrolError, match=message):
        plan_patrol(graph, risk, emerging, request_, FAST)


def test_cli_plan_prints_the_report_and_writes_gpx(demo, tmp_path):
    ws, *_ = demo
    gpx = tmp_path / "plan.gpx"
    args = ["patrol", "plan", "--workspace", str(ws), "--region", str(ws / "region")]
    args += ["--base", f"{BASE[0]},{BASE[1]}", "--teams", "2", "--hours", "4"]
    args += ["--start", "2026-03-04T18:00:00Z", "--seed", "3", "--gpx", str(gpx), "--json"]
    result = CliRunner().invoke(cli_app, args, env={"GEOINT_PATROL__SOLVER_TIME_S": "0.5"})
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert len(report["teams"]) == 2 and report["collected_risk"] > 0
    assert gpxpy.parse(gpx.read_text()).waypoints


def test_cli_table_fits_80_columns_in_local_time(demo):
    ws, *_ = demo
    args = ["patrol", "plan", "--workspace", str(ws), "--region", str(ws / "region")]
    args += ["--base", f"{BASE[0]},{BASE[1]}", "--teams", "2", "--hours", "6"]
    args += ["--start", "2026-03-04T18:00:00Z"]
    env = {"GEOINT_PATROL__SOLVER_TIME_S": "0.5", "COLUMNS": "80"}
    result = CliRunner().invoke(cli_app, args, env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].startswith("Shift from 2026-03-04 19:00")
    assert sum(line.startswith("Team ") and "leaves 19:00" in line for line in lines) == 2
    assert any(" in the last 7 days" in line or "km" in line for line in lines)


def test_cli_table_in_french_keeps_its_columns_and_json_stays_neutral(demo):
    ws, *_ = demo
    args = ["patrol", "plan", "--workspace", str(ws), "--region", str(ws / "region")]
    args += ["--base", f"{BASE[0]},{BASE[1]}", "--teams", "2", "--hours", "6", "--seed", "3"]
    args += ["--start", "2026-03-04T18:00:00Z"]
    env = {"GEOINT_PATROL__SOLVER_TIME_S": "0.5", "COLUMNS": "80", "GEOINT_LANG": "fr"}
    result = CliRunner().invoke(cli_app, args, env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Service du 2026-03-04 19:00")
    assert sum(line.startswith("Équipe ") and "départ 19:00" in line for line in lines) == 2
    heading = next(line for line in lines if line.lstrip().startswith("#"))
    english = "  #  arrive  depart  leg km  min  position            cells   risk"
    assert heading.startswith("  #  arrivé") and len(heading) == len(english)
    assert any(line.startswith("     retour à la base") for line in lines)
    assert lines[-1].startswith("risque couvert")
    assert max(len(line) for line in lines) <= 80
    french = CliRunner().invoke(cli_app, [*args, "--json"], env=env)
    plan = orjson.loads(french.stdout)  # JSON: the same fields and words in every language
    assert {"teams", "collected_risk"} <= set(plan) and "Équipe" not in french.stdout


def test_cli_bad_base_is_one_line(demo):
    ws, *_ = demo
    command = [sys.executable, "-m", "geoint", "patrol", "plan", "--workspace", str(ws)]
    command += ["--region", str(ws / "region"), "--base", "north", "--teams", "1"]
    command += ["--hours", "8", "--start", "2026-03-04T18:00:00Z", "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: base: expected 'LAT,LON' in degrees, got 'north'"


def test_api_plans_for_analysts_only_and_maps_errors(demo):
    ws, *_ = demo
    keys = {role: create_key(ws, role) for role in ("analyst", "feeder")}
    body = {"base": f"{BASE[0]},{BASE[1]}", "teams": 2, "hours": 4, "start": "2026-03-04T18:00Z"}
    settings = api_settings(ws, ws / "region").model_copy(update={"patrol": FAST})
    with TestClient(create_app(settings)) as client:
        url = "/api/v1/patrols/plan"
        done = client.post(url, json=body, headers=bearer(keys["analyst"]))
        assert done.status_code == 200 and set(done.json()) >= {"teams", "greedy_collected_risk"}
        done = client.post(
            url, params={"format": "gpx"}, json=body, headers=bearer(keys["analyst"])
        )
        assert done.headers["content-type"].startswith("application/gpx+xml")
        assert len(gpxpy.parse(done.text).routes) == 2
        assert client.post(url, json=body, headers=bearer(keys["feeder"])).status_code == 403
        done = client.post(url, json=body | {"teams": 0}, headers=bearer(keys["analyst"]))
        assert done.status_code == 422 and done.headers["content-type"] == PROBLEM
        assert "teams must be at least 1" in done.json()["detail"]


def test_emerging_hot_spots_are_boosted(demo):
    _, _, graph, risk, _ = demo
    ranked = rank_targets(risk, None, graph, START, FAST)
    second = int(ranked["cell"][1])
    emerging = pl.DataFrame(
        {"cell": [second], "emerging": ["new hot spot"]},
        schema={"cell": pl.UInt64, "emerging": pl.String},
    )
    boosted = rank_targets(
        risk, emerging, graph, START, FAST.model_copy(update={"emerging_boost": 1.0})
    )
    assert int(boosted["cell"][0]) == second
    assert boosted["prize"][0] == pytest.approx(2 * boosted["risk"][0])
    assert ranked["date"].max() == START.date()


def test_rivers_are_barriers_except_where_a_road_bridges_them(tmp_path):
    region = build_toy_region(tmp_path / "toy")  # border on 3°E, roads along 7°N and 8°N
    river = shapely.segmentize(shapely.LineString([(2.0, 7.5), (4.0, 7.5)]), 0.01)
    region.add_frame("rivers", gpd.GeoDataFrame(geometry=[river], crs=4326), source="test")
    south, north = latlng_to_cells(np.array([7.2, 7.8]), np.array([2.95, 2.95]), 8)

    def crossing(graph):
        rows = graph.index(np.array([south, north], dtype=np.uint64))
        minutes, previous = dijkstra(graph.matrix, indices=rows[0], return_predecessors=True)
        if not np.isfinite(minutes[rows[1]]):
            return None
        path = [rows[1]]
        while path[-1] != rows[0]:
            path.append(previous[path[-1]])
        lat, lon = cell_centres(graph.cells[path])
        return lon[np.argmin(np.abs(lat - 7.5))]

    graph = build_travel_graph(region, FAST)
    on_roads = graph.index(latlng_to_cells(np.array([8.0, 7.0]), np.array([3.1, 3.1]), 8))
    assert graph.speed_kmh[on_roads].tolist() == [70, 80]  # primary, trunk
    assert crossing(graph) is None  # no road crosses the river: the north is out of reach
    bridge = shapely.segmentize(shapely.LineString([(2.9, 6.9), (2.9, 8.1)]), 0.01)
    region.add_frame(
        "roads", gpd.GeoDataFrame({"class": ["track"]}, geometry=[bridge], crs=4326), source="test"
    )
    assert crossing(build_travel_graph(region, FAST)) == pytest.approx(2.9, abs=0.01)


def test_api_records_debriefs_for_units_and_analysts(demo):
    ws, *_ = demo
    keys = {"unit": create_key(ws, "unit", ("S1",)), "feeder": create_key(ws, "feeder")}
    cell = h3.latlng_to_cell(*BASE, 8)
    body = {"outcomes": f"cell,outcome,minutes,time\n{cell},nothing,30,2026-03-04T19:00Z\n"}
    settings = api_settings(ws, ws / "region").model_copy(update={"patrol": FAST})
    with TestClient(create_app(settings)) as client:
        url = "/api/v1/patrols/debrief"
        done = client.post(url, json=body, headers=bearer(keys["unit"]))
        assert done.status_code == 200, done.text
        assert done.json()["accepted"] == 1 and done.json()["minutes"] == 30
        again = client.post(url, json=body, headers=bearer(keys["unit"]))
        assert again.json()["already_recorded"] is True
        assert client.post(url, json=body, headers=bearer(keys["feeder"])).status_code == 403
        done = client.post(url, json={"track": 3}, headers=bearer(keys["unit"]))
        assert done.status_code == 422 and done.headers["content-type"] == PROBLEM
        assert {e["field"] for e in done.json()["errors"]} == {"outcomes", "track"}


def test_map_draws_numbered_stops_from_geojson_and_gpx(demo, plan, tmp_path):
    from geoint.patrol.plan import read_plan_file
    from geoint.serve.map_data import map_data
    from geoint.web.map import build_map, to_html

    ws, region, *_ = demo
    (tmp_path / "p.gpx").write_text(plan.to_gpx())
    (tmp_path / "p.geojson").write_bytes(orjson.dumps(plan.to_geojson()))
    stops = sum(len(t.stops) for t in plan.teams)
    for name in ("p.gpx", "p.geojson"):
        drawn = read_plan_file(tmp_path / name)
        html = to_html(build_map(region, map_data(Workspace(ws), None, None), patrol=drawn))
        assert html.count('class=\\"geoint-stop\\"') + html.count('class="geoint-stop"') == stops
        assert "Patrol plan (numbered stops; B: base)" in html
        assert all(f"Team {t.team}: {len(t.stops)} stops" in html for t in plan.teams)
    (tmp_path / "bad.gpx").write_text("<gpx><nothing/></gpx>")
    with pytest.raises(PatrolError, match=r"bad\.gpx: the GPX file holds no base"):
        read_plan_file(tmp_path / "bad.gpx")


def test_brief_of_a_real_plan_prints_one_page_per_team(demo, plan, tmp_path):
    from pypdf import PdfReader

    ws, region, graph, *_ = demo
    describe_stops(plan, read_evidence(Workspace(ws), region, START, FAST), graph, FAST)
    payload = plan.to_dict()
    routes = [f for f in plan.to_geojson()["features"] if f["properties"]["kind"] == "route"]
    assert [t["route"] for t in payload["teams"]] == [f["geometry"]["coordinates"] for f in routes]
    (tmp_path / "plan.json").write_bytes(orjson.dumps(payload))
    for name, lang in (("brief.pdf", "en"), ("brief.html", "fr")):
        args = ["patrol", "brief", str(tmp_path / "plan.json"), "-w", str(ws), "--lang", lang]
        done = CliRunner().invoke(cli_app, [*args, "--out", str(tmp_path / name)])
        assert done.exit_code == 0, done.output
    pages = PdfReader(tmp_path / "brief.pdf").pages
    assert len(pages) == len(plan.teams)
    first = plan.teams[0].stops[0]
    assert plan.local(first.eta)[11:16] in pages[0].extract_text()
    render = ["pdftoppm", "-r", "30", "-png", str(tmp_path / "brief.pdf"), str(tmp_path / "p")]
    subprocess.run(render, check=True)
    assert len(list(tmp_path.glob("p-*.png"))) == len(plan.teams)
    page = (tmp_path / "brief.html").read_text(encoding="utf-8")
    assert page.count('<section class="team"') == len(plan.teams) and "Fiche de patrouille" in page
    assert html.escape(plan.teams[0].stops[0].look_for_fr) in page


def test_cells_only_seizures_know_are_ranked_as_targets(demo):
    """A seizure where no tracked vehicle ever passed gives its cell risk rows on the days
    after it (issue 20: without them such a cell could never be a patrol target)."""
    ws, _, graph, risk, _ = demo
    days = read_table(ws, "days")
    pinged = days.filter(pl.col("pings") > 0)["cell"].unique()
    # rows of cells no vehicle pinged, on days without events or seizures there: evidence only
    unseen = days.filter(
        ~pl.col("cell").is_in(pinged.implode()), pl.col("seizures") == 0, pl.col("events") == 0
    )
    assert unseen.height and (unseen["c_seizure_prior"] > 0).all() and (unseen["risk"] > 0).all()
    day = unseen["date"].max()
    cells = set(unseen.filter(pl.col("date") == day)["cell"].to_list())
    assert cells <= set(risk.filter(pl.col("date") == day)["cell"].to_list())
    start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=18)
    wide = FAST.model_copy(update={"candidates": 500})
    ranked = set(rank_targets(risk, None, graph, start, wide)["cell"].to_list())
    assert cells & ranked  # in the travel graph and rankable: a possible stop

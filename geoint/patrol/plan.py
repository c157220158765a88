"""Patrol planning (SPEC §9, docs/patrol.md): risk targets, the team orienteering problem, outputs.

The travel graph comes in as arrays (`TravelGraph`, built by ``geoint.patrol.travel``); this
module ranks target cells by risk, computes shortest travel times between the base and the
targets on the graph (scipy Dijkstra), solves the team orienteering problem with OR-Tools
routing (optional visits whose drop penalties are the risk prizes, the shift as the capacity of
a time dimension) and writes the plan as JSON (SPEC §12), GeoJSON and GPX 1.1.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import gpxpy
import gpxpy.gpx
import numpy as np
import orjson
import polars as pl
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geoint.errors import PatrolError, WorkspaceError
from geoint.geodesy import haversine_m
from geoint.h3index import cell_centres, cells_to_hex, grid_disks, latlng_to_cells
from geoint.settings import PatrolSettings
from geoint.store.cell_tables import EMERGING, RISK, read_table
from geoint.store.workspace import Workspace
from geoint.times import as_utc

# Prizes enter OR-Tools as integers: one risk point is worth this many "seconds" of travel, so
# that travel time only breaks ties between plans whose prizes differ by < 0.1 point.
_PRIZE_SCALE = 1_000_000
_HOT_CLASSES = ("new", "consecutive", "intensifying", "persistent", "sporadic", "oscillating")
_REASON_FACTORS = 3
_EXTRA_OPERATORS = (
    "use_extended_swap_active",
    "use_relocate_and_make_active",
    "use_exchange_and_make_active",
    "use_exchange_path_start_ends_and_make_active",
    "use_inactive_lns",
    "use_path_lns",
    "use_tsp_opt",
)
_STOP_NAME = re.compile(r"T(\d+)-(\d+)")
_TEAM_NAME = re.compile(r"Team (\d+)")
_GLS_LAMBDA = 1.0  # stronger than the default 0.1: escapes the local optima of dropped visits


@dataclass(frozen=True)
class TravelGraph:
    """The H3 travel graph of a region: every cell of its area and the edges between passable ones.

    ``cells`` is sorted (uint64); ``speed_kmh`` is 0 where a cell is impassable; ``src``/``dst``
    index ``cells`` (both directions listed) and ``minutes`` is each edge's travel time.
    """

    resolution: int
    cells: np.ndarray
    speed_kmh: np.ndarray
    road: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    minutes: np.ndarray

    def index(self, cells: np.ndarray) -> np.ndarray:
        """Return the row of each cell in ``cells`` (-1 where it is not in the graph)."""
        cells = np.asarray(cells, dtype=np.uint64)
        if len(self.cells) == 0:
            return np.full(len(cells), -1)
        rows = np.searchsorted(self.cells, cells)
        rows = np.minimum(rows, len(self.cells) - 1)
        return np.where(self.cells[rows] == cells, rows, -1)

    @cached_property
    def matrix(self) -> csr_matrix:
        """The sparse adjacency matrix of edge minutes."""
        n = len(self.cells)
        return csr_matrix((self.minutes, (self.src, self.dst)), shape=(n, n))


@dataclass(frozen=True)
class BaseAccess:
    """How a base outside the travel graph reaches it: transit over a coarser graph.

    ``rows`` are the graph rows where the transit enters the graph, ``minutes`` the transit
    time to each, ``paths`` the cells (of the coarser resolution) of each transit, base first.
    """

    rows: np.ndarray
    minutes: np.ndarray
    paths: list[np.ndarray]


@dataclass(frozen=True)
class PatrolRequest:
    """One shift: base, teams, length, start (UTC), the optional seed of unpredictable mode
    and the time zone its times are shown in (the region's)."""

    base_lat: float
    base_lon: float
    teams: int
    hours: float
    start: datetime
    seed: int | None = None
    timezone: str = "UTC"


@dataclass
class Stop:
    """A stop of a team: its target cells (the first is where it stops), times and legs.

    ``leg_km`` and ``leg_min`` are the drive from the previous stop (or the base); ``look_for``
    says in words what the cells' events, alerts and seizures show (`geoint.patrol.words`),
    ``look_for_fr`` the same in French.
    """

    cell: int
    lat: float
    lon: float
    eta: datetime
    risk: float
    reason: str
    cells: list[int] = field(default_factory=list)
    depart: datetime | None = None
    leg_km: float = 0.0
    leg_min: float = 0.0
    look_for: str = ""
    look_for_fr: str = ""


@dataclass
class TeamRoute:
    """One team's ordered stops, its duration and its path of cell centres along the graph;
    ``return_km`` and ``return_min`` are the drive from the last stop back to the base."""

    team: int
    stops: list[Stop]
    minutes: float
    path: np.ndarray = field(repr=False)
    return_km: float = 0.0
    return_min: float = 0.0

    @property
    def collected_risk(self) -> float:
        """Sum of the risk of the visited targets."""
        return float(sum(s.risk for s in self.stops))

    @property
    def distance_km(self) -> float:
        """Kilometres driven from leaving the base to coming back."""
        return float(sum(s.leg_km for s in self.stops) + self.return_km)


@dataclass
class PatrolPlan:
    """A plan for every team, with the greedy baseline's collected risk on the same targets."""

    request: PatrolRequest
    base_cell: int
    teams: list[TeamRoute]
    greedy_collected_risk: float
    targets: pl.DataFrame = field(repr=False)

    @property
    def collected_risk(self) -> float:
        """Risk collected by all teams."""
        return float(sum(t.collected_risk for t in self.teams))

    def local(self, moment: datetime) -> str:
        """ISO 8601 in the request's time zone, with its offset."""
        return moment.astimezone(ZoneInfo(self.request.timezone)).isoformat()

    def to_dict(self) -> dict[str, object]:
        """The SPEC §12 JSON report, with local times, legs and words (docs/patrol.md)."""
        start = as_utc(self.request.start)
        return {
            "teams": [
                {
                    "team": t.team,
                    "duration_h": round(float(t.minutes) / 60, 3),
                    "collected_risk": round(t.collected_risk, 3),
                    "depart": self.local(start),
                    "return": self.local(start + timedelta(seconds=round(t.minutes * 60))),
                    "distance_km": round(t.distance_km, 1),
                    "return_leg_km": round(t.return_km, 1),
                    "return_leg_min": round(t.return_min, 1),
                    "route": _lon_lat(t.path),
                    "waypoints": [
                        {
                            "lat": s.lat,
                            "lon": s.lon,
                            "cell": _hex(s.cell),
                            "eta": s.eta.isoformat().replace("+00:00", "Z"),
                            "reason": s.reason,
                            "stop": f"T{t.team}-{order:02d}",
                            "cells": [_hex(c) for c in s.cells],
                            "risk": round(s.risk, 3),
                            "arrive": self.local(s.eta),
                            "depart": self.local(s.depart or s.eta),
                            "leg_km": round(s.leg_km, 1),
                            "leg_min": round(s.leg_min, 1),
                            "look_for": s.look_for,
                            "look_for_fr": s.look_for_fr,
                        }
                        for order, s in enumerate(t.stops, 1)
                    ],
                }
                for t in self.teams
            ],
            "collected_risk": round(self.collected_risk, 3),
            "greedy_collected_risk": round(self.greedy_collected_risk, 3),
            "timezone": self.request.timezone,
            "base": {"lat": self.request.base_lat, "lon": self.request.base_lon},
            "start": self.local(start),
        }

    def to_geojson(self) -> dict[str, object]:
        """GeoJSON: the base, each waypoint (with ETA and reason) and each team's route line."""
        features: list[dict[str, object]] = [
            _point(self.request.base_lon, self.request.base_lat, {"kind": "base"})
        ]
        for t in self.teams:
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": _lon_lat(t.path)},
                    "properties": {
                        "kind": "route",
                        "team": t.team,
                        "duration_h": round(float(t.minutes) / 60, 3),
                        "collected_risk": round(t.collected_risk, 3),
                        "distance_km": round(t.distance_km, 1),
                        "stops": len(t.stops),
                    },
                }
            )
            for order, s in enumerate(t.stops, 1):
                props = {"kind": "waypoint", "team": t.team, "order": order, "risk": s.risk}
                props |= {"eta": s.eta.isoformat(), "reason": s.reason}
                props |= {"arrive": self.local(s.eta), "depart": self.local(s.depart or s.eta)}
                props |= {"look_for": s.look_for, "cells": len(s.cells)}
                features.append(_point(s.lon, s.lat, props))
        return {"type": "FeatureCollection", "features": features}

    def to_gpx(self) -> str:
        """GPX 1.1: the base and the targets as waypoints, each team's path as a route."""
        gpx = gpxpy.gpx.GPX()
        gpx.creator = "geoint patrol plan"
        gpx.waypoints.append(
            gpxpy.gpx.GPXWaypoint(
                self.request.base_lat, self.request.base_lon, name="BASE", symbol="Flag"
            )
        )
        for t in self.teams:
            for order, s in enumerate(t.stops, 1):
                gpx.waypoints.append(
                    gpxpy.gpx.GPXWaypoint(
                        s.lat,
                        s.lon,
                        time=s.eta,
                        name=f"T{t.team}-{order:02d}",
                        description=s.look_for or s.reason,
                        comment=s.reason,
                    )
                )
            route = gpxpy.gpx.GPXRoute(name=f"Team {t.team}")
            lat, lon = cell_centres(t.path)
            route.points.extend(
                gpxpy.gpx.GPXRoutePoint(round(a, 6), round(o, 6))
                for a, o in zip(lat, lon, strict=True)
            )
            gpx.routes.append(route)
        return gpx.to_xml(version="1.1")


def _lon_lat(cells: np.ndarray) -> list[list[float]]:
    """[lon, lat] of each cell's centre (6 decimals): a team's route as drawn."""
    lat, lon = cell_centres(cells)
    return np.column_stack([lon, lat]).round(6).tolist()


def _hex(cell: int) -> str:
    return cells_to_hex(np.array([cell], dtype=np.uint64))[0]


def _point(lon: float, lat: float, properties: dict[str, object]) -> dict[str, object]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
        "properties": properties,
    }


def parse_base(text: str) -> tuple[float, float]:
    """(lat, lon) from 'LAT,LON' in WGS84 degrees."""
    try:
        lat, lon = (float(part) for part in text.split(","))
    except ValueError:
        raise PatrolError(f"base: expected 'LAT,LON' in degrees, got {text!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise PatrolError(f"base: {text!r} is not a WGS84 'LAT,LON' position")
    return lat, lon


def parse_start(text: str) -> datetime:
    """The shift start as an aware UTC datetime (ISO 8601; no offset means UTC)."""
    try:
        return as_utc(datetime.fromisoformat(text.strip().upper().replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        raise PatrolError(f"start: expected an ISO 8601 date-time, got {text!r}") from None


def read_risk_tables(workspace: Workspace) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The workspace's cell risk and emerging hot-spot tables (the latter may be absent)."""
    try:
        risk = read_table(workspace.root, RISK)
    except WorkspaceError as exc:
        raise PatrolError(f"no cell risk to plan on: {exc}") from None
    try:
        emerging = read_table(workspace.root, EMERGING)
    except WorkspaceError:
        emerging = None
    return risk, emerging


def rank_targets(
    risk: pl.DataFrame,
    emerging: pl.DataFrame | None,
    graph: TravelGraph,
    start: datetime,
    settings: PatrolSettings,
) -> pl.DataFrame:
    """Passable graph cells by prize on the latest risk day not after the shift's start.

    The prize is ``risk`` times ``1 + emerging_boost`` for cells in an emerging hot-spot class.
    """
    day = start.astimezone(UTC).date()
    days = risk.filter(pl.col("date") <= day)["date"]
    if days.is_empty():
        raise PatrolError(f"no cell risk on or before {day}; run 'geoint analyze' on older data")
    frame = risk.filter(pl.col("date") == days.max(), pl.col("risk") > 0)
    rows = graph.index(frame["cell"].to_numpy())
    ok = rows >= 0
    ok[ok] = graph.speed_kmh[rows[ok]] > 0
    frame = frame.filter(pl.Series(ok)).with_columns(node=pl.Series(rows[ok], dtype=pl.Int64))
    hot = pl.lit(False)
    if emerging is not None:
        classes = emerging.select("cell", pl.col("emerging").cast(pl.String))
        frame = frame.join(classes, on="cell", how="left")
        hot = pl.col("emerging").str.contains(f"^({'|'.join(_HOT_CLASSES)}) hot spot$")
    boost = pl.when(hot).then(1 + settings.emerging_boost).otherwise(1.0)
    return frame.with_columns(prize=pl.col("risk") * boost).sort(
        ["prize", "cell"], descending=[True, False]
    )


def _reason(row: dict[str, object]) -> str:
    """'risk 61.2 on 2026-03-04: events 32.1, border 9.7, night 10.0' (the top contributions)."""
    factors = sorted(
        ((k[2:], float(v)) for k, v in row.items() if k.startswith("c_") and v),
        key=lambda kv: -kv[1],
    )[:_REASON_FACTORS]
    cells = len(row.get("cells") or [None])
    where = f" in {cells} cells" if cells > 1 else ""
    text = f"risk {row['risk']:.1f}{where} on {row['date']}: " + ", ".join(
        f"{name} {value:.1f}" for name, value in factors
    )
    emerging = row.get("emerging")
    if emerging and emerging != "no pattern":
        text += f"; {emerging}"
    return text


def solve_orienteering(
    travel: np.ndarray,
    dwell: np.ndarray,
    prizes: np.ndarray,
    shift_min: float,
    teams: int,
    time_limit_s: float,
    strategies: tuple[str, ...] = ("PARALLEL_CHEAPEST_INSERTION", "ALL_UNPERFORMED"),
    initial: list[list[int]] | None = None,
    rng: np.random.Generator | None = None,
) -> list[list[int]]:
    """Routes (node lists, depot 0 excluded) maximising collected prizes, each within the shift.

    ``travel`` is the (n+1)² minute matrix with the depot first; ``dwell`` and ``prizes`` have one
    entry per node (the depot's are ignored). Visits are optional with their prize as the drop
    penalty; times are rounded up to whole seconds so that a solver-feasible route is feasible.
    Half the time limit goes to OR-Tools routing (guided local search once per first-solution
    strategy), half to `improve_routes` from the best of those plans and `initial` (the greedy
    plan); `rng` (default seed 0) drives the latter.
    """
    n = len(travel)
    horizon = int(np.floor(shift_min * 60))
    leg = (travel + np.where(np.arange(n) == 0, 0, dwell)[:, None]) * 60
    # unreachable legs (inf) cost more than the shift: never taken
    seconds = np.ceil(np.minimum(leg, horizon + 1)).astype(np.int64)
    seconds[np.arange(n), np.arange(n)] = 0
    penalties = np.maximum(np.round(prizes * _PRIZE_SCALE), 1).astype(np.int64)
    budget_ms = max(int(time_limit_s * 500 / len(strategies)), 1)
    plans = [
        _solve_once(seconds.tolist(), penalties.tolist(), teams, horizon, strategy, budget_ms)
        for strategy in strategies
    ]
    plans.extend([initial] if initial else [])
    best = max(plans, key=lambda routes: sum(float(prizes[r].sum()) for r in routes))
    rng = rng if rng is not None else np.random.default_rng(0)
    return improve_routes(best, travel, dwell, prizes, shift_min, time_limit_s / 2, rng)


def _solve_once(
    seconds: list[list[int]],
    penalties: list[int],
    teams: int,
    horizon: int,
    strategy: str,
    budget_ms: int,
) -> list[list[int]]:
    """One OR-Tools routing run (guided local search from one first-solution strategy)."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2
    from ortools.util.optional_boolean_pb2 import BOOL_TRUE

    n = len(seconds)
    manager = pywrapcp.RoutingIndexManager(n, teams, 0)
    routing = pywrapcp.RoutingModel(manager)

    def transit(i: int, j: int) -> int:
        return seconds[manager.IndexToNode(i)][manager.IndexToNode(j)]

    callback = routing.RegisterTransitCallback(transit)
    routing.SetArcCostEvaluatorOfAllVehicles(callback)
    routing.AddDimension(callback, 0, horizon, True, "time")
    for node in range(1, n):
        routing.AddDisjunction([manager.NodeToIndex(node)], penalties[node])
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, strategy)
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.guided_local_search_lambda_coefficient = _GLS_LAMBDA
    operators = params.local_search_operators
    for name in _EXTRA_OPERATORS:
        setattr(operators, name, BOOL_TRUE)
    params.time_limit.FromMilliseconds(budget_ms)
    solution = routing.SolveWithParameters(params)
    routes: list[list[int]] = []
    for vehicle in range(teams):
        index, route = routing.Start(vehicle), []
        while solution is not None and not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            if node:
                route.append(node)
            index = solution.Value(routing.NextVar(index))
        routes.append(route)
    return routes


def improve_routes(
    routes: list[list[int]],
    travel: np.ndarray,
    dwell: np.ndarray,
    prizes: np.ndarray,
    shift_min: float,
    seconds: float,
    rng: np.random.Generator,
    floor: tuple[np.ndarray, float] | None = None,
) -> list[list[int]]:
    """Iterated local search polishing a plan: drop 1-3 random visits, re-order each route
    (2-opt), insert free targets by (jittered) prize at their cheapest feasible place; keep the
    best plan (most prize, then least time). Fixes the local optima OR-Tools' search stops in.

    With `floor` = (true prizes, minimum), the plan returned collects at least the minimum of
    the true prizes (`routes` must): unpredictable mode optimises perturbed `prizes` under it.
    """
    n = len(travel)

    def key(plan: list[list[int]]) -> tuple[float, float]:
        collected = sum(float(prizes[r].sum()) for r in plan)
        return round(collected, 9), -sum(route_minutes(r, travel, dwell) for r in plan)

    def repair(plan: list[list[int]], weights: np.ndarray) -> list[list[int]]:
        plan = [_two_opt(r, travel) for r in plan]
        free = np.setdiff1d(np.arange(1, n), [j for r in plan for j in r])
        return _insert(plan, free, travel, dwell, weights, shift_min)

    best = current = repair([list(r) for r in routes], prizes)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        visited = [j for r in current for j in r]
        if not visited:
            break
        drop = rng.choice(visited, size=min(len(visited), int(rng.integers(1, 4))), replace=False)
        kept = [[j for j in r if j not in drop] for r in current]
        candidate = repair(kept, prizes * rng.uniform(0.7, 1.3, n))
        if key(candidate) >= key(current):
            current = candidate
            good = floor is None or sum(float(floor[0][r].sum()) for r in candidate) >= floor[1]
            if good and key(candidate) > key(best):
                best = candidate
    return best


def _two_opt(route: list[int], travel: np.ndarray) -> list[int]:
    """The route re-ordered by 2-opt moves until none shortens it."""
    seq = [0, *route, 0]
    improved = True
    while improved:
        improved = False
        for i in range(1, len(seq) - 2):
            a, b = seq[i - 1], seq[i]
            c, d = np.array(seq[i + 1 : -1]), np.array(seq[i + 2 :])
            gain = travel[a, b] + travel[c, d] - travel[a, c] - travel[b, d]
            if gain.max() > 1e-9:
                k = i + 1 + int(np.argmax(gain))
                seq[i : k + 1] = seq[i : k + 1][::-1]
                improved = True
    return seq[1:-1]


def _insert(
    plan: list[list[int]],
    free: np.ndarray,
    travel: np.ndarray,
    dwell: np.ndarray,
    weights: np.ndarray,
    shift_min: float,
) -> list[list[int]]:
    """Free targets, heaviest first, inserted where they add least time within the shift."""
    used = [route_minutes(r, travel, dwell) for r in plan]
    for j in free[np.argsort(-weights[free], kind="stable")]:
        best: tuple[float, int, int] | None = None
        for team, route in enumerate(plan):
            seq = np.array([0, *route, 0])
            delta = travel[seq[:-1], j] + dwell[j] + travel[j, seq[1:]] - travel[seq[:-1], seq[1:]]
            place = int(np.argmin(delta))
            if used[team] + delta[place] <= shift_min and (best is None or delta[place] < best[0]):
                best = (float(delta[place]), team, place)
        if best is not None:
            added, team, place = best
            plan[team].insert(place, int(j))
            used[team] += added
    return plan


def greedy_orienteering(
    travel: np.ndarray, dwell: np.ndarray, prizes: np.ndarray, shift_min: float, teams: int
) -> list[list[int]]:
    """The baseline: each team in turn drives to the unvisited target of best prize per minute
    (travel and dwell) from which it can still return to base, until none is left."""
    free = np.ones(len(travel), dtype=bool)
    free[0] = False
    routes = []
    for _ in range(teams):
        here, clock, route = 0, 0.0, []
        while True:
            cost = travel[here] + dwell
            fits = free & (clock + cost + travel[:, 0] <= shift_min)
            if not fits.any():
                break
            score = np.where(fits, prizes / np.maximum(cost, 1e-9), -np.inf)
            here = int(np.argmax(score))
            clock += cost[here]
            free[here] = False
            route.append(here)
        routes.append(route)
    return routes


def route_minutes(route: list[int], travel: np.ndarray, dwell: np.ndarray) -> float:
    """Minutes from leaving the base to returning, dwell included."""
    nodes = np.array([0, *route, 0])
    return float(travel[nodes[:-1], nodes[1:]].sum() + dwell[nodes[1:-1]].sum())


def plan_patrol(
    graph: TravelGraph,
    risk: pl.DataFrame,
    emerging: pl.DataFrame | None,
    request: PatrolRequest,
    settings: PatrolSettings,
    access: BaseAccess | None = None,
    greedy_only: bool = False,
) -> PatrolPlan:
    """Plan one shift: stops, shortest travel times, OR-Tools routes, greedy baseline.

    A base outside `graph` needs its `access` (`geoint.patrol.travel.base_access`): the teams
    drive it to the graph and back, and that time counts in the shift. `greedy_only` returns
    the greedy baseline's routes as the plan (`geoint bench patrol-season` compares them).
    """
    _check_request(request, settings)
    shift_min = request.hours * 60
    start = as_utc(request.start)
    lat, lon = np.array([request.base_lat]), np.array([request.base_lon])
    base_cell = int(latlng_to_cells(lat, lon, graph.resolution)[0])
    base = int(graph.index(np.array([base_cell], dtype=np.uint64))[0])
    matrix = graph.matrix
    if base < 0 and access is not None and len(access.rows):
        base, matrix = len(graph.cells), _with_base(graph, access)
    elif base < 0:
        raise PatrolError(
            f"base {request.base_lat},{request.base_lon} is outside the region's travel graph "
            "and no road or passable ground joins it to the border zone"
        )
    elif graph.speed_kmh[base] <= 0:
        raise PatrolError(
            f"base {request.base_lat},{request.base_lon} lies in an impassable cell (too steep)"
        )
    ranked = rank_targets(risk, emerging, graph, start, settings).filter(pl.col("node") != base)
    out = dijkstra(matrix, indices=base, limit=shift_min)
    round_trip = 2 * out[ranked["node"].to_numpy()] + settings.dwell_min
    fits = round_trip <= shift_min
    if not fits.any():
        shortest = np.min(round_trip) if len(round_trip) else np.inf
        raise PatrolError(
            f"the {request.hours:g} h shift is shorter than any trip from the base to a target "
            f"and back (the shortest takes {shortest / 60:.2f} h)"
            if np.isfinite(shortest)
            else f"no target with risk can be reached and left within the {request.hours:g} h shift"
        )
    targets = group_stops(ranked.filter(pl.Series(fits)), settings)
    nodes = np.concatenate([[base], targets["node"].to_numpy()])
    times, predecessors = dijkstra(matrix, indices=nodes, return_predecessors=True, limit=shift_min)
    travel = times[:, nodes]
    dwell = np.concatenate([[0.0], targets["dwell"].to_numpy()])
    risk_prizes = np.concatenate([[0.0], targets["prize"].to_numpy()])
    risks = np.concatenate([[0.0], targets["risk"].to_numpy()])
    greedy = greedy_orienteering(travel, dwell, risk_prizes, shift_min, request.teams)
    greedy_risk = float(sum(risks[r].sum() for r in greedy))
    routes = greedy
    if not greedy_only:
        routes = solve_orienteering(
            travel,
            dwell,
            risk_prizes,
            shift_min,
            request.teams,
            settings.solver_time_s,
            settings.solver_strategies,
            greedy,
        )
    if request.seed is not None and not greedy_only:
        # unpredictable mode: the best plan for randomly perturbed prizes among the plans that
        # collect at least near_optimal_share of the deterministic plan's risk, and no less
        # than the greedy baseline
        rng = np.random.default_rng(request.seed)
        spread = settings.unpredictability
        perturbed = risk_prizes * rng.uniform(1 - spread, 1 + spread, len(risk_prizes))
        fixed = sum(float(risks[r].sum()) for r in routes)
        minimum = min(max(settings.near_optimal_share * fixed, greedy_risk), fixed)
        routes = improve_routes(
            routes,
            travel,
            dwell,
            perturbed,
            shift_min,
            settings.solver_time_s / 2,
            rng,
            floor=(risks, minimum),
        )
    legs = _Legs(graph, access, predecessors, nodes)
    rows = targets.to_dicts()
    teams = [
        _team_route(i + 1, route, travel, dwell, legs, rows, start)
        for i, route in enumerate(routes)
    ]
    return PatrolPlan(
        request=request,
        base_cell=base_cell,
        teams=teams,
        greedy_collected_risk=greedy_risk,
        targets=targets,
    )


def _check_request(request: PatrolRequest, settings: PatrolSettings) -> None:
    """Refuse a request outside the settings' limits, naming the field."""
    if not 1 <= request.teams <= settings.max_teams:
        raise PatrolError(
            f"teams must be at least 1 and at most {settings.max_teams}, got {request.teams}"
        )
    if not 0 < request.hours <= settings.max_shift_h:
        raise PatrolError(
            f"the shift must last more than 0 and at most {settings.max_shift_h:g} hours, "
            f"got {request.hours}"
        )
    if request.seed is not None and request.seed < 0:
        raise PatrolError(f"seed must be a non-negative integer, got {request.seed}")
    try:
        ZoneInfo(request.timezone)
    except (ValueError, KeyError):
        raise PatrolError(
            f"timezone: expected an IANA time zone, got {request.timezone!r}"
        ) from None


def _with_base(graph: TravelGraph, access: BaseAccess) -> csr_matrix:
    """The graph's matrix with one more node, the base, joined to its transit entries."""
    n = len(graph.cells)
    hub = np.full(len(access.rows), n)
    src = np.concatenate([graph.src, hub, access.rows])
    dst = np.concatenate([graph.dst, access.rows, hub])
    minutes = np.concatenate([graph.minutes, access.minutes, access.minutes])
    return csr_matrix((minutes, (src, dst)), shape=(n + 1, n + 1))


def group_stops(ranked: pl.DataFrame, settings: PatrolSettings) -> pl.DataFrame:
    """The top `candidates` stops: each target with the lower-prize targets around it.

    Targets are taken by prize; one that is not yet in a stop starts one and takes every free
    target within `stop_rings` H3 rings of it, so that neighbouring cells are one stop, not
    several. A stop's prize and risk are its cells' sums; its dwell is `dwell_min` plus
    `dwell_extra_cell_min` per extra cell. The loop runs over at most a few hundred cells.
    """
    pool = ranked.head(settings.candidates * 7)
    cells = pool["cell"].to_numpy().astype(np.uint64)
    rows, around = grid_disks(cells, settings.stop_rings)
    position = {int(c): i for i, c in enumerate(cells)}
    members: dict[int, list[int]] = {}
    owner = np.full(len(cells), -1)
    for i in range(len(cells)):
        if owner[i] >= 0:
            continue
        owner[i] = i
        members[i] = [i]
        for cell in around[rows == i]:
            j = position.get(int(cell), -1)
            if j >= 0 and owner[j] < 0:
                owner[j] = i
                members[i].append(j)
        if len(members) == settings.candidates:
            break
    seeds = np.fromiter(members, dtype=np.int64)
    sizes = np.array([len(members[i]) for i in seeds])
    grouped = [cells[members[i]] for i in seeds]
    return pool[seeds].with_columns(
        risk=pl.Series([float(pool["risk"].to_numpy()[members[i]].sum()) for i in seeds]),
        prize=pl.Series([float(pool["prize"].to_numpy()[members[i]].sum()) for i in seeds]),
        seed_risk=pool["risk"][seeds],
        cells=pl.Series(grouped, dtype=pl.List(pl.UInt64)),
        dwell=pl.Series(settings.dwell_min + settings.dwell_extra_cell_min * (sizes - 1.0)),
    )


@dataclass(frozen=True)
class _Legs:
    """Cell paths between the plan's nodes: graph paths, and transits to an outside base."""

    graph: TravelGraph
    access: BaseAccess | None
    predecessors: np.ndarray
    nodes: np.ndarray

    def base(self) -> np.ndarray:
        """The base's cell (of the transit's resolution when the base is outside the graph)."""
        n = len(self.graph.cells)
        if self.nodes[0] < n or self.access is None:
            return self.graph.cells[self.nodes[:1]]
        return self.access.paths[0][:1]

    def cells(self, a: int, b: int) -> np.ndarray:
        """The cells from node `a` to node `b`, both included."""
        if a == b:
            return self.base() if a == 0 else self.graph.cells[self.nodes[a : a + 1]]
        rows = _path(self.predecessors[a], self.nodes[a], self.nodes[b])
        n = len(self.graph.cells)
        inner = self.graph.cells[[r for r in rows if r < n]]
        if self.access is None or (rows[0] < n and rows[-1] < n):
            return inner
        entries = {int(r): k for k, r in enumerate(self.access.rows)}
        parts = [inner]
        if rows[0] == n:
            parts.insert(0, self.access.paths[entries[rows[1]]])
        if rows[-1] == n:
            parts.append(self.access.paths[entries[rows[-2]]][::-1])
        return np.concatenate(parts).astype(np.uint64)


def _km(cells: np.ndarray) -> float:
    """Kilometres along the centres of a cell path."""
    lat, lon = cell_centres(cells)
    return float(haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]).sum() / 1000)


def _team_route(
    team: int,
    route: list[int],
    travel: np.ndarray,
    dwell: np.ndarray,
    legs: _Legs,
    rows: list[dict[str, object]],
    start: datetime,
) -> TeamRoute:
    """The stops with arrival and departure times, legs, and the cell path of one route."""
    stops, path, clock = [], [legs.base()], 0.0
    return_km = return_min = 0.0
    sequence = [0, *route, 0]
    for a, b in pairwise(sequence):
        cells = legs.cells(a, b)
        path.append(cells[1:])
        clock += travel[a, b]
        if not b:
            return_km, return_min = _km(cells), float(travel[a, b])
            continue
        row = rows[b - 1]
        lat, lon = cell_centres(np.array([row["cell"]], dtype=np.uint64))
        eta = start + timedelta(seconds=round(clock * 60))
        clock += dwell[b]
        stops.append(
            Stop(
                int(row["cell"]),
                round(float(lat[0]), 6),
                round(float(lon[0]), 6),
                eta,
                float(row["risk"]),
                _reason(row),
                cells=[int(c) for c in row["cells"]],
                depart=start + timedelta(seconds=round(clock * 60)),
                leg_km=_km(cells),
                leg_min=float(travel[a, b]),
            )
        )
    return TeamRoute(
        team, stops, float(clock), np.concatenate(path).astype(np.uint64), return_km, return_min
    )


def _path(predecessors: np.ndarray, source: int, target: int) -> list[int]:
    """Graph rows from `source` to `target` along Dijkstra's predecessor tree."""
    path = [target]
    while path[-1] != source:
        path.append(int(predecessors[path[-1]]))
    return path[::-1]


def read_plan_file(path: Path) -> dict[str, object]:
    """A plan as GeoJSON (the shape of `PatrolPlan.to_geojson`) from its GeoJSON or GPX file.

    GPX: the waypoint ``BASE`` is the base, ``T<team>-<order>`` a stop (time, description as
    what to look for, comment as the reason), each route or track a team's line (``Team N``).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PatrolError(f"{path}: cannot read the plan ({exc})") from None
    if text.lstrip().startswith("<"):
        return _gpx_plan(path, text)
    try:
        plan = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise PatrolError(f"{path}: expected a plan as GeoJSON or GPX ({exc})") from None
    if not isinstance(plan, dict) or plan.get("type") != "FeatureCollection":
        raise PatrolError(f"{path}: expected a GeoJSON FeatureCollection of a patrol plan")
    return plan


def _gpx_plan(path: Path, text: str) -> dict[str, object]:
    """The GeoJSON plan of a GPX file."""
    try:
        gpx = gpxpy.parse(text)
    except gpxpy.gpx.GPXException as exc:
        raise PatrolError(f"{path}: expected a plan as GeoJSON or GPX ({exc})") from None
    features: list[dict[str, object]] = []
    for w in gpx.waypoints:
        found = _STOP_NAME.fullmatch(w.name or "")
        if (w.name or "").upper() == "BASE":
            features.append(_point(w.longitude, w.latitude, {"kind": "base"}))
        elif found:
            props: dict[str, object] = {"kind": "waypoint", "team": int(found[1])}
            props |= {"order": int(found[2]), "reason": w.comment, "look_for": w.description}
            props |= {"eta": w.time.isoformat() if w.time else None}
            features.append(_point(w.longitude, w.latitude, props))
    lines = [(r.name, [(p.longitude, p.latitude) for p in r.points]) for r in gpx.routes]
    lines += [
        (t.name, [(p.longitude, p.latitude) for s in t.segments for p in s.points])
        for t in gpx.tracks
    ]
    for index, (name, coordinates) in enumerate(lines, 1):
        team = _TEAM_NAME.fullmatch(name or "")
        if len(coordinates) > 1:
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": coordinates},
                    "properties": {"kind": "route", "team": int(team[1]) if team else index},
                }
            )
    if not features:
        raise PatrolError(f"{path}: the GPX file holds no base, stop or route")
    return {"type": "FeatureCollection", "features": features}

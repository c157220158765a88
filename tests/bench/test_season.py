"""The simulated season (`geoint bench patrol-season`): one world per seed, whatever is played."""

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

import numpy as np
import polars as pl
import pytest
from support.paths import REPO

from geoint.bench.season import (
    HABIT_KM,
    STATION_KM,
    Rules,
    World,
    _displaced,
    _history,
    _reach,
    _recurrence,
    _scenario,
    _station,
    _untracked,
    run_season_benchmark,
)
from geoint.errors import GeointError
from geoint.geodesy import haversine_m
from geoint.h3index import cell_centres, latlng_to_cells
from geoint.layers import Region, init_region
from geoint.patrol.travel import build_travel_graph
from geoint.settings import GeointSettings, PatrolSettings
from geoint.sim.simulate import SimulationOptions

BASE = (7.12814, 2.74964)  # the Porto-Novo–Abeokuta crossing


@pytest.fixture(scope="module")
def ground():
    region = Region.load(REPO / "sample_tracks" / "scenario" / "region")
    return region, build_travel_graph(region, PatrolSettings())


def test_a_shorter_season_is_the_start_of_a_longer_one(ground):
    """The bug behind "8 shifts found 4x less than 6": the world was simulated for warm-up +
    shifts days, and the generator draws every day from the same streams, so each season
    length played in another world (seed 1, 40 vehicles: 700 illicit cells a day in a
    13-day world, 300 in a 15-day one). Greedy ignores effort: its first shifts must match."""
    region, graph = ground
    runs = [
        run_season_benchmark(
            region, graph, BASE, [1], shifts, vehicles=40, days=10, planners=("greedy",)
        )
        for shifts in (2, 3)
    ]
    short, long = (run["per_shift"]["greedy"][0] for run in runs)
    assert len(short) == 2 and len(long) == 3
    assert long[:2] == short and sum(short) > 0
    assert runs[0]["greedy_finds"] == sum(short) and "effort_aware_finds" not in runs[0]
    displaced = runs[1]["displaced"]["greedy"]  # smugglers who lay low, per seed
    assert len(displaced) == 1 and displaced[0] >= runs[0]["displaced"]["greedy"][0] >= 0
    recurrence = runs[1]["recurrence"]  # what the world offered to learn, per seed
    assert recurrence["reachable_active"][0] >= recurrence["recurring_active"][0] >= 0
    assert 0 <= recurrence["recurring_share"][0] <= 1 and runs[1]["setup"]["recur_days"] == 14


def test_more_shifts_than_the_world_has_days_is_an_error(ground):
    region, graph = ground
    with pytest.raises(GeointError, match=r"shifts: expected 1 to 3 \(a 10-day world after 7"):
        run_season_benchmark(region, graph, BASE, [1], 4, days=10, settings=GeointSettings())


def test_only_a_seeded_share_of_smugglers_is_tracked():
    roles = ["legit", "transit", "route_deviation", "transit_overdue"] + ["shuttle"] * 40
    vehicles = pl.DataFrame({"vehicle_id": [f"V{i:03d}" for i in range(len(roles))], "role": roles})
    smugglers = set(vehicles["vehicle_id"][4:])
    assert set(_untracked(vehicles, 1, 0.0)) == smugglers  # transit trucks always report
    assert _untracked(vehicles, 1, 1.0).is_empty()
    half = _untracked(vehicles, 1, 0.5)
    assert set(half) < smugglers and 10 <= len(half) <= 30
    assert half.equals(_untracked(vehicles, 1, 0.5)) and not half.equals(
        _untracked(vehicles, 2, 0.5)
    )


def _visits(rows: list[tuple[int, float, int]]) -> pl.DataFrame:
    """This evening's visits: cell, minutes, seizures."""
    return pl.DataFrame(rows, schema={"cell": pl.UInt64, "minutes": pl.Float64,
                                      "seizures": pl.Int64}, orient="row")  # fmt: skip


def test_smugglers_found_or_seen_lie_low_by_seeded_chance_and_tracked_ones_do_not():
    """The world reacts to patrols the same way whatever the planner: the same finds and the
    same presence displace the same untracked smugglers, for 3 to 10 days."""
    day = date(2026, 3, 10)
    smugglers = [f"V{i:03d}" for i in range(200)]
    active = pl.DataFrame(
        {"date": [day] * 200, "cell": pl.Series(range(200), dtype=pl.UInt64),
         "vehicle_id": smugglers}
    )  # fmt: skip
    adaptive = frozenset(smugglers[:150])  # the last 50 carry a tracker
    found = _visits([(c, 20.0, 1) for c in range(0, 200, 2)])  # every other one found
    rules = Rules(3, 8, 20, 0.5, 1)
    away = _displaced(active, found, adaptive, rules, day)
    assert away == _displaced(active, found, adaptive, rules, day)
    assert set(away) <= {v for i, v in enumerate(smugglers[:150]) if i % 2 == 0}
    assert 25 <= len(away) <= 50  # about half of the 75 found
    assert all(4 <= (back - day).days <= 11 for back in away.values())
    seen = _visits([(c, 90.0, 0) for c in range(150)])  # long presence, nothing found
    shy = _displaced(active, seen, adaptive, rules, day)
    assert 15 <= len(shy) <= 60  # about a quarter of 150
    brief = _visits([(c, 10.0, 0) for c in range(150)])
    assert _displaced(active, brief, adaptive, rules, day) == {}
    assert _displaced(active, found, adaptive, Rules(3, 8, 20, 0.0, 1), day) == {}


def test_seeds_played_in_parallel_find_what_they_find_one_after_the_other(ground):
    region, graph = ground
    runs = [
        run_season_benchmark(
            region, graph, BASE, [1, 2], 1, vehicles=20, days=8, planners=("greedy",), jobs=jobs
        )
        for jobs in (1, 2)
    ]
    assert runs[0]["per_shift"] == runs[1]["per_shift"] and runs[0]["seeds"] == [1, 2]


def _km_from_base(cells: pl.Series) -> np.ndarray:
    lat, lon = cell_centres(cells.to_numpy())
    return haversine_m(lat, lon, np.full(len(lat), BASE[0]), np.full(len(lat), BASE[1])) / 1e3


def test_the_warm_up_record_follows_the_units_habitual_patrols(ground, tmp_path):
    """Before the season the unit patrolled by habit near its base: the history holds those
    evenings' debriefs (effort) and their finds as seizures, each a cell the planted truth
    held that evening; without past patrols the history is the scenario's records alone."""
    region, graph = ground
    settings = GeointSettings()
    world = _scenario(region, tmp_path, SimulationOptions(1, 30, 8), 0.5, settings, lambda _t: None)
    first = world.days["date"].min() + timedelta(days=7)
    rules = Rules(3, 8, 20, 0.5, 1)
    plain = _history(world, graph, BASE, first, rules, settings, False)
    recorded = world.seizures.filter(pl.col("ts") < datetime.combine(first, clock(0), UTC))
    assert plain.effort.is_empty() and plain.seizures.height == recorded.height
    past = _history(world, graph, BASE, first, rules, settings, True)
    effort = past.effort
    assert effort["date"].unique().sort().to_list() == [
        first - timedelta(days=d) for d in range(6, 0, -1)
    ]  # every warm-up evening after the first day (whose traffic the habit follows)
    searched, traffic = _km_from_base(effort["cell"]), _km_from_base(world.days["cell"].unique())
    # near the base: most searches within 2 habit scales, where 95 % of the traffic is not
    assert np.median(searched) < 2 * HABIT_KM < np.percentile(traffic, 5)
    finds = effort.filter(pl.col("seizures") > 0)
    assert past.seizures.height == plain.seizures.height + finds.height > plain.seizures.height
    truth = world.illicit.select("date", "cell").unique()
    assert finds.join(truth, on=["date", "cell"], how="anti").is_empty()


def test_recurrence_counts_the_activity_within_reach_that_returns_to_its_places(ground):
    """What a planner that learns where activity was can gain: in session 7's world (routes 0,
    the Porto-Novo base) most activity within reach recurred on seeds 1 and 3 (aware / blind
    1.35, 1.40), little on seed 7 (0.98).
    Cells beyond the shift's reach do not count; a cell recurs when it held activity on at
    least half of the 14 evenings before (those the world has)."""
    _region, graph = ground
    reach = _reach(graph, BASE, Rules(3, 8, 20, 0.5, 1), GeointSettings())
    km = _km_from_base(pl.Series(reach))
    assert 10 < np.percentile(km, 99) < 200 and np.min(km) < 1  # a shift's radius, base in it
    near = [int(c) for c in reach[:3]]
    far = int(np.setdiff1d(graph.cells, reach)[0])  # in the graph, beyond the shift's reach
    start, first = date(2026, 3, 1), date(2026, 3, 8)

    def world(rows: list[tuple[int, int]]) -> pl.DataFrame:
        """(day offset from start, cell) of planted activity."""
        return pl.DataFrame(
            {"date": [start + timedelta(days=d) for d, _ in rows],
             "cell": pl.Series([c for _, c in rows], dtype=pl.UInt64),
             "vehicle_id": "V001"}
        )  # fmt: skip

    # every evening in the same cell (and one beyond reach): all of it recurs
    steady = world([(d, c) for d in range(10) for c in (near[0], far)])
    got = _recurrence(steady, start, first, 3, reach)
    assert got == {"reachable_active": 1.0, "recurring_active": 1.0, "recurring_share": 1.0,
                   "recurring_hit_rate": 1.0}  # fmt: skip
    # a new cell every evening: active within reach, nothing recurs
    roaming = world([(d, near[d % 3]) for d in range(10)])
    got = _recurrence(roaming, start, first, 3, reach)
    assert got["reachable_active"] == 1.0 and got["recurring_active"] == 0.0
    assert got["recurring_share"] == 0.0
    # active on every other evening: recurs (half of the evenings before), found half the time
    alternate = world([(d, near[1]) for d in range(0, 10, 2)])
    got = _recurrence(alternate, start, first, 2, reach)
    assert got["reachable_active"] == 0.5 and got["recurring_hit_rate"] == 0.5


def test_without_a_base_the_unit_is_posted_where_the_warm_up_risk_is(ground):
    """The crossing with the most warm-up risk within STATION_KM, from the analysed cell-days
    (never the truth); the season's own days do not count."""
    region, _graph = ground
    crossings = region.read("crossings").geometry
    lat, lon = crossings.y.to_numpy(), crossings.x.to_numpy()
    first = date(2026, 3, 8)
    busy, later = 3, 5  # warm-up risk near crossing 3; more, but in the season, near 5

    def near(row: int, km: float) -> int:
        return int(latlng_to_cells(np.array([lat[row] + km / 111]), np.array([lon[row]]), 8)[0])

    rows = [(first - timedelta(days=d), near(busy, km), 40.0) for d in (1, 3) for km in (2, 9)]
    rows += [(first, near(later, 1), 500.0), (first - timedelta(days=1), near(later, 40), 90.0)]
    days = pl.DataFrame(rows, schema={"date": pl.Date, "cell": pl.UInt64, "risk": pl.Float64},
                        orient="row")  # fmt: skip
    world = World(days, pl.DataFrame(), pl.DataFrame(), pl.DataFrame(), frozenset())
    assert STATION_KM < 40 and _station(world, region, first) == (lat[busy], lon[busy])


def test_the_season_runs_on_a_border_without_roads_from_its_own_base(tmp_path):
    """A region derived from the world data (no roads, no crossings): the bench generates
    them as `geoint simulate` does and posts the unit at a crossing of that border."""
    init_region(tmp_path / "gt", ("Ghana", "Togo"))
    result = subprocess.run(
        [sys.executable, "-m", "geoint", "bench", "patrol-season", "--region",
         str(tmp_path / "gt"), "--seeds", "1", "--shifts", "1", "--days", "8",
         "--vehicles", "20", "--json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    region = Region.load(tmp_path / "gt")
    assert region.files("roads") and region.files("crossings")
    crossings = region.read("crossings").geometry
    (lat, lon), = got["setup"]["bases"]  # fmt: skip
    assert np.min(np.hypot(crossings.y - lat, crossings.x - lon)) < 1e-9
    assert got["setup"]["routes"] == 2 and set(got["per_seed"]) == {
        "effort_aware", "effort_blind", "greedy"}  # fmt: skip

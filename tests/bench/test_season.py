"""The simulated season (`geoint bench patrol-season`): one world per seed, whatever is played."""

import polars as pl
import pytest
from support.paths import REPO

from geoint.bench.season import _untracked, run_season_benchmark
from geoint.errors import GeointError
from geoint.layers import Region
from geoint.patrol.travel import build_travel_graph
from geoint.settings import GeointSettings, PatrolSettings

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

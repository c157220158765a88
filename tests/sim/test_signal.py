"""Signal profiles (docs/signals.md): degraded pings as rural trackers deliver them, with the
truth taken from the clean pings of the same plans."""

import json

import numpy as np
import polars as pl
import pytest

from geoint.layers import RegionIndex, build_sample_region
from geoint.sim.scenery import Geography
from geoint.sim.signal import PROFILES, irregular_times
from geoint.sim.simulate import SimulationOptions, simulate
from geoint.sim.synthetic_layers import add_synthetic_layers


@pytest.fixture(scope="module")
def typical(tmp_path_factory):
    region = build_sample_region(tmp_path_factory.mktemp("signal") / "region")
    add_synthetic_layers(region, 7)
    index, geography = RegionIndex(region), Geography.of(region)
    options = SimulationOptions(seed=4, vehicles=40, days=1, signal="typical")
    return simulate(index, geography, options), index


def test_unknown_profile_is_refused_by_name():
    with pytest.raises(ValueError, match="signal must be one of clean, typical, poor"):
        SimulationOptions(signal="noisy")


def test_irregular_steps_stay_within_the_profile_range():
    rng = np.random.default_rng(1)
    owner, t = irregular_times([(0, 0.0, 3_600.0), (1, 100.0, 700.0)], 60.0, (0.5, 1.5), rng)
    steps = np.diff(t)[owner[1:] == owner[:-1]]
    assert steps.min() >= 30.0 and steps.max() <= 90.0
    assert t[owner == 0].max() <= 3_600.0 and t[owner == 1].min() >= 100.0


def test_degraded_pings_arrive_late_twice_and_out_of_order(typical, tmp_path):
    scenario, _ = typical
    pings = scenario.pings
    assert pings["received"].is_sorted()
    delay = (pings["received"] - pings["ts"]).dt.total_seconds()
    assert delay.min() > -PROFILES["typical"].clock_offset_s  # a device clock may run ahead
    assert (delay > 1_800).sum() > 0  # fixes buffered in a dead zone
    keys = pings.select("vehicle_id", "ts")
    assert 0 < keys.is_duplicated().sum() < 0.05 * pings.height
    per_vehicle = (
        pings.with_row_index("row")
        .group_by("vehicle_id")
        .agg(pl.col("ts").is_sorted().alias("in_order"))
    )
    assert not per_vehicle["in_order"].all()  # some fixes overtake others
    unique = pings.unique(["vehicle_id", "ts"]).sort("vehicle_id", "ts")
    step = unique.select(pl.col("ts").diff().over("vehicle_id").dt.total_seconds()).to_series()
    assert step.drop_nulls().median() == pytest.approx(60, abs=10)  # mean step 60 s, jittered
    written = json.loads(scenario.write(tmp_path)["scenario.json"].read_text())
    assert written["signal"]["name"] == "typical"
    assert written["signal"]["outlier_share"] == PROFILES["typical"].outlier_share


def test_truth_is_what_the_vehicles_did_not_what_the_fixes_imply(typical):
    scenario, index = typical
    region_options = SimulationOptions(seed=4, vehicles=40, days=1, signal="clean")
    clean = simulate(index, Geography.of(index.region), region_options)
    roles = dict(clean.vehicles.select("vehicle_id", "role").iter_rows())

    def planted(truth: pl.DataFrame) -> list[dict]:
        return (
            truth.filter(pl.col("vehicle_id").replace_strict(roles) != "legit")
            .select("event_type", "vehicle_id", "other_vehicle_id")
            .sort(pl.all())
            .to_dicts()
        )

    # the same plans, the same planted events: only the customs queue (a plan detail) moved
    assert planted(scenario.truth) == planted(clean.truth)
    assert len(planted(clean.truth)) > 20

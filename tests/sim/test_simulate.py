"""The scenario generator's promises: legitimate traffic raises nothing but official crossings,
planted events are where the truth says, the truth follows docs/events.md (it agrees with the
reference implementation and the hand-built cases), same seed same bytes, any border works,
and everything ingests cleanly."""

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from support.event_cases import CASES, mismatches
from support.paths import REPO
from support.toy_region import build_toy_index

from geoint.geodesy import haversine_m
from geoint.layers import Region, RegionIndex, build_sample_region, init_region
from geoint.layers.gazetteer import build_gazetteer
from geoint.pipeline.ingest import ingest_pings, ingest_records
from geoint.schema import EventType
from geoint.settings import GeointSettings
from geoint.sim.evaluate import read_truth, score_events
from geoint.sim.scenery import Geography
from geoint.sim.simulate import SimulationOptions, simulate
from geoint.sim.synthetic_layers import add_synthetic_layers
from geoint.sim.truth import truth_events
from geoint.store.workspace import Workspace
from geoint.testing.reference import reference_events

SAMPLE = REPO / "sample_tracks" / "scenario"
LEGIT = ("legit", "transit")


def _geography(region: Region) -> Geography:
    return Geography.of(region)


def _metres(lat1, lon1, lat2, lon2) -> np.ndarray:
    return haversine_m(lat1, lon1, lat2, lon2)


@pytest.fixture(scope="module")
def base_region(tmp_path_factory) -> Path:
    region = build_sample_region(tmp_path_factory.mktemp("base") / "region")
    add_synthetic_layers(region, 7)
    return region.path


@pytest.fixture(scope="module")
def world(base_region):
    """A small scenario on the Benin–Nigeria region, with its index and typed inputs."""
    region = Region.load(base_region)
    index = RegionIndex(region)
    options = SimulationOptions(seed=3, vehicles=60, days=2, interval_s=60)
    scenario = simulate(index, _geography(region), options)
    typed = {
        "declarations": scenario.declarations.with_columns(
            pl.col("start", "deadline").str.to_datetime(time_zone="UTC")
        ),
        "watchlist": scenario.watchlist.with_columns(
            pl.col("expires").str.to_datetime(time_zone="UTC")
        ),
        "truth": scenario.truth.with_columns(
            pl.col("start", "end").str.to_datetime(time_zone="UTC")
        ),
    }
    roles = dict(scenario.vehicles.select("vehicle_id", "role").iter_rows())
    return scenario, index, typed, roles


def _vehicle_pings(scenario, vehicle: str) -> pl.DataFrame:
    return scenario.pings.filter(pl.col("vehicle_id") == vehicle)


def test_options_out_of_range_are_refused():
    with pytest.raises(ValueError, match="interval_s"):
        SimulationOptions(interval_s=10)
    with pytest.raises(ValueError, match="vehicles"):
        SimulationOptions(vehicles=5)
    with pytest.raises(ValueError, match="routes"):
        SimulationOptions(routes=-1)


def test_cli_refuses_bad_options_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "geoint", "simulate", "--region", str(tmp_path), "--out",
         str(tmp_path / "out"), "--interval", "10"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "interval_s" in result.stderr


def test_pings_are_sorted_unique_and_inside_the_region(world):
    scenario, index, _, _ = world
    pings = scenario.pings
    assert pings.columns == ["vehicle_id", "ts", "lat", "lon", "speed_kmh", "heading"]
    assert pings.select(pl.struct("vehicle_id", "ts").is_unique().all()).item()
    assert pings.equals(pings.sort("vehicle_id", "ts"))
    sides = index.side(pings["lat"].to_numpy(), pings["lon"].to_numpy())
    assert np.mean(sides >= 0) > 0.99  # spikes and clones may land off the region


def test_truth_agrees_with_the_reference_implementation(world):
    scenario, index, typed, _ = world
    pings = scenario.pings.with_row_index("ping_id", offset=1)
    reference = reference_events(
        pings, index, GeointSettings(), typed["declarations"], typed["watchlist"]
    )
    for kind, score in score_events(reference, typed["truth"]).items():
        assert score["recall"] in (1.0, None), (kind, score)
        assert score["precision"] in (1.0, None), (kind, score)


def test_truth_gets_the_hand_built_cases_right(tmp_path):
    index = build_toy_index(tmp_path / "toy")
    for case in CASES:
        truth = truth_events(case.pings, index, GeointSettings(), case.declarations, case.watchlist)
        ignoring_night = replace(
            case, expected=tuple(replace(e, night=None) for e in case.expected)
        )
        assert mismatches(truth, ignoring_night) == [], case.name


def test_legitimate_vehicles_raise_nothing_but_official_crossings(world):
    _, _, typed, roles = world
    legit = typed["truth"].filter(pl.col("vehicle_id").replace_strict(roles).is_in(LEGIT))
    assert legit.height > 0
    assert set(legit["event_type"]) == {str(EventType.BORDER_CROSSING)}
    planted = {v for v, r in roles.items() if r not in LEGIT}
    assert set(typed["truth"]["vehicle_id"]) - {*legit["vehicle_id"]} <= planted


def _without_spikes(pings: pl.DataFrame) -> pl.DataFrame:
    """Drop pings implausibly far (> 250 km/h) from both neighbours of their vehicle."""
    lat, lon = pings["lat"].to_numpy(), pings["lon"].to_numpy()
    seconds = pings["ts"].dt.epoch("s").to_numpy()
    same = (
        pings["vehicle_id"].slice(1) == pings["vehicle_id"].slice(0, pings.height - 1)
    ).to_numpy()
    fast = same & (_metres(lat[1:], lon[1:], lat[:-1], lon[:-1]) / np.diff(seconds) * 3.6 > 250)
    return pings.filter(~pl.Series(np.r_[False, fast] & np.r_[fast, False]))


def test_legitimate_vehicles_cross_only_where_and_when_a_crossing_is_open(world):
    scenario, index, _, roles = world
    pings = scenario.pings.filter(pl.col("vehicle_id").replace_strict(roles).is_in(LEGIT))
    pings = _without_spikes(pings)
    lat, lon = pings["lat"].to_numpy(), pings["lon"].to_numpy()
    side = index.side(lat, lon)
    seconds = pings["ts"].dt.epoch("s").to_numpy()
    same = (
        pings["vehicle_id"].slice(1) == pings["vehicle_id"].slice(0, pings.height - 1)
    ).to_numpy()
    crossed = np.flatnonzero(same & (side[1:] != side[:-1]))
    assert len(crossed) > 0
    assert (side[crossed] >= 0).all() and (side[crossed + 1] >= 0).all()
    assert (seconds[crossed + 1] - seconds[crossed] < 10 * 60).all()
    x_lat, x_lon, share = index.border_intersection(
        lat[crossed], lon[crossed], lat[crossed + 1], lon[crossed + 1]
    )
    metres, row = index.nearest_crossing(x_lat, x_lon)
    assert (metres <= 2_000).all()
    at = seconds[crossed] + share * (seconds[crossed + 1] - seconds[crossed])
    assert index.crossing_open(row, at.astype("datetime64[s]")).all()


def test_legitimate_gaps_are_short_near_the_border(world):
    scenario, index, _, roles = world
    pings = scenario.pings.filter(pl.col("vehicle_id").replace_strict(roles).is_in(LEGIT))
    seconds = pings["ts"].dt.epoch("s").to_numpy()
    same = (
        pings["vehicle_id"].slice(1) == pings["vehicle_id"].slice(0, pings.height - 1)
    ).to_numpy()
    long = np.flatnonzero(same & (np.diff(seconds) >= 10 * 60))
    lat, lon = pings["lat"].to_numpy(), pings["lon"].to_numpy()
    ends = np.r_[long, long + 1]
    assert (index.distance_to_border_m(lat[ends], lon[ends]) > 10_000).all()


def test_every_event_type_is_planted(world):
    counts = world[0].counts()
    assert all(counts[str(kind)] > 0 for kind in EventType), counts


def test_unofficial_crossings_have_pings_on_both_sides_far_from_crossings(world):
    scenario, index, typed, _ = world
    events = typed["truth"].filter(pl.col("event_type") == str(EventType.UNOFFICIAL_CROSSING))
    assert events.height > 0
    for event in events.iter_rows(named=True):
        pings = _vehicle_pings(scenario, event["vehicle_id"])
        ends = pings.filter(pl.col("ts").is_in([event["start"], event["end"]]))
        assert ends.height == 2
        sides = index.side(ends["lat"].to_numpy(), ends["lon"].to_numpy())
        assert set(sides.tolist()) == {0, 1}
        metres, _ = index.nearest_crossing(np.array([event["lat"]]), np.array([event["lon"]]))
        assert metres[0] > 2_000


def test_planted_stops_meetings_and_off_road_runs_are_where_truth_says(world):
    scenario, index, typed, _ = world
    truth = typed["truth"]

    def during(vehicle: str, event: dict) -> pl.DataFrame:
        return _vehicle_pings(scenario, vehicle).filter(
            pl.col("ts").is_between(event["start"], event["end"])
        )

    for event in truth.filter(pl.col("event_type") == "border_loiter").iter_rows(named=True):
        pings = during(event["vehicle_id"], event)
        assert (pings["ts"].max() - pings["ts"].min()).total_seconds() >= 20 * 60
        assert (_metres(pings["lat"], pings["lon"], event["lat"], event["lon"]) <= 200).all()
        assert (
            index.distance_to_border_m(np.array([event["lat"]]), np.array([event["lon"]]))[0]
            <= 10_000
        )
    for event in truth.filter(pl.col("event_type") == "rendezvous").iter_rows(named=True):
        for vehicle in (event["vehicle_id"], event["other_vehicle_id"]):
            pings = during(vehicle, event)
            assert pings.height >= 2
            assert (_metres(pings["lat"], pings["lon"], event["lat"], event["lon"]) <= 500).all()
    for event in truth.filter(pl.col("event_type") == "off_road_near_border").iter_rows(named=True):
        pings = during(event["vehicle_id"], event)
        lat, lon = pings["lat"].to_numpy(), pings["lon"].to_numpy()
        assert (index.distance_to_road_m(lat, lon) >= 500).all()
        assert (index.distance_to_border_m(lat, lon) <= 10_000).all()
    for event in truth.filter(pl.col("event_type") == "signal_gap_near_border").iter_rows(
        named=True
    ):
        pings = during(event["vehicle_id"], event)
        assert pings["ts"].to_list() == [event["start"], event["end"]]


def test_seizures_cluster_near_illicit_activity_with_cen_fields(world):
    scenario, _, typed, _ = world
    seizures = scenario.seizures
    assert seizures.height > 5
    placed = seizures.filter(pl.col("lat").is_not_null())
    assert placed.height < seizures.height  # some give a place name instead
    illicit = typed["truth"].filter(pl.col("event_type") != "border_crossing")
    lat = placed["lat"].cast(pl.Float64).to_numpy()[:, None]
    lon = placed["lon"].cast(pl.Float64).to_numpy()[:, None]
    nearest = _metres(
        lat, lon, illicit["lat"].to_numpy()[None, :], illicit["lon"].to_numpy()[None, :]
    ).min(axis=1)
    assert (nearest <= 20_000).all()


def test_outputs_ingest_without_quarantine(world, base_region, tmp_path):
    scenario, _, _, _ = world
    paths = scenario.write(tmp_path / "out")
    settings = GeointSettings(workspace=tmp_path / "ws")
    store = Workspace(settings.workspace)
    now = datetime.fromisoformat("2026-06-01T00:00:00+00:00")
    report = ingest_pings(store, paths["pings.parquet"], settings, now=now)
    assert (report.accepted, report.duplicates, report.quarantined) == (scenario.pings.height, 0, 0)
    gazetteer = build_gazetteer(Region.load(base_region))
    for kind in ("seizures", "watchlist", "declarations"):
        report = ingest_records(store, kind, paths[f"{kind}.csv"], settings, gazetteer, now=now)
        assert report.quarantined == 0 and report.duplicates == 0, (kind, report)
        assert report.accepted == getattr(scenario, kind).height
    assert read_truth(paths["truth.csv"]).height == scenario.truth.height
    store.engine.dispose()


def test_same_seed_same_bytes_through_the_cli(base_region, tmp_path):
    region = tmp_path / "region"
    shutil.copytree(base_region, region)
    outputs = []
    for run in ("a", "b"):
        result = subprocess.run(
            [sys.executable, "-m", "geoint", "simulate", "--region", str(region), "--seed", "5",
             "--vehicles", "40", "--days", "1", "--out", str(tmp_path / run), "--json"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        outputs.append(json.loads(result.stdout))
        layers = {p.name: p.read_bytes() for p in sorted(region.iterdir())}
        if run == "a":
            first_layers = layers
    assert layers == first_layers  # generated again, replaced, identical
    assert outputs[0]["events"] == outputs[1]["events"]
    for name in ("pings.parquet", "seizures.csv", "watchlist.csv", "declarations.csv",
                 "truth.csv", "illicit_cells.csv", "vehicles.csv"):  # fmt: skip
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_another_border_works(tmp_path):
    region = init_region(tmp_path / "fr-es", ("France", "Spain"))
    add_synthetic_layers(region, 2)
    index = RegionIndex(region)
    scenario = simulate(index, _geography(region), SimulationOptions(seed=2, vehicles=40, days=2))
    counts = scenario.counts()
    assert sum(count > 0 for count in counts.values()) >= 12, counts
    roles = dict(scenario.vehicles.select("vehicle_id", "role").iter_rows())
    truth = scenario.truth.filter(pl.col("vehicle_id").replace_strict(roles).is_in(LEGIT))
    assert set(truth["event_type"]) <= {str(EventType.BORDER_CROSSING)}


def _crossing_spread_km(scenario, roles: tuple[str, ...]) -> dict[str, float]:
    """Per planted vehicle of `roles`: the farthest of its crossings from its first (km)."""
    role_of = dict(scenario.vehicles.select("vehicle_id", "role").iter_rows())
    truth = scenario.truth.filter(
        pl.col("event_type") == str(EventType.UNOFFICIAL_CROSSING),
        pl.col("vehicle_id").replace_strict(role_of).is_in(roles),
    )
    spread = {}
    for vehicle, rows in truth.group_by("vehicle_id"):
        lat, lon = rows["lat"].to_numpy(), rows["lon"].to_numpy()
        spread[vehicle[0]] = float(_metres(lat[0], lon[0], lat, lon).max() / 1e3)
    return spread


def test_smugglers_keep_to_their_routes_when_asked(base_region):
    """`routes` N: a planted vehicle keeps to the first N ways of each kind it took (here 1:
    the same track there and back every day); 0 draws a way afresh each day."""
    region = Region.load(base_region)
    index, geography = RegionIndex(region), _geography(region)
    worlds = {
        routes: simulate(index, geography, SimulationOptions(seed=4, vehicles=60, days=6,
                                                             routes=routes))
        for routes in (0, 1)
    }  # fmt: skip
    kept = _crossing_spread_km(worlds[1], ("unofficial_track", "unofficial_offroad"))
    roaming = _crossing_spread_km(worlds[0], ("unofficial_track", "unofficial_offroad"))
    assert kept and all(km < 2 for km in kept.values()), kept
    assert max(roaming.values()) > 20, roaming
    counts = worlds[1].counts()
    assert all(counts[str(kind)] > 0 for kind in EventType), counts


def test_the_committed_sample_scenario_has_every_type_many_times():
    truth = read_truth(SAMPLE / "truth.csv")
    counts = dict(truth.group_by("event_type").len().iter_rows())
    assert all(counts.get(str(kind), 0) >= 5 for kind in EventType), counts
    assert (SAMPLE / "region" / "region.toml").is_file()
    assert sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file()) < 6_000_000


def test_a_visit_that_ends_at_a_parking_place_goes_home_without_driving(tmp_path):
    """Bolivia–Peru, seed 11: a watch-listed vehicle's visit ends where its nearest parking
    place is, so the way home is empty (the generator used to fail with an IndexError)."""
    region = init_region(tmp_path / "region", ("Bolivia", "Peru"))
    add_synthetic_layers(region, 11)
    scenario = simulate(RegionIndex(region), Geography.of(region), SimulationOptions(11, 150, 1))
    assert scenario.pings.height > 0
    assert scenario.truth.filter(pl.col("event_type") == "watchlist_hit").height > 0

"""Track preparation: ordering, spikes, segments, trips, stops, stationary runs, layer context."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from geoint.detect.tracks import (
    add_context,
    add_segments,
    find_spikes,
    find_stops,
    order_pings,
    prepare_tracks,
    stationary_runs,
)
from geoint.geodesy import distance_m, distances_m, haversine_m
from geoint.layers import Region, RegionIndex, shipped_region_path
from geoint.settings import GeointSettings
from geoint.testing.builders import make_track

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
M_PER_DEG_LAT = 111_195.0  # great-circle metres per degree of latitude (R = 6,371,008.8 m)


def with_ids(*frames: pl.DataFrame) -> pl.DataFrame:
    """Concatenate make_track frames and number the pings from 1."""
    frame = pl.concat(frames)
    return frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.UInt64).alias("ping_id"))


def north(lat: float, lon: float, metres: float) -> tuple[float, float]:
    return lat + metres / M_PER_DEG_LAT, lon


def prepared(frame: pl.DataFrame, trip_gap_s: float = 1800) -> pl.DataFrame:
    ordered, _ = order_pings(frame, 8)
    return add_segments(ordered.filter(~find_spikes(ordered, 250)), trip_gap_s)


@pytest.fixture(scope="module")
def ground() -> RegionIndex:
    return RegionIndex(Region.load(shipped_region_path()))


def test_orders_by_vehicle_then_time_then_ping_id():
    frame = pl.DataFrame(
        {
            "ping_id": [5, 4, 3, 2, 1],
            "vehicle_id": ["b", "a", "b", "a", "a"],
            "ts": [T0, T0 + timedelta(minutes=1), T0, T0, T0],
            "lat": [7.0] * 5,
            "lon": [2.0] * 5,
        }
    )
    ordered, vehicles = order_pings(frame, 8)
    assert vehicles.to_list() == ["a", "b"]
    assert ordered["ping_id"].to_list() == [1, 2, 4, 3, 5]
    assert ordered["vehicle"].to_list() == [0, 0, 0, 1, 1]


def test_isolated_spike_is_flagged_and_left_out_of_segments():
    points = [(7.0, 2.0), (7.001, 2.0), (7.5, 2.0), (7.002, 2.0), (7.003, 2.0)]
    frame = with_ids(make_track("v", T0, points, 60))
    ordered, _ = order_pings(frame, 8)
    assert find_spikes(ordered, 250).tolist() == [False, False, True, False, False]
    pings = prepared(frame)
    assert pings["ping_id"].to_list() == [1, 2, 4, 5]
    assert pings["dt_s"][2] == 120.0


def test_no_spike_when_the_neighbours_disagree_or_at_track_ends():
    # every ping too fast to the next: the neighbours of each are implausible with each other
    points = [(7.0, 2.0), (7.5, 2.0), (8.0, 2.0), (8.5, 2.0)]
    ordered, _ = order_pings(with_ids(make_track("v", T0, points, 60)), 8)
    assert not find_spikes(ordered, 250).any()


def test_segment_distance_speed_and_bearing():
    lat2, lon2 = north(7.0, 2.0, 1000)
    frame = with_ids(make_track("v", T0, [(7.0, 2.0), (lat2, lon2), (lat2, 2.01)], 360))
    pings = prepared(frame)
    assert np.isnan(pings["dt_s"][0]) and np.isnan(pings["speed_kmh"][0])
    assert pings["distance_m"][1] == pytest.approx(1000, abs=0.5)
    assert pings["speed_kmh"][1] == pytest.approx(10, abs=0.01)
    assert pings["bearing_deg"][1] == pytest.approx(0, abs=1e-3)
    assert pings["bearing_deg"][2] == pytest.approx(90, abs=0.01)
    expected = haversine_m(7.0, 2.0, lat2, lon2)
    assert pings["distance_m"][1] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("gap_s", "trips"), [(1799, 1), (1800, 2)])
def test_trip_breaks_at_a_gap_of_thirty_minutes(gap_s, trips):
    frame = with_ids(
        make_track("v", T0, [(7.0, 2.0)]),
        make_track("v", T0 + timedelta(seconds=gap_s), [(7.0, 2.0)]),
    )
    assert prepared(frame)["trip"].n_unique() == trips


def test_trips_never_span_two_vehicles():
    frame = with_ids(make_track("a", T0, [(7.0, 2.0)] * 2), make_track("b", T0, [(7.0, 2.0)] * 2))
    assert prepared(frame)["trip"].to_list() == [0, 0, 1, 1]


@pytest.mark.parametrize(("minutes", "stops"), [(19, 0), (20, 1)])
def test_stop_needs_twenty_minutes(minutes, stops):
    points = [(7.0, 2.0)] * (minutes + 1)  # one ping a minute: minutes between first and last
    frame = with_ids(make_track("v", T0, [(6.9, 2.0), *points, (7.1, 2.0)], 60))
    found = find_stops(prepared(frame), 200, 1200)
    assert found.height == stops
    if stops:
        assert found.row(0, named=True)["first"] == 1
        assert found["end"][0] - found["start"][0] == timedelta(minutes=20)


@pytest.mark.parametrize(("spread_m", "stops"), [(199.0, 1), (201.0, 0)])
def test_stop_needs_every_pair_within_the_diameter(spread_m, stops):
    lat2, _ = north(7.0, 2.0, spread_m)
    points = [(7.0, 2.0), (lat2, 2.0)] * 11  # alternating ends of a 199 / 201 m line, 21 min
    frame = with_ids(make_track("v", T0, points, 60))
    assert find_stops(prepared(frame), 200, 1200).height == stops


def test_stop_centre_is_the_mean_position_and_search_resumes_after_it():
    first = [(7.0, 2.0), (7.0005, 2.0)] * 11
    second = [(7.2, 2.0)] * 25
    frame = with_ids(make_track("v", T0, [*first, (7.1, 2.0), *second], 60))
    found = find_stops(prepared(frame), 200, 1200)
    assert found["first"].to_list() == [0, 23]
    assert found["last"].to_list() == [21, 47]
    assert found["lat"][0] == pytest.approx(7.00025)


def test_stops_never_span_a_trip_break():
    frame = with_ids(
        make_track("v", T0, [(7.0, 2.0)] * 11, 60),
        make_track("v", T0 + timedelta(minutes=40), [(7.0, 2.0)] * 11, 60),
    )
    assert find_stops(prepared(frame), 200, 1200).height == 0


def plain_stops(pings: pl.DataFrame, diameter: float, min_s: float) -> list[tuple[int, int]]:
    """docs/events.md's greedy rule written out in plain Python, one pair at a time."""
    lat = pings["lat"].to_numpy()
    lon = pings["lon"].to_numpy()
    ts = pings["ts"].dt.epoch("us").to_numpy()
    trip = pings["trip"].to_numpy()
    found, i, n = [], 0, len(ts)
    while i < n:
        j = i
        while j + 1 < n and trip[j + 1] == trip[i]:
            p = j + 1
            far = haversine_m(lat[p], lon[p], lat[i : j + 1], lon[i : j + 1])
            if (far > diameter).any():
                break
            j = p
        if ts[j] - ts[i] >= min_s * 1e6:
            found.append((i, j))
            i = j + 1
        else:
            i += 1
    return found


@pytest.mark.parametrize("seed", range(4))
def test_numba_stop_scan_equals_the_plain_python_rule(seed):
    rng = np.random.default_rng(seed)
    vehicles = []
    for v in range(6):
        n = 400
        # blocks of 50 pings parked (jitter), crawling or driving: metres per ping
        step = np.repeat(rng.choice([3.0, 12.0, 150.0], n // 50), 50)
        heading = rng.uniform(0, 2 * np.pi, n)
        lat = 7.0 + v + np.cumsum(step * np.cos(heading)) / M_PER_DEG_LAT
        lon = 2.0 + np.cumsum(step * np.sin(heading)) / M_PER_DEG_LAT
        gaps = np.cumsum(rng.choice([30, 60, 2400], n, p=[0.6, 0.39, 0.01]))
        vehicles.append(
            pl.DataFrame(
                {
                    "vehicle_id": f"v{v}",
                    "ts": [T0 + timedelta(seconds=int(g)) for g in gaps],
                    "lat": lat,
                    "lon": lon,
                }
            )
        )
    pings = prepared(with_ids(*vehicles))
    found = find_stops(pings, 200, 1200)
    expected = plain_stops(pings, 200, 1200)
    assert len(expected) > 5
    assert list(zip(found["first"], found["last"], strict=True)) == expected


def test_stationary_runs_are_maximal_slow_runs_within_a_trip():
    slow = [north(7.0, 2.0, 20 * k) for k in range(5)]  # 20 m a minute: 1.2 km/h
    fast = [north(7.1, 2.0, 1000 * k) for k in range(3)]
    frame = with_ids(make_track("v", T0, slow + fast + slow[:2], 60))
    runs, stray = stationary_runs(prepared(frame), 5)
    assert list(zip(runs["first"], runs["last"], strict=True)) == [(0, 4), (8, 9)]
    assert runs["lat"][0] == pytest.approx(north(7.0, 2.0, 40)[0])
    assert not stray.any()


def test_stationary_runs_skip_up_to_two_stray_fixes():
    """Fixes 300 m off (18 km/h from their neighbours), one or two in a row, neither end a
    stationary run nor move its position; three in a row do end it."""
    parked = [north(7.0, 2.0, 0)] * 12
    off = north(7.0, 2.0, 300)
    strays = [*parked[:4], off, *parked[5:8], off, off, *parked[10:]]
    runs, stray = stationary_runs(prepared(with_ids(make_track("v", T0, strays, 60))), 5, 2)
    assert list(zip(runs["first"], runs["last"], strict=True)) == [(0, 11)]
    assert list(np.flatnonzero(stray)) == [4, 8, 9]
    assert runs["lat"][0] == pytest.approx(parked[0][0])
    three = parked[:4] + [off] * 3 + parked[7:]
    runs, stray = stationary_runs(prepared(with_ids(make_track("v", T0, three, 60))), 5, 2)
    assert list(zip(runs["first"], runs["last"], strict=True)) == [(0, 3), (4, 6), (7, 11)]
    assert not stray.any()


def test_context_flags_equal_exact_per_ping_answers(ground):
    """Cell distances decide most pings; the flags must equal per-ping exact measurements."""
    rng = np.random.default_rng(3)
    n = 4000
    # points scattered around the Seme crossing, the highway and the 10 km band of the border
    lat = rng.uniform(6.35, 6.9, n)
    lon = rng.uniform(2.55, 2.95, n)
    frame = pl.DataFrame(
        {
            "ping_id": np.arange(n, dtype=np.uint64),
            "vehicle_id": [f"v{k}" for k in range(n)],
            "ts": [T0] * n,
            "lat": lat,
            "lon": lon,
        }
    )
    ordered, _ = order_pings(frame, 8)
    context = add_context(add_segments(ordered, 1800), ground, GeointSettings())
    lat, lon = context["lat"].to_numpy(), context["lon"].to_numpy()
    border = ground.distance_to_border_m(lat, lon)
    road = ground.distance_to_road_m(lat, lon)
    near = border <= 10_000
    assert 0 < near.sum() < n
    assert (context["near_border"].to_numpy() == near).all()
    assert (context["side"].to_numpy() == ground.side(lat, lon)).all()
    far = context["far_from_road"].to_numpy()
    assert context["far_from_road"].is_null().to_numpy().tolist() == (~near).tolist()
    assert (far[near] == (road[near] >= 500)).all()
    assert 0 < (road[near] >= 500).sum() < near.sum()
    error = context["cell_error_m"].to_numpy()
    finite = np.isfinite(context["border_cell_m"].to_numpy())
    assert (np.abs(context["border_cell_m"].to_numpy() - border)[finite] <= error[finite]).all()


def test_prepare_tracks_end_to_end(ground):
    points = [(6.5, 2.6), (6.501, 2.6), (7.5, 2.6), (6.502, 2.6)] + [(6.502, 2.6)] * 25
    frame = with_ids(make_track("v", T0, points, 60))
    tracks = prepare_tracks(frame, ground, GeointSettings())
    assert tracks.vehicle_ids.to_list() == ["v"]
    assert tracks.raw.height == 29 and tracks.raw["spike"].sum() == 1
    assert tracks.pings.height == 28
    assert tracks.stops.height == 1
    assert tracks.stationary.height == 1


def test_the_three_forms_of_the_great_circle_distance_agree():
    rng = np.random.default_rng(0)
    a = rng.uniform(-60, 60, (4, 1000))
    expected = haversine_m(*a)
    assert np.allclose(distances_m(*a), expected, rtol=1e-12, atol=1e-6)
    assert np.allclose([distance_m(*p) for p in a.T], expected, rtol=1e-12, atol=1e-6)
    # one degree of latitude on the mean sphere: pi R / 180
    assert haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_195.08, abs=0.01)


def test_empty_input(ground):
    frame = with_ids(make_track("v", T0, []))
    tracks = prepare_tracks(frame, ground, GeointSettings())
    assert tracks.pings.height == tracks.stops.height == tracks.stationary.height == 0

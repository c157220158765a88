"""Track events: the hand-built cases of tests/event_cases.py, the reference, determinism."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import polars as pl
import pytest
import shapely
from polars.testing import assert_frame_equal
from support.event_cases import CASES, mismatches
from support.toy_region import build_toy_region

from geoint.detect.events import detect_events, rendezvous_candidates
from geoint.geodesy import haversine_m
from geoint.h3index import cells_to_hex
from geoint.layers import RegionIndex
from geoint.pipeline.ingest import ingest_pings, ingest_records
from geoint.schema import EVENT_EXPORT_COLUMNS, EVENT_SCHEMA, PING_SCHEMA, UTC_DATETIME, EventType
from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace
from geoint.testing.builders import make_track
from geoint.testing.reference import reference_events

T0 = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
M_PER_DEG = 111_195.0


def detect(case, toy_index):
    return detect_events(case.pings, toy_index, GeointSettings(), case.declarations, case.watchlist)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_gives_exactly_its_events(case, toy_index):
    events = detect(case, toy_index)
    assert events.schema == EVENT_SCHEMA
    assert mismatches(events, case) == []


def test_cases_equal_the_reference_implementation(toy_index):
    """Every field but the explanatory detail equals the slow reference, case by case."""
    for case in CASES:
        fast = detect(case, toy_index).drop("detail")
        slow = reference_events(
            case.pings, toy_index, GeointSettings(), case.declarations, case.watchlist
        ).drop("detail")
        assert_frame_equal(fast, slow, check_exact=False, rel_tol=1e-9, abs_tol=1e-6)


def random_scenario(seed: int, vehicles: int = 24, pings: int = 160) -> dict:
    """Vehicles alternating parked, crawling, driving and silent blocks around the toy border,
    some at meeting points or driving through official crossings, some by night, with GPS
    spikes, a cloned identity, declarations and a watch list."""
    rng = np.random.default_rng(seed)
    meeting = [(7.8, 2.97), (7.3, 3.05), (7.6, 3.02)]
    gates = [(7.0, 3.0), (8.0, 3.0)]
    frames = []
    for v in range(vehicles):
        if v < 12:
            lat, lon = meeting[v % 3]
        elif v >= 18:  # drives through a gate from 2.4 km west of it first
            lat, lon = gates[v % 2][0], gates[v % 2][1] - 2_400 / M_PER_DEG
        else:
            lat, lon = rng.uniform(6.9, 8.1), rng.uniform(2.9, 3.1)
        t = T0 + timedelta(hours=14 * (v % 2), seconds=int(rng.integers(0, 600)))
        rows = []
        for block in range(pings // 16):
            if (block == 0 and v < 12) or (block < 3 and 12 <= v < 15):
                regime = "parked"
            elif block == 0 and v >= 18:
                regime = "through"
            elif block == 3 and v in (20, 21):
                regime = "clone"
            else:
                regime = rng.choice(["parked", "crawl", "drive", "drive", "gap"])
            heading = np.pi / 2 if regime == "through" else rng.uniform(0, 2 * np.pi)
            for k in range(16):
                step = {"parked": 4.0, "crawl": 40.0, "clone": 40.0, "through": 300.0}.get(
                    regime, 700.0
                )
                dt = 2400 if regime == "gap" and rng.random() < 0.2 else 60
                dt = 700 if regime == "drive" and rng.random() < 0.05 else dt
                lat += step * np.cos(heading + rng.normal(0, 0.3)) / M_PER_DEG
                lon += step * np.sin(heading + rng.normal(0, 0.3)) / M_PER_DEG
                t += timedelta(seconds=dt)
                shift = 0.1 if rng.random() < 0.05 else 0.0  # a GPS spike: 11 km in a minute
                shift = 1.0 * (k % 2) if regime == "clone" else shift
                rows.append((t, lat + shift, lon))
        frames.append(
            pl.DataFrame(
                {
                    "vehicle_id": f"v{v:02d}",
                    "ts": [r[0] for r in rows],
                    "lat": [r[1] for r in rows],
                    "lon": [r[2] for r in rows],
                },
                schema={
                    "vehicle_id": pl.String,
                    "ts": UTC_DATETIME,
                    "lat": pl.Float64,
                    "lon": pl.Float64,
                },
            )
        )
    pings_frame = pl.concat(frames).with_row_index("ping_id", offset=1)
    declarations = pl.DataFrame(
        {
            "vehicle_id": ["v12", "v13", "v14", "v99"],
            "corridor_id": ["C1"] * 4,
            "start": [T0] * 4,
            "deadline": [T0 + timedelta(hours=h) for h in (1, 2, 30, 1)],
            "dest_lat": [7.0] * 4,
            "dest_lon": [3.9] * 4,
        },
        schema_overrides={"start": UTC_DATETIME, "deadline": UTC_DATETIME},
    )
    watchlist = pl.DataFrame(
        {"vehicle_id": ["v01", "v15", "v16"], "expires": [None, T0 + timedelta(hours=1), None]},
        schema={"vehicle_id": pl.String, "expires": UTC_DATETIME},
    )
    return {"pings": pings_frame, "declarations": declarations, "watchlist": watchlist}


@pytest.mark.parametrize("seed", [1, 2])
def test_random_scenario_equals_the_reference_implementation(toy_index, seed):
    scenario = random_scenario(seed)
    fast = detect_events(**scenario, ground=toy_index, settings=GeointSettings())
    slow = reference_events(**scenario, ground=toy_index, settings=GeointSettings())
    types = set(fast["event_type"])
    assert types == {str(t) for t in EventType}
    assert_frame_equal(
        fast.drop("detail"), slow.drop("detail"), check_exact=False, rel_tol=1e-9, abs_tol=1e-6
    )


def test_same_input_gives_identical_events_in_any_row_order(toy_index):
    scenario = random_scenario(3)
    first = detect_events(**scenario, ground=toy_index, settings=GeointSettings())
    shuffled = {**scenario, "pings": scenario["pings"].sample(fraction=1.0, shuffle=True, seed=9)}
    again = detect_events(**shuffled, ground=toy_index, settings=GeointSettings())
    assert first.height > 0
    assert_frame_equal(first, again, check_exact=True)
    assert first["event_id"].n_unique() == first.height


# ------------------------------------------------------------------- analyze and export
def geoint_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "geoint", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    """A workspace holding the random scenario 1, analysed through the CLI on the toy region."""
    root = tmp_path_factory.mktemp("analyze")
    region = build_toy_region(root / "toy")
    scenario = random_scenario(1)
    iso = "%Y-%m-%dT%H:%M:%S%.fZ"
    scenario["pings"].drop("ping_id").with_columns(pl.col("ts").dt.to_string(iso)).write_csv(
        root / "pings.csv"
    )
    scenario["declarations"].with_columns(pl.col("start", "deadline").dt.to_string(iso)).write_csv(
        root / "declarations.csv"
    )
    scenario["watchlist"].with_columns(
        pl.lit("intelligence").alias("reason"), pl.col("expires").dt.to_string(iso)
    ).write_csv(root / "watchlist.csv")
    workspace = root / "ws"
    settings = GeointSettings(workspace=workspace)
    store = Workspace(workspace)
    ingest_pings(store, root / "pings.csv", settings)
    for kind in ("declarations", "watchlist"):
        ingest_records(store, kind, root / f"{kind}.csv", settings)
    store.engine.dispose()
    result = geoint_cli("analyze", "--region", str(region.path), "-w", str(workspace), "--json")
    assert result.returncode == 0, result.stderr
    return workspace, region, json.loads(result.stdout)


def test_analyze_stores_the_events_of_the_stored_pings(analyzed, toy_index):
    path, _, report = analyzed
    store = Workspace(path)
    stored = store.read_events()
    pings = store.scan_pings().collect()
    expected = detect_events(
        pings, toy_index, GeointSettings(), store.read_table("declarations"),
        store.read_table("watchlist"),
    )  # fmt: skip
    store.engine.dispose()
    assert_frame_equal(stored, expected)
    assert report["pings"] == pings.height
    assert report["events"] == dict(stored.group_by("event_type").len().iter_rows())
    assert set(report["events"]) == {str(t) for t in EventType}
    assert report["seconds"] > 0


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_events_export_has_the_spec_columns(analyzed, tmp_path, fmt):
    path, _, _ = analyzed
    target = tmp_path / f"events.{fmt}"
    result = geoint_cli("events", "export", "-w", str(path), "--format", fmt, "--out",
                        str(target), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    stored = Workspace(path).read_events()
    assert json.loads(result.stdout)["events"] == stored.height
    if fmt == "csv":
        rows = pl.read_csv(target, infer_schema=False).to_dicts()
        assert list(rows[0]) == list(EVENT_EXPORT_COLUMNS)
    else:
        features = json.loads(target.read_text())["features"]
        assert [f["geometry"]["coordinates"] for f in features] == [
            [lon, lat] for lat, lon in stored.select("lat", "lon").iter_rows()
        ]
        rows = [f["properties"] for f in features]
    first = stored.row(0, named=True)
    assert rows[0]["cell"] == cells_to_hex(np.array([first["cell"]], dtype=np.uint64))[0]
    assert (
        rows[0]["start"]
        == first["start"].strftime("%Y-%m-%dT%H:%M:%S")
        + (first["start"].strftime(".%f") if first["start"].microsecond else "")
        + "Z"
    )


def test_events_export_rejects_an_unknown_format(analyzed, tmp_path):
    result = geoint_cli("events", "export", "-w", str(analyzed[0]), "--format", "shp", "--out",
                        str(tmp_path / "e.shp"))  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().startswith("error: --format")


def test_rendezvous_candidates_hold_every_close_overlapping_pair():
    """Cell and time-bucket pairing misses no pair that a comparison of all pairs would find."""
    rng = np.random.default_rng(5)
    n = 2000
    start = rng.integers(0, 6 * 3600, n) * 1_000_000
    runs = pl.DataFrame(
        {
            "vehicle": rng.integers(0, 40, n).astype(np.uint32),
            "start": pl.Series(start).cast(UTC_DATETIME),
            "end": pl.Series(start + rng.integers(0, 5400, n) * 1_000_000).cast(UTC_DATETIME),
            "lat": 7.5 + rng.normal(0, 0.03, n),  # kilometres apart: many cells
            "lon": 3.0 + rng.normal(0, 0.03, n),
        }
    )
    found = set(rendezvous_candidates(runs, GeointSettings()).iter_rows())
    a, b = np.triu_indices(n, 1)
    vehicle = runs["vehicle"].to_numpy()
    ts0, ts1 = runs["start"].to_physical().to_numpy(), runs["end"].to_physical().to_numpy()
    lat, lon = runs["lat"].to_numpy(), runs["lon"].to_numpy()
    close = (
        (vehicle[a] != vehicle[b])
        & (np.minimum(ts1[a], ts1[b]) >= np.maximum(ts0[a], ts0[b]))
        & (haversine_m(lat[a], lon[a], lat[b], lon[b]) <= 300)
    )
    wanted = {
        (int(x), int(y)) if vehicle[x] < vehicle[y] else (int(y), int(x))
        for x, y in zip(a[close], b[close], strict=True)
    }
    assert len(wanted) > 100
    assert wanted <= found
    assert len(found) < len(a) / 10  # far fewer candidates than pairs


def test_a_polygon_place_clears_loitering_and_meetings_inside_it(tmp_path):
    """Places may be polygons: stops and meetings inside one are normal activity."""
    region = build_toy_region(tmp_path / "toy")
    market = shapely.box(2.96, 7.69, 2.98, 7.71)  # around (7.7, 2.97), 3 km from the border
    region.add_frame(
        "places", gpd.GeoDataFrame({"name": ["market"]}, geometry=[market], crs="EPSG:4326")
    )
    ground = RegionIndex(region)
    parked = [
        make_track(v, T0, [(lat + 0.00003 * (k % 2), 2.97) for k in range(25)], 60)
        for v, lat in (("a", 7.7), ("b", 7.7005), ("c", 7.75), ("d", 7.7505))
    ]
    pings = pl.concat(parked).with_row_index("ping_id", offset=1)
    events = detect_events(pings, ground, GeointSettings())
    found = sorted(events.select("event_type", "vehicle_id").iter_rows())
    assert found == [("border_loiter", "c"), ("border_loiter", "d"), ("rendezvous", "c")]


def test_no_pings_no_events(toy_index):
    events = detect_events(pl.DataFrame(schema=PING_SCHEMA), toy_index, GeointSettings())
    assert events.height == 0 and events.schema == EVENT_SCHEMA


def test_analyze_raises_alerts_once_and_the_cli_lists_them(analyzed):
    path, region, report = analyzed
    alerts = report["alerts"]
    assert alerts["created"] > 0 and alerts["open"] == alerts["created"]
    listed = geoint_cli("alerts", "list", "-w", str(path), "--limit", "10000", "--json")
    assert len(json.loads(listed.stdout)["alerts"]) == alerts["created"]
    again = geoint_cli("analyze", "--region", str(region.path), "-w", str(path), "--json")
    rerun = json.loads(again.stdout)["alerts"]
    assert (rerun["created"], rerun["updated"], rerun["open"]) == (0, 0, alerts["created"])

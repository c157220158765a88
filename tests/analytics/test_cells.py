"""Cell analytics: aggregation, anomaly, Gi* (against esda), emerging classes, risk."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from support.toy_region import local, offset

from geoint.analytics.anomaly import activity_anomaly
from geoint.analytics.cells import (
    activity,
    cell_windows,
    event_counts,
    pings_vehicle_days,
    region_key,
    segment_pings,
    seizure_counts,
    static_context,
    vehicle_days,
)
from geoint.analytics.hotspots import (
    benjamini_hochberg,
    dense,
    emerging_classes,
    gi_rows,
    gi_star,
    gi_windows,
    hotspot_bins,
    mann_kendall,
    ring_weights,
    two_sided_p,
)
from geoint.analytics.scoring import CONTRIBUTIONS, FACTORS, seizure_density
from geoint.h3index import cells_to_hex, grid_disks, latlng_to_cells, parent_cells
from geoint.pipeline.cells import analyze_cells
from geoint.settings import CellSettings, GeointSettings
from geoint.store.cell_tables import CONTEXT, cell_table_path
from geoint.testing.builders import make_track

CELL = int(latlng_to_cells(np.array([7.2]), np.array([2.8]), 8)[0])


def _pings(frames: list[pl.DataFrame]) -> pl.DataFrame:
    return (
        pl.concat(frames).with_row_index("ping_id").with_columns(pl.col("ping_id").cast(pl.UInt64))
    )


# ----------------------------------------------------------------------------- aggregation
def test_activity_counts_pings_vehicles_moving_minutes_and_local_night():
    settings = GeointSettings()
    # one vehicle moving east at ~36 km/h (600 m/min) from 23:00 local, one parked from 12:00
    moving = [offset((7.2, 2.8), east_m=600 * i) for i in range(3)]
    parked = [(7.2, 2.8)] * 3
    pings = _pings(
        [
            make_track("A", local("23:00"), moving),
            make_track("B", local("12:00"), parked),
            make_track("B", local("12:10"), [(40.0, 10.0)]),  # a GPS spike: excluded
            make_track("B", local("12:11"), [(7.2, 2.8)]),
        ]
    )
    frame = activity(vehicle_days(segment_pings(pings, settings), "Africa/Lagos", settings))
    start = frame.filter(pl.col("cell") == CELL)
    assert start["pings"].sum() == 5  # A's first ping, B's four non-spike pings
    assert start["vehicles"].sum() == 2
    assert start["moving_minutes"].sum() == 0  # A's first ping has no segment; B is parked
    assert start["night_pings"].sum() == 1  # 23:00 local is night, 12:00 is not
    assert frame["moving_minutes"].sum() == pytest.approx(2.0)  # A's two one-minute segments
    assert frame["pings"].sum() == 7


def test_cell_windows_join_events_and_seizures_by_cell_and_day():
    severity = CellSettings().severity
    events = pl.DataFrame(
        {
            "cell": pl.Series([CELL, CELL, CELL], dtype=pl.UInt64),
            "start": [datetime(2024, 3, 4, 1, tzinfo=UTC)] * 2 + [datetime(2024, 3, 5, tzinfo=UTC)],
            "event_type": ["unofficial_crossing", "border_crossing", "rendezvous"],
        }
    )
    seizures = pl.DataFrame(
        {
            "cell": pl.Series([CELL], dtype=pl.Int64),
            "ts": [datetime(2024, 3, 4, 9, tzinfo=UTC)],
            "commodity": ["fuel"],
        }
    )
    empty = pl.DataFrame(
        schema={
            "cell": pl.UInt64,
            "date": pl.Date,
            "pings": pl.Float64,
            "vehicles": pl.Float64,
            "moving_minutes": pl.Float64,
            "night_pings": pl.Float64,
        }
    )
    table = cell_windows(empty, event_counts(events, severity), seizure_counts(seizures))
    table = table.sort("date")
    first = table.row(0, named=True)
    assert first["date"] == date(2024, 3, 4)
    assert first["events"] == 2 and first["events_unofficial_crossing"] == 1
    assert first["severity"] == severity["unofficial_crossing"] + severity["border_crossing"]
    assert first["seizures"] == 1 and first["seizures_fuel"] == 1 and first["pings"] == 0
    assert table.row(1, named=True)["events_rendezvous"] == 1


def test_static_context_is_cached_per_region(toy_index, workspace):
    cells = latlng_to_cells(np.array([7.2, 7.3]), np.array([2.8, 2.9]), 8)
    first = static_context(workspace, toy_index, cells)
    assert first.height == 2 and (cell_table_path(workspace.root, CONTEXT)).is_file()
    cached = pl.read_parquet(cell_table_path(workspace.root, CONTEXT))
    assert set(cached["region_key"]) == {region_key(toy_index)}
    # a cached answer comes back without asking the ground again
    again = static_context(workspace, _NoGround(toy_index), cells[:1])
    assert (
        again["distance_to_border_m"][0]
        == first.sort("cell")["distance_to_border_m"][int(np.argmin(cells))]
    )


class _NoGround:
    """A ground with the toy region's manifest that refuses every query."""

    def __init__(self, index) -> None:
        self.region = index.region

    def cell_context(self, cells):
        if len(cells):
            raise AssertionError(f"asked for {len(cells)} cells that were cached")
        return pl.DataFrame()


# ---------------------------------------------------------------------------------- anomaly
def _daily(counts: dict[int, np.ndarray], start: date = date(2024, 1, 1)) -> pl.DataFrame:
    rows = [
        {"cell": cell, "date": start + timedelta(days=d), "vehicles": float(v)}
        for cell, series in counts.items()
        for d, v in enumerate(series)
        if v > 0
    ]
    return pl.DataFrame(rows, schema={"cell": pl.UInt64, "date": pl.Date, "vehicles": pl.Float64})


def test_anomaly_flags_a_surge_on_a_busy_cell():
    rng = np.random.default_rng(1)
    ring = np.unique(grid_disks(np.array([CELL], dtype=np.uint64), 2)[1])
    counts = {int(c): rng.poisson(20, 60) for c in ring}
    counts[CELL][-1] = 60
    table = _daily(counts)
    out = activity_anomaly(table, np.unique(table["cell"].to_numpy()), CellSettings())
    last = out.filter((pl.col("cell") == CELL) & (pl.col("date") == table["date"].max()))
    assert last["anomaly_p"][0] < 1e-6 and last["anomaly_z"][0] > 5
    assert 15 < last["expected"][0] < 25
    earlier = out.filter(pl.col("date") < table["date"].max()).drop_nulls()
    assert (earlier["anomaly_p"] <= CellSettings().anomaly_alert_p).mean() < 0.01


def test_sparse_cells_are_not_flagged_without_planted_behaviour():
    """A null scenario: vehicles wander at random for 84 days; < 1 % of cell-days alert."""
    from geoint.bench.ingest import synthetic_pings

    settings = GeointSettings()
    pings = synthetic_pings(300_000, seed=3, pings_per_vehicle=300).with_row_index("ping_id")
    days = activity(vehicle_days(segment_pings(pings, settings), "Africa/Lagos", settings))
    cfg = CellSettings()
    out = activity_anomaly(days, np.unique(days["cell"].to_numpy()), cfg).drop_nulls()
    assert out.height > 10_000
    assert (out["anomaly_p"] <= cfg.anomaly_alert_p).mean() < 0.01


# ---------------------------------------------------------------------------------- hotspots
def _area(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.unique(latlng_to_cells(rng.uniform(9, 9.08, 4000), rng.uniform(2.5, 2.58, 4000), 8))


def test_gi_star_equals_esda_on_every_window():
    esda = pytest.importorskip("esda")
    from libpysal.weights import WSP

    cells = _area()
    weights = ring_weights(cells, 1, include_self=True)
    values = np.random.default_rng(2).poisson(0.4, (len(cells), 4)).astype(float)
    values[:5, 1] += 9  # a cluster
    z = gi_star(values, weights)
    w = WSP(weights).to_W(silence_warnings=True)
    for t in range(values.shape[1]):
        reference = esda.G_Local(values[:, t], w, transform="B", star=True, permutations=0)
        np.testing.assert_allclose(z[:, t], reference.Zs, rtol=0, atol=1e-10)


def test_sparse_gi_windows_equal_the_dense_computation():
    cells = _area(1)
    rng = np.random.default_rng(3)
    days = [date(2024, 1, 1) + timedelta(days=d) for d in range(6)]
    table = pl.DataFrame(
        {
            "cell": pl.Series(rng.choice(cells, 300), dtype=pl.UInt64),
            "date": [days[i] for i in rng.integers(0, 5, 300)],  # the sixth day: zeros only
            "severity": rng.choice([0.0, 1.0, 3.0, 5.0], 300),
        }
    ).unique(["cell", "date"])
    table = pl.concat(
        [
            table,
            pl.DataFrame(
                {"cell": [cells[0]], "date": [days[5]], "severity": [0.0]}, schema=table.schema
            ),
        ]
    )
    weights = ring_weights(cells, 1, include_self=True)
    gi = gi_windows(table, cells, weights)
    z, p_fdr = gi.dense()
    matrix, _ = dense(table, cells, "severity")
    expected = gi_star(matrix, weights)
    np.testing.assert_allclose(z, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(p_fdr, benjamini_hochberg(two_sided_p(expected)), rtol=1e-12)
    rows = gi_rows(table, cells, gi)
    at = (np.searchsorted(cells, table["cell"].to_numpy()), [days.index(d) for d in table["date"]])
    np.testing.assert_allclose(rows["gi_z"].to_numpy(), expected[at], rtol=0, atol=1e-12)


def test_ring_weights_hold_the_cell_and_its_first_ring():
    cells = _area()
    weights = ring_weights(cells, 1, include_self=True)
    assert weights.diagonal().all()
    inner = np.flatnonzero(np.asarray(weights.sum(axis=1)).ravel() == 7)
    assert len(inner) > len(cells) // 2  # interior cells have all six neighbours
    no_self = ring_weights(cells, 2, include_self=False)
    assert not no_self.diagonal().any() and no_self.max() == 1


def test_benjamini_hochberg_matches_the_textbook_example():
    p = np.array([[0.01], [0.04], [0.03], [0.005]])
    np.testing.assert_allclose(benjamini_hochberg(p)[:, 0], [0.02, 0.04, 0.04, 0.02])
    from scipy.stats import false_discovery_control

    many = np.random.default_rng(7).uniform(size=(500, 3)) ** 3
    many[::9] = many[0]  # ties
    reference = np.column_stack([false_discovery_control(many[:, i]) for i in range(3)])
    np.testing.assert_allclose(benjamini_hochberg(many), reference, rtol=1e-12)
    bins = hotspot_bins(np.array([3.0, -3.0, 2.0, 1.0]), np.array([0.005, 0.04, 0.08, 0.2]))
    assert bins.tolist() == [3, -2, 1, 0]


def test_mann_kendall_equals_pymannkendall_with_ties():
    mk = pytest.importorskip("pymannkendall")
    x = np.random.default_rng(4).normal(size=(30, 12))
    x[::3] = np.round(x[::3])  # ties
    s, z, p = mann_kendall(x)
    for i in range(len(x)):
        ref = mk.original_test(x[i])
        assert (s[i], z[i], p[i]) == pytest.approx((ref.s, ref.z, ref.p), abs=1e-12)


# one constructed weekly Gi* series per class (12 weeks; H = hot bin, C = cold, . = neither)
_SERIES = {
    "new hot spot": ".........." + ".H",
    "consecutive hot spot": "........" + "HHHH",
    "sporadic hot spot": "..H..H..H..H",
    "oscillating hot spot": "..C.....H..H",
    "historical hot spot": "HHHHHHHHHHH.",
    "new cold spot": "...........C",
    "consecutive cold spot": ".........CCC",
    "sporadic cold spot": "C...C...C..C",
    "oscillating cold spot": "H.....H....C",
    "historical cold spot": "CCCCCCCCCCC.",
    "no pattern": "...H....H...",
}


@pytest.mark.parametrize("expected", [*_SERIES, "intensifying", "persistent", "diminishing"])
def test_emerging_classes_follow_esri(expected):
    settings = CellSettings()
    if expected in _SERIES:
        marks = _SERIES[expected]
        z = np.array([{"H": 4.0, "C": -4.0, ".": 0.0}[m] for m in marks])
        z = z + np.linspace(0, 0.01, 12) * (1 if expected != "no pattern" else 0)
    else:
        z = {
            "intensifying": 4 + 0.5 * np.arange(12),
            "persistent": np.array([6.2, 5.8, 6.1, 5.9, 6.3, 5.7, 6.0, 6.2, 5.8, 6.1, 5.9, 6.0]),
            "diminishing": 10 - 0.5 * np.arange(12),
        }[expected]
        expected = f"{expected} hot spot"
    p = np.where(np.abs(z) >= 3, 0.001, 0.5)
    got = emerging_classes(z.reshape(1, -1), p.reshape(1, -1), settings)[0]
    assert got == expected
    # the mirror image of a hot series is the matching cold class (and vice versa)
    mirrored = emerging_classes(-z.reshape(1, -1), p.reshape(1, -1), settings)[0]
    swap = {"hot": "cold", "cold": "hot"}
    assert mirrored == " ".join(swap.get(w, w) for w in expected.split())


def test_emerging_needs_enough_weeks():
    z = np.full((1, 7), 5.0)
    assert emerging_classes(z, np.full((1, 7), 0.001), CellSettings())[0] == "no pattern"


# ---------------------------------------------------------------------------------- scoring
def test_seizure_prior_decays_with_time_and_distance():
    settings = CellSettings()
    near = latlng_to_cells(np.array([7.2]), np.array([2.8]), 8)
    far = latlng_to_cells(*(np.array([v]) for v in offset((7.2, 2.8), east_m=8_000)), 8)
    cells = np.sort(np.concatenate([near, far]))
    lat, lon = 7.2, 2.8
    seizures = pl.DataFrame(
        {"ts": [datetime(2024, 1, 1, 12, tzinfo=UTC)], "lat": [lat], "lon": [lon]}
    )
    rows, day = np.repeat(cells, 200), np.tile(np.arange(200), 2)
    density = seizure_density(seizures, rows, day, np.datetime64("2024-01-01"), settings)
    density = density.reshape(2, 200)
    at_near = density[np.searchsorted(cells, near[0])]
    assert at_near[0] == 0 and at_near[1] > 0.99  # counted from the day after the seizure
    # half-life 90 days: 90 days later half the weight
    assert at_near[91] / at_near[1] == pytest.approx(0.5, rel=1e-9)
    at_far = density[np.searchsorted(cells, far[0])][1]
    assert at_far / at_near[1] == pytest.approx(np.exp(-(8_000**2) / (2 * 5_000**2)), rel=0.1)


def test_analyze_cells_writes_tables_whose_contributions_sum_to_the_risk(
    toy_index, workspace, settings
):
    # vehicles on the southern road every day for 10 days, and a night intruder near the border
    frames = []
    for d in range(10):
        for v in range(3):
            road = [offset((7.0, 2.6), east_m=500 * i) for i in range(30)]
            frames.append(make_track(f"R{v}", local("10:00", d, 60 * v), road))
        frames.append(
            make_track(
                "X", local("01:00", d), [offset((7.6, 2.99), north_m=100 * i) for i in range(20)]
            )
        )
    pings = _pings(frames).with_columns(
        pl.Series(
            "cell", latlng_to_cells(*(pl.concat(frames)[c].to_numpy() for c in ("lat", "lon")), 8)
        )
    )
    events = pl.DataFrame(
        {
            "event_type": ["border_loiter"] * 10,
            "start": [local("01:05", d) for d in range(10)],
            "lat": [7.6] * 10,
            "lon": [2.99] * 10,
        }
    )
    events = events.with_columns(
        pl.Series("cell", latlng_to_cells(events["lat"].to_numpy(), events["lon"].to_numpy(), 8))
    )
    per_vehicle = pings_vehicle_days(pings, toy_index.timezone, settings)
    report = analyze_cells(workspace, toy_index, settings, per_vehicle, events)
    assert report["cells"] > 10 and report["cell_days"] > 10
    risk = pl.read_parquet(workspace.root / "cells/risk.parquet")
    assert risk.schema["date"] == pl.Date and risk.schema["cell"] == pl.UInt64
    total = np.zeros(risk.height)
    for column in CONTRIBUTIONS:
        total = total + risk[column].to_numpy()
    assert np.array_equal(total, risk["risk"].to_numpy())
    assert risk["risk"].min() >= 0 and risk["risk"].max() <= 100
    days = pl.read_parquet(workspace.root / "cells/days.parquet")
    assert {f"f_{f}" for f in FACTORS} <= set(days.columns)
    # the intruder's cell outranks every road cell on each day
    intruder = int(events["cell"][0])
    top = risk.sort("risk", descending=True).group_by("date", maintain_order=True).first()
    assert (top["cell"] == intruder).all()
    coarse = pl.read_parquet(workspace.root / "cells/days_r7.parquet")
    assert set(coarse["cell"].to_numpy()) <= set(parent_cells(days["cell"].to_numpy(), 7))
    assert coarse["pings"].sum() == days["pings"].sum()
    emerging = pl.read_parquet(workspace.root / "cells/emerging.parquet")
    assert emerging.height == days["cell"].n_unique()
    assert cells_to_hex([intruder])


def test_cli_analyze_then_cells_show_explains_a_cell(toy_index, tmp_path):
    import json
    import subprocess
    import sys

    frames = [
        make_track(
            f"R{d}", local("10:00", d), [offset((7.0, 2.6), east_m=500 * i) for i in range(30)]
        )
        for d in range(3)
    ]
    pings = tmp_path / "pings.parquet"
    pl.concat(frames).write_parquet(pings)
    workspace, region = tmp_path / "ws", toy_index.region.path

    def geoint(*args: str) -> dict:
        result = subprocess.run(
            [sys.executable, "-m", "geoint", *args, "--json"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    geoint("ingest", "pings", str(pings), "--workspace", str(workspace))
    report = geoint("analyze", "--workspace", str(workspace), "--region", str(region))
    assert report["cells"]["cells"] > 0
    risk = pl.read_parquet(workspace / "cells" / "risk.parquet")
    cell = cells_to_hex(risk["cell"][:1].to_numpy())[0]
    shown = geoint("cells", "show", cell, "--workspace", str(workspace), "--region", str(region))
    assert shown["cell"] == cell and shown["context"]["side_country"] == "Westland"
    points = sum(f["points"] for f in shown["latest"]["factors"].values())
    assert points == pytest.approx(shown["latest"]["risk"], abs=1e-9)
    assert shown["series"] and shown["series"][-1]["date"] == shown["latest"]["date"]
    parent = cells_to_hex(parent_cells(risk["cell"][:1].to_numpy(), 6))[0]
    coarse = geoint("cells", "show", parent, "--workspace", str(workspace), "--region", str(region))
    assert coarse["resolution"] == 6 and coarse["latest"]["risk"] >= shown["latest"]["risk"]


def test_cells_benchmark_runs_and_matches_esda(toy_index):
    pytest.importorskip("esda")
    from geoint.bench.cells import run_cells_benchmark

    result = run_cells_benchmark(toy_index, 30_000)
    assert result["pings"] == 30_000 and result["cell_days"] > 0
    assert result["gi_max_abs_difference"] < 1e-10


def test_analyze_cells_on_an_empty_workspace_writes_empty_tables(toy_index, workspace, settings):
    report = analyze_cells(workspace, toy_index, settings)
    assert (report["cells"], report["cell_days"]) == (0, 0)
    assert pl.read_parquet(workspace.root / "cells/risk.parquet").height == 0

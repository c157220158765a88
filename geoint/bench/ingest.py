"""Benchmarks: each figure is printed with its baseline measured in the same run."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import h3
import numpy as np
import polars as pl

from geoint.h3index import latlng_to_cells
from geoint.pipeline.ingest import ingest_pings
from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace

Log = Callable[[str], None] | None

# The sample region's extent (Benin–Nigeria border area), so cells look like real workloads.
LAT_RANGE = (6.3, 12.5)
LON_RANGE = (1.6, 4.8)


def synthetic_pings(count: int, seed: int = 0, pings_per_vehicle: int = 2_000) -> pl.DataFrame:
    """Return `count` plausible pings: vehicles on random walks at 30 s intervals in the region."""
    rng = np.random.default_rng(seed)
    vehicles = max(1, count // pings_per_vehicle)
    vehicle = np.repeat(np.arange(vehicles), pings_per_vehicle)[:count]
    vehicle = np.concatenate([vehicle, np.full(count - len(vehicle), vehicles - 1)])
    start = rng.uniform(0, 84 * 86_400, vehicles)
    step = np.arange(count) - np.searchsorted(vehicle, vehicle)
    epoch = datetime(2026, 8, 1, tzinfo=UTC).timestamp() + start[vehicle] + 30.0 * step
    lat0 = rng.uniform(*LAT_RANGE, vehicles)
    lon0 = rng.uniform(*LON_RANGE, vehicles)
    # ~12 m/s random walks: 30 s steps of ~360 m, about 0.003 degrees
    walk_lat = np.cumsum(rng.normal(0, 0.002, count))
    walk_lon = np.cumsum(rng.normal(0, 0.002, count))
    first = np.searchsorted(vehicle, vehicle)
    lat = np.clip(lat0[vehicle] + walk_lat - walk_lat[first], -89, 89)
    lon = np.clip(lon0[vehicle] + walk_lon - walk_lon[first], -179, 179)
    return pl.DataFrame(
        {
            "vehicle_id": pl.Series([f"V{v:06d}" for v in range(vehicles)])[vehicle],
            "ts": pl.Series((epoch * 1e6).astype(np.int64)).cast(pl.Datetime("us", "UTC")),
            "lat": lat,
            "lon": lon,
            "speed_kmh": rng.uniform(0, 90, count).astype(np.float32),
        }
    )


def run_ingest_benchmark(pings: int, loop_pings: int, repeats: int, log: Log = None) -> dict:
    """Measure H3 indexing and whole-file Parquet ingest; return medians and baselines."""
    say = log or (lambda _text: None)
    say(f"generating {pings:,} synthetic pings")
    frame = synthetic_pings(pings)
    lat, lon = frame["lat"].to_numpy(), frame["lon"].to_numpy()

    say(f"baselines: per-row h3.latlng_to_cell loops over {loop_pings:,} pings")
    loop_rates = _loop_rates(lat[:loop_pings], lon[:loop_pings], repeats)
    list_loop_rates = _loop_rates(lat[:loop_pings].tolist(), lon[:loop_pings].tolist(), repeats)

    say("vectorised H3 indexing")
    index_rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        latlng_to_cells(lat, lon, 8)
        index_rates.append(pings / (time.perf_counter() - started))

    with tempfile.TemporaryDirectory(prefix="geoint-bench-") as tmp:
        by_vehicle = Path(tmp) / "pings_by_vehicle.parquet"
        by_time = Path(tmp) / "pings_by_time.parquet"
        frame.write_parquet(by_vehicle)
        frame.sort("ts").write_parquet(by_time)
        del frame
        ingest_seconds = _time_ingests(by_vehicle, pings, repeats, Path(tmp) / "v", say)
        time_ordered_seconds = _time_ingests(by_time, pings, repeats, Path(tmp) / "t", say)

    index_rate = statistics.median(index_rates)
    loop_rate = statistics.median(loop_rates)
    list_loop_rate = statistics.median(list_loop_rates)
    ingest = statistics.median(ingest_seconds)
    result = {
        "pings": pings,
        "repeats": repeats,
        "h3_index_pings_per_s": round(index_rate),
        "h3_loop_pings_per_s": round(loop_rate),
        "h3_speedup_vs_loop": round(index_rate / loop_rate, 2),
        "h3_list_loop_pings_per_s": round(list_loop_rate),
        "h3_speedup_vs_list_loop": round(index_rate / list_loop_rate, 2),
        "ingest_seconds": round(ingest, 3),
        "ingest_pings_per_s": round(pings / ingest),
        "ingest_seconds_all_runs": [round(s, 3) for s in ingest_seconds],
        "ingest_time_ordered_seconds": round(statistics.median(time_ordered_seconds), 3),
        "ingest_time_ordered_seconds_all_runs": [round(s, 3) for s in time_ordered_seconds],
    }
    say(
        f"H3 indexing {index_rate / 1e6:.2f} M pings/s vs per-row loop {loop_rate / 1e6:.2f} M/s "
        f"({index_rate / loop_rate:.1f}x; {index_rate / list_loop_rate:.1f}x against a loop over "
        f"pre-converted Python floats); ingest of {pings:,} pings from Parquet {ingest:.2f} s "
        f"({pings / ingest / 1e6:.2f} M pings/s; time-ordered input "
        f"{result['ingest_time_ordered_seconds']:.2f} s)"
    )
    return result


def _loop_rates(lat: Sequence[float], lon: Sequence[float], repeats: int) -> list[float]:
    """Pings per second of the plain per-row loop a user writes over two coordinate columns."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        [h3.latlng_to_cell(a, b, 8) for a, b in zip(lat, lon, strict=True)]
        rates.append(len(lat) / (time.perf_counter() - started))
    return rates


def _time_ingests(source: Path, pings: int, repeats: int, root: Path, say: Callable) -> list[float]:
    """Ingest `source` into `repeats` fresh workspaces; return the wall-clock seconds of each."""
    seconds = []
    for run in range(repeats):
        say(f"ingest {source.name} run {run + 1}/{repeats}: validate, de-duplicate, index, store")
        settings = GeointSettings(workspace=root / f"ws{run}")
        workspace = Workspace(settings.workspace)
        started = time.perf_counter()
        report = ingest_pings(workspace, source, settings)
        seconds.append(time.perf_counter() - started)
        workspace.engine.dispose()
        if report.accepted != pings:
            raise RuntimeError(f"benchmark ingest accepted {report.accepted} of {pings} pings")
    return seconds

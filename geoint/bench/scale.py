"""Scale benchmark (`geoint bench scale`): N pings of thousands of trackers over months,
generated in chunks, ingested and analysed by vehicle partitions; time and peak memory of the
whole process tree (docs/scale.md).

Every tracker drives one trip a day along its route (routes are shared, 25 trackers each, in
the sample region's extent across the Benin–Nigeria border): a leg, a parked stretch (a stop),
another leg, one fix every 30 s. Chunks hold whole days of every tracker, as a feed delivers
them, so each ingest's duplicate check reads only its own dates. The baseline of the same run,
where it fits, is the unpartitioned engine (one partition) on the same workspace; with
``engine="dask"`` the Dask engine on a local cluster analyses the same workspace too and its
tables are compared.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import psutil

from geoint.bench.events import M_PER_DEG
from geoint.bench.ingest import LAT_RANGE, LON_RANGE
from geoint.ground import Ground
from geoint.pipeline.analyze import analyze
from geoint.pipeline.ingest import ingest_pings
from geoint.settings import GeointSettings
from geoint.store.cell_tables import cells_folder
from geoint.store.workspace import Workspace

Log = Callable[[str], None] | None
FIX_S = 30
DAYS = 90
PINGS_PER_TRACKER = 20_000  # 100 M pings: 5,000 trackers, 222 fixes (1.9 h) a day for 90 days
ROUTE_M = 20_000.0  # each tracker drives one of trackers / 25 shared routes
_START = datetime(2026, 6, 1, tzinfo=UTC)


class TreePeak:
    """Peak resident memory of this process and all its children (Dask workers included),
    sampled every 20 ms; `reset` starts a new phase."""

    def __init__(self) -> None:
        self.peak_bytes = 0
        self._me = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def rss(self) -> int:
        """Return the summed resident set size of the process tree now."""
        total = 0
        for proc in [self._me, *self._me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:  # a child that just ended
                continue
        return total

    def reset(self) -> None:
        """Forget the peak so far."""
        self.peak_bytes = self.rss()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_bytes = max(self.peak_bytes, self.rss())

    def __enter__(self) -> TreePeak:
        self.reset()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def tracker_chunks(
    pings: int, seed: int = 0, chunk_pings: int = 5_000_000
) -> Iterator[pl.DataFrame]:
    """Yield exactly `pings` pings (vehicle_id, ts, lat, lon) in chunks of whole days."""
    trackers = max(10, pings // PINGS_PER_TRACKER)
    per_day = max(3, -(-pings // (trackers * DAYS)))
    days = -(-pings // (trackers * per_day))
    rng = np.random.default_rng(seed)
    routes = _routes(rng, max(20, trackers // 25))
    route = rng.integers(0, len(routes[0]), trackers)
    ids = pl.Series("vehicle_id", [f"T{v:06d}" for v in range(trackers)])
    days_per_chunk = max(1, chunk_pings // (trackers * per_day))
    left = pings
    for first_day in range(0, days, days_per_chunk):
        span = min(days_per_chunk, days - first_day)
        chunk = _chunk(rng, route, routes, first_day, span, per_day).head(left)
        left -= chunk.height
        yield chunk.select(ids.gather(chunk["vehicle"]), "ts", "lat", "lon")
        if left == 0:
            return


def _routes(rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
    """Return (lat, lon, dlat, dlon) of `count` straight 20 km routes in the region."""
    lat = rng.uniform(*LAT_RANGE, count)
    lon = rng.uniform(*LON_RANGE, count)
    heading = rng.uniform(0, 2 * np.pi, count)
    degrees = ROUTE_M / M_PER_DEG
    return lat, lon, degrees * np.cos(heading), degrees * np.sin(heading) / np.cos(np.radians(lat))


def _chunk(
    rng: np.random.Generator,
    route: np.ndarray,
    routes: tuple[np.ndarray, ...],
    first_day: int,
    span: int,
    per_day: int,
) -> pl.DataFrame:
    """Return `span` days of trips of every tracker, ordered by tracker and time.

    A trip runs back and forth along the tracker's route at its own speed: a leg, a parked
    third (a stop), another leg; fixes carry ~10 m of noise, parked ones ~3 m.
    """
    trackers = len(route)
    trips = trackers * span
    vehicle = np.repeat(np.arange(trackers), span)
    day = np.tile(np.arange(first_day, first_day + span), trackers)
    start_s = day * 86_400 + rng.uniform(5, 20, trips) * 3600  # trips leave between 05 and 20 h
    speed = rng.uniform(8, 16, trips)  # m/s
    offset = rng.uniform(0, 2 * ROUTE_M, trips)
    step = np.tile(np.arange(per_day), trips)
    trip = np.repeat(np.arange(trips), per_day)
    leg = per_day // 3
    driven = np.where(step < leg, step, np.where(step < 2 * leg, leg, step - leg))
    along = (offset[trip] + speed[trip] * FIX_S * driven) % (2 * ROUTE_M)
    share = np.where(along > ROUTE_M, 2 * ROUTE_M - along, along) / ROUTE_M
    parked = (step >= leg) & (step < 2 * leg)
    noise = np.where(parked, 3.0, 10.0) / M_PER_DEG * rng.standard_normal((2, len(step)))
    r = route[vehicle][trip]
    lat = routes[0][r] + share * routes[2][r] + noise[0]
    lon = routes[1][r] + share * routes[3][r] + noise[1]
    micros = ((_START.timestamp() + start_s[trip] + FIX_S * step) * 1e6).astype(np.int64)
    return pl.DataFrame(
        {
            "vehicle": vehicle[trip],
            "ts": pl.Series(micros).cast(pl.Datetime("us", "UTC")),
            "lat": lat,
            "lon": lon,
        }
    )


def run_scale_benchmark(
    ground: Ground,
    region: Path,
    root: Path,
    pings: int,
    engine: str = "local",
    workers: int = 2,
    baseline_max: int = 10_000_000,
    chunk_pings: int = 5_000_000,
    log: Log = None,
) -> dict[str, Any]:
    """Generate, ingest and analyse `pings` pings in a workspace under `root`; time and peak
    memory of each phase; the one-partition baseline (up to `baseline_max` pings) and the
    Dask engine (`engine="dask"`) on the same workspace."""
    say = log or (lambda _text: None)
    settings = GeointSettings(workspace=root / "ws")
    workspace = Workspace(settings.workspace)
    result: dict[str, Any] = {"pings": 0, "load_average": list(psutil.getloadavg())}
    with TreePeak() as peak:
        generate_s = ingest_s = 0.0
        for number, chunk in enumerate(tracker_chunks(pings, chunk_pings=chunk_pings)):
            started = time.perf_counter()
            path = root / f"chunk-{number:04d}.parquet"
            chunk.write_parquet(path)
            result["pings"] += chunk.height
            del chunk
            generate_s += time.perf_counter() - started
            started = time.perf_counter()
            ingest_pings(workspace, path, settings)
            ingest_s += time.perf_counter() - started
            path.unlink()
            say(f"ingested {result['pings']:,} pings ({ingest_s:.1f} s)")
        result |= {"generate_s": round(generate_s, 1), "ingest_s": round(ingest_s, 1)}
        result["ingest_peak_rss_gb"] = _gb(peak.peak_bytes)

        peak.reset()
        report = analyze(workspace, ground, settings)
        result |= {
            "analyze_s": report["seconds"],
            "analyze_peak_rss_gb": _gb(peak.peak_bytes),
            "partitions": report["partitions"],
            "stage_seconds": report["stage_seconds"],
            "events": report["events_total"],
            "vehicle_days": report["cells"]["vehicle_days"],
        }
        say(f"analysed in {report['seconds']:.1f} s, {report['partitions']} partitions")
        result["peak_rss_gb"] = max(result["ingest_peak_rss_gb"], result["analyze_peak_rss_gb"])
        local = _outputs(workspace)
        if result["pings"] <= baseline_max:
            peak.reset()
            whole = analyze(workspace, ground, settings, partitions=1)
            result["baseline"] = {
                "engine": "unpartitioned (one partition)",
                "analyze_s": whole["seconds"],
                "peak_rss_gb": _gb(peak.peak_bytes),
                "identical": _same(local, _outputs(workspace)),
            }
            say(f"one partition: {whole['seconds']:.1f} s")
        if engine == "dask":
            result["dask"] = _dask_run(workspace, ground, settings, region, workers, peak, local)
            ratio = result["dask"]["analyze_s"] / result["analyze_s"]
            result["dask"]["ratio_to_local"] = round(ratio, 2)
    shutil.rmtree(settings.workspace, ignore_errors=True)
    return result


def _dask_run(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    region: Path,
    workers: int,
    peak: TreePeak,
    local: dict[str, pl.DataFrame],
) -> dict[str, Any]:
    """Analyse the workspace on a local Dask cluster of `workers` processes (started first,
    outside the timing, as a standing cluster would be)."""
    from geoint.pipeline.distributed import dask_engine

    with dask_engine(None, workers) as engine:
        peak.reset()
        report = analyze(workspace, ground, settings, engine=engine, region=str(region))
        rss = _gb(peak.peak_bytes)
    return {
        "workers": workers,
        "analyze_s": report["seconds"],
        "peak_rss_gb": rss,
        "identical": _same(local, _outputs(workspace)),
    }


def _outputs(workspace: Workspace) -> dict[str, pl.DataFrame]:
    """The stored events and cell tables (the vehicle-day table in a fixed order)."""
    tables = {p.stem: pl.read_parquet(p) for p in cells_folder(workspace.root).glob("*.parquet")}
    tables["vehicle_days"] = (
        tables["vehicle_days"]
        .with_columns(pl.col("vehicle_id").cast(pl.String))
        .sort("cell", "date", "vehicle_id")
    )
    tables["events"] = workspace.read_events()
    return tables


def _same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> bool:
    return a.keys() == b.keys() and all(a[name].equals(b[name]) for name in a)


def _gb(value: int) -> float:
    return round(value / 1e9, 2)

"""Event detection benchmark: 1 M and 10 M generated pings, and MovingPandas' stop detector.

The workload is `geoint.bench.ingest.synthetic_pings` (random walks at 30 s) with planted behaviour,
so that every detector has work: stop-and-go vehicles, vehicles shuttling across the border,
pairs parked together near it, bursts of GPS spikes, cloned identities, 40-minute silences and
watch-listed vehicles. The reference for stop detection is MovingPandas'
``TrajectoryStopDetector`` with the same diameter and duration, on a 100 k-ping slice.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import numpy as np
import polars as pl

from geoint.bench.ingest import synthetic_pings
from geoint.detect.events import events_from_tracks
from geoint.detect.tracks import add_segments, find_spikes, find_stops, order_pings, prepare_tracks
from geoint.errors import GeointError
from geoint.ground import Ground
from geoint.h3index import latlng_to_cells
from geoint.schema import UTC_DATETIME
from geoint.settings import GeointSettings

Log = Callable[[str], None] | None
M_PER_DEG = 111_195.0
_BLOCK = 140  # stop-and-go: 70 pings moving then 70 parked (35 min)


class PeakMemory:
    """Context manager sampling this process's resident memory every 5 ms (Linux /proc)."""

    def __init__(self) -> None:
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def rss(self) -> int:
        """Return the current resident set size in bytes."""
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * self._page

    def _sample(self) -> None:
        while True:
            self.peak_bytes = max(self.peak_bytes, self.rss())
            if self._stop.wait(0.005):
                return

    def __enter__(self) -> PeakMemory:
        self.peak_bytes = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self.rss())


def border_anchors(ground: Ground, count: int, rng: np.random.Generator) -> np.ndarray:
    """Return `count` (lat, lon) points within 2 km of the border, sampled in its bounding area."""
    lat = rng.uniform(6.3, 12.5, 400_000)
    lon = rng.uniform(1.6, 4.8, 400_000)
    near = np.flatnonzero(ground.distance_to_border_m(lat, lon, max_distance_m=2_000) <= 2_000)
    if len(near) == 0:
        raise GeointError("benchmark region: no border within the sample area (lat 6.3-12.5)")
    pick = near[rng.integers(0, len(near), count)]
    return np.column_stack([lat[pick], lon[pick]])


def event_workload(
    count: int,
    ground: Ground,
    corridors: list[str],
    seed: int = 0,
    pings_per_vehicle: int = 2_000,
) -> dict[str, pl.DataFrame]:
    """Return pings (with ping_id and cell), declarations and watch list: random walks with
    planted behaviour.

    Per vehicle v: v % 5 == 1 stop-and-go; v % 10 == 2 shuttles across the border; v % 20 in
    (3, 4) parks with its partner near the border for its first 400 pings, at the same time;
    v % 50 == 5 has a burst of 3 GPS spikes in 40 min; v % 200 == 6 a cloned identity for 10
    pings; v % 20 in (7, 12) a 40-minute silence (12: while shuttling); v % 20 == 8 is on the
    watch list; v % 50 == 11 (stop-and-go) is declared in transit on one of `corridors` for 12 h
    from its first ping.
    """
    rng = np.random.default_rng(seed)
    frame = synthetic_pings(count, seed, pings_per_vehicle)
    vehicle = frame["vehicle_id"].str.slice(1).cast(pl.Int64).to_numpy()
    first = np.searchsorted(vehicle, vehicle)
    step = np.arange(count) - first
    lat, lon = frame["lat"].to_numpy().copy(), frame["lon"].to_numpy().copy()
    ts = frame["ts"].to_physical().to_numpy().copy()
    vehicles = int(vehicle[-1]) + 1 if count else 0
    anchors = border_anchors(ground, max(vehicles, 1), rng)
    jitter = rng.normal(0, 4.0 / M_PER_DEG, (2, count))

    go = (vehicle % 5 == 1) & (step % _BLOCK >= _BLOCK // 2)
    frozen = np.flatnonzero(go)
    held = frozen - (step[frozen] % _BLOCK - _BLOCK // 2)
    lat[frozen], lon[frozen] = lat[held] + jitter[0, frozen], lon[held] + jitter[1, frozen]

    shuttle = np.flatnonzero(vehicle % 10 == 2)
    phase = 2 * np.pi * step[shuttle] / 240  # one return trip across the border every 2 h
    lat[shuttle] = anchors[vehicle[shuttle], 0] + 0.3 * (lat[shuttle] - lat[first[shuttle]])
    lon[shuttle] = anchors[vehicle[shuttle], 1] + 0.05 * np.sin(phase)

    pair = np.flatnonzero(np.isin(vehicle % 20, (3, 4)) & (step < 400))
    leader = vehicle[pair] - (vehicle[pair] % 20 == 4)
    lat[pair] = anchors[leader, 0] + jitter[0, pair]
    lon[pair] = anchors[leader, 1] + jitter[1, pair]
    partner = np.flatnonzero(vehicle % 20 == 4)
    ts[partner] = ts[first[partner] - pings_per_vehicle] + (ts[partner] - ts[first[partner]])

    burst = np.flatnonzero((vehicle % 50 == 5) & np.isin(step, (100, 140, 180)))
    lat[burst] += 0.2
    clone = np.flatnonzero((vehicle % 200 == 6) & (step >= 1000) & (step < 1010) & (step % 2 == 1))
    lat[clone] += 1.0
    silent = np.flatnonzero(np.isin(vehicle % 20, (7, 12)) & (step >= 700))
    mirrored = silent[vehicle[silent] % 20 == 12]  # reappears across the border: a dark crossing
    lon[mirrored] = 2 * anchors[vehicle[mirrored], 1] - lon[mirrored]
    ts[silent] += 40 * 60 * 1_000_000

    pings = (
        frame.with_columns(
            pl.Series("lat", lat),
            pl.Series("lon", lon),
            pl.Series("ts", ts).cast(UTC_DATETIME),
            pl.Series("cell", latlng_to_cells(lat, lon, 8), dtype=pl.UInt64),
        )
        .with_row_index("ping_id")
        .with_columns(pl.col("ping_id").cast(pl.UInt64))
    )
    listed = [f"V{v:06d}" for v in range(vehicles) if v % 20 == 8]
    watchlist = pl.DataFrame(
        {"vehicle_id": listed, "expires": [None] * len(listed)},
        schema={"vehicle_id": pl.String, "expires": UTC_DATETIME},
    )
    declared = np.arange(11, vehicles, 50) if corridors else np.zeros(0, np.int64)
    start = ts[np.searchsorted(vehicle, declared)]
    declarations = pl.DataFrame(
        {
            "vehicle_id": [f"V{v:06d}" for v in declared],
            "corridor_id": [corridors[v % len(corridors)] for v in declared],
            "start": pl.Series(start, dtype=pl.Int64).cast(UTC_DATETIME),
            "deadline": pl.Series(start + 12 * 3600 * 1_000_000, dtype=pl.Int64).cast(UTC_DATETIME),
            "dest_lat": anchors[declared, 0],
            "dest_lon": anchors[declared, 1],
        }
    )
    return {"pings": pings, "declarations": declarations, "watchlist": watchlist}


def time_events(
    workload: dict[str, pl.DataFrame], ground: Ground, settings: GeointSettings
) -> dict:
    """Detect the events of a workload; return seconds (total and by step), peak RSS, counts."""
    pings = workload["pings"]
    with PeakMemory() as memory:
        before = memory.rss()
        started = time.perf_counter()
        tracks = prepare_tracks(pings, ground, settings)
        prepared = time.perf_counter()
        events = events_from_tracks(
            tracks, ground, settings, workload["declarations"], workload["watchlist"]
        )
        done = time.perf_counter()
    del tracks
    return {
        "pings": pings.height,
        "seconds": round(done - started, 3),
        "tracks_seconds": round(prepared - started, 3),
        "events_seconds": round(done - prepared, 3),
        "pings_per_s": round(pings.height / (done - started)),
        "rss_before_gb": round(before / 1e9, 3),
        "peak_rss_gb": round(memory.peak_bytes / 1e9, 3),
        "events": dict(sorted(events.group_by("event_type").len().iter_rows())),
    }


def compare_with_movingpandas(pings: pl.DataFrame, settings: GeointSettings) -> dict:
    """Time our stop detection and MovingPandas' on the same pings; return times and agreement.

    Both see the same trajectories: the non-spike pings of each vehicle's trip (MovingPandas
    does not split at gaps by itself).
    """
    try:
        import geopandas as gpd
        import movingpandas as mpd
    except ImportError as exc:
        raise GeointError(
            "the stop benchmark needs movingpandas: pip install geoint[test]"
        ) from exc
    s = settings.events
    started = time.perf_counter()
    ordered, _ = order_pings(pings, settings.h3_resolution)
    kept = add_segments(ordered.filter(~find_spikes(ordered, settings.ingest.spike_speed_kmh)),
                        settings.tracks.trip_gap_s)  # fmt: skip
    scanned = time.perf_counter()
    ours = find_stops(kept, s.stop_diameter_m, s.stop_min_duration_s)
    ours_seconds = time.perf_counter() - started
    scan_seconds = time.perf_counter() - scanned

    frame = kept.select(
        pl.format("{}_{}", "vehicle", "trip").alias("traj"),
        pl.col("ts").dt.replace_time_zone(None),
        "lat",
        "lon",
    ).to_pandas()
    points = gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326"
    ).set_index("ts")
    collection = mpd.TrajectoryCollection(points, "traj")
    started = time.perf_counter()
    found = mpd.TrajectoryStopDetector(collection).get_stop_time_ranges(
        max_diameter=s.stop_diameter_m, min_duration=timedelta(seconds=s.stop_min_duration_s)
    )
    mp_seconds = time.perf_counter() - started
    theirs = pl.DataFrame(
        {
            "traj": [str(r.traj_id) for r in found],
            "start": [r.t_0 for r in found],
            "end": [r.t_n for r in found],
        },
        schema={"traj": pl.String, "start": pl.Datetime("us"), "end": pl.Datetime("us")},
    )
    mine = ours.select(
        pl.format("{}_{}", "vehicle", "trip").alias("traj"),
        pl.col("start").dt.replace_time_zone(None),
        pl.col("end").dt.replace_time_zone(None),
    )
    return {
        "pings": pings.height,
        "ours_seconds": round(ours_seconds, 4),
        "ours_scan_seconds": round(scan_seconds, 4),
        "movingpandas_seconds": round(mp_seconds, 3),
        "speedup": round(mp_seconds / ours_seconds, 1),
        "speedup_scan_only": round(mp_seconds / scan_seconds, 1),
        **stop_agreement(mine, theirs),
    }


def stop_agreement(ours: pl.DataFrame, theirs: pl.DataFrame) -> dict:
    """Return how two stop lists (traj, start, end) agree: stops of each overlapping a stop of
    the other on the same trajectory, and the shared share of stopped time."""
    pairs = (
        ours.with_row_index("a")
        .join(theirs.with_row_index("b"), on="traj")
        .filter((pl.col("start") <= pl.col("end_right")) & (pl.col("start_right") <= pl.col("end")))
    )
    shared = pairs.select(
        (pl.min_horizontal("end", "end_right") - pl.max_horizontal("start", "start_right"))
        .dt.total_seconds()
        .sum()
    ).item()
    total_ours = ours.select((pl.col("end") - pl.col("start")).dt.total_seconds().sum()).item()
    total_theirs = theirs.select((pl.col("end") - pl.col("start")).dt.total_seconds().sum()).item()
    union = (total_ours or 0) + (total_theirs or 0) - (shared or 0)
    return {
        "stops_ours": ours.height,
        "stops_movingpandas": theirs.height,
        "ours_matched": round(pairs["a"].n_unique() / ours.height, 4) if ours.height else None,
        "movingpandas_matched": (
            round(pairs["b"].n_unique() / theirs.height, 4) if theirs.height else None
        ),
        "stopped_time_jaccard": round(shared / union, 4) if union else None,
    }


def run_events_benchmark(
    ground: Ground,
    corridors: list[str],
    sizes: tuple[int, ...],
    slice_pings: int,
    log: Log = None,
) -> dict:
    """Measure event detection at each size and the stop detector against MovingPandas.

    `corridors` are corridor ids of the region's corridors layer, for planted declarations.
    """
    say = log or (lambda _text: None)
    settings = GeointSettings()
    runs = []
    for size in sizes:
        say(f"generating {size:,} pings with planted behaviour")
        workload = event_workload(size, ground, corridors)
        say(f"detecting events in {size:,} pings")
        runs.append(time_events(workload, ground, settings))
        del workload
        say(f"  {runs[-1]['seconds']:.2f} s, peak RSS {runs[-1]['peak_rss_gb']:.2f} GB")
    say(f"stop detection against MovingPandas on {slice_pings:,} pings")
    sample = event_workload(slice_pings, ground, corridors, seed=1)["pings"]
    stops = compare_with_movingpandas(sample, settings)
    say(
        f"  ours {stops['ours_seconds']:.3f} s, MovingPandas {stops['movingpandas_seconds']:.1f} s "
        f"({stops['speedup']:.0f}x); stops matched: ours {stops['ours_matched']}, "
        f"MovingPandas {stops['movingpandas_matched']}"
    )
    return {"events": runs, "stops": stops}

"""The full analysis by vehicle partitions (docs/scale.md): memory follows the partition.

Vehicles are cut into P contiguous ranges of their sorted ids holding about equal numbers of
pings. Each partition reads only its vehicles' pings (ping parts are sorted by vehicle, so the
Parquet reader skips the row groups outside the range), prepares their tracks and returns what
is exact per vehicle: the events of each vehicle on its own, its vehicle-day table and the
stationary runs that may be half of a rendezvous. The client pairs the runs of every partition
(`geoint.detect.events.rendezvous_partials`), so that rendezvous across partitions are found
exactly, and computes the cell tables from the concatenated vehicle-day table as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl

from geoint.analytics.scoring import Activity, ActivitySums
from geoint.detect.events import (
    RUN_SCHEMA,
    finish_events,
    rendezvous_partials,
    rendezvous_runs,
    vehicle_partials,
)
from geoint.detect.tracks import prepare_tracks
from geoint.ground import Ground
from geoint.layers import Region, RegionIndex
from geoint.pipeline.cells import DETECTED_PING_COLUMNS, vehicle_days_within
from geoint.schema import PING_SCHEMA
from geoint.settings import GeointSettings


@dataclass(frozen=True)
class Partition:
    """Vehicles with ids in [low, high): None is open-ended; ``pings`` counted when planned."""

    index: int
    low: str | None
    high: str | None
    pings: int

    def holds(self, vehicle_id: pl.Expr) -> pl.Expr:
        """The filter of the rows whose vehicle id is in this partition."""
        inside = pl.lit(True)
        if self.low is not None:
            inside = inside & (vehicle_id >= self.low)
        if self.high is not None:
            inside = inside & (vehicle_id < self.high)
        return inside


@dataclass(frozen=True)
class Plan:
    """What every partition task needs: the ping files, the partitions and the data's end."""

    files: tuple[str, ...]
    partitions: tuple[Partition, ...]
    pings: int
    data_end: int | None  # µs since the epoch of the last ping (spikes included)


@dataclass(frozen=True)
class Task:
    """One partition's work, picklable for a Dask worker: the ground is named by its region
    folder there (`region`), or given (`ground`) in this process."""

    plan: Plan
    partition: Partition
    settings: GeointSettings
    declarations: pl.DataFrame | None
    watchlist: pl.DataFrame | None
    region: str | None = None
    ground: Ground | None = None


@dataclass(frozen=True)
class PartitionResult:
    """What a partition returns: its vehicles' events (finished, rendezvous apart), the
    candidate rendezvous runs, its vehicle-day table (``vehicle`` the id) and the activity
    sums of that table (its cells' pings, vehicles, moving time: `ActivitySums`)."""

    index: int
    pings: int
    vehicles: int
    events: pl.DataFrame
    runs: pl.DataFrame
    vehicle_days: pl.DataFrame
    activity: ActivitySums
    seconds: float
    beyond: int = 0  # pings beyond the region's extent, left out of the vehicle-day table


def plan_partitions(
    files: Sequence[str], settings: GeointSettings, count: int | None = None
) -> Plan:
    """Cut the vehicles of `files` into contiguous id ranges of about equal ping counts.

    `count` (or ``settings.analysis.partitions``) fixes the number of partitions; otherwise
    it is the pings over ``settings.analysis.partition_pings``. Reads two columns only.
    """
    per_vehicle = (
        _scan(files)
        .group_by("vehicle_id")
        .agg(
            pl.len().alias("pings"),
            pl.col("ts").dt.cast_time_unit("us").to_physical().max().alias("last"),
        )
        .sort("vehicle_id")
        .collect()
    )
    total = int(per_vehicle["pings"].sum())
    wanted = count or settings.analysis.partitions
    if wanted is None:
        wanted = -(-total // settings.analysis.partition_pings)
    wanted = max(1, min(wanted, per_vehicle.height))
    # partition k starts at the first vehicle whose cumulative pings pass k / P of the total
    before = (per_vehicle["pings"].cum_sum() - per_vehicle["pings"]).to_numpy()
    starts = sorted({int((before < total * k / wanted).sum()) for k in range(1, wanted)})
    starts = [s for s in starts if 0 < s < per_vehicle.height]
    ids = per_vehicle["vehicle_id"].to_list()
    lows: list[str | None] = [None, *(ids[s] for s in starts)]
    highs: list[str | None] = [*(ids[s] for s in starts), None]
    cuts = [0, *starts, per_vehicle.height]
    counts = per_vehicle["pings"].to_numpy()
    partitions = tuple(
        Partition(k, low, high, int(counts[cuts[k] : cuts[k + 1]].sum()))
        for k, (low, high) in enumerate(zip(lows, highs, strict=True))
    )
    data_end = int(per_vehicle["last"].max()) if per_vehicle.height else None
    return Plan(tuple(files), partitions, total, data_end)


def _scan(files: Sequence[str]) -> pl.LazyFrame:
    """The ping parts (paths or object-store URLs, credentials from the environment)."""
    if not files:
        return pl.LazyFrame(schema=PING_SCHEMA)
    return pl.scan_parquet(list(files))


def analyze_partition(task: Task) -> PartitionResult:
    """Prepare the tracks of one partition's vehicles and return their exact per-vehicle parts."""
    started = time.perf_counter()
    ground = task.ground if task.ground is not None else region_ground(task.region)
    plan, part, settings = task.plan, task.partition, task.settings
    pings = (
        _scan(plan.files)
        .select(DETECTED_PING_COLUMNS)
        .filter(part.holds(pl.col("vehicle_id")))
        .collect()
    )
    declarations = task.declarations
    if declarations is not None:  # with the vehicle's partition, pings or not (overdue)
        declarations = declarations.filter(part.holds(pl.col("vehicle_id").cast(pl.String)))
    tracks = prepare_tracks(pings, ground, settings)
    count = pings.height
    del pings
    partial = vehicle_partials(
        tracks, ground, settings, declarations, task.watchlist, plan.data_end
    )
    events = finish_events(partial, ground, settings)
    runs = rendezvous_runs(tracks, ground, settings)
    segments = tracks.pings.select(
        "vehicle", "ts", "lat", "lon", "cell", "dt_s", "speed_kmh", "trip"
    )
    vehicle_ids = tracks.vehicle_ids
    del tracks
    days, beyond = vehicle_days_within(segments, vehicle_ids, ground, settings)
    return PartitionResult(
        part.index,
        count,
        vehicle_ids.len(),
        events,
        runs,
        days.with_columns(pl.col("vehicle").cast(pl.String)),
        ActivitySums.of(days, settings.coarse_resolutions),
        time.perf_counter() - started,
        beyond,
    )


@lru_cache(maxsize=4)
def region_ground(region: str | None) -> Ground:
    """The ground of a region folder, built once per worker process."""
    if region is None:
        raise ValueError("a partition task needs its ground or its region folder")
    return RegionIndex(Region.load(Path(region)))


Engine = Callable[[Sequence[Task]], Iterable[PartitionResult]]


@dataclass(frozen=True)
class Combined:
    """The partitions' results put together: every event (rendezvous included, sorted), the
    activity sums of the whole vehicle-day table, counts and per-partition seconds."""

    events: pl.DataFrame
    activity: Activity
    pings: int
    vehicles: int
    partition_seconds: list[float]
    beyond: int


def combine(
    results: Iterable[PartitionResult],
    ground: Ground,
    settings: GeointSettings,
    keep_days: Callable[[pl.DataFrame], None],
) -> Combined:
    """Pair the rendezvous runs of every partition, add up their activity sums and
    concatenate their events; each vehicle-day table goes to `keep_days` as it arrives, so
    that only one is in memory at a time."""
    events, runs, sums, seconds = {}, {}, [], {}
    pings = vehicles = beyond = 0
    for result in results:
        keep_days(result.vehicle_days)
        events[result.index], runs[result.index] = result.events, result.runs
        sums.append(result.activity)
        seconds[result.index] = round(result.seconds, 3)
        pings, vehicles = pings + result.pings, vehicles + result.vehicles
        beyond += result.beyond
    order = sorted(events)  # partition order: the runs in vehicle order, as unpartitioned
    paired = pl.concat([runs[k] for k in order]) if order else pl.DataFrame(schema=RUN_SCHEMA)
    rendezvous = finish_events(rendezvous_partials(paired, ground, settings), ground, settings)
    everything = pl.concat([*(events[k] for k in order), rendezvous]).sort(
        "start", "event_type", "vehicle_id", "other_vehicle_id", "event_id"
    )
    return Combined(
        everything,
        Activity.combined(sums),
        pings,
        vehicles,
        [seconds[k] for k in order],
        beyond,
    )

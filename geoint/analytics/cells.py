"""Per-cell aggregation (SPEC §7): static context, activity, events and seizures per window.

Windows are UTC days (``date``) or ISO weeks (``date`` = their Monday). Every table is keyed by
(``cell``, ``date``) with ``cell`` the uint64 H3 cell at the analysis resolution. Spikes are
excluded. A ping's segment (from the previous ping of its vehicle, same trip) counts as moving
vehicle-minutes of the ping's cell and window when its speed is at least the moving speed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl

from geoint.atomic import read_parquet
from geoint.detect.tracks import add_segments, find_spikes, order_pings
from geoint.ground import Ground
from geoint.schema import COMMODITIES, EventType
from geoint.settings import GeointSettings
from geoint.store.cell_tables import CONTEXT, cell_table_path, write_table
from geoint.store.workspace import Workspace

DAY, WEEK = "1d", "1w"
ACTIVITY_COLUMNS = ("pings", "vehicles", "moving_minutes", "night_pings")
EVENT_COLUMNS = tuple(f"events_{kind}" for kind in EventType)
SEIZURE_COLUMNS = tuple(f"seizures_{commodity}" for commodity in COMMODITIES)
_US_PER_MINUTE = 60_000_000
COUNT_COLUMNS = (
    *ACTIVITY_COLUMNS, "events", "severity", *EVENT_COLUMNS, "seizures", *SEIZURE_COLUMNS,
)  # fmt: skip


def segment_pings(pings: pl.DataFrame, settings: GeointSettings) -> pl.DataFrame:
    """Return non-spike pings with their segment: vehicle, ts, cell, dt_s, speed_kmh, trip.

    Uses the track preparation of `geoint.detect.tracks` (spikes recomputed over whole tracks);
    `geoint.pipeline.analyze.analyze` passes its prepared tracks instead of calling this.
    """
    segments, _ = segmented_pings(pings, settings)
    return segments.select("vehicle", "ts", "cell", "dt_s", "speed_kmh", "trip")


def segmented_pings(
    pings: pl.DataFrame, settings: GeointSettings
) -> tuple[pl.DataFrame, pl.Series]:
    """Return the ordered non-spike pings with every segment column of `geoint.detect.tracks`
    (``vehicle`` code, ts, lat, lon, cell, dt_s, distance_m, speed_kmh, bearing_deg, trip)
    and the vehicle ids the codes index."""
    ordered, vehicle_ids = order_pings(pings, settings.h3_resolution)
    spike = find_spikes(ordered, settings.ingest.spike_speed_kmh)
    return add_segments(ordered.filter(~spike), settings.tracks.trip_gap_s), vehicle_ids


def _window(period: str, column: str = "ts") -> pl.Expr:
    return pl.col(column).dt.truncate(period).cast(pl.Date).alias("date")


def vehicle_days(segments: pl.DataFrame, timezone: str, settings: GeointSettings) -> pl.DataFrame:
    """Return one row per (cell, date, vehicle): pings, moving_minutes, night_pings.

    `segments` are prepared pings (vehicle, ts, cell, dt_s, speed_kmh; see `segment_pings`);
    night is the region's local time (`EventSettings` night hours). Every window and parent
    aggregation starts from this much smaller table.
    """
    events, tracks = settings.events, settings.tracks
    hour = pl.col("ts").dt.convert_time_zone(timezone).dt.hour()
    start, end = events.night_start_hour, events.night_end_hour
    night = (hour >= start) | (hour < end) if start > end else (hour >= start) & (hour < end)
    moving = (pl.col("speed_kmh") >= tracks.moving_speed_kmh) & (pl.col("dt_s") < tracks.trip_gap_s)
    return (
        segments.lazy()
        .group_by("cell", _window(DAY), "vehicle")
        .agg(
            pl.len().cast(pl.Float64).alias("pings"),
            (pl.when(moving).then(pl.col("dt_s")).otherwise(0.0).sum() / 60).alias(
                "moving_minutes"
            ),
            night.sum().cast(pl.Float64).alias("night_pings"),
        )
        .collect()
    )


def keyed_vehicle_days(
    segments: pl.DataFrame, vehicle_ids: pl.Series, timezone: str, settings: GeointSettings
) -> pl.DataFrame:
    """Return `vehicle_days` with ``vehicle`` the stable id (`vehicle_ids` indexed by the codes).

    The form stored as ``cells/vehicle_days.parquet`` and read by the incremental update;
    ``vehicle`` is Categorical in memory (distinct counts as fast as on codes).
    """
    per_vehicle = vehicle_days(segments, timezone, settings)
    ids = vehicle_ids.cast(pl.String).cast(pl.Categorical)
    return per_vehicle.with_columns(
        ids.gather(per_vehicle["vehicle"].cast(pl.Int64)).alias("vehicle")
    )


def pings_vehicle_days(
    pings: pl.DataFrame, timezone: str, settings: GeointSettings
) -> pl.DataFrame:
    """Return the `keyed_vehicle_days` of pings (ping_id, vehicle_id, ts, lat, lon, cell)."""
    return keyed_vehicle_days(*segmented_pings(pings, settings), timezone, settings)


def activity(vehicle_days_: pl.DataFrame, period: str = DAY) -> pl.DataFrame:
    """Return cell, date, pings, vehicles (distinct), moving_minutes, night_pings per window."""
    return finish_activity(activity_sums(vehicle_days_, period))


def activity_sums(vehicle_days_: pl.DataFrame, period: str = DAY) -> pl.DataFrame:
    """Return `activity` with ``moving_us`` (integer microseconds) for moving_minutes.

    Sums of integers do not depend on their order, so the sums of vehicle partitions add up to
    exactly those of the whole table (`combine_activity`); a vehicle-day's moving minutes are
    a sum of whole microseconds (far below 2**53), recovered exactly by rounding.
    """
    return (
        vehicle_days_.lazy()
        .group_by("cell", _window(period, "date"))
        .agg(
            pl.col("pings").sum(),
            pl.col("vehicle").n_unique().cast(pl.Float64).alias("vehicles"),
            (pl.col("moving_minutes") * _US_PER_MINUTE)
            .round()
            .cast(pl.Int64)
            .sum()
            .alias("moving_us"),
            pl.col("night_pings").sum(),
        )
        .collect()
    )


def combine_activity(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Add up the `activity_sums` of vehicle-disjoint tables (distinct vehicles add up too)."""
    return pl.concat(parts).group_by("cell", "date").agg(pl.all().sum())


def finish_activity(sums: pl.DataFrame) -> pl.DataFrame:
    """Return `activity` columns from `activity_sums`."""
    return sums.select(
        "cell",
        "date",
        "pings",
        "vehicles",
        (pl.col("moving_us") / _US_PER_MINUTE).alias("moving_minutes"),
        "night_pings",
    )


def event_counts(
    events: pl.DataFrame, severity: dict[str, float], period: str = DAY
) -> pl.DataFrame:
    """Return cell, date, events, severity (weighted sum) and events_<type> for every type."""
    weights = pl.col("event_type").replace_strict(severity, default=0.0, return_dtype=pl.Float64)
    return (
        events.lazy()
        .select("cell", pl.col("start").alias("ts"), "event_type")
        .group_by("cell", _window(period))
        .agg(
            pl.len().cast(pl.Float64).alias("events"),
            weights.sum().alias("severity"),
            *[
                (pl.col("event_type") == str(kind)).sum().cast(pl.Float64).alias(f"events_{kind}")
                for kind in EventType
            ],
        )
        .collect()
    )


def seizure_counts(seizures: pl.DataFrame, period: str = DAY) -> pl.DataFrame:
    """Return cell, date, seizures and seizures_<commodity> (no commodity counts as other)."""
    commodity = pl.col("commodity").fill_null("other")
    return (
        seizures.lazy()
        .select(pl.col("cell").cast(pl.UInt64), "ts", commodity)
        .group_by("cell", _window(period))
        .agg(
            pl.len().cast(pl.Float64).alias("seizures"),
            *[
                (commodity == name).sum().cast(pl.Float64).alias(f"seizures_{name}")
                for name in COMMODITIES
            ],
        )
        .collect()
    )


def cell_windows(
    activity_: pl.DataFrame, events: pl.DataFrame, seizures: pl.DataFrame
) -> pl.DataFrame:
    """Return every (cell, date) with activity, events or seizures (in no particular order):
    all COUNT_COLUMNS, 0 if none, and night_share (night pings over pings, 0 without pings)."""
    key = ("cell", "date")
    frames = [
        f.with_columns(pl.col("cell").cast(pl.UInt64), pl.col("date").cast(pl.Date))
        for f in (activity_, events, seizures)
    ]
    joined = frames[0]
    for frame in frames[1:]:
        joined = joined.join(frame, on=key, how="full", coalesce=True)
    return (
        joined.with_columns(pl.col(list(COUNT_COLUMNS)).fill_null(0.0))
        .with_columns(
            pl.when(pl.col("pings") > 0)
            .then(pl.col("night_pings") / pl.col("pings"))
            .otherwise(0.0)
            .alias("night_share")
        )
        .select(*key, *COUNT_COLUMNS, "night_share")
    )


def region_key(ground: Ground) -> str | None:
    """Return the SHA-256 of the region manifest behind `ground`, or None if it has none.

    A ``RegionIndex`` exposes its ``region``; a re-written manifest (new layers) changes the key.
    """
    manifest = getattr(getattr(ground, "region", None), "manifest_path", None)
    if manifest is None or not Path(manifest).is_file():
        return None
    return hashlib.sha256(Path(manifest).read_bytes()).hexdigest()


def static_context(workspace: Workspace, ground: Ground, cells: np.ndarray) -> pl.DataFrame:
    """Return Ground.cell_context of `cells`, cached in ``cells/context.parquet`` per region.

    Cached rows carry the region key (`region_key`); only cells not cached yet are computed.
    """
    cells = np.unique(np.asarray(cells, dtype=np.uint64))
    key = region_key(ground)
    target = cell_table_path(workspace.root, CONTEXT)
    cached = None
    if key is not None and target.is_file():
        cached = read_parquet(target).filter(pl.col("region_key") == key).drop("region_key")
    known = cached["cell"].to_numpy() if cached is not None else np.empty(0, np.uint64)
    missing = cells[~np.isin(cells, known)]
    if len(missing) or cached is None:
        fresh = ground.cell_context(missing)
        cached = fresh if cached is None else pl.concat([cached, fresh], how="vertical_relaxed")
        if key is not None:
            keyed = cached.with_columns(pl.lit(key).alias("region_key"))
            write_table(workspace.root, CONTEXT, keyed)
    wanted = pl.DataFrame({"cell": pl.Series(cells, dtype=pl.UInt64)})
    return cached.join(wanted, on="cell", how="semi")

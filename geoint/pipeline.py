"""The one place that orders the stages: read → validate → de-duplicate → index → store;
then analysis: prepare tracks → detect events → store → cell analytics → alerts."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import polars as pl

from geoint.alerts import raise_alerts
from geoint.errors import InputError
from geoint.ground import Ground
from geoint.h3index import child_cells, grid_disks, latlng_to_cells
from geoint.readers import ReadResult, read_records
from geoint.schema import DUPLICATE_REASONS, PING_SCHEMA, EventType, IngestReport
from geoint.settings import GeointSettings
from geoint.store import Batch, PingPart, Workspace
from geoint.validate import (
    Validated,
    duplicates_of_stored,
    duplicates_within,
    flag_spikes,
    validate_declarations,
    validate_pings,
    validate_seizures,
    validate_watchlist,
)

if TYPE_CHECKING:
    from geoint.scoring import Activity

Progress = Callable[[str], None]
T = TypeVar("T")
RECORD_KINDS = ("seizures", "watchlist", "declarations")
_RECORD_KEYS = {
    "seizures": ("seizure_id",),
    "watchlist": ("vehicle_id",),
    "declarations": ("vehicle_id", "corridor_id", "start"),
}


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file's content (the ledger's idempotency key)."""
    if not Path(path).is_file():
        raise InputError(str(path), "an existing, readable file")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_pings(
    workspace: Workspace,
    path: Path,
    settings: GeointSettings,
    fmt: str | None = None,
    column_map: Mapping[str, str] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest one ping file: validate, de-duplicate, index and store it atomically."""
    path = Path(path)
    sha = file_sha256(path)
    prior = workspace.committed_batch(sha, "pings")
    if prior:
        return _already_ingested(workspace, prior, str(path))
    _step(progress, "reading")
    read = read_records(path, fmt, column_map)
    return ingest_ping_records(workspace, read, str(path), sha, settings, now, progress)


def ingest_ping_records(
    workspace: Workspace,
    read: ReadResult,
    name: str,
    sha: str,
    settings: GeointSettings,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest pings already read from a file or a request body named `name`."""
    with workspace.writer():
        prior = workspace.committed_batch(sha, "pings")
        if prior:
            return _already_ingested(workspace, prior, name)
        return _store_pings(
            workspace, read, name, sha, settings, now or datetime.now(UTC), progress
        )


def _store_pings(
    workspace: Workspace,
    read: ReadResult,
    name: str,
    sha: str,
    settings: GeointSettings,
    now: datetime,
    progress: Progress | None,
) -> IngestReport:
    started = time.perf_counter()
    _step(progress, "validating")
    validated = validate_pings(read.frame, name, settings.ingest, now)
    _step(progress, "de-duplicating")
    unique, repeated = _deduplicate_pings(workspace, validated.good)
    _step(progress, "indexing")
    pings = _prepare_pings(unique, settings)
    _step(progress, "storing")
    batch = workspace.begin_batch("pings", name, sha, ping_ids=pings.height)
    pings = pings.with_columns(
        (pl.int_range(pl.len(), dtype=pl.UInt64) + (batch.first_ping_id or 0)).alias("ping_id")
    ).select(list(PING_SCHEMA))
    parts = workspace.write_ping_parts(batch, pings)
    report = _report(read, name, "pings", validated, repeated, batch, pings.height)
    report.flagged_spikes = int(pings["spike"].sum())
    _commit(workspace, batch, report, read, validated, repeated, parts=parts)
    ingest = settings.ingest
    workspace.compact(ingest.compact_min_parts, ingest.compact_small_bytes, ingest.compact_grace_s)
    report.seconds = time.perf_counter() - started
    return report


def _deduplicate_pings(
    workspace: Workspace, good: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    keys, same = ("vehicle_id", "ts"), ("lat", "lon")
    raw = ("vehicle_id", "ts", "lat", "lon")
    unique, within = duplicates_within(good, keys, same, raw)
    if unique.height == 0:
        return unique, within
    first, last = unique["ts"].min(), unique["ts"].max()
    # the vehicles' pings only: merged parts are sorted by vehicle, so row groups are skipped
    vehicles = unique["vehicle_id"].unique().implode()
    stored = (
        workspace.scan_pings(first.date(), last.date())
        .select("vehicle_id", "ts", "lat", "lon")
        .filter(pl.col("ts").is_between(first, last), pl.col("vehicle_id").is_in(vehicles))
        .collect()
    )
    unique, against_store = duplicates_of_stored(unique, stored, keys, same, raw)
    return unique, pl.concat([within, against_store])


def _prepare_pings(pings: pl.DataFrame, settings: GeointSettings) -> pl.DataFrame:
    """Index pings (sorted by vehicle and time) into H3 and flag GPS spikes."""
    cells = latlng_to_cells(
        pings["lat"].to_numpy(), pings["lon"].to_numpy(), settings.h3_resolution
    )
    return pings.with_columns(
        pl.Series("cell", cells, dtype=pl.UInt64),
        flag_spikes(pings, settings.ingest.spike_speed_kmh),
    )


def ingest_records(
    workspace: Workspace,
    kind: str,
    path: Path,
    settings: GeointSettings,
    gazetteer: pl.DataFrame | None = None,
    fmt: str | None = None,
    column_map: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> IngestReport:
    """Ingest seizures, a watch list or transit declarations into their tables."""
    if kind not in RECORD_KINDS:
        raise ValueError(f"kind must be one of {', '.join(RECORD_KINDS)}, got {kind!r}")
    path = Path(path)
    sha = file_sha256(path)
    prior = workspace.committed_batch(sha, kind)
    if prior:
        return _already_ingested(workspace, prior, str(path))
    read = read_records(path, fmt, column_map)
    return ingest_record_rows(workspace, kind, read, str(path), sha, settings, gazetteer, now)


def ingest_record_rows(
    workspace: Workspace,
    kind: str,
    read: ReadResult,
    name: str,
    sha: str,
    settings: GeointSettings,
    gazetteer: pl.DataFrame | None = None,
    now: datetime | None = None,
) -> IngestReport:
    """Ingest records already read from a file or a request body named `name`."""
    with workspace.writer():
        prior = workspace.committed_batch(sha, kind)
        if prior:
            return _already_ingested(workspace, prior, name)
        return _store_records(workspace, kind, read, name, sha, settings, gazetteer, now)


def _store_records(
    workspace: Workspace,
    kind: str,
    read: ReadResult,
    name: str,
    sha: str,
    settings: GeointSettings,
    gazetteer: pl.DataFrame | None,
    now: datetime | None,
) -> IngestReport:
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    if kind == "seizures":
        from geoint.gazetteer import GAZETTEER_SCHEMA

        places = gazetteer if gazetteer is not None else pl.DataFrame(schema=GAZETTEER_SCHEMA)
        validated = validate_seizures(read.frame, name, places, now)
    elif kind == "watchlist":
        validated = validate_watchlist(read.frame, name, now)
    else:
        validated = validate_declarations(read.frame, name, now)
    keys = _RECORD_KEYS[kind]
    values = [c for c in validated.good.columns if c not in (*keys, "_row")]
    raw = [c for c in validated.good.columns if c != "_row"]
    unique, within = duplicates_within(validated.good, keys, values, raw)
    unique, against_store = duplicates_of_stored(
        unique, workspace.read_table(kind), keys, values, raw
    )
    repeated = pl.concat([within, against_store])
    if kind == "seizures":
        cells = latlng_to_cells(
            unique["lat"].to_numpy(), unique["lon"].to_numpy(), settings.h3_resolution
        )
        unique = unique.with_columns(pl.Series("cell", cells.astype(np.int64)))
    batch = workspace.begin_batch(kind, name, sha)
    report = _report(read, name, kind, validated, repeated, batch, unique.height)
    _commit(workspace, batch, report, read, validated, repeated, records=unique.drop("_row"))
    report.seconds = time.perf_counter() - started
    return report


def _report(
    read: ReadResult,
    name: str,
    kind: str,
    validated: Validated,
    repeated: pl.DataFrame,
    batch: Batch,
    accepted: int,
) -> IngestReport:
    quarantined = pl.concat([read.rejected, validated.quarantined])
    by_reason = quarantined.group_by("reason").len().sort("reason")
    return IngestReport(
        file=name,
        kind=kind,
        rows=read.frame.height + read.rejected.height,
        accepted=accepted,
        duplicates=repeated.height,
        quarantined=quarantined.height,
        quarantined_by_reason=dict(zip(by_reason["reason"], by_reason["len"], strict=True)),
        batch_id=str(batch.batch),
    )


def _commit(
    workspace: Workspace,
    batch: Batch,
    report: IngestReport,
    read: ReadResult,
    validated: Validated,
    repeated: pl.DataFrame,
    records: pl.DataFrame | None = None,
    parts: Sequence[PingPart] = (),
) -> None:
    counts = {
        "rows": report.rows,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "quarantined": report.quarantined,
        "flagged_spikes": report.flagged_spikes,
    }
    rows = pl.concat([read.rejected, validated.quarantined, repeated])
    workspace.commit_batch(batch, counts, rows, records, parts)


def prior_ingest(workspace: Workspace, sha: str, kind: str, name: str) -> IngestReport | None:
    """Return the report of an input whose exact content was already ingested, else None."""
    prior = workspace.committed_batch(sha, kind)
    return _already_ingested(workspace, prior, name) if prior else None


def _already_ingested(workspace: Workspace, prior: Batch, name: str) -> IngestReport:
    """Report a file whose exact content is already stored: nothing is stored twice."""
    reasons = workspace.quarantined_reasons(prior.batch)
    not_duplicates = {r: n for r, n in reasons.items() if r not in DUPLICATE_REASONS}
    return IngestReport(
        file=name,
        kind=prior.kind,
        rows=prior.rows,
        accepted=0,
        duplicates=prior.accepted + prior.duplicates,
        quarantined=prior.quarantined,
        quarantined_by_reason=not_duplicates,
        already_ingested=True,
        batch_id=str(prior.batch),
    )


_ANALYZED_PING_COLUMNS = ("ping_id", "vehicle_id", "ts", "lat", "lon", "cell")


def analyze(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Detect the track events of every stored ping, store them, then run the cell analytics.

    Reads the pings, transit declarations and watch list of the workspace; corridors, stop
    areas and every other layer are questions to `ground`. Report: ``pings``, ``vehicles``,
    ``events`` (count per type, every type listed), ``cells`` (`analyze_cells`), ``alerts``
    (`geoint.alerts.raise_alerts`), ``seconds`` and ``stage_seconds``.
    """
    # imported here: the numba kernels load only for analysis, not for every ingest command
    from geoint.cells import keyed_vehicle_days
    from geoint.events import events_from_tracks
    from geoint.tracks import prepare_tracks

    started = time.perf_counter()
    stages: dict[str, float] = {}

    def lap(name: str) -> None:
        stages[name] = round(time.perf_counter() - started - sum(stages.values()), 3)

    _step(progress, "reading pings")
    pings = workspace.scan_pings().select(_ANALYZED_PING_COLUMNS).collect()
    declarations = workspace.read_table("declarations")
    watchlist = workspace.read_table("watchlist")
    lap("read")
    _step(progress, "preparing tracks")
    tracks = prepare_tracks(pings, ground, settings)
    count = pings.height
    del pings
    lap("tracks")
    _step(progress, "detecting events")
    events = events_from_tracks(tracks, ground, settings, declarations, watchlist)
    lap("events")
    _step(progress, "storing events")
    workspace.write_events(events)
    lap("store")
    segments = tracks.pings.select("vehicle", "ts", "cell", "dt_s", "speed_kmh", "trip")
    per_vehicle = keyed_vehicle_days(segments, tracks.vehicle_ids, ground.timezone, settings)
    del segments
    with workspace.cells_writer():
        cells = analyze_cells(workspace, ground, settings, per_vehicle, events, progress)
    lap("cells")
    _step(progress, "raising alerts")
    alerts = raise_alerts(workspace, ground, settings, events)
    lap("alerts")
    by_type = dict(events.group_by("event_type").len().iter_rows())
    return {
        "pings": count,
        "vehicles": tracks.vehicle_ids.len(),
        "events": {str(kind): by_type.get(str(kind), 0) for kind in EventType},
        "events_total": events.height,
        "cells": cells,
        "alerts": alerts,
        "seconds": round(time.perf_counter() - started, 3),
        "stage_seconds": stages,
    }


INCREMENTAL_ACTOR = "geoint ingest"


def lookback_s(settings: GeointSettings) -> float:
    """How far before a batch's earliest ping its vehicles' pings are analysed again.

    ``alerts.incremental_lookback_s``, raised to the longest window or duration an event
    definition spans (shuttle window, trip gap, stops, signal gaps, identity and GNSS windows).
    """
    e, t = settings.events, settings.tracks
    return max(
        settings.alerts.incremental_lookback_s,
        e.shuttle_window_s,
        e.signal_gap_s,
        e.stop_min_duration_s,
        e.unauthorized_stop_min_s,
        e.rendezvous_min_duration_s,
        e.off_road_min_duration_s,
        e.identity_conflict_window_s,
        e.gnss_anomaly_window_s,
        t.trip_gap_s,
    )


def analyze_batch(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    batch: int,
    now: datetime | None = None,
    refresh_cells: Callable[[pl.DataFrame], object] | None = None,
) -> dict[str, Any]:
    """Incremental analysis of one committed ping batch (`analyze_batches`)."""
    report = analyze_batches(workspace, ground, settings, [batch], now, refresh_cells)
    return {"batch": batch, **{k: v for k, v in report.items() if k != "batches"}}


def analyze_batches(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    batches: Sequence[int],
    now: datetime | None = None,
    refresh_cells: Callable[[pl.DataFrame], object] | None = None,
) -> dict[str, Any]:
    """Incremental analysis of committed ping batches together: events, then cells.

    The events and their alerts come first (`analyze_vehicles`, over the batches' vehicles
    from their earliest ping); then the cell tables are updated for the vehicle-days the
    batches changed (`update_cells`, reported as ``cells``), or those days are handed to
    `refresh_cells` (the API coalesces them, `CellRefresh`).
    """
    frames = [workspace.scan_batch_pings(b).select("vehicle_id", "ts") for b in batches]
    new = pl.concat(frames).collect() if frames else pl.DataFrame()
    if new.height == 0:
        return {"batches": list(batches), "vehicles": 0, "pings": 0, "events": 0, "replaced": 0}
    vehicles = new["vehicle_id"].unique().sort().to_list()
    report = analyze_vehicles(workspace, ground, settings, vehicles, new["ts"].min(), now)
    days = changed_days(new)
    if refresh_cells is None:
        report["cells"] = update_cells(workspace, ground, settings, days, now)
    else:
        refresh_cells(days)
    return {"batches": list(batches), **report}


def changed_days(pings: pl.DataFrame) -> pl.DataFrame:
    """Return the (vehicle, date) pairs whose vehicle-day rows new `pings` may change.

    Their own UTC days and the days before and after: a new ping changes its neighbours'
    spike flags and the next ping's segment, which may lie across midnight.
    """
    day = pl.col("ts").dt.date()
    return (
        pings.select(
            pl.col("vehicle_id").cast(pl.String).alias("vehicle"),
            pl.concat_list(day - timedelta(days=1), day, day + timedelta(days=1)).alias("date"),
        )
        .explode("date")
        .unique()
        .sort("vehicle", "date")
    )


def analyze_vehicles(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    vehicles: list[str],
    since: datetime,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Detect the events of `vehicles` touching pings from `since` on, merge them, raise alerts.

    The pings from ``since - lookback_s`` of `vehicles` and of their possible rendezvous
    partners (`rendezvous_partners`) are analysed; the events ending at or after the cutoff
    (the earliest last ping of `vehicles` before `since`: a new ping can make it a spike)
    replace the stored ones of those vehicles (a rendezvous only when both are among them)
    ending at or after it. Event ids are deterministic, so re-detected events are known to
    the alert store and raise nothing; only event rules apply (cell rules: `update_cells`).
    Holds the workspace's writer lock. Report: ``vehicles``, ``partners``, ``pings``,
    ``events`` (detected from the cutoff), ``replaced`` (stored events dropped), ``alerts``.
    """
    from geoint.events import detect_events

    started = time.perf_counter()
    begin = since - timedelta(seconds=lookback_s(settings))
    with workspace.writer():
        recent = workspace.scan_pings(begin.date()).filter(pl.col("ts") >= begin)
        own = recent.filter(pl.col("vehicle_id").is_in(vehicles)).select(_ANALYZED_PING_COLUMNS)
        pings = own.collect()
        partners = rendezvous_partners(recent, pings, since, settings)
        if partners:
            others = recent.filter(pl.col("vehicle_id").is_in(partners))
            pings = pl.concat([pings, others.select(_ANALYZED_PING_COLUMNS).collect()])
        analysed = [*vehicles, *partners]
        detected = detect_events(
            pings,
            ground,
            settings,
            workspace.read_table("declarations"),
            workspace.read_table("watchlist"),
        )
        before = pings.filter(pl.col("ts") < since, pl.col("vehicle_id").is_in(vehicles))
        last = before.group_by("vehicle_id").agg(pl.col("ts").max())["ts"].min()
        cutoff = since if last is None else last
        fresh = detected.filter(pl.col("end") >= cutoff)
        stored = workspace.read_events()
        ours = (
            pl.col("vehicle_id").is_in(analysed)
            & (pl.col("other_vehicle_id").is_null() | pl.col("other_vehicle_id").is_in(analysed))
            & (pl.col("end") >= cutoff)
        ) | pl.col("event_id").is_in(fresh["event_id"].implode())
        kept = stored.filter(~ours)
        merged = pl.concat([kept, fresh]).sort(
            "start", "event_type", "vehicle_id", "other_vehicle_id", "event_id"
        )
        workspace.write_events(merged)
        alerts = raise_alerts(
            workspace, ground, settings, fresh, now, cell_rules=False, actor=INCREMENTAL_ACTOR
        )
    return {
        "vehicles": len(vehicles),
        "partners": len(partners),
        "pings": pings.height,
        "events": fresh.height,
        "replaced": stored.height - kept.height,
        "alerts": alerts,
        "seconds": round(time.perf_counter() - started, 3),
    }


def rendezvous_partners(
    recent: pl.LazyFrame, pings: pl.DataFrame, since: datetime, settings: GeointSettings
) -> list[str]:
    """Return the other vehicles of `recent` that may have met a vehicle of `pings` since `since`.

    A rendezvous joins two stationary runs (of at least its minimum duration) whose mean
    positions are at most the rendezvous distance d apart and that overlap in time; it is new
    when both end at or after `since`. So the runs of `pings` ending from `since` on are found
    first; the partners are the vehicles with a ping in the cell of a run's mean or a ring-1
    neighbour, at the resolution where points 2 d apart always are
    (`geoint.events.bucket_resolution`: the partner's run mean within d, its pings within d
    of that mean), between a trip gap (``tracks.trip_gap_s``: a run reports at least that
    often) before the first run's start and after the last run's end. `recent`: the stored
    pings of the look-back window.
    """
    from geoint.cells import segmented_pings
    from geoint.events import bucket_resolution
    from geoint.tracks import stationary_runs

    if pings.height == 0:
        return []
    rules = settings.events
    segments, _ = segmented_pings(pings, settings)
    runs = stationary_runs(segments, settings.tracks.moving_speed_kmh).filter(
        pl.col("end") >= since,
        (pl.col("end") - pl.col("start")).dt.total_seconds() >= rules.rendezvous_min_duration_s,
    )
    if runs.height == 0:
        return []
    resolution = min(bucket_resolution(2 * rules.rendezvous_distance_m), settings.h3_resolution)
    buckets = latlng_to_cells(runs["lat"].to_numpy(), runs["lon"].to_numpy(), resolution)
    near = child_cells(np.unique(grid_disks(buckets, 1)[1]), settings.h3_resolution)
    gap = timedelta(seconds=settings.tracks.trip_gap_s)
    found = (
        recent.filter(
            pl.col("ts").is_between(runs["start"].min() - gap, runs["end"].max() + gap),
            pl.col("cell").is_in(pl.Series(near, dtype=pl.UInt64).implode()),
            ~pl.col("vehicle_id").is_in(pings["vehicle_id"].unique().implode()),
        )
        .select(pl.col("vehicle_id").unique().sort())
        .collect()
    )
    return found["vehicle_id"].to_list()


def update_cells(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    days: pl.DataFrame,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Update the cell tables for changed vehicle-days and raise the cell-rule alerts.

    `days`: (vehicle, date) pairs (`changed_days`). Their rows of ``cells/vehicle_days.parquet``
    are recomputed from the vehicles' pings of those whole days (and the look-back before,
    so segments match a full run), the other rows are kept, and every cell table is rebuilt
    from that table, the stored events and the seizures (`analyze_cells`). Without a stored
    table (never analysed), it is computed from every ping. Holds the cell writer lock, not
    the workspace's: ingests and event analyses go on meanwhile. Report: `analyze_cells`
    with ``recomputed`` (vehicle-day rows taken from pings) and ``alerts`` (cell rules only).
    """
    from geoint.cells import pings_vehicle_days, read_vehicle_days
    from geoint.schema import EVENT_SCHEMA

    started = time.perf_counter()
    with workspace.cells_writer():
        stored = read_vehicle_days(workspace)
        per_vehicle, sums, recomputed = None, None, 0
        if stored is not None and days.height:
            begin = datetime.combine(days["date"].min(), datetime.min.time(), UTC)
            begin -= timedelta(seconds=lookback_s(settings))
            pings = (
                workspace.scan_pings(begin.date())
                .filter(
                    pl.col("vehicle_id").is_in(days["vehicle"].unique().implode()),
                    pl.col("ts") >= begin,
                )
                .select(_ANALYZED_PING_COLUMNS)
                .collect()
            )
            key = ["vehicle", "date"]
            days = days.with_columns(pl.col("vehicle").cast(pl.Categorical))
            fresh = pings_vehicle_days(pings, ground.timezone, settings).join(
                days, on=key, how="semi"
            )
            recomputed = fresh.height
            # the vehicles' rows first (a cheap filter), then the exact (vehicle, date) match
            theirs = pl.col("vehicle").is_in(days["vehicle"].unique().implode())
            own = stored.filter(theirs)
            per_vehicle = pl.concat(
                [stored.filter(~theirs), own.join(days, on=key, how="anti"), fresh]
            )
            changed = pl.concat([own.join(days, on=key, how="semi"), fresh])
            sums = _stored_activity(workspace, settings)
            if sums is not None:
                sums = sums.replaced(per_vehicle, changed, settings.h3_resolution)
        elif stored is not None:
            per_vehicle = stored
        report = analyze_cells(workspace, ground, settings, per_vehicle, activity=sums)
    report["recomputed"] = recomputed if stored is not None else report["vehicle_days"]
    report["alerts"] = raise_alerts(
        workspace,
        ground,
        settings,
        pl.DataFrame(schema=EVENT_SCHEMA),
        now,
        actor=INCREMENTAL_ACTOR,
    )
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


class Coalescer(Generic[T]):
    """Work done one run at a time; work requested during a run makes exactly one more run.

    `request` queues its item; if no run is under way, the caller runs (its `run`) until
    nothing is pending, each run covering every item queued before it started (`merge`d into
    one); else it returns at once and the running caller picks the item up. A failed run's
    items are dropped (the next run or a full analysis covers them again) and the error is
    raised; items queued meanwhile wait for the next request.
    """

    def __init__(self, merge: Callable[[list[T]], T]) -> None:
        self._merge = merge
        self._lock = threading.Lock()
        self._pending: list[T] = []
        self._running = False

    def request(self, item: T, run: Callable[[T], object]) -> bool:
        """Queue `item`; return whether this call ran the work itself."""
        with self._lock:
            self._pending.append(item)
            if self._running:
                return False
            self._running = True
        try:
            while (queued := self._take()) is not None:
                run(queued)
        finally:
            with self._lock:
                self._running = False
        return True

    def _take(self) -> T | None:
        with self._lock:
            if not self._pending:
                return None
            merged = self._merge(self._pending)
            self._pending = []
            return merged


class CellRefresh(Coalescer[pl.DataFrame]):
    """Coalesced cell updates of (vehicle, date) pairs (`changed_days`, `update_cells`)."""

    def __init__(self) -> None:
        super().__init__(lambda days: pl.concat(days).unique().sort("vehicle", "date"))


class BatchAnalysis(Coalescer[list[int]]):
    """Coalesced incremental analyses of ping batches (`analyze_batches`): devices posting one
    position each would otherwise run one analysis, and rewrite the events, per position."""

    def __init__(self) -> None:
        super().__init__(lambda batches: sorted({b for group in batches for b in group}))


def analyze_cells(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    per_vehicle: pl.DataFrame | None = None,
    events: pl.DataFrame | None = None,
    progress: Progress | None = None,
    activity: Activity | None = None,
) -> dict[str, Any]:
    """Compute the cell analytics (SPEC §7) and write them under ``cells/``; return the report.

    `per_vehicle` (the vehicle-day table, `geoint.cells.keyed_vehicle_days`) and `events`
    default to those of the workspace's pings and stored events; the vehicle-day table is
    stored too. `activity`: its sums when known (`update_cells`), else they are computed.
    Tables and columns: docs/cells.md.
    """
    from geoint.cells import pings_vehicle_days, static_context, write_table, write_vehicle_days
    from geoint.scoring import Activity, cell_tables

    started = time.perf_counter()
    if per_vehicle is None:
        _step(progress, "preparing pings for cells")
        pings = workspace.scan_pings().select(_ANALYZED_PING_COLUMNS).collect()
        per_vehicle = pings_vehicle_days(pings, ground.timezone, settings)
    events = workspace.read_events() if events is None else events
    seizures = workspace.read_table("seizures").with_columns(pl.col("cell").cast(pl.UInt64))
    touched = [per_vehicle["cell"].unique(), events["cell"], seizures["cell"]]
    cells = np.unique(np.concatenate([c.cast(pl.UInt64).to_numpy() for c in touched]))
    _step(progress, "cell context")
    context = static_context(workspace, ground, cells)
    _step(progress, "cell analytics")
    if activity is None:
        activity = Activity.of(per_vehicle, settings.coarse_resolutions)
    tables = cell_tables(activity, events, seizures, context, settings)
    _step(progress, "storing cell tables")
    write_vehicle_days(workspace, per_vehicle)
    for name, frame in tables.named().items():
        write_table(workspace, name, frame)
    alert_p = settings.cells.anomaly_alert_p
    return {
        "cells": int(tables.days["cell"].n_unique()),
        "cell_days": tables.days.height,
        "vehicle_days": per_vehicle.height,
        "anomalous_cell_days": int((tables.days["anomaly_p"] <= alert_p).sum()),
        "hotspot_cell_days": int((tables.days["gi_bin"] > 0).sum()),
        "emerging": dict(sorted(tables.emerging.group_by("emerging").len().iter_rows())),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _stored_activity(workspace: Workspace, settings: GeointSettings) -> Activity | None:
    """The activity sums of the stored cell tables (None if one is missing)."""
    from geoint.cells import read_table
    from geoint.errors import WorkspaceError
    from geoint.scoring import Activity

    names = ["days", "weeks", *(f"days_r{r}" for r in settings.coarse_resolutions)]
    try:
        tables = {name: read_table(workspace, name) for name in names}
    except WorkspaceError:
        return None
    return Activity.of_tables(tables, settings.coarse_resolutions)


def _step(progress: Progress | None, name: str) -> None:
    if progress:
        progress(name)

"""Incremental analysis of newly stored pings (SPEC §8): only the vehicles and cells they touch.

A batch's vehicles (and their possible rendezvous partners) are re-detected over a look-back
window and their events merged into the stored ones, raising event alerts; then the changed
vehicle-days are recomputed and the cell tables rebuilt from the stored vehicle-day table,
raising cell alerts. In the API both steps are coalesced (`geoint.api.background`): batches
posted during a run are analysed together by one more run. `docs/alerts.md` ("Incremental
processing").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from geoint.alerts.raising import raise_alerts
from geoint.alerts.store import AlertStore
from geoint.analytics.cells import segmented_pings
from geoint.analytics.scoring import Activity
from geoint.detect.events import bucket_resolution, detect_events
from geoint.detect.tracks import stationary_runs
from geoint.errors import WorkspaceError
from geoint.ground import Ground
from geoint.h3index import child_cells, grid_disks, latlng_to_cells
from geoint.intel.profiles import raise_declaration_alerts
from geoint.pipeline.cells import (
    ANALYZED_PING_COLUMNS,
    DETECTED_PING_COLUMNS,
    analyze_cells,
    pings_vehicle_days_within,
)
from geoint.schema import EVENT_SCHEMA
from geoint.settings import GeointSettings
from geoint.store.cell_tables import read_table, read_vehicle_days
from geoint.store.workspace import Workspace

INCREMENTAL_ACTOR = "geoint ingest"
WITHDRAWN_NOTE = (
    "Withdrawn: pings that arrived later (buffered by the device or delayed) replaced the "
    "event this alert was raised from; what they show is alerted on its own."
)


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
    new = workspace.scan_batches_pings(batches).select("ping_id", "vehicle_id", "ts").collect()
    if new.height == 0:
        workspace.analysed(batches)
        return {"batches": list(batches), "vehicles": 0, "pings": 0, "events": 0, "replaced": 0}
    vehicles = new["vehicle_id"].unique().sort().to_list()
    report = analyze_vehicles(
        workspace, ground, settings, vehicles, new["ts"].min(), now, new["ping_id"]
    )
    workspace.analysed(batches)  # events and alerts stored: off the service's pending queue
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
    new_ping_ids: pl.Series | None = None,
) -> dict[str, Any]:
    """Detect the events of `vehicles` touching pings from `since` on, merge them, raise alerts.

    `new_ping_ids` (the batches' pings) tell late data: an event ending more than
    ``alerts.late_after_s`` before its vehicle's other pings raises its alert as late
    (`late_events`).

    The pings from ``since - lookback_s`` of `vehicles` and of their possible rendezvous
    partners (`rendezvous_partners`) are analysed; the events ending at or after the cutoff
    (the earliest last ping of `vehicles` before `since`: a new ping can make it a spike)
    replace the stored ones of those vehicles (a rendezvous only when both are among them)
    ending at or after it. Event ids are deterministic, so re-detected events are known to
    the alert store and raise nothing; only event rules apply (cell rules: `update_cells`).
    Reads a snapshot without any lock (ingests go on); holds only the events' lock
    (`Workspace.events_writer`) to merge into the events as stored then and raise the alerts,
    and reads again if a newer snapshot's events were committed meanwhile. Report:
    ``vehicles``, ``partners``, ``pings``, ``events`` (detected from the cutoff), ``replaced``
    (stored events dropped), ``alerts``.
    """

    started = time.perf_counter()
    while True:
        snapshot = workspace.latest_ping_batch()  # later batches may or may not be in the read
        pings, partners, fresh, cutoff = _detect_recent(
            workspace, ground, settings, vehicles, since
        )
        analysed = [*vehicles, *partners]
        with workspace.events_writer():
            if workspace.events_snapshot() > snapshot:
                continue  # events from newer pings were committed meanwhile: read again
            stored = workspace.read_events()  # as committed now, not when the read began
            ours = (
                pl.col("vehicle_id").is_in(analysed)
                & (
                    pl.col("other_vehicle_id").is_null()
                    | pl.col("other_vehicle_id").is_in(analysed)
                )
                & (pl.col("end") >= cutoff)
            ) | pl.col("event_id").is_in(fresh["event_id"].implode())
            kept = stored.filter(~ours)
            merged = pl.concat([kept, fresh]).sort(
                "start", "event_type", "vehicle_id", "other_vehicle_id", "event_id"
            )
            workspace.write_events(merged)
            workspace.set_events_snapshot(snapshot)
            alerts = raise_alerts(
                workspace,
                ground,
                settings,
                fresh,
                now,
                cell_rules=False,
                actor=INCREMENTAL_ACTOR,
                late=late_events(fresh, pings, new_ping_ids, settings),
            )
            gone = stored.filter(ours, ~pl.col("event_id").is_in(fresh["event_id"].implode()))
            alerts["withdrawn"] = AlertStore(workspace).withdraw(
                gone["event_id"], WITHDRAWN_NOTE, now, INCREMENTAL_ACTOR
            )
            # declarations whose transit started since the last run
            alerts["declarations"] = raise_declaration_alerts(workspace, ground, settings, now)
        break
    return {
        "vehicles": len(vehicles),
        "partners": len(partners),
        "pings": pings.height,
        "events": fresh.height,
        "replaced": stored.height - kept.height,
        "alerts": alerts,
        "seconds": round(time.perf_counter() - started, 3),
    }


def late_events(
    events: pl.DataFrame,
    pings: pl.DataFrame,
    new_ping_ids: pl.Series | None,
    settings: GeointSettings,
) -> dict[str, float]:
    """Return, by event id, how long before its vehicle's already stored pings each event of
    `events` ended, where that is over ``alerts.late_after_s``: its pings came late."""
    if new_ping_ids is None or events.height == 0:
        return {}
    known = (
        pings.filter(~pl.col("ping_id").is_in(new_ping_ids.implode()))
        .group_by("vehicle_id")
        .agg(pl.col("ts").max().alias("known_until"))
    )
    late = (
        events.join(known, on="vehicle_id")
        .select("event_id", (pl.col("known_until") - pl.col("end")).dt.total_seconds().alias("s"))
        .filter(pl.col("s") > settings.alerts.late_after_s)
    )
    return dict(late.iter_rows())


def _detect_recent(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    vehicles: list[str],
    since: datetime,
) -> tuple[pl.DataFrame, list[str], pl.DataFrame, datetime]:
    """Read the committed pings of `vehicles` (and partners) from the look-back before `since`
    and detect their events, holding no lock: the pings analysed, the partners, the events
    ending at or after the cutoff and the cutoff (`analyze_vehicles`)."""
    begin = since - timedelta(seconds=lookback_s(settings))
    recent = workspace.scan_pings(begin.date()).filter(pl.col("ts") >= begin)
    own = recent.filter(pl.col("vehicle_id").is_in(vehicles)).select(DETECTED_PING_COLUMNS)
    pings = workspace.read_pings(own)
    partners = rendezvous_partners(recent, pings, since, settings)
    if partners:
        others = recent.filter(pl.col("vehicle_id").is_in(partners))
        pings = pl.concat([pings, others.select(DETECTED_PING_COLUMNS).collect()])
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
    return pings, partners, detected.filter(pl.col("end") >= cutoff), cutoff


def rendezvous_partners(
    recent: pl.LazyFrame, pings: pl.DataFrame, since: datetime, settings: GeointSettings
) -> list[str]:
    """Return the other vehicles of `recent` that may have met a vehicle of `pings` since `since`.

    A rendezvous joins two stationary runs (of at least its minimum duration) whose mean
    positions are at most the rendezvous distance d apart and that overlap in time; it is new
    when both end at or after `since`. So the runs of `pings` ending from `since` on are found
    first; the partners are the vehicles with a ping in the cell of a run's mean or a ring-1
    neighbour, at the resolution where points 2 d apart always are
    (`geoint.detect.events.bucket_resolution`: the partner's run mean within d, its pings within d
    of that mean), between a trip gap (``tracks.trip_gap_s``: a run reports at least that
    often) before the first run's start and after the last run's end. `recent`: the stored
    pings of the look-back window.
    """

    if pings.height == 0:
        return []
    rules = settings.events
    segments, _ = segmented_pings(pings, settings)
    runs, _ = stationary_runs(
        segments, settings.tracks.moving_speed_kmh, rules.rendezvous_stray_run
    )
    runs = runs.filter(
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

    started = time.perf_counter()
    with workspace.cells_writer():
        stored = read_vehicle_days(workspace.root)
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
                .select(ANALYZED_PING_COLUMNS)
                .collect()
            )
            key = ["vehicle", "date"]
            days = days.with_columns(pl.col("vehicle").cast(pl.Categorical))
            fresh, _ = pings_vehicle_days_within(pings, ground, settings)
            fresh = fresh.join(days, on=key, how="semi")
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


def _stored_activity(workspace: Workspace, settings: GeointSettings) -> Activity | None:
    """The activity sums of the stored cell tables (None if one is missing)."""

    names = ["days", "weeks", *(f"days_r{r}" for r in settings.coarse_resolutions)]
    try:
        tables = {name: read_table(workspace.root, name) for name in names}
    except WorkspaceError:
        return None
    return Activity.of_tables(tables, settings.coarse_resolutions)

"""Cell analytics of the stored pings and events (SPEC §7), written as the cell tables."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import polars as pl

from geoint.analytics.cells import (
    keyed_vehicle_days,
    segmented_pings,
    static_context,
)
from geoint.analytics.scoring import Activity, cell_tables
from geoint.ground import Ground
from geoint.patrol.debrief import read_effort
from geoint.pipeline.progress import Progress, step
from geoint.settings import GeointSettings
from geoint.store.cell_tables import write_table, write_vehicle_days
from geoint.store.workspace import Workspace

ANALYZED_PING_COLUMNS = ("ping_id", "vehicle_id", "ts", "lat", "lon", "cell")
# detection also reads the accuracy some trackers report (settle distances grow with it)
DETECTED_PING_COLUMNS = (*ANALYZED_PING_COLUMNS, "accuracy_m")


def vehicle_days_within(
    segments: pl.DataFrame, vehicle_ids: pl.Series, ground: Ground, settings: GeointSettings
) -> tuple[pl.DataFrame, int]:
    """Return the `keyed_vehicle_days` of the segments (prepared pings) inside the region's
    extent, and how many lie beyond it: a fix 1,500 km away (a bad device or a vehicle far
    from the border) says nothing of the region's cells."""
    beyond = 0
    if ground.extent is not None:
        west, south, east, north = ground.extent
        inside = pl.col("lat").is_between(south, north) & pl.col("lon").is_between(west, east)
        count = segments.height
        segments = segments.filter(inside)
        beyond = count - segments.height
    return keyed_vehicle_days(segments, vehicle_ids, ground.timezone, settings), beyond


def pings_vehicle_days_within(
    pings: pl.DataFrame, ground: Ground, settings: GeointSettings
) -> tuple[pl.DataFrame, int]:
    """`vehicle_days_within` of pings (ping_id, vehicle_id, ts, lat, lon, cell)."""
    return vehicle_days_within(*segmented_pings(pings, settings), ground, settings)


def analyze_cells(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    per_vehicle: pl.DataFrame | None = None,
    events: pl.DataFrame | None = None,
    progress: Progress | None = None,
    activity: Activity | None = None,
    stored_vehicle_days: int | None = None,
) -> dict[str, Any]:
    """Compute the cell analytics (SPEC §7) and write them under ``cells/``; return the report.

    `per_vehicle` (the vehicle-day table, `geoint.analytics.cells.keyed_vehicle_days`) and `events`
    default to those of the workspace's pings and stored events; the vehicle-day table is
    stored too. `activity`: its sums when known (`update_cells`), else they are computed.
    `stored_vehicle_days`: the caller stored the vehicle-day table itself (that many rows) and
    gives its `activity` (the full analysis by partitions); `per_vehicle` is not needed then.
    Tables and columns: docs/cells.md.
    """
    started = time.perf_counter()
    beyond = None
    if per_vehicle is None and stored_vehicle_days is None:
        step(progress, "preparing pings for cells")
        pings = workspace.read_pings(workspace.scan_pings().select(ANALYZED_PING_COLUMNS))
        per_vehicle, beyond = pings_vehicle_days_within(pings, ground, settings)
    events = workspace.read_events() if events is None else events
    seizures = workspace.read_table("seizures").with_columns(pl.col("cell").cast(pl.UInt64))
    active = activity.days if per_vehicle is None else per_vehicle
    touched = [active["cell"].unique(), events["cell"], seizures["cell"]]
    cells = np.unique(np.concatenate([c.cast(pl.UInt64).to_numpy() for c in touched]))
    step(progress, "cell context")
    context = static_context(workspace, ground, cells)
    step(progress, "cell analytics")
    if activity is None:
        activity = Activity.of(per_vehicle, settings.coarse_resolutions)
    tables = cell_tables(activity, events, seizures, context, settings, read_effort(workspace))
    step(progress, "storing cell tables")
    if per_vehicle is not None:
        write_vehicle_days(workspace.root, per_vehicle)
    for name, frame in tables.named().items():
        write_table(workspace.root, name, frame)
    alert_p = settings.cells.anomaly_alert_p
    report = {
        "cells": int(tables.days["cell"].n_unique()),
        "cell_days": tables.days.height,
        "vehicle_days": per_vehicle.height if per_vehicle is not None else stored_vehicle_days,
        "anomalous_cell_days": int((tables.days["anomaly_p"] <= alert_p).sum()),
        "hotspot_cell_days": int((tables.days["gi_bin"] > 0).sum()),
        "emerging": dict(sorted(tables.emerging.group_by("emerging").len().iter_rows())),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if beyond is not None:
        report["pings_beyond_extent"] = beyond
    return report

"""What the web map draws, read from the workspace: the query layer of `geoint.web.map`.

`map_data` gathers a day's rows (risk per cell, Gi* hot spots with their emerging class, events,
open alerts, seizures up to the day, a vehicle's track) with every layer capped at
`MAX_FEATURES`: the risk moves to parent cells (res 7, 6, 5) when the day has more active res-8
cells, then keeps the riskiest. `map_data_version` changes whenever any of it changes, for a
server that caches built pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from geoint.alerts.store import AlertStore
from geoint.serve.caches import file_version
from geoint.store.cell_tables import EMERGING, cell_table_path, read_optional_table
from geoint.store.workspace import EVENTS_FILE, Workspace

MAX_FEATURES = 5000
ANALYSIS_RESOLUTION = 8
PARENT_RESOLUTIONS = (7, 6, 5)
# The cell tables `map_data` reads (`map_data_version` watches them).
MAP_TABLES = ("days", *(f"days_r{r}" for r in PARENT_RESOLUTIONS), EMERGING)


@dataclass(frozen=True)
class MapData:
    """The rows of one day's map; frames keep the columns of the workspace's tables."""

    day: date | None  # the UTC day drawn (None: nothing analysed and no day asked)
    analysed_days: list[date]
    risk: pl.DataFrame  # the day's cells at `risk_resolution`, riskiest first
    risk_resolution: int
    hotspots: pl.DataFrame  # the day's significant Gi* cells, strongest first, with `emerging`
    events: pl.DataFrame  # events that started on the day
    alerts: list[dict]  # alerts open on the day (`geoint.alerts.store.alert_dict`), newest first
    seizures: pl.DataFrame  # seizures up to the day, newest first
    vehicle: str | None = None
    track: pl.DataFrame | None = None  # the vehicle's pings of the day (ts, lat, lon) in order


def map_data(
    workspace: Workspace,
    day: date | None = None,
    vehicle: str | None = None,
    alerts: AlertStore | None = None,
    max_features: int = MAX_FEATURES,
) -> MapData:
    """Return the map's rows for a UTC `day` (default: the latest analysed)."""
    days = read_optional_table(workspace.root, "days")
    analysed: list[date] = []
    risk, resolution = pl.DataFrame(), ANALYSIS_RESOLUTION
    hotspots, events, open_alerts = pl.DataFrame(), workspace.read_events().clear(), []
    if days is not None and days.height:
        day = day or days["date"].max()
        analysed = days["date"].unique().sort().to_list()
        risk, resolution = _risk(workspace, days, day, max_features)
        hotspots = _hotspots(workspace, days, day, max_features)
        events = workspace.read_events().filter(pl.col("start").dt.date() == day).head(max_features)
        open_alerts = (alerts or AlertStore(workspace)).open_on(day, max_features)
    seizures = workspace.read_table("seizures")
    if day is not None:
        seizures = seizures.filter(pl.col("ts").dt.date() <= day)
    seizures = seizures.sort("ts", descending=True).head(max_features)
    track = None
    if vehicle is not None and day is not None:
        track = workspace.read_pings(
            workspace.scan_pings(day, day)
            .filter(pl.col("vehicle_id") == vehicle)
            .select("ts", "lat", "lon")
            .sort("ts")
        )
    return MapData(
        day, analysed, risk, resolution, hotspots, events, open_alerts, seizures, vehicle, track
    )


def map_data_version(workspace: Workspace, alerts: AlertStore, vehicle: str | None = None) -> tuple:
    """A value that changes whenever something `map_data` reads from `workspace` changes.

    The cell tables and the events file by modification time and size (None when missing), the
    alerts by their latest change, the seizures by count and latest batch and, with a `vehicle`,
    the latest committed ingest (its track reads the pings).
    """
    files = [cell_table_path(workspace.root, name) for name in MAP_TABLES]
    files.append(workspace.root / EVENTS_FILE)
    stats = tuple(file_version(path) for path in files)
    pings = workspace.latest_ping_batch() if vehicle is not None else None
    return stats, alerts.last_seq(), workspace.table_version("seizures"), pings


def _risk(
    workspace: Workspace, days: pl.DataFrame, day: date, max_features: int
) -> tuple[pl.DataFrame, int]:
    """The day's risk rows at the finest resolution that fits `max_features`, riskiest first."""
    resolution, rows = ANALYSIS_RESOLUTION, days.filter(pl.col("date") == day)
    for parent in PARENT_RESOLUTIONS:
        if rows.height <= max_features:
            break
        table = read_optional_table(workspace.root, f"days_r{parent}")
        if table is None:
            break
        resolution, rows = parent, table.filter(pl.col("date") == day)
    return rows.sort("risk", descending=True).head(max_features), resolution


def _hotspots(
    workspace: Workspace, days: pl.DataFrame, day: date, max_features: int
) -> pl.DataFrame:
    """The day's significant Gi* cells, strongest first, with their emerging class."""
    rows = (
        days.filter((pl.col("date") == day) & (pl.col("gi_bin") != 0))
        .sort(pl.col("gi_z").abs(), descending=True)
        .head(max_features)
    )
    emerging = read_optional_table(workspace.root, EMERGING)
    if emerging is not None:
        rows = rows.join(
            emerging.select("cell", pl.col("emerging").cast(pl.String)), on="cell", how="left"
        )
    return rows

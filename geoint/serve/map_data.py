"""What the web map draws, read from the workspace: the query layer of `geoint.web.map`.

`map_data` gathers a day's rows (risk per cell, Gi* hot spots with their emerging class, events,
open alerts with the event each stands for, seizures up to the day, a vehicle's track and its
events, partner alerts and events of the day) with every layer capped at `MAX_FEATURES`: the
risk moves to parent cells (res 7, 6, 5) when the day has more active res-8 cells, then keeps
the riskiest. A sector scope (a unit key)
keeps only what lies in its sectors, in every layer. The day defaults to the latest *complete*
analysed day (`complete_days`): a trailing day the pings cover only in part is offered, not
chosen. `map_data_version` changes whenever any of it changes, for a server that caches pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

import numpy as np
import polars as pl

from geoint.alerts.store import OPEN_STATUSES, AlertQuery, AlertStore
from geoint.exchange.provenance import partner_records, received_count, with_origins
from geoint.h3index import parent_cells
from geoint.serve.caches import file_version
from geoint.store.cell_tables import EMERGING, cell_table_path, read_optional_table
from geoint.store.photos import PhotoStore
from geoint.store.workspace import EVENTS_FILE, Workspace
from geoint.times import as_utc

MAX_FEATURES = 5000
ANALYSIS_RESOLUTION = 8
PARENT_RESOLUTIONS = (7, 6, 5)
# The cell tables `map_data` reads (`map_data_version` watches them).
MAP_TABLES = ("days", *(f"days_r{r}" for r in PARENT_RESOLUTIONS), EMERGING)
DEFAULT_COMPLETE_MARGIN_S = 3600.0  # `MapSettings.complete_day_margin_s`


class SectorLookup(Protocol):
    """Answers which sector holds each point (`geoint.layers.RegionIndex` does)."""

    def sector(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class MapData:
    """The rows of one day's map; frames keep the columns of the workspace's tables."""

    day: date | None  # the UTC day drawn (None: nothing analysed and no day asked)
    analysed_days: list[date]
    risk: pl.DataFrame  # the day's cells at `risk_resolution`, riskiest first
    risk_resolution: int
    hotspots: pl.DataFrame  # the day's significant Gi* cells, strongest first, with `emerging`
    events: pl.DataFrame  # events that started on the day
    alerts: list[dict]  # alerts open on the day (`alert_dict` plus its first `event`), newest first
    seizures: pl.DataFrame  # seizures up to the day, newest first, with their `photos` ids
    vehicle: str | None = None
    track: pl.DataFrame | None = None  # the vehicle's pings of the day (ts, lat, lon) in order
    complete_days: list[date] = field(default_factory=list)  # analysed days covered whole
    latest_ping: datetime | None = None  # the latest stored ping (UTC)
    risk_cells: int = 0  # the day's active cells at `risk_resolution` before the cap
    sectors: frozenset[str] | None = None  # the scope drawn (None: every sector)
    # partner alerts and events of the day as received (`partner_records`), by time
    partner: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def counts(self) -> dict[str, int]:
        """What happened on the day: events, open alerts, seizures (within the scope)."""
        on_day = self.seizures.filter(pl.col("ts").dt.date() == self.day) if self.day else None
        return {
            "events": self.events.height,
            "alerts": len(self.alerts),
            "seizures": on_day.height if on_day is not None else 0,
        }


def map_data(
    workspace: Workspace,
    day: date | None = None,
    vehicle: str | None = None,
    alerts: AlertStore | None = None,
    max_features: int = MAX_FEATURES,
    *,
    sectors: frozenset[str] | None = None,
    ground: SectorLookup | None = None,
    complete_margin_s: float = DEFAULT_COMPLETE_MARGIN_S,
) -> MapData:
    """Return the map's rows for a UTC `day` (default: the latest complete analysed day).

    With `sectors` (a unit's scope) every layer keeps only what lies in them: cells by their
    sector, points by `ground.sector`, alerts by theirs.
    """
    if sectors is not None and ground is None:
        raise ValueError("map_data: a sector scope needs `ground` to place points in sectors")
    days = read_optional_table(workspace.root, "days")
    analysed: list[date] = []
    complete: list[date] = []
    latest = None
    risk, resolution, risk_cells = pl.DataFrame(), ANALYSIS_RESOLUTION, 0
    hotspots, events, open_alerts = pl.DataFrame(), workspace.read_events().clear(), []
    if days is not None and days.height:
        analysed = days["date"].unique().sort().to_list()
        latest = latest_ping(workspace, analysed[-1])
        complete = complete_days(analysed, latest, complete_margin_s)
        day = day or (complete or analysed)[-1]
        if sectors is not None:
            days = days.filter(pl.col("sector_id").is_in(list(sectors)))
        risk, resolution, risk_cells = _risk(workspace, days, day, max_features, sectors)
        hotspots = _hotspots(workspace, days, day, max_features)
        all_events = workspace.read_events()
        events = _in_scope(all_events.filter(pl.col("start").dt.date() == day), sectors, ground)
        events = events.head(max_features)
        found = (alerts or AlertStore(workspace)).open_on(day, max_features)
        open_alerts = _with_events(
            [a for a in found if sectors is None or a["sector"] in sectors], all_events
        )
    seizures = workspace.read_table("seizures")
    if day is not None:
        seizures = seizures.filter(pl.col("ts").dt.date() <= day)
    seizures = _in_scope(seizures, sectors, ground).sort("ts", descending=True).head(max_features)
    seizures = with_origins(workspace, seizures)  # partner seizures show who sent them
    seizures = _with_photos(workspace, seizures)
    track = None
    if vehicle is not None and day is not None:
        track = workspace.read_pings(
            workspace.scan_pings(day, day)
            .filter(pl.col("vehicle_id") == vehicle)
            .select("ts", "lat", "lon")
            .sort("ts")
        )
        track = _in_scope(track, sectors, ground)
    partner = pl.DataFrame()
    if day is not None:
        first = datetime.combine(day, time(), UTC)
        last = first + timedelta(days=1, microseconds=-1)
        partner = partner_records(workspace, start=first, end=last)
        partner = _in_scope(partner, sectors, ground).head(max_features)
    return MapData(
        day, analysed, risk, resolution, hotspots, events, open_alerts, seizures, vehicle, track,
        complete, latest, risk_cells, sectors, partner,
    )  # fmt: skip


def _with_photos(workspace: Workspace, seizures: pl.DataFrame) -> pl.DataFrame:
    """The seizures with ``photos``: the ids of their photos, oldest first."""
    found = PhotoStore(workspace).of_seizures(seizures["seizure_id"].to_list())
    ids = [[p.id for p in found.get(s, [])] for s in seizures["seizure_id"].to_list()]
    return seizures.with_columns(pl.Series("photos", ids, dtype=pl.List(pl.Int64)))


def latest_ping(workspace: Workspace, since: date) -> datetime | None:
    """The time of the latest stored ping on or after `since` (only those parts are read)."""
    found = workspace.scan_pings(since).select(pl.col("ts").max()).collect().item()
    return as_utc(found) if found is not None else None


def complete_days(days: list[date], latest: datetime | None, margin_s: float) -> list[date]:
    """The `days` whose end the pings reach, to within `margin_s` (a live feed's today is not)."""
    if latest is None:
        return []
    reach = latest + timedelta(seconds=margin_s)
    return [d for d in days if datetime(d.year, d.month, d.day, tzinfo=latest.tzinfo)
            + timedelta(days=1) <= reach]  # fmt: skip


def map_data_version(workspace: Workspace, alerts: AlertStore, vehicle: str | None = None) -> tuple:
    """A value that changes whenever something `map_data` reads from `workspace` changes.

    The cell tables and the events file by modification time and size (None when missing), the
    alerts by their latest change, the seizures by count, latest batch and updates (photos by
    count and latest id), the partner records by count and the latest committed ingest (the
    latest ping chooses the day; a track reads the pings).
    """
    files = [cell_table_path(workspace.root, name) for name in MAP_TABLES]
    files.append(workspace.root / EVENTS_FILE)
    stats = tuple(file_version(path) for path in files)
    pings = workspace.latest_ping_batch()
    seizures = workspace.table_version("seizures"), PhotoStore(workspace).version()
    return stats, alerts.last_seq(), seizures, received_count(workspace), pings, vehicle


def open_alerts(
    workspace: Workspace, alerts: AlertStore, sectors: frozenset[str] | None, limit: int
) -> list[dict[str, Any]]:
    """The open alerts of `sectors` (all without a scope), newest first, each with its first
    evidence event's row as ``event`` (what the map's popups and the field inbox say in words)."""
    found, _cursor = alerts.list(AlertQuery(limit=limit, status=OPEN_STATUSES, sectors=sectors))
    return _with_events(found, workspace.read_events()) if found else []


def _in_scope(
    frame: pl.DataFrame, sectors: frozenset[str] | None, ground: SectorLookup | None
) -> pl.DataFrame:
    """The rows whose lat/lon lie in one of `sectors` (all rows without a scope)."""
    if sectors is None or ground is None or frame.height == 0:
        return frame
    owner = ground.sector(frame["lat"].to_numpy(), frame["lon"].to_numpy())
    return frame.filter(pl.Series(owner, dtype=pl.String).is_in(list(sectors)))


def _with_events(found: list[dict[str, Any]], events: pl.DataFrame) -> list[dict[str, Any]]:
    """Each alert with its first evidence event's row (``event``; None for cell alerts)."""
    first = [a["evidence"]["events"][0] if a["evidence"]["events"] else None for a in found]
    rows = events.filter(pl.col("event_id").is_in([i for i in first if i is not None]))
    by_id = {row["event_id"]: row for row in rows.drop("evidence").iter_rows(named=True)}
    return [{**a, "event": by_id.get(i)} for a, i in zip(found, first, strict=True)]


def _risk(
    workspace: Workspace,
    days: pl.DataFrame,
    day: date,
    max_features: int,
    sectors: frozenset[str] | None,
) -> tuple[pl.DataFrame, int, int]:
    """The day's risk rows at the finest resolution that fits `max_features`, riskiest first,
    with the resolution and how many active cells it has before the cap.

    In a scope, a parent is kept only when every active res-8 child of the day is in it.
    """
    resolution, rows = ANALYSIS_RESOLUTION, days.filter(pl.col("date") == day)
    for parent in PARENT_RESOLUTIONS:
        if rows.height <= max_features:
            break
        table = read_optional_table(workspace.root, f"days_r{parent}")
        if table is None:
            break
        parents = table.filter(pl.col("date") == day)
        if sectors is not None:
            parents = parents.filter(pl.col("cell").is_in(_whole_parents(workspace, day, parent,
                                                                         sectors)))  # fmt: skip
        resolution, rows = parent, parents
    return rows.sort("risk", descending=True).head(max_features), resolution, rows.height


def _whole_parents(
    workspace: Workspace, day: date, resolution: int, sectors: frozenset[str]
) -> pl.Series:
    """Parents at `resolution` whose active res-8 cells of `day` all lie in `sectors`."""
    days = read_optional_table(workspace.root, "days")
    assert days is not None  # `map_data` read it before
    children = days.filter(pl.col("date") == day).select("cell", "sector_id")
    parents = parent_cells(children["cell"].to_numpy().astype(np.uint64), resolution)
    owned = (
        children.with_columns(pl.Series("parent", parents))
        .group_by("parent")
        .agg(pl.col("sector_id").is_in(list(sectors)).all().alias("inside"))
        .filter(pl.col("inside"))
    )
    return owned["parent"]


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

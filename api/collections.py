"""OGC API – Features collections: the region's vector layers, seizures, events and alerts.

Layers do not change while the server runs, so each feature is serialised once at startup and
its sector membership (the sectors whose interior it meets) computed once. Seizures, events and
alerts are served as stored now, so what was just ingested or analysed is served, and a request
reads only its page:

- alerts: filters, order, paging and count in SQL; a unit's scope is the sector stored with
  each alert when it was raised.
- seizures: filters, order, paging and count in SQL. Seizures store no sector, so a unit's
  scope filters positions cached with their sectors per table version (row count and last
  batch: seizures are only ever added by batches), then reads the page's rows by id. A stored
  column would need a migration of old workspaces and the region at every ingest; the cache
  needs neither and stays right if the served region changes.
- events: one Parquet file, rewritten by each analysis, is cached with each event's sector and
  sorted, keyed by the file's modification time and size; a request filters and slices it.

A record belongs to the sector holding its position (`RegionIndex.sector`). Items are ordered
(feature index; time then id) so that offset paging is stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import polars as pl
import shapely

from geoint.alerts.store import AlertStore
from geoint.exchange.provenance import with_origins
from geoint.h3index import cells_to_hex
from geoint.intel.crossings import SeizureLocator
from geoint.intel.query import (
    SeizureFilter,
    conditions,
    field_values,
    seizure_queryables,
)
from geoint.layers import Region, RegionIndex, get_kind, kind_names
from geoint.serve.caches import FileCache
from geoint.serve.scope import meets_interior
from geoint.settings import IntelSettings
from geoint.store.origins import seizure_origin_is
from geoint.store.tables import seizures
from geoint.store.workspace import EVENTS_FILE, Box, Workspace
from geoint.vocabularies import SHIPPED

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
# Layers listed in reading order of a map (other registered kinds follow, by name).
LAYER_ORDER = (
    "border", "sides", "roads", "crossings", "corridors", "stop_areas", "sectors", "places",
    "rivers",
)  # fmt: skip

Sectors = frozenset[str] | None  # the sectors a caller may see; None: all


@dataclass(frozen=True)
class Bbox:
    """A lon/lat box; ``minx > maxx`` crosses the antimeridian."""

    minx: float
    miny: float
    maxx: float
    maxy: float

    def boxes(self) -> list[tuple[float, float, float, float]]:
        """One box, or two split at the antimeridian."""
        if self.minx <= self.maxx:
            return [(self.minx, self.miny, self.maxx, self.maxy)]
        return [(self.minx, self.miny, 180.0, self.maxy), (-180.0, self.miny, self.maxx, self.maxy)]


@dataclass(frozen=True)
class Interval:
    """A closed UTC time interval; None is an open end."""

    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class ItemQuery:
    """What an items request asks for."""

    bbox: Bbox | None
    interval: Interval | None
    limit: int
    offset: int
    sectors: Sectors
    origin: str | None = None  # seizures only: "local" or a partner administration
    properties: tuple[tuple[str, str], ...] = ()  # (queryable, value) pairs
    text: str | None = None


@dataclass
class Page:
    """Features of one page (JSON-ready) and how many match in all."""

    features: list[Any]
    matched: int


class Collection(Protocol):
    """What the OGC routes need of a collection."""

    id: str
    title: str
    description: str
    temporal: bool
    queryables: dict[str, dict[str, Any]]  # JSON Schema of each property filter, by name

    def extent(self, sectors: Sectors) -> dict[str, Any]: ...

    def items(self, query: ItemQuery) -> Page: ...

    def item(self, feature_id: str, sectors: Sectors) -> dict[str, Any] | None: ...


class LayerCollection:
    """A region vector layer, held in memory as pre-serialised features."""

    temporal = False
    queryables: dict[str, dict[str, Any]] = {}  # noqa: RUF012 (read only)

    def __init__(self, kind: str, frame: gpd.GeoDataFrame, sectors: gpd.GeoDataFrame) -> None:
        self.id = kind
        self.title = kind.replace("_", " ").capitalize()
        self.description = f"Region layer: {get_kind(kind).description}"
        geometries = frame.geometry.to_numpy()
        self._tree = shapely.STRtree(geometries)
        self._features = _layer_features(frame)
        self._members = _sector_members(geometries, sectors)
        self._bounds = [float(v) for v in frame.total_bounds] if len(frame) else None

    def extent(self, sectors: Sectors) -> dict[str, Any]:
        """The layer's bounding box (reference geography: the same for every caller)."""
        return {"spatial": {"bbox": [self._bounds], "crs": CRS84}} if self._bounds else {}

    def items(self, query: ItemQuery) -> Page:
        """Features meeting the bbox and the caller's sectors, in file order."""
        selected = np.arange(len(self._features))
        if query.bbox is not None:
            hits = [
                self._tree.query(shapely.box(*b), predicate="intersects")
                for b in query.bbox.boxes()
            ]
            selected = np.unique(np.concatenate(hits))
        if query.sectors is not None:
            selected = np.intersect1d(selected, self._allowed(query.sectors))
        page = selected[query.offset : query.offset + query.limit]
        return Page([orjson.Fragment(self._features[i]) for i in page], len(selected))

    def item(self, feature_id: str, sectors: Sectors) -> dict[str, Any] | None:
        """One feature by its index, if the caller may see it."""
        if not feature_id.isdigit() or int(feature_id) >= len(self._features):
            return None
        index = int(feature_id)
        if sectors is not None and index not in self._allowed(sectors):
            return None
        return orjson.loads(self._features[index])

    def _allowed(self, sectors: frozenset[str]) -> np.ndarray:
        parts = [self._members[s] for s in sectors if s in self._members]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)


class AlertCollection:
    """The workspace's alerts, queried in SQL page by page."""

    id = "alerts"
    title = "Alerts"
    description = (
        "Alerts raised by the analyses, with CAP severity, status and explanation "
        "(vehicle ids and notes are untrusted text)"
    )
    temporal = True
    queryables: dict[str, dict[str, Any]] = {}  # noqa: RUF012 (read only)

    def __init__(self, store: AlertStore) -> None:
        self._store = store

    def extent(self, sectors: Sectors) -> dict[str, Any]:
        """Bounding box and time span of the alerts the caller may see (empty when none)."""
        found = self._store.frame_extent(sectors)
        return _extent(found[0], found[1]) if found else {}

    def items(self, query: ItemQuery) -> Page:
        """Alerts in the bbox, meeting the interval and in the caller's sectors, by time."""
        start, end = _interval(query)
        frame, matched = self._store.frame_page(
            _boxes(query), start, end, query.sectors, query.limit, query.offset
        )
        return Page(_point_features(frame, "id"), matched)

    def item(self, feature_id: str, sectors: Sectors) -> dict[str, Any] | None:
        """One alert by id, if the caller may see it."""
        # ids are served as canonical integers (and SQLite's are 64-bit)
        digits = feature_id.isascii() and feature_id.isdigit() and len(feature_id) <= 18
        if not digits or feature_id != str(int(feature_id)):
            return None
        frame, _ = self._store.frame_page(sectors=sectors, alert_id=int(feature_id))
        return _point_features(frame, "id")[0] if frame.height else None


class SeizureCollection:
    """The workspace's seizures, queried in SQL page by page (see the module docstring)."""

    id = "seizures"
    title = "Seizures"
    description = (
        "CEN-style seizures ingested into the workspace or received from partner administrations "
        "(`origin`: the sender, or `local`); `description` is untrusted free text. Filter by any "
        "queryable (repeat it or separate values by commas: any of them) and by `q` (text in id, "
        "description, place, concealment, vehicle)"
    )
    temporal = True
    queryables = seizure_queryables()
    _ORDER = (seizures.c.ts, seizures.c.seizure_id)

    def __init__(
        self, workspace: Workspace, index: RegionIndex, locator: SeizureLocator | None = None
    ) -> None:
        self._workspace = workspace
        self._index = index
        # default: crossings within the setting's default radius
        self.locator = locator or SeizureLocator(index, IntelSettings().crossing_radius_m)
        self.vocabularies = SHIPPED  # the service sets the region's
        self._located: tuple[tuple[int, int | None, int], pl.DataFrame] | None = None

    def extent(self, sectors: Sectors) -> dict[str, Any]:
        """Bounding box and time span of the seizures the caller may see (empty when none)."""
        return _frame_extent(_in_sectors(self._positions(), sectors), "ts", "ts")

    def items(self, query: ItemQuery) -> Page:
        """Seizures meeting the query's filters and in the caller's sectors, by time."""
        start, end = _interval(query)
        chosen = SeizureFilter(
            field_values(query.properties, self.vocabularies),
            start,
            end,
            tuple(_boxes(query)),
            query.text,
        )
        return self.page(chosen, query.limit, query.offset, query.sectors, query.origin)

    def page(
        self,
        chosen: SeizureFilter,
        limit: int,
        offset: int,
        sectors: Sectors,
        origin: str | None = None,
    ) -> Page:
        """Seizures meeting `chosen`, from `origin` (None: any) and in `sectors`, by time:
        `offset` skipped, `limit` kept."""
        if "crossing" in chosen.values:
            self.locator.update(self._workspace)
        from_origin = [seizure_origin_is(origin)] if origin is not None else []
        if sectors is None:
            where = conditions(chosen) + from_origin
            matched = self._workspace.count_rows("seizures", where)
        else:
            box = ItemQuery(None, Interval(chosen.start, chosen.end), limit, offset, sectors)
            visible = _select(self._positions(), box, "ts", "ts", chosen.boxes)
            if chosen.values or chosen.text or from_origin:
                kept = self._workspace.read_table(
                    "seizures", conditions(chosen) + from_origin, columns=["seizure_id"]
                )
                visible = visible.filter(pl.col("seizure_id").is_in(kept["seizure_id"].implode()))
            ids = visible["seizure_id"].slice(offset, limit).to_list()
            where, limit, offset = [seizures.c.seizure_id.in_(ids)], None, 0
            matched = visible.height
        frame = self._workspace.read_table("seizures", where, self._ORDER, limit, offset)
        return Page(_seizure_features(with_origins(self._workspace, frame)), matched)

    def item(self, feature_id: str, sectors: Sectors) -> dict[str, Any] | None:
        """One seizure by id, if the caller may see it."""
        frame = self._workspace.read_table("seizures", [seizures.c.seizure_id == feature_id])
        visible = _in_sectors(_with_sectors(frame, self._index), sectors).drop("sector")
        if not visible.height:
            return None
        return _seizure_features(with_origins(self._workspace, visible))[0]

    def sectors_of(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """The sector holding each position (None: none)."""
        return self._index.sector(lat, lon)

    def _positions(self) -> pl.DataFrame:
        """Id, time, position and sector of every seizure, by time then id."""
        version = self._workspace.table_version("seizures")  # before reading: never stale
        cached = self._located
        if cached is None or cached[0] != version:
            columns = ("seizure_id", "ts", "lat", "lon")
            frame = self._workspace.read_table("seizures", order_by=self._ORDER, columns=columns)
            cached = (version, _with_sectors(frame, self._index))
            self._located = cached
        return cached[1]


class EventCollection:
    """The events of the last analysis, cached with their sectors while the file is unchanged."""

    id = "events"
    title = "Track events"
    description = "Track events found by the last analysis (empty until one has run)"
    temporal = True
    queryables: dict[str, dict[str, Any]] = {}  # noqa: RUF012 (read only)

    def __init__(self, workspace: Workspace, index: RegionIndex) -> None:
        self._events = FileCache(
            workspace.root / EVENTS_FILE,
            lambda: _with_sectors(workspace.read_events(), index).sort("start", "event_id"),
        )

    def extent(self, sectors: Sectors) -> dict[str, Any]:
        """Bounding box and time span of the events the caller may see (empty when none)."""
        return _frame_extent(_in_sectors(self._events.get(), sectors), "start", "end")

    def items(self, query: ItemQuery) -> Page:
        """Events in the bbox, meeting the interval and in the caller's sectors, by time."""
        frame = _select(self._events.get(), query, "start", "end")
        page = frame.slice(query.offset, query.limit).drop("sector")
        return Page(_event_features(page), frame.height)

    def item(self, feature_id: str, sectors: Sectors) -> dict[str, Any] | None:
        """One event by id, if the caller may see it."""
        frame = self._events.get().filter(pl.col("event_id") == feature_id)
        frame = _in_sectors(frame, sectors).drop("sector")
        return _event_features(frame)[0] if frame.height else None


def build_collections(
    region: Region,
    workspace: Workspace,
    index: RegionIndex,
    alert_store: AlertStore,
    locator: SeizureLocator,
) -> dict[str, Collection]:
    """Every vector layer the region has, then seizures, events and alerts."""
    sectors = region.read("sectors")
    collections: dict[str, Collection] = {}
    ordered = [*LAYER_ORDER, *(k for k in kind_names() if k not in LAYER_ORDER)]
    for kind in ordered:
        if kind in region.layers and not get_kind(kind).raster:
            collections[kind] = LayerCollection(kind, region.read(kind), sectors)
    collections["seizures"] = SeizureCollection(workspace, index, locator)
    collections["events"] = EventCollection(workspace, index)
    collections["alerts"] = AlertCollection(alert_store)
    return collections


def _boxes(query: ItemQuery) -> list[Box]:
    return query.bbox.boxes() if query.bbox is not None else []


def _interval(query: ItemQuery) -> tuple[datetime | None, datetime | None]:
    return (query.interval.start, query.interval.end) if query.interval else (None, None)


def _with_sectors(frame: pl.DataFrame, index: RegionIndex) -> pl.DataFrame:
    """The frame with the ``sector`` holding each row's position (null: none)."""
    owner = index.sector(frame["lat"].to_numpy(), frame["lon"].to_numpy())
    # via a list: polars cannot cast an object array that starts with a long run of None
    return frame.with_columns(pl.Series("sector", owner.tolist(), dtype=pl.String))


def _in_sectors(frame: pl.DataFrame, sectors: Sectors) -> pl.DataFrame:
    """Rows of a frame with a ``sector`` column in the caller's sectors."""
    return frame if sectors is None else frame.filter(pl.col("sector").is_in(list(sectors)))


def _select(
    frame: pl.DataFrame, query: ItemQuery, start: str, end: str, boxes: tuple[Box, ...] = ()
) -> pl.DataFrame:
    """Rows of a frame with a ``sector`` column meeting the query's bbox (or `boxes`), interval
    and sectors; time span ``[start, end]``; the frame's order kept."""
    first, last = _interval(query)
    conditions = [pl.lit(True)]
    boxes = tuple(_boxes(query)) or boxes
    if boxes:
        conditions.append(
            pl.any_horizontal(
                pl.col("lon").is_between(x0, x1) & pl.col("lat").is_between(y0, y1)
                for x0, y0, x1, y1 in boxes
            )
        )
    if last is not None:
        conditions.append(pl.col(start) <= last)
    if first is not None:
        conditions.append(pl.col(end) >= first)
    return _in_sectors(frame.filter(*conditions), query.sectors)


def _extent(box: Box, span: tuple[datetime, datetime]) -> dict[str, Any]:
    return {
        "spatial": {"bbox": [list(box)], "crs": CRS84},
        "temporal": {"interval": [[span[0].isoformat(), span[1].isoformat()]], "trs": GREGORIAN},
    }


def _frame_extent(frame: pl.DataFrame, start: str, end: str) -> dict[str, Any]:
    """The extent of a frame's rows (time span ``[start, end]``); empty when it has none."""
    if frame.height == 0:
        return {}
    box = (frame["lon"].min(), frame["lat"].min(), frame["lon"].max(), frame["lat"].max())
    return _extent(box, (frame[start].min(), frame[end].max()))


def _layer_features(frame: gpd.GeoDataFrame) -> list[bytes]:
    """Each feature as GeoJSON bytes, its id the row index."""
    geometries = shapely.to_geojson(frame.geometry.to_numpy())
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    properties = pl.from_pandas(attributes).to_dicts() if attributes.shape[1] else [{}] * len(frame)
    return [
        orjson.dumps(
            {
                "type": "Feature",
                "id": i,
                "geometry": orjson.Fragment(geometry),
                "properties": props,
            }
        )
        for i, (geometry, props) in enumerate(zip(geometries, properties, strict=True))
    ]


def _sector_members(geometries: np.ndarray, sectors: gpd.GeoDataFrame) -> dict[str, np.ndarray]:
    """Feature indices by sector id: features meeting the sector's interior (not just its edge)."""
    if len(sectors) == 0 or len(geometries) == 0:
        return {}
    polygons = sectors.geometry.to_numpy()
    owner, feature = shapely.STRtree(geometries).query(polygons, predicate="intersects")
    inside = meets_interior(geometries[feature], polygons[owner])
    ids = sectors["sector_id"].astype(str).to_numpy()[owner]
    # one pass per sector: a region has few
    return {sid: np.unique(feature[inside & (ids == sid)]) for sid in np.unique(ids)}


def _point_features(frame: pl.DataFrame, id_column: str) -> list[dict[str, Any]]:
    rows = frame.drop("lat", "lon").to_dicts()
    return [
        {
            "type": "Feature",
            "id": row[id_column],
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": row,
        }
        for row, lat, lon in zip(rows, frame["lat"], frame["lon"], strict=True)
    ]


def _with_hex_cells(frame: pl.DataFrame) -> pl.DataFrame:
    cells = frame["cell"].cast(pl.UInt64).to_numpy()
    return frame.with_columns(pl.Series("cell", cells_to_hex(cells), dtype=pl.String))


def _seizure_features(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return _point_features(_with_hex_cells(frame.drop("batch")), "seizure_id")


def _event_features(frame: pl.DataFrame) -> list[dict[str, Any]]:
    features = _point_features(_with_hex_cells(frame), "event_id")
    for feature in features:
        detail = feature["properties"]["detail"]
        feature["properties"]["detail"] = orjson.loads(detail) if detail else None
    return features

"""OGC API – Features collections: the region's vector layers, seizures, events and alerts.

Layers do not change while the server runs, so each feature is serialised once at startup and
its sector membership (the sectors whose interior it meets) computed once. Seizures and events
are read from the workspace on each request, so what was just ingested or analysed is served.
Items are ordered (feature index; time then id) so that offset paging is stable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import polars as pl
import shapely

from geoint.alerts import AlertStore
from geoint.h3index import cells_to_hex
from geoint.layers import Region, RegionIndex, get_kind, kind_names
from geoint.store import Workspace

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

    def extent(self, sectors: Sectors) -> dict[str, Any]: ...

    def items(self, query: ItemQuery) -> Page: ...

    def item(self, feature_id: str, sectors: Sectors) -> dict[str, Any] | None: ...


class LayerCollection:
    """A region vector layer, held in memory as pre-serialised features."""

    temporal = False

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


class PointCollection:
    """A workspace table of located, timed records (seizures, events), read per request.

    A record belongs to the sector holding its position (`RegionIndex.sector`). Its time is
    ``[start_column, end_column]``; a ``datetime`` query keeps records whose time meets it.
    """

    temporal = True

    def __init__(
        self,
        collection_id: str,
        title: str,
        description: str,
        load: Callable[[], pl.DataFrame],
        index: RegionIndex,
        id_column: str,
        time_columns: tuple[str, str],
        shape: Callable[[pl.DataFrame], list[dict[str, Any]]],
    ) -> None:
        self.id = collection_id
        self.title = title
        self.description = description
        self._load = load
        self._index = index
        self._id = id_column
        self._start, self._end = time_columns
        self._shape = shape

    def extent(self, sectors: Sectors) -> dict[str, Any]:
        """Bounding box and time span of the records the caller may see (empty when none)."""
        frame = self._visible(self._load(), sectors)
        if frame.height == 0:
            return {}
        box = [frame["lon"].min(), frame["lat"].min(), frame["lon"].max(), frame["lat"].max()]
        span = [frame[self._start].min().isoformat(), frame[self._end].max().isoformat()]
        return {
            "spatial": {"bbox": [box], "crs": CRS84},
            "temporal": {"interval": [span], "trs": GREGORIAN},
        }

    def items(self, query: ItemQuery) -> Page:
        """Records in the bbox, meeting the interval and in the caller's sectors, by time."""
        frame = self._load()
        if query.bbox is not None:
            frame = frame.filter(
                pl.any_horizontal(
                    pl.col("lon").is_between(x0, x1) & pl.col("lat").is_between(y0, y1)
                    for x0, y0, x1, y1 in query.bbox.boxes()
                )
            )
        if query.interval is not None:
            if query.interval.end is not None:
                frame = frame.filter(pl.col(self._start) <= query.interval.end)
            if query.interval.start is not None:
                frame = frame.filter(pl.col(self._end) >= query.interval.start)
        frame = self._visible(frame, query.sectors).sort(self._start, self._id)
        return Page(self._shape(frame.slice(query.offset, query.limit)), frame.height)

    def item(self, feature_id: str, sectors: Sectors) -> dict[str, Any] | None:
        """One record by id, if the caller may see it."""
        frame = self._load().filter(pl.col(self._id) == feature_id)
        frame = self._visible(frame, sectors)
        return self._shape(frame)[0] if frame.height else None

    def _visible(self, frame: pl.DataFrame, sectors: Sectors) -> pl.DataFrame:
        if sectors is None:
            return frame
        owner = self._index.sector(frame["lat"].to_numpy(), frame["lon"].to_numpy())
        return frame.filter(pl.Series(owner, dtype=pl.String).is_in(list(sectors)))


def build_collections(
    region: Region, workspace: Workspace, index: RegionIndex, alert_store: AlertStore
) -> dict[str, Collection]:
    """Every vector layer the region has, then seizures, events and alerts."""
    sectors = region.read("sectors")
    collections: dict[str, Collection] = {}
    ordered = [*LAYER_ORDER, *(k for k in kind_names() if k not in LAYER_ORDER)]
    for kind in ordered:
        if kind in region.layers and not get_kind(kind).raster:
            collections[kind] = LayerCollection(kind, region.read(kind), sectors)
    collections["seizures"] = PointCollection(
        "seizures",
        "Seizures",
        "CEN-style seizures ingested into the workspace; `description` is untrusted free text",
        lambda: workspace.read_table("seizures"),
        index,
        "seizure_id",
        ("ts", "ts"),
        _seizure_features,
    )
    collections["events"] = PointCollection(
        "events",
        "Track events",
        "Track events found by the last analysis (empty until one has run)",
        workspace.read_events,
        index,
        "event_id",
        ("start", "end"),
        _event_features,
    )
    collections["alerts"] = PointCollection(
        "alerts",
        "Alerts",
        "Alerts raised by the analyses, with CAP severity, status and explanation "
        "(vehicle ids and notes are untrusted text)",
        alert_store.frame,
        index,
        "id",
        ("event_time", "last_seen"),
        lambda frame: _point_features(frame, "id"),
    )
    return collections


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
    inside = ~shapely.touches(polygons[owner], geometries[feature])
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

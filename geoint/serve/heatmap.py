"""Heatmaps of the cell tables as GeoJSON H3 polygons and as Mapbox vector tiles, cached.

Both read a `geoint.serve.cell_views.CellStore` view (nothing is recomputed) and keep the encoded
bytes in an LRU keyed by what was asked (metric, resolution, day, rounded bbox or tile, sector
scope, limit) and the version of the files the view was built from, so a rewritten table is
never served stale.

Vector tiles choose the H3 resolution by zoom (`tile_resolution`):

| zoom | H3 resolution |
|---|---|
| ≤ 7 | 5 |
| 8-9 | 6 |
| 10-11 | 7 |
| ≥ 12 | 8 |

A tile holds the cells whose centre lies within the tile grown by one cell's extent, as
polygons in tile coordinates (extent 4096) clipped to the tile plus a 64-unit buffer; at most
``max_tile_features`` of them, highest value first. A tile without cells is None (the API
answers 204 No Content).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import mercantile
import numpy as np
import orjson
import shapely

from geoint.serve.caches import BytesLRU
from geoint.serve.cell_views import METRICS, Box, CellStore, CellView, Metric, round_box
from geoint.serve.mvt import encode_polygon_layer

TILE_EXTENT = 4096
TILE_BUFFER = 64
MAX_ZOOM = 22


def tile_resolution(zoom: int) -> int:
    """The H3 resolution drawn at a web-map zoom (see the module table)."""
    if zoom <= 7:
        return 5
    if zoom <= 9:
        return 6
    if zoom <= 11:
        return 7
    return 8


@dataclass(frozen=True)
class HeatmapQuery:
    """What a heatmap request asks for; ``day`` None is the latest day of the table."""

    metric: str
    resolution: int
    day: date | None
    bbox: Box | None
    sectors: frozenset[str] | None
    limit: int


@dataclass(frozen=True)
class TileQuery:
    """What a vector-tile request asks for; ``day`` None is the latest day of the table."""

    metric: str
    z: int
    x: int
    y: int
    day: date | None
    sectors: frozenset[str] | None


class Heatmaps:
    """GeoJSON and vector-tile heatmaps of a cell store, with their caches."""

    def __init__(
        self,
        store: CellStore,
        cache_bytes: int = 256 * 2**20,
        tile_cache_bytes: int = 64 * 2**20,
        max_tile_features: int = 4000,
        bbox_step: float = 0.01,
    ) -> None:
        self.store = store
        self.max_tile_features = max_tile_features
        self.bbox_step = bbox_step
        self._geojson = BytesLRU(cache_bytes)
        self._tiles = BytesLRU(tile_cache_bytes)

    def geojson(self, query: HeatmapQuery, cache: bool = True) -> bytes:
        """A FeatureCollection of the query's cells as H3 polygons, serialised with orjson.

        The bbox is grown outwards to multiples of ``bbox_step`` degrees; cells whose centre
        lies in it are ranked by value (|value| for hotspots) and the first ``limit`` kept.
        """
        view = self.store.view(query.resolution)
        key, day, bbox = self._geojson_key(view, query)
        if cache:
            found, cached = self._geojson.get(key)
            if found and cached is not None:
                return cached
        metric = METRICS[query.metric]
        body = orjson.dumps(feature_collection(view, metric, day, bbox, query.sectors, query.limit))
        if cache:
            self._geojson.put(key, body)
        return body

    def cached_geojson(self, query: HeatmapQuery) -> bytes | None:
        """The query's bytes if they are cached and current (no computing), else None."""
        view = self.store.loaded_view(query.resolution)
        if view is None:
            return None
        found, cached = self._geojson.get(self._geojson_key(view, query)[0])
        return cached if found else None

    def _geojson_key(
        self, view: CellView, query: HeatmapQuery
    ) -> tuple[tuple, date | None, Box | None]:
        day = query.day or view.latest()
        bbox = round_box(query.bbox, self.bbox_step) if query.bbox else None
        scope = _scope(query.sectors)
        key = (query.metric, query.resolution, day, bbox, scope, query.limit, view.signature)
        return key, day, bbox

    def tile(self, query: TileQuery, cache: bool = True) -> bytes | None:
        """The Mapbox vector tile (layer named after the metric), or None when it is empty."""
        z, x, y = query.z, query.x, query.y
        if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            raise ValueError(f"no tile {z}/{x}/{y}: x and y must be below 2**z, z at most 22")
        metric = METRICS[query.metric]
        view = self.store.view(tile_resolution(z))
        key, day = _tile_key(view, query)
        if cache:
            found, body = self._tiles.get(key)
            if found:
                return body
        body = vector_tile(view, metric, day, z, x, y, query.sectors, self.max_tile_features)
        if cache:
            self._tiles.put(key, body)
        return body

    def cached_tile(self, query: TileQuery) -> tuple[bool, bytes | None]:
        """(found, tile) from the cache only: found False when the tile must be computed."""
        view = self.store.loaded_view(tile_resolution(query.z))
        if view is None:
            return False, None
        return self._tiles.get(_tile_key(view, query)[0])


def _tile_key(view: CellView, query: TileQuery) -> tuple[tuple, date | None]:
    day = query.day or view.latest()
    return (
        query.metric,
        query.z,
        query.x,
        query.y,
        day,
        _scope(query.sectors),
        view.signature,
    ), day


def _scope(sectors: frozenset[str] | None) -> tuple[str, ...] | None:
    return None if sectors is None else tuple(sorted(sectors))


def properties(view: CellView, metric: Metric, rows: np.ndarray) -> list[dict[str, Any]]:
    """Per row: the cell's hex id, ``value``, the metric's columns (and the risk's sum)."""
    columns = {"value": view.column(metric.value, rows)}
    for name in metric.columns:
        if name in view.frame.columns:
            columns[name] = view.column(name, rows)
    if metric.name == "risk":
        total = np.zeros(len(rows))
        for name in metric.columns:  # left to right, as the score adds them
            total = total + view.frame[name].to_numpy()[rows]
        columns["contributions_sum"] = total.tolist()
    hexes = [view.hexes[i] for i in view.cell_index[rows]]
    names = list(columns)
    return [
        {"cell": h, **dict(zip(names, values, strict=True))}
        for h, *values in zip(hexes, *columns.values(), strict=True)
    ]


def feature_collection(
    view: CellView,
    metric: Metric,
    day: date | None,
    bbox: Box | None,
    sectors: frozenset[str] | None,
    limit: int,
) -> dict[str, Any]:
    """The GeoJSON FeatureCollection (geometries as pre-serialised fragments)."""
    if day is None:
        rows, matched = np.empty(0, dtype=np.int64), 0
    else:
        rows, matched = view.select(metric, day, [bbox] if bbox else None, sectors, limit)
    geometries = [view.geometry_json[i] for i in view.cell_index[rows]]
    features = [
        {
            "type": "Feature",
            "id": props["cell"],
            "geometry": orjson.Fragment(geometry),
            "properties": props,
        }
        for geometry, props in zip(geometries, properties(view, metric, rows), strict=True)
    ]
    return {
        "type": "FeatureCollection",
        "metric": metric.name,
        "value": metric.value,
        "resolution": view.resolution,
        "date": day.isoformat() if day else None,
        "selectionBbox": list(bbox) if bbox else None,  # not GeoJSON's bbox: centres lie in it
        "numberMatched": matched,
        "numberReturned": len(features),
        "truncated": matched > len(features),
        "features": features,
    }


def vector_tile(
    view: CellView,
    metric: Metric,
    day: date | None,
    z: int,
    x: int,
    y: int,
    sectors: frozenset[str] | None,
    max_features: int,
) -> bytes | None:
    """The tile's cells as a one-layer MVT, or None when there are none."""
    if day is None:
        return None
    bounds = mercantile.bounds(x, y, z)
    m = view.margin
    box = (bounds.west - m, bounds.south - m, bounds.east + m, bounds.north + m)
    rows, _ = view.select(metric, day, [box], sectors, max_features)
    if len(rows) == 0:
        return None
    polygons = shapely.transform(view.polygons[view.cell_index[rows]], _projector(z, x, y))
    lo, hi = -TILE_BUFFER, TILE_EXTENT + TILE_BUFFER
    # MVT wants exterior rings of positive area in these y-down coordinates (shapely's
    # counter-clockwise); orienting all at once spares the encoder its per-polygon check
    clipped = shapely.orient_polygons(shapely.clip_by_rect(polygons, lo, lo, hi, hi))
    keep = ~shapely.is_empty(clipped)
    if not keep.any():
        return None
    props = properties(view, metric, rows[keep])
    return encode_polygon_layer(metric.name, clipped[keep], props, TILE_EXTENT)


def _projector(z: int, x: int, y: int):
    """Lng/lat to tile coordinates (Web Mercator, y down, `TILE_EXTENT` units per tile)."""
    scale = 2**z

    def project(coords: np.ndarray) -> np.ndarray:
        lon, lat = coords[:, 0], np.radians(coords[:, 1])
        px = ((lon + 180.0) / 360.0 * scale - x) * TILE_EXTENT
        py = ((1.0 - np.arcsinh(np.tan(lat)) / np.pi) / 2.0 * scale - y) * TILE_EXTENT
        return np.column_stack([px, py])

    return project

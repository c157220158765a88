"""Vectorised questions about the ground: side, distances, sector, terrain, crossing hours.

Build a `RegionIndex` once per region; every method takes numpy arrays of ``lat``, ``lon``
(WGS84 degrees) and returns numpy arrays. Distances are in metres, measured in the region's
metric CRS against STRtrees over the *segments* of lines (short envelopes, so nearest-neighbour
search touches few candidates). Side and sector tests run in lon/lat on the stored polygons,
so that the side is consistent with the border line to the last bit.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import polars as pl
import pyarrow as pa
import pyproj
import shapely
from h3ronpy import vector

from geoint.layers.hours import is_open, local_minute_of_day, parse_hours
from geoint.layers.region import Region
from geoint.layers.terrain import Terrain

PLACE_RADIUS_M = 2_000.0
STOP_AREA_RADIUS_M = 1_000.0


class RegionIndex:
    """Spatial indexes over a region's layers, built once and queried with arrays of points.

    ``place_radius_m`` is the radius of the disc a point place stands for (SPEC: 2 km), and
    ``stop_area_radius_m`` that of a point stop area (docs/events.md: 1 km).
    ``crossings`` (the crossings layer) and ``sector_ids`` are what indexes returned by
    `nearest_crossing` and `sector` refer to.
    """

    def __init__(
        self,
        region: Region,
        place_radius_m: float = PLACE_RADIUS_M,
        stop_area_radius_m: float = STOP_AREA_RADIUS_M,
    ) -> None:
        self.region = region
        self.place_radius_m = place_radius_m
        self.stop_area_radius_m = stop_area_radius_m
        self._to_metric = pyproj.Transformer.from_crs("EPSG:4326", region.crs, always_xy=True)
        self._to_lonlat = pyproj.Transformer.from_crs(region.crs, "EPSG:4326", always_xy=True)

        sides = region.read("sides")
        self._sides = [
            shapely.union_all(sides.geometry.to_numpy()[(sides["country"] == c).to_numpy()])
            for c in region.countries
        ]
        for polygon in self._sides:
            shapely.prepare(polygon)

        self._border = _NearestIndex(_segments(self._metric(region.read("border"))))
        self._roads = _NearestIndex(_segments(self._metric(region.read("roads"))))

        self.crossings = region.read("crossings")
        self._crossings = _NearestIndex(self._metric(self.crossings))
        self._opens, self._closes, _ = parse_hours(self.crossings["hours"])

        places = region.read("places")
        is_point = (places.geom_type == "Point").to_numpy()
        metric_places = self._metric(places)
        self._place_points = _NearestIndex(metric_places[is_point])
        self._place_areas = _NearestIndex(metric_places[~is_point])

        corridors = region.read("corridors")
        self._corridors = _by_corridor(corridors, self._metric(corridors))
        stop_areas = region.read("stop_areas")
        metric_stops = self._metric(stop_areas)
        is_point = (stop_areas.geom_type == "Point").to_numpy()
        self._stop_points = _by_corridor(stop_areas[is_point], metric_stops[is_point])
        self._stop_polygons = _by_corridor(stop_areas[~is_point], metric_stops[~is_point])

        sectors = region.read("sectors")
        self.sector_ids = sectors["sector_id"].to_numpy(dtype=object)
        self._sectors = shapely.STRtree(sectors.geometry.to_numpy())

        raster = region.raster_path("elevation")
        self._terrain = Terrain(raster) if raster is not None else None

    @property
    def timezone(self) -> str:
        """IANA time zone of the region."""
        return self.region.timezone

    @property
    def extent(self) -> tuple[float, float, float, float] | None:
        """The region's lon/lat extent of interest (its manifest's ``bbox``), if it has one."""
        return self.region.bbox

    def _metric(self, frame: gpd.GeoDataFrame) -> np.ndarray:
        """Return the frame's geometries projected to the region's metric CRS."""
        return shapely.transform(frame.geometry.to_numpy(), self._project)

    def _project(self, xy: np.ndarray) -> np.ndarray:
        return np.column_stack(self._to_metric.transform(xy[:, 0], xy[:, 1]))

    def _points(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        x, y = self._to_metric.transform(*_lonlat(lat, lon))
        return shapely.points(x, y)

    def side(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Return int8 side: 0 = countries[0], 1 = countries[1], -1 = neither (or on the line)."""
        lon_, lat_ = _lonlat(lat, lon)
        out = np.full(lat_.shape, -1, dtype=np.int8)
        out[shapely.contains_xy(self._sides[1], lon_, lat_)] = 1
        out[shapely.contains_xy(self._sides[0], lon_, lat_)] = 0
        return out

    def distance_to_border_m(
        self, lat: np.ndarray, lon: np.ndarray, max_distance_m: float | None = None
    ) -> np.ndarray:
        """Return metres to the border line; inf beyond `max_distance_m` or without a border."""
        return self._border.distance(self._points(lat, lon), max_distance_m)[0]

    def distance_to_road_m(
        self, lat: np.ndarray, lon: np.ndarray, max_distance_m: float | None = None
    ) -> np.ndarray:
        """Return metres to the nearest road; inf beyond `max_distance_m` or without roads."""
        return self._roads.distance(self._points(lat, lon), max_distance_m)[0]

    def nearest_crossing(
        self, lat: np.ndarray, lon: np.ndarray, max_distance_m: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (metres, row of `crossings`) of the nearest official crossing, or (inf, -1)."""
        return self._crossings.distance(self._points(lat, lon), max_distance_m)

    def crossings_within(
        self, lat: np.ndarray, lon: np.ndarray, radius_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (point row, row of `crossings`, metres) for every crossing ≤ `radius_m` away.

        Pairs are ordered by point, then distance.
        """
        points = self._points(lat, lon)
        point, crossing, metres = self._crossings.within(points, radius_m)
        order = np.lexsort((crossing, metres, point))
        return point[order], crossing[order], metres[order]

    def border_intersection(
        self, lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (lat, lon, fraction) of each segment's first meeting with the border line.

        Each segment runs straight, in the metric CRS, from point 1 to point 2; `fraction` is
        how far along it the first intersection lies (0 at point 1, 1 at point 2). All three
        are NaN where a segment does not meet the border.
        """
        start, end = self._points(lat1, lon1), self._points(lat2, lon2)
        segments = shapely.linestrings(
            np.stack([shapely.get_coordinates(start), shapely.get_coordinates(end)], axis=1)
        )
        fraction = np.full(len(segments), np.inf)
        row, meeting = self._border.intersections(segments)
        coords, part = shapely.get_coordinates(meeting, return_index=True)
        along = shapely.line_locate_point(
            segments[row[part]], shapely.points(coords), normalized=True
        )
        np.minimum.at(fraction, row[part], along)
        fraction[~np.isfinite(fraction)] = np.nan
        x, y = shapely.get_coordinates(
            shapely.line_interpolate_point(segments, np.nan_to_num(fraction), normalized=True)
        ).T
        lon, lat = self._to_lonlat.transform(x, y)
        missing = np.isnan(fraction)
        return np.where(missing, np.nan, lat), np.where(missing, np.nan, lon), fraction

    def distance_to_corridor_m(
        self, lat: np.ndarray, lon: np.ndarray, corridor_ids: np.ndarray
    ) -> np.ndarray:
        """Return metres from each point to the centre line of its own corridor (inf if unknown).

        ``corridor_ids`` gives one ``corridor_id`` per point (None for none); a corridor made
        of several lines is measured to the nearest. Loops over the distinct corridors (few).
        """
        points = self._points(lat, lon)
        ids = _corridor_ids(corridor_ids, points)
        out = np.full(points.shape, np.inf)
        for corridor, line in self._corridors.items():
            mine = ids == corridor
            out[mine] = shapely.distance(points[mine], line)
        return out

    def in_stop_area(
        self, lat: np.ndarray, lon: np.ndarray, corridor_ids: np.ndarray
    ) -> np.ndarray:
        """Return whether each point lies in an authorised stop area of its own corridor.

        A polygon stop area holds its boundary; a point stop area is a disc of radius
        `stop_area_radius_m`. Loops over the distinct corridors (few).
        """
        points = self._points(lat, lon)
        ids = _corridor_ids(corridor_ids, points)
        out = np.zeros(points.shape, dtype=bool)
        for corridor, polygons in self._stop_polygons.items():
            mine = ids == corridor
            out[mine] |= shapely.intersects(points[mine], polygons)
        for corridor, centres in self._stop_points.items():
            mine = ids == corridor
            out[mine] |= shapely.dwithin(points[mine], centres, self.stop_area_radius_m)
        return out

    def distance_to_place_m(
        self, lat: np.ndarray, lon: np.ndarray, max_distance_m: float | None = None
    ) -> np.ndarray:
        """Return metres to the nearest normal-activity place; 0 inside one.

        A point place is a disc of radius `place_radius_m`: the distance is to the disc's edge
        (the point's distance minus the radius, at least 0). A polygon place is 0 inside.
        """
        points = self._points(lat, lon)
        reach = None if max_distance_m is None else max_distance_m + self.place_radius_m
        to_point = self._place_points.distance(points, reach)[0] - self.place_radius_m
        to_area = self._place_areas.distance(points, max_distance_m)[0]
        out = np.minimum(np.maximum(to_point, 0.0), to_area)
        if max_distance_m is not None:
            out[out > max_distance_m] = np.inf
        return out

    def sector(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Return the ``sector_id`` (object array) whose polygon holds each point, else None.

        Where sectors overlap, the first listed in the region wins.
        """
        lon_, lat_ = _lonlat(lat, lon)
        out = np.full(lat_.shape, None, dtype=object)
        if len(self.sector_ids) == 0:
            return out
        point, owner = self._sectors.query(shapely.points(lon_, lat_), predicate="within")
        first = np.full(lat_.shape, len(self.sector_ids), dtype=np.int64)
        np.minimum.at(first, point, owner)
        found = first < len(self.sector_ids)
        out[found] = self.sector_ids[first[found]]
        return out

    def elevation_m(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Return the elevation in metres of the DEM cell holding each point (NaN if none)."""
        return self._terrain_sample(lat, lon)[0]

    def slope_deg(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Return the slope in degrees of the DEM cell holding each point (NaN if none)."""
        return self._terrain_sample(lat, lon)[1]

    def _terrain_sample(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon_, lat_ = _lonlat(lat, lon)
        if self._terrain is None:
            return np.full(lat_.shape, np.nan), np.full(lat_.shape, np.nan)
        return self._terrain.sample(lat_, lon_)

    def crossing_open(self, crossing_index: np.ndarray, ts_utc: np.ndarray) -> np.ndarray:
        """Return whether each crossing is open at each UTC time, in the region's local time.

        ``crossing_index`` rows refer to `crossings`; -1 (no crossing) is never open.
        """
        index = np.asarray(crossing_index, dtype=np.int64)
        minute = local_minute_of_day(ts_utc, self.region.timezone)
        if index.shape != minute.shape:
            raise ValueError(
                f"crossing_index and ts_utc differ in length: {index.shape} vs {minute.shape}"
            )
        known = (index >= 0) & (index < len(self._opens))
        if not known.any():
            return known
        safe = np.where(known, index, 0)
        return known & is_open(self._opens[safe], self._closes[safe], minute)

    def cell_context(self, cells: np.ndarray) -> pl.DataFrame:
        """Return the static context of each H3 cell (uint64), taken at the cell's centre.

        Columns: cell, then those of `point_context`.
        """
        cells = np.asarray(cells, dtype=np.uint64)
        centres = pa.record_batch(vector.cells_to_coordinates(cells))
        if centres.column("lat").null_count:
            bad = cells[np.asarray(centres.column("lat").is_null())][0]
            raise ValueError(f"not a valid H3 cell: {int(bad):x}")
        lat = centres.column("lat").to_numpy()
        lon = centres.column("lng").to_numpy()
        return self.point_context(lat, lon).insert_column(
            0, pl.Series("cell", cells, dtype=pl.UInt64)
        )

    def point_context(self, lat: np.ndarray, lon: np.ndarray) -> pl.DataFrame:
        """Return every layer answer at each point, one row per point.

        Columns: lat, lon, side, side_country, distance_to_border_m, distance_to_road_m,
        distance_to_crossing_m, nearest_crossing, distance_to_place_m, sector_id, elevation_m,
        slope_deg.
        """
        lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        crossing_m, crossing_row = self.nearest_crossing(lat, lon)
        names = self.crossings["name"].to_numpy(dtype=object) if len(self.crossings) else None
        nearest = np.full(lat.shape, None, dtype=object)
        if names is not None:
            nearest[crossing_row >= 0] = names[crossing_row[crossing_row >= 0]]
        side = self.side(lat, lon)
        countries = np.array([*self.region.countries, None], dtype=object)
        elevation, slope = self._terrain_sample(lat, lon)
        # object arrays go through lists: polars cannot cast an Object series whose leading
        # values are all None
        return pl.DataFrame(
            {
                "lat": lat,
                "lon": lon,
                "side": pl.Series(side, dtype=pl.Int8),
                "side_country": pl.Series(countries[side].tolist(), dtype=pl.String),
                "distance_to_border_m": self.distance_to_border_m(lat, lon),
                "distance_to_road_m": self.distance_to_road_m(lat, lon),
                "distance_to_crossing_m": crossing_m,
                "nearest_crossing": pl.Series(nearest.tolist(), dtype=pl.String),
                "distance_to_place_m": self.distance_to_place_m(lat, lon),
                "sector_id": pl.Series(self.sector(lat, lon).tolist(), dtype=pl.String),
                "elevation_m": elevation,
                "slope_deg": slope,
            }
        )


class _NearestIndex:
    """An STRtree answering nearest-geometry distance for many points at once."""

    def __init__(self, geometries: np.ndarray) -> None:
        self._tree = shapely.STRtree(geometries) if len(geometries) else None

    def distance(
        self, points: np.ndarray, max_distance: float | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (distance, index of nearest geometry) per point; (inf, -1) when none."""
        distance = np.full(points.shape, np.inf)
        nearest = np.full(points.shape, -1, dtype=np.int64)
        if self._tree is None or len(points) == 0:
            return distance, nearest
        # shapely wants max_distance > 0; "within 0 m" (inside or touching) is asked with a
        # hair of slack and the matches beyond 0 dropped below
        query_max = None if max_distance is None else max(max_distance, 1e-6)
        (point, geometry), found = self._tree.query_nearest(
            points, max_distance=query_max, return_distance=True, all_matches=False
        )
        if max_distance is not None:
            keep = found <= max_distance
            point, geometry, found = point[keep], geometry[keep], found[keep]
        distance[point] = found
        nearest[point] = geometry
        return distance, nearest

    def within(
        self, points: np.ndarray, radius: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (point, geometry, distance) for every pair at most `radius` apart."""
        if self._tree is None or len(points) == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0)
        point, geometry = self._tree.query(points, predicate="dwithin", distance=radius)
        found = shapely.distance(points[point], self._tree.geometries[geometry])
        return point, geometry, found

    def intersections(self, geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (input row, intersection geometry) for every input meeting a tree geometry."""
        if self._tree is None or len(geometries) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
        row, hit = self._tree.query(geometries, predicate="intersects")
        return row, shapely.intersection(geometries[row], self._tree.geometries[hit])


def _segments(lines: np.ndarray) -> np.ndarray:
    """Return every two-point segment of (multi)line geometries as LineStrings."""
    coords, index = shapely.get_coordinates(shapely.get_parts(lines), return_index=True)
    same = index[1:] == index[:-1]
    return shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1))


def _by_corridor(frame: gpd.GeoDataFrame, metric: np.ndarray) -> dict[str, shapely.Geometry]:
    """Return the union of the metric geometries of each ``corridor_id``, prepared."""
    out = {}
    ids = frame["corridor_id"].to_numpy(dtype=object)
    for corridor in sorted(set(ids)):
        out[corridor] = shapely.union_all(metric[ids == corridor])
        shapely.prepare(out[corridor])
    return out


def _corridor_ids(corridor_ids: np.ndarray, points: np.ndarray) -> np.ndarray:
    ids = np.asarray(corridor_ids, dtype=object)
    if ids.shape != points.shape:
        raise ValueError(f"corridor_ids and points differ in length: {ids.shape} vs {points.shape}")
    return ids


def _lonlat(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    if lat.shape != lon.shape:
        raise ValueError(f"lat and lon differ in length: {lat.shape} vs {lon.shape}")
    return lon, lat

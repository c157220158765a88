"""The travel-time graph over a region's H3 cells, for patrol planning (docs/patrol.md).

The area is the region's bbox within ``graph_buffer_m`` of the border line (the whole bbox
without a border). A cell crossed by a road moves at the speed of its fastest road class;
other cells at the off-road speed times ``exp(-slope / slope_scale_deg)`` (slope from the
elevation raster at the cell centre, flat without a raster), and are impassable above
``slope_limit_deg``. Neighbouring passable cells are joined unless the segment between their
centres crosses a river and one of them carries no road (roads cross rivers on bridges).
An edge takes the centre-to-centre distance at the two cells' speeds, half at each.

A base farther from the border reaches this graph over the transit graph: the same model at
the coarser ``transit_resolution`` over the two countries (the region's sides within its bbox);
`base_access` gives the transit time from the base to every passable cell on the edge of the
border zone.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import shapely
from h3ronpy import ContainmentMode, vector
from scipy.sparse.csgraph import dijkstra

from geoint.geodesy import haversine_m
from geoint.h3index import cell_centres, grid_disks, latlng_to_cells, parent_cells
from geoint.layers.region import Region
from geoint.layers.terrain import Terrain
from geoint.patrol.plan import BaseAccess, TravelGraph
from geoint.settings import PatrolSettings


def build_travel_graph(
    region: Region, settings: PatrolSettings, resolution: int = 8
) -> TravelGraph:
    """Return the travel graph of `region`'s border zone at H3 `resolution`."""
    return _graph(region, _area(region, settings.graph_buffer_m), settings, resolution)


def build_transit_graph(region: Region, settings: PatrolSettings) -> TravelGraph:
    """Return the coarse travel graph over the region's two countries (`transit_resolution`)."""
    box = shapely.box(*region.bbox) if region.bbox is not None else None
    sides = region.read("sides") if region.files("sides") else None
    if sides is None or sides.empty:
        area = box if box is not None else _area(region, settings.graph_buffer_m)
    else:
        land = shapely.union_all(sides.to_crs(4326).geometry.to_numpy())
        area = land if box is None else shapely.intersection(land, box)
    return _graph(region, area, settings, settings.transit_resolution)


def base_access(
    graph: TravelGraph, transit: TravelGraph, lat: float, lon: float
) -> BaseAccess | None:
    """How a base at (`lat`, `lon`) reaches the edge of `graph` over `transit`; None when the
    base lies on no passable transit cell or reaches no edge cell."""
    start = transit.index(latlng_to_cells(np.array([lat]), np.array([lon]), transit.resolution))
    if start[0] < 0 or transit.speed_kmh[start[0]] <= 0:
        return None
    minutes, previous = dijkstra(transit.matrix, indices=int(start[0]), return_predecessors=True)
    edge = _edge_rows(graph)
    coarse = transit.index(parent_cells(graph.cells[edge], transit.resolution))
    reached = coarse >= 0
    reached[reached] = np.isfinite(minutes[coarse[reached]])
    if not reached.any():
        return None
    rows, coarse = edge[reached], coarse[reached]
    paths = []
    for target in coarse:  # one path per edge cell reached (a few thousand at most)
        path = [int(target)]
        while path[-1] != start[0]:
            path.append(int(previous[path[-1]]))
        paths.append(transit.cells[path[::-1]])
    return BaseAccess(rows=rows, minutes=minutes[coarse], paths=paths)


def _edge_rows(graph: TravelGraph) -> np.ndarray:
    """Rows of the passable cells on the edge of the graph's area (a neighbour outside it)."""
    rows, around = grid_disks(graph.cells, 1)
    outside = graph.index(around) < 0
    edge = np.zeros(len(graph.cells), dtype=bool)
    edge[rows[outside]] = True
    return np.flatnonzero(edge & (graph.speed_kmh > 0))


def _graph(
    region: Region, area: shapely.Geometry, settings: PatrolSettings, resolution: int
) -> TravelGraph:
    """The travel graph of the cells whose centres lie in `area`."""
    cells = np.unique(_cells(np.array([area]), resolution, ContainmentMode.ContainsCentroid))
    lat, lon = cell_centres(cells)
    road_speed = _road_speed(region, cells, resolution, settings)
    road = road_speed > 0
    slope = np.zeros(len(cells))
    raster = region.raster_path("elevation")
    if raster is not None:
        slope = np.nan_to_num(Terrain(raster).sample(lat, lon)[1], nan=0.0)
    offroad = settings.offroad_speed_kmh * np.exp(-slope / settings.slope_scale_deg)
    offroad[slope > settings.slope_limit_deg] = 0.0
    speed = np.where(road, road_speed, offroad)

    rows, neighbours = grid_disks(cells, 1)
    dst = np.searchsorted(cells, neighbours)
    dst_ok = dst < len(cells)
    dst_ok[dst_ok] = cells[dst[dst_ok]] == neighbours[dst_ok]
    keep = dst_ok & (rows < np.where(dst_ok, dst, -1))  # each undirected pair once
    src, dst = rows[keep], dst[keep]
    keep = (speed[src] > 0) & (speed[dst] > 0)
    src, dst = src[keep], dst[keep]
    crosses = _crosses_river(region, lat, lon, src, dst)
    keep = ~crosses | (road[src] & road[dst])
    src, dst = src[keep], dst[keep]

    metres = haversine_m(lat[src], lon[src], lat[dst], lon[dst])
    minutes = metres / 1000 * 60 * 0.5 * (1 / speed[src] + 1 / speed[dst])
    return TravelGraph(
        resolution=resolution,
        cells=cells,
        speed_kmh=speed,
        road=road,
        src=np.concatenate([src, dst]),
        dst=np.concatenate([dst, src]),
        minutes=np.concatenate([minutes, minutes]),
    )


def _area(region: Region, buffer_m: float) -> shapely.Geometry:
    """The region's bbox within `buffer_m` of its border, in lon/lat."""
    box = shapely.box(*region.bbox) if region.bbox is not None else None
    border = region.read("border")
    if border.empty:
        if box is None:
            raise ValueError(f"{region.manifest_path}: neither a border nor a bbox to plan over")
        return box
    zone = shapely.union_all(border.to_crs(region.crs).buffer(buffer_m).to_crs(4326).values)
    return zone if box is None else shapely.intersection(zone, box)


def _cells(geometries: np.ndarray, resolution: int, mode: ContainmentMode) -> np.ndarray:
    """The cells of each geometry as a list array (flattened by the callers as needed)."""
    return (
        pa.array(vector.wkb_to_cells(shapely.to_wkb(geometries), resolution, containment_mode=mode))
        .flatten()
        .to_numpy()
        .astype(np.uint64)
    )


def _road_speed(
    region: Region, cells: np.ndarray, resolution: int, settings: PatrolSettings
) -> np.ndarray:
    """Speed of the fastest road class crossing each cell (0 where none; unknown = slowest)."""
    speed = np.zeros(len(cells))
    if "roads" not in region.layers:
        return speed
    roads = region.read("roads")
    if roads.empty:
        return speed
    slowest = min(settings.road_speed_kmh.values())
    per_road = roads["class"].map(settings.road_speed_kmh).fillna(slowest).to_numpy(float)
    lists = pa.array(
        vector.wkb_to_cells(
            shapely.to_wkb(roads.geometry.to_numpy()),
            resolution,
            containment_mode=ContainmentMode.IntersectsBoundary,
        )
    )
    offsets = lists.offsets.to_numpy()
    touched = lists.flatten().to_numpy().astype(np.uint64)
    road_speed = np.repeat(per_road, np.diff(offsets))
    rows = np.minimum(np.searchsorted(cells, touched), len(cells) - 1)
    inside = cells[rows] == touched
    np.maximum.at(speed, rows[inside], road_speed[inside])
    return speed


def _crosses_river(
    region: Region, lat: np.ndarray, lon: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> np.ndarray:
    """Whether the segment between the centres of each edge's cells crosses a river line."""
    crosses = np.zeros(len(src), dtype=bool)
    if "rivers" not in region.layers:
        return crosses
    rivers = region.read("rivers")
    if rivers.empty:
        return crosses
    parts = shapely.get_parts(rivers.geometry.to_numpy())
    coords, index = shapely.get_coordinates(parts, return_index=True)
    same = index[1:] == index[:-1]
    segments = shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1))
    edges = shapely.linestrings(
        np.stack(
            [np.column_stack([lon[src], lat[src]]), np.column_stack([lon[dst], lat[dst]])], axis=1
        )
    )
    hit, _ = shapely.STRtree(segments).query(edges, predicate="intersects")
    crosses[hit] = True
    return crosses

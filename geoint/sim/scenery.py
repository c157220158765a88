"""The scenario generator's view of a region: roads to drive, places to visit, crossings to use.

Built from the region's layers (GeoDataFrames in EPSG:4326) and its `Ground`, in the region's
metric CRS. Road edges are classified once: the side they run on, whether they cross the border
(and at which official crossing), and whether legitimate traffic may use them (never within
300 m of the border except within 1 km of an official crossing, so that GPS noise cannot put a
legitimate vehicle across the border anywhere else). Routes are shortest paths by free-flow
travel time from places, cached per place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from geoint.ground import Ground
from geoint.settings import GeointSettings
from geoint.sim.roadgraph import Paths, RoadGraph

LEGIT_BORDER_CLEARANCE_M = 300.0  # legitimate roads keep this far from the border ...
LEGIT_CROSSING_REACH_M = 1_000.0  # ... except this close to an official crossing
PLACE_SNAP_M = 500.0  # a place joins the network at the nearest road point this close
_SAMPLE_M = 200.0
_SPOT_STEP_M = 500.0


@dataclass(frozen=True)
class Geography:
    """The layers a scenario is generated on, as GeoDataFrames in EPSG:4326."""

    crs: str
    countries: tuple[str, str]
    border: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    crossings: gpd.GeoDataFrame
    places: gpd.GeoDataFrame
    corridors: gpd.GeoDataFrame
    stop_areas: gpd.GeoDataFrame

    @classmethod
    def of(cls, region: Any) -> Geography:
        """Read the layers of a region (anything with ``crs``, ``countries`` and ``read(kind)``)."""
        kinds = ("border", "roads", "crossings", "places", "corridors", "stop_areas")
        return cls(region.crs, region.countries, *(region.read(kind) for kind in kinds))


@dataclass(frozen=True)
class Leg:
    """A polyline to drive (metric) with the free-flow speed of each segment (m/s)."""

    coords: np.ndarray
    speed: np.ndarray

    @classmethod
    def straight(cls, coords: np.ndarray, speed_ms: float) -> Leg:
        """Return a leg along `coords` at one speed (off the road network)."""
        coords = np.asarray(coords, dtype=float)
        return cls(coords, np.full(len(coords) - 1, speed_ms))

    def __add__(self, other: Leg) -> Leg:
        if not len(self.coords):
            return other
        if not len(other.coords):
            return self
        return Leg(
            np.concatenate([self.coords, other.coords[1:]]),
            np.concatenate([self.speed, other.speed]),
        )

    def reversed(self) -> Leg:
        return Leg(self.coords[::-1].copy(), self.speed[::-1].copy())

    @cached_property
    def distance(self) -> np.ndarray:
        """Cumulative metres at each vertex."""
        return np.r_[0.0, np.cumsum(np.hypot(*np.diff(self.coords, axis=0).T))]

    @property
    def length(self) -> float:
        return float(self.distance[-1]) if len(self.coords) else 0.0

    @property
    def end(self) -> np.ndarray:
        return self.coords[-1]

    def seconds(self, factor: float) -> float:
        """Return the time to drive the leg at `factor` times its free-flow speeds."""
        return float((np.diff(self.distance) / (self.speed * factor)).sum())

    def cut(self, start: float, stop: float) -> Leg:
        """Return the part of the leg between two distances along it."""
        distance = self.distance
        start, stop = max(0.0, start), min(stop, distance[-1])
        inner = np.flatnonzero((distance > start) & (distance < stop))
        points = np.vstack([self.at(start), self.coords[inner], self.at(stop)])
        first = max(int(np.searchsorted(distance, start, side="right")) - 1, 0)
        speeds = self.speed[np.clip(np.r_[first, inner], 0, len(self.speed) - 1)]
        return Leg(points, speeds[: len(points) - 1])

    def at(self, distance: float) -> np.ndarray:
        """Return the point `distance` metres along the leg."""
        cumulative = self.distance
        return np.array(
            [np.interp(distance, cumulative, self.coords[:, 0]),
             np.interp(distance, cumulative, self.coords[:, 1])]
        )  # fmt: skip


@dataclass(frozen=True)
class Place:
    """A normal-activity place reachable by road: its network node, side and uses."""

    name: str
    kind: str
    side: int
    node: int
    xy: np.ndarray
    border_m: float
    parking: bool  # far enough from the border to stop reporting there overnight


@dataclass(frozen=True)
class Spot:
    """A point on a road edge (metres `along` it from its first node)."""

    edge: int
    along: float
    xy: np.ndarray
    side: int
    border_m: float


@dataclass(frozen=True)
class CrossingRoad:
    """A road edge crossing the border near one official crossing."""

    edge: int
    crossing: int  # row of the crossings layer
    at: float  # metres along the edge (from its first node) to the border
    first_side: int  # side of the edge's first node


class Scenery:
    """Roads, places, crossings and candidate spots of a region, in its metric CRS."""

    def __init__(self, ground: Ground, geography: Geography, settings: GeointSettings) -> None:
        self.ground = ground
        self.geography = geography
        self.settings = settings
        self._to_metric = pyproj.Transformer.from_crs("EPSG:4326", geography.crs, always_xy=True)
        self._to_lonlat = pyproj.Transformer.from_crs(geography.crs, "EPSG:4326", always_xy=True)
        self.border = shapely.union_all(self.metric(geography.border.geometry.to_numpy()))
        shapely.prepare(self.border)
        roads = self.metric(geography.roads.geometry.to_numpy())
        place_xy = self._place_points()
        junctions = self._junctions(roads, geography.roads["class"].to_numpy(), place_xy)
        self.graph = RoadGraph.from_lines(roads, geography.roads["class"].to_list(), junctions)
        self.weight = self.graph.travel_seconds()
        self._classify_edges()
        self.places = self._places(place_xy)
        self._paths: dict[tuple[int, str], Paths] = {}
        self._spots: dict[int, list[Spot]] = {}
        self._quiet: dict[tuple[int, float, float], list[Spot]] = {}
        self._legs: dict[tuple[int, int, str], Leg] = {}

    # ------------------------------------------------------------------ coordinates
    def metric(self, geometries: np.ndarray) -> np.ndarray:
        """Return lon/lat geometries in the metric CRS."""
        return shapely.transform(
            geometries, lambda xy: np.column_stack(self._to_metric.transform(xy[:, 0], xy[:, 1]))
        )

    def lonlat(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (lat, lon) of metric points."""
        xy = np.atleast_2d(xy)
        lon, lat = self._to_lonlat.transform(xy[:, 0], xy[:, 1])
        return np.asarray(lat), np.asarray(lon)

    def side(self, xy: np.ndarray) -> np.ndarray:
        """Return the side of metric points (0, 1, or -1 for neither)."""
        return np.asarray(self.ground.side(*self.lonlat(xy)), dtype=np.int8)

    def border_m(self, xy: np.ndarray) -> np.ndarray:
        """Return metres from metric points to the border."""
        return self.ground.distance_to_border_m(*self.lonlat(xy))

    def meets_border(self, coords: np.ndarray) -> int:
        """Return how many points a polyline shares with the border."""
        meeting = shapely.intersection(shapely.linestrings(coords), self.border)
        return 0 if meeting.is_empty else len(shapely.get_parts(meeting))

    # ------------------------------------------------------------------ the network
    def _place_points(self) -> np.ndarray:
        places = self.geography.places
        points = self.metric(places.geometry.representative_point().to_numpy())
        return shapely.get_coordinates(points).reshape(-1, 2)

    def _junctions(self, roads: np.ndarray, classes: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """Return the road points nearest to places (within reach), to become nodes."""
        drivable = roads[classes != "track"]
        if not len(drivable) or not len(xy):
            return np.empty((0, 2))
        tree = shapely.STRtree(drivable)
        points = shapely.points(xy)
        row, line = tree.query_nearest(points, max_distance=PLACE_SNAP_M, all_matches=False)
        near = shapely.line_interpolate_point(
            drivable[line], shapely.line_locate_point(drivable[line], points[row])
        )
        xy = shapely.get_coordinates(near)
        # a post at a crossing stays off: splitting a road on the border leaves no side to it
        return xy[self.border_m(xy) > PLACE_SNAP_M] if len(xy) else xy

    def _classify_edges(self) -> None:
        """Set each edge's side, crossing and legitimate use (see the module docstring)."""
        graph = self.graph
        lines = graph.edge_lines
        dense = shapely.segmentize(lines, _SAMPLE_M)
        xy, edge = shapely.get_coordinates(dense, return_index=True)
        lat, lon = self.lonlat(xy)
        side = np.asarray(self.ground.side(lat, lon), dtype=np.int8)
        close = self.ground.distance_to_border_m(lat, lon, LEGIT_BORDER_CLEARANCE_M)
        crossing_m, _ = self.ground.nearest_crossing(lat, lon, LEGIT_CROSSING_REACH_M)
        unsafe = (close <= LEGIT_BORDER_CLEARANCE_M) & ~(crossing_m <= LEGIT_CROSSING_REACH_M)
        count = len(graph.edge_u)
        has = np.zeros((count, 3), dtype=bool)  # sides -1, 0, 1 seen
        has[edge, side + 1] = True
        self.edge_side = np.where(
            has[:, 0], -1, np.where(has[:, 1] & has[:, 2], 2, np.where(has[:, 1], 0, 1))
        ).astype(np.int8)
        self.edge_safe = np.bincount(edge, weights=unsafe, minlength=count) == 0
        self.crossing_roads: list[CrossingRoad] = []
        for e in np.flatnonzero(self.edge_side == 2):
            meeting = shapely.intersection(lines[e], self.border)
            parts = shapely.get_parts(meeting)
            if len(parts) != 1 or parts[0].geom_type != "Point":
                self.edge_safe[e] = False
                continue
            lat1, lon1 = self.lonlat(shapely.get_coordinates(parts[0]))
            _, row = self.ground.nearest_crossing(lat1, lon1, LEGIT_CROSSING_REACH_M)
            if row[0] < 0:
                self.edge_safe[e] = False
                continue
            first = self.side(graph.edge_coords[e][:1])[0]
            self.crossing_roads.append(
                CrossingRoad(int(e), int(row[0]), float(lines[e].project(parts[0])), int(first))
            )
        drivable = graph.edge_class != "track"
        self.masks = {
            "side0": drivable & self.edge_safe & (self.edge_side == 0),
            "side1": drivable & self.edge_safe & (self.edge_side == 1),
        }
        crossing_ok = np.zeros(count, dtype=bool)
        crossing_ok[[c.edge for c in self.crossing_roads]] = True
        through = drivable & self.edge_safe & crossing_ok
        self.masks["legit"] = self.masks["side0"] | self.masks["side1"] | through
        self.tracks = [
            e for e in np.flatnonzero(~drivable & (self.edge_side == 2))
            if self.meets_border(graph.edge_coords[e]) == 1
        ]  # fmt: skip

    def _places(self, xy: np.ndarray) -> list[Place]:
        """Return the places whose nearest legitimate node lies well inside them (layer order)."""
        frame = self.geography.places
        legit = self.masks["legit"]
        used = np.unique(np.r_[self.graph.edge_u[legit], self.graph.edge_v[legit]])
        if not len(used) or not len(xy):
            return []
        nodes = self.graph.nodes[used]
        tree = shapely.STRtree(shapely.points(nodes))
        (row, hit), _ = tree.query_nearest(
            shapely.points(xy), max_distance=PLACE_SNAP_M, return_distance=True, all_matches=False
        )
        node_xy = nodes[hit]
        lat, lon = self.lonlat(node_xy)
        border = self.ground.distance_to_border_m(lat, lon)
        side = np.asarray(self.ground.side(lat, lon), dtype=np.int8)
        inside = self._deep_inside_place(node_xy)
        parking_m = self.settings.tracks.near_border_m + 2_000
        places = {}
        for i, r in enumerate(row):
            if not inside[i] or side[i] < 0 or r in places:
                continue
            places[int(r)] = Place(
                name=str(frame["name"].iloc[r]),
                kind=str(frame["kind"].iloc[r]),
                side=int(side[i]),
                node=int(used[hit[i]]),
                xy=node_xy[i],
                border_m=float(border[i]),
                parking=bool(border[i] >= parking_m),
            )
        return [places[r] for r in sorted(places)]

    def _deep_inside_place(self, xy: np.ndarray, margin: float = 300.0) -> np.ndarray:
        """Whether points and four points `margin` around them are all inside places."""
        ring = np.array([[0, 0], [margin, 0], [-margin, 0], [0, margin], [0, -margin]])
        probe = (xy[:, None, :] + ring[None, :, :]).reshape(-1, 2)
        inside = self.ground.distance_to_place_m(*self.lonlat(probe)) == 0
        return inside.reshape(len(xy), len(ring)).all(axis=1)

    # --------------------------------------------------------------------- routing
    def paths(self, place: Place, mask: str) -> Paths:
        """Return (cached) shortest paths from a place over the edges of `mask`."""
        key = (place.node, mask)
        if key not in self._paths:
            self._paths[key] = self.graph.shortest_paths(place.node, self.weight, self.masks[mask])
        return self._paths[key]

    def reachable(self, place: Place, node: int, mask: str) -> bool:
        return bool(np.isfinite(self.paths(place, mask).cost[node]))

    def leg(self, start: Place, end: Place, mask: str) -> Leg:
        """Return the route between two places over `mask` (cached)."""
        key = (start.node, end.node, mask)
        if key not in self._legs:
            self._legs[key] = self._edge_leg(
                self.graph.path_edges(self.paths(start, mask), end.node)
            )
        return self._legs[key]

    def leg_to_node(self, start: Place, node: int, mask: str) -> Leg:
        """Return the route from a place to a node over `mask`."""
        return self._edge_leg(self.graph.path_edges(self.paths(start, mask), node))

    def leg_to_spot(self, start: Place, spot: Spot, mask: str) -> Leg:
        """Return the route from a place to a point on an edge (through its nearer end)."""
        paths = self.paths(start, mask)
        u, v = int(self.graph.edge_u[spot.edge]), int(self.graph.edge_v[spot.edge])
        edge_leg = self.edge_leg(spot.edge)
        via_u = paths.cost[u] + self.weight[spot.edge] * spot.along / edge_leg.length
        via_v = paths.cost[v] + self.weight[spot.edge] * (1 - spot.along / edge_leg.length)
        if via_u <= via_v:
            return self.leg_to_node(start, u, mask) + edge_leg.cut(0.0, spot.along)
        return self.leg_to_node(start, v, mask) + edge_leg.reversed().cut(
            0.0, edge_leg.length - spot.along
        )

    def edge_leg(self, edge: int, forward: bool = True) -> Leg:
        """Return one edge as a leg, from its first node (or from its last)."""
        coords = self.graph.edge_coords[edge]
        speed = self.graph.edge_speed_ms[edge]
        leg = Leg(coords, np.full(len(coords) - 1, speed))
        return leg if forward else leg.reversed()

    def _edge_leg(self, steps: Sequence[tuple[int, bool]]) -> Leg:
        coords, edges = self.graph.polyline(steps)
        if not len(coords):
            return Leg(np.empty((0, 2)), np.empty(0))
        return Leg(coords, self.graph.edge_speed_ms[edges])

    def node_side(self, node: int) -> int:
        return int(self.side(self.graph.nodes[node])[0])

    # ----------------------------------------------------------------------- spots
    def spots(self, side: int) -> list[Spot]:
        """Return points every 500 m along the legitimate roads of one side."""
        if side not in self._spots:
            found = []
            mask = self.masks[f"side{side}"]
            for e in np.flatnonzero(mask):
                leg = self.edge_leg(int(e))
                for along in np.arange(_SPOT_STEP_M / 2, leg.length, _SPOT_STEP_M):
                    found.append((int(e), float(along), leg.at(along)))
            xy = np.array([f[2] for f in found]).reshape(-1, 2)
            border = self.border_m(xy) if len(xy) else np.empty(0)
            self._spots[side] = [
                Spot(e, a, p, side, float(b)) for (e, a, p), b in zip(found, border, strict=True)
            ]
        return self._spots[side]

    def quiet_spots(self, side: int, band: tuple[float, float]) -> list[Spot]:
        """Return road spots `band` metres from the border, clear of crossings and places.

        Clear means more than 5 km from every official crossing and more than 3 km from every
        place's area, so that a stop there is unambiguous whatever the GPS noise.
        """
        key = (side, *band)
        if key not in self._quiet:
            spots = [s for s in self.spots(side) if band[0] <= s.border_m <= band[1]]
            xy = np.array([s.xy for s in spots]).reshape(-1, 2)
            lat, lon = self.lonlat(xy)
            crossing, _ = self.ground.nearest_crossing(lat, lon)
            place = self.ground.distance_to_place_m(lat, lon)
            self._quiet[key] = [
                s for s, c, p in zip(spots, crossing, place, strict=True) if c > 5_000 and p > 3_000
            ]
        return self._quiet[key]

    def parking(self, side: int) -> list[Place]:
        """Return the places of `side` where vehicles may stop reporting overnight."""
        return [p for p in self.places if p.side == side and p.parking]

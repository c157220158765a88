"""Plausible synthetic geography for a region, deterministic from a seed.

Real roads are coarse, so scenarios need a road network. This module adds, to any region with a
border, sides and towns: roads between the towns of each side (a minimum spanning tree plus
some near-neighbour links, and links to the region's own roads); official crossings where the
region's roads meet the border and at regular spacing along it, each with a straight approach
road, a customs post, a border market on both sides and opening hours; rural roads along the
border between markets; tracks crossing the border away from the crossings; transit corridors
along the network with depots and authorised stop areas; and sectors tiling a band along the
border. It knows nothing about vehicles.

Every feature written carries a ``generated_by`` column, so generating again replaces the
generated layers instead of adding to them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from geoint.layers.files import read_vector
from geoint.layers.region import Region
from geoint.sim.roadgraph import RoadGraph

GENERATED_BY = "generated_by"
KINDS = ("roads", "crossings", "places", "corridors", "stop_areas", "sectors")
LIMITED_HOURS = ("06:00-22:00", "07:00-19:00", "06:00-18:00", "08:00-20:00")
ALWAYS = "24h"


@dataclass(frozen=True)
class SyntheticOptions:
    """Spacings and distances of the generated geography (metres)."""

    crossing_spacing_m: float = 70_000
    approach_m: float = 3_000  # straight approach road on each side of a generated crossing
    market_m: tuple[float, float] = (3_000, 5_000)  # market beyond the approach end
    road_clearance_m: float = 1_000  # generated roads, approaches aside, keep off the border
    track_clearance_m: float = 10_000  # tracks cross the border this far from crossings
    track_reach_m: float = 25_000  # farthest road a track end may join
    town_links: int = 3  # nearest same-side towns each town may be linked to
    base_road_link_m: float = 30_000  # towns link to the region's own roads within this
    depot_spacing_m: float = 100_000
    stop_area_radius_m: float = 600
    sector_length_m: float = 80_000
    sector_band_m: float = 25_000
    limited_share: float = 0.6  # share of generated crossings with limited opening hours


@dataclass
class _Layers:
    """Features in the region's metric CRS, by kind, as (geometry, attributes) rows."""

    rows: dict[str, list[tuple[shapely.Geometry, dict]]] = field(
        default_factory=lambda: {kind: [] for kind in KINDS}
    )

    def add(self, layer: str, geometry: shapely.Geometry, **attributes: object) -> None:
        self.rows[layer].append((geometry, attributes))


def forget_synthetic_layers(region: Region) -> None:
    """Remove the files of earlier generated layers from `region` (and from its manifest)."""
    for kind in KINDS:
        kept = []
        for name in region.layers.get(kind, []):
            path = region.path / name
            frame = read_vector(path)
            generated = GENERATED_BY in frame.columns and frame[GENERATED_BY].notna().all()
            if generated and len(frame) and path.resolve().is_relative_to(region.path.resolve()):
                path.unlink()
            else:
                kept.append(name)
        if kept:
            region.layers[kind] = kept
        else:
            region.layers.pop(kind, None)
    region.save()


def add_synthetic_layers(
    region: Region, seed: int, options: SyntheticOptions | None = None
) -> dict[str, int]:
    """Generate roads, crossings, places, corridors, stop areas and sectors into `region`.

    Layers generated before are replaced. Returns the number of features written per kind.
    """
    options = options or SyntheticOptions()
    forget_synthetic_layers(region)
    rng = np.random.default_rng([seed, 20_260_302])
    geo = _Geo(region)
    layers = _Layers()
    towns = geo.towns()
    base_roads = geo.base_roads()
    crossings = _crossings(geo, base_roads, towns, layers, rng, options)
    _town_roads(geo, towns, base_roads, layers, rng, options)
    _rural_roads(geo, crossings, layers, rng, options)
    _tracks(geo, crossings, layers, rng, options)
    _corridors(geo, towns, base_roads, layers, options)
    _sectors(geo, layers, options)
    tag = f"geoint simulate (seed {seed})"
    counts = {}
    for kind in KINDS:
        rows = layers.rows[kind]
        counts[kind] = len(rows)
        if not rows:
            continue
        frame = gpd.GeoDataFrame(
            [attributes | {GENERATED_BY: tag} for _, attributes in rows],
            geometry=[geometry for geometry, _ in rows],
            crs=region.crs,
        )
        region.add_frame(kind, frame, source=f"synthetic {kind} (seed {seed})")
    return counts


@dataclass
class _Town:
    name: str
    xy: np.ndarray
    side: int
    population: float


@dataclass
class _Crossing:
    name: str
    xy: np.ndarray
    hours: str
    part: int = -1  # border part and metres along it (generated crossings only)
    along: float = 0.0
    approach: np.ndarray | None = None  # ends of the straight approach road, side 0 first
    links: dict[int, tuple[np.ndarray, _Town]] = field(default_factory=dict)  # road, its town
    existing: bool = False  # in the region already (not written again)

    def market(self, side: int) -> np.ndarray:
        """Return the border market on `side` (the link road's second vertex)."""
        return self.links[side][0][1]


class _Geo:
    """The region's border, sides and towns in its metric CRS, with the checks roads need."""

    def __init__(self, region: Region) -> None:
        self.region = region
        self._to_metric = pyproj.Transformer.from_crs("EPSG:4326", region.crs, always_xy=True)
        border = self.metric(region.read("border").geometry.to_numpy())
        self.parts = [p for p in shapely.get_parts(border) if p.length > 0]
        self.border = shapely.multilinestrings(self.parts)
        shapely.prepare(self.border)
        sides = region.read("sides")
        self.sides = [
            shapely.union_all(self.metric(sides.geometry[sides["country"] == c].to_numpy()))
            for c in region.countries
        ]
        for polygon in self.sides:
            shapely.prepare(polygon)

    def metric(self, geometries: np.ndarray) -> np.ndarray:
        """Return lon/lat geometries projected to the region's metric CRS."""
        return shapely.transform(
            geometries, lambda xy: np.column_stack(self._to_metric.transform(xy[:, 0], xy[:, 1]))
        )

    def side(self, xy: np.ndarray) -> np.ndarray:
        """Return the side (0, 1, or -1 for neither) of metric points."""
        xy = np.atleast_2d(xy)
        out = np.full(len(xy), -1, dtype=np.int8)
        out[shapely.contains_xy(self.sides[1], xy[:, 0], xy[:, 1])] = 1
        out[shapely.contains_xy(self.sides[0], xy[:, 0], xy[:, 1])] = 0
        return out

    def border_distance(self, xy: np.ndarray) -> np.ndarray:
        """Return metres from metric points to the border line."""
        return shapely.distance(shapely.points(np.atleast_2d(xy)), self.border)

    def fits(self, coords: np.ndarray, side: int, clearance: float, step: float = 250.0) -> bool:
        """Whether a polyline stays on `side` and at least `clearance` from the border."""
        samples = _sample(coords, step)
        return bool(
            (self.side(samples) == side).all()
            and (self.border_distance(samples) >= clearance).all()
        )

    def meets_border_once(self, coords: np.ndarray) -> bool:
        """Whether a polyline meets the border in exactly one point."""
        meeting = shapely.intersection(shapely.linestrings(coords), self.border)
        return meeting.geom_type == "Point"

    def towns(self) -> list[_Town]:
        """Return the region's places of kind town on either side, at least 2 km apart."""
        places = self.region.read("places")
        if not len(places):
            return []
        places = places[places["kind"] == "town"]
        points = self.metric(places.geometry.representative_point().to_numpy())
        xy = shapely.get_coordinates(points)
        side = self.side(xy)
        population = (
            places["population"].astype(float).fillna(0).to_numpy()
            if "population" in places.columns
            else np.zeros(len(places))
        )
        order = np.lexsort((places["name"].astype(str).to_numpy(), -population))
        towns: list[_Town] = []
        for i in order:
            if side[i] < 0 or any(np.hypot(*(t.xy - xy[i])) < 2_000 for t in towns):
                continue
            towns.append(_Town(str(places["name"].iloc[i]), xy[i], int(side[i]), population[i]))
        return towns

    def base_roads(self) -> np.ndarray:
        """Return the region's own road lines (metric), one LineString per part."""
        roads = self.region.read("roads")
        return shapely.get_parts(self.metric(roads.geometry.to_numpy()))


# ------------------------------------------------------------------------------ crossings
def _crossings(
    geo: _Geo,
    base_roads: np.ndarray,
    towns: list[_Town],
    layers: _Layers,
    rng: np.random.Generator,
    options: SyntheticOptions,
) -> list[_Crossing]:
    """Add crossings where the region's roads meet the border and at spacing along it."""
    existing = geo.region.read("crossings")
    found = [
        _Crossing(str(name), shapely.get_coordinates(point)[0], str(hours), existing=True)
        for name, hours, point in zip(
            existing["name"],
            existing["hours"],
            geo.metric(existing.geometry.to_numpy()),
            strict=True,
        )
    ]
    points = [c.xy for c in found]
    meetings = shapely.get_parts(shapely.intersection(base_roads, geo.border))
    meetings = meetings[shapely.get_type_id(meetings) == 0]
    meeting_xy = shapely.get_coordinates(meetings)
    for xy in meeting_xy[np.lexsort((meeting_xy[:, 1], meeting_xy[:, 0]))]:
        if all(np.hypot(*(xy - p)) > 1_000 for p in points):
            name = _unique_name(_nearest_towns_name(xy, towns), found)
            found.append(_Crossing(name, xy, ALWAYS))
            points.append(xy)
            layers.add("places", shapely.Point(xy), name=f"{name} customs post", kind="post")
    for part_index, part in enumerate(geo.parts):
        slots = np.arange(options.crossing_spacing_m / 2, part.length, options.crossing_spacing_m)
        for slot in slots:
            crossing = _generated_crossing(
                geo, part, part_index, slot, points, towns, found, rng, options
            )
            if crossing is None:
                continue
            found.append(crossing)
            points.append(crossing.xy)
            _add_crossing_roads(crossing, layers)
    generated = [c for c in found if c.part >= 0]
    hours = [
        LIMITED_HOURS[rng.integers(len(LIMITED_HOURS))]
        if rng.random() < options.limited_share
        else ALWAYS
        for _ in generated
    ]
    others = [c for c in found if c.part < 0]
    if generated and ALWAYS not in hours and all(c.hours != ALWAYS for c in others):
        hours[0] = ALWAYS
    if len(generated) > 1 and all(h == ALWAYS for h in hours):
        hours[-1] = LIMITED_HOURS[0]
    for crossing, h in zip(generated, hours, strict=True):
        crossing.hours = h
    for crossing in found:
        if not crossing.existing:
            point = shapely.Point(crossing.xy)
            layers.add("crossings", point, name=crossing.name, hours=crossing.hours)
    return found


def _generated_crossing(
    geo: _Geo,
    part: shapely.LineString,
    part_index: int,
    slot: float,
    taken: list[np.ndarray],
    towns: list[_Town],
    found: list[_Crossing],
    rng: np.random.Generator,
    options: SyntheticOptions,
) -> _Crossing | None:
    """Return a crossing near `slot` metres along a border part with its roads, or None."""
    jitter = rng.uniform(-0.15, 0.15) * options.crossing_spacing_m
    for shift in (0.0, 5_000.0, -5_000.0, 10_000.0, -10_000.0):
        along = float(np.clip(slot + jitter + shift, 2_000, part.length - 2_000))
        centre, normal = _point_and_normal(part, along)
        if any(np.hypot(*(centre - p)) < 0.4 * options.crossing_spacing_m for p in taken):
            continue
        ends = np.array(
            [centre + normal * options.approach_m, centre - normal * options.approach_m]
        )
        sides = geo.side(ends)
        if set(sides.tolist()) != {0, 1}:
            continue
        if sides[0] == 1:
            ends, normal = ends[::-1], -normal
        if not geo.meets_border_once(ends):
            continue
        if (geo.border_distance(ends) < 0.7 * options.approach_m).any():
            continue
        links = {
            side: _market_link(geo, end, outward, side, towns, rng, options)
            for side, end, outward in ((0, ends[0], normal), (1, ends[1], -normal))
        }
        if links[0] is None or links[1] is None:
            continue
        towns_named = f"{links[0][1].name}–{links[1][1].name}"
        name = _unique_name(f"{towns_named} (border km {along / 1_000:.0f})", found)
        return _Crossing(name, centre, ALWAYS, part_index, along, ends, links)
    return None


def _market_link(
    geo: _Geo,
    end: np.ndarray,
    outward: np.ndarray,
    side: int,
    towns: list[_Town],
    rng: np.random.Generator,
    options: SyntheticOptions,
) -> tuple[np.ndarray, _Town] | None:
    """Return the road from an approach end past a market to the nearest fitting town."""
    market = end + outward * rng.uniform(*options.market_m)
    straight = np.array([end, market])
    if not geo.fits(straight, side, 0.5 * options.approach_m):
        return None
    candidates = sorted(
        (t for t in towns if t.side == side), key=lambda t: float(np.hypot(*(t.xy - market)))
    )
    for town in candidates[:4]:
        road = _wiggle(market, town.xy, rng)
        if geo.fits(road, side, options.road_clearance_m):
            return np.concatenate([straight, road[1:]]), town
    return None


def _add_crossing_roads(crossing: _Crossing, layers: _Layers) -> None:
    """Add the approach, the two market links, the post and the two markets of a crossing."""
    layers.add("roads", shapely.LineString(crossing.approach), **{"class": "primary"})
    post = f"{crossing.name} customs post"
    layers.add("places", shapely.Point(crossing.xy), name=post, kind="post")
    for side, (road, town) in sorted(crossing.links.items()):
        # two lines, so that the market is a junction of the network
        layers.add("roads", shapely.LineString(road[:2]), **{"class": "primary"})
        layers.add("roads", shapely.LineString(road[1:]), **{"class": "primary"})
        market = f"{crossing.name} market ({town.name} side)"
        layers.add("places", shapely.Point(crossing.market(side)), name=market, kind="market")


def _nearest_towns_name(xy: np.ndarray, towns: list[_Town]) -> str:
    """Return "A–B" from the nearest town of each side (for crossings on existing roads)."""
    nearest = []
    for side in (0, 1):
        mine = [t for t in towns if t.side == side]
        if mine:
            nearest.append(min(mine, key=lambda t: float(np.hypot(*(t.xy - xy)))).name)
    return "–".join(nearest) if nearest else "Border"


def _unique_name(base: str, found: list[_Crossing]) -> str:
    """Return `base`, numbered if a crossing already has that name."""
    taken = {c.name for c in found}
    name, number = base, 2
    while name in taken:
        name, number = f"{base} {number}", number + 1
    return name


# ---------------------------------------------------------------------------------- roads
def _town_roads(
    geo: _Geo,
    towns: list[_Town],
    base_roads: np.ndarray,
    layers: _Layers,
    rng: np.random.Generator,
    options: SyntheticOptions,
) -> None:
    """Link each side's towns (spanning tree plus some near neighbours) and to the own roads."""
    for side in (0, 1):
        mine = [t for t in towns if t.side == side]
        candidates: dict[tuple[int, int], np.ndarray | None] = {}
        for i, town in enumerate(mine):
            order = sorted(
                (j for j in range(len(mine)) if j != i),
                key=lambda j: float(np.hypot(*(mine[j].xy - town.xy))),
            )
            for j in order[: options.town_links]:
                key = (min(i, j), max(i, j))
                if key not in candidates:
                    road = _wiggle(mine[key[0]].xy, mine[key[1]].xy, rng)
                    fits = geo.fits(road, side, options.road_clearance_m)
                    candidates[key] = road if fits else None
        valid = sorted((_length(road), key) for key, road in candidates.items() if road is not None)
        root = list(range(len(mine)))

        def find(i: int, root: list[int] = root) -> int:
            while root[i] != i:
                i = root[i]
            return i

        for _, (i, j) in valid:
            joins = find(i) != find(j)
            if joins:
                root[find(i)] = find(j)
            if joins or rng.random() < 0.3:
                big = min(mine[i].population, mine[j].population) >= 100_000
                road = shapely.LineString(candidates[(i, j)])
                layers.add("roads", road, **{"class": "primary" if big else "secondary"})
    if not len(base_roads):
        return
    tree = shapely.STRtree(base_roads)
    for town in towns:
        point = shapely.Point(town.xy)
        (_, hit), distance = tree.query_nearest([point], return_distance=True, all_matches=False)
        if not 1.0 < distance[0] <= options.base_road_link_m:
            continue
        line = base_roads[hit[0]]
        target = shapely.get_coordinates(line.interpolate(line.project(point)))[0]
        road = _wiggle(town.xy, target, rng, amplitude=0.02)
        if geo.fits(road, town.side, options.road_clearance_m):
            layers.add("roads", shapely.LineString(road), **{"class": "secondary"})


def _rural_roads(
    geo: _Geo,
    crossings: list[_Crossing],
    layers: _Layers,
    rng: np.random.Generator,
    options: SyntheticOptions,
) -> None:
    """Link the border markets of neighbouring crossings on each side with rural roads."""
    generated = sorted((c for c in crossings if c.part >= 0), key=lambda c: (c.part, c.along))
    for a, b in itertools.pairwise(generated):
        if a.part != b.part:
            continue
        for side in (0, 1):
            start, end = a.market(side), b.market(side)
            if np.hypot(*(end - start)) > 2.5 * options.crossing_spacing_m:
                continue
            for amplitude in (0.04, 0.02, 0.0):
                road = _wiggle(start, end, rng, amplitude=amplitude)
                if geo.fits(road, side, options.road_clearance_m):
                    layers.add("roads", shapely.LineString(road), **{"class": "tertiary"})
                    break


def _tracks(
    geo: _Geo,
    crossings: list[_Crossing],
    layers: _Layers,
    rng: np.random.Generator,
    options: SyntheticOptions,
) -> None:
    """Add tracks crossing the border midway between crossings, joining roads on both sides."""
    roads = np.array([g for g, _ in layers.rows["roads"]] + list(geo.base_roads()), dtype=object)
    if not len(roads):
        return
    tree = shapely.STRtree(roads)
    crossing_xy = np.array([c.xy for c in crossings]).reshape(-1, 2)
    for part in geo.parts:
        for slot in np.arange(options.crossing_spacing_m, part.length, options.crossing_spacing_m):
            jitter = rng.uniform(-0.1, 0.1) * options.crossing_spacing_m
            for shift in (0.0, 4_000.0, -4_000.0, 8_000.0, -8_000.0):
                track = _track(
                    geo, part, slot + jitter + shift, crossing_xy, roads, tree, rng, options
                )
                if track is not None:
                    layers.add("roads", shapely.LineString(track), **{"class": "track"})
                    break


def _track(
    geo: _Geo,
    part: shapely.LineString,
    along: float,
    crossing_xy: np.ndarray,
    roads: np.ndarray,
    tree: shapely.STRtree,
    rng: np.random.Generator,
    options: SyntheticOptions,
) -> np.ndarray | None:
    """Return a track crossing the border `along` a part, or None where none fits."""
    if not 2_000 < along < part.length - 2_000:
        return None
    centre, normal = _point_and_normal(part, along)
    if len(crossing_xy) and np.hypot(*(crossing_xy - centre).T).min() < options.track_clearance_m:
        return None
    ends = np.array([centre + normal * 1_500, centre - normal * 1_500])
    sides = geo.side(ends)
    if set(sides.tolist()) != {0, 1}:
        return None
    if sides[0] == 1:
        ends = ends[::-1]
    halves = []
    for side, end in ((0, ends[0]), (1, ends[1])):
        point = shapely.Point(end)
        best = None
        for line in roads[tree.query(point, predicate="dwithin", distance=options.track_reach_m)]:
            join = shapely.get_coordinates(line.interpolate(line.project(point)))[0]
            if geo.side(join)[0] != side or np.hypot(*(join - end)) < 1_000:
                continue
            path = _wiggle(join, end, rng, amplitude=0.05, step=1_500)
            if geo.fits(path, side, 300.0) and (best is None or _length(path) < _length(best)):
                best = path
        if best is None:
            return None
        halves.append(best)
    track = np.concatenate([halves[0], halves[1][::-1]])
    return track if geo.meets_border_once(track) else None


# ------------------------------------------------------------------------------ corridors
def _corridors(
    geo: _Geo,
    towns: list[_Town],
    base_roads: np.ndarray,
    layers: _Layers,
    options: SyntheticOptions,
) -> None:
    """Add transit corridors (one across the border, one along each side) with stop areas."""
    rows = [(g, a["class"]) for g, a in layers.rows["roads"]]
    classes = [c for _, c in rows] + ["trunk"] * len(base_roads)
    graph = RoadGraph.from_lines([g for g, _ in rows] + list(base_roads), classes)
    if not len(graph.edge_u):
        return
    edge_side, always = _edge_sides(geo, graph, layers)
    usable = (graph.edge_class != "track") & (edge_side >= 0)
    weight = graph.travel_seconds()
    node_xy = graph.nodes
    nodes = {t.name: int(np.argmin(np.hypot(*(node_xy - t.xy).T))) for t in towns}
    lines: list[np.ndarray] = []
    by_side = {
        s: sorted((t for t in towns if t.side == s), key=lambda t: -t.population) for s in (0, 1)
    }
    if by_side[0] and by_side[1]:
        allowed = usable & ((edge_side < 2) | always)
        paths = graph.shortest_paths(nodes[by_side[0][0].name], weight, allowed)
        target = nodes[by_side[1][0].name]
        if np.isfinite(paths.cost[target]):
            steps = graph.path_edges(paths, target)
            if sum(edge_side[e] == 2 for e, _ in steps) == 1:
                lines.append(graph.polyline(steps)[0])
    for side in (0, 1):
        if not by_side[side]:
            continue
        paths = graph.shortest_paths(
            nodes[by_side[side][0].name], weight, usable & (edge_side == side)
        )
        reachable = [t for t in by_side[side] if np.isfinite(paths.cost[nodes[t.name]])]
        if len(reachable) > 1:
            far = max(reachable, key=lambda t: paths.cost[nodes[t.name]])
            line = graph.polyline(graph.path_edges(paths, nodes[far.name]))[0]
            if _length(line) >= 100_000:
                lines.append(line)
    places = [shapely.get_coordinates(g)[0] for g, _ in layers.rows["places"]] + [
        t.xy for t in towns
    ]
    for number, line in enumerate(lines, start=1):
        corridor = f"TC{number}"
        geometry = shapely.LineString(line)
        layers.add("corridors", geometry, corridor_id=corridor, width_m=1_000.0)
        for k, at in enumerate(
            np.arange(options.depot_spacing_m, geometry.length - 30_000, options.depot_spacing_m)
        ):
            xy = shapely.get_coordinates(geometry.interpolate(at))[0]
            if (
                geo.border_distance(xy)[0] < 6_000
                or min(np.hypot(*(p - xy)) for p in places) < 5_000
            ):
                continue
            places.append(xy)
            layers.add("places", shapely.Point(xy), name=f"{corridor} depot {k + 1}", kind="depot")
            area = shapely.Point(xy)
            if k % 2 == 0:
                area = area.buffer(options.stop_area_radius_m, quad_segs=8)
            layers.add("stop_areas", area, corridor_id=corridor)


def _edge_sides(geo: _Geo, graph: RoadGraph, layers: _Layers) -> tuple[np.ndarray, np.ndarray]:
    """Return each edge's side (0, 1; 2 crossing the border; -1 leaving both sides) and
    whether an edge crossing the border does so within 1 km of an always-open crossing."""
    side = np.full(len(graph.edge_u), -1, dtype=np.int8)
    always = np.zeros(len(graph.edge_u), dtype=bool)
    open_points = [
        shapely.get_coordinates(g)[0] for g, a in layers.rows["crossings"] if a["hours"] == ALWAYS
    ]
    for edge, coords in enumerate(graph.edge_coords):
        sides = set(geo.side(_sample(coords, 500.0)).tolist())
        if sides in ({0}, {1}):
            side[edge] = sides.pop()
        elif sides == {0, 1}:
            side[edge] = 2
            meeting = shapely.get_coordinates(
                shapely.intersection(shapely.LineString(coords), geo.border)
            )
            always[edge] = bool(len(meeting)) and all(
                any(np.hypot(*(m - p)) <= 1_000 for p in open_points) for m in meeting
            )
    return side, always


# -------------------------------------------------------------------------------- sectors
def _sectors(geo: _Geo, layers: _Layers, options: SyntheticOptions) -> None:
    """Tile a band along the border with sectors, one per stretch of border and side."""
    band = shapely.buffer(geo.border, options.sector_band_m)
    seeds = []
    for part in geo.parts:
        count = max(1, round(part.length / options.sector_length_m))
        seeds += [part.interpolate((k + 0.5) * part.length / count) for k in range(count)]
    if len(seeds) > 1:
        cells = shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=band)
        )
    else:
        cells = np.array([shapely.envelope(band)])
    codes = [_code(name) for name in geo.region.countries]
    for k, seed in enumerate(seeds):
        cell = next(c for c in cells if c.contains(seed))
        for side in (0, 1):
            piece = shapely.intersection(shapely.intersection(cell, band), geo.sides[side])
            polygons = [
                p for p in shapely.get_parts(piece) if p.geom_type == "Polygon" and p.area > 1e6
            ]
            if not polygons:
                continue
            geometry = polygons[0] if len(polygons) == 1 else shapely.multipolygons(polygons)
            country = geo.region.countries[side]
            layers.add(
                "sectors",
                shapely.make_valid(geometry),
                sector_id=f"{codes[side]}-{k + 1:02d}",
                unit=f"{country} border unit {k + 1}",
            )


def _code(country: str) -> str:
    letters = "".join(c for c in country.upper() if "A" <= c <= "Z")
    return letters[:3] or "SEC"


# -------------------------------------------------------------------------------- helpers
def _point_and_normal(line: shapely.LineString, along: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the point `along` a line and the unit normal to its left there."""
    a = shapely.get_coordinates(line.interpolate(max(along - 1_000, 0)))[0]
    b = shapely.get_coordinates(line.interpolate(min(along + 1_000, line.length)))[0]
    tangent = (b - a) / np.hypot(*(b - a))
    centre = shapely.get_coordinates(line.interpolate(along))[0]
    return centre, np.array([-tangent[1], tangent[0]])


def _wiggle(
    a: np.ndarray,
    b: np.ndarray,
    rng: np.random.Generator,
    amplitude: float = 0.04,
    step: float = 4_000,
) -> np.ndarray:
    """Return a gently winding polyline from `a` to `b` (sum of a few sine modes)."""
    length = float(np.hypot(*(b - a)))
    count = max(2, int(np.ceil(length / step)))
    t = np.linspace(0.0, 1.0, count + 1)
    modes = np.arange(1, 4)
    weights = rng.normal(0.0, 1.0, len(modes)) / modes
    offset = (np.sin(np.pi * np.outer(t, modes)) @ weights) * amplitude * length
    offset = np.clip(offset, -6_000, 6_000)
    direction = (b - a) / max(length, 1e-9)
    normal = np.array([-direction[1], direction[0]])
    coords = a + np.outer(t, b - a) + np.outer(offset, normal)
    coords[0], coords[-1] = a, b
    return coords


def _sample(coords: np.ndarray, step: float) -> np.ndarray:
    """Return the polyline's vertices plus points at most `step` apart between them."""
    return shapely.get_coordinates(shapely.segmentize(shapely.LineString(coords), step))


def _length(coords: np.ndarray) -> float:
    return float(np.hypot(*np.diff(coords, axis=0).T).sum())

"""The border line between two countries and the two sides consistent with it.

The border is every Natural Earth 10m boundary line between the two, merged and oriented so
that the first country is on its left. The 50m country polygons are coarser than that line, so
the sides are not the polygons themselves: their union is cut along the line (prolonged at its
dangling ends to the union's edge) and each face goes to the country on its side of the line,
so that the two land sides share exactly the border line. Each side then gets its territorial
sea, split at equal distance from the two coasts.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geoint.errors import RegionError
from geoint.layers.world import country_aliases, name_key, world_boundaries, world_countries

# Kilometres per degree of latitude, for margins given in km (approximate, as documented).
KM_PER_DEGREE = 111.32
# Sea given to each side beyond its coast: the 12 nautical mile territorial sea.
TERRITORIAL_SEA_KM = 22.224
# Offset of the probe points either side of each border segment, in degrees (about 1 cm).
_PROBE = 1e-7
# Precision grid of the border line and the sides, in degrees (about 0.1 mm).
_GRID = 1e-9
# Ends of boundary parts closer than this (degrees, about 1 m) are the same point.
_JOIN = 1e-5
# Holes in the region's area smaller than this (square degrees, about 1 km²) are filled.
_MIN_HOLE = 1e-4
# Share of probe points allowed to land in a face of the other side (tiny segments at nodes).
_MAX_CONFLICT = 0.005


def border_lines(left: str, right: str) -> gpd.GeoDataFrame:
    """Return the merged boundary lines between two countries, `left` on the left of each."""
    lines = world_boundaries()
    names = {c: country_aliases(c) for c in (left, right)}
    lkey, rkey = lines["adm0_left"].map(name_key), lines["adm0_right"].map(name_key)
    forward = lkey.isin(names[left]) & rkey.isin(names[right])
    backward = lkey.isin(names[right]) & rkey.isin(names[left])
    if not (forward | backward).any():
        raise RegionError(
            f"{left} and {right} share no land boundary line in the world data; "
            "expected two neighbouring countries"
        )
    geometry = lines.geometry.to_numpy()
    oriented = np.concatenate(
        [
            shapely.get_parts(geometry[forward.to_numpy()]),
            shapely.get_parts(shapely.reverse(geometry[backward.to_numpy()])),
        ]
    )
    merged = shapely.get_parts(
        shapely.line_merge(shapely.multilinestrings(_snap_ends(oriented)), directed=True)
    )
    merged = shapely.set_precision(merged, _GRID)
    return gpd.GeoDataFrame(
        {"left": left, "right": right}, geometry=merged, crs="EPSG:4326", index=range(len(merged))
    )


def _snap_ends(parts: np.ndarray) -> np.ndarray:
    """Return the parts with ends that nearly meet (float noise in the source) made equal."""
    tips = _tips(parts)
    gaps = np.hypot(*(tips[:, None, :] - tips[None, :, :]).transpose(2, 0, 1))
    snapped = tips[np.argmax(gaps < _JOIN, axis=1)]
    coords, index = shapely.get_coordinates(parts, return_index=True)
    counts = np.bincount(index, minlength=len(parts))
    last = np.cumsum(counts) - 1
    coords[last - counts + 1] = snapped[: len(parts)]
    coords[last] = snapped[len(parts) :]
    return shapely.set_coordinates(parts.copy(), coords)


def derive_sides(
    border: gpd.GeoDataFrame,
    left: str,
    right: str,
    margin_km: float = 150.0,
    sea_km: float = TERRITORIAL_SEA_KM,
) -> gpd.GeoDataFrame:
    """Return each country's side (column ``country``), sharing exactly the border line.

    Land: the union of both 50m polygons (widened where the 10m line strays outside it) is cut
    along the line; faces touching the line go to the country on their side of it (probe
    points left and right of every segment), other faces to the country whose 50m polygon
    covers more of them; faces farther than `margin_km` from the line are dropped. Sea: each
    side also gets the water within `sea_km` of its coast (the territorial sea; it also absorbs
    the coarse 50m coastline, which leaves Lagos 2 km offshore), split where both claim it at
    equal distance from the two coasts. Kilometres become degrees at 111.32 km per degree.
    """
    countries = world_countries()
    polygons = [countries.loc[countries["ADMIN"] == c].geometry.union_all() for c in (left, right)]
    land = _land_sides(border.geometry.to_numpy(), polygons, margin_km)
    others = countries.geometry.to_numpy()[~countries["ADMIN"].isin((left, right)).to_numpy()]
    sides = _with_sea(land, others, sea_km / KM_PER_DEGREE)
    # The land sides must mostly agree with the 50m polygons, or the line runs backwards.
    overlap = shapely.area(shapely.intersection(np.array(land)[:, None], np.array(polygons)))
    if np.trace(overlap) <= overlap[0, 1] + overlap[1, 0]:
        raise RegionError(
            f"the boundary lines between {left} and {right} are not oriented with {left} on "
            "the left; expected Natural Earth's adm0_left/adm0_right convention"
        )
    return gpd.GeoDataFrame({"country": [left, right]}, geometry=sides, crs="EPSG:4326")


def _land_sides(
    parts: np.ndarray, polygons: list[shapely.Geometry], margin_km: float
) -> list[shapely.Geometry]:
    """Return the two countries' land cut along the line, as [left side, right side]."""
    line = shapely.multilinestrings(parts)
    area = _holding(shapely.union(*polygons), line)
    shell = _filled(area)
    holes = shapely.get_parts(shapely.difference(shell, area))
    holes = holes[shapely.area(holes) >= _MIN_HOLE]
    extensions, used = _extensions(parts, line, shell, holes)
    # Snap-rounded noding on a common grid makes the cut robust (an extension meets the
    # edge only to within 1e-16) and keeps the line's own vertices, already on that grid.
    cut = [shell.boundary, *shapely.boundary(holes[used]), line, *extensions]
    faces = shapely.get_parts(
        shapely.polygonize(shapely.get_parts(shapely.union_all(cut, grid_size=_GRID)))
    )
    holes = shapely.union_all(holes)
    faces = faces[~shapely.within(shapely.point_on_surface(faces), holes)]
    voted = _owner_by_probes(faces, parts)
    overlap = np.stack([shapely.area(shapely.intersection(faces, p)) for p in polygons])
    nearer = np.argmin(np.stack([shapely.distance(faces, p) for p in polygons]), axis=0)
    by_area = np.where(overlap.max(axis=0) > 0, np.argmax(overlap, axis=0), nearer)
    owner = np.where(voted >= 0, voted, by_area)
    keep = (voted >= 0) | shapely.dwithin(faces, line, margin_km / KM_PER_DEGREE)
    return [
        _polygonal(
            shapely.difference(
                shapely.union_all(faces[keep & (owner == i)]), holes, grid_size=_GRID
            )
        )
        for i in (0, 1)
    ]


def _holding(land: shapely.Geometry, line: shapely.Geometry) -> shapely.Geometry:
    """Return `land` widened just enough that the whole line lies strictly inside it."""
    outside = shapely.difference(line, land)
    reach = 0.0
    if not outside.is_empty:
        probes = shapely.points(shapely.get_coordinates(shapely.segmentize(outside, 1e-3)))
        reach = float(shapely.distance(probes, land).max())
    # A margin beyond the farthest stray point (and 200 m at least) keeps the line off the edge.
    return shapely.union(land, shapely.buffer(line, 1.5 * reach + 2e-3))


def _with_sea(
    land: list[shapely.Geometry], others: np.ndarray, sea: float
) -> list[shapely.Geometry]:
    """Return the land sides with their sea: water within `sea` degrees of each coast.

    Water within reach of both coasts is split by a Voronoi diagram of points along the two
    coasts (an equidistance line, as for maritime boundaries).
    """
    zones = [shapely.buffer(side, sea) for side in land]
    others = others[shapely.intersects(others, shapely.union(*zones))]
    taken = shapely.union(shapely.union(*land), shapely.union_all(others))
    zones = [shapely.difference(zone, taken) for zone in zones]
    shared = shapely.intersection(*zones)
    if shapely.area(shared) == 0:
        return [
            _polygonal(shapely.union(side, zone, grid_size=_GRID))
            for side, zone in zip(land, zones, strict=True)
        ]
    reach = shapely.buffer(shared, sea)
    coasts = [shapely.difference(land[i].boundary, land[1 - i].boundary) for i in (0, 1)]
    points = [
        np.unique(shapely.get_coordinates(shapely.segmentize(c & reach, sea / 8)), axis=0)
        for c in coasts
    ]
    owner = np.repeat([0, 1], [len(p) for p in points])
    points = np.concatenate(points)
    # A point on both coasts (where the line meets the sea) belongs to neither.
    _, inverse, counts = np.unique(points, axis=0, return_inverse=True, return_counts=True)
    single = counts[inverse.ravel()] == 1
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points[single]), extend_to=reach, ordered=True)
    )
    nearer_left = shapely.intersection(shared, shapely.union_all(cells[owner[single] == 0]))
    claims = [nearer_left, shapely.difference(shared, nearer_left)]
    return [
        _polygonal(
            shapely.union_all([side, shapely.difference(zone, shared), claim], grid_size=_GRID)
        )
        for side, zone, claim in zip(land, zones, claims, strict=True)
    ]


def _polygonal(geometry: shapely.Geometry) -> shapely.Geometry:
    """Return the polygons of an overlay result, without the lines and points that snap
    rounding may leave where slivers collapse."""
    parts = shapely.get_parts(shapely.get_parts(geometry))
    return shapely.union_all(parts[shapely.get_type_id(parts) == 3])


def _filled(area: shapely.Geometry) -> shapely.Geometry:
    """Return `area` with its holes filled.

    The line is cut through the filled area (an end at a hole, such as Andorra between France
    and Spain, would otherwise not separate the sides); the holes are taken out afterwards.
    """
    return shapely.union_all(shapely.polygons(shapely.get_exterior_ring(shapely.get_parts(area))))


def _extensions(
    parts: np.ndarray, line: shapely.Geometry, shell: shapely.Geometry, holes: np.ndarray
) -> tuple[list[shapely.Geometry], np.ndarray]:
    """Return segments from each dangling end of the line to the area's edge, and which holes
    serve as edge.

    Any path from edge to edge cuts the area in two. Each end takes the shortest way to the
    outer edge or to a hole; a hole counts as edge only when at least two ends reach it (the
    line's gap around Andorra), since a hole reached once would not separate the sides. When
    the shortest way would cross the line, the shortest of 36 straight rays that does not is
    taken. The loops run over the few dangling ends and holes only.
    """
    tips = _tips(parts)
    tips = tips[_dangling(tips)]
    edges = np.array([shell.boundary, *shapely.boundary(holes)])
    gaps = shapely.distance(shapely.points(tips)[:, None], edges[None, :])
    used = np.ones(len(holes), dtype=bool)
    while True:
        gaps[:, 1:][:, ~used] = np.inf
        reached = np.bincount(np.argmin(gaps, axis=1), minlength=len(edges))[1:]
        lonely = used & (reached == 1)
        if not lonely.any():
            break
        used &= ~lonely
    used &= reached > 0
    edge = shapely.union_all(edges[np.r_[True, used]])
    segments = []
    for tip, target in zip(tips, edges[np.argmin(gaps, axis=1)], strict=True):
        nearest = shapely.get_coordinates(shapely.shortest_line(shapely.Point(tip), target))[1]
        for exit_point in [nearest, *_ray_exits(tip, edge)]:
            segment = shapely.LineString([tip, exit_point])
            if not _crosses(segment, tip[None, :], line):
                segments.append(segment)
                break
        else:
            raise RegionError(
                f"cannot extend the border line's end at {tip[1]:.5f}N {tip[0]:.5f}E to the edge "
                "of the two countries without crossing the line"
            )
    return segments, used


def _crosses(segment: shapely.Geometry, ends: np.ndarray, line: shapely.Geometry) -> bool:
    """Return whether `segment` meets the line anywhere but at its own `ends` on the line."""
    away = shapely.difference(segment, shapely.buffer(shapely.multipoints(ends), 10 * _PROBE))
    return bool(shapely.intersects(away, line))


def _ray_exits(tip: np.ndarray, boundary: shapely.Geometry) -> list[np.ndarray]:
    """Return where 36 rays from `tip` first meet `boundary`, nearest first."""
    xmin, ymin, xmax, ymax = boundary.bounds
    reach = float(np.hypot(xmax - xmin, ymax - ymin))
    angles = np.radians(np.arange(0, 360, 10))
    ends = tip + reach * np.column_stack([np.cos(angles), np.sin(angles)])
    rays = shapely.linestrings(np.stack([np.broadcast_to(tip, ends.shape), ends], axis=1))
    hits, ray = shapely.get_coordinates(shapely.intersection(rays, boundary), return_index=True)
    order = np.argsort(np.hypot(*(hits - tip).T))
    _, first = np.unique(ray[order], return_index=True)
    return list(hits[order][np.sort(first)])


def _tips(parts: np.ndarray) -> np.ndarray:
    """Return the first points of every part, then the last points, as an (2n, 2) array."""
    return np.concatenate([shapely.get_coordinates(shapely.get_point(parts, i)) for i in (0, -1)])


def _dangling(tips: np.ndarray) -> np.ndarray:
    """Return which tips meet no other tip (within `_JOIN` degrees)."""
    gaps = np.hypot(*(tips[:, None, :] - tips[None, :, :]).transpose(2, 0, 1))
    return (gaps < _JOIN).sum(axis=1) == 1


def _owner_by_probes(faces: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Return 0/1 for faces lying left/right of the line, -1 for faces it does not touch."""
    coords, index = shapely.get_coordinates(parts, return_index=True)
    same = index[1:] == index[:-1]
    start, end = coords[:-1][same], coords[1:][same]
    delta = end - start
    length = np.hypot(delta[:, 0], delta[:, 1])
    usable = length > 100 * _PROBE
    middle = ((start + end) / 2)[usable]
    normal = np.column_stack([-delta[usable, 1], delta[usable, 0]]) / length[usable, None]
    probes = shapely.points(np.concatenate([middle + normal * _PROBE, middle - normal * _PROBE]))
    side = np.repeat([0, 1], len(middle))
    hit_probe, hit_face = shapely.STRtree(faces).query(probes, predicate="within")
    votes = np.zeros((2, len(faces)), dtype=np.int64)
    np.add.at(votes, (side[hit_probe], hit_face), 1)
    conflicts = votes.min(axis=0).sum()
    if conflicts > _MAX_CONFLICT * max(votes.sum(), 1):
        raise RegionError(
            f"the border line does not split the two countries cleanly ({conflicts} of "
            f"{votes.sum()} probes on the wrong side); expected a line from edge to edge"
        )
    return np.where(votes.sum(axis=0) > 0, np.argmax(votes, axis=0), -1)

"""A routable road graph built from road lines in a metric CRS.

Lines are noded where they share an end and where one ends on another (a link road ending on a
highway splits the highway there); crossing lines that merely intersect are not junctions, as
with bridges. Shortest paths use Dijkstra over edge weights chosen by the caller, on any subset
of edges, so one graph serves several road uses (say, everything but tracks).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from shapely.ops import substring

SNAP_M = 0.5  # ends closer than this are one node
# Typical free-flow speed of a car by road class (km/h); vehicles scale it by their own factor.
ROAD_SPEED_KMH = {
    "motorway": 110.0,
    "trunk": 90.0,
    "primary": 75.0,
    "secondary": 60.0,
    "tertiary": 45.0,
    "track": 25.0,
}


@dataclass(frozen=True)
class Paths:
    """Shortest paths from one source node: cost to every node and the edge reaching it."""

    source: int
    cost: np.ndarray
    via: np.ndarray  # edge index reaching each node on its shortest path (-1: source, unreached)


@dataclass
class RoadGraph:
    """Nodes (metric x, y) and edges (polylines from `edge_u` to `edge_v`) with their class."""

    nodes: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_coords: list[np.ndarray]
    edge_length: np.ndarray
    edge_class: np.ndarray

    @classmethod
    def from_lines(
        cls,
        lines: Sequence[shapely.Geometry],
        classes: Sequence[str],
        junctions: np.ndarray | None = None,
    ) -> RoadGraph:
        """Return the graph of metric (multi)line geometries, each with its road class.

        `junctions` (metric x, y rows) are extra points where lines passing through them are
        split, so that they become nodes (places along a road, say).
        """
        parts, owner = shapely.get_parts(np.asarray(lines, dtype=object), return_index=True)
        classes = np.asarray(classes, dtype=object)[owner]
        keep = shapely.length(parts) > SNAP_M
        parts, classes = parts[keep], classes[keep]
        extra = np.empty((0, 2)) if junctions is None else np.asarray(junctions, dtype=float)
        pieces, piece_part = _node(parts, extra.reshape(-1, 2))
        starts, stops = np.array([p[0] for p in pieces]), np.array([p[-1] for p in pieces])
        node_of, nodes = _cluster(np.concatenate([starts, stops]))
        u, v = node_of[: len(pieces)], node_of[len(pieces) :]
        length = np.array([_polyline_length(p) for p in pieces])
        loop = (u == v) & (length < 10 * SNAP_M)
        keep = ~loop
        return cls(
            nodes=nodes,
            edge_u=u[keep],
            edge_v=v[keep],
            edge_coords=[p for p, k in zip(pieces, keep, strict=True) if k],
            edge_length=length[keep],
            edge_class=classes[piece_part][keep],
        )

    @cached_property
    def edge_lines(self) -> np.ndarray:
        """Return the edges as shapely LineStrings (metric)."""
        if not self.edge_coords:
            return np.empty(0, dtype=object)
        sizes = [len(c) for c in self.edge_coords]
        owner = np.repeat(np.arange(len(sizes)), sizes)
        return shapely.linestrings(np.concatenate(self.edge_coords), indices=owner)

    @cached_property
    def edge_speed_ms(self) -> np.ndarray:
        """Return each edge's free-flow speed (of its class) in metres per second."""
        return np.array([ROAD_SPEED_KMH[c] for c in self.edge_class]) / 3.6

    def travel_seconds(self) -> np.ndarray:
        """Return each edge's free-flow travel time in seconds (its weight for routing)."""
        return self.edge_length / self.edge_speed_ms

    def shortest_paths(self, source: int, weight: np.ndarray, allowed: np.ndarray) -> Paths:
        """Return Dijkstra's shortest paths from `source` over the `allowed` edges."""
        adjacency = self._adjacency(allowed)
        cost = np.full(len(self.nodes), np.inf)
        via = np.full(len(self.nodes), -1, dtype=np.int64)
        cost[source] = 0.0
        heap = [(0.0, source)]
        done = np.zeros(len(self.nodes), dtype=bool)
        while heap:
            here, node = heapq.heappop(heap)
            if done[node]:
                continue
            done[node] = True
            for edge, other in adjacency.get(node, ()):
                candidate = here + weight[edge]
                if candidate < cost[other]:
                    cost[other] = candidate
                    via[other] = edge
                    heapq.heappush(heap, (candidate, other))
        return Paths(source, cost, via)

    def path_edges(self, paths: Paths, target: int) -> list[tuple[int, bool]]:
        """Return the (edge, forward) steps from the source of `paths` to `target`."""
        if not np.isfinite(paths.cost[target]):
            raise ValueError(f"node {target} is not reachable from node {paths.source}")
        steps = []
        node = target
        while node != paths.source:
            edge = int(paths.via[node])
            forward = int(self.edge_v[edge]) == node
            steps.append((edge, forward))
            node = int(self.edge_u[edge]) if forward else int(self.edge_v[edge])
        return steps[::-1]

    def polyline(self, steps: Sequence[tuple[int, bool]]) -> tuple[np.ndarray, np.ndarray]:
        """Return the coordinates of consecutive edge steps and the edge of every segment."""
        if not steps:
            return np.empty((0, 2)), np.empty(0, dtype=np.int64)
        coords, edges = [], []
        for edge, forward in steps:
            line = self.edge_coords[edge] if forward else self.edge_coords[edge][::-1]
            edges.append(np.full(len(line) - 1, edge, dtype=np.int64))
            coords.append(line if not coords else line[1:])
        return np.concatenate(coords), np.concatenate(edges)

    def _adjacency(self, allowed: np.ndarray) -> dict[int, list[tuple[int, int]]]:
        adjacency: dict[int, list[tuple[int, int]]] = {}
        for edge in np.flatnonzero(allowed):
            u, v = int(self.edge_u[edge]), int(self.edge_v[edge])
            adjacency.setdefault(u, []).append((int(edge), v))
            adjacency.setdefault(v, []).append((int(edge), u))
        return adjacency


def _node(parts: np.ndarray, junctions: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Split lines where another line's end or a junction lies on their interior.

    Returns the pieces (coordinates) and the part each comes from.
    """
    coords = [shapely.get_coordinates(p) for p in parts]
    ends = np.concatenate([np.array([c[[0, -1]] for c in coords]).reshape(-1, 2), junctions])
    points = shapely.points(ends)
    tree = shapely.STRtree(parts)
    end, line = tree.query(points, predicate="dwithin", distance=SNAP_M)
    along = shapely.line_locate_point(parts[line], points[end])
    length = shapely.length(parts[line])
    inner = (along > SNAP_M) & (along < length - SNAP_M)
    cuts: dict[int, list[tuple[float, np.ndarray]]] = {}
    for i, a, e in zip(line[inner], along[inner], end[inner], strict=True):
        cuts.setdefault(int(i), []).append((float(a), ends[e]))
    pieces, owner = [], []
    for i, part in enumerate(parts):
        if i not in cuts:
            pieces.append(coords[i])
            owner.append(i)
            continue
        marks = sorted(cuts[i], key=lambda c: c[0])
        positions = [0.0]
        points_at = [coords[i][0]]
        for a, xy in marks:
            if a - positions[-1] > SNAP_M:
                positions.append(a)
                points_at.append(xy)
        positions.append(float(part.length))
        points_at.append(coords[i][-1])
        for k in range(len(positions) - 1):
            piece = shapely.get_coordinates(substring(part, positions[k], positions[k + 1]))
            piece[0], piece[-1] = points_at[k], points_at[k + 1]
            pieces.append(piece)
            owner.append(i)
    return pieces, np.array(owner, dtype=np.int64)


def _cluster(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the node of every point (points within SNAP_M are one node) and node coordinates."""
    geometry = shapely.points(points)
    a, b = shapely.STRtree(geometry).query(geometry, predicate="dwithin", distance=SNAP_M)
    label = np.arange(len(points))
    while True:  # propagate the smallest label through each group of near points
        smallest = label.copy()
        np.minimum.at(smallest, a, label[b])
        smallest = smallest[smallest]
        if np.array_equal(smallest, label):
            break
        label = smallest
    roots, node = np.unique(label, return_inverse=True)
    return node.astype(np.int64), points[roots]


def _polyline_length(coords: np.ndarray) -> float:
    return float(np.hypot(*np.diff(coords, axis=0).T).sum())

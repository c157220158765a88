"""A Mapbox vector tile encoder for layers of simple polygons, vectorised with numpy.

`mapbox_vector_tile.encode` walks every coordinate in Python; on the heatmap's tiles it is
about 80 % of a tile's time (`geoint bench api`). Heatmap polygons are H3 cells clipped to a
tile buffer: single polygons without holes. For those this encoder snaps, de-duplicates and
delta-encodes all rings at once and fills the library's own protobuf message, so the bytes are
the library's, byte for byte (tests compare them on real tiles and on random polygons); any
other geometry is left to the library.

Encoding follows the library with ``y_coord_down=True`` and no quantisation: coordinates are
rounded half to even onto the integer grid, a ring's closing point is omitted, a point equal to
the previous one is skipped, a ring left with no segment drops its feature, each feature's
cursor starts at (0, 0), and property keys and values are numbered in order of appearance
(``None`` values are left out; booleans are kept apart from numbers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely
from mapbox_vector_tile.Mapbox import vector_tile_pb2

POLYGON_TYPE = 3  # shapely's type id, and the tile's GeomType.POLYGON
MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7


def encode_polygon_layer(
    name: str,
    polygons: np.ndarray,
    properties: Sequence[Mapping[str, Any]],
    extent: int = 4096,
) -> bytes:
    """One layer of polygons (tile coordinates, y down) with their properties, as MVT bytes."""
    if len(polygons) == 0 or not _simple_polygons(polygons):
        return _library_encode(name, polygons, properties, extent)
    geometries, kept = _ring_commands(polygons)
    tile = vector_tile_pb2.tile()
    layer = tile.layers.add()
    layer.name, layer.version, layer.extent = name, 2, extent
    keys: dict[str, int] = {}
    values: dict[Any, int] = {}
    flags: dict[bool, int] = {}  # booleans apart: True == 1 for a dict
    for commands, row in zip(geometries, (properties[i] for i in kept), strict=True):
        feature = layer.features.add()
        tags = []
        for key, value in row.items():
            if not isinstance(key, str) or not isinstance(value, (str, bool, int, float)):
                continue
            if key not in keys:
                keys[key] = len(keys)
                layer.keys.append(key)
            numbered = flags if isinstance(value, bool) else values
            if value not in numbered:
                numbered[value] = len(values) + len(flags)
                _add_value(layer, value)
            tags += (keys[key], numbered[value])
        feature.tags.extend(tags)
        feature.type = POLYGON_TYPE
        feature.geometry.extend(commands)
    return tile.SerializeToString()


def _simple_polygons(polygons: np.ndarray) -> bool:
    """True when every geometry is a non-empty polygon without holes."""
    types = shapely.get_type_id(polygons)
    return bool(
        (types == POLYGON_TYPE).all()
        and (shapely.get_num_interior_rings(polygons) == 0).all()
        and not shapely.is_empty(polygons).any()
    )


def _ring_commands(polygons: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """Per kept polygon its command integers, and the indices of the polygons kept."""
    coords, owner = shapely.get_coordinates(polygons, return_index=True)
    grid = np.rint(coords).astype(np.int64)
    closing = np.r_[owner[1:] != owner[:-1], True]  # each ring's repeated first point
    first = np.r_[True, owner[1:] != owner[:-1]]
    grid, owner, first = grid[~closing], owner[~closing], first[~closing]
    step = np.diff(grid, axis=0, prepend=0)
    kept = first | (step != 0).any(axis=1)  # a ring's first point always; others if moved
    grid, owner, first = grid[kept], owner[kept], first[kept]
    delta = np.diff(grid, axis=0, prepend=0)
    delta[first] = grid[first]  # each feature's cursor starts at (0, 0)
    zigzag = (delta << 1) ^ (delta >> 63)
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(grid)]
    segments = ends - starts - 1
    good = segments > 0
    pairs = zigzag.ravel().tolist()
    geometries = [
        [
            (1 << 3) | MOVE_TO,
            *pairs[2 * start : 2 * start + 2],
            (count << 3) | LINE_TO,
            *pairs[2 * start + 2 : 2 * end],
            (1 << 3) | CLOSE_PATH,
        ]
        for start, end, count in zip(
            starts[good].tolist(), ends[good].tolist(), segments[good].tolist(), strict=True
        )
    ]
    return geometries, owner[starts[good]]


def _add_value(layer: Any, value: str | bool | int | float) -> None:
    entry = layer.values.add()
    if isinstance(value, bool):
        entry.bool_value = value
    elif isinstance(value, str):
        entry.string_value = value
    elif isinstance(value, int):
        entry.int_value = value
    else:
        entry.double_value = value


def _library_encode(
    name: str, polygons: np.ndarray, properties: Sequence[Mapping[str, Any]], extent: int
) -> bytes:
    features = [
        {"geometry": geometry, "properties": dict(row)}
        for geometry, row in zip(polygons, properties, strict=True)
    ]
    options = {"y_coord_down": True, "extents": extent, "check_winding_order": False}
    layer = {"name": name, "features": features}
    return mapbox_vector_tile.encode([layer], default_options=options)

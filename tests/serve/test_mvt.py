"""The numpy vector-tile encoder gives the bytes of `mapbox_vector_tile.encode`."""

import h3
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geoint.serve.mvt import encode_polygon_layer

OPTIONS = {"y_coord_down": True, "extents": 4096, "check_winding_order": False}


def library(name, polygons, rows):
    features = [{"geometry": g, "properties": dict(r)} for g, r in zip(polygons, rows, strict=True)]
    return mapbox_vector_tile.encode(
        [{"name": name, "features": features}], default_options=OPTIONS
    )


def hexagons_in_tile(scale: float, offset: float, count: int) -> np.ndarray:
    """H3 cells around (0.5°E, 0.5°N) drawn in tile units, clipped and oriented like a tile."""
    cells = list(h3.grid_disk(h3.latlng_to_cell(0.5, 0.5, 7), 12))[:count]
    rings = [[(lng, lat) for lat, lng in h3.cell_to_boundary(c)] for c in cells]
    polygons = shapely.polygons(
        [[((x - 0.5) * scale + offset, (0.5 - y) * scale + offset) for x, y in r] for r in rings]
    )
    clipped = shapely.orient_polygons(shapely.clip_by_rect(polygons, -64, -64, 4160, 4160))
    return clipped[~shapely.is_empty(clipped)]


@pytest.mark.parametrize("scale", [20_000.0, 2_000.0, 50.0, 3.0])
def test_h3_tiles_are_byte_identical(scale):
    polygons = hexagons_in_tile(scale, 2048, 400)
    rng = np.random.default_rng(1)
    rows = [
        {
            "cell": f"88{i:013x}",
            "value": float(rng.choice([0.5, 1.0, 2.25, rng.normal()])),
            "count": int(rng.integers(0, 3)),
            "flag": bool(rng.integers(0, 2)),
            "note": None if i % 3 else "Séme <b>",
            "one": 1,
        }
        for i in range(len(polygons))
    ]
    assert encode_polygon_layer("risk", polygons, rows) == library("risk", polygons, rows)


def test_features_that_round_to_a_point_are_dropped_like_the_library():
    polygons = hexagons_in_tile(0.4, 100.3, 30)  # each hexagon well under one tile unit
    rows = [{"value": float(i)} for i in range(len(polygons))]
    ours = encode_polygon_layer("risk", polygons, rows)
    assert ours == library("risk", polygons, rows)
    assert len(mapbox_vector_tile.decode(ours)["risk"]["features"]) < len(polygons)


def test_other_geometries_are_left_to_the_library():
    square = shapely.box(0, 0, 100, 100)
    holed = square.difference(shapely.box(40, 40, 60, 60))
    multi = shapely.MultiPolygon([shapely.box(0, 0, 10, 10), shapely.box(20, 20, 30, 30)])
    polygons = np.array([square, holed, multi], dtype=object)
    rows = [{"value": 1.0}, {"value": 2.0}, {"value": 3.0}]
    assert encode_polygon_layer("risk", polygons, rows) == library("risk", polygons, rows)


coordinate = st.floats(-200, 4300, allow_nan=False)
values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False),
    st.sampled_from([0, 1, 1.0, True, "a", ""]), st.text(max_size=5),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=8),
            st.dictionaries(st.sampled_from(["a", "b", "value", "é"]), values, max_size=4),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_random_polygons_are_byte_identical(features):
    shapes, rows = [], []
    for points, row in features:
        hull = shapely.convex_hull(shapely.multipoints(points))
        if isinstance(hull, shapely.Polygon) and not hull.is_empty:
            shapes.append(shapely.orient_polygons(hull))
            rows.append(row)
    polygons = np.array(shapes, dtype=object)
    assert encode_polygon_layer("layer", polygons, rows) == library("layer", polygons, rows)

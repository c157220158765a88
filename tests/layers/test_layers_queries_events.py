"""RegionIndex queries used by the event detectors, against slow per-item shapely references."""

import numpy as np
import pyproj
import pytest
import shapely
from support.toy_region import CORRIDOR, STOP_AREA_POINT

from geoint.layers import Region, RegionIndex, shipped_region_path

N = 300


@pytest.fixture(scope="module")
def shipped() -> RegionIndex:
    return RegionIndex(Region.load(shipped_region_path()))


def _transformers(region: Region):
    forward = pyproj.Transformer.from_crs("EPSG:4326", region.crs, always_xy=True)
    back = pyproj.Transformer.from_crs(region.crs, "EPSG:4326", always_xy=True)
    return forward, back


def _metric_layer(region: Region, kind: str):
    return region.read(kind).to_crs(region.crs)


def test_border_intersection_is_the_first_meeting_along_each_segment(shipped):
    # Segments of 5-40 km around points of the real (winding) border: many meet it several times.
    region = shipped.region
    forward, back = _transformers(region)
    border = shapely.union_all(_metric_layer(region, "border").geometry.to_numpy())
    rng = np.random.default_rng(11)
    vertices = shapely.get_coordinates(border)
    centre = vertices[rng.integers(0, len(vertices), N)] + rng.normal(0, 3_000, (N, 2))
    half = rng.uniform(2_500, 20_000, N)[:, None] * _unit(rng.uniform(0, 2 * np.pi, N))
    x1, y1 = (centre - half).T
    x2, y2 = (centre + half).T
    lon1, lat1 = back.transform(x1, y1)
    lon2, lat2 = back.transform(x2, y2)

    lat, lon, fraction = shipped.border_intersection(lat1, lon1, lat2, lon2)

    expected = []
    for a, b in zip(np.column_stack([x1, y1]), np.column_stack([x2, y2]), strict=True):
        segment = shapely.LineString([a, b])
        meeting = shapely.get_coordinates(segment.intersection(border))
        along = [segment.project(shapely.Point(p), normalized=True) for p in meeting]
        expected.append(min(along) if along else np.nan)
    expected = np.array(expected)
    assert np.isnan(expected).any() and (~np.isnan(expected)).sum() > N / 2
    np.testing.assert_allclose(fraction, expected, atol=1e-9)
    assert (np.isnan(lat) == np.isnan(expected)).all()
    hit = ~np.isnan(expected)
    px, py = forward.transform(lon[hit], lat[hit])
    np.testing.assert_allclose(px, x1[hit] + expected[hit] * (x2 - x1)[hit], atol=0.01)
    np.testing.assert_allclose(py, y1[hit] + expected[hit] * (y2 - y1)[hit], atol=0.01)


def _unit(angle: np.ndarray) -> np.ndarray:
    return np.column_stack([np.cos(angle), np.sin(angle)])


def test_border_intersection_of_no_segments_and_without_a_border(tmp_path, shipped):
    empty = np.zeros(0)
    assert all(len(a) == 0 for a in shipped.border_intersection(empty, empty, empty, empty))
    region = Region.create(
        tmp_path / "bare", name="b", timezone="UTC", crs="EPSG:32631", countries=("A", "B")
    )
    one = np.array([7.0])
    lat, lon, fraction = RegionIndex(region).border_intersection(one, one, one + 1, one + 1)
    assert np.isnan([lat[0], lon[0], fraction[0]]).all()


def test_crossings_within_lists_every_crossing_in_range(toy_index):
    region = toy_index.region
    forward, _ = _transformers(region)
    crossings = _metric_layer(region, "crossings").geometry.to_numpy()
    rng = np.random.default_rng(5)
    lat, lon = rng.uniform(6.9, 8.1, N), rng.uniform(2.9, 3.1, N)
    x, y = forward.transform(lon, lat)
    expected = sorted(
        (i, j, p.distance(c))
        for i, p in enumerate(shapely.points(x, y))
        for j, c in enumerate(crossings)
        if p.distance(c) <= 8_000
    )
    point, crossing, metres = toy_index.crossings_within(lat, lon, 8_000)
    assert len(expected) > 10
    assert list(zip(point, crossing, strict=True)) == [(i, j) for i, j, _ in expected]
    np.testing.assert_allclose(metres, [m for _, _, m in expected], atol=0.01)
    assert np.all(np.diff(point) >= 0)


def test_distance_to_corridor_measures_to_the_points_own_corridor(toy_index):
    region = toy_index.region
    forward, _ = _transformers(region)
    line = shapely.union_all(_metric_layer(region, "corridors").geometry.to_numpy())
    rng = np.random.default_rng(6)
    lat, lon = rng.uniform(6.9, 7.1, N), rng.uniform(2.0, 4.0, N)
    ids = rng.choice(np.array([CORRIDOR, "other", None], dtype=object), N)
    x, y = forward.transform(lon, lat)
    expected = np.array(
        [
            p.distance(line) if c == CORRIDOR else np.inf
            for p, c in zip(shapely.points(x, y), ids, strict=True)
        ]
    )
    np.testing.assert_allclose(toy_index.distance_to_corridor_m(lat, lon, ids), expected, atol=0.01)


def test_in_stop_area_holds_a_1_km_disc_and_polygons_of_the_points_corridor(toy_index):
    region = toy_index.region
    forward, _ = _transformers(region)
    stops = _metric_layer(region, "stop_areas")
    disc = stops.geometry[stops.geom_type == "Point"].iloc[0]
    polygon = stops.geometry[stops.geom_type != "Point"].iloc[0]
    rng = np.random.default_rng(7)
    lat = rng.uniform(6.98, 7.02, N)
    lon = np.concatenate([rng.uniform(3.48, 3.52, N // 2), rng.uniform(3.67, 3.73, N - N // 2)])
    ids = rng.choice(np.array([CORRIDOR, CORRIDOR, "other"], dtype=object), N)
    points = shapely.points(*forward.transform(lon, lat))
    to_disc = shapely.distance(points, disc)
    expected = (ids == CORRIDOR) & ((to_disc <= 1_000) | shapely.intersects(points, polygon))
    clear = np.abs(to_disc - 1_000) > 1
    got = toy_index.in_stop_area(lat, lon, ids)
    assert 30 < expected.sum() < N - 30
    assert (got[clear] == expected[clear]).all()
    assert toy_index.in_stop_area(
        np.array([STOP_AREA_POINT[0]]), np.array([STOP_AREA_POINT[1]]), np.array([CORRIDOR])
    ).tolist() == [True]


def test_transit_queries_without_corridor_layers(shipped):
    lat, lon, ids = np.array([7.0, 8.0]), np.array([2.7, 2.8]), np.array(["C1", None])
    assert np.isinf(shipped.distance_to_corridor_m(lat, lon, ids)).all()
    assert not shipped.in_stop_area(lat, lon, ids).any()
    with pytest.raises(ValueError, match="differ in length"):
        shipped.in_stop_area(lat, lon, ids[:1])

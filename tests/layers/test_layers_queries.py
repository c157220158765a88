"""RegionIndex queries against a slow per-point shapely reference, on the shipped region."""

import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import polars as pl
import pyproj
import pytest
import rasterio
import shapely

from geoint.h3index import latlng_to_cells
from geoint.layers import Region, RegionIndex, shipped_region_path

N = 300


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Region:
    """The shipped region plus hand-made crossings, places and sectors."""
    folder = tmp_path_factory.mktemp("layers") / "bn"
    shutil.copytree(shipped_region_path(), folder)
    region = Region.load(folder)
    made = folder.parent
    crossings = gpd.GeoDataFrame(
        {"name": ["Seme", "Igolo", "Nikki"], "hours": ["24h", "06:00-22:00", "22:00-06:00"]},
        geometry=gpd.points_from_xy([2.7035, 2.78, 3.20], [6.3794, 7.05, 9.90]),
        crs="EPSG:4326",
    )
    crossings.to_file(made / "crossings.geojson")
    region.add_layer("crossings", made / "crossings.geojson")
    places = gpd.GeoDataFrame(
        {"name": ["market", "depot"], "kind": ["market", "depot"]},
        geometry=[shapely.Point(2.9, 7.5), shapely.box(2.5, 8.5, 2.7, 8.7)],
        crs="EPSG:4326",
    )
    places.to_file(made / "places.geojson")
    region.add_layer("places", made / "places.geojson")
    sectors = gpd.GeoDataFrame(
        {"sector_id": ["S1", "S2"], "unit": ["Seme post", "Ketou post"]},
        geometry=[shapely.box(2.0, 6.0, 3.5, 7.0), shapely.box(2.0, 7.0, 3.5, 8.0)],
        crs="EPSG:4326",
    )
    sectors.to_file(made / "sectors.gpkg")
    region.add_layer("sectors", made / "sectors.gpkg")
    return region


@pytest.fixture(scope="module")
def index(region) -> RegionIndex:
    return RegionIndex(region)


@pytest.fixture(scope="module")
def points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(8)
    return rng.uniform(6.0, 12.0, N), rng.uniform(1.5, 4.8, N)


def _metric_reference(region: Region, kind: str):
    """The layer's geometries as one shapely geometry in the region's metric CRS (slow path)."""
    return shapely.union_all(region.read(kind).to_crs(region.crs).geometry.to_numpy())


def _metric_points(region: Region, lat, lon) -> list[shapely.Point]:
    x, y = pyproj.Transformer.from_crs("EPSG:4326", region.crs, always_xy=True).transform(lon, lat)
    return [shapely.Point(a, b) for a, b in zip(x, y, strict=True)]


@pytest.mark.parametrize(
    ("method", "kind"), [("distance_to_border_m", "border"), ("distance_to_road_m", "roads")]
)
def test_line_distances_equal_the_per_point_reference(index, region, points, method, kind):
    lat, lon = points
    target = _metric_reference(region, kind)
    expected = np.array([p.distance(target) for p in _metric_points(region, lat, lon)])
    np.testing.assert_allclose(getattr(index, method)(lat, lon), expected, atol=1.0)


def test_max_distance_variant_agrees_within_range_and_is_inf_beyond(index, points):
    lat, lon = points
    full = index.distance_to_border_m(lat, lon)
    capped = index.distance_to_border_m(lat, lon, max_distance_m=20_000)
    near = full <= 20_000
    assert near.any() and (~near).any()
    np.testing.assert_allclose(capped[near], full[near])
    assert np.isinf(capped[~near]).all()


def test_nearest_crossing_equals_the_reference(index, region, points):
    lat, lon = points
    crossings = region.read("crossings").to_crs(region.crs).geometry.to_numpy()
    reference = np.array(
        [[p.distance(c) for c in crossings] for p in _metric_points(region, lat, lon)]
    )
    distance, nearest = index.nearest_crossing(lat, lon)
    np.testing.assert_allclose(distance, reference.min(axis=1), atol=1.0)
    assert (nearest == reference.argmin(axis=1)).all()


def test_place_distance_counts_a_point_place_as_a_2_km_disc(index, region, points):
    lat, lon = points
    places = region.read("places").to_crs(region.crs)
    shapes = [
        g.buffer(2_000, quad_segs=256) if g.geom_type == "Point" else g for g in places.geometry
    ]
    expected = np.array(
        [min(p.distance(s) for s in shapes) for p in _metric_points(region, lat, lon)]
    )
    np.testing.assert_allclose(index.distance_to_place_m(lat, lon), expected, atol=1.0)
    inside = index.distance_to_place_m(np.array([7.5005, 8.6]), np.array([2.9, 2.6]))
    assert inside.tolist() == [0.0, 0.0]


def test_side_equals_the_per_point_reference(index, region, points):
    lat, lon = points
    sides = region.read("sides").set_index("country").geometry
    expected = [
        0 if sides["Benin"].contains(p) else 1 if sides["Nigeria"].contains(p) else -1
        for p in map(shapely.Point, lon, lat)
    ]
    side = index.side(lat, lon)
    assert side.dtype == np.int8
    assert side.tolist() == expected
    assert {0, 1, -1} <= set(expected)  # the sample reaches Benin, Nigeria and Niger or Togo


def test_sector_lookup(index):
    sector = index.sector(np.array([6.5, 7.5, 9.0]), np.array([2.5, 3.0, 3.0]))
    assert sector.tolist() == ["S1", "S2", None]


def test_elevation_and_slope_sample_the_dem(index, region, points):
    lat, lon = points
    with rasterio.open(region.raster_path()) as dem:
        expected = np.array([v[0] for v in dem.sample(zip(lon, lat, strict=True))], dtype=float)
        expected[expected == dem.nodata] = np.nan
    np.testing.assert_array_equal(index.elevation_m(lat, lon), expected)
    slope = index.slope_deg(lat, lon)
    assert np.nanmax(slope) < 10 and np.nanmin(slope) >= 0  # coastal plain and low plateau
    assert np.isnan(index.elevation_m(np.array([40.0]), np.array([2.0])))[0]


def test_slope_of_a_known_plane(tmp_path):
    # 1 m rise per 100 m eastwards on a 100 m grid in UTM: slope atan(0.01).
    region = Region.create(
        tmp_path / "plane", name="p", timezone="UTC", crs="EPSG:32631", countries=("A", "B")
    )
    z = np.tile(np.arange(20, dtype=np.float32), (20, 1))
    transform = rasterio.Affine(100, 0, 500_000, 0, -100, 800_000)
    profile = {"driver": "GTiff", "width": 20, "height": 20, "count": 1, "dtype": "float32",
               "crs": "EPSG:32631", "transform": transform}  # fmt: skip
    with rasterio.open(tmp_path / "plane.tif", "w", **profile) as dst:
        dst.write(z, 1)
    region.add_layer("elevation", tmp_path / "plane.tif")
    to_lonlat = pyproj.Transformer.from_crs("EPSG:32631", "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(np.array([500_950.0]), np.array([799_050.0]))
    index = RegionIndex(region)
    assert index.slope_deg(lat, lon)[0] == pytest.approx(np.degrees(np.arctan(0.01)))
    assert index.elevation_m(lat, lon)[0] == 9.0


def test_crossing_open_in_local_time(index):
    # Igolo "06:00-22:00" and Nikki "22:00-06:00"; Lagos is UTC+1 all year.
    utc = np.array(["2024-05-01T04:59", "2024-05-01T05:00", "2024-05-01T20:59", "2024-05-01T21:00"],
                   dtype="datetime64[ns]")  # fmt: skip
    assert index.crossing_open(np.full(4, 1), utc).tolist() == [False, True, True, False]
    assert index.crossing_open(np.full(4, 2), utc).tolist() == [True, False, False, True]
    assert index.crossing_open(np.array([0, -1, 0, -1]), utc).tolist() == [True, False, True, False]


def test_cell_context_has_one_row_per_cell(index):
    lat, lon = np.array([6.3794, 6.37, 6.45, 9.0]), np.array([2.7035, 2.43, 3.40, 3.0])
    cells = latlng_to_cells(lat, lon, 8)
    context = index.cell_context(cells)
    assert context.columns == [
        "cell", "lat", "lon", "side", "side_country", "distance_to_border_m",
        "distance_to_road_m", "distance_to_crossing_m", "nearest_crossing",
        "distance_to_place_m", "sector_id", "elevation_m", "slope_deg",
    ]  # fmt: skip
    assert context["side_country"].to_list() == ["Benin", "Benin", "Nigeria", "Nigeria"]
    assert context["cell"].dtype == pl.UInt64 and context["side"].dtype == pl.Int8
    assert context["cell"].to_numpy().tolist() == cells.tolist()
    assert context["side"].to_list() == [0, 0, 1, 1]
    assert context["sector_id"].to_list() == ["S1", "S1", "S1", None]
    # The centre of the Seme cell is within a res-8 cell size of the point itself.
    assert np.abs(context["lat"].to_numpy() - lat).max() < 0.01
    assert context["distance_to_crossing_m"][0] < 1_000


def test_empty_layers_give_inf_and_none(tmp_path):
    region = Region.create(
        tmp_path / "empty", name="e", timezone="UTC", crs="EPSG:32631", countries=("A", "B")
    )
    index = RegionIndex(region)
    lat, lon = np.array([7.0, 8.0]), np.array([2.5, 3.0])
    assert np.isinf(index.distance_to_road_m(lat, lon)).all()
    distance, nearest = index.nearest_crossing(lat, lon)
    assert np.isinf(distance).all() and (nearest == -1).all()
    assert index.side(lat, lon).tolist() == [-1, -1]
    assert index.sector(lat, lon).tolist() == [None, None]
    assert not index.crossing_open(np.array([-1, 0]), pd.to_datetime(["2024-01-01"] * 2)).any()


def test_place_distance_within_zero_metres_for_polygon_places(tmp_path):
    """`max_distance_m=0` asks "inside a place?": 0 inside a polygon place, inf outside."""
    region = Region.create(
        tmp_path / "p", name="p", timezone="UTC", crs="EPSG:32631", countries=("A", "B")
    )
    town = shapely.box(2.50, 7.00, 2.52, 7.02)
    region.add_frame("places", gpd.GeoDataFrame({"name": ["T"]}, geometry=[town], crs=4326))
    index = RegionIndex(region)
    lat, lon = np.array([7.01, 7.05]), np.array([2.51, 2.51])
    assert index.distance_to_place_m(lat, lon, max_distance_m=0.0).tolist() == [0.0, np.inf]
    assert index.distance_to_place_m(lat, lon)[1] > 3_000


def test_lat_lon_length_mismatch_is_refused(index):
    with pytest.raises(ValueError, match="differ in length"):
        index.side(np.zeros(2), np.zeros(3))

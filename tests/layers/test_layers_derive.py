"""Regions derived from the bundled world data: the border, sides consistent with it, places."""

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

# Real public reference data outside the repository (../shared/data, see its README).
from support.paths import SHARED_DATA

from geoint.errors import RegionError
from geoint.layers import Region, RegionIndex, build_sample_region, init_region, shipped_region_path
from geoint.layers.world import (
    world_boundaries,
    world_countries,
    world_elevation_path,
    world_places,
)

SEME = (6.3794, 2.7035)
COTONOU = (6.37, 2.43)
LAGOS = (6.45, 3.40)


@pytest.fixture(scope="module")
def shipped() -> Region:
    return Region.load(shipped_region_path())


@pytest.fixture(scope="module")
def index(shipped) -> RegionIndex:
    return RegionIndex(shipped)


def _metric(geometry: np.ndarray, crs: str) -> np.ndarray:
    project = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform
    return shapely.transform(geometry, lambda xy: np.column_stack(project(xy[:, 0], xy[:, 1])))


def test_world_data_is_bundled():
    assert {"adm0_left", "adm0_right"} <= set(world_boundaries().columns)
    assert len(world_boundaries()) == 462 and len(world_countries()) == 241
    assert {"name", "pop_max", "adm0name"} <= set(world_places().columns)
    assert world_elevation_path().is_file()


def test_shipped_manifest(shipped):
    assert shipped.countries == ("Benin", "Nigeria")
    assert shipped.crs == "EPSG:32631"
    assert shipped.timezone in {"Africa/Lagos", "Africa/Porto-Novo"}
    assert set(shipped.layers) == {"border", "sides", "places", "elevation", "rivers", "roads"}


def test_border_is_735_km_long(shipped):
    border = _metric(shipped.read("border").geometry.to_numpy(), shipped.crs)
    assert shapely.length(border).sum() / 1000 == pytest.approx(735, abs=5)
    assert (shipped.read("border")[["left", "right"]].to_numpy() == ["Benin", "Nigeria"]).all()


def test_border_matches_the_reference_extract(shipped):
    reference = SHARED_DATA / "benin-nigeria" / "border_line.geojson"
    if not reference.is_file():
        pytest.skip("../shared/data is not available")
    expected = shapely.union_all(gpd.read_file(reference).geometry.to_numpy())
    ours = shapely.union_all(shipped.read("border").geometry.to_numpy())
    assert shapely.hausdorff_distance(ours, expected) < 1e-6


def test_seme_crossing_lies_on_the_border(index):
    assert index.distance_to_border_m(np.array([SEME[0]]), np.array([SEME[1]]))[0] < 1000


def test_cotonou_is_in_benin_and_lagos_in_nigeria(index):
    lat, lon = np.array([COTONOU[0], LAGOS[0]]), np.array([COTONOU[1], LAGOS[1]])
    assert index.side(lat, lon).tolist() == [0, 1]


def test_points_100_m_either_side_of_the_line_are_on_opposite_sides(shipped, index):
    line = _metric(shapely.get_parts(shipped.read("border").geometry.to_numpy()), shipped.crs)[0]
    coords = shapely.get_coordinates(line)
    start, end = coords[:-1], coords[1:]
    delta = end - start
    length = np.hypot(*delta.T)
    chosen = np.flatnonzero(length > 400)[:: max(1, int(np.sum(length > 400) // 40))]
    middle = (start[chosen] + end[chosen]) / 2
    normal = np.column_stack([-delta[chosen, 1], delta[chosen, 0]]) / length[chosen, None]
    to_lonlat = pyproj.Transformer.from_crs(shipped.crs, "EPSG:4326", always_xy=True)
    left_lon, left_lat = to_lonlat.transform(*(middle + 100 * normal).T)
    right_lon, right_lat = to_lonlat.transform(*(middle - 100 * normal).T)
    assert len(chosen) >= 20
    assert (index.side(left_lat, left_lon) == 0).all()  # Benin is left of the line
    assert (index.side(right_lat, right_lon) == 1).all()


def test_sides_share_exactly_the_border_line(shipped):
    sides = shipped.read("sides").set_index("country").geometry
    shared = shapely.intersection(sides["Benin"].boundary, sides["Nigeria"].boundary)
    line = shapely.union_all(shipped.read("border").geometry.to_numpy())
    assert shapely.length(shapely.difference(line, shared)) == 0
    assert shapely.area(shapely.intersection(sides["Benin"], sides["Nigeria"])) == 0


def test_places_are_towns_of_both_countries_near_the_line(shipped):
    places = shipped.read("places")
    assert {"Cotonou", "Porto-Novo", "Lagos", "Abeokuta"} <= set(places["name"])
    assert set(places["country"]) == {"Benin", "Nigeria"}
    assert (places["kind"] == "town").all() and (places["population"] > 0).all()


def test_build_sample_region_reproduces_the_shipped_one(tmp_path, shipped):
    rebuilt = build_sample_region(tmp_path / "bn")
    assert rebuilt.layers == shipped.layers
    for kind in ("border", "sides", "places", "rivers", "roads"):
        ours, theirs = rebuilt.read(kind), shipped.read(kind)
        assert shapely.equals(ours.geometry.to_numpy(), theirs.geometry.to_numpy()).all(), kind
    assert (rebuilt.read("roads")["class"] == "trunk").all()
    assert (rebuilt.path / "elevation.tif").read_bytes() == (
        shipped.path / "elevation.tif"
    ).read_bytes()


def test_second_pair_with_an_enclave_gap(tmp_path):
    region = init_region(tmp_path / "fr-es", ("France", "Spain"))
    assert region.countries == ("France", "Spain")
    assert region.crs == "EPSG:32631" and region.timezone in {"Europe/Paris", "Europe/Madrid"}
    index = RegionIndex(region)
    # Perpignan, Bayonne, Pamplona, Barcelona; Andorra la Vella lies in neither.
    lat = np.array([42.70, 43.49, 42.81, 41.39, 42.507])
    lon = np.array([2.89, -1.47, -1.64, 2.17, 1.521])
    assert index.side(lat, lon).tolist() == [0, 0, 1, 1, -1]
    border_km = shapely.length(_metric(region.read("border").geometry.to_numpy(), region.crs))
    assert border_km.sum() / 1000 == pytest.approx(568, abs=5)  # Natural Earth 10m, sans Andorra


def test_country_names_are_matched_forgivingly(tmp_path):
    region = init_region(tmp_path / "ke-tz", "kenya, TZA", timezone="Africa/Nairobi")
    assert region.countries == ("Kenya", "United Republic of Tanzania")
    assert region.timezone == "Africa/Nairobi"
    index = RegionIndex(region)
    # Nairobi, Arusha
    assert index.side(np.array([-1.29, -3.37]), np.array([36.82, 36.68])).tolist() == [0, 1]


def test_unknown_country_lists_close_matches(tmp_path):
    with pytest.raises(RegionError, match=r"unknown country 'Nigerai'; did you mean .*Nigeria"):
        init_region(tmp_path / "x", ("Benin", "Nigerai"))
    assert not (tmp_path / "x").exists()


def test_a_pair_of_two_different_countries_is_required(tmp_path):
    with pytest.raises(RegionError, match="expected two"):
        init_region(tmp_path / "x", "Benin")
    with pytest.raises(RegionError, match="are the same country"):
        init_region(tmp_path / "x", ("Nigeria", "NGA"))


def test_countries_without_a_common_border_are_refused(tmp_path):
    with pytest.raises(RegionError, match="Benin and France share no land boundary line"):
        init_region(tmp_path / "x", ("Benin", "France"))

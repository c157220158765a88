"""Region manifests and adding layers: validation, reprojection, replace versus append."""

import shutil
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
import tomli_w

from geoint.errors import RegionError
from geoint.layers import Region, get_kind, kind_names, shipped_region_path


@pytest.fixture
def region(tmp_path: Path) -> Region:
    """An empty region with a manifest only."""
    return Region.create(
        tmp_path / "region",
        name="test",
        timezone="Africa/Lagos",
        crs="EPSG:32631",
        countries=("Benin", "Nigeria"),
    )


def _write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    frame.to_file(path)
    return path


def _crossings(**columns) -> gpd.GeoDataFrame:
    data = {"name": ["Seme", "Igolo"], "hours": ["24h", "06:00-22:00"]} | columns
    points = [shapely.Point(2.7035, 6.3794), shapely.Point(2.7800, 7.0500)]
    return gpd.GeoDataFrame(data, geometry=points, crs="EPSG:4326")


def test_manifest_round_trip(tmp_path):
    created = Region.create(
        tmp_path / "r",
        name="demo",
        timezone="Europe/Madrid",
        crs="EPSG:32630",
        countries=("France", "Spain"),
        bbox=(-2.0, 42.0, 3.0, 44.0),
    )
    created.add_layer("roads", _write(_roads(), tmp_path / "roads.geojson"))
    loaded = Region.load(tmp_path / "r")
    assert loaded == created
    assert Region.load(tmp_path / "r" / "region.toml") == created
    assert loaded.layers == {"roads": ["roads.geojson"]}


def _roads(road_class: str = "trunk") -> gpd.GeoDataFrame:
    lines = [shapely.LineString([(2.5, 6.5), (2.9, 6.6)]), shapely.LineString([(2.6, 7), (2.8, 8)])]
    return gpd.GeoDataFrame({"class": [road_class, "track"]}, geometry=lines, crs="EPSG:4326")


def test_reprojected_on_add(region, tmp_path):
    source = _write(_crossings().to_crs("EPSG:32631"), tmp_path / "crossings.gpkg")
    stored = region.add_layer("crossings", source)
    assert stored.suffix == ".geojson"
    back = region.read("crossings")
    assert back.crs.to_epsg() == 4326
    np.testing.assert_allclose(back.geometry.x, [2.7035, 2.78], atol=1e-9)
    np.testing.assert_allclose(back.geometry.y, [6.3794, 7.05], atol=1e-9)
    assert back["hours"].tolist() == ["24h", "06:00-22:00"]


def test_csv_points_with_lat_lon_are_accepted(region, tmp_path):
    path = tmp_path / "crossings.csv"
    pd.DataFrame(
        {"name": ["Seme"], "hours": ["24h"], "Latitude": [6.3794], "lon": [2.7035]}
    ).to_csv(path, index=False)
    region.add_layer("crossings", path)
    back = region.read("crossings")
    assert (back.geometry.x[0], back.geometry.y[0]) == pytest.approx((2.7035, 6.3794))


def test_parquet_with_geometry_or_with_lat_lon_columns(region, tmp_path):
    _crossings().to_crs("EPSG:32631").to_parquet(tmp_path / "geo.parquet")
    plain = pd.DataFrame({"name": ["Seme"], "hours": ["24h"], "lat": [6.3794], "lon": [2.7035]})
    plain.to_parquet(tmp_path / "plain.parquet")
    region.add_layer("crossings", tmp_path / "geo.parquet")
    region.add_layer("crossings", tmp_path / "plain.parquet")
    back = region.read("crossings")
    np.testing.assert_allclose(back.geometry.x, [2.7035, 2.78, 2.7035], atol=1e-9)
    assert region.layers["crossings"] == ["crossings.geojson", "crossings-2.geojson"]


def test_unsupported_format_is_refused(region, tmp_path):
    (tmp_path / "roads.kml").write_text("<kml/>")
    with pytest.raises(
        RegionError, match=r"roads\.kml: unsupported format '\.kml'; expected one of"
    ):
        region.add_layer("roads", tmp_path / "roads.kml")


def test_hand_written_manifest_may_list_any_format_and_crs(region, tmp_path):
    shutil.copy(
        _write(_roads().to_crs("EPSG:3857"), tmp_path / "roads.gpkg"), region.path / "my_roads.gpkg"
    )
    manifest = tomllib.loads(region.manifest_path.read_text())
    manifest["layers"] = {"roads": ["my_roads.gpkg"]}
    region.manifest_path.write_text(tomli_w.dumps(manifest))
    roads = Region.load(region.path).read("roads")
    assert roads.crs.to_epsg() == 4326
    assert roads.geometry.iloc[0].coords[0] == pytest.approx((2.5, 6.5))


@pytest.mark.parametrize(
    ("hours", "row"), [("25:00-06:00", 2), ("6-22", 2), ("06:00-06:00", 2), (None, 2)]
)
def test_bad_hours_name_file_row_and_column(region, tmp_path, hours, row):
    source = _write(_crossings(hours=["24h", hours]), tmp_path / "bad.geojson")
    with pytest.raises(RegionError) as error:
        region.add_layer("crossings", source)
    message = str(error.value)
    assert "bad.geojson" in message and f"row {row}" in message and "'hours'" in message
    assert "expected" in message
    assert "crossings" not in region.layers  # nothing stored


def test_missing_column_names_file_and_column(region, tmp_path):
    source = _write(_crossings().drop(columns="hours"), tmp_path / "nohours.geojson")
    with pytest.raises(RegionError, match=r"nohours\.geojson: column 'hours' missing; expected"):
        region.add_layer("crossings", source)


def test_wrong_geometry_names_file_row_and_column(region, tmp_path):
    frame = _crossings()
    frame.loc[1, "geometry"] = shapely.LineString([(2.7, 6.4), (2.8, 6.5)])
    source = _write(frame, tmp_path / "mixed.geojson")
    with pytest.raises(RegionError) as error:
        region.add_layer("crossings", source)
    message = str(error.value)
    assert "mixed.geojson: row 2: column 'geometry' is 'LineString'; expected Point" in message


def test_unknown_road_class_is_refused(region, tmp_path):
    source = _write(_roads("highway"), tmp_path / "roads.geojson")
    with pytest.raises(RegionError, match=r"row 1: column 'class' is 'highway'; expected one of"):
        region.add_layer("roads", source)


def test_file_without_crs_is_refused(region, tmp_path):
    source = tmp_path / "nocrs.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        _roads().set_crs(None, allow_override=True).to_file(source)
    with pytest.raises(RegionError, match=r"nocrs\.shp: no CRS; expected"):
        region.add_layer("roads", source)


def test_defaults_fill_optional_columns(region, tmp_path):
    line = shapely.LineString([(2.7, 6.4), (2.9, 7.0)])
    corridors = gpd.GeoDataFrame({"corridor_id": [7]}, geometry=[line], crs="EPSG:4326")
    region.add_layer("corridors", _write(corridors, tmp_path / "c.geojson"))
    back = region.read("corridors")
    assert back["corridor_id"].tolist() == ["7"]
    assert back["width_m"].tolist() == [1000.0]


def test_roads_append_while_border_replaces(region, tmp_path):
    region.add_layer("roads", _write(_roads(), tmp_path / "a.geojson"))
    region.add_layer("roads", _write(_roads("primary"), tmp_path / "b.geojson"))
    assert region.layers["roads"] == ["roads.geojson", "roads-2.geojson"]
    assert len(region.read("roads")) == 4

    border = gpd.GeoDataFrame(geometry=[shapely.LineString([(2.7, 6.3), (2.8, 9)])], crs=4326)
    region.add_layer("border", _write(border, tmp_path / "b1.geojson"))
    region.add_layer("border", _write(border, tmp_path / "b2.geojson"))
    assert region.layers["border"] == ["border.geojson"]
    assert Region.load(region.path).layers == region.layers


def test_elevation_raster_is_copied_and_replaced(region):
    dem = shipped_region_path() / "elevation.tif"
    stored = region.add_layer("elevation", dem)
    assert region.raster_path() == stored == region.path / "elevation.tif"
    with rasterio.open(stored) as copy, rasterio.open(dem) as original:
        assert copy.crs == original.crs
        assert (copy.read(1) == original.read(1)).all()
    region.add_layer("elevation", dem)
    assert region.layers["elevation"] == ["elevation.tif"]


def test_sides_must_name_the_region_countries(region, tmp_path):
    square = shapely.box(2, 6, 3, 7)
    sides = gpd.GeoDataFrame({"country": ["Togo"]}, geometry=[square], crs="EPSG:4326")
    with pytest.raises(RegionError, match=r"row 1: column 'country' is 'Togo'; expected one of"):
        region.add_layer("sides", _write(sides, tmp_path / "sides.geojson"))


def test_absent_kind_reads_as_empty_frame_with_columns(region):
    sectors = region.read("sectors")
    assert sectors.empty and list(sectors.columns) == ["sector_id", "unit", "geometry"]
    assert sectors.crs.to_epsg() == 4326
    assert region.raster_path("elevation") is None


def test_every_kind_is_registered():
    assert set(kind_names()) >= {
        "border", "sides", "roads", "crossings", "corridors", "stop_areas", "sectors", "places",
        "rivers", "elevation",
    }  # fmt: skip
    with pytest.raises(RegionError, match="unknown layer kind 'lakes'; expected one of"):
        get_kind("lakes")


def _manifest(tmp_path: Path, **fields) -> Path:
    data = {"name": "x", "timezone": "Africa/Lagos", "crs": "EPSG:32631"}
    data |= {"countries": ["Benin", "Nigeria"]} | fields
    folder = tmp_path / "manual"
    folder.mkdir(exist_ok=True)
    (folder / "region.toml").write_text(tomli_w.dumps({k: v for k, v in data.items() if v}))
    return folder


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"timezone": "Mars/Olympus"}, "field 'timezone' is 'Mars/Olympus'; expected an IANA"),
        ({"crs": "EPSG:4326"}, "field 'crs' is 'EPSG:4326'; expected a projected CRS in metres"),
        ({"countries": ["Benin"]}, "field 'countries' is ['Benin']; expected two"),
        ({"name": ""}, "field 'name' missing"),
        ({"layers": {"lakes": ["l.geojson"]}}, "[layers] unknown layer kind 'lakes'"),
        ({"layers": {"roads": ["gone.geojson"]}}, "[layers] roads: file 'gone.geojson' not found"),
        ({"layer": {"roads": []}}, "unknown field 'layer'"),
        ({"bbox": [3, 6, 2, 7]}, "field 'bbox' is [3, 6, 2, 7]; expected"),
    ],
)
def test_bad_manifest_names_manifest_and_field(tmp_path, fields, expected):
    folder = _manifest(tmp_path, **fields)
    with pytest.raises(RegionError) as error:
        Region.load(folder)
    assert str(error.value).startswith(str(folder / "region.toml"))
    assert expected in str(error.value)


def test_folder_without_manifest(tmp_path):
    with pytest.raises(RegionError, match=r"region\.toml: no region manifest"):
        Region.load(tmp_path)


def test_create_refuses_an_existing_region_unless_overwriting(region, tmp_path):
    region.add_layer("roads", _write(_roads(), tmp_path / "a.geojson"))
    kwargs = {"name": "t", "timezone": "UTC", "crs": "EPSG:32631", "countries": ("A", "B")}
    with pytest.raises(RegionError, match="already exists"):
        Region.create(region.path, **kwargs)
    fresh = Region.create(region.path, overwrite=True, **kwargs)
    assert fresh.layers == {}
    assert not (region.path / "roads.geojson").exists()

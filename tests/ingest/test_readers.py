"""Readers: every format into one numbered table, unsplittable records into quarantine."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import orjson
import polars as pl
import pyproj
import pytest
import shapely

# The shared real-data folder sits next to the repository (../shared/data).
from support.paths import SHARED_DATA as DATA

from geoint.errors import InputError
from geoint.ingest.readers import (
    FORMATS,
    ReadResult,
    detect_format,
    parse_column_map,
    read_records,
    read_records_bytes,
)
from geoint.schema import QUARANTINE_SCHEMA, ROW_NUMBER, Reason

BUS = DATA / "tracks" / "liverpool_bus_route14_outbound.csv"
TRACES = DATA / "tracks" / "osm_traces.gpx"
ASAM = DATA / "incidents" / "asam_world_raw.csv"

SEME = (6.3794, 2.7035)  # lat, lon of the Seme-Krake crossing


def needs(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"real data not found at {path}")


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def rejected_rows(result: ReadResult) -> list[tuple[int, str]]:
    return list(result.rejected.select(ROW_NUMBER, "reason").iter_rows())


def feature(geometry: dict | None, **properties: object) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lon, lat]}


# --- formats and mapping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", "csv"),
        ("a.TXT", "csv"),
        ("a.tsv", "csv"),
        ("a.geojson", "geojson"),
        ("a.json", "geojson"),
        ("a.gpx", "gpx"),
        ("a.parquet", "parquet"),
        ("a.geoparquet", "parquet"),
        ("a.pq", "parquet"),
        ("a.ndjson", "ndjson"),
        ("a.jsonl", "ndjson"),
    ],
)
def test_detect_format_from_extension(name: str, expected: str) -> None:
    assert detect_format(Path(name)) == expected


def test_detect_format_option_wins() -> None:
    assert detect_format(Path("body.bin"), "NDJSON") == "ndjson"
    assert detect_format(Path("a.csv"), "geoparquet") == "parquet"


def test_unknown_extension_names_the_file_and_the_formats(tmp_path: Path) -> None:
    path = write(tmp_path, "pings.xlsx", "x")
    with pytest.raises(InputError) as error:
        read_records(path)
    assert str(path) in str(error.value)
    assert all(fmt in str(error.value) for fmt in FORMATS)


def test_unknown_format_option_is_an_input_error() -> None:
    with pytest.raises(InputError, match="--format"):
        detect_format(Path("a.csv"), "kml")


def test_parse_column_map() -> None:
    assert parse_column_map(["lat=latitude", " ts = timestamp "]) == {
        "lat": "latitude",
        "ts": "timestamp",
    }
    for bad in (["lat"], ["=latitude"], ["lat="], ["lat=a", "lat=b"]):
        with pytest.raises(ValueError, match=r"CANONICAL=SOURCE|twice"):
            parse_column_map(bad)
    with pytest.raises(ValueError, match="expected CANONICAL=SOURCE"):
        parse_column_map(["latitude"])


def test_missing_mapped_column_names_file_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "pings.csv", "vehicle_id,latitude,lon\nv1,6.3,2.7\n")
    with pytest.raises(InputError) as error:
        read_records(path, column_map={"lat": "latitude", "ts": "timestamp"})
    assert error.value.column == "timestamp"
    assert str(path) in str(error.value)
    assert "timestamp" in str(error.value)


def test_mapping_onto_an_existing_column_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "pings.csv", "lat,latitude\n1,2\n")
    with pytest.raises(InputError, match="lat"):
        read_records(path, column_map={"lat": "latitude"})


def test_mapping_can_swap_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "pings.csv", "lat,lon\n2.7,6.3\n")
    frame = read_records(path, column_map={"lat": "lon", "lon": "lat"}).frame
    assert frame.select("lat", "lon").row(0) == ("6.3", "2.7")


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.csv"):
        read_records(tmp_path / "missing.csv")


# --- CSV ---------------------------------------------------------------------------------------


def test_liverpool_bus_csv_with_column_map() -> None:
    needs(BUS)
    mapping = parse_column_map(["lat=latitude", "lon=longitude", "ts=timestamp"])
    result = read_records(BUS, column_map=mapping)
    frame = result.frame
    assert result.format == "csv"
    assert frame.height == 1533
    assert frame.columns[0] == ROW_NUMBER
    assert frame[ROW_NUMBER].to_list() == list(range(1, 1534))
    assert {"vehicle_id", "ts", "lat", "lon"} <= set(frame.columns)
    assert not {"latitude", "longitude", "timestamp"} & set(frame.columns)
    assert frame.select("ts", "lat", "lon").row(0) == (
        "2026-01-26 15:57:02",
        "53.44451",
        "-2.925173",
    )
    assert all(dtype == pl.String for dtype in frame.drop(ROW_NUMBER).dtypes)
    assert result.rejected.is_empty()


def test_asam_csv_with_bom_embedded_newlines_and_trailing_comma() -> None:
    needs(ASAM)
    result = read_records(ASAM)
    frame = result.frame
    assert frame.height == 8619
    assert result.rejected.is_empty()
    assert frame.columns[:2] == [ROW_NUMBER, "reference"]  # BOM stripped
    assert "" not in frame.columns  # the empty column after the trailing comma is dropped
    first = frame.row(0, named=True)
    assert first["reference"] == "2022-127"
    assert first["position"] == "13°43'00\"N \n121°02'00\"E"
    assert frame[ROW_NUMBER].to_list() == list(range(1, 8620))


def test_csv_values_stay_text(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", 'vehicle_id,ts,lat,lon\n007,1e9,abc,"2,5"\nv2,,6.0,2.0\n')
    frame = read_records(path).frame
    assert frame.row(0) == (1, "007", "1e9", "abc", "2,5")
    assert frame.row(1) == (2, "v2", None, "6.0", "2.0")


def test_ragged_csv_keeps_good_rows_and_rejects_the_long_one(tmp_path: Path) -> None:
    content = (
        "vehicle_id,ts,lat,lon\n"
        "v1,2024-01-01T00:00:00Z,6.1,2.1\n"
        'v2,"2024-01-01\nT00:01:00Z",6.2,2.2\n'  # record 2 spans two lines
        "v3,2024-01-01T00:02:00Z,6.3,2.3,extra\n"
        "v4,2024-01-01T00:03:00Z,6.4,2.4\n"
    )
    result = read_records(write(tmp_path, "ragged.csv", content))
    assert result.frame["vehicle_id"].to_list() == ["v1", "v2", "v4"]
    assert result.frame[ROW_NUMBER].to_list() == [1, 2, 4]
    assert result.frame["ts"][1] == "2024-01-01\nT00:01:00Z"
    assert result.rejected.schema == QUARANTINE_SCHEMA
    bad = result.rejected.row(0, named=True)
    assert (bad[ROW_NUMBER], bad["reason"]) == (3, Reason.MALFORMED_RECORD.value)
    assert bad["raw"] == "v3,2024-01-01T00:02:00Z,6.3,2.3,extra"
    assert "5 fields, expected 4" in bad["detail"]


def test_unclosed_quote_rejects_the_rest_of_the_file_as_one_record(tmp_path: Path) -> None:
    path = write(tmp_path, "quote.csv", 'id,lat\nv1,6.1\nv2,"6.2\nv3,6.3\n')
    result = read_records(path)
    assert result.frame.rows() == [(1, "v1", "6.1")]
    assert rejected_rows(result) == [(2, Reason.MALFORMED_RECORD.value)]
    assert result.rejected["raw"][0] == 'v2,"6.2\nv3,6.3'


def test_short_csv_records_are_padded_with_nulls(tmp_path: Path) -> None:
    # Polars pads records with fewer fields; the fallback does the same so both paths agree.
    for extra in ("", "v9,1,2,3,4\n"):
        path = write(
            tmp_path, "short.csv", f"vehicle_id,ts,lat,lon\nv1,t,6.1\n{extra}v2,t,6.2,2.2\n"
        )
        result = read_records(path)
        assert result.frame.filter(pl.col("vehicle_id") == "v1").row(0)[1:] == (
            "v1",
            "t",
            "6.1",
            None,
        )


def test_blank_csv_lines_are_skipped_without_renumbering(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.csv", "a,b\n1,2\n\n3,4\n\n")
    frame = read_records(path).frame
    assert frame.rows() == [(1, "1", "2"), (3, "3", "4")]


@pytest.mark.parametrize(
    ("name", "content"), [("semi.csv", "a;b\n1;2\n"), ("tab.tsv", "a\tb\n1\t2\n")]
)
def test_csv_separator(tmp_path: Path, name: str, content: str) -> None:
    assert read_records(write(tmp_path, name, content)).frame.rows() == [(1, "1", "2")]


def test_header_only_csv_has_no_rows(tmp_path: Path) -> None:
    frame = read_records(write(tmp_path, "h.csv", "vehicle_id,ts,lat,lon\n")).frame
    assert frame.columns == [ROW_NUMBER, "vehicle_id", "ts", "lat", "lon"]
    assert frame.is_empty()


@pytest.mark.parametrize("content", [b"", b"\n\n", b"a,b\n\xe9,2\n"])
def test_unreadable_csv_is_an_input_error(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, "bad.csv", content)
    with pytest.raises(InputError, match=r"bad\.csv"):
        read_records(path)


def test_csv_body_from_bytes() -> None:
    result = read_records_bytes(b"id,lat,lon\nv1,6.3,2.7\n", "upload.csv", "csv")
    assert result.format == "csv"
    assert result.frame.rows() == [(1, "v1", "6.3", "2.7")]


# --- GeoJSON -----------------------------------------------------------------------------------


def test_geojson_points_become_lat_lon_and_other_geometries_are_rejected(tmp_path: Path) -> None:
    features = [
        feature(point(SEME[1], SEME[0]), vehicle_id="v1", ts="2024-01-01T00:00:00Z", n=1),
        feature({"type": "LineString", "coordinates": [[2.7, 6.3], [2.8, 6.4]]}, vehicle_id="v2"),
        feature(None, vehicle_id="v3"),
        feature(point(3.0, 7.0), vehicle_id="v4", n=2.5),
        feature({"type": "Point", "coordinates": []}, vehicle_id="v5"),
    ]
    document = {"type": "FeatureCollection", "features": features}
    result = read_records(write(tmp_path, "f.geojson", orjson.dumps(document)))
    assert result.format == "geojson"
    frame = result.frame
    assert frame.columns == [ROW_NUMBER, "vehicle_id", "ts", "n", "lon", "lat"]
    assert frame[ROW_NUMBER].to_list() == [1, 4]
    assert frame.select("lat", "lon").rows() == [SEME, (7.0, 3.0)]
    assert frame["n"].to_list() == [1.0, 2.5]
    assert rejected_rows(result) == [(2, "not_a_point"), (3, "not_a_point"), (5, "not_a_point")]
    line = result.rejected.row(0, named=True)
    assert line["column"] == "geometry"
    assert "LineString" in line["detail"]
    assert orjson.loads(line["raw"]) == features[1]


def test_geojson_single_feature_and_properties_with_lat_lon(tmp_path: Path) -> None:
    document = feature(None, vehicle_id="v1", lat=6.5, lon=2.5)
    result = read_records(write(tmp_path, "one.json", orjson.dumps(document)))
    assert result.frame.rows() == [(1, "v1", 6.5, 2.5)]
    assert result.rejected.is_empty()


def test_geojson_mixed_property_types_and_non_feature_entries(tmp_path: Path) -> None:
    features = [
        feature(point(2.0, 6.0), a=1, b={"k": 1}),
        7,
        feature(point(2.1, 6.1), a="x", b=[1]),
    ]
    document = {"type": "FeatureCollection", "features": features}
    result = read_records(write(tmp_path, "mixed.geojson", orjson.dumps(document)))
    assert result.frame.select(ROW_NUMBER, "a", "b").rows() == [
        (1, "1", '{"k": 1}'),
        (3, "x", "[1]"),
    ]
    assert rejected_rows(result) == [(2, Reason.MALFORMED_RECORD.value)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"lat,lon\n1,2\n", "JSON"),
        (b"[1, 2]", "FeatureCollection"),
        (orjson.dumps(point(2.0, 6.0)), "FeatureCollection"),
        (
            orjson.dumps(
                {
                    "type": "FeatureCollection",
                    "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},
                    "features": [],
                }
            ),
            "Pseudo-Mercator",
        ),
        (
            orjson.dumps(
                {
                    "type": "FeatureCollection",
                    "crs": {"type": "name", "properties": {"name": "not-a-crs"}},
                    "features": [],
                }
            ),
            "unknown CRS",
        ),
    ],
)
def test_unusable_geojson_is_an_input_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = write(tmp_path, "bad.geojson", content)
    with pytest.raises(InputError, match=message) as error:
        read_records(path)
    assert str(path) in str(error.value)


def test_geojson_crs84_member_is_accepted(tmp_path: Path) -> None:
    document = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": [feature(point(2.5, 6.5), vehicle_id="v1")],
    }
    frame = read_records(write(tmp_path, "crs84.geojson", orjson.dumps(document))).frame
    assert frame.select("lat", "lon").row(0) == (6.5, 2.5)


# --- GPX ---------------------------------------------------------------------------------------


def test_osm_traces_gpx_reads_every_track_point() -> None:
    needs(TRACES)
    text = TRACES.read_text(encoding="utf-8")
    result = read_records(TRACES)
    frame = result.frame
    assert result.format == "gpx"
    assert frame.height == text.count("<trkpt")
    assert frame[ROW_NUMBER].to_list() == list(range(1, frame.height + 1))
    assert frame.columns == [ROW_NUMBER, "vehicle_id", "ts", "lat", "lon", "speed_kmh", "heading"]
    assert frame["vehicle_id"].n_unique() == text.count("<trk>") == 3
    first = frame.row(0, named=True)
    assert first["vehicle_id"] == "03_Nov._2021_1749_edt.gpx"
    assert first["ts"] == "2021-11-03T16:19:50Z"
    assert (first["lat"], first["lon"]) == (48.1230487, 16.6098346)
    assert frame["ts"].null_count() == 0
    assert frame["lat"].null_count() == frame["lon"].null_count() == 0


GPX_10 = """<?xml version="1.0"?>
<gpx version="1.0" xmlns="http://www.topografix.com/GPX/1/0">
  <wpt lat="1" lon="1"><name>not a track</name></wpt>
  <trk><name> truck 7 </name>
    <trkseg>
      <trkpt lat="6.3794" lon="2.7035"><ele>10</ele><time>2024-01-01T00:00:00Z</time>
        <course>90.5</course><speed>10</speed><name>point name</name></trkpt>
      <trkpt lat="abc" lon="2.7040"></trkpt>
    </trkseg>
    <trkseg><trkpt lat="6.38" lon="2.71"><time>2024-01-01T00:01:00Z</time></trkpt></trkseg>
  </trk>
  <trk><trkseg><trkpt lat="7" lon="3"/></trkseg></trk>
</gpx>
"""

GPX_11 = """<?xml version="1.0"?>
<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
  <rte><rtept lat="6.5" lon="2.5"><time>2024-01-01T00:00:00Z</time></rtept></rte>
  <trk><name>car</name><trkseg><trkpt lat="6.6" lon="2.6"/></trkseg></trk>
</gpx>
"""


def test_gpx_10_tracks_speed_course_and_invalid_coordinates(tmp_path: Path) -> None:
    frame = read_records(write(tmp_path, "patrol.gpx", GPX_10)).frame
    assert frame.rows() == [
        (1, "truck 7", "2024-01-01T00:00:00Z", 6.3794, 2.7035, 36.0, 90.5),
        (2, "truck 7", None, None, 2.7040, None, None),
        (3, "truck 7", "2024-01-01T00:01:00Z", 6.38, 2.71, None, None),
        (4, "patrol:2", None, 7.0, 3.0, None, None),
    ]


def test_gpx_11_routes_and_tracks(tmp_path: Path) -> None:
    frame = read_records(write(tmp_path, "mixed.gpx", GPX_11)).frame
    assert frame.select(ROW_NUMBER, "vehicle_id", "ts", "lat", "lon").rows() == [
        (1, "mixed:1", "2024-01-01T00:00:00Z", 6.5, 2.5),
        (2, "car", None, 6.6, 2.6),
    ]


@pytest.mark.parametrize(
    ("content", "message"), [("<gpx><trk>", "XML"), ("<kml><Placemark/></kml>", "GPX")]
)
def test_unusable_gpx_is_an_input_error(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path, "bad.gpx", content)
    with pytest.raises(InputError, match=message) as error:
        read_records(path)
    assert str(path) in str(error.value)


# --- NDJSON ------------------------------------------------------------------------------------


def test_ndjson_native_types(tmp_path: Path) -> None:
    content = (
        '{"vehicle_id": "v1", "ts": 1704067200, "lat": 6.3, "lon": 2.7}\n{"vehicle_id": "v2"}\n'
    )
    result = read_records(write(tmp_path, "p.ndjson", content))
    assert result.format == "ndjson"
    assert result.frame.schema == {
        ROW_NUMBER: pl.Int64,
        "vehicle_id": pl.String,
        "ts": pl.Int64,
        "lat": pl.Float64,
        "lon": pl.Float64,
    }
    assert result.frame.rows() == [(1, "v1", 1704067200, 6.3, 2.7), (2, "v2", None, None, None)]


def test_ndjson_broken_line_is_rejected_with_its_line_number(tmp_path: Path) -> None:
    content = (
        '{"vehicle_id": "v1", "lat": 6.3}\n'
        '{"vehicle_id": "v2", "lat": \n'
        "\n"
        "[1, 2]\n"
        '{"vehicle_id": "v5", "lat": "6.5"}\n'
    )
    result = read_records(write(tmp_path, "p.jsonl", content))
    assert result.frame.select(ROW_NUMBER, "vehicle_id").rows() == [(1, "v1"), (5, "v5")]
    assert result.frame["lat"].to_list() == ["6.3", "6.5"]  # no common type: kept as text
    assert rejected_rows(result) == [(2, "malformed_record"), (4, "malformed_record")]
    assert result.rejected["raw"].to_list() == ['{"vehicle_id": "v2", "lat": ', "[1, 2]"]


def test_ndjson_blank_lines_keep_line_numbers(tmp_path: Path) -> None:
    result = read_records(write(tmp_path, "p.ndjson", '{"a": 1}\n\n{"a": 3}\n'))
    assert result.frame.rows() == [(1, 1), (3, 3)]
    assert result.rejected.is_empty()


def test_empty_ndjson_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty"):
        read_records(write(tmp_path, "p.ndjson", "\n"))


def test_ndjson_body_from_bytes() -> None:
    result = read_records_bytes(b'{"id": "v1", "lat": 6.3}', "body", "ndjson", {"vehicle_id": "id"})
    assert result.frame.rows() == [(1, "v1", 6.3)]
    assert result.frame.columns == [ROW_NUMBER, "vehicle_id", "lat"]


# --- Parquet -----------------------------------------------------------------------------------


def test_parquet_rows_and_native_types(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pl.DataFrame({"vehicle_id": ["v1", "v2"], "lat": [6.3, 6.4], "lon": [2.7, 2.8]}).write_parquet(
        path
    )
    result = read_records(path)
    assert result.format == "parquet"
    assert result.frame.rows() == [(1, "v1", 6.3, 2.7), (2, "v2", 6.4, 2.8)]


def test_geoparquet_in_utm_is_reprojected_and_non_points_rejected(tmp_path: Path) -> None:
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32631", always_xy=True)
    x, y = to_utm.transform([SEME[1], 3.0], [SEME[0], 7.0])
    geometries = [
        shapely.Point(x[0], y[0]),
        shapely.LineString([(x[0], y[0]), (x[1], y[1])]),
        shapely.Point(x[1], y[1]),
        None,
    ]
    path = tmp_path / "pings.geoparquet"
    gpd.GeoDataFrame(
        {"vehicle_id": ["v1", "v2", "v3", "v4"]}, geometry=geometries, crs="EPSG:32631"
    ).to_parquet(path)
    result = read_records(path)
    frame = result.frame
    assert frame.columns == [ROW_NUMBER, "vehicle_id", "lon", "lat"]
    assert frame[ROW_NUMBER].to_list() == [1, 3]
    assert frame["lat"].to_list() == pytest.approx([SEME[0], 7.0], abs=1e-9)
    assert frame["lon"].to_list() == pytest.approx([SEME[1], 3.0], abs=1e-9)
    assert rejected_rows(result) == [(2, "not_a_point"), (4, "not_a_point")]
    assert result.rejected["raw"][0].startswith("LINESTRING (")


def test_geoparquet_in_wgs84_keeps_coordinates(tmp_path: Path) -> None:
    path = tmp_path / "pings.parquet"
    gpd.GeoDataFrame(
        {"vehicle_id": ["v1"]}, geometry=[shapely.Point(SEME[1], SEME[0])], crs="EPSG:4326"
    ).to_parquet(path)
    assert read_records(path).frame.select("lat", "lon").row(0) == SEME


def test_not_parquet_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path, "p.parquet", "vehicle_id,lat\n")
    with pytest.raises(InputError, match="Parquet") as error:
        read_records(path)
    assert str(path) in str(error.value)

"""Coordinate text parsing: unit cases for every accepted form, and the real NGA ASAM file."""

from __future__ import annotations

import polars as pl
import pytest

# The shared real-data folder sits next to the repository (../shared/data).
from support.paths import SHARED_DATA as DATA

from geoint.ingest.coords import parse_coordinate, parse_position
from geoint.ingest.readers import read_records

ASAM = DATA / "incidents" / "asam_world_raw.csv"


def one(text: str | None, axis: str) -> float | None:
    return parse_coordinate(pl.Series([text], dtype=pl.String), axis).item()


@pytest.mark.parametrize(
    ("text", "axis", "expected"),
    [
        ("6.3794", "lat", 6.3794),
        ("-2.5", "lon", -2.5),
        ("+2.5", "lon", 2.5),
        ("6.3794N", "lat", 6.3794),
        ("2.70 E", "lon", 2.70),
        ("6.3794S", "lat", -6.3794),
        ("2.7035w", "lon", -2.7035),
        ("6.5°", "lat", 6.5),
        ("13°43'00\"N", "lat", 13 + 43 / 60),
        ("13°43'00''N", "lat", 13 + 43 / 60),
        ("121°02'00\"E", "lon", 121 + 2 / 60),
        ("0°04'00\"S", "lat", -4 / 60),
        ("51°06'00\"W", "lon", -(51 + 6 / 60)),
        ("11°55'59.99\"E", "lon", 11 + 55 / 60 + 59.99 / 3600),
        ("6°22.76'N", "lat", 6 + 22.76 / 60),
        ("13-43N", "lat", 13 + 43 / 60),
        ("013-43.5E", "lon", 13 + 43.5 / 60),
        ("06:15N", "lat", 6.25),
        ("13 43 00 N", "lat", 13 + 43 / 60),
        ("N 13 43 00", "lat", 13 + 43 / 60),
        ("W 2 30", "lon", -2.5),
        (" 13°43'\n00\"N \n", "lat", 13 + 43 / 60),
        ("13\u00ba43\u203200\u2033N", "lat", 13 + 43 / 60),  # ordinal, prime, double prime
        ("90", "lat", 90.0),
        ("-180", "lon", -180.0),
        ("89°60'00\"N", "lat", 90.0),
        # 60' with no seconds is a rounding carry (see geoint.ingest.coords): 5°60' is 6°00'.
        ("5°60'00\"S", "lat", -6.0),
    ],
)
def test_parse_coordinate_accepts(text: str, axis: str, expected: float) -> None:
    assert one(text, axis) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("text", "axis"),
    [
        ("abc", "lat"),
        ("", "lat"),
        (None, "lat"),
        ("95°00'N", "lat"),  # beyond 90
        ("90.0001", "lat"),
        ("180°00'01\"E", "lon"),
        ("13°61'N", "lat"),  # minutes >= 60
        ("13°60.5'N", "lat"),
        ("13°60'30\"N", "lat"),  # the carry only holds with zero seconds
        ("13°43'60\"N", "lat"),  # seconds >= 60
        ("6.5°30'N", "lat"),  # decimal degrees followed by minutes
        ("6°22.5'10\"N", "lat"),  # decimal minutes followed by seconds
        ("6.3794E", "lat"),  # hemisphere of the other axis
        ("6.3794N", "lon"),
        ("-6.3794N", "lat"),  # sign and hemisphere together
        ("N6.3794S", "lat"),
        ("NN6", "lat"),
        ("1e9", "lat"),
        ("6,3794", "lat"),
        ("13°43'00\"N 121°02'00\"E", "lat"),  # a position, not a coordinate
    ],
)
def test_parse_coordinate_gives_null(text: str | None, axis: str) -> None:
    assert one(text, axis) is None


def test_parse_coordinate_keeps_name_and_length_and_range_checks_numbers() -> None:
    parsed = parse_coordinate(pl.Series("latitude", ["6.5", None, "x"]), "lat")
    assert parsed.name == "latitude"
    assert parsed.dtype == pl.Float64
    assert parsed.to_list() == [6.5, None, None]
    numbers = parse_coordinate(pl.Series("lon", [2.5, -200.0, None]), "lon")
    assert numbers.to_list() == [2.5, None, None]


@pytest.mark.parametrize(
    ("text", "lat", "lon"),
    [
        ("13°43'00\"N \n121°02'00\"E", 13 + 43 / 60, 121 + 2 / 60),
        ("0°04'00\"S \n51°06'00\"W", -4 / 60, -(51 + 6 / 60)),
        ("6.3794, 2.7035", 6.3794, 2.7035),
        ("6.3794 2.7035", 6.3794, 2.7035),
        ("6.3794;2.7035", 6.3794, 2.7035),
        ("-6.5, -2.5", -6.5, -2.5),
        ("6.3794N, 2.7035E", 6.3794, 2.7035),
        ("2.7035E 6.3794N", 6.3794, 2.7035),  # hemisphere letters put longitude first
        ("13-43N 121-02E", 13 + 43 / 60, 121 + 2 / 60),
        ("06:15N - 003:13E", 6.25, 3 + 13 / 60),
        ("05:60N \u2013 106:54E", 6.0, 106.9),
        ("N 13 43 00 E 121 02 00", 13 + 43 / 60, 121 + 2 / 60),
        ("13 43 00 N 121 02 00 E", 13 + 43 / 60, 121 + 2 / 60),
    ],
)
def test_parse_position(text: str, lat: float, lon: float) -> None:
    lats, lons = parse_position(pl.Series([text]))
    assert lats.item() == pytest.approx(lat, abs=1e-12)
    assert lons.item() == pytest.approx(lon, abs=1e-12)


@pytest.mark.parametrize(
    "text", ["abc", "6.3794", "95, 2", "6.3794N 2.7035N", "13°61'N 2°00'E", "", None]
)
def test_parse_position_gives_null(text: str | None) -> None:
    lats, lons = parse_position(pl.Series([text], dtype=pl.String))
    assert lats.item() is None or lons.item() is None
    assert lats.dtype == lons.dtype == pl.Float64


@pytest.fixture(scope="module")
def asam() -> pl.DataFrame:
    if not ASAM.exists():
        pytest.skip(f"real data not found at {ASAM}")
    frame = read_records(ASAM).frame
    lat, lon = parse_position(frame["position"])
    return frame.with_columns(lat=lat, lon=lon)


def test_every_asam_position_parses(asam: pl.DataFrame) -> None:
    # All 8,619 positions parse. The only failing form before support was 60 minutes with
    # zero seconds (378 rows, e.g. 2019-46 "5°60'00"N", described as "06-00N").
    assert asam.height == 8619
    assert asam.filter(pl.col("lat").is_null() | pl.col("lon").is_null()).height == 0
    assert asam["lat"].is_between(-90, 90).all()
    assert asam["lon"].is_between(-180, 180).all()


@pytest.mark.parametrize(
    ("reference", "lat", "lon"),
    [
        ("2022-127", 13 + 43 / 60, 121 + 2 / 60),  # Batangas, "near position 13-43N 121-02E"
        ("2022-121", -(4 / 60), -(51 + 6 / 60)),  # Macapa, "00-04S 051-06W"
        ("2020-24", 6 + 17 / 60, 3 + 14 / 60),  # Lagos anchorage, "06:17 N 003:14E"
        ("2020-105", 6.25, 3 + 13 / 60),  # Lagos anchorage, "06:15N - 003:13E"
        ("2022-94", 6 + 27 / 60 + 10.08 / 3600, 3 + 22 / 60 + 45.48 / 3600),  # port of Lagos
        ("2011-233", 6.0, 2 + 22 / 60),  # "5°60'00"N": 20 miles south of Cotonou
        ("2019-46", 6.0, 1 + 16 / 60),  # "5°60'00"N", Lome, "06-00N 001-16E"
    ],
)
def test_asam_rows_checked_by_hand(
    asam: pl.DataFrame, reference: str, lat: float, lon: float
) -> None:
    row = asam.filter(pl.col("reference") == reference).row(0, named=True)
    assert row["lat"] == pytest.approx(lat, abs=1e-9)
    assert row["lon"] == pytest.approx(lon, abs=1e-9)


@pytest.mark.parametrize("reference", ["2022-127", "2022-121", "2020-24", "2020-105", "2019-46"])
def test_asam_description_near_position_agrees(asam: pl.DataFrame, reference: str) -> None:
    row = asam.filter(pl.col("reference") == reference)
    near = row["description"].str.extract(r"near position ([0-9][^,.]*?[EW])\b")
    lat, lon = parse_position(near)
    assert lat.item() == pytest.approx(row["lat"].item(), abs=1e-9)
    assert lon.item() == pytest.approx(row["lon"].item(), abs=1e-9)

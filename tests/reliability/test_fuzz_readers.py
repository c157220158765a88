"""Hypothesis over every reader and parser: never an unhandled exception, and every record is
either kept or quarantined with a reason (nothing dropped silently).

Inputs are generated hostile on purpose: odd text (control characters, quotes, separators,
DMS-like and ISO-like fragments, huge numbers), nested JSON, mixed Parquet types. A whole input
may be refused, but only with `InputError` (one message naming the file).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoint.errors import InputError
from geoint.ingest.coords import parse_coordinate, parse_position
from geoint.ingest.readers import read_records_bytes
from geoint.ingest.validate import parse_timestamps, validate_pings, validate_seizures
from geoint.schema import GAZETTEER_SCHEMA, ROW_NUMBER
from geoint.settings import IngestSettings

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
BOUNDED = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
FRAGMENTS = st.sampled_from(
    ["6°24'30\"N", "13-43N", "2.6", "-0", "1e308", "nan", "inf", "2026-11-20T08:00:00Z",
     "2026-13-45", "1789000000", "=HYPERLINK(1)", "", " ", "\x00", "\"", ",", ";", "\n", "é",
     "N 6 24.5", "999999999999999999999", "0,0", "S", "]"]
)  # fmt: skip
TEXT = st.one_of(st.text(max_size=30), FRAGMENTS)
COLUMNS = ["vehicle_id", "ts", "lat", "lon", "speed_kmh", "heading", "accuracy_m", "source"]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


def _check_pings(data: bytes, fmt: str, name: str) -> None:
    """Read and validate; each record ends up kept or quarantined with a reason."""
    try:
        read = read_records_bytes(data, name, fmt)
    except InputError as error:
        assert name in str(error)
        return
    assert read.rejected["reason"].null_count() == 0
    try:
        validated = validate_pings(read.frame, name, IngestSettings(), NOW)
    except InputError as error:  # a required column is missing: named
        assert error.column is not None
        return
    kept, refused = validated.good.height, validated.quarantined.height
    assert kept + refused == read.frame.height
    assert validated.quarantined["reason"].null_count() == 0
    assert set(validated.good[ROW_NUMBER]).isdisjoint(set(validated.quarantined[ROW_NUMBER]))


@BOUNDED
@given(
    header=st.lists(st.sampled_from([*COLUMNS, "x", "", "lat"]), min_size=1, max_size=8),
    rows=st.lists(st.lists(TEXT, max_size=9), max_size=8),
    separator=st.sampled_from([",", ";", "\t"]),
)
def test_csv(header, rows, separator):
    lines = [separator.join(header), *(separator.join(row) for row in rows)]
    _check_pings("\n".join(lines).encode(), "csv", "fuzz.csv")


@BOUNDED
@given(
    records=st.lists(
        st.dictionaries(st.sampled_from(COLUMNS) | TEXT, JSON_VALUES, max_size=8), max_size=8
    ),
    garbage=st.lists(TEXT, max_size=2),
)
def test_ndjson(records, garbage):
    lines = [json.dumps(r) for r in records] + garbage
    _check_pings("\n".join(lines).encode(), "ndjson", "fuzz.ndjson")


@BOUNDED
@given(
    features=st.lists(
        st.fixed_dictionaries(
            {
                "type": st.just("Feature"),
                "geometry": st.one_of(
                    st.none(),
                    st.fixed_dictionaries(
                        {
                            "type": st.sampled_from(["Point", "LineString", "Nope"]),
                            "coordinates": JSON_VALUES,
                        }
                    ),
                ),
                "properties": st.one_of(
                    st.none(), st.dictionaries(st.sampled_from(COLUMNS) | TEXT, JSON_VALUES)
                ),
            }
        )
        | JSON_VALUES,
        max_size=6,
    )
)
def test_geojson(features):
    document = {"type": "FeatureCollection", "features": features}
    _check_pings(json.dumps(document).encode(), "geojson", "fuzz.geojson")


@BOUNDED
@given(
    points=st.lists(st.tuples(TEXT, TEXT, TEXT, TEXT), max_size=6),
    name=st.one_of(st.none(), TEXT),
    broken=st.booleans(),
)
def test_gpx(points, name, broken):
    def clean(text: str) -> str:  # XML 1.0 cannot hold most control characters at all
        return escape("".join(c for c in text if c >= " " or c in "\t\n"), {'"': "&quot;"})

    trkpts = "".join(
        f'<trkpt lat="{clean(lat)}" lon="{clean(lon)}"><time>{clean(t)}</time>'
        f"<speed>{clean(speed)}</speed></trkpt>"
        for lat, lon, t, speed in points
    )
    title = f"<name>{clean(name)}</name>" if name is not None else ""
    document = f'<gpx version="1.1"><trk>{title}<trkseg>{trkpts}</trkseg></trk></gpx>'
    _check_pings((document[:-7] if broken else document).encode(), "gpx", "fuzz.gpx")


PARQUET_COLUMNS = st.sampled_from(
    [
        pl.Series([1.5, None, float("inf"), 1e308], dtype=pl.Float64),
        pl.Series(["V1", None, "\x00", "x" * 300]),
        pl.Series([[1.0], None, [], [2.0, 3.0]], dtype=pl.List(pl.Float64)),
        pl.Series([{"a": 1}, None, {"a": 2}, {"a": 3}]),
        pl.Series([b"V1", None, b"\xff", b""], dtype=pl.Binary),
        pl.Series([timedelta(seconds=1), None, timedelta(days=-1), timedelta(0)]),
        pl.Series([NOW, None, NOW - timedelta(days=9000), NOW + timedelta(days=2)]),
        pl.Series([1, None, -(2**62), 2**62], dtype=pl.Int64),
        pl.Series([True, None, False, True]),
    ]
)


@BOUNDED
@given(columns=st.dictionaries(st.sampled_from([*COLUMNS, "extra"]), PARQUET_COLUMNS))
def test_parquet(columns):
    frame = pl.DataFrame({name: series.alias(name) for name, series in columns.items()})
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    _check_pings(buffer.getvalue(), "parquet", "fuzz.parquet")


@BOUNDED
@given(data=st.binary(max_size=200), fmt=st.sampled_from(["csv", "ndjson", "geojson", "gpx",
                                                          "parquet"]))  # fmt: skip
def test_any_bytes_in_any_format(data, fmt):
    _check_pings(data, fmt, f"fuzz.{fmt}")


@BOUNDED
@given(texts=st.lists(st.one_of(st.none(), TEXT), max_size=10))
def test_dms_text_and_positions(texts):
    values = pl.Series("v", texts, dtype=pl.String)
    for axis in ("lat", "lon"):
        parsed = parse_coordinate(values, axis)
        assert parsed.len() == values.len() and parsed.dtype == pl.Float64
    lat, lon = parse_position(values)
    assert lat.len() == lon.len() == values.len()


@BOUNDED
@given(texts=st.lists(st.one_of(st.none(), TEXT, st.integers().map(str)), max_size=10))
def test_iso_times(texts):
    parsed = parse_timestamps(pl.Series("ts", texts, dtype=pl.String))
    assert parsed.len() == len(texts) and parsed.dtype == pl.Datetime("us", "UTC")


@BOUNDED
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"seizure_id": TEXT, "date": TEXT, "lat": TEXT, "lon": TEXT, "position": TEXT}
        ),
        max_size=6,
    )
)
def test_seizures(rows):
    data = "\n".join(json.dumps(r) for r in rows).encode()
    try:
        read = read_records_bytes(data, "fuzz.ndjson", "ndjson")
        validated = validate_seizures(
            read.frame, "fuzz.ndjson", pl.DataFrame(schema=GAZETTEER_SCHEMA), NOW
        )
    except InputError:
        return
    assert validated.good.height + validated.quarantined.height == read.frame.height
    assert validated.quarantined["reason"].null_count() == 0

"""Validation: every bad-input class of SPEC §3 is quarantined with its reason."""

from datetime import UTC, datetime

import polars as pl
import pytest

from geoint.errors import InputError
from geoint.ingest.validate import flag_spikes, parse_timestamps, validate_pings, validate_seizures
from geoint.schema import GAZETTEER_SCHEMA
from geoint.settings import IngestSettings
from geoint.testing.builders import raw_rows

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SETTINGS = IngestSettings()
GOOD = {"vehicle_id": "V1", "ts": "2026-11-27T10:00:00Z", "lat": "6.5", "lon": "2.6"}


def _bad(**changes):
    return {**GOOD, **changes}


@pytest.mark.parametrize(
    ("row", "reason", "column"),
    [
        (_bad(lat=""), "null_coordinates", "lat"),
        (_bad(lon=None), "null_coordinates", "lat"),
        (_bad(lat="abc"), "unparsable_coordinates", "lat"),
        (_bad(lat="nan"), "nan_coordinates", "lat"),
        (_bad(lat="95.0"), "out_of_range_coordinates", "lat"),
        (_bad(lon="-180.5"), "out_of_range_coordinates", "lat"),
        (_bad(lat="0", lon="0"), "null_island", "lat"),
        (_bad(ts="yesterday"), "unparsable_time", "ts"),
        (_bad(ts=""), "unparsable_time", "ts"),
        (_bad(ts="1999-12-31T23:59:59Z"), "time_before_2000", "ts"),
        (_bad(ts="2026-11-27T13:00:01Z"), "time_in_future", "ts"),
        (_bad(vehicle_id=" "), "missing_value", "vehicle_id"),
        (_bad(speed_kmh="fast"), "unparsable_number", "speed_kmh"),
        (_bad(heading="400"), "invalid_value", "heading"),
    ],
)
def test_each_bad_ping_class_is_quarantined_with_reason(row, reason, column):
    frame = raw_rows([GOOD, row, {**GOOD, "ts": "2026-11-27T10:01:00Z"}])
    result = validate_pings(frame, "pings.csv", IngestSettings(), NOW)
    assert result.good["_row"].to_list() == [1, 3]
    bad = result.quarantined.to_dicts()
    assert len(bad) == 1
    assert bad[0]["_row"] == 2
    assert bad[0]["reason"] == reason
    assert bad[0]["column"] == column
    assert bad[0]["raw"].startswith("{")


def test_future_within_one_hour_is_accepted():
    frame = raw_rows([_bad(ts="2026-11-27T12:59:59Z")])
    assert validate_pings(frame, "f.csv", IngestSettings(), NOW).good.height == 1


def test_time_formats_epoch_iso_offsets():
    values = pl.Series(["1764244800", "2025-11-27T12:00:00+01:00", "2025-11-27 11:00:00", "x"])
    parsed = parse_timestamps(values)
    expected = datetime(2025, 11, 27, 11, 0, tzinfo=UTC)
    assert parsed[1] == parsed[2] == expected
    assert parsed[0] == datetime(2025, 11, 27, 12, 0, tzinfo=UTC)
    assert parsed[3] is None


@pytest.mark.parametrize(
    ("lats", "times"),
    [
        (["6.5", "6.6", "6.7"], ["1764244800", "1764244860", "1764244920"]),  # a device's
        (["6°30'N", "6.6", " 6.7 "], ["1764244800", "2025-11-27T12:01:00Z", "2025-11-27 12:02"]),
        ([6.5, 6.6, None], [1764244800, 1764244860.5, 1764244920]),
    ],
)
def test_pings_parse_as_the_column_parsers_do(lats, times):
    # validate_pings reads decimals and epoch seconds in one pass and the rest by the parsers
    rows = [{"vehicle_id": f"V{i}", "ts": t, "lat": lat, "lon": "2.6"}
            for i, (lat, t) in enumerate(zip(lats, times, strict=True))]  # fmt: skip
    frame = pl.DataFrame(rows, strict=False).with_row_index("_row")
    validated = validate_pings(
        frame.with_columns(pl.col("_row").cast(pl.Int64)), "f", SETTINGS, NOW
    )
    kept = validated.good["_row"].to_list()
    assert validated.good["ts"].to_list() == parse_timestamps(frame["ts"]).gather(kept).to_list()
    assert validated.good["lat"].to_list() == [
        {"6.5": 6.5, "6°30'N": 6.5, "6.6": 6.6, " 6.7 ": 6.7, "6.7": 6.7}.get(v, v)
        for v in frame["lat"].gather(kept).to_list()
    ]
    assert len(kept) == sum(lat is not None for lat in lats)


@pytest.mark.parametrize(
    "rows",
    [
        [{**GOOD, "ts": "1764244800"}, {**GOOD, "ts": " 1764244860.5", "lat": " 6.7 "}],
        [
            {
                "vehicle_id": "D1",
                "ts": "1764244800.5",
                "lat": 6.5,
                "lon": 2.6,
                "speed_kmh": 3.0,
                "heading": 359.5,
                "accuracy_m": None,
                "source": "osmand",
            }
        ],  # a device's position
    ],
)
def test_clean_rows_take_one_query_and_come_out_as_the_checked_path_gives(rows, monkeypatch):
    import geoint.ingest.validate as validate

    frame = pl.DataFrame(rows, strict=False).with_row_index("_row")
    frame = frame.with_columns(pl.col("_row").cast(pl.Int64))
    passing = []
    one_query = validate._all_passing
    monkeypatch.setattr(
        validate, "_all_passing", lambda *a: passing.append(one_query(*a)) or passing[-1]
    )
    quick = validate_pings(frame, "f", SETTINGS, NOW)
    assert passing[0] is not None  # the one query answered
    monkeypatch.setattr(validate, "_all_passing", lambda *_args: None)
    checked = validate_pings(frame, "f", SETTINGS, NOW)
    assert quick.good.height == len(rows) and quick.quarantined.height == 0
    assert quick.good.equals(checked.good) and quick.good.schema == checked.good.schema


def test_one_failing_row_sends_the_post_through_the_checks():
    frame = raw_rows([GOOD, _bad(lat="6°30'N"), _bad(lat="91")])  # a slow parse, a bad row
    result = validate_pings(frame, "f", SETTINGS, NOW)
    assert result.good["lat"].to_list() == [6.5, 6.5]
    assert result.quarantined["reason"].to_list() == ["out_of_range_coordinates"]


def test_missing_required_column_names_file_and_column():
    frame = raw_rows([{"vehicle_id": "V1", "ts": "2026-01-01", "latitude": "6", "lon": "2"}])
    with pytest.raises(InputError) as info:
        validate_pings(frame, "tracks.csv", IngestSettings(), NOW)
    message = str(info.value)
    assert "tracks.csv" in message and "'lat'" in message and "--map" in message
    assert "\n" not in message


def test_spike_needs_implausible_speed_to_both_neighbours():
    lats = ["6.50", "6.60", "6.501", "6.502", "6.70"]  # 11 km away and back in 30 s; last jumps
    rows = [
        {
            "vehicle_id": "V",
            "ts": f"2026-11-27T10:0{i // 2}:{30 * (i % 2):02d}Z",
            "lat": lat,
            "lon": "2.60",
        }
        for i, lat in enumerate(lats)
    ]
    good = validate_pings(raw_rows(rows), "f.csv", IngestSettings(), NOW).good.sort("ts")
    # the last ping has one neighbour only, so it is never a spike
    assert flag_spikes(good, 250).to_list() == [False, True, False, False, False]


def _gazetteer():
    return pl.DataFrame(
        {
            "name": ["Porto-Novo", "Seme", "Seme"],
            "lat": [6.4969, 6.38, 6.40],
            "lon": [2.6289, 2.70, 2.71],
            "population": [234168.0, 1000.0, 50.0],
            "source": ["world", "region", "world"],
        },
        schema=GAZETTEER_SCHEMA,
    )


def test_seizure_positions_from_decimal_dms_and_place():
    rows = [
        {"seizure_id": "S1", "date": "2026-09-14", "lat": "6.3794", "lon": "2.7035"},
        {"seizure_id": "S2", "date": "2026-09-14", "lat": "6°24'30\"N", "lon": "2°44'10\"E"},
        {"seizure_id": "S3", "date": "2026-09-14", "place": "porto novo"},
        {"seizure_id": "S4", "date": "2026-09-14", "place": "Sémé"},
    ]
    good = validate_seizures(raw_rows(rows), "s.csv", _gazetteer(), NOW).good.sort("seizure_id")
    assert good["lat"].to_list() == pytest.approx([6.3794, 6 + 24.5 / 60, 6.4969, 6.38])
    assert good["lon"].to_list() == pytest.approx([2.7035, 2 + 44 / 60 + 10 / 3600, 2.6289, 2.70])
    assert good["position_precision"].to_list() == ["exact", "exact", "place", "place_ambiguous"]


@pytest.mark.parametrize(
    ("changes", "reason", "column"),
    [
        ({"place": "Atlantis", "lat": None, "lon": None}, "unknown_place", "place"),
        ({"lat": "91°00'N"}, "unparsable_coordinates", "lat"),
        ({"commodity": "spaceships"}, "invalid_value", "commodity"),
        ({"transport_mode": "rocket"}, "invalid_value", "transport_mode"),
        ({"direction": "sideways"}, "invalid_value", "direction"),
        ({"quantity": "lots"}, "unparsable_number", "quantity"),
        ({"quantity": "-3"}, "invalid_value", "quantity"),
        ({"date": "2031-01-01"}, "time_in_future", "date"),
        ({"date": "not a date"}, "unparsable_time", "date"),
        ({"seizure_id": ""}, "missing_value", "seizure_id"),
    ],
)
def test_each_bad_seizure_class_is_quarantined(changes, reason, column):
    good_row = {
        "seizure_id": "S1",
        "date": "2026-09-14",
        "lat": "6.4",
        "lon": "2.7",
        "place": "",
        "commodity": "Fuel",
        "transport_mode": "truck",
        "direction": "import",
        "quantity": "5",
    }
    frame = raw_rows([good_row, {**good_row, "seizure_id": "S2", **changes}])
    result = validate_seizures(frame, "s.csv", _gazetteer(), NOW)
    assert result.good["seizure_id"].to_list() == ["S1"]
    assert result.good["commodity"].to_list() == ["fuel"]
    bad = result.quarantined.to_dicts()
    assert [(b["reason"], b["column"], b["_row"]) for b in bad] == [(reason, column, 2)]


def test_seizures_without_any_position_column_are_refused():
    with pytest.raises(InputError, match=r"s\.csv: column 'lat': expected a position"):
        validate_seizures(
            raw_rows([{"seizure_id": "S", "date": "2026-01-01"}]), "s.csv", _gazetteer(), NOW
        )

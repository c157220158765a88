"""Ingest end to end: counts, quarantine, idempotency, and nothing stored is lost or changed."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from geoint.errors import InputError
from geoint.pipeline.ingest import ingest_pings, ingest_records
from geoint.testing.builders import iso, make_track, write_csv

pytestmark = pytest.mark.databases

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _rows(track: pl.DataFrame) -> list[dict]:
    return [{**r, "ts": iso(r["ts"])} for r in track.to_dicts()]


def _stored(workspace) -> pl.DataFrame:
    return workspace.scan_pings().collect().sort("ping_id")


def test_csv_ingest_reports_and_stores_typed_indexed_pings(workspace, settings, tmp_path):
    good = _rows(make_track("V1", T0, [(6.50, 2.60), (6.51, 2.61), (6.52, 2.62)]))
    bad = [
        {"vehicle_id": "V2", "ts": iso(T0), "lat": "0", "lon": "0"},
        {"vehicle_id": "V2", "ts": "soon", "lat": "6.5", "lon": "2.6"},
    ]
    path = write_csv([*good, *bad, good[0]], tmp_path / "pings.csv")
    report = ingest_pings(workspace, path, settings, now=NOW)
    assert (report.rows, report.accepted, report.duplicates, report.quarantined) == (6, 3, 1, 2)
    assert report.quarantined_by_reason == {"null_island": 1, "unparsable_time": 1}
    stored = _stored(workspace)
    assert stored.columns == [
        "ping_id",
        "vehicle_id",
        "ts",
        "lat",
        "lon",
        "speed_kmh",
        "heading",
        "accuracy_m",
        "source",
        "cell",
        "spike",
    ]
    assert stored["ping_id"].to_list() == [1, 2, 3]
    assert stored["cell"].dtype == pl.UInt64 and stored["cell"].null_count() == 0
    quarantined = workspace.quarantined("pings")
    assert sorted(quarantined["row"].to_list()) == [4, 5, 6]
    assert set(quarantined["file"]) == {str(path)}


def test_same_file_twice_stores_nothing_twice(workspace, settings, tmp_path):
    path = write_csv(
        [
            *_rows(make_track("V1", T0, [(6.5, 2.6), (6.6, 2.6)])),
            {"vehicle_id": "V1", "ts": "nope", "lat": "6.5", "lon": "2.6"},
        ],
        tmp_path / "p.csv",
    )
    first = ingest_pings(workspace, path, settings, now=NOW)
    second = ingest_pings(workspace, path, settings, now=NOW)
    assert (first.accepted, first.quarantined) == (2, 1)
    assert second.already_ingested and second.accepted == 0
    assert second.duplicates + second.quarantined == second.rows == 3
    assert _stored(workspace).height == 2
    assert workspace.quarantined("pings").height == 1


def test_overlapping_file_adds_only_new_rows_and_changes_nothing_stored(
    workspace, settings, tmp_path
):
    track = make_track("V1", T0, [(6.5 + i / 100, 2.6) for i in range(5)])
    ingest_pings(workspace, write_csv(_rows(track), tmp_path / "a.csv"), settings, now=NOW)
    before = _stored(workspace)
    moved = track.with_columns(pl.col("lat") + 1)  # same vehicle and times, other places
    extra = make_track("V1", T0 + timedelta(hours=1), [(7.0, 2.6)])
    rows = (
        _rows(track.head(2))
        + _rows(moved.slice(2, 1))
        + _rows(extra)
        + [{"vehicle_id": "V1", "ts": iso(T0), "lat": "95", "lon": "2.6"}]
    )
    report = ingest_pings(workspace, write_csv(rows, tmp_path / "b.csv"), settings, now=NOW)
    assert (report.accepted, report.duplicates, report.quarantined) == (1, 3, 1)
    reasons = workspace.quarantined("pings")["reason"].value_counts().sort("reason")
    assert dict(zip(reasons["reason"], reasons["count"], strict=True)) == {
        "conflicting_duplicate": 1,
        "duplicate": 2,
        "out_of_range_coordinates": 1,
    }
    after = _stored(workspace)
    assert after.head(before.height).equals(before)
    assert after.height == before.height + 1


def test_unreadable_file_is_refused_and_stores_nothing(workspace, settings, tmp_path):
    path = tmp_path / "pings.xlsx"
    path.write_bytes(b"PK\x03\x04 not a table")
    with pytest.raises(InputError, match=r"pings\.xlsx"):
        ingest_pings(workspace, path, settings, now=NOW)
    missing = write_csv(
        [{"vehicle_id": "V", "ts": iso(T0), "latitude": "6", "lon": "2"}], tmp_path / "m.csv"
    )
    with pytest.raises(InputError, match=r"m\.csv: column 'lat'"):
        ingest_pings(workspace, missing, settings, now=NOW)
    assert _stored(workspace).height == 0
    assert workspace.batches("committed") == []


def test_spikes_are_kept_and_flagged(workspace, settings, tmp_path):
    track = make_track("V1", T0, [(6.50, 2.60), (6.70, 2.60), (6.501, 2.60), (6.502, 2.60)], 30)
    report = ingest_pings(workspace, write_csv(_rows(track), tmp_path / "s.csv"), settings, now=NOW)
    assert report.accepted == 4 and report.flagged_spikes == 1
    assert _stored(workspace)["spike"].to_list() == [False, True, False, False]


def test_column_mapping(workspace, settings, tmp_path):
    rows = [{"device": "D1", "time": "1764230400", "latitude": "6.5", "longitude": "2.6"}]
    path = write_csv(rows, tmp_path / "mapped.csv")
    mapping = {"vehicle_id": "device", "ts": "time", "lat": "latitude", "lon": "longitude"}
    report = ingest_pings(workspace, path, settings, column_map=mapping, now=NOW)
    assert report.accepted == 1
    assert _stored(workspace)["ts"][0] == datetime(2025, 11, 27, 8, 0, tzinfo=UTC)


def test_seizures_idempotent_and_duplicates_by_id(workspace, settings, tmp_path):
    rows = [
        {"seizure_id": "S1", "date": "2026-09-01", "lat": "6.4", "lon": "2.7", "commodity": "fuel"},
        {
            "seizure_id": "S2",
            "date": "2026-09-02",
            "lat": "6.5",
            "lon": "2.7",
            "commodity": "drugs",
        },
    ]
    first = ingest_records(
        workspace, "seizures", write_csv(rows, tmp_path / "a.csv"), settings, now=NOW
    )
    changed = [{**rows[1], "commodity": "tobacco"}, {**rows[0], "seizure_id": "S3"}]
    second = ingest_records(
        workspace, "seizures", write_csv(changed, tmp_path / "b.csv"), settings, now=NOW
    )
    assert (first.accepted, second.accepted, second.duplicates) == (2, 1, 1)
    stored = workspace.read_table("seizures").sort("seizure_id")
    assert stored["seizure_id"].to_list() == ["S1", "S2", "S3"]
    assert stored["commodity"].to_list() == ["fuel", "drugs", "fuel"]  # S2 not overwritten
    assert workspace.quarantined("seizures")["reason"].to_list() == ["conflicting_duplicate"]


def test_watchlist_and_declarations(workspace, settings, tmp_path):
    watch = [
        {"vehicle_id": "TRK-1", "reason": "prior seizure", "expires": "2027-01-01"},
        {"vehicle_id": "", "reason": "no id", "expires": ""},
    ]
    report = ingest_records(
        workspace, "watchlist", write_csv(watch, tmp_path / "w.csv"), settings, now=NOW
    )
    assert (report.accepted, report.quarantined) == (1, 1)
    decl = [
        {
            "vehicle_id": "TRK-1",
            "corridor_id": "C1",
            "start": "2026-11-01T08:00:00Z",
            "deadline": "2026-11-02T08:00:00Z",
            "dest_lat": "12.0",
            "dest_lon": "8.5",
        },
        {
            "vehicle_id": "TRK-2",
            "corridor_id": "C1",
            "start": "2026-11-01T08:00:00Z",
            "deadline": "2026-10-31T08:00:00Z",
            "dest_lat": "12.0",
            "dest_lon": "8.5",
        },
    ]
    report = ingest_records(
        workspace, "declarations", write_csv(decl, tmp_path / "d.csv"), settings, now=NOW
    )
    assert (report.accepted, report.quarantined) == (1, 1)
    assert workspace.read_table("declarations")["deadline"][0] == datetime(
        2026, 11, 2, 8, tzinfo=UTC
    )

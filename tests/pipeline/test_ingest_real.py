"""Real data nobody here wrote (reads ../shared/data): exact counts through the whole ingest."""

import csv

import gpxpy
import polars as pl
import pytest
from support.paths import SHARED_DATA

from geoint.pipeline.ingest import ingest_pings, ingest_records

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")


def test_liverpool_bus_csv_every_fix_accepted(workspace, settings):
    path = SHARED_DATA / "tracks" / "liverpool_bus_route14_outbound.csv"
    mapping = {"lat": "latitude", "lon": "longitude", "ts": "timestamp", "heading": "bearing"}
    report = ingest_pings(workspace, path, settings, column_map=mapping)
    assert (report.rows, report.accepted, report.duplicates, report.quarantined) == (
        1533,
        1533,
        0,
        0,
    )
    with open(path, encoding="utf-8") as handle:
        reference = list(csv.DictReader(handle))
    stored = workspace.scan_pings().collect()
    assert set(stored["vehicle_id"]) == {r["vehicle_id"] for r in reference}
    assert stored["lat"].sum() == pytest.approx(sum(float(r["latitude"]) for r in reference))


def test_osm_gpx_every_point_accounted_for(workspace, settings):
    path = SHARED_DATA / "tracks" / "osm_traces.gpx"
    with open(path, encoding="utf-8") as handle:
        gpx = gpxpy.parse(handle)  # an independent parser as the reference
    points = [(t.name, p.time) for t in gpx.tracks for s in t.segments for p in s.points]
    distinct = len(set(points))
    report = ingest_pings(workspace, path, settings)
    assert report.rows == len(points) == 5000
    assert report.accepted == distinct
    assert report.duplicates == len(points) - distinct > 0  # the traces repeat some timestamps
    assert report.quarantined == 0
    assert report.accepted + report.duplicates + report.quarantined == report.rows
    stored = workspace.scan_pings().collect()
    assert stored.height == distinct
    assert stored["vehicle_id"].n_unique() == len(gpx.tracks) == 3


def test_asam_incidents_dms_positions(workspace, settings):
    path = SHARED_DATA / "incidents" / "asam_world_raw.csv"
    mapping = {"seizure_id": "reference", "date": "date", "position": "position"}
    report = ingest_records(workspace, "seizures", path, settings, column_map=mapping)
    assert report.accepted + report.duplicates + report.quarantined == report.rows == 8619
    assert report.quarantined_by_reason.get("unparsable_coordinates", 0) == 0
    stored = workspace.read_table("seizures")
    by_id = {r["seizure_id"]: r for r in stored.filter(pl.col("seizure_id").is_in(
        ["2022-127", "2022-121"])).to_dicts()}  # fmt: skip
    # checked by hand against the file: 13°43'00"N 121°02'00"E and 0°04'00"S 51°06'00"W
    assert (by_id["2022-127"]["lat"], by_id["2022-127"]["lon"]) == pytest.approx(
        (13 + 43 / 60, 121 + 2 / 60)
    )
    assert (by_id["2022-121"]["lat"], by_id["2022-121"]["lon"]) == pytest.approx(
        (-4 / 60, -(51 + 6 / 60))
    )
    assert set(stored["position_precision"]) == {"exact"}

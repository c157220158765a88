"""A corrupt ping part: analysis names the file, the service answers 503 for what needs it,
and `geoint check` finds it, sets it aside, and says how to restore its pings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from support.api import api_settings, bearer, build_region, create_key
from support.cli import geoint
from support.workspaces import open_workspace

from geoint.api.app import create_app
from geoint.pipeline.ingest import ingest_pings
from geoint.settings import GeointSettings
from geoint.testing.builders import iso, make_track, write_csv

pytestmark = pytest.mark.databases

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DAY1, DAY2 = datetime(2026, 11, 20, 8, tzinfo=UTC), datetime(2026, 11, 21, 8, tzinfo=UTC)


def _track(tmp_path, vehicle: str, start: datetime):
    track = make_track(vehicle, start, [(6.50, 2.60), (6.51, 2.61), (6.52, 2.62)])
    rows = [{**r, "ts": iso(r["ts"])} for r in track.to_dicts()]
    return write_csv(rows, tmp_path / f"{vehicle}.csv")


@pytest.fixture
def damaged(tmp_path):
    """A workspace of two days; the part of the second is damaged in the middle."""
    region, ws = build_region(tmp_path / "region"), tmp_path / "ws"
    settings = GeointSettings(workspace=ws)
    store = open_workspace(ws)
    ingest_pings(store, _track(tmp_path, "V1", DAY1), settings, now=NOW)
    source = _track(tmp_path, "V2", DAY2)
    ingest_pings(store, source, settings, now=NOW)
    (part,) = (ws / "pings" / "date=2026-11-21").glob("part-*.parquet")
    data = bytearray(part.read_bytes())
    data[8 : len(data) - 8] = b"\xff" * (len(data) - 16)  # magic bytes kept, content gone
    part.write_bytes(bytes(data))
    store.engine.dispose()
    return ws, region, part, source


def test_analyze_names_the_unreadable_part_in_one_line(damaged):
    ws, region, part, _ = damaged
    done = geoint("analyze", "--workspace", str(ws), "--region", str(region), "--json")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert part.name in line and "geoint check" in line


def test_the_service_answers_503_for_what_needs_the_part(damaged):
    ws, region, _, _ = damaged
    key = bearer(create_key(ws, "analyst"))
    with TestClient(create_app(api_settings(ws, region))) as client:
        response = client.get("/api/v1/map/day?date=2026-11-21&vehicle=V2", headers=key)
        assert response.status_code == 503, response.text
        assert response.json()["type"] == "urn:geoint:problem:unreadable-storage"
        body = "vehicle_id,ts,lat,lon\nV3,2026-11-21T09:00:00Z,6.5,2.6\n"
        posted = client.post(
            "/api/v1/pings", content=body, headers=key | {"Content-Type": "text/csv"}
        )
        assert posted.status_code == 503
        assert client.get("/api/v1/map/day?date=2026-11-20&vehicle=V1", headers=key).is_success
        assert client.get("/map", headers=key).status_code == 200  # the page reads no data


def test_check_finds_sets_aside_and_the_source_restores(damaged):
    ws, _, part, source = damaged
    found = geoint("check", "--workspace", str(ws), "--json")
    assert found.returncode == 1
    report = json.loads(found.stdout)
    assert report["parts"] == 2 and not report["ok"]
    (problem,) = report["problems"]
    assert problem["file"].endswith(part.name) and "ingest" in problem["repair"]

    repaired = json.loads(geoint("check", "--workspace", str(ws), "--repair", "--json").stdout)
    assert repaired["ok"] and repaired["repaired"] == [f"corrupt/date=2026-11-21/{part.name}"]
    assert not part.exists() and (ws / repaired["repaired"][0]).exists()
    store = open_workspace(ws)
    try:
        assert store.scan_pings().collect()["vehicle_id"].unique().to_list() == ["V1"]
        again = ingest_pings(store, source, GeointSettings(workspace=ws), now=NOW)
        assert again.accepted == 3 and not again.already_ingested
    finally:
        store.engine.dispose()
    assert geoint("check", "--workspace", str(ws)).returncode == 0

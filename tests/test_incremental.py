"""Incremental analysis of new ping batches: only the affected vehicles, new events alert once."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from geoint.alerts import AlertQuery, AlertStore
from geoint.events import detect_events
from geoint.layers import Region, RegionIndex, shipped_region_path
from geoint.pipeline import analyze_batch, ingest_pings, lookback_s
from geoint.settings import GeointSettings
from geoint.store import Workspace
from geoint.testing import iso, write_csv
from tests.test_cli import geoint

T0 = datetime(2026, 9, 14, 1, tzinfo=UTC)
# Benin → Nigeria at 8°N, about 30 km from any official crossing of the shipped region
CROSSING = [(8.0, 2.67 + 0.005 * i) for i in range(9)]  # border near 2.695°E
STOP = [(7.0, 2.0)] * 5  # deep in Benin: no event


def rows(vehicle: str, start: datetime, points: list[tuple[float, float]]) -> list[dict]:
    """CSV rows of `vehicle` visiting `points` a minute apart from `start`."""
    return [
        {"vehicle_id": vehicle, "ts": iso(start + timedelta(minutes=i)), "lat": lat, "lon": lon}
        for i, (lat, lon) in enumerate(points)
    ]


@pytest.fixture(scope="module")
def ground():
    return RegionIndex(Region.load(shipped_region_path()))


def _ingest(store, settings, ground, tmp_path, name, records):
    report = ingest_pings(store, write_csv(records, tmp_path / name), settings)
    if report.already_ingested or not report.accepted:
        return None
    return analyze_batch(store, ground, settings, int(report.batch_id))


def test_new_pings_raise_one_alert_once_and_leave_other_vehicles_alone(tmp_path, ground):
    settings = GeointSettings(workspace=tmp_path / "ws")
    store = Workspace(settings.workspace)
    alerts = AlertStore(store)
    # the first half of the crossing, then another vehicle's pings: no event yet
    first = _ingest(store, settings, ground, tmp_path, "a.csv", rows("V1", T0, CROSSING[:5]))
    assert first["events"] == 0 and first["alerts"]["created"] == 0
    # the second half completes an unofficial crossing: exactly one new alert
    rest = rows("V1", T0, CROSSING)[5:]
    second = _ingest(store, settings, ground, tmp_path, "b.csv", rest)
    assert second["vehicles"] == 1 and second["pings"] == len(CROSSING)
    assert second["alerts"]["created"] == 1
    (alert,), _ = alerts.list(AlertQuery(limit=10))
    assert alert["type"] == "unofficial_crossing" and alert["vehicles"] == ["V1"]
    crossing = store.read_events()
    assert crossing["event_type"].to_list() == ["unofficial_crossing"]
    # the same pings in another file are duplicates: nothing is analysed, no alert
    assert _ingest(store, settings, ground, tmp_path, "c.csv", rest[::-1]) is None
    # analysing the batch again re-detects the same event: known, no alert, events unchanged
    again = analyze_batch(store, ground, settings, int(second["batch"]))
    assert again["alerts"]["created"] == 0 and again["alerts"]["known"] == 1
    assert store.read_events().equals(crossing)
    # an unrelated vehicle's pings leave V1's events alone
    other = _ingest(store, settings, ground, tmp_path, "d.csv", rows("V2", T0, STOP))
    assert other["vehicles"] == 1 and other["replaced"] == 0 and other["events"] == 0
    assert store.read_events().equals(crossing)
    assert len(alerts.list(AlertQuery(limit=10))[0]) == 1
    # the merged events are those of a detection over every stored ping
    everything = detect_events(store.scan_pings().collect(), ground, settings)
    assert everything["event_id"].to_list() == store.read_events()["event_id"].to_list()


def test_lookback_covers_every_event_window():
    settings = GeointSettings(alerts={"incremental_lookback_s": 60})
    assert lookback_s(settings) == settings.events.shuttle_window_s
    longer = GeointSettings(alerts={"incremental_lookback_s": 3 * 86400})
    assert lookback_s(longer) == 3 * 86400


def test_cli_ingest_analyzes_the_batch_when_asked(tmp_path):
    path = write_csv(rows("V1", T0, CROSSING), tmp_path / "p.csv")
    ws, region = str(tmp_path / "ws"), str(shipped_region_path())
    refused = geoint("ingest", "pings", str(path), "-w", ws, "--analyze", "--json")
    assert refused.returncode != 0 and "--analyze needs --region" in refused.stderr
    result = geoint(
        "ingest", "pings", str(path), "-w", ws, "--region", region, "--analyze", "--json"
    )
    assert result.returncode == 0, result.stderr
    analysis = json.loads(result.stdout)["analysis"]
    assert analysis["events"] == 1 and analysis["alerts"]["created"] == 1

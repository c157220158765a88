"""Pings posted to a real server raise their alerts by themselves (incremental analysis)."""

import calendar
from types import SimpleNamespace

import anyio
import httpx2
import polars as pl
import pytest
from fastapi import BackgroundTasks
from support.api import (
    bearer,
    build_region,
    create_key,
    read_sse,
    start_server,
    stop_server,
)
from support.incremental import CROSSING, T0, rows
from support.workspaces import open_workspace

from geoint.alerts.store import AlertQuery, AlertStore
from geoint.api.background import BatchAnalysis, CellRefresh
from geoint.api.ingest import schedule_analysis
from geoint.api.settings import ApiSettings
from geoint.layers import Region, RegionIndex, shipped_region_path
from geoint.pipeline.ingest import ingest_pings
from geoint.testing.builders import write_csv

pytestmark = pytest.mark.databases


def _csv(records: list[dict]) -> str:
    lines = ["vehicle_id,ts,lat,lon"]
    lines += [f"{r['vehicle_id']},{r['ts']},{r['lat']},{r['lon']}" for r in records]
    return "\n".join(lines) + "\n"


@pytest.fixture
def server(tmp_path):
    region, ws = build_region(tmp_path / "region"), tmp_path / "ws"
    keys = {role: create_key(ws, role) for role in ("admin", "feeder")}
    running = start_server(ws, region, tmp_path / "server.log")
    try:
        yield running, keys
    finally:
        stop_server(running)


def test_posted_pings_raise_one_alert_on_the_list_and_the_stream(server):
    running, keys = server
    body = _csv(rows("V1", T0, CROSSING))

    def post(text: str) -> dict:
        response = httpx2.post(
            f"{running.url}/api/v1/pings",
            content=text,
            headers=bearer(keys["feeder"]) | {"Content-Type": "text/csv"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    reports: list[dict] = []
    (event,) = read_sse(
        running.url, keys["admin"], None, 1, then=lambda: reports.append(post(body))
    )
    assert reports[0]["accepted"] == len(CROSSING)
    assert event["action"] == "created" and event["actor"] == "geoint ingest"
    assert event["alert"]["type"] == "unofficial_crossing"
    assert event["alert"]["vehicles"] == ["V1"] and event["alert"]["sector"] == "south"
    listed = httpx2.get(f"{running.url}/api/v1/alerts", headers=bearer(keys["admin"])).json()
    assert [a["id"] for a in listed["alerts"]] == [event["alert_id"]]
    # the same pings again: the same body, another body, one through /osmand; nothing is stored
    assert post(body)["already_ingested"]
    assert post(_csv(rows("V1", T0, CROSSING)[::-1]))["accepted"] == 0
    first = rows("V1", T0, CROSSING)[0]
    osmand = httpx2.get(
        f"{running.url}/osmand",
        params={
            "id": "V1",
            "lat": first["lat"],
            "lon": first["lon"],
            "timestamp": calendar.timegm(T0.timetuple()),
            "key": keys["feeder"],
        },
    )
    assert osmand.status_code == 200 and osmand.json()["accepted"] == 0
    with pytest.raises(httpx2.ReadTimeout):
        _read_sse_quietly(running.url, keys["admin"], str(event["id"]))
    again = httpx2.get(f"{running.url}/api/v1/alerts", headers=bearer(keys["admin"])).json()
    assert again["alerts"] == listed["alerts"]


def _read_sse_quietly(url: str, key: str, last_id: str) -> None:
    """Wait for any SSE event after `last_id` for 1.5 s (the keep-alive comes after 15 s)."""
    headers = bearer(key) | {"Last-Event-ID": last_id}
    with httpx2.stream("GET", f"{url}/api/v1/alerts/stream", headers=headers, timeout=1.5) as r:
        for line in r.iter_lines():
            assert not line.startswith("id:"), line


@pytest.mark.parametrize("child_processes", [True, False])
def test_scheduled_analysis_raises_event_alerts_then_updates_the_cells(tmp_path, child_processes):
    api = {"child_processes": child_processes}
    settings = ApiSettings(workspace=tmp_path / "ws", region=shipped_region_path(), api=api)
    store = open_workspace(settings.workspace)
    services = SimpleNamespace(
        workspace=store,
        index=RegionIndex(Region.load(shipped_region_path())),
        settings=settings,
        cell_refresh=CellRefresh(),
        batch_analysis=BatchAnalysis(),
    )
    report = ingest_pings(store, write_csv(rows("V1", T0, CROSSING), tmp_path / "p.csv"), settings)
    tasks = BackgroundTasks()
    schedule_analysis(services, report, tasks)
    (task,) = tasks.tasks
    # as Starlette runs it after the response: the events and alerts, then the cells
    anyio.run(task.func, *task.args)
    (alert,), _ = AlertStore(store).list(AlertQuery(limit=10))
    assert alert["type"] == "unofficial_crossing"
    days = pl.read_parquet(store.root / "cells" / "days.parquet")
    assert days["events_unofficial_crossing"].sum() == 1
    vehicle_days = pl.read_parquet(store.root / "cells" / "vehicle_days.parquet")
    assert vehicle_days["vehicle_id"].cast(pl.String).unique().to_list() == ["V1"]

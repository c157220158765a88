"""Pings posted to a real server raise their alerts by themselves (incremental analysis)."""

import calendar
import time

import httpx2
import polars as pl
import psutil
import pytest
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
from geoint.api.analysis import RETRY_AFTER_S, PendingAnalyses
from geoint.api.background import CellRefresh
from geoint.ingest.readers import read_records
from geoint.layers import Region, RegionIndex, shipped_region_path
from geoint.pipeline.ingest import file_sha256, ingest_ping_records
from geoint.settings import GeointSettings
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


def _pending(tmp_path, settings: GeointSettings, clock=None) -> PendingAnalyses:
    """The analyses of a workspace holding one posted (pending) batch of a border crossing."""
    store = open_workspace(settings.workspace)
    path = write_csv(rows("V1", T0, CROSSING), tmp_path / "p.csv")
    read = read_records(path)
    report = ingest_ping_records(
        store, read, "POST", file_sha256(path), settings, queue_analysis=True
    )
    assert store.pending_batches() == [int(report.batch_id)]
    return PendingAnalyses(
        store,
        RegionIndex(Region.load(shipped_region_path())),
        settings,
        CellRefresh(),
        **({} if clock is None else {"clock": clock}),
    )


def test_pending_batches_raise_event_alerts_then_the_cells_are_updated(tmp_path):
    analyses = _pending(tmp_path, GeointSettings(workspace=tmp_path / "ws"))
    store = analyses.workspace
    analyses.run_pending()
    (alert,), _ = AlertStore(store).list(AlertQuery(limit=10))
    assert alert["type"] == "unofficial_crossing"
    assert store.pending_batches() == []  # analysed: off the queue
    analyses.close()  # waits for the cell thread
    days = pl.read_parquet(store.root / "cells" / "days.parquet")
    assert days["events_unofficial_crossing"].sum() == 1
    vehicle_days = pl.read_parquet(store.root / "cells" / "vehicle_days.parquet")
    assert vehicle_days["vehicle_id"].cast(pl.String).unique().to_list() == ["V1"]


def test_another_process_analysing_holds_the_batches_for_its_turn(tmp_path):
    analyses = _pending(tmp_path, GeointSettings(workspace=tmp_path / "ws"))
    store = analyses.workspace
    with store.first_of_processes("analysis") as turn:  # as another server process would
        assert turn
        analyses.run_pending()
        assert store.pending_batches() != []  # not ours to analyse now
    analyses.run_pending()
    assert store.pending_batches() == []
    analyses.close()


def test_runs_start_the_interval_apart_and_nothing_waits_under_the_turn(tmp_path):
    now = [1000.0]
    settings = GeointSettings(
        workspace=tmp_path / "ws", alerts={"incremental_events_interval_s": 10}
    )
    analyses = _pending(tmp_path, settings, lambda: now[0])
    store = analyses.workspace
    analyses.run_pending()
    path = write_csv(rows("V2", T0, CROSSING), tmp_path / "q.csv")
    later = ingest_ping_records(
        store, read_records(path), "POST", file_sha256(path), settings, queue_analysis=True
    )
    now[0] += 9
    analyses.run_pending()  # too soon: returns at once, the batch stays queued
    assert store.pending_batches() == [int(later.batch_id)]
    with store.first_of_processes("analysis") as turn:
        assert turn  # the turn is free between runs: another process may take it
    now[0] += 1
    analyses.run_pending()
    assert store.pending_batches() == []
    analyses.close()


def test_a_failed_run_keeps_its_batches_queued_and_is_retried_later(tmp_path):
    now = [1000.0]
    analyses = _pending(tmp_path, GeointSettings(workspace=tmp_path / "ws"), lambda: now[0])
    store = analyses.workspace
    broken = analyses.index
    analyses.index = None  # the run fails (no region index)
    analyses.run_pending()
    assert store.pending_batches() != []
    analyses.index = broken
    now[0] += RETRY_AFTER_S - 1
    analyses.run_pending()  # too soon: not tried again
    assert store.pending_batches() != []
    now[0] += 1
    analyses.run_pending()
    assert store.pending_batches() == []
    analyses.close()


def test_the_storage_and_analysis_processes_stop_with_their_server_even_when_killed(server):
    running, keys = server
    posted = httpx2.post(
        f"{running.url}/api/v1/pings",
        content=_csv(rows("V1", T0, CROSSING)),
        headers=bearer(keys["feeder"]) | {"Content-Type": "text/csv"},
    )
    assert posted.status_code == 200 and posted.json()["accepted"] == len(CROSSING)
    server_process = psutil.Process(running.process.pid)
    deadline = time.monotonic() + 60
    while len(children := _spawned(server_process)) < 2:  # the group's, then the analyses'
        assert time.monotonic() < deadline, "the storage and analysis processes never started"
        time.sleep(0.1)
    running.process.kill()  # no shutdown: each child notices its server is gone
    for child in children:
        child.wait(timeout=30)


def _spawned(process: psutil.Process) -> list[psutil.Process]:
    return [c for c in process.children() if "spawn_main" in " ".join(c.cmdline())]

"""A server killed after storing pings and before analysing them catches up when it starts
again: the watch-listed vehicle's alert is raised without a full `geoint analyze`."""

from __future__ import annotations

import os
import time

import httpx2
import pytest
from support.api import bearer, build_region, create_key, start_server, stop_server
from support.incremental import CROSSING, STOP, T0, rows
from support.workspaces import open_workspace

pytestmark = pytest.mark.databases


def _csv(records: list[dict]) -> str:
    lines = ["vehicle_id,ts,lat,lon"]
    lines += [f"{r['vehicle_id']},{r['ts']},{r['lat']},{r['lon']}" for r in records]
    return "\n".join(lines) + "\n"


def _post(url: str, key: str, path: str, body: str) -> dict:
    headers = bearer(key) | {"Content-Type": "text/csv"}
    response = httpx2.post(f"{url}{path}", content=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _wait(condition, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_batches_stored_before_a_kill_are_analysed_at_the_next_start(tmp_path):
    region, ws = build_region(tmp_path / "region"), tmp_path / "ws"
    feeder, admin = create_key(ws, "feeder"), create_key(ws, "admin")
    store = open_workspace(ws)
    # the first analysis runs at once, the next waits an hour: the kill comes before it
    slow = os.environ | {"GEOINT_ALERTS__INCREMENTAL_EVENTS_INTERVAL_S": "3600"}
    server = start_server(ws, region, tmp_path / "first.log", env=slow)
    try:
        _post(server.url, feeder, "/api/v1/watchlist", "vehicle_id,reason\nW1,stolen\n")
        _post(server.url, feeder, "/api/v1/pings", _csv(rows("V0", T0, STOP)))
        _wait(lambda: store.pending_batches() == [])
        batch = int(
            _post(server.url, feeder, "/api/v1/pings", _csv(rows("W1", T0, CROSSING)))["batch_id"]
        )
        time.sleep(0.5)
        assert store.pending_batches() == [batch]
    finally:
        server.process.kill()  # SIGKILL: no shutdown, the pending run is lost with the process
        server.process.wait()
    restarted = start_server(ws, region, tmp_path / "second.log")
    try:

        def raised() -> bool:
            url = f"{restarted.url}/api/v1/alerts?type=watchlist_hit"
            alerts = httpx2.get(url, headers=bearer(admin), timeout=30).json()["alerts"]
            return [a["vehicles"] for a in alerts] == [["W1"]]

        _wait(raised)
        # the batch leaves the queue just after its alerts are stored: wait for it, too
        _wait(lambda: store.pending_batches() == [])
    finally:
        stop_server(restarted)
        store.engine.dispose()

"""Faults under the service: a full disk (Parquet writes and the database) and a database
locked by another process answer one clear problem, never a 500 or a traceback."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from support.alerts import events
from support.api import SOUTH, api_settings, bearer, build_region, create_key
from support.faults import fill_disk_on_parquet
from support.workspaces import open_workspace

from geoint.alerts.raising import raise_alerts
from geoint.api.app import create_app
from geoint.layers import Region, RegionIndex
from geoint.settings import GeointSettings

CSV = "vehicle_id,ts,lat,lon\nV1,2026-09-14T01:00:00Z,6.5,2.6\nV1,2026-09-14T01:01:00Z,6.51,2.6\n"


@pytest.fixture
def served(tmp_path):
    region, ws = build_region(tmp_path / "region"), tmp_path / "ws"
    keys = {role: create_key(ws, role) for role in ("admin", "analyst")}
    store = open_workspace(ws)
    ground = RegionIndex(Region.load(region))
    raise_alerts(store, ground, GeointSettings(workspace=ws), events({"lat": SOUTH[0]}))
    store.engine.dispose()
    # the faults are injected into this process: posts are stored and analysed here too
    with TestClient(create_app(api_settings(ws, region, child_processes=False))) as client:
        yield client, keys, client.app_state["services"].workspace


@pytest.mark.databases  # the other two fill and lock an SQLite file
def test_ingest_on_a_full_disk_is_507_and_stores_nothing(served, monkeypatch):
    client, keys, workspace = served
    headers = bearer(keys["analyst"]) | {"Content-Type": "text/csv"}
    with monkeypatch.context() as patch:
        fill_disk_on_parquet(patch)
        response = client.post("/api/v1/pings", content=CSV, headers=headers)
    assert response.status_code == 507, response.text
    assert response.json()["type"] == "urn:geoint:problem:storage-full"
    assert not [p for p in (workspace.root / "pings").rglob("*") if p.is_file()]
    # the post's batch and the batch of its group's shared part (docs/ingest.md)
    assert [(b.kind, b.status) for b in workspace.batches()] == [
        ("compaction", "aborted"),
        ("pings", "aborted"),
    ]
    assert client.post("/api/v1/pings", content=CSV, headers=headers).json()["accepted"] == 2


def test_an_alert_action_on_a_full_database_is_507(served):
    client, keys, workspace = served

    def cap(connection, _record) -> None:  # the database may not grow by one more page
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count={pages}")

    sa.event.listen(workspace.engine, "connect", cap)
    workspace.engine.dispose()
    try:
        response = client.post(
            "/api/v1/alerts/1/ack", headers=bearer(keys["analyst"]), json={"note": "x" * 4000}
        )
    finally:
        sa.event.remove(workspace.engine, "connect", cap)
        workspace.engine.dispose()
    assert response.status_code == 507, response.text
    assert client.get("/api/v1/alerts/1", headers=bearer(keys["analyst"])).json()["status"] == "new"


def test_a_database_locked_by_another_process_is_503_with_retry_after(served):
    client, keys, workspace = served

    def impatient(connection, _record) -> None:  # wait 0.2 s for the lock, not 30 s
        connection.execute("PRAGMA busy_timeout=200")

    sa.event.listen(workspace.engine, "connect", impatient)
    workspace.engine.dispose()
    holder = sqlite3.connect(workspace.root / "geoint.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        response = client.post("/api/v1/alerts/1/ack", headers=bearer(keys["analyst"]))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    ack = client.post("/api/v1/alerts/1/ack", headers=bearer(keys["analyst"]))
    assert ack.status_code == 200

"""`geoint serve --workers N`: several API processes on one PostgreSQL database, driven by
concurrent clients; then everything is counted (docs/deploy.md)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx2
import polars as pl
import pytest
import sqlalchemy as sa
from support.api import bearer, build_region, create_key, read_sse, start_server, stop_server
from support.cli import geoint
from support.incremental import CROSSING, STOP, T0, rows
from support.workspaces import open_workspace

from geoint.store.tables import alert_changes, alert_sources, alerts

WATCHED = [f"W{i}" for i in range(4)]  # watch-listed: each raises one alert, once
DEVICES = [f"D{i}" for i in range(6)]  # OsmAnd devices posting one position per request


def _wait(condition, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.25)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_workers_lose_and_double_nothing(tmp_path, database_url):
    region, ws = build_region(tmp_path / "region"), tmp_path / "ws"
    feeder, admin = create_key(ws, "feeder"), create_key(ws, "admin")
    server = start_server(
        ws, region, tmp_path / "server.log", timeout_s=300, args=("--workers", "3")
    )
    store = open_workspace(ws)
    client = httpx2.Client(timeout=60)
    try:
        _wait(lambda: server.log.read_text().count("Application startup complete") == 3)
        watch = "vehicle_id,reason\n" + "".join(f"{v},stolen\n" for v in WATCHED)
        _post(client, server.url, feeder, "/api/v1/watchlist", watch)

        # pings: each watched vehicle's crossing cut into posts of 3, and OsmAnd positions,
        # every device's position posted twice (a retry) by two clients at once
        posts = [
            _csv(part) for vehicle in WATCHED for part in _chunks(rows(vehicle, T0, CROSSING), 3)
        ]
        positions = [
            {"id": d, "lat": lat, "lon": lon, "timestamp": (T0 + timedelta(minutes=i)).isoformat()}
            for d in DEVICES
            for i, (lat, lon) in enumerate(STOP)
        ]
        expected_pings = len(WATCHED) * len(CROSSING) + len(positions)

        def send(job) -> int:
            if isinstance(job, str):
                return _post(client, server.url, feeder, "/api/v1/pings", job)["accepted"]
            response = client.get(f"{server.url}/osmand", params={**job, "key": feeder})
            assert response.status_code == 200, response.text
            return response.json()["accepted"]

        with ThreadPoolExecutor(8) as pool:
            accepted = sum(pool.map(send, [*posts, *positions, *positions]))
        assert accepted == expected_pings  # a retried position is stored once
        _wait(lambda: store.pending_batches() == [])

        def hits() -> list[dict]:
            url = f"{server.url}/api/v1/alerts?type=watchlist_hit&limit=100"
            return client.get(url, headers=bearer(admin)).json()["alerts"]

        _wait(lambda: len(hits()) == len(WATCHED))
        pings = store.read_pings(store.scan_pings())
        assert pings.height == expected_pings == pings["ping_id"].n_unique()
        assert pings.unique(["vehicle_id", "ts"]).height == expected_pings

        # acknowledgements: three clients race for every open alert; readers page meanwhile
        with store.engine.connect() as conn:
            ids = list(conn.execute(sa.select(alerts.c.id).order_by(alerts.c.id)).scalars())
        start = _last_seq(store)
        received: list[dict] = []
        stream = threading.Thread(
            target=lambda: received.extend(
                read_sse(server.url, admin, str(start), len(ids), then=None)
            )
        )
        stream.start()

        def ack(alert_id: int) -> int:
            url = f"{server.url}/api/v1/alerts/{alert_id}/ack"
            return client.post(url, headers=bearer(admin), json={"note": "on it"}).status_code

        def read(_page: int) -> int:
            url = f"{server.url}/api/v1/alerts?limit=5"
            return client.get(url, headers=bearer(admin)).status_code

        with ThreadPoolExecutor(8) as pool:
            acks = list(pool.map(ack, ids * 3))
            assert set(pool.map(read, range(30))) == {200}
        stream.join(timeout=120)
        assert sorted(acks) == sorted([200] * len(ids) + [409] * 2 * len(ids))

        with store.engine.connect() as conn:
            per_source = conn.execute(
                sa.select(alert_sources.c.rule, alert_sources.c.source, sa.func.count())
                .group_by(alert_sources.c.rule, alert_sources.c.source)
                .having(sa.func.count() > 1)
            ).all()
            subjects = conn.execute(
                sa.select(alerts.c.rule, alerts.c.subject, sa.func.count())
                .group_by(alerts.c.rule, alerts.c.subject)
                .having(sa.func.count() > 1)
            ).all()
            acked = pl.DataFrame(
                conn.execute(
                    sa.select(alert_changes.c.alert_id, alert_changes.c.seq).where(
                        alert_changes.c.action == "acknowledged"
                    )
                ).all(),
                schema=["alert_id", "seq"],
                orient="row",
            )
        assert per_source == [] and subjects == []  # every alert raised once
        assert sorted(acked["alert_id"].to_list()) == ids  # every ack recorded once
        assert [change["id"] for change in received] == sorted(acked["seq"].to_list())
    finally:
        client.close()
        stop_server(server)
        store.close()


def test_sqlite_refuses_several_workers_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("GEOINT_DATABASE_URL", raising=False)
    region = build_region(tmp_path / "region")
    result = geoint(
        "serve", "--region", str(region), "--workspace", str(tmp_path / "ws"), "--workers", "2"
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --workers 2: several API processes need a PostgreSQL")
    assert len(result.stderr.strip().splitlines()) == 1


def _post(client: httpx2.Client, url: str, key: str, path: str, body: str) -> dict:
    headers = bearer(key) | {"Content-Type": "text/csv"}
    response = client.post(f"{url}{path}", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _csv(records: list[dict]) -> str:
    lines = ["vehicle_id,ts,lat,lon"]
    lines += [f"{r['vehicle_id']},{r['ts']},{r['lat']},{r['lon']}" for r in records]
    return "\n".join(lines) + "\n"


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _last_seq(store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(alert_changes.c.seq))).scalar() or 0

"""Late pings through a real server: a 3 h dead zone posted after the pings that followed it,
shuffled, gives the events of in-order delivery, one alert per event, each saying it was late
(the API's field, the CAP parameter and its words)."""

from __future__ import annotations

import time

import httpx2
import pytest
from support.api import bearer, build_region, create_key, start_server, stop_server
from support.incremental import T0, WHAT, alerts_agree, dead_zone_trip, in_order_delivery

from geoint.store.workspace import Workspace


def _csv(records: list[dict]) -> str:
    lines = ["vehicle_id,ts,lat,lon"]
    lines += [f"{r['vehicle_id']},{r['ts']},{r['lat']},{r['lon']}" for r in records]
    return "\n".join(lines) + "\n"


def _wait(condition, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_dead_zone_posted_late_and_shuffled_raises_each_alert_once_marked_late(tmp_path):
    region, ws = build_region(tmp_path / "region"), tmp_path / "ws"
    feeder, admin = create_key(ws, "feeder"), create_key(ws, "admin")
    before, buffered, after = dead_zone_trip("V1", T0)
    mixed = buffered[::7] + [r for k, r in enumerate(buffered) if k % 7]  # out of order
    server = start_server(ws, region, tmp_path / "server.log")
    store = Workspace(ws)
    try:
        for batch in (before, after, mixed[100:], mixed[:100], mixed[::-1]):
            response = httpx2.post(
                f"{server.url}/api/v1/pings",
                content=_csv(batch),
                headers=bearer(feeder) | {"Content-Type": "text/csv"},
                timeout=60,
            )
            assert response.status_code == 200, response.text
            _wait(lambda: store.pending_batches() == [])
        listed = httpx2.get(
            f"{server.url}/api/v1/alerts", headers=bearer(admin), timeout=30
        ).json()["alerts"]
        events = store.read_events()
        histories = {
            a["id"]: httpx2.get(
                f"{server.url}/api/v1/alerts/{a['id']}", headers=bearer(admin), timeout=30
            ).json()
            for a in listed
        }
        cap = httpx2.get(
            f"{server.url}/api/v1/alerts/{listed[0]['id']}/cap", headers=bearer(admin), timeout=30
        )
    finally:
        stop_server(server)
        store.engine.dispose()
    expected_events, expected_alerts = in_order_delivery(
        tmp_path, region, (before, buffered, after)
    )
    assert events.select(WHAT).rows() == expected_events
    assert len(listed) >= 2
    withdrawn = alerts_agree(expected_alerts, listed, events["event_id"].to_list())
    for alert in withdrawn:  # raised from the buffer's first part, replaced by the rest
        last = histories[alert["id"]]["history"][-1]
        assert last["action"] == "withdrawn" and "arrived later" in last["note"]
    for alert in listed:
        assert alert["raised_late"]["late_s"] > 1_800
        assert "Raised late: the event's pings arrived after" in alert["explanation"]
    assert cap.status_code == 200
    assert "<cap:valueName>raisedLateSeconds</cap:valueName>" in cap.text
    assert "Raised late: the event's pings arrived after pings of the vehicle" in cap.text

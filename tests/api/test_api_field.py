"""The field app's routes: the page and its worker behind auth, the inbox scoped and in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from support.alerts import SCRIPT, events
from support.api import NORTH, SOUTH, api_settings, bearer, build_region, create_key

from geoint.alerts.raising import raise_alerts
from geoint.api.app import create_app
from geoint.layers import Region, RegionIndex
from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace

T0 = datetime(2026, 9, 14, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A client on a workspace with two south alerts (one of them acknowledged), one north."""
    root = tmp_path_factory.mktemp("field")
    region, ws = build_region(root / "region"), root / "ws"
    keys = {"analyst": create_key(ws, "analyst"), "unit": create_key(ws, "unit", ("south",))}
    rows = events(
        {"event_id": "E-s1", "vehicle_id": SCRIPT, "lat": SOUTH[0], "lon": SOUTH[1]},
        {"event_id": "E-s2", "event_type": "border_loiter", "vehicle_id": "V2",
         "lat": SOUTH[0], "lon": SOUTH[1], "start": T0 + timedelta(hours=1)},
        {"event_id": "E-n", "vehicle_id": "V4", "lat": NORTH[0], "lon": NORTH[1]},
        {"event_id": "E-s3", "vehicle_id": "V9", "lat": SOUTH[0], "lon": SOUTH[1]},
    )  # fmt: skip
    store = Workspace(ws)
    store.write_events(rows)
    raise_alerts(store, RegionIndex(Region.load(region)), GeointSettings(workspace=ws), rows,
                 now=T0)  # fmt: skip
    store.engine.dispose()
    with TestClient(create_app(api_settings(ws, region))) as client:
        yield client, keys


def _inbox(served, role: str, **params) -> list[dict]:
    client, keys = served
    response = client.get("/api/v1/inbox", headers=bearer(keys[role]), params=params)
    assert response.status_code == 200, response.text
    return response.json()["alerts"]


def test_a_unit_inbox_holds_its_sectors_open_alerts_newest_first(served):
    everyone = _inbox(served, "analyst")
    assert {a["sector"] for a in everyone} == {"south", "north"}
    unit = _inbox(served, "unit")
    assert {a["sector"] for a in unit} == {"south"} and len(unit) == 3
    assert [a["id"] for a in unit] == sorted((a["id"] for a in unit), reverse=True)


def test_closed_alerts_leave_the_inbox(served):
    client, keys = served
    [closing] = [a for a in _inbox(served, "unit") if a["vehicles"] == ["V9"]]
    for verb in ("ack", "resolve"):
        answer = client.post(f"/api/v1/alerts/{closing['id']}/{verb}", headers=bearer(keys["unit"]))
        assert answer.status_code == 200, answer.text
    assert ["V9"] not in [a["vehicles"] for a in _inbox(served, "unit")]


def test_the_reason_is_said_in_words_in_the_callers_language(served):
    [loiter] = [a for a in _inbox(served, "analyst", lang="fr") if a["vehicles"] == ["V2"]]
    assert loiter["kind"] == "stationnement près de la frontière"
    assert loiter["reason"] == "à 0 m de la frontière, à 5.2 km d'un point de passage officiel"
    assert (loiter["status_text"], loiter["severity_text"]) == ("nouvelle", "Modérée")


def test_hostile_vehicle_ids_are_escaped_in_the_inbox_json(served):
    client, keys = served
    body = client.get("/api/v1/inbox", headers=bearer(keys["analyst"])).content
    assert b"<script>" not in body and b"\\u003cscript\\u003e" in body


def test_the_page_and_its_worker_need_a_session_or_key(served):
    client, keys = served
    for path in ("/field", "/field/", "/field/sw.js", "/field/basemap.json", "/api/v1/inbox"):
        assert client.get(path).status_code == 401, path
    page = client.get("/field/", headers=bearer(keys["unit"]) | {"Accept-Language": "fr"})
    assert page.status_code == 200 and page.headers["content-language"] == "fr"
    assert (
        "Nouvelle saisie" in page.text
        and "default-src 'self'" in page.headers["content-security-policy"]
    )
    worker = client.get("/field/sw.js", headers=bearer(keys["unit"]))
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    assert "__VERSION__" not in worker.text and 'const VERSION = "' in worker.text


def test_a_browser_without_a_session_is_sent_to_sign_in(served):
    client, _keys = served
    response = client.get("/field/", headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert "url=/login?next=/field/" in response.text

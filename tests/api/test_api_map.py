"""The served map: its page (one per scope and language, whatever the day) and its day's layers
(``/api/v1/map/day``: cached, never stale after an alert, a seizure, an analysis or pings)."""

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from support.api import api_settings, bearer, create_key

from geoint.api import map as api_map
from geoint.api.app import create_app
from geoint.store.workspace import Workspace

DAY = "2026-03-04"  # a day of the sample scenario with new alerts
VEHICLE = "AC-3824-KI"  # 510 pings on DAY
ACK_BUTTON = re.compile(r'data-alert=\\"(\d+)')  # popups are JSON strings
TRACK_PINGS = re.compile(r"pings</th><td>(\d+)")
SEIZURE_CSV = (
    "seizure_id,date,lat,lon,commodity,transport_mode,description\n"
    "S-CACHE-1,2026-03-03T10:00:00Z,6.80,2.66,fuel,truck,jerrycans\n"
)


def _geoint(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "geoint", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The analysed sample scenario (``geoint demo``), copied by each test that changes it."""
    workspace = tmp_path_factory.mktemp("map") / "ws"
    _geoint("demo", "--workspace", str(workspace), "--json")
    return workspace


@pytest.fixture
def served(template, tmp_path, monkeypatch):
    """A client on a copy of the sample workspace, keys by role, and the lists of what was built:
    pages (``builds["page"]``: scope, language) and days (``builds["day"]``: day, vehicle)."""
    ws = shutil.copytree(template, tmp_path / "ws")
    keys = {role: create_key(ws, role) for role in ("admin", "analyst")}
    keys["unit"] = create_key(ws, "unit", ("BEN-01",))
    builds: dict[str, list[tuple]] = {"page": [], "day": []}
    build_map, day_layers = api_map.build_map, api_map.day_layers

    def page(*args, **kwargs):
        builds["page"].append((kwargs["sectors"], kwargs["lang"]))
        return build_map(*args, **kwargs)

    def day(*args, **kwargs):
        builds["day"].append((args[1].day, args[1].vehicle))
        return day_layers(*args, **kwargs)

    monkeypatch.setattr(api_map, "build_map", page)
    monkeypatch.setattr(api_map, "day_layers", day)
    with TestClient(create_app(api_settings(ws, ws / "region"))) as client:
        yield client, keys, builds, ws


def _map(client: TestClient, key: str, **params: str) -> str:
    response = client.get("/map", headers=bearer(key), params=params)
    assert response.status_code == 200, response.text
    return response.text


def _day(client: TestClient, key: str, **params: str) -> str:
    response = client.get("/api/v1/map/day", headers=bearer(key), params=params)
    assert response.status_code == 200, response.text
    return response.text


def test_the_page_is_built_once_and_fetches_its_day(served):
    client, keys, builds, ws = served
    first = _map(client, keys["analyst"], date=DAY)
    assert _map(client, keys["analyst"], date=DAY) == first
    assert _map(client, keys["admin"], date=DAY) == first  # no per-session content
    assert _map(client, keys["analyst"]) == first  # nor per day or vehicle: the page asks
    assert _map(client, keys["analyst"], day=DAY, vehicle=VEHICLE) == first
    assert builds == {"page": [(None, "en")], "day": []}
    assert '"data": null' in first and "AC-3824-KI" not in first and "S-00" not in first
    _geoint("analyze", "--workspace", str(ws), "--region", str(ws / "region"), "--quiet")
    assert _map(client, keys["analyst"]) == first and len(builds["page"]) == 1
    packed = client.get("/map", headers={**bearer(keys["analyst"]), "Accept-Encoding": "gzip"},
                        params={"date": DAY})  # fmt: skip
    assert packed.headers["content-encoding"] == "gzip" and packed.text == first
    assert int(packed.headers["content-length"]) < len(first.encode()) / 2
    bad = client.get("/map", headers=bearer(keys["analyst"]), params={"date": "2026-13-01"})
    assert bad.status_code == 400  # the address is still checked


def test_a_day_is_built_once_per_day_and_vehicle(served):
    client, keys, builds, _ws = served
    first = _day(client, keys["analyst"], date=DAY)
    assert _day(client, keys["analyst"], date=DAY) == first
    assert _day(client, keys["admin"], date=DAY) == first
    _day(client, keys["analyst"])  # the default day (here the same): another build
    _day(client, keys["analyst"], date=DAY, vehicle=VEHICLE)
    _day(client, keys["analyst"], date=DAY, vehicle=VEHICLE)
    assert [vehicle for _day, vehicle in builds["day"]] == [None, None, VEHICLE]
    assert builds["page"] == []


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux's")
def test_a_day_is_built_at_the_reads_lower_priority(served, monkeypatch):
    client, keys, _builds, _ws = served
    niceness, build = [], api_map.day_layers

    def day(*args, **kwargs):
        niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return build(*args, **kwargs)

    monkeypatch.setattr(api_map, "day_layers", day)
    _day(client, keys["analyst"], date=DAY)
    assert niceness == [19]  # GEOINT_API__READ_NICE's default: posts go first (read_threads.py)


def test_an_acknowledged_alert_is_never_served_stale(served):
    client, keys, builds, _ws = served
    page = _day(client, keys["analyst"], date=DAY)
    alert = ACK_BUTTON.search(page)[1]
    ack = client.post(f"/api/v1/alerts/{alert}/ack", headers=bearer(keys["analyst"]), json={})
    assert ack.status_code == 200, ack.text
    after = _day(client, keys["analyst"], date=DAY)
    assert len(builds["day"]) == 2
    assert alert in ACK_BUTTON.findall(page) and alert not in ACK_BUTTON.findall(after)


def test_a_new_seizure_or_analysis_is_never_served_stale(served):
    client, keys, builds, ws = served
    assert "S-CACHE-1" not in _day(client, keys["analyst"], date=DAY)
    stored = client.post(
        "/api/v1/seizures",
        headers={**bearer(keys["analyst"]), "Content-Type": "text/csv"},
        content=SEIZURE_CSV,
    )
    assert stored.status_code == 200, stored.text
    assert "S-CACHE-1" in _day(client, keys["analyst"], date=DAY)
    assert len(builds["day"]) == 2
    _geoint("analyze", "--workspace", str(ws), "--region", str(ws / "region"), "--quiet")
    _day(client, keys["analyst"], date=DAY)
    assert len(builds["day"]) == 3


def test_new_pings_redraw_a_vehicle_track(served):
    client, keys, builds, ws = served
    track = _day(client, keys["analyst"], date=DAY, vehicle=VEHICLE)
    assert TRACK_PINGS.findall(track) == ["510"]
    last = Workspace(ws).scan_pings().filter(pl.col("vehicle_id") == VEHICLE).sort("ts").collect()
    lat, lon = last["lat"][-1], last["lon"][-1]
    ping = f"vehicle_id,ts,lat,lon\n{VEHICLE},{DAY}T23:59:30Z,{lat},{lon}\n"
    headers = {**bearer(keys["analyst"]), "Content-Type": "text/csv"}
    assert client.post("/api/v1/pings", headers=headers, content=ping).json()["accepted"] == 1
    assert TRACK_PINGS.findall(_day(client, keys["analyst"], date=DAY, vehicle=VEHICLE)) == ["511"]
    assert len(builds["day"]) == 2


def test_a_unit_key_gets_its_own_scoped_page(served):
    client, keys, builds, _ws = served
    analyst = _map(client, keys["analyst"], date=DAY)
    unit = _map(client, keys["unit"], date=DAY)
    assert len(builds["page"]) == 2 and unit != analyst  # never the analyst's cached page
    assert "leaflet" in unit and _map(client, keys["unit"], date=DAY) == unit
    assert len(builds["page"]) == 2
    analyst, unit = _day(client, keys["analyst"], date=DAY), _day(client, keys["unit"], date=DAY)
    assert 0 < len(ACK_BUTTON.findall(unit)) < len(ACK_BUTTON.findall(analyst))


def test_the_language_comes_from_the_query_or_the_browser(served):
    client, keys, builds, _ws = served
    english = client.get("/map", headers=bearer(keys["analyst"]), params={"date": DAY})
    assert english.headers["content-language"] == "en" and "Risk (H3 cells)" in english.text
    french = client.get("/map", headers={**bearer(keys["analyst"]), "Accept-Language": "fr-FR"},
                        params={"date": DAY})  # fmt: skip
    assert french.headers["content-language"] == "fr"
    assert "Risque (cellules H3)" in french.text and '<html lang="fr">' in french.text
    assert _map(client, keys["analyst"], date=DAY, lang="fr") == french.text
    assert len(builds["page"]) == 2
    bad = client.get("/map", headers=bearer(keys["analyst"]), params={"lang": "<b>"})
    assert bad.status_code == 400


def test_the_day_layers_are_scoped_cached_and_replace_the_page_s(served):
    client, keys, builds, _ws = served
    url = "/api/v1/map/day"
    day = client.get(url, headers=bearer(keys["analyst"]), params={"date": DAY}).json()
    assert day["header"]["day"] == DAY and day["header"]["counts"]["events"] == 110
    assert day["layers"]["risk"] is None  # the served map reads the risk from /tiles
    assert len(day["layers"]["alerts"]["features"]) == day["header"]["counts"]["alerts"] == 74
    unit = client.get(url, headers=bearer(keys["unit"]), params={"date": DAY}).json()
    assert 0 < unit["header"]["counts"]["alerts"] < 74
    sectors = {f["properties"]["popup"].count("BEN-01") > 0
               for f in unit["layers"]["alerts"]["features"]}  # fmt: skip
    assert sectors == {True}
    again = client.get(url, headers=bearer(keys["analyst"]), params={"date": DAY})
    assert again.json() == day and builds["page"] == []  # the day is not a page build
    assert len(builds["day"]) == 2  # one per scope
    assert client.get(url, params={"date": DAY}).status_code == 401

"""The web map: layers, escaping and the polygon cap, then the real page in headless Chromium.

One demo workspace per session (``geoint demo``) plus a seizure whose description is hostile
HTML; the browser tests record every request and fail on any that leaves the page's own origin.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import httpx2
import pytest
import shapely
from support.api import bearer, create_key, free_port, start_server, stop_server

from geoint.layers import Region
from geoint.serve.map_data import MAX_FEATURES, map_data
from geoint.store.workspace import Workspace
from geoint.web import map as web_map

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Sets a flag if it ever runs as HTML; the map must show it as text.
HOSTILE = (
    '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">`${window.__xss = 3}`'
)
HOSTILE_CSV = (
    "seizure_id,date,lat,lon,commodity,transport_mode,description\n"
    f'XSS-1,2026-03-03T10:00:00Z,6.80,2.66,fuel,truck,"{HOSTILE.replace(chr(34), chr(34) * 2)}"\n'
)
BUSY_DAY = date(2026, 3, 4)  # about 7 500 active res-8 cells in the sample scenario
LAYERS = ("No basemap", "OpenStreetMap (online)", "Sectors", "Roads", "Border",
          "Crossings (hours)", "Transit corridors", "Seizures (by commodity)")  # fmt: skip


def _geoint(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "geoint", *args], check=True, capture_output=True)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """A workspace with the analysed sample scenario and one hostile seizure."""
    root = tmp_path_factory.mktemp("webmap")
    workspace = root / "ws"
    _geoint("demo", "--workspace", str(workspace), "--json")
    hostile = root / "hostile.csv"
    hostile.write_text(HOSTILE_CSV, encoding="utf-8")
    _geoint("ingest", "seizures", str(hostile), "--workspace", str(workspace), "--json")
    crossing = gpd.GeoDataFrame(
        {"name": [f"XSS-2 {HOSTILE}"], "hours": ["24h"]},
        geometry=[shapely.Point(2.70, 6.90)],
        crs="EPSG:4326",
    )
    Region.load(workspace / "region").add_frame("crossings", crossing, source="hostile crossing")
    return workspace


@pytest.fixture(scope="session")
def store(demo: Path) -> Iterator[Workspace]:
    workspace = Workspace(demo)
    yield workspace
    workspace.engine.dispose()


def _layers(m: folium.Map) -> Iterator[Any]:
    """Every element under the map."""
    for child in m._children.values():
        yield child
        yield from _layers(child)


def _geojson_layers(m: folium.Map) -> dict[str, list[dict]]:
    """The features of each GeoJSON layer by layer name (unnamed: the parent's name)."""
    found: dict[str, list[dict]] = {}
    for element in _layers(m):
        if isinstance(element, folium.GeoJson):
            name = element.layer_name if element.control else element._parent.layer_name
            found.setdefault(name, []).extend(element.data["features"])
    return found


def test_the_map_has_every_layer_and_the_day_explained(demo, store):
    m = web_map.build_map(Region.load(demo / "region"), map_data(store, date(2026, 3, 5)))
    layers = _geojson_layers(m)
    day = "2026-03-05"
    for name in (*LAYERS[2:], f"Risk {day} (H3 res 8)", f"Hot spots {day} (Gi*)", f"Events {day}"):
        assert name in layers, sorted(layers)
    crossing = layers["Crossings (hours)"][0]["properties"]
    assert "hours" in crossing["popup"] and crossing["tooltip"]
    cell = layers[f"Risk {day} (H3 res 8)"][0]["properties"]["popup"]
    risk = float(re.search(r"<th>risk</th><td><b>([\d.]+)", cell)[1])
    parts = [float(v) for v in re.findall(r"<tr><th>\w+</th><td>([\d.]+)</td></tr>", cell)]
    assert len(parts) == 7 and sum(parts) == pytest.approx(risk, abs=0.04)
    assert any(isinstance(e, folium.plugins.MarkerCluster) for e in _layers(m))


def test_user_text_is_escaped(demo, store):
    m = web_map.build_map(Region.load(demo / "region"), map_data(store, date(2026, 3, 5)))
    [hostile] = [
        f["properties"]["popup"]
        for f in _geojson_layers(m)["Seizures (by commodity)"]
        if "XSS-1" in f["properties"]["popup"]
    ]
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;&lt;img src=x onerror=" in hostile
    assert "<script" not in hostile and "<img" not in hostile
    [crossing] = [
        f["properties"]
        for f in _geojson_layers(m)["Crossings (hours)"]
        if "XSS-2" in f["properties"]["popup"]
    ]
    for text in (crossing["popup"], crossing["tooltip"]):
        assert "&lt;script&gt;" in text and "<script" not in text and "<img" not in text
    page = web_map.to_html(m)
    assert "window.__xss = 1</script>" not in page and "<img src=x" not in page


def test_a_patrol_plan_is_drawn_as_its_own_layer(demo, store, tmp_path):
    crossing = Region.load(demo / "region").read("crossings").geometry.iloc[0]
    plan_file = tmp_path / "plan.geojson"
    _geoint("patrol", "plan", "--workspace", str(demo), "--region", str(demo / "region"),
            "--base", f"{crossing.y},{crossing.x}", "--teams", "2", "--hours", "6",
            "--start", "2026-03-04T18:00:00Z", "--geojson", str(plan_file), "--json")  # fmt: skip
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    m = web_map.build_map(
        Region.load(demo / "region"), map_data(store, date(2026, 3, 5)), patrol=plan
    )
    kinds = [f["properties"]["kind"] for f in plan["features"]]
    drawn = _geojson_layers(m)["Patrol plan"]  # the routes; stops and base are numbered markers
    assert len(drawn) == kinds.count("route") == 2 and kinds.count("waypoint") >= 2
    rendered = m.get_root().render()
    assert rendered.count('class=\\"geoint-stop\\"') + rendered.count(
        'class="geoint-stop"'
    ) == kinds.count("waypoint")
    assert "arrive" in rendered and "why" in rendered
    page = tmp_path / "map.html"
    _geoint("map", "--workspace", str(demo), "--region", str(demo / "region"),
            "--out", str(page), "--patrol", str(plan_file))  # fmt: skip
    assert "Patrol plan" in page.read_text(encoding="utf-8")


def test_a_busy_day_is_drawn_with_parent_cells_under_the_cap(demo, store):
    region = Region.load(demo / "region")
    layers = _geojson_layers(web_map.build_map(region, map_data(store, BUSY_DAY)))
    [risk] = [name for name in layers if name.startswith("Risk")]
    assert "res 8" not in risk
    assert all(len(features) <= MAX_FEATURES for features in layers.values())
    layers = _geojson_layers(web_map.build_map(region, map_data(store, BUSY_DAY, max_features=40)))
    [risk] = [name for name in layers if name.startswith("Risk")]
    assert 0 < len(layers[risk]) <= 40


def test_a_workspace_before_analysis_still_maps_the_region(demo, tmp_path):
    empty = Workspace(tmp_path / "ws")
    layers = _geojson_layers(web_map.build_map(Region.load(demo / "region"), map_data(empty)))
    empty.engine.dispose()
    assert layers["Seizures (by commodity)"] == [] and "Border" in layers
    assert not any(name.startswith(("Risk", "Hot spots", "Events")) for name in layers)


def test_the_exported_page_inlines_every_asset(demo, store):
    page = web_map.to_html(web_map.build_map(Region.load(demo / "region"), map_data(store)))
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"(?!data:)", page)
    assert not re.search(r"//[\w.]*(cdn|jsdelivr|cloudflare|jquery|bootstrap)", page, re.I)


def test_alerts_by_severity_acknowledge_only_when_served(demo, store):
    region = Region.load(demo / "region")
    data = map_data(store, BUSY_DAY)
    exported = _geojson_layers(web_map.build_map(region, data))
    served = _geojson_layers(web_map.build_map(region, data, api_url="/api/v1"))
    name = f"Alerts {BUSY_DAY} (by severity)"
    alerts = [f["properties"] for f in exported[name]]
    assert alerts and {a["severity"] for a in alerts} <= set(web_map.SEVERITY_COLOURS)
    assert all(a["colour"] == web_map.SEVERITY_COLOURS[a["severity"]] for a in alerts)
    assert all("geoint-explanation" in a["popup"] for a in alerts)
    assert not any("geoint-ack" in a["popup"] for a in alerts)
    buttons = [
        f["properties"]["popup"] for f in served[name] if "geoint-ack" in f["properties"]["popup"]
    ]
    new = [a for a in alerts if "<th>status</th><td>new</td>" in a["popup"]]
    assert new and len(buttons) == len(new)  # only a new alert can be acknowledged
    [risk] = [n for n in served if n.startswith("Risk")]
    assert "/api/v1/cells/" in served[risk][0]["properties"]["popup"]
    assert not any("/api/v1/cells/" in f["properties"]["popup"] for f in exported[risk])


def test_a_vehicle_track_is_its_pings_of_the_day(demo, store):
    day = date(2026, 3, 5)
    pings = store.scan_pings(day, day).collect()
    vehicle = pings["vehicle_id"][0]
    count = int((pings["vehicle_id"] == vehicle).sum())
    m = web_map.build_map(Region.load(demo / "region"), map_data(store, day, vehicle))
    track = _geojson_layers(m)[f"Vehicle track {day}"]
    [line] = [f for f in track if f["geometry"]["type"] == "LineString"]
    assert len(line["geometry"]["coordinates"]) == count
    assert sum(f["geometry"]["type"] == "Point" for f in track) == count
    hostile = web_map.build_map(Region.load(demo / "region"), map_data(store, day, HOSTILE))
    assert _geojson_layers(hostile)[f"Vehicle track {day}"] == []
    assert "window.__xss = 1</script>" not in hostile.get_root().render()


# ------------------------------------------------------------------- in Chromium
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, url: str, allowed: tuple[str, ...], headers: dict | None = None) -> dict:
    """Load the page, open the hostile seizure's popup; report requests, errors and layers."""
    context = browser.new_context(extra_http_headers=headers or {})
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    started = time.monotonic()
    page.goto(url, wait_until="load")
    seconds = time.monotonic() - started
    labels = page.eval_on_selector_all(
        ".leaflet-control-layers label", "els => els.map(e => e.textContent.trim())"
    )
    page.evaluate(
        """() => {
            const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
            const cluster = window[Object.keys(window).find(k => k.startsWith("marker_cluster_"))];
            const marker = cluster.getLayers().find(
                l => l.feature && l.feature.properties.popup.includes("XSS-1"));
            map.setView(marker.getLatLng(), map.getMaxZoom(), {animate: false});
            marker.openPopup();
        }"""
    )
    page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    popup = page.inner_text(".leaflet-popup-content")
    flag = page.evaluate("() => window.__xss")
    context.close()
    outside = [r for r in requests if not r.startswith(allowed)]
    return {"seconds": seconds, "labels": labels, "popup": popup, "flag": flag,
            "outside": outside, "errors": errors}  # fmt: skip


def _check(report: dict, day: str) -> None:
    assert report["outside"] == []
    assert report["errors"] == []
    for name in (*LAYERS, f"Risk {day} (H3 res 8)", f"Events {day}", f"Alerts {day} (by severity)"):
        assert name in report["labels"]
    assert "<script>window.__xss = 1</script>" in report["popup"]
    assert report["flag"] is None


def test_the_exported_file_works_offline_in_chromium(demo, browser, tmp_path):
    out = tmp_path / "map.html"
    _geoint("map", "--workspace", str(demo), "--region", str(demo / "region"),
            "--out", str(out), "--date", "2026-03-05")  # fmt: skip
    report = _open(browser, out.as_uri(), ("file://", "data:"))
    _check(report, "2026-03-05")
    print(f"exported map: {out.stat().st_size / 1e6:.1f} MB, loaded in {report['seconds']:.2f} s")


def test_the_served_map_loads_from_loopback_only(demo, browser, tmp_path):
    admin = create_key(demo, "admin")
    unit = create_key(demo, "unit", ("S01",))
    server = start_server(demo, demo / "region", tmp_path / "server.log")
    try:
        assert httpx2.get(f"{server.url}/map", timeout=30).status_code == 401
        assert httpx2.get(f"{server.url}/map", headers=bearer(unit), timeout=30).status_code == 403
        asset = f"{server.url}/static/web/vendor/leaflet/leaflet.js"
        assert httpx2.get(asset, headers=bearer(admin), timeout=30).status_code == 200
        escape = f"{server.url}/static/web/../map.py"
        assert httpx2.get(escape, headers=bearer(admin), timeout=30).status_code == 404
        url = f"{server.url}/map?date=2026-03-05"
        report = _open(browser, url, (server.url + "/", "data:"), bearer(admin))
    finally:
        stop_server(server)
    _check(report, "2026-03-05")
    print(f"served map loaded in {report['seconds']:.2f} s")


_COUNT = """names => {
    const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
    const cluster = window[Object.keys(window).find(k => k.startsWith("marker_cluster_"))];
    let alerts = 0;
    map.eachLayer(l => { if (l.feature && "alert_id" in l.feature.properties) alerts++; });
    return {alerts: alerts, seizures: cluster.getLayers().length};
}"""
_ONLY_RISK = """() => {
    const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
    const overlays = window[Object.keys(window).find(
        k => k.startsWith("layer_control_") && k.endsWith("_layers"))].overlays;
    const risk = overlays[Object.keys(overlays).find(name => name.startsWith("Risk"))];
    Object.values(overlays).forEach(layer => { if (layer !== risk) map.removeLayer(layer); });
    const cell = risk.getLayers()[0];
    map.fitBounds(cell.getBounds(), {animate: false});
    const point = map.latLngToContainerPoint(cell.getCenter());
    const box = map.getContainer().getBoundingClientRect();
    return [box.left + point.x, box.top + point.y];
}"""
_FIRST_ALERT = """() => {
    const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
    let target;
    map.eachLayer(l => {
        if (!target && l.feature && "alert_id" in l.feature.properties) { target = l; }
    });
    map.setView(target.getLatLng(), 14, {animate: false});
    target.openPopup();
    return target.feature.properties.alert_id;
}"""


def test_the_served_map_filters_explains_and_acknowledges(demo, browser, tmp_path):
    analyst = create_key(demo, "analyst")
    server = start_server(demo, demo / "region", tmp_path / "server.log")
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    try:
        page.goto(f"{server.url}/login?next=/map%3Fdate%3D{BUSY_DAY}")
        page.on("request", lambda request: requests.append(request.url))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.fill("input[name=key]", analyst)
        with page.expect_navigation(wait_until="load"):
            page.click("[type=submit]")
        assert page.url.endswith(f"/map?date={BUSY_DAY}")

        before = page.evaluate(_COUNT)
        page.select_option("select[data-filter=severity]", "Extreme")
        page.select_option("select[data-filter=commodity]", "fuel")
        after = page.evaluate(_COUNT)
        assert 0 < after["alerts"] < before["alerts"] and 0 < after["seizures"] < before["seizures"]
        page.select_option("select[data-filter=severity]", "")
        page.select_option("select[data-filter=commodity]", "")
        assert page.evaluate(_COUNT) == before

        alert_id = page.evaluate(_FIRST_ALERT)
        page.click("button.geoint-ack")
        page.wait_for_selector(".geoint-acked", timeout=5000)
        assert "acknowledged" in page.inner_text(".leaflet-popup-content")
        url = f"{server.url}/api/v1/alerts/{alert_id}"
        alert = httpx2.get(url, headers=bearer(analyst), timeout=30).json()
        assert alert["status"] == "acknowledged" and alert["history"][-1]["actor"]

        x, y = page.evaluate(_ONLY_RISK)
        page.mouse.click(x, y)
        page.wait_for_selector(".leaflet-popup-content >> text=factor contributions", timeout=5000)
        link = page.get_attribute(".leaflet-popup-content a", "href")
        assert link.startswith("/api/v1/cells/8")
        assert page.evaluate("href => fetch(href).then(r => r.status)", link) == 200

        with page.expect_navigation(wait_until="load"):
            page.select_option("select.geoint-date", "2026-03-03")
        assert page.url.endswith("/map?date=2026-03-03")
    finally:
        context.close()
        stop_server(server)
    assert [r for r in requests if not r.startswith(server.url + "/")] == []
    assert errors == []


def test_demo_serve_prints_the_map_url_and_an_analyst_key(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "geoint", "demo", "--workspace", str(tmp_path / "ws")]
    process = subprocess.Popen(
        [*command, "--json", "--serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not lines or not lines[-1].startswith("  geo_"):
            line = process.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
        assert f"  map: http://127.0.0.1:{port}/map\n" in lines
        assert any(f"http://127.0.0.1:{port}/login" in line for line in lines)
        key = lines[-1].strip()
        url = f"http://127.0.0.1:{port}/map"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx2.get(url, headers=bearer(key), timeout=30)
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert response.status_code == 200 and "geointControls" in response.text
    finally:
        process.terminate()
        process.wait(timeout=20)

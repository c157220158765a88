"""The web map: the day chosen, layers, escaping, scope and the cap, then the real page in
headless Chromium (the export offline, the served map on loopback: dates without reloads,
vector tiles at res 8, the cell panel, a unit's scope, French).

One demo workspace per session (``geoint demo``) plus a seizure whose description is hostile
HTML; the browser tests record every request and fail on any that leaves the page's own origin.
"""

from __future__ import annotations

import dataclasses
import html
import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import h3
import httpx2
import numpy as np
import polars as pl
import pytest
import shapely
from PIL import Image
from support.api import bearer, create_key, free_port, start_server, stop_server
from support.browser import chromium

from geoint import palette
from geoint.h3index import cells_to_hex
from geoint.layers import Region, RegionIndex
from geoint.serve.map_data import MAX_FEATURES, complete_days, map_data
from geoint.store.cell_tables import read_optional_table
from geoint.store.workspace import Workspace
from geoint.web import map as web_map
from geoint.web.i18n import gettext_for

# Sets a flag if it ever runs as HTML; the map must show it as text.
HOSTILE = (
    '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">`${window.__xss = 3}`'
)
HOSTILE_CSV = (
    "seizure_id,date,lat,lon,commodity,transport_mode,description\n"
    f'XSS-1,2026-03-03T10:00:00Z,6.80,2.66,fuel,truck,"{HOSTILE.replace(chr(34), chr(34) * 2)}"\n'
)
BUSY_DAY = date(2026, 3, 4)  # 110 events, 74 alerts, about 7 500 active res-8 cells
SPILL_DAY = date(2026, 3, 5)  # the pings of trips that ran past midnight: a partial day
REGION_LAYERS = ("Sectors", "Roads", "Border", "Crossings (hours)", "Transit corridors")
BASE_LAYERS = ("Offline basemap (Natural Earth)", "No basemap", "OpenStreetMap (online)")
UNIT_SECTOR = "BEN-01"


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


@pytest.fixture(scope="session")
def region(demo: Path) -> Region:
    return Region.load(demo / "region")


def _layers(m: folium.Map) -> Iterator[Any]:
    """Every element under the map."""
    for child in m._children.values():
        yield child
        yield from _layers(child)


def _region_layers(m: folium.Map) -> dict[str, list[dict]]:
    """The features of each Folium GeoJSON layer (the static ones) by layer name."""
    found: dict[str, list[dict]] = {}
    for element in _layers(m):
        if isinstance(element, folium.GeoJson):
            name = element.layer_name if element.control else element._parent.layer_name
            found.setdefault(name, []).extend(element.data["features"])
    return found


def _features(day: dict, layer: str) -> list[dict]:
    collection = day["layers"][layer]
    return collection["features"] if collection else []


# ------------------------------------------------------------------ the day and its layers
def test_the_map_opens_on_the_latest_complete_day(store):
    data = map_data(store)
    assert data.day == BUSY_DAY and SPILL_DAY in data.analysed_days
    assert SPILL_DAY not in data.complete_days and BUSY_DAY in data.complete_days
    assert data.counts == {"events": 110, "alerts": 74, "seizures": data.counts["seizures"]}
    assert data.latest_ping.date() == SPILL_DAY
    assert map_data(store, SPILL_DAY).day == SPILL_DAY  # offered, when asked for


def test_a_day_is_complete_once_the_pings_reach_its_end():
    days = [date(2026, 3, 1), date(2026, 3, 2)]
    live = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a live feed in the afternoon
    assert complete_days(days, live, 3600) == [date(2026, 3, 1)]
    evening = datetime(2026, 3, 2, 23, 20, tzinfo=UTC)  # a file that ends 40 min early
    assert complete_days(days, evening, 3600) == days
    assert complete_days(days, evening, 0) == [date(2026, 3, 1)]
    assert complete_days(days, None, 3600) == []


def test_the_header_and_every_layer_explain_the_day(region, store):
    day = web_map.day_layers(region, map_data(store, BUSY_DAY))
    header = day["header"]
    assert header["day"] == str(BUSY_DAY) and not header["partial"]
    assert header["counts"]["events"] == 110 and header["counts"]["alerts"] == 74
    assert header["latestPing"].endswith("WAT")  # local to the region (Africa/Lagos)
    assert "exported file" in header["note"]  # the export's capped risk says so
    cell = _features(day, "risk")[0]["properties"]["popup"]
    risk = float(re.search(r"<th>risk</th><td><b>([\d.]+)", cell)[1])
    parts = re.findall(r"<tr><th>[\w ]+</th><td>([\d.]+) / (\d+)</td></tr>", cell)
    assert len(parts) == 7 and sum(float(p) for p, _m in parts) == pytest.approx(risk, abs=0.1)
    assert all(float(p) <= float(m) for p, m in parts)  # points of each factor's maximum
    for alert in _features(day, "alerts"):
        popup = alert["properties"]["popup"]
        assert " WAT</td>" in popup and "UTC" not in popup and "{" not in popup
        assert "geoint-zoom" in popup and "Evidence pings" not in popup
    loiter = next(a for a in _features(day, "alerts") if "Loitering" in a["properties"]["popup"])
    assert re.search(r"waited \d+ min, [\d.]+ k?m from the border", loiter["properties"]["popup"])
    assert {f["properties"]["event_type"] for f in _features(day, "events")} >= {"rendezvous"}


def test_template_syntax_in_user_text_is_shown_never_run(region, store):
    data = map_data(store, SPILL_DAY)
    jinja = "{{ 41 + 1 }}xJ {% if %} {# x"  # run (42xJ), or a syntax error, if compiled
    seizures = data.seizures.with_columns(pl.lit(jinja).alias("description"))
    shown = replace(data, seizures=seizures)
    page = web_map.build_map(region, shown).get_root().render()
    assert "42xJ" not in page
    popups = [
        f["properties"]["popup"] for f in _features(web_map.day_layers(region, shown), "seizures")
    ]
    assert popups and all(jinja in html.unescape(popup) for popup in popups)


def test_user_text_is_escaped(region, store):
    data = map_data(store, SPILL_DAY)
    day = web_map.day_layers(region, data)
    [hostile] = [
        f["properties"]["popup"]
        for f in _features(day, "seizures")
        if "XSS-1" in f["properties"]["popup"]
    ]
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;&lt;img src=x onerror=" in hostile
    assert "<script" not in hostile and "<img" not in hostile
    m = web_map.build_map(region, data)
    [crossing] = [
        f["properties"]
        for f in _region_layers(m)["Crossings (hours)"]
        if "XSS-2" in f["properties"]["popup"]
    ]
    for text in (crossing["popup"], crossing["tooltip"]):
        assert "&lt;script&gt;" in text and "<script" not in text and "<img" not in text
    page = web_map.to_html(m)
    assert "window.__xss = 1</script>" not in page and "<img src=x" not in page


def test_a_patrol_plan_is_drawn_as_its_own_layer(demo, region, store, tmp_path):
    crossing = region.read("crossings").geometry.iloc[0]
    plan_file = tmp_path / "plan.geojson"
    _geoint("patrol", "plan", "--workspace", str(demo), "--region", str(demo / "region"),
            "--base", f"{crossing.y},{crossing.x}", "--teams", "2", "--hours", "6",
            "--start", "2026-03-04T18:00:00Z", "--geojson", str(plan_file), "--json")  # fmt: skip
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    m = web_map.build_map(region, map_data(store, SPILL_DAY), patrol=plan)
    drawn = _region_layers(m)["Patrol plan"]  # the routes; stops are numbered markers
    [group] = [e for e in _layers(m) if getattr(e, "layer_name", None) == "Patrol plan"]
    markers = [e for e in _layers(group) if isinstance(e, folium.Marker)]
    points = [f for f in plan["features"] if f["geometry"]["type"] == "Point"]
    assert len(drawn) + len(markers) == len(plan["features"]) >= 4  # base, 2 routes, stops
    popups = [e for marker in markers for e in _layers(marker) if isinstance(e, folium.Popup)]
    assert len(markers) == len(points) and len(popups) == len(points)
    cards = [html.data for p in popups for html in p.html._children.values()]
    assert any("arrive" in card and "why" in card for card in cards)
    routes = [f["properties"]["colour"] for f in drawn if f["geometry"]["type"] == "LineString"]
    assert routes == list(palette.PATROL_COLOURS[:2])  # team 1 is no longer green
    page = tmp_path / "map.html"
    _geoint("map", "--workspace", str(demo), "--region", str(demo / "region"),
            "--out", str(page), "--patrol", str(plan_file))  # fmt: skip
    text = page.read_text(encoding="utf-8")
    assert "Patrol plan" in text and f'"day": "{BUSY_DAY}"' in text  # the right day, too


def test_a_busy_day_is_exported_with_parent_cells_under_the_cap(region, store):
    data = map_data(store, BUSY_DAY)
    assert data.risk_resolution < 8 and data.risk.height <= MAX_FEATURES
    day = web_map.day_layers(region, data)
    assert all(len(_features(day, layer)) <= MAX_FEATURES for layer in web_map.DAY_LAYERS)
    small = web_map.day_layers(region, map_data(store, BUSY_DAY, max_features=40))
    assert 0 < len(_features(small, "risk")) <= 40
    assert "40 riskiest of" in small["header"]["note"]
    served = web_map.day_layers(region, data, api_url="/api/v1")
    assert served["layers"]["risk"] is None and served["header"]["note"] is None


def test_a_workspace_before_analysis_still_maps_the_region(region, tmp_path):
    empty = Workspace(tmp_path / "ws")
    data = map_data(empty)
    empty.engine.dispose()
    day = web_map.day_layers(region, data)
    assert day["layers"]["seizures"]["features"] == [] and day["header"]["day"] is None
    assert "Border" in _region_layers(web_map.build_map(region, data))


def test_the_exported_page_inlines_every_asset(region, store):
    page = web_map.to_html(web_map.build_map(region, map_data(store)))
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"(?!data:)", page)
    assert not re.search(r"//[\w.]*(cdn|jsdelivr|cloudflare|jquery|bootstrap)", page, re.I)
    assert "tile.openstreetmap.org" in page  # only as a base layer the reader may choose


def test_alerts_acknowledge_and_link_tracks_only_when_served(region, store):
    data = map_data(store, BUSY_DAY)
    exported = _features(web_map.day_layers(region, data), "alerts")
    served = _features(web_map.day_layers(region, data, api_url="/api/v1"), "alerts")
    assert exported and {a["properties"]["severity"] for a in exported} <= set(
        web_map.SEVERITY_COLOURS
    )
    for alert in exported:
        p = alert["properties"]
        assert p["colour"] == web_map.SEVERITY_COLOURS[p["severity"]]
        assert "geoint-ack" not in p["popup"] and "geoint-track" not in p["popup"]
    new = [a for a in served if a["properties"]["status"] == "new"]
    assert new and all("geoint-ack" in a["properties"]["popup"] for a in new)
    assert all("geoint-track" in a["properties"]["popup"] for a in served)


def test_seizure_photos_show_as_thumbnails_only_when_served(region, store):
    data = map_data(store, BUSY_DAY)
    hostile = data.seizures["seizure_id"] == "XSS-1"
    data = dataclasses.replace(
        data,
        seizures=data.seizures.with_columns(
            pl.when(hostile).then(pl.lit([7, 9])).otherwise(pl.col("photos")).alias("photos")
        ),
    )

    def popup(api_url: str | None) -> str:
        found = _features(web_map.day_layers(region, data, api_url=api_url), "seizures")
        return next(f["properties"]["popup"] for f in found if "XSS-1" in f["properties"]["popup"])

    served = popup("/api/v1")
    assert '<img class="geoint-thumb" src="/api/v1/photos/7/thumbnail"' in served
    assert 'href="/api/v1/photos/9"' in served and "<script" not in served
    exported = popup(None)
    assert "<img" not in exported and "photos: 2 (on the served map only)" in exported


def test_a_vehicle_track_is_its_pings_in_order_with_its_events(region, store):
    day = BUSY_DAY
    events = store.read_events().filter(pl.col("start").dt.date() == day)
    vehicle = events["vehicle_id"][0]
    pings = store.scan_pings(day, day).filter(pl.col("vehicle_id") == vehicle).collect()
    track = _features(web_map.day_layers(region, map_data(store, day, vehicle)), "track")
    [line] = [f for f in track if f["properties"]["kind"] == "line"]
    assert len(line["geometry"]["coordinates"]) == pings.height
    numbered = [f["properties"]["popup"] for f in track if f["properties"]["kind"] == "ping"]
    assert len(numbered) == pings.height and f"1 / {pings.height}" in numbered[0]
    kinds = [f["properties"]["kind"] for f in track]
    assert kinds.count("event") == int((events["vehicle_id"] == vehicle).sum()) > 0
    hostile = web_map.day_layers(region, map_data(store, day, HOSTILE))
    assert _features(hostile, "track") == [] and "<script>" not in json.dumps(hostile)


def test_a_unit_map_holds_only_its_sectors(demo, region, store):
    index = RegionIndex(region)
    scope = frozenset({UNIT_SECTOR})
    data = map_data(store, BUSY_DAY, sectors=scope, ground=index)
    everything = map_data(store, BUSY_DAY)
    assert 0 < len(data.alerts) < len(everything.alerts)
    assert {a["sector"] for a in data.alerts} == {UNIT_SECTOR}
    for frame in (data.events, data.seizures):
        assert set(index.sector(frame["lat"].to_numpy(), frame["lon"].to_numpy())) <= scope
    assert set(data.risk["sector_id"]) <= scope and set(data.hotspots["sector_id"]) <= scope
    m = web_map.build_map(region, data)
    sectors = _region_layers(m)["Sectors"]
    assert [s["properties"]["popup"].count(UNIT_SECTOR) for s in sectors] == [1]
    with pytest.raises(ValueError, match="needs `ground`"):
        map_data(store, BUSY_DAY, sectors=scope)


def test_the_offline_basemap_comes_from_shipped_data(region, store):
    config = web_map.build_map(region, map_data(store))
    [controls] = [e for e in _layers(config) if isinstance(e, web_map.Controls)]
    basemap = controls.config["basemap"]
    towns = {f["properties"]["name"]: f["properties"]["zoom"] for f in basemap["towns"]["features"]}
    assert towns["Lagos"] < towns["Parakou"] <= 9  # the big cities show first
    countries = {f["properties"]["name"] for f in basemap["labels"]["features"]}
    assert {"Benin", "Nigeria", "Niger", "Togo"} <= countries
    assert basemap["coast"]["features"] and basemap["rivers"]["features"]
    lakes = {f["properties"]["name"] for f in basemap["lakes"]["features"]}
    assert {"Kainji Reservoir", "Lake Volta"} <= lakes  # Natural Earth 10m, shipped
    assert basemap["hillshade"].startswith("data:image/png;base64,")
    legends = controls.config["legends"]
    names = controls.config["names"]
    for layer in ("basemap", "risk", "anomaly", "hotspots", "events", "alerts", "seizures",
                  "track", "sectors", "roads", "border", "crossings", "corridors"):  # fmt: skip
        assert names[layer] in legends, layer
    assert "lakes and reservoirs" in legends[names["basemap"]]
    palettes = [set(palette.RISK_COLOURS), set(palette.ANOMALY_COLOURS),
                set(palette.COMMODITY_COLOURS.values()), set(palette.SEVERITY_COLOURS.values()),
                set(palette.HOTSPOT_COLOURS.values()), set(palette.PATROL_COLOURS),
                {palette.EVENT_COLOUR, palette.TRACK_COLOUR, palette.CROSSING_COLOUR,
                 palette.PARTNER_COLOUR}]  # fmt: skip
    for i, first in enumerate(palettes):
        for second in palettes[i + 1 :]:
            assert not first & second  # no colour means two things


def test_french_labels(region, store):
    _ = gettext_for("fr")
    day = web_map.day_layers(region, map_data(store, BUSY_DAY), lang="fr")
    popup = _features(day, "alerts")[0]["properties"]["popup"]
    assert "<th>gravité</th>" in popup and "zoomer sur la cellule" in popup
    assert web_map.layer_names(_)["risk"] == "Risque (cellules H3)"


# ------------------------------------------------------------------- in Chromium
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


@pytest.fixture(scope="module")
def served(demo, tmp_path_factory) -> Iterator[Any]:
    """A real ``geoint serve`` on the demo workspace."""
    server = start_server(demo, demo / "region", tmp_path_factory.mktemp("srv") / "server.log")
    yield server
    stop_server(server)


MAP = "window[Object.keys(window).find(k => k.startsWith('map_'))]"
_OPEN_HOSTILE = f"""() => {{
    const map = {MAP};
    map.closePopup();
    const entry = map.geoint.items.seizures.find(e => e.props.popup.includes("XSS-1"));
    map.setView(entry.item.getLatLng(), map.getMaxZoom(), {{animate: false}});
    entry.item.openPopup();
}}"""
# Opens the hostile seizure's popup until it shows: the page fits its first view once it is
# ready (later on a loaded machine), which may undo the zoom to the marker.
_HOSTILE_SHOWN = f"""() => {{
    const map = {MAP};
    const shown = Array.from(document.querySelectorAll(".leaflet-popup-content"))
        .some(p => p.innerText.includes("XSS-1"));
    if (!shown) {{
        const entry = map.geoint.items.seizures.find(e => e.props.popup.includes("XSS-1"));
        if (map.getZoom() < map.getMaxZoom()) {{  // the page's own first fit came after ours
            map.setView(entry.item.getLatLng(), map.getMaxZoom(), {{animate: false}});
        }} else if (entry.item._map) {{
            entry.item.openPopup();
        }}
    }}
    return shown;
}}"""
_OVERLAYS_OFF = f"""() => {{
    const map = {MAP};
    map.geoint.control._layers.filter(l => l.overlay).forEach(l => map.removeLayer(l.layer));
}}"""
_OVERLAYS_ON = f"""() => {{
    const map = {MAP};
    map.geoint.control._layers.filter(l => l.overlay).forEach(l => map.addLayer(l.layer));
}}"""
_VIEW = f"""() => {{ const m = {MAP}; const c = m.getCenter();
    return [m.getZoom(), +c.lat.toFixed(5), +c.lng.toFixed(5)]; }}"""


def _recorder(page: Any) -> dict[str, list[str]]:
    """Lists of the page's requests, errors (console, page, HTTP ≥ 400) and navigations."""
    seen: dict[str, list[str]] = {"requests": [], "errors": [], "navigations": []}
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.on(
        "response",
        lambda r: seen["errors"].append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    # a navigation loads a document; history.replaceState (the day in the address) does not
    page.on(
        "request",
        lambda r: seen["navigations"].append(r.url) if r.is_navigation_request() else None,
    )
    return seen


def _not_blank(page: Any) -> int:
    """How many distinct colours the map shows (a blank map shows one or two)."""
    image = Image.open(io.BytesIO(page.locator(".folium-map").screenshot())).convert("RGB")
    pixels = np.asarray(image.resize((160, 100))).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


def _check_offline(page: Any, seen: dict, allowed: tuple[str, ...]) -> None:
    """Every overlay on, then every overlay off: the basemap still shows its names."""
    labels = page.eval_on_selector_all(
        ".leaflet-control-layers label", "els => els.map(e => e.textContent.trim())"
    )
    for name in (*BASE_LAYERS, *REGION_LAYERS, "Track events", "Alerts (by severity)",
                 "Seizures (by commodity)"):  # fmt: skip
        assert name in labels, labels
    page.evaluate(_OVERLAYS_ON)
    page.wait_for_timeout(500)
    page.evaluate(_OVERLAYS_OFF)
    page.evaluate(f"() => {MAP}.setView([9.34, 2.63], 8, {{animate: false}})")
    page.wait_for_timeout(300)
    assert page.locator(".geoint-country", has_text="Nigeria").is_visible()
    assert page.locator(".geoint-town", has_text="Parakou").is_visible()
    assert _not_blank(page) > 12
    assert [r for r in seen["requests"] if not r.startswith(allowed)] == []


def test_the_exported_file_works_offline_in_chromium(demo, browser, tmp_path):
    out = tmp_path / "map.html"
    _geoint("map", "--workspace", str(demo), "--region", str(demo / "region"), "--out", str(out))
    page = browser.new_page()
    seen = _recorder(page)
    started = time.monotonic()
    page.goto(out.as_uri(), wait_until="load")
    seconds = time.monotonic() - started
    assert str(BUSY_DAY) in page.inner_text(".geoint-header")
    assert "exported file" in page.inner_text(".geoint-note")
    page.evaluate(_OPEN_HOSTILE)
    page.wait_for_function(_HOSTILE_SHOWN, timeout=15000, polling=250)
    assert "<script>window.__xss = 1</script>" in page.inner_text(
        ".leaflet-popup-content:has-text('XSS-1')"
    )
    _check_offline(page, seen, ("file://", "data:"))
    assert page.evaluate("() => window.__xss") is None and seen["errors"] == []
    page.close()
    print(f"exported map: {out.stat().st_size / 1e6:.1f} MB, loaded in {seconds:.2f} s")


def _sign_in(browser: Any, server: Any, key: str, target: str) -> tuple[Any, Any, dict]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{server.url}/login?next={target.replace('?', '%3F').replace('&', '%26')}")
    page.fill("input[name=key]", key)
    with page.expect_navigation(wait_until="load"):
        page.click("[type=submit]")
    seen = _recorder(page)
    if target.startswith("/map"):
        page.wait_for_selector(".geoint-counts", timeout=30000)  # the day fetched and drawn
    return context, page, seen


def _busiest_cell(demo: Path) -> tuple[str, float, float]:
    """The res-8 cell with the most events on the busy day: hex, lat, lon of its centre."""
    days = read_optional_table(demo, "days").filter(pl.col("date") == BUSY_DAY)
    cell = days.sort(["events", "pings"], descending=True)["cell"][0]
    [hexid] = cells_to_hex(np.array([cell], dtype=np.uint64))
    lat, lon = h3.cell_to_latlng(hexid)
    return hexid, lat, lon


def _zoom_to_busiest_cell(page: Any, demo: Path) -> tuple[str, float, float]:
    """Show the risk tiles, zoom to 14 over the busiest cell and wait for its tile; the cell
    (`_busiest_cell`)."""
    hexid, lat, lon = _busiest_cell(demo)
    page.evaluate(f"() => {MAP}.geoint.tiles.risk.addTo({MAP})")
    page.evaluate(f"() => {MAP}.setView([{lat}, {lon}], 14, {{animate: false}})")
    page.wait_for_function(
        f"""() => Object.values({MAP}.geoint.tiles.risk._vectorTiles)
            .some(t => t._features && {json.dumps(hexid)} in t._features)""",
        timeout=15000,
    )
    return hexid, lat, lon


def test_the_served_map_changes_day_in_place_and_draws_res8_tiles(demo, browser, served):
    analyst = create_key(demo, "analyst")
    context, page, seen = _sign_in(browser, served, analyst, "/map")
    try:
        assert page.input_value("select.geoint-date") == str(BUSY_DAY)
        header = page.inner_text(".geoint-header")
        assert "110 events" in header and "74 alerts" in header
        assert "2026-03-05 *" in page.inner_text("select.geoint-date")  # offered, marked partial

        # filters: event type, alert rule, alert status, severity, commodity
        count = f"""() => {{ const g = {MAP}.geoint; return {{
            events: g.holders.events.getLayers().length,
            alerts: g.holders.alerts.getLayers().length,
            seizures: g.holders.seizures.getLayers().length}}; }}"""
        before = page.evaluate(count)
        for name, value in (("event_type", "rendezvous"), ("rule", "watchlist"),
                            ("status", "new"), ("commodity", "fuel")):  # fmt: skip
            page.select_option(f"select[data-filter={name}]", value)
        after = page.evaluate(count)
        assert all(0 < after[k] < before[k] for k in before), (before, after)

        # another day: no navigation, same view, filters kept, layers replaced
        view = page.evaluate(_VIEW)
        page.select_option("select.geoint-date", "2026-03-03")
        page.wait_for_function("() => !document.querySelector('.geoint-loading')")
        page.wait_for_function(
            "() => document.querySelector('.geoint-header').textContent.includes('86 events')"
        )
        assert seen["navigations"] == [] and page.evaluate(_VIEW) == view
        assert page.url == f"{served.url}/map?day=2026-03-03"  # a link to the day shown
        assert page.input_value("select[data-filter=event_type]") == "rendezvous"
        for name in ("event_type", "rule", "status", "commodity"):
            page.select_option(f"select[data-filter={name}]", "")
        page.select_option("select.geoint-date", str(BUSY_DAY))
        page.wait_for_function(
            "() => document.querySelector('.geoint-header').textContent.includes('110 events')"
        )
        assert page.evaluate(count) == before

        # zoomed in over the busiest cell: res-8 cells from /tiles, then its panel
        page.evaluate(_OVERLAYS_OFF)
        hexid, _lat, _lon = _zoom_to_busiest_cell(page, demo)
        drawn = page.evaluate(
            f"""() => Object.values({MAP}.geoint.tiles.risk._vectorTiles)
                .flatMap(t => Object.keys(t._features || {{}}))"""
        )
        assert all(h3.get_resolution(cell) == 8 for cell in drawn)
        tiles = [r for r in seen["requests"] if "/tiles/risk/14/" in r]
        assert tiles and all(r.endswith(f"date={BUSY_DAY}") for r in tiles)
        box = page.locator(".folium-map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_selector(".geoint-panel >> text=factor points", timeout=10000)
        panel = page.inner_text(".geoint-panel")
        assert hexid in panel and "events in the cell" in panel and "GMT+1" in panel
        assert "open alerts" in panel and "seizures within" in panel
        assert re.search(r"\d+ (k)?m from the border", panel)

        # an alert's links: the vehicle's track and the cell
        page.evaluate(_OVERLAYS_ON)
        page.evaluate(f"""() => {{ const e = {MAP}.geoint.items.alerts[0];
            {MAP}.setView(e.item.getLatLng(), 12, {{animate: false}}); e.item.openPopup(); }}""")
        page.click(".leaflet-popup-content button.geoint-track")
        # the day is fetched again with the vehicle's track (slow on a loaded machine)
        try:
            page.wait_for_function(f"() => {MAP}.geoint.items.track.length > 1", timeout=30000)
        except Exception as error:
            header = page.inner_text(".geoint-header")
            raise AssertionError(f"no track: {header!r} {seen['errors']}") from error
        assert seen["navigations"] == []

        # every overlay on, anywhere: nothing leaves 127.0.0.1
        page.evaluate(f"() => {MAP}.setView([9.3, 2.9], 9, {{animate: false}})")
        page.wait_for_timeout(1500)
        assert [r for r in seen["requests"] if not r.startswith(served.url + "/")] == []
        assert seen["errors"] == []

        # the day's link opens on that day
        page.goto(f"{served.url}/map?day=2026-03-03", wait_until="load")
        page.wait_for_selector("select.geoint-date")
        assert page.input_value("select.geoint-date") == "2026-03-03"
        assert "86 events" in page.inner_text(".geoint-header")
    finally:
        context.close()


def _photo_of_the_hostile_seizure(url: str, key: str) -> int:
    """Attach a photo (PNG made by Pillow) to the hostile seizure; return its id."""
    buffer = io.BytesIO()
    Image.new("RGB", (120, 90), (200, 120, 20)).save(buffer, "PNG")
    answer = httpx2.post(
        f"{url}/api/v1/seizures/XSS-1/photos",
        files={"file": ("scene.png", buffer.getvalue(), "image/png")},
        data={"client_id": "map-test-photo"},
        headers=bearer(key),
        timeout=60,
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["id"]


def test_the_served_map_acknowledges_and_stays_offline(demo, browser, served):
    analyst = create_key(demo, "analyst")
    photo = _photo_of_the_hostile_seizure(served.url, analyst)
    context, page, seen = _sign_in(browser, served, analyst, f"/map?date={BUSY_DAY}")
    try:
        page.evaluate(f"""() => {{ const e = {MAP}.geoint.items.alerts.find(
                a => a.props.status === "new");
            {MAP}.setView(e.item.getLatLng(), 13, {{animate: false}}); e.item.openPopup(); }}""")
        alert_id = page.get_attribute(".leaflet-popup-content button.geoint-ack", "data-alert")
        page.click(".leaflet-popup-content button.geoint-ack")
        page.wait_for_selector(".geoint-acked", timeout=5000)
        url = f"{served.url}/api/v1/alerts/{alert_id}"
        alert = httpx2.get(url, headers=bearer(analyst), timeout=30).json()
        assert alert["status"] == "acknowledged" and alert["history"][-1]["actor"]
        page.evaluate(_OPEN_HOSTILE)
        page.wait_for_function(_HOSTILE_SHOWN, timeout=15000, polling=250)
        assert "<script>window.__xss = 1</script>" in page.inner_text(
            ".leaflet-popup-content:has-text('XSS-1')"
        )
        # the seizure's photo thumbnail, served from this origin, loaded in the popup
        thumb = f".leaflet-popup-content img.geoint-thumb[src$='/photos/{photo}/thumbnail']"
        page.wait_for_function(
            f"() => {{ const i = document.querySelector({json.dumps(thumb)});"
            " return i !== null && i.complete && i.naturalWidth > 0; }",
            timeout=15000,
        )
        _check_offline(page, seen, (served.url + "/", "data:"))
        assert page.evaluate("() => window.__xss") is None and seen["errors"] == []
    finally:
        context.close()


def test_a_unit_key_map_holds_nothing_outside_its_sectors(demo, browser, served):
    unit = create_key(demo, "unit", (UNIT_SECTOR,))
    context, page, seen = _sign_in(browser, served, unit, "/map")
    headers = bearer(unit)
    try:
        points = page.evaluate(f"""() => {{ const g = {MAP}.geoint; const out = {{}};
            Object.keys(g.items).forEach(id => {{ out[id] = g.items[id].map(e => {{
                const ll = e.item.getLatLng ? e.item.getLatLng() : e.item.getBounds().getCenter();
                return {{lat: ll.lat, lon: ll.lng, alert: e.props.alert_id,
                         seizure: e.props.seizure_id, event: e.props.event_id}}; }}); }});
            return out; }}""")
        assert points["alerts"] and points["events"]
        alerts = httpx2.get(f"{served.url}/api/v1/alerts", headers=headers,
                            params={"limit": 10000}, timeout=30).json()  # fmt: skip
        assert {p["alert"] for p in points["alerts"]} <= {a["id"] for a in alerts["alerts"]}
        ogc = f"{served.url}/ogc/collections/seizures/items"
        seizures = httpx2.get(ogc, headers=headers, params={"limit": 10000}, timeout=30).json()
        assert {p["seizure"] for p in points["seizures"]} <= {f["id"] for f in seizures["features"]}
        index = RegionIndex(Region.load(demo / "region"))
        every = [p for layer in points.values() for p in layer]
        owners = index.sector(
            np.array([p["lat"] for p in every]), np.array([p["lon"] for p in every])
        )
        assert set(owners) == {UNIT_SECTOR}

        # the tiles it draws are the unit's heatmap cells
        centre = page.evaluate(f"() => {MAP}.getCenter()")
        page.evaluate(
            f"() => {MAP}.setView([{centre['lat']}, {centre['lng']}], 12, {{animate: false}})"
        )
        page.wait_for_timeout(2500)
        drawn = set(
            page.evaluate(f"""() => Object.values({MAP}.geoint.tiles.risk._vectorTiles)
                .flatMap(t => Object.keys(t._features || {{}}))""")
        )
        heatmap = httpx2.get(f"{served.url}/api/v1/heatmap", headers=headers, timeout=30,
                             params={"metric": "risk", "res": 8, "date": str(BUSY_DAY),
                                     "limit": 20000}).json()  # fmt: skip
        assert drawn and drawn <= {f["properties"]["cell"] for f in heatmap["features"]}
        sectors = page.evaluate(f"""() => {MAP}.geoint.control._layers
            .filter(l => l.name === "Sectors").map(l => l.layer.getLayers().length)""")
        assert sectors == [1]
        assert seen["errors"] == []
    finally:
        context.close()


def test_the_french_map_and_sign_in(demo, browser, served):
    analyst = create_key(demo, "analyst")
    context = browser.new_context(locale="fr-FR", extra_http_headers=bearer(analyst))
    page = context.new_page()
    seen = _recorder(page)
    try:
        page.goto(f"{served.url}/map?lang=fr", wait_until="load")
        page.wait_for_selector(".geoint-counts", timeout=30000)
        labels = page.eval_on_selector_all(
            ".leaflet-control-layers label", "els => els.map(e => e.textContent.trim())"
        )
        for name in ("Fond de carte hors ligne (Natural Earth)", "Secteurs", "Frontière",
                     "Alertes (par gravité)", "Saisies (par marchandise)",
                     "Risque (cellules H3)"):  # fmt: skip
            assert name in labels, labels
        assert "événements" in page.inner_text(".geoint-header")
        page.evaluate(_OPEN_HOSTILE)
        page.wait_for_function(_HOSTILE_SHOWN, timeout=15000, polling=250)
        assert "<script>window.__xss = 1</script>" in page.inner_text(
            ".leaflet-popup-content:has-text('XSS-1')"
        )
        assert page.evaluate("() => window.__xss") is None and seen["errors"] == []
        page.goto(f"{served.url}/login", wait_until="load")  # the browser asks for French
        assert page.inner_text("button") == "Se connecter"
        assert page.get_attribute("html", "lang") == "fr"
    finally:
        context.close()


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
        assert response.status_code == 200 and "geointMap" in response.text
    finally:
        process.terminate()
        process.wait(timeout=20)


# ------------------------------------------------------------------- at a phone's size
# Every control drawn over the map: the header, each visible Leaflet control (the two drawer
# buttons one by one) and the cell panel, as boxes in the viewport.
_CONTROLS = """() => {
    const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).display !== "none";
    const found = [document.querySelector(".geoint-header"),
        ...document.querySelectorAll(".leaflet-control:not(.geoint-toggles), .geoint-toggle"),
        document.querySelector(".geoint-panel")];
    return found.filter(e => e && shown(e)).map(e => {
        const r = e.getBoundingClientRect();
        return {name: e.className.split(" ")[0], x: r.x, y: r.y, right: r.right,
                bottom: r.bottom};
    });
}"""


def _inside(box: dict, width: int, height: int) -> bool:
    """Whether a box (``_CONTROLS``'s, or Playwright's) lies whole in the viewport."""
    right = box.get("right", box["x"] + box.get("width", 0))
    bottom = box.get("bottom", box["y"] + box.get("height", 0))
    return box["x"] >= 0 and box["y"] >= 0 and right <= width + 0.5 and bottom <= height + 0.5


def _overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["right"]
        and b["x"] < a["right"]
        and a["y"] < b["bottom"]
        and b["y"] < a["bottom"]
    )


def _edges(box: dict) -> dict:
    """A Playwright bounding box with the edges `_overlap` reads."""
    return {**box, "right": box["x"] + box["width"], "bottom": box["y"] + box["height"]}


def _map_seen(boxes: list[dict], width: int, height: int) -> float:
    """The share of the viewport that no control covers."""
    covered = np.zeros((height, width), dtype=bool)
    for b in boxes:
        top, left = max(0, int(b["y"])), max(0, int(b["x"]))
        covered[top : int(np.ceil(b["bottom"])), left : int(np.ceil(b["right"]))] = True
    return 1 - covered.mean()


@pytest.mark.parametrize(
    ("lang", "width", "height"), [("en", 390, 844), ("fr", 390, 844), ("fr", 360, 740)]
)
def test_the_served_map_fits_a_phone(demo, browser, served, lang, width, height):
    _ = gettext_for(lang)
    analyst = create_key(demo, "analyst")
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=True, has_touch=True,
        extra_http_headers=bearer(analyst),
    )  # fmt: skip
    page = context.new_page()
    seen = _recorder(page)
    legend_button = f".geoint-toggle[aria-label='{_('Show or hide the legend')}']"
    filters_button = f".geoint-toggle[aria-label='{_('Show or hide the filters')}']"
    try:
        page.goto(f"{served.url}/map?lang={lang}", wait_until="load")
        page.wait_for_selector(".geoint-counts", timeout=30000)
        page.wait_for_selector(".geoint-header select.geoint-date")

        # on load: the header and every control in the screen, none over another, the map seen
        boxes = page.evaluate(_CONTROLS)
        assert all(_inside(b, width, height) for b in boxes), boxes
        overlapping = [(a["name"], b["name"]) for i, a in enumerate(boxes)
                       for b in boxes[i + 1 :] if _overlap(a, b)]  # fmt: skip
        assert overlapping == [], boxes
        assert _map_seen(boxes, width, height) >= 0.6
        names = [b["name"] for b in boxes]
        for name in ("geoint-header", "leaflet-control-zoom", "leaflet-control-layers"):
            assert name in names, names
        assert names.count("geoint-toggle") == 2
        assert "leaflet-control-layers-expanded" not in page.get_attribute(
            ".leaflet-control-layers", "class"
        )
        assert not page.is_visible(".geoint-legend") and not page.is_visible(".geoint-controls")
        for selector, text in ((legend_button, _("Legend")), (filters_button, _("Filters"))):
            assert page.eval_on_selector(selector, "e => e.tagName") == "BUTTON"
            assert page.inner_text(selector) == text
            assert page.get_attribute(selector, "aria-expanded") == "false"

        # the legend and the filters: a tap opens each in the screen (one at a time, clear
        # of the header and the buttons), a tap on its button again closes it
        header = _edges(page.locator(".geoint-header").bounding_box())
        buttons = [header] + [_edges(page.locator(s).bounding_box())
                              for s in (legend_button, filters_button)]  # fmt: skip
        for button, drawer in ((legend_button, ".geoint-legend"),
                               (filters_button, ".geoint-controls")):  # fmt: skip
            page.tap(button)
            page.wait_for_selector(drawer, state="visible")
            box = _edges(page.locator(drawer).bounding_box())
            assert _inside(box, width, height) and not any(_overlap(box, b) for b in buttons)
            assert page.get_attribute(button, "aria-expanded") == "true"
            if drawer == ".geoint-legend":
                names = web_map.layer_names(_)
                assert names["basemap"] in page.inner_text(drawer)
                page.tap(filters_button)  # the other drawer replaces it
                page.wait_for_selector(drawer, state="hidden")
                page.tap(filters_button)
                page.wait_for_selector(".geoint-controls", state="hidden")
                page.tap(button)
                page.wait_for_selector(drawer, state="visible")
            else:
                count = f"() => {MAP}.geoint.holders.events.getLayers().length"
                before = page.evaluate(count)
                page.select_option("select[data-filter=event_type]", "rendezvous")
                assert 0 < page.evaluate(count) < before
                page.select_option("select[data-filter=event_type]", "")
                assert page.evaluate(count) == before
            page.tap(button)
            page.wait_for_selector(drawer, state="hidden")
            assert page.get_attribute(button, "aria-expanded") == "false"

        # a popup fits the width
        page.evaluate(f"""() => {{ const e = {MAP}.geoint.items.alerts[0];
            {MAP}.setView(e.item.getLatLng(), 12, {{animate: false}}); e.item.openPopup(); }}""")
        page.wait_for_selector(".leaflet-popup", state="visible")
        page.wait_for_timeout(300)  # the pan that brings it in
        popup = page.locator(".leaflet-popup").bounding_box()
        assert popup["width"] <= width - 40 and _inside(popup, width, height), popup
        page.evaluate(f"() => {MAP}.closePopup()")

        # the layer switcher: Leaflet's toggle opens it, a tap on the map closes it
        page.evaluate(_OVERLAYS_OFF)
        page.tap(".leaflet-control-layers-toggle")
        page.wait_for_selector(".leaflet-control-layers-expanded")
        assert _inside(page.locator(".leaflet-control-layers").bounding_box(), width, height)
        assert page.get_attribute(".leaflet-control-layers-toggle", "title") == _("Layers")
        page.touchscreen.tap(width / 2, height * 0.8)
        page.wait_for_selector(".leaflet-control-layers-expanded", state="detached")

        # a cell: its panel is a bottom sheet in the screen, below the header, closed by its button
        hexid, lat, lon = _zoom_to_busiest_cell(page, demo)
        page.touchscreen.tap(width / 2, height / 2)
        factors = _("factor points of their maximum")
        page.wait_for_selector(f".geoint-panel >> text={factors}", timeout=15000)
        panel = page.inner_text(".geoint-panel")
        assert hexid in panel and _("searched") in panel  # a patrol adjustment, translated too
        sheet = page.locator(".geoint-panel").bounding_box()
        assert _inside(sheet, width, height) and sheet["width"] == width, sheet
        assert sheet["y"] + sheet["height"] == pytest.approx(height, abs=1)
        assert sheet["height"] <= 0.6 * height + 1 and sheet["y"] >= header["bottom"]
        page.wait_for_function(  # the map moved the cell above the sheet
            f"""() => {{ const y = {MAP}.latLngToContainerPoint([{lat}, {lon}]).y;
                return y > {header["bottom"]} && y < {sheet["y"]}; }}""",
            timeout=5000,
        )
        page.evaluate("() => { document.querySelector('.geoint-panel').scrollTop = 10000; }")
        close = page.locator(".geoint-close").bounding_box()
        assert _inside(close, width, height) and close["y"] >= sheet["y"]  # kept in sight
        page.tap(".geoint-close")
        page.wait_for_selector(".geoint-panel", state="hidden")

        assert [r for r in seen["requests"] if not r.startswith(served.url + "/")] == []
        assert seen["errors"] == []
    finally:
        context.close()


def test_the_desktop_map_keeps_its_layout(demo, browser, served):
    analyst = create_key(demo, "analyst")
    context, page, seen = _sign_in(browser, served, analyst, "/map")  # 1280×800
    try:
        page.wait_for_selector(".geoint-header select.geoint-date")
        header = page.locator(".geoint-header").bounding_box()
        assert (header["x"], header["y"], header["x"] + header["width"]) == (60, 10, 980)
        assert "leaflet-control-layers-expanded" in page.get_attribute(
            ".leaflet-control-layers", "class"
        )
        layers = page.locator(".leaflet-control-layers").bounding_box()
        assert layers["x"] + layers["width"] == 1270 and layers["y"] == 64  # below the ruler
        legend = page.locator(".geoint-legend").bounding_box()
        assert legend["x"] == 10 and legend["y"] + legend["height"] < 800 - 40  # over the scale
        filters = page.locator(".geoint-controls").bounding_box()
        assert filters["x"] + filters["width"] == 1270 and page.is_visible("select[data-filter]")
        assert not page.is_visible(".geoint-toggles")
        page.evaluate("() => { document.querySelector('.geoint-panel').style.display = ''; }")
        panel = page.locator(".geoint-panel").bounding_box()
        assert (panel["x"], panel["y"], panel["width"]) == (10, 110, 364)  # 340 px and padding
        assert panel["y"] + panel["height"] == 800 - 30
        box = page.locator(".folium-map").bounding_box()  # a click on the map leaves it open
        page.mouse.click(box["x"] + 500, box["y"] + 700)
        assert "leaflet-control-layers-expanded" in page.get_attribute(
            ".leaflet-control-layers", "class"
        )
        assert seen["errors"] == []
    finally:
        context.close()

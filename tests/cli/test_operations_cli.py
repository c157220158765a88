"""Enforcement operations on the sample scenario: what they tag equals the same window and
scope in pandas/geopandas; the briefing opens in Chromium with no request at all and shows
hostile text as text; its PDF has pages and the chart images; bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from support.api import api_settings, bearer, create_key
from support.cli import geoint
from support.seizures import stored_frame

from geoint.api.app import create_app
from geoint.layers import Region
from geoint.store.workspace import Workspace

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
HOSTILE = '$x$ <img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>'
_QUOTED = HOSTILE.replace(chr(34), chr(34) * 2)
# concealment is a vocabulary code: the hostile text is the origin of a route frequent enough
# to be among the top routes, and the description
HOSTILE_CSV = (
    "seizure_id,date,lat,lon,commodity,transport_mode,concealment,origin_country,description\n"
    + "".join(
        f'XSS-OP-{i},2026-03-04T08:0{i}:00Z,6.8,2.66,fuel,car,false floor,"{_QUOTED}","{_QUOTED}"\n'
        for i in range(6)
    )
)


def _json(*args: str) -> dict[str, Any]:
    done = geoint(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """The analysed sample scenario (`geoint demo`) plus one hostile fuel seizure."""
    root = tmp_path_factory.mktemp("operations")
    ws = root / "ws"
    _json("demo", "--workspace", str(ws))
    (root / "hostile.csv").write_text(HOSTILE_CSV, encoding="utf-8")
    _json("ingest", "seizures", str(root / "hostile.csv"), "-w", str(ws))
    return ws


def test_create_list_show_tag_the_window_and_scope(sample):
    ws = str(sample)
    thunder = _json("operations", "create", "-w", ws, "--name", "Thunder", "--start",
                    "2026-03-02", "--end", "2026-03-04", "--commodity", "fuel",
                    "--commodity", "drugs")  # fmt: skip
    sectors = ("BEN-01", "BEN-02", "NIG-01")
    demeter = _json("operations", "create", "-w", ws, "--name", "Demeter", "--start",
                    "2026-03-01T12:00:00Z", "--end", "2026-03-06",
                    *(a for s in sectors for a in ("--sector", s)))  # fmt: skip
    listed = _json("operations", "list", "-w", ws)["operations"]
    assert {op["id"] for op in listed} >= {thunder["id"], demeter["id"]}

    store = Workspace(sample)
    engine = store.engine
    frame = stored_frame(engine)
    events = store.read_events().to_pandas()

    shown = _json("operations", "show", str(thunder["id"]), "-w", ws)
    window = frame[(frame.ts >= "2026-03-02") & (frame.ts < "2026-03-05")]
    expected = window[window.commodity.isin(["fuel", "drugs"])].sort_values(["ts", "seizure_id"])
    assert shown["seizures"] == expected.seizure_id.tolist() and "XSS-OP-0" in shown["seizures"]
    start, end = pd.Timestamp("2026-03-02", tz="UTC"), pd.Timestamp("2026-03-05", tz="UTC")
    overlapping = events[(events.start < end) & (events.end >= start)]
    assert sorted(shown["events"]) == sorted(overlapping.event_id)
    assert shown["tagged"]["alerts"] == len(shown["alerts"]) > 0

    scoped = _json("operations", "show", str(demeter["id"]), "-w", ws)
    polygons = Region.load(sample / "region").read("sectors")
    polygons = polygons[polygons.sector_id.isin(sectors)]
    window = frame[(frame.ts >= "2026-03-01 12:00") & (frame.ts < "2026-03-07")]
    points = gpd.GeoDataFrame(window, geometry=gpd.points_from_xy(window.lon, window.lat),
                              crs="EPSG:4326")  # fmt: skip
    inside = gpd.sjoin(points, polygons, predicate="within")
    assert sorted(scoped["seizures"]) == sorted(set(inside.seizure_id))
    assert 0 < len(scoped["seizures"]) < len(window)

    # the API tags each seizure with the operations it falls in
    key = create_key(sample, "analyst")
    app = create_app(api_settings(sample, sample / "region", max_limit=1000))
    with TestClient(app) as client:
        listed = client.get("/api/v1/seizures", params={"limit": 1000}, headers=bearer(key))
        tags = {s["seizure_id"]: s["operations"] for s in listed.json()["seizures"]}
    assert {s for s, t in tags.items() if thunder["id"] in t} == set(shown["seizures"])
    assert {s for s, t in tags.items() if demeter["id"] in t} == set(scoped["seizures"])
    alerts = pd.read_sql_table("alerts", engine)
    alerts = alerts[
        alerts.sector.isin(sectors)
        & (alerts.event_time <= "2026-03-06 23:59:59.999999")
        & (alerts.last_seen >= "2026-03-01 12:00")
    ]
    assert sorted(scoped["alerts"]) == sorted(alerts.id) and len(alerts) > 0


def _open_offline(path: Path) -> dict[str, Any]:
    """Load a file in Chromium; report every request, errors, the xss flag and the text."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path.as_uri(), wait_until="load")
        result = {
            "requests": requests,
            "errors": errors,
            "xss": page.evaluate("() => window.__xss"),
            "text": page.inner_text("body"),
            "svgs": page.eval_on_selector_all("figure svg", "els => els.length"),
        }
        browser.close()
    return result


def test_the_briefing_opens_offline_and_its_pdf_has_the_charts(sample, tmp_path):
    ws = str(sample)
    created = _json("operations", "create", "-w", ws, "--name", "Stop <b>2026</b>",
                    "--start", "2026-03-01", "--end", "2026-03-06")  # fmt: skip
    html = tmp_path / "briefing.html"
    written = _json("operations", "report", str(created["id"]), "-w", ws, "--out", str(html))
    assert written["charts"] == 5 and written["tagged"]["seizures"] > 60
    opened = _open_offline(html)
    assert opened["requests"] == [html.as_uri()] and opened["errors"] == []
    assert opened["xss"] is None and opened["svgs"] == 5
    text = opened["text"]
    assert "Operation Stop <b>2026</b>" in text and "extracted at" in text
    for heading in ("Headline figures", "By means of transport", "By concealment method",
                    "Top routes", "Notable alerts"):  # fmt: skip
        assert heading in text
    # the hostile origin is a chart label: text, with its dollars (no math), never markup
    assert '$x$ <img src=x onerror="window.__xss = 1">' in text

    pdf = tmp_path / "briefing.pdf"
    _json("operations", "report", str(created["id"]), "-w", ws, "--out", str(pdf))
    reader = PdfReader(pdf)
    assert len(reader.pages) >= 2
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 5
    assert all(image.image.size[0] > 300 for image in images)
    content = "".join(page.extract_text() for page in reader.pages)
    assert "Operation Stop <b>2026</b>" in content and "Notable alerts" in content


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "--name", "X", "--start", "2026-03-05", "--end", "2026-03-01"],
         "--end: 2026-03-01"),
        (["create", "--name", "X", "--start", "2026-03-01", "--end", "2026-03-05",
          "--commodity", "gold"], "commodity: expected one of"),
        (["create", "--name", "X", "--start", "2026-03-01", "--end", "2026-03-05",
          "--sector", "NOWHERE"], "--sector: ['NOWHERE'] not in the region's sectors"),
        (["create", "--name", "X", "--start", "March", "--end", "2026-03-05"], "--start: expected"),
        (["show", "999"], "no operation 999"),
        (["report", "1", "--out", "briefing.txt"], "--out: expected a .html or .pdf file"),
    ],
)  # fmt: skip
def test_bad_operation_input_is_one_line(sample, args, message):
    done = geoint("operations", args[0], *args[1:], "-w", str(sample))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr

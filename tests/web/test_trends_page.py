"""The ``/trends`` page of a real `geoint serve` in headless Chromium: signed in with a session,
it draws its charts and map from the API without any request leaving 127.0.0.1, its filters
change what is drawn, hostile CEN text stays text, and each chart offers PNG and SVG export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.api import build_region, create_key, start_server, stop_server
from support.cli import geoint
from support.seizures import EXTRA_SEIZURES_CSV, SAMPLE_SEIZURES

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
HOSTILE = '<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>'
HOSTILE_CSV = (
    "seizure_id,date,lat,lon,commodity,transport_mode,concealment,origin_country\n"
    # the concealment is a vocabulary code since the field vocabularies: the origin is hostile
    f"XSS-T,2026-03-04T08:00:00Z,6.8,2.66,fuel,car,hidden compartment,"
    f'"{HOSTILE.replace(chr(34), chr(34) * 2)}"\n'
)
CHARTS = ("chart-series", "chart-transport", "chart-concealment", "chart-routes", "chart-map")


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A real server over the sample seizures, the extra ones and a hostile one; a key."""
    root = tmp_path_factory.mktemp("trends")
    region, ws = build_region(root / "region"), root / "ws"
    for name, text in (("extra.csv", EXTRA_SEIZURES_CSV), ("hostile.csv", HOSTILE_CSV)):
        (root / name).write_text(text, encoding="utf-8")
    for file in (SAMPLE_SEIZURES, root / "extra.csv", root / "hostile.csv"):
        done = geoint("ingest", "seizures", str(file), "-w", str(ws), "--json")
        assert done.returncode == 0, done.stderr
    key = create_key(ws, "analyst")
    server = start_server(ws, region, root / "server.log")
    try:
        yield server.url, key
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _marks(page, chart: str) -> int:
    return page.eval_on_selector_all(
        f"#{chart} svg .mark-rect path, #{chart} svg .mark-symbol path", "e => e.length"
    )


def test_the_trends_page_draws_offline_and_filters(served, browser):
    url, key = served
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        page.goto(f"{url}/login?next=/trends")
        page.fill("input[name=key]", key)
        with page.expect_navigation(wait_until="load"):
            page.click("[type=submit]")
        assert page.url.startswith(f"{url}/trends")
        page.wait_for_selector("body[data-drawn]", timeout=20_000)
        assert page.inner_text("#status") == "69 seizures"
        for chart in CHARTS:
            assert page.query_selector(f"#{chart} svg") is not None, chart
        all_bars = _marks(page, "chart-transport")
        assert all_bars == 4  # car, truck, motorcycle, pedestrian
        page.wait_for_selector("#quality table", timeout=10_000)
        assert "seizures.csv" in page.inner_text("#quality")

        page.select_option("select[name=commodity]", "tobacco")
        page.wait_for_function("document.getElementById('status').textContent.startsWith('7 ')")
        page.wait_for_function("Number(document.body.dataset.drawn) >= 2")
        assert page.inner_text("#status") == "7 seizures"
        assert "commodity=tobacco" in page.url
        page.select_option("select[name=commodity]", "")
        page.wait_for_function("Number(document.body.dataset.drawn) >= 3")

        # the hostile origin is drawn as text, never run
        labels = page.inner_text("#chart-concealment") + page.inner_text("#chart-routes")
        assert "<script>window.__xss = 2</script>" in labels or "window.__xss" in labels
        assert page.evaluate("() => window.__xss") is None

        page.click("#chart-series details summary")
        exports = page.eval_on_selector_all(
            "#chart-series .vega-actions a", "els => els.map(e => e.textContent)"
        )
        assert {"Save as SVG", "Save as PNG"} <= set(exports)
    finally:
        context.close()
    outside = [r for r in requests if not r.startswith(url)]
    assert outside == [] and errors == []

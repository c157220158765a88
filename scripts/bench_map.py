"""Time ``/map`` of a real ``geoint serve`` in headless Chromium and count the drawn features.

    .venv/bin/python scripts/bench_map.py --workspace W --region DIR [--date D] [--runs 5]

It creates an analyst key in the workspace for the run and revokes it at the end. Per run: the
page's load time in Chromium (navigation to the ``load`` event, every asset included) and the
time until the map is ready (the risk's vector tiles of the first view drawn too), the server's
time to build the page (``GET /map`` alone), the page's size, a date change (the day's layers
fetched and replaced, no reload) and the most features any one layer draws (SPEC §14: none
above ~5 k polygons). Prints one JSON document.
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx2

from geoint.store.keys import KeyStore
from geoint.store.workspace import Workspace
from geoint.testing.server import start_server, stop_server

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
MAP = "window[Object.keys(window).find(k => k.startsWith('map_'))]"
LAYER_SIZES = f"""() => {{
    const sizes = {{}};
    for (const name of Object.keys(window)) {{
        const layer = window[name];
        if (name.startsWith("geo_json_") && layer && layer.getLayers) {{
            sizes[name] = layer.getLayers().length;
        }}
    }}
    const g = {MAP}.geoint;
    Object.keys(g.items).forEach(id => {{ sizes[id] = g.items[id].length; }});
    Object.keys(g.tiles).forEach(id => {{
        Object.values(g.tiles[id]._vectorTiles || {{}}).forEach((tile, i) => {{
            sizes[id + " tile " + i] = Object.keys(tile._features || {{}}).length;
        }});
    }});
    return sizes;
}}"""
# the risk tiles of the first view are in (GridLayer marks each tile `loaded`)
TILES_DRAWN = f"""() => {{
    const risk = {MAP}.geoint.tiles.risk;
    const tiles = Object.values(risk._tiles || {{}});
    return tiles.length > 0 && tiles.every(t => t.loaded);
}}"""
CHANGE_DAY = """(day) => new Promise(resolve => {
    const started = performance.now();
    const header = document.querySelector(".geoint-header");
    const select = document.querySelector("select.geoint-date");
    const observer = new MutationObserver(() => {
        if (!document.querySelector(".geoint-loading")) {
            observer.disconnect();
            resolve((performance.now() - started) / 1000);
        }
    });
    observer.observe(header, {childList: true, subtree: true});
    select.value = day;
    select.dispatchEvent(new Event("change"));
})"""


def bench(workspace: Path, region: Path, day: str | None, runs: int) -> dict:
    """Load /map `runs` times in Chromium; return the timings and the layer sizes."""
    from playwright.sync_api import sync_playwright

    store = Workspace(workspace)
    keys = KeyStore(store)
    key, text = keys.create("analyst", [])
    log = Path(tempfile.gettempdir()) / "geoint_bench_map_server.log"
    server = start_server(workspace, region, log, timeout_s=120)
    url = server.url
    page_url = f"{url}/map" + (f"?date={day}" if day else "")
    headers = {"Authorization": f"Bearer {text}"}
    loads, ready, changes, builds, outside, errors = [], [], [], [], [], []
    try:
        for _ in range(runs):
            started = time.monotonic()
            body = httpx2.get(page_url, headers=headers, timeout=120).content
            builds.append(time.monotonic() - started)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            for _ in range(runs):
                context = browser.new_context(extra_http_headers=headers)
                page = context.new_page()
                page.on(
                    "request",
                    lambda r: outside.append(r.url) if not r.url.startswith(url) else None,
                )
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                started = time.monotonic()
                page.goto(page_url, wait_until="load")
                loads.append(time.monotonic() - started)
                page.wait_for_function(TILES_DRAWN, timeout=60_000)
                ready.append(time.monotonic() - started)
                sizes = page.evaluate(LAYER_SIZES)
                days = page.eval_on_selector_all(
                    "select.geoint-date option", "os => os.map(o => o.value)"
                )
                shown = page.input_value("select.geoint-date")
                other = next((d for d in reversed(days) if d != shown), None)
                if other is not None:
                    changes.append(page.evaluate(CHANGE_DAY, other))
                context.close()
            browser.close()
    finally:
        stop_server(server)
        keys.revoke(key.id)
        store.engine.dispose()
    return {
        "url": page_url,
        "page_bytes": len(body),
        "build_s": {"median": statistics.median(builds), "max": max(builds)},
        "load_s": {"median": statistics.median(loads), "max": max(loads), "runs": loads},
        "ready_s": {"median": statistics.median(ready), "max": max(ready), "runs": ready},
        "date_change_s": {"median": statistics.median(changes), "max": max(changes)}
        if changes
        else None,
        "largest_layer_features": max(sizes.values(), default=0),
        "layer_features": {name: size for name, size in sizes.items() if " tile " not in name},
        "requests_outside_loopback": outside,
        "page_errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--region", type=Path, required=True)
    parser.add_argument("--date", help="UTC day YYYY-MM-DD (default: the latest analysed)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(bench(args.workspace, args.region, args.date, args.runs), indent=2))


if __name__ == "__main__":
    main()

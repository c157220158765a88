"""Write the README's screenshots of the served map with headless Chromium.

    .venv/bin/python scripts/screenshot.py [--workspace W] [--out-dir docs] [--lang en]
                                           [--field | --phone]

Without ``--workspace`` it first builds the sample workspace with ``geoint demo`` in a temporary
folder. It serves the workspace on loopback (an analyst key created for the run and revoked at
the end) and saves three views of ``/map``: the default view (``map.png``), the panel of the
busiest cell of the day zoomed in to its res-8 neighbours (``map-cell.png``) and the most severe
new alert's popup (``map-alert.png``). With ``--field`` it takes the field app at a phone's
viewport (390×844) instead: the seizure form (``field-form.png``), the queue with a record saved
offline and one sent (``field-queue.png``) and the inbox seen from near the border
(``field-inbox.png``). With ``--phone`` it takes ``/map`` at a phone's viewport (390×844): the
default view (``map-phone.png``), the legend opened (``map-phone-legend.png``), the filters
opened (``map-phone-filters.png``) and the busiest cell's panel as a bottom sheet
(``map-phone-cell.png``); ``--lang fr`` for the French map (another ``--out-dir`` keeps both).
"""

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h3
import numpy as np
import polars as pl

from geoint.h3index import cells_to_hex
from geoint.serve.map_data import map_data
from geoint.store.cell_tables import read_optional_table
from geoint.store.keys import KeyStore
from geoint.store.workspace import Workspace
from geoint.testing.server import start_server, stop_server

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
MAP = "window[Object.keys(window).find(k => k.startsWith('map_'))]"
SEVERITY_ORDER = ("Extreme", "Severe", "Moderate", "Minor")


def busiest_cell(workspace: Path, day: object) -> tuple[float, float]:
    """The centre of the res-8 cell with the most events on `day`."""
    days = read_optional_table(workspace, "days").filter(pl.col("date") == day)
    cell = days.sort(["events", "pings"], descending=True)["cell"][0]
    [hexid] = cells_to_hex(np.array([cell], dtype=np.uint64))
    return h3.cell_to_latlng(hexid)


@contextmanager
def serving(workspace: Path) -> Iterator[tuple[Any, str, str]]:
    """Serve `workspace` on loopback with an analyst key made for the run (revoked after);
    yield a headless Chromium, the server's URL and the key."""
    from playwright.sync_api import sync_playwright

    store = Workspace(workspace)
    keys = KeyStore(store)
    key, text = keys.create("analyst", [])
    log = Path(tempfile.gettempdir()) / "geoint_screenshot_server.log"
    server = start_server(workspace, workspace / "region", log, timeout_s=120)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            try:
                yield browser, server.url, text
            finally:
                browser.close()
    finally:
        stop_server(server)
        keys.revoke(key.id)
        store.engine.dispose()


def _busiest_day_cell(workspace: Path) -> tuple[float, float]:
    """The centre of the busiest cell of the day the map opens on."""
    store = Workspace(workspace)
    try:
        return busiest_cell(workspace, map_data(store).day)
    finally:
        store.engine.dispose()


def _open_cell(page: Any, lat: float, lon: float, tap: bool = False) -> None:
    """Zoom in to the cell at `lat`, `lon` and open its panel (clicked, or tapped)."""
    page.evaluate(f"() => {MAP}.setView([{lat}, {lon}], 13, {{animate: false}})")
    page.wait_for_timeout(2500)
    box = page.locator(".folium-map").bounding_box()
    # the alert and event markers sit on the cell: click the cell beside them
    page.evaluate(f"() => {MAP}.geoint.holders.alerts.remove()")
    page.evaluate(f"() => {MAP}.geoint.holders.events.remove()")
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    if tap:
        page.touchscreen.tap(x, y)
    else:
        page.mouse.click(x, y)
    page.wait_for_selector(".geoint-panel h4", timeout=15000)
    page.wait_for_timeout(500)


def screenshots(workspace: Path, out_dir: Path, lang: str) -> list[Path]:
    """Serve `workspace`, take the three views, return the files written."""
    lat, lon = _busiest_day_cell(workspace)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / name for name in ("map.png", "map-cell.png", "map-alert.png")]
    with serving(workspace) as (browser, url, text):
        context = browser.new_context(
            viewport={"width": 1280, "height": 800},
            extra_http_headers={"Authorization": f"Bearer {text}"},
        )
        page = context.new_page()
        page.goto(f"{url}/map?lang={lang}", wait_until="load")
        page.wait_for_selector(".geoint-counts", timeout=30000)  # the day fetched and drawn
        page.wait_for_timeout(1500)
        page.screenshot(path=str(written[0]))

        _open_cell(page, lat, lon)
        page.screenshot(path=str(written[1]))

        page.click(".geoint-close")
        page.evaluate(f"() => {MAP}.geoint.holders.alerts.addTo({MAP})")
        order = list(SEVERITY_ORDER)
        page.evaluate(
            f"""(order) => {{ const alerts = {MAP}.geoint.items.alerts.slice()
                .filter(a => a.props.status === "new")
                .sort((a, b) => order.indexOf(a.props.severity)
                                - order.indexOf(b.props.severity));
                const item = alerts[0].item;
                {MAP}.setView(item.getLatLng(), 12, {{animate: false}});
                item.openPopup(); }}""",
            order,
        )
        page.wait_for_timeout(1500)
        page.screenshot(path=str(written[2]))
    return written


def phone_screenshots(workspace: Path, out_dir: Path, lang: str) -> list[Path]:
    """Serve `workspace`, take the map's four views at 390×844, return the files."""
    lat, lon = _busiest_day_cell(workspace)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = ("map-phone", "map-phone-legend", "map-phone-filters", "map-phone-cell")
    written = [out_dir / f"{name}.png" for name in names]
    with serving(workspace) as (browser, url, text):
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
            device_scale_factor=2, extra_http_headers={"Authorization": f"Bearer {text}"},
        )  # fmt: skip
        page = context.new_page()
        page.goto(f"{url}/map?lang={lang}", wait_until="load")
        page.wait_for_selector(".geoint-counts", timeout=30000)  # the day fetched and drawn
        page.wait_for_timeout(1500)
        page.screenshot(path=str(written[0]))
        legend, filters = page.locator(".geoint-toggle").all()
        legend.tap()
        page.wait_for_timeout(300)
        page.screenshot(path=str(written[1]))
        filters.tap()
        page.wait_for_timeout(300)
        page.screenshot(path=str(written[2]))
        filters.tap()
        _open_cell(page, lat, lon, tap=True)
        page.screenshot(path=str(written[3]))
    return written


def field_screenshots(workspace: Path, out_dir: Path, lang: str) -> list[Path]:
    """Serve `workspace`, take the field app's three views at 390×844, return the files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / f"field-{name}.png" for name in ("form", "queue", "inbox")]
    with serving(workspace) as (browser, url, text):
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
            device_scale_factor=2, locale=lang,
            geolocation={"latitude": 6.45, "longitude": 2.55}, permissions=["geolocation"],
        )  # fmt: skip
        page = context.new_page()
        page.goto(f"{url}/login?next=/field/")
        page.fill("input[name=key]", text)
        with page.expect_navigation(wait_until="load"):
            page.click("[type=submit]")
        page.wait_for_selector("body[data-ready=true]", state="attached", timeout=60000)
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=60000)
        page.click("#gps")
        page.wait_for_function("document.querySelector('#f-where').value !== ''")
        page.select_option("#f-commodity", "tobacco")
        page.fill("#f-quantity", "1200")
        page.select_option("#f-unit", index=1)
        page.select_option("#f-transport_mode", "truck")
        page.screenshot(path=str(written[0]))
        page.click("#save")
        page.wait_for_selector("#queue .record.sent", state="attached", timeout=60000)
        context.set_offline(True)
        page.fill("#f-where", "6°22'N 2°42'E")
        page.select_option("#f-commodity", "fuel")
        page.fill("#f-quantity", "400")
        page.fill("#f-vehicle_id", "RB 4471")
        page.click("#save")
        page.wait_for_selector("#queue .record.queued", state="attached", timeout=60000)
        page.click("#tab-queue")
        page.screenshot(path=str(written[1]))
        context.set_offline(False)
        page.wait_for_selector("#queue .record.queued", state="detached", timeout=60000)
        page.click("#tab-inbox")
        page.wait_for_selector("#inbox .alert", timeout=60000)
        page.wait_for_function("document.querySelector('#inbox').textContent.includes('km')")
        page.screenshot(path=str(written[2]))
    return written


def main() -> int:
    """Parse the arguments, build the sample workspace if none is given, take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="an analysed workspace with W/region")
    parser.add_argument("--out-dir", type=Path, default=Path("docs"))
    parser.add_argument("--lang", default="en", choices=("en", "fr"))
    views = parser.add_mutually_exclusive_group()
    views.add_argument("--field", action="store_true", help="the field app instead of the map")
    views.add_argument("--phone", action="store_true", help="the map at a phone's size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        workspace = args.workspace
        if workspace is None:
            workspace = Path(scratch) / "ws"
            demo = [sys.executable, "-m", "geoint", "demo", "--workspace", str(workspace), "--json"]
            subprocess.run(demo, check=True, stdout=subprocess.DEVNULL)
        take = field_screenshots if args.field else phone_screenshots if args.phone else screenshots
        for path in take(workspace, args.out_dir, args.lang):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

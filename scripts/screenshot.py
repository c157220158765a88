"""Write a PNG of the web map on the sample data with headless Chromium (``docs/map.png``).

    .venv/bin/python scripts/screenshot.py [--workspace W] [--date YYYY-MM-DD] [--out docs/map.png]

Without ``--workspace`` it first builds the sample workspace with ``geoint demo`` in a temporary
folder. The page is the offline export (`geoint.web.map.to_html`), centred on the day's
riskiest cell with its explanation open.
"""

import argparse
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from geoint.layers import Region
from geoint.serve.map_data import map_data
from geoint.store.workspace import Workspace
from geoint.web.map import build_map, to_html

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
OPEN_RISKIEST = """(zoom) => {
    const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
    let best = null;
    map.eachLayer(l => {
        const p = l.feature && l.feature.properties;
        if (p && p.tooltip && p.tooltip.startsWith("risk ")
            && (!best || +p.tooltip.slice(5) > +best.feature.properties.tooltip.slice(5))) {
            best = l;
        }
    });
    if (best) {
        map.setView(best.getBounds().getCenter(), zoom, {animate: false});
        best.openPopup();
    }
}"""


def screenshot(workspace: Path, out: Path, day: date | None, size: tuple[int, int]) -> None:
    """Render the map of `workspace` for `day` and save it as a PNG."""
    from playwright.sync_api import sync_playwright

    store = Workspace(workspace)
    m = build_map(Region.load(workspace / "region"), map_data(store, day))
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        page_file = Path(scratch) / "map.html"
        page_file.write_text(to_html(m), encoding="utf-8")
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        page.goto(page_file.as_uri(), wait_until="load")
        page.evaluate(OPEN_RISKIEST, 11)
        page.wait_for_timeout(300)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()
    store.engine.dispose()


def main() -> int:
    """Parse the arguments, build the sample workspace if none is given, take the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="an analysed workspace with W/region")
    parser.add_argument("--date", type=date.fromisoformat, help="UTC day (default: latest)")
    parser.add_argument("--out", type=Path, default=Path("docs/map.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        workspace = args.workspace
        if workspace is None:
            workspace = Path(scratch) / "ws"
            demo = [sys.executable, "-m", "geoint", "demo", "--workspace", str(workspace), "--json"]
            subprocess.run(demo, check=True, stdout=subprocess.DEVNULL)
        screenshot(workspace, args.out, args.date, (1280, 800))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cross-site request forgery from another port of the same host, in real headless Chromium.

The signed-in analyst opens a page served on another port of 127.0.0.1: the same *site*, so
Chromium attaches the SameSite=Strict session cookie to its requests. Its empty form post must
not acknowledge an alert and its ``<img src=/osmand?...>`` must not store a ping.
"""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import httpx2
from support.alerts import events
from support.api import SOUTH, bearer, build_region, create_key, start_server, stop_server
from support.browser import chromium

from geoint.alerts.raising import raise_alerts
from geoint.layers import Region, RegionIndex
from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace

ATTACK = """<!doctype html><html><body>
<img src="{api}/osmand?id=FORGED&lat={lat}&lon={lon}&timestamp=1789000000">
<form id="f" method="post" action="{api}/api/v1/alerts/1/ack" enctype="text/plain"></form>
<script>setTimeout(function () {{ document.getElementById("f").submit(); }}, 300);</script>
</body></html>"""


def test_a_page_on_another_port_cannot_change_state_with_the_session(tmp_path):
    region, ws = build_region(tmp_path / "region"), tmp_path / "ws"
    analyst = create_key(ws, "analyst")
    store = Workspace(ws)
    raise_alerts(
        store,
        RegionIndex(Region.load(region)),
        GeointSettings(workspace=ws),
        events({"event_id": "E1", "lat": SOUTH[0], "lon": SOUTH[1]}),
    )
    server = start_server(ws, region, tmp_path / "server.log")
    site = tmp_path / "attacker"
    site.mkdir()
    (site / "index.html").write_text(ATTACK.format(api=server.url, lat=SOUTH[0], lon=SOUTH[1]))
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    answers: list[tuple[str, int]] = []
    requested: list[str] = []
    try:
        with chromium() as browser:
            page = browser.new_context().new_page()
            page.goto(f"{server.url}/login?next=/api/v1/alerts")
            page.fill("input[name=key]", analyst)
            with page.expect_navigation(wait_until="load"):
                page.click("[type=submit]")
            assert page.url.endswith("/api/v1/alerts")  # signed in: the cookie is set
            page.on("request", lambda r: requested.append(r.url.split("?")[0]))
            page.on("response", lambda r: answers.append((r.url.split("?")[0], r.status)))
            with page.expect_navigation(url=f"{server.url}/api/v1/alerts/1/ack"):
                page.goto(f"http://127.0.0.1:{attacker.server_port}/index.html")
            assert "cross-site request refused" in page.content()
        alert = httpx2.get(f"{server.url}/api/v1/alerts/1", headers=bearer(analyst), timeout=30)
    finally:
        attacker.shutdown()
        stop_server(server)
    assert f"{server.url}/osmand" in requested  # the forged image was fetched, and refused:
    assert (f"{server.url}/api/v1/alerts/1/ack", 403) in answers
    assert alert.json()["status"] == "new"
    try:
        assert store.scan_pings().collect().height == 0
    finally:
        store.engine.dispose()

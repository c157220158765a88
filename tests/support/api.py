"""Builders for the API tests: a small region with sectors and crossings, keys, a real server."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import httpx2
import orjson
import shapely

from geoint.api.settings import ApiSettings
from geoint.layers import Region, shipped_region_path
from geoint.store.keys import KeyStore
from geoint.testing.server import LocalServer, free_port, start_server, stop_server
from support.workspaces import open_workspace

# Two sectors sharing the parallel 9°N: seizures and events are placed on either side.
SOUTH = (6.5, 2.6)  # lat, lon: in sector "south" (Benin, near the coast)
NORTH = (10.0, 3.0)  # in sector "north"
SEIZURES_CSV = (
    "seizure_id,date,lat,lon,commodity,transport_mode,description\n"
    f"S-SOUTH,2026-09-14,{SOUTH[0]},{SOUTH[1]},fuel,truck,jerrycans\n"
    f"S-NORTH,2026-09-20T02:40:00Z,{NORTH[0]},{NORTH[1]},tobacco,motorcycle,"
    '"<script>alert(1)</script> & ""quoted"""\n'
)


def build_region(folder: Path) -> Path:
    """A copy of the shipped region with a sectors layer and two crossings."""
    shutil.copytree(shipped_region_path(), folder)
    region = Region.load(folder)
    sectors = gpd.GeoDataFrame(
        {"sector_id": ["south", "north"], "unit": ["Seme post", "Kalale team"]},
        geometry=[shapely.box(1.0, 5.0, 5.5, 9.0), shapely.box(1.0, 9.0, 5.5, 13.5)],
        crs="EPSG:4326",
    )
    region.add_frame("sectors", sectors, source="test sectors")
    crossings = gpd.GeoDataFrame(
        {"name": ["Seme", "Kalale"], "hours": ["24h", "06:00-18:00"]},
        geometry=[shapely.Point(2.7035, 6.3794), shapely.Point(3.45, 10.3)],
        crs="EPSG:4326",
    )
    region.add_frame("crossings", crossings, source="test crossings")
    return folder


def api_settings(workspace: Path, region: Path, **service: object) -> ApiSettings:
    """Settings for a test app; `service` overrides the HTTP limits.

    Incremental runs after posted pings may follow each other at once: TestClient waits for a
    request's background tasks, so the service's spacing would stall every second post (the
    spacing has its own test, with a clock of its own).
    """
    alerts = {"incremental_cells_interval_s": 0, "incremental_events_interval_s": 0}
    return ApiSettings(workspace=workspace, region=region, api=service, alerts=alerts)


def create_key(workspace: Path, role: str, sectors: tuple[str, ...] = ()) -> str:
    """A new key's text, stored in the workspace (on the test's database)."""
    store = open_workspace(workspace)
    try:
        return KeyStore(store).create(role, sectors)[1]
    finally:
        store.engine.dispose()


def same_origin(url: str = "http://testserver") -> dict[str, str]:
    """The headers a browser sends with a POST from a page of `url`'s origin."""
    return {"Origin": url, "Sec-Fetch-Site": "same-origin"}


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}


Server = LocalServer
__all__ = ["Server", "free_port", "start_server", "stop_server"]  # shared with the tests


def read_sse(url: str, key: str, last_id: str | None, count: int, then=None) -> list[dict]:
    """Read `count` SSE events (calling `then()` after the first `count - 1`), then disconnect."""
    headers = bearer(key) | ({"Last-Event-ID": last_id} if last_id is not None else {})
    received: list[dict] = []
    with httpx2.stream("GET", f"{url}/api/v1/alerts/stream", headers=headers, timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        frame: dict[str, str] = {}
        if count == 1 and then is not None:
            then()  # the stream's starting point is fixed once its headers are sent
        for line in r.iter_lines():
            if line.startswith(("id:", "event:", "data:")):
                name, _, value = line.partition(":")
                frame[name] = value.strip()
            elif not line and "id" in frame:
                received.append({"id": int(frame["id"]), **orjson.loads(frame["data"])})
                frame = {}
                if len(received) == count - 1 and count > 1 and then is not None:
                    then()
                if len(received) == count:
                    break
    return received

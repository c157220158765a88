"""Builders for the API tests: a small region with sectors and crossings, keys, a real server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import httpx2
import shapely

from geoint.api.settings import ApiSettings
from geoint.keys import KeyStore
from geoint.layers import Region, shipped_region_path
from geoint.store import Workspace

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
    """Settings for a test app; `service` overrides the HTTP limits."""
    return ApiSettings(workspace=workspace, region=region, api=service)


def create_key(workspace: Path, role: str, sectors: tuple[str, ...] = ()) -> str:
    """A new key's text, stored in the workspace."""
    store = Workspace(workspace)
    try:
        return KeyStore(store).create(role, sectors)[1]
    finally:
        store.engine.dispose()


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Server:
    """A `geoint serve` process on loopback."""

    url: str
    process: subprocess.Popen
    log: Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(workspace: Path, region: Path, log: Path, timeout_s: float = 30) -> Server:
    """Start `geoint serve` in a subprocess and wait until /health answers."""
    port = free_port()
    command = [sys.executable, "-m", "geoint", "serve", "--workspace", str(workspace)]
    command += ["--region", str(region), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx2.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        except httpx2.TransportError:
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"server did not answer within {timeout_s} s:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    """Stop the server process (SIGTERM, then SIGKILL)."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()

"""`geoint bench api`: heatmap and vector-tile latency of a real server under concurrent clients.

Builds a workspace with the stable CLI (``region sample``, ``simulate`` sized to about the pings
asked for, ``ingest``, ``analyze``), starts ``geoint serve`` on a free 127.0.0.1 port and sends
the requests of a map session from concurrent clients (asyncio, one connection each):

- heatmaps of viewports around the riskiest cells of the last day: 0.34° x 0.22° windows at
  H3 resolution 8 (a 1000 x 640 px map at zoom 12) and 1.4° x 0.9° windows at resolution 6
  (zoom 9), metric ``risk``;
- the vector tiles covering those windows' centres (zoom 12 and 9, with their neighbours).

Each distinct request is first sent once (``cold``: computed by the server), then repeatedly in
shuffled rounds (``warm``: the server's cached bytes). The baseline of the same run is a second
server with its caches off (every request computed), and, in process, FastAPI's default
JSON encoding (``jsonable_encoder`` + ``JSONResponse``) of the same heatmaps against orjson.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import mercantile
import numpy as np
import orjson
import polars as pl

from geoint.serve.cell_views import METRICS, CellStore
from geoint.serve.heatmap import feature_collection
from geoint.testing.server import start_server, stop_server

Log = Callable[[str], None] | None
PINGS_PER_VEHICLE_WEEK = 3_800  # the generator at 60 s over 7 days (README)
VIEWPORTS = ((8, 0.34, 0.22, 12), (6, 1.4, 0.9, 9))  # resolution, width, height, tile zoom


def run_api_benchmark(
    pings: int,
    environment: Mapping[str, str],
    clients: int = 20,
    viewports: int = 50,
    rounds: int = 5,
    days: int = 7,
    folder: Path | None = None,
    log: Log = None,
) -> dict:
    """Build a workspace of about `pings` pings, serve it, and measure; return the figures.

    `folder` keeps the workspace (and reuses one built there before); default: a temporary one.
    `environment`: the servers' environment (the caller's), to which the baseline server adds
    settings turning the caches off.
    """
    say = log or (lambda _text: None)
    with tempfile.TemporaryDirectory(prefix="geoint-bench-api-") as tmp:
        root = folder or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        saved = root / "build.json"
        if saved.is_file():
            build = json.loads(saved.read_text())
            say(f"reusing the workspace of {build['pings']:,} pings in {root}")
        else:
            build = build_workspace(root, pings, days, say)
            saved.write_text(json.dumps(build))
        workspace, region = root / "W", root / "region"
        key = _analyst_key(workspace)
        heatmaps, tiles = session_requests(workspace, viewports)
        say(f"{len(heatmaps)} viewports, {len(tiles)} tiles; {clients} concurrent clients")
        results: dict = {}
        for name, extra in (("cached", {}), ("uncached", _NO_CACHE)):
            env = {**environment, **extra}
            server = start_server(workspace, region, root / f"{name}.log", env=env)
            try:
                load_s = _prime(server.url, key)
                results[name] = _measure(server.url, key, heatmaps, tiles, clients, rounds, say)
                results[name]["view_load_s"] = load_s
            finally:
                stop_server(server)
            say(f"{name}: {json.dumps(results[name])}")
        encoding = _encoding_baseline(workspace, heatmaps)
    return {
        "pings": build["pings"],
        "vehicles": build["vehicles"],
        "days": build["days"],
        "cells": build["cells"],
        "build_s": build["seconds"],
        "clients": clients,
        "requests": {"heatmaps": len(heatmaps), "tiles": len(tiles), "warm_rounds": rounds},
        "server": results,
        "encoding": encoding,
        "targets_ms": {"heatmap_p95": 50, "tile_p95": 30},
    }


def build_workspace(root: Path, pings: int, days: int, say: Callable[[str], None]) -> dict:
    """Region, scenario, ingest and analysis through the CLI; sizes and seconds."""
    region, scenario, workspace = root / "region", root / "scenario", root / "W"
    vehicles = max(20, round(pings / (PINGS_PER_VEHICLE_WEEK * days / 7)))
    fleet = ["--seed", "7", "--vehicles", str(vehicles), "--days", str(days)]
    steps = [
        ("region", ["region", "sample", str(region)]),
        ("simulate", ["simulate", "--region", str(region), *fleet, "--out", str(scenario)]),
        (
            "ingest",
            ["ingest", "pings", str(scenario / "pings.parquet"), "--workspace", str(workspace)],
        ),
        (
            "seizures",
            ["ingest", "seizures", str(scenario / "seizures.csv"), "--workspace", str(workspace)],
        ),
        ("analyze", ["analyze", "--workspace", str(workspace), "--region", str(region)]),
    ]
    seconds, reports = {}, {}
    for name, arguments in steps:
        say(f"{name}: geoint {' '.join(arguments)}")
        started = time.perf_counter()
        reports[name] = _geoint(arguments)
        seconds[name] = round(time.perf_counter() - started, 1)
    cells = pl.scan_parquet(workspace / "cells" / "days.parquet").select(pl.len()).collect()
    return {
        "pings": reports["simulate"]["pings"],
        "vehicles": vehicles,
        "days": days,
        "cells": {"cell_days": int(cells.item())},
        "seconds": seconds,
    }


def session_requests(workspace: Path, count: int) -> tuple[list[str], list[str]]:
    """Heatmap and tile paths of a map session around the riskiest cells of the last day."""
    view = CellStore(workspace).view(8)
    day = view.latest()
    rows, _ = view.select(METRICS["risk"], day, None, None, 20 * count)
    picked = rows[:: max(1, len(rows) // count)][:count]
    heatmaps, tiles = [], []
    for lat, lon in zip(view.lat[picked], view.lon[picked], strict=True):
        for resolution, width, height, zoom in VIEWPORTS:
            box = (lon - width / 2, lat - height / 2, lon + width / 2, lat + height / 2)
            bbox = ",".join(f"{v:.5f}" for v in box)
            heatmaps.append(f"/api/v1/heatmap?metric=risk&res={resolution}&bbox={bbox}")
            centre = mercantile.tile(lon, lat, zoom)
            for dx in (-1, 0, 1):
                tiles.append(f"/tiles/risk/{zoom}/{centre.x + dx}/{centre.y}.mvt")
    return heatmaps, sorted(set(tiles))


_NO_CACHE = {"GEOINT_API__HEATMAP_CACHE_MIB": "0", "GEOINT_API__TILE_CACHE_MIB": "0"}


def _measure(
    url: str,
    key: str,
    heatmaps: list[str],
    tiles: list[str],
    clients: int,
    rounds: int,
    say: Callable[[str], None],
) -> dict:
    figures: dict = {}
    shuffle = random.Random(1)
    asyncio.run(send_requests(url, key, ["/health"] * clients * 5, clients))  # warm-up
    floor = asyncio.run(send_requests(url, key, ["/health"] * len(tiles) * rounds, clients))
    figures["health"] = _summary(floor)  # the framework's floor: public, no work
    for kind, paths in (("heatmap", heatmaps), ("tile", tiles)):
        cold = asyncio.run(send_requests(url, key, paths, clients))
        warm_paths = [p for _ in range(rounds) for p in shuffle.sample(paths, len(paths))]
        warm = asyncio.run(send_requests(url, key, warm_paths, clients))
        figures[kind] = {"cold": _summary(cold), "warm": _summary(warm)}
        say(f"  {kind}: cold {figures[kind]['cold']}, warm {figures[kind]['warm']}")
    return figures


async def send_requests(
    url: str, key: str, paths: list[str], clients: int
) -> list[tuple[float, int]]:
    """Send `paths` from `clients` concurrent keep-alive connections; (seconds, bytes) each.

    A minimal HTTP/1.1 client on asyncio streams, so that the load generator's own CPU time
    (it shares the machine with the server) stays far below the server's. Like browsers and
    httpx it accepts gzip; a gzipped body is decompressed within the timed interval, and the
    bytes reported are those on the wire.
    """
    host, port = url.removeprefix("http://").split(":")
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    timings: list[tuple[float, int]] = []

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while not queue.empty():
                path = queue.get_nowait()
                request = (
                    f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}"
                    "\r\nAccept-Encoding: gzip"
                )
                started = time.perf_counter()
                writer.write(request.encode() + b"\r\n\r\n")
                head = await reader.readuntil(b"\r\n\r\n")
                status, length, gzipped = _status_length_gzip(head)
                body = await reader.readexactly(length)
                if gzipped:
                    body = gzip.decompress(body)
                timings.append((time.perf_counter() - started, length))
                if status not in (200, 204):
                    raise RuntimeError(f"{path}: {status} {body[:300]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return timings


def _status_length_gzip(head: bytes) -> tuple[int, int, bool]:
    lines = head.decode("latin-1").split("\r\n")
    length, gzipped = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "content-encoding":
            gzipped = value.strip().lower() == "gzip"
    return int(lines[0].split()[1]), length, gzipped


def _summary(timings: list[tuple[float, int]]) -> dict:
    ms = np.array([t for t, _ in timings]) * 1000
    size = np.array([b for _, b in timings])
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "max_ms": round(float(ms.max()), 2),
        "median_kb": round(float(np.median(size)) / 1024, 1),
    }


def _encoding_baseline(workspace: Path, heatmaps: list[str]) -> dict:
    """Median time to encode the session's heatmaps: FastAPI's default JSON vs orjson."""
    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import JSONResponse

    store = CellStore(workspace)
    fastapi_s, orjson_s = [], []
    for path in heatmaps:
        query = dict(part.split("=") for part in path.split("?")[1].split("&"))
        box = tuple(float(v) for v in query["bbox"].split(","))
        view = store.view(int(query["res"]))
        body = feature_collection(view, METRICS["risk"], view.latest(), box, None, 2_000)
        started = time.perf_counter()
        fast = orjson.dumps(body)
        orjson_s.append(time.perf_counter() - started)
        plain = orjson.loads(fast)  # plain dicts: FastAPI cannot encode orjson fragments
        started = time.perf_counter()
        JSONResponse(jsonable_encoder(plain))
        fastapi_s.append(time.perf_counter() - started)
    fastapi_ms, orjson_ms = np.median(fastapi_s) * 1000, np.median(orjson_s) * 1000
    return {
        "fastapi_default_ms_median": round(float(fastapi_ms), 2),
        "orjson_ms_median": round(float(orjson_ms), 3),
        "speedup": round(float(fastapi_ms / orjson_ms), 1),
    }


def _geoint(arguments: list[str]) -> dict:
    command = [sys.executable, "-m", "geoint", *arguments, "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"geoint {' '.join(arguments)} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def _analyst_key(workspace: Path) -> str:
    return _geoint(["keys", "create", "--workspace", str(workspace), "--role", "analyst"])["key"]


def _prime(url: str, key: str) -> float:
    """Seconds for the server to load its cell views (once per resolution, lazily)."""
    import httpx2

    started = time.perf_counter()
    for resolution in (5, 6, 7, 8):
        params = {"metric": "risk", "res": resolution, "bbox": "0,0,0.001,0.001"}
        headers = {"Authorization": f"Bearer {key}"}
        response = httpx2.get(f"{url}/api/v1/heatmap", params=params, headers=headers, timeout=120)
        response.raise_for_status()
    return round(time.perf_counter() - started, 2)

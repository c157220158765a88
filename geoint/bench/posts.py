"""`geoint bench posts`: tracking devices posting one position at a time (OsmAnd protocol).

Each post is its own ingest (ledger batch, Parquet part, incremental analysis in the
background). The benchmark starts `geoint serve` on loopback over an empty workspace and sends
`posts` positions of `devices` vehicles driving along 8°N, one position per request from
`clients` concurrent clients, and reports the request latency over the first and the last tenth
of the posts, the throughput, and the ping parts a read must open at the end. The baseline of
the same run is a second server on its own workspace with part merging turned off
(``GEOINT_INGEST__COMPACT_MIN_PARTS`` too large to be reached).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from geoint.store.keys import KeyStore
from geoint.store.workspace import Workspace
from geoint.testing.server import start_server, stop_server

Log = Callable[[str], None] | None
NO_MERGING = {"GEOINT_INGEST__COMPACT_MIN_PARTS": str(2**31 - 1)}


def run_posts_benchmark(
    root: Path,
    region: Path,
    environment: Mapping[str, str],
    posts: int = 1_000,
    devices: int = 20,
    clients: int = 4,
    log: Log = None,
) -> dict:
    """Post `posts` positions to a server with merging and to one without; the figures."""
    say = log or (lambda _text: None)
    results = {}
    for name, extra in (("merging", {}), ("baseline_no_merging", NO_MERGING)):
        workspace = root / name
        key = KeyStore(Workspace(workspace)).create("feeder")[1]
        server = start_server(workspace, region, root / f"{name}.log", env={**environment, **extra})
        try:
            started = time.perf_counter()
            latencies = asyncio.run(_post_all(server.url, key, posts, devices, clients))
            seconds = time.perf_counter() - started
        finally:
            stop_server(server)
        store = Workspace(workspace)
        read_started = time.perf_counter()
        stored = store.scan_pings().collect().height
        results[name] = {
            "posts_per_s": round(posts / seconds, 1),
            "first_tenth": _summary(latencies[: posts // 10]),
            "last_tenth": _summary(latencies[-(posts // 10) :]),
            "stored_pings": stored,
            "parts_read": len(store.ping_files()),
            "read_all_ms": round((time.perf_counter() - read_started) * 1000, 1),
        }
        store.close()
        say(f"{name}: {results[name]}")
    return {"posts": posts, "devices": devices, "clients": clients, **results}


async def _post_all(url: str, key: str, posts: int, devices: int, clients: int) -> list[float]:
    import httpx2

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(posts):
        queue.put_nowait(i)
    latencies = [0.0] * posts
    headers = {"Authorization": f"Bearer {key}"}

    async def client(http: httpx2.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            device, step = i % devices, i // devices
            params = {
                "id": f"DEV-{device:03d}",
                "lat": f"{8.0 + device * 0.01:.5f}",
                "lon": f"{2.0 + step * 0.0005:.5f}",
                "timestamp": str(int((start + timedelta(seconds=30 * step)).timestamp())),
            }
            sent = time.perf_counter()
            response = await http.post(f"{url}/osmand", params=params, headers=headers)
            latencies[i] = time.perf_counter() - sent
            response.raise_for_status()

    async with httpx2.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return latencies


def _summary(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
    }

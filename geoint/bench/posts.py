"""`geoint bench posts`: tracking devices posting one position at a time (OsmAnd protocol).

Each post is its own ingest (ledger batch, quarantine, report), stored with the posts that
arrive with it in one group commit (a shared Parquet part, incremental analysis in the
background; docs/ingest.md). The benchmark starts `geoint serve` on loopback over an empty
workspace and sends `posts` positions of `devices` vehicles (1,000 by default, spread over a
grid around 8°N 2°E), one position per request from `clients` concurrent clients (by default one
per device: a fleet's devices post at once, and with durable group commits the throughput is
the concurrency over the commit latency), and reports the request latency overall and over the
first and the last tenth of the posts, the throughput, the positions stored against those sent
(``lost``) and the ping parts a read must open at the end. The baseline of the same run is a
second server on its own workspace with part merging turned off
(``GEOINT_INGEST__COMPACT_MIN_PARTS`` too large to be reached). ``posts_per_s``,
``post_p95_ms`` and ``lost`` at the top are the first server's (the service as shipped). The
clients are aiohttp's (a light client: the load generator shares the cores with the server).

`run_mixed_benchmark` (``--mixed``) reproduces issue 18's mixed load instead: for `seconds`,
20 clients by default post 50-row CSV bodies and OsmAnd positions, read the map, the alert list
and the heatmap, and acknowledge and resolve new alerts, all on one server; it reports posts/s
and latency per request kind, then counts what was stored against what was acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

from geoint.store.keys import KeyStore
from geoint.store.workspace import Workspace
from geoint.testing.server import start_server, stop_server

Log = Callable[[str], None] | None
MIXED_CSV_ROWS = 50  # rows of each CSV body of the mixed load (the figure)
START_TIMEOUT_S = 300  # a server starting on a machine loaded by others may take minutes
NO_MERGING = {"GEOINT_INGEST__COMPACT_MIN_PARTS": str(2**31 - 1)}


def run_posts_benchmark(
    root: Path,
    region: Path,
    environment: Mapping[str, str],
    posts: int = 20_000,
    devices: int = 1_000,
    clients: int = 1_000,
    log: Log = None,
) -> dict:
    """Post `posts` positions to a server with merging and to one without; the figures."""
    say = log or (lambda _text: None)
    results = {}
    for name, extra in (("merging", {}), ("baseline_no_merging", NO_MERGING)):
        workspace = root / name
        key = KeyStore(Workspace(workspace)).create("feeder")[1]
        server = start_server(
            workspace, region, root / f"{name}.log", START_TIMEOUT_S, {**environment, **extra}
        )
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
            "all": _summary(latencies),
            "first_tenth": _summary(latencies[: posts // 10]),
            "last_tenth": _summary(latencies[-(posts // 10) :]),
            "stored_pings": stored,
            "lost": posts - stored,  # every position is new and valid: each must be stored
            "parts_read": len(store.ping_files()),
            "read_all_ms": round((time.perf_counter() - read_started) * 1000, 1),
        }
        store.close()
        say(f"{name}: {results[name]}")
    product = results["merging"]  # the service as shipped
    return {
        "posts": posts,
        "devices": devices,
        "clients": clients,
        "posts_per_s": product["posts_per_s"],
        "post_p95_ms": product["all"]["p95_ms"],
        "lost": product["lost"],
        **results,
    }


async def _post_all(url: str, key: str, posts: int, devices: int, clients: int) -> list[float]:
    import aiohttp

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)
    order = iter(range(posts))  # shared by the clients: each takes the next position
    latencies = [0.0] * posts
    headers = {"Authorization": f"Bearer {key}"}

    async def client(http: aiohttp.ClientSession) -> None:
        for i in order:
            device, step = i % devices, i // devices
            params = {
                "id": f"DEV-{device:04d}",
                "lat": f"{8.0 + (device % 100) * 0.01:.5f}",
                "lon": f"{2.0 + (device // 100) * 0.05 + step * 0.0005:.5f}",
                "timestamp": str(int((start + timedelta(seconds=30 * step)).timestamp())),
            }
            sent = time.perf_counter()
            async with http.post(f"{url}/osmand", params=params, headers=headers) as response:
                await response.read()
                response.raise_for_status()
            latencies[i] = time.perf_counter() - sent

    async with _session(clients) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return latencies


def _session(connections: int) -> Any:
    """The benchmarks' HTTP client: aiohttp, `connections` kept alive at once. A light client
    (~0.15 ms of CPU a request against httpx's ~1 ms), because the load generator shares the
    cores with the server (docs/ingest.md)."""
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=120),
    )


def _summary(seconds: list[float]) -> dict:
    ms = np.asarray(seconds or [0.0]) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
    }


def mixed_clients(clients: int) -> dict[str, int]:
    """How `clients` split into the mixed load's roles (20: 5 CSV, 10 OsmAnd, 3 readers,
    2 alert actors)."""
    csv, readers, actors = max(1, clients // 4), max(1, clients * 3 // 20), max(1, clients // 10)
    return {
        "csv": csv,
        "osmand": max(1, clients - csv - readers - actors),
        "readers": readers,
        "alert_actors": actors,
    }


def run_mixed_benchmark(
    root: Path,
    region: Path,
    environment: Mapping[str, str],
    seconds: float = 30,
    clients: int = 20,
    log: Log = None,
) -> dict:
    """Issue 18's mixed load on one server for `seconds`: posts/s, latency per request kind,
    and the acknowledged positions found stored (``lost``, ``doubled``)."""
    say = log or (lambda _text: None)
    workspace = root / "mixed"
    store = Workspace(workspace)
    keys = KeyStore(store)
    feeder, analyst = keys.create("feeder")[1], keys.create("analyst")[1]
    store.close()
    roles = mixed_clients(clients)
    server = start_server(
        workspace, region, root / "mixed.log", timeout_s=START_TIMEOUT_S, env=dict(environment)
    )
    try:
        load = _MixedLoad(server.url, feeder, analyst)
        started = time.perf_counter()
        asyncio.run(load.run(roles, seconds))
        elapsed = time.perf_counter() - started
        time.sleep(2)  # let the last background analyses finish before the server stops
    finally:
        stop_server(server)
    lost, doubled, stored = _account(workspace, load.accepted)
    kinds = {
        kind: {"requests": len(ms), "per_s": round(len(ms) / elapsed, 1), **_summary(ms)}
        for kind, ms in sorted(load.latencies.items())
        if ms
    }
    device = load.latencies["osmand"] + load.latencies["csv"]
    report = {
        "mode": "mixed",
        "seconds": round(elapsed, 1),
        "clients": roles,
        "posts_per_s": round(len(device) / elapsed, 1),
        "positions_per_s": round(len(load.accepted) / elapsed, 1),
        "post_p95_ms": _summary(device)["p95_ms"],
        "kinds": kinds,
        "errors": len(load.errors),
        "errors_first": load.errors[:5],
        "accepted": len(load.accepted),
        "stored": stored,
        "lost": lost,
        "doubled": doubled,
    }
    say(f"mixed: {report}")
    return report


class _MixedLoad:
    """The clients of the mixed load, on one event loop, and what the server confirmed."""

    def __init__(self, url: str, feeder: str, analyst: str) -> None:
        self.url = url
        self.feeder = {"Authorization": f"Bearer {feeder}"}
        self.analyst = {"Authorization": f"Bearer {analyst}"}
        self.origin = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=20)
        self.latencies: dict[str, list[float]] = {
            k: [] for k in ("osmand", "csv", "map", "map_day", "alerts", "heatmap", "alert_action")
        }
        self.errors: list[str] = []
        self.accepted: set[tuple[str, int]] = set()  # (vehicle, epoch s) the server stored

    async def run(self, roles: Mapping[str, int], seconds: float) -> None:
        """Run every client until `seconds` have passed (`_session`'s client)."""
        deadline = time.perf_counter() + seconds
        async with _session(sum(roles.values())) as http:
            await asyncio.gather(
                *(self._csv(http, i, deadline) for i in range(roles["csv"])),
                *(self._osmand(http, i, deadline) for i in range(roles["osmand"])),
                *(self._reader(http, i, deadline) for i in range(roles["readers"])),
                *(self._actor(http, deadline) for _ in range(roles["alert_actors"])),
            )

    async def _send(self, http, kind: str, method: str, path: str, **kwargs) -> Any:
        """One request, its latency under `kind`; its JSON body (True for another body), or
        None (and an error noted) unless a 2xx."""
        import aiohttp

        sent = time.perf_counter()
        try:
            async with http.request(method, self.url + path, **kwargs) as response:
                body = await response.read()
        except aiohttp.ClientError as exc:
            self.errors.append(f"{kind}: {exc!r}")
            return None
        self.latencies[kind].append(time.perf_counter() - sent)
        if not 200 <= response.status < 300:
            self.errors.append(f"{kind}: {response.status} {body[:200]!r}")
            return None
        return orjson.loads(body) if response.content_type == "application/json" else True

    def _position(self, step: int) -> tuple[int, float]:
        """Epoch and longitude of a device's `step`-th position: across the border and back."""
        sweep = (step % 40) if (step // 40) % 2 == 0 else 40 - (step % 40)  # 2.60°E ↔ 2.80°E
        return int((self.origin + timedelta(seconds=2 * step)).timestamp()), 2.60 + 0.005 * sweep

    async def _osmand(self, http, device: int, deadline: float) -> None:
        vehicle, lat, step = f"OSM-{device:03d}", 8.0 + 0.02 * device, 0
        while time.perf_counter() < deadline:
            epoch, lon = self._position(step)
            params = {
                "id": vehicle,
                "lat": f"{lat:.5f}",
                "lon": f"{lon:.5f}",
                "timestamp": str(epoch),
            }
            report = await self._send(
                http, "osmand", "POST", "/osmand", params=params, headers=self.feeder
            )
            if report is not None and report["accepted"] == 1:
                self.accepted.add((vehicle, epoch))
            step += 1

    async def _csv(self, http, poster: int, deadline: float) -> None:
        vehicle, lat, step = f"CSV-{poster:03d}", 7.5 + 0.02 * poster, 0
        headers = self.feeder | {"Content-Type": "text/csv"}
        while time.perf_counter() < deadline:
            rows = [self._position(step + i) for i in range(MIXED_CSV_ROWS)]
            body = "vehicle_id,ts,lat,lon\n" + "".join(
                f"{vehicle},{epoch},{lat:.5f},{lon:.5f}\n" for epoch, lon in rows
            )
            report = await self._send(
                http, "csv", "POST", "/api/v1/pings", data=body.encode(), headers=headers
            )
            if report is not None and report["accepted"] == len(rows):
                self.accepted.update((vehicle, epoch) for epoch, _ in rows)
            step += MIXED_CSV_ROWS

    async def _reader(self, http, reader: int, deadline: float) -> None:
        """An analyst's reads in turn: the alert list, the heatmap, and the map as a browser
        opens it (the page, then the day it fetches)."""
        reads = [
            [("alerts", "/api/v1/alerts?limit=50")],
            [("heatmap", "/api/v1/heatmap?metric=risk&limit=200")],
            [("map", "/map"), ("map_day", "/api/v1/map/day")],
        ]
        i = reader
        while time.perf_counter() < deadline:
            for kind, path in reads[i % len(reads)]:
                await self._send(http, kind, "GET", path, headers=self.analyst)
            i += 1

    async def _actor(self, http, deadline: float) -> None:
        """Acknowledge each new alert, then resolve it (a first-come actor wins: 409 is fine)."""
        while time.perf_counter() < deadline:
            listed = await self._send(
                http, "alerts", "GET", "/api/v1/alerts?status=new&limit=20", headers=self.analyst
            )
            for alert in listed["alerts"] if listed is not None else []:
                for verb in ("ack", "resolve"):
                    path = f"/api/v1/alerts/{alert['id']}/{verb}"
                    sent = time.perf_counter()
                    async with http.post(
                        self.url + path, json={"note": "bench"}, headers=self.analyst
                    ) as response:
                        await response.read()
                    self.latencies["alert_action"].append(time.perf_counter() - sent)
                    if response.status != 200:
                        break
            await asyncio.sleep(0.5)


def _account(workspace: Path, accepted: set[tuple[str, int]]) -> tuple[int, int, int]:
    """Acknowledged positions missing from the store, positions stored twice, rows stored."""
    store = Workspace(workspace)
    try:
        stored = store.scan_pings().select("vehicle_id", "ts").collect()
    finally:
        store.close()
    keys = stored.select("vehicle_id", pl.col("ts").dt.epoch("s").alias("epoch"))
    counts = keys.group_by("vehicle_id", "epoch").len()
    present = set(counts.select("vehicle_id", "epoch").iter_rows())
    lost = sum(1 for key in accepted if key not in present)
    return lost, int((counts["len"] - 1).sum()), stored.height

"""`geoint bench alerts`: the alert service's two speed bars (SPEC §14) on a real server.

1. Alert list: `alerts` alerts are raised in bulk through `geoint.alerts.store.raise_alerts` (one
   synthetic event per vehicle, so none folds into another), then ``GET /api/v1/alerts`` (the
   default page and 13 filtered feeds, newest first) is timed from one client and from `clients`
   concurrent clients (asyncio, one connection each; ``/health`` alike as the floor), on a
   server with its page cache off (every page computed), then on one with it on.
2. Latency: per trial, a new vehicle's pings completing an unofficial crossing are POSTed to
   ``/api/v1/pings`` (CSV) while one client listens on ``/api/v1/alerts/stream``; the latency is
   from just before the POST to the arrival of that vehicle's ``created`` frame.
"""

from __future__ import annotations

import asyncio
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import polars as pl

from geoint.alerts.raising import raise_alerts
from geoint.bench.api import _summary, send_requests
from geoint.ground import Ground
from geoint.h3index import latlng_to_cells
from geoint.schema import EVENT_SCHEMA
from geoint.settings import GeointSettings
from geoint.store.keys import KeyStore
from geoint.store.workspace import Workspace
from geoint.testing.server import start_server, stop_server

Log = Callable[[str], None] | None
ALERTING_TYPES = ("unofficial_crossing", "dark_crossing", "border_loiter", "shuttle")
# Benin → Nigeria at 8°N, one ping a minute; the border lies near 2.695°E in the shipped region
CROSSING_LON = tuple(2.67 + 0.005 * i for i in range(9))
CROSSING_LAT = 8.0
UNCACHED = "GEOINT_API__ALERT_CACHE_MIB"  # set to 0 for the baseline server: every page computed


def run_alerts_benchmark(
    root: Path,
    region: Path,
    ground: Ground,
    environment: Mapping[str, str],
    alerts: int = 100_000,
    trials: int = 100,
    requests: int = 200,
    clients: int = 20,
    seed: int = 0,
    log: Log = None,
) -> dict:
    """Build a workspace under `root` with `alerts` alerts, serve it with `region` (whose
    layers `ground` answers), and measure the list and the latency; return the figures.

    `environment`: the servers' environment (the caller's); the baseline adds `UNCACHED`.
    """
    say = log or (lambda _text: None)
    workspace = root / "W"
    store = Workspace(workspace)
    admin = KeyStore(store).create("admin")[1]
    feeder = KeyStore(store).create("feeder")[1]
    started = time.perf_counter()
    settings = GeointSettings(workspace=workspace)
    events = synthetic_events(alerts, seed)
    raised = raise_alerts(store, ground, settings, events, cell_rules=False)
    build_s = time.perf_counter() - started
    store.engine.dispose()
    say(f"{raised['created']:,} alerts raised in {build_s:.1f} s; starting the servers")
    baseline = start_server(
        workspace, region, root / "uncached.log", env={**environment, UNCACHED: "0"}
    )
    try:
        uncached = measure_list(baseline.url, admin, requests, clients, say)
    finally:
        stop_server(baseline)
    server = start_server(workspace, region, root / "cached.log", env=dict(environment))
    try:
        cached = measure_list(server.url, admin, requests, clients, say)
        latency = measure_latency(server.url, admin, feeder, trials, say)
    finally:
        stop_server(server)
    return {
        "alerts_stored": raised["created"],
        "build_seconds": round(build_s, 2),
        "list": {"uncached": uncached, "cached": cached},
        "sse_latency": latency,
        "targets": {"list_p95_ms": 20, "sse_latency_p95_s": 2},
    }


def synthetic_events(count: int, seed: int) -> pl.DataFrame:
    """`count` alerting events (schema.EVENT_SCHEMA), one vehicle each, over the last 30 days."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(6.5, 12.0, count)
    lon = rng.uniform(2.6, 3.6, count)
    first = np.datetime64(datetime.now(UTC).replace(tzinfo=None) - timedelta(days=30), "us")
    offsets = rng.integers(0, 30 * 86400, count).astype("timedelta64[s]")
    ids = pl.int_range(count, eager=True).cast(pl.String).str.zfill(7)
    frame = pl.DataFrame(
        {
            "event_id": "B" + ids,
            "event_type": np.array(ALERTING_TYPES)[np.arange(count) % len(ALERTING_TYPES)],
            "vehicle_id": "BV" + ids,
            "start": pl.Series(first + offsets).dt.replace_time_zone("UTC"),
            "lat": lat,
            "lon": lon,
            "cell": latlng_to_cells(lat, lon, 8),
            "ping": np.arange(count, dtype=np.uint64),
        }
    )
    return (
        frame.with_columns(
            pl.lit(None, pl.String).alias("other_vehicle_id"),
            (pl.col("start") + pl.duration(minutes=3)).alias("end"),
            pl.lit(0).alias("side_from"),
            pl.lit(1).alias("side_to"),
            pl.lit(False).alias("night"),
            pl.lit(0.0).alias("distance_to_border_m"),
            pl.lit(5_000.0).alias("distance_to_crossing_m"),
            pl.concat_list("ping").alias("evidence"),
            pl.lit("{}").alias("detail"),
        )
        .select(list(EVENT_SCHEMA))
        .cast(EVENT_SCHEMA)
    )


def feed_paths() -> list[str]:
    """The alert feeds units and analysts poll: the default page and filtered ones."""
    week_ago = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    filters = [
        "",
        "?status=new",
        "?severity=Extreme",
        "?severity=Severe&status=new",
        *(f"?type={kind}" for kind in ALERTING_TYPES),
        "?limit=20",
        f"?since={week_ago}",
        *(f"?bbox=2.6,{lat:.1f},3.6,{lat + 1.5:.1f}" for lat in (6.5, 8.0, 9.5, 11.0)),
    ]
    return [f"/api/v1/alerts{query}" for query in filters]


def measure_list(
    url: str, key: str, requests: int, clients: int, say: Callable[[str], None]
) -> dict:
    """The alert feeds of `feed_paths`, in shuffled rounds, from one client, then `clients` at
    once. `/health` under the same concurrency is the floor of the server and the clients.
    """
    feeds = feed_paths()
    shuffle = random.Random(1)
    paths = [
        p for _ in range(requests // len(feeds) + 1) for p in shuffle.sample(feeds, len(feeds))
    ]
    paths = paths[:requests]
    asyncio.run(send_requests(url, key, paths[: clients * 2], clients))  # warm-up
    report = {
        "one_client": _summary(asyncio.run(send_requests(url, key, paths, 1))),
        f"{clients}_clients": _summary(asyncio.run(send_requests(url, key, paths, clients))),
        f"{clients}_clients_health": _summary(
            asyncio.run(send_requests(url, key, ["/health"] * requests, clients))
        ),
    }
    say(f"alert list: {orjson.dumps(report).decode()}")
    return report


def measure_latency(
    url: str, admin: str, feeder: str, trials: int, say: Callable[[str], None]
) -> dict:
    """Seconds from POSTing a planted crossing's pings to its alert on an SSE client."""
    import httpx2

    frames: queue.Queue[tuple[float, dict]] = queue.Queue()
    ready, stop = threading.Event(), threading.Event()

    def listen() -> None:
        try:
            stream()
        except httpx2.TransportError:
            if not stop.is_set():
                raise

    def stream() -> None:
        headers = {"Authorization": f"Bearer {admin}"}
        with httpx2.stream(
            "GET", f"{url}/api/v1/alerts/stream", headers=headers, timeout=None
        ) as r:
            ready.set()
            for line in r.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("data:"):
                    frames.put((time.perf_counter(), orjson.loads(line[5:])))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(30)
    post_headers = {"Authorization": f"Bearer {feeder}", "Content-Type": "text/csv"}
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    latencies = []
    with httpx2.Client(timeout=60) as client:
        for trial in range(trials + 1):  # trial 0 warms the analysis (numba, imports)
            vehicle = f"SSE-{trial:04d}"
            body = crossing_csv(vehicle, start)
            posted = time.perf_counter()
            client.post(
                f"{url}/api/v1/pings", content=body, headers=post_headers
            ).raise_for_status()
            while True:
                arrived, frame = frames.get(timeout=60)
                alert = frame["alert"]
                if frame["action"] == "created" and alert["vehicles"] == [vehicle]:
                    break
            if trial:
                latencies.append(arrived - posted)
    stop.set()
    report = {"trials": trials, "pings_per_trial": len(CROSSING_LON), **_summary_s(latencies)}
    say(f"SSE latency: {orjson.dumps(report).decode()}")
    return report


def crossing_csv(vehicle: str, start: datetime) -> str:
    """CSV pings of `vehicle` crossing the border unofficially, a minute apart from `start`."""
    lines = ["vehicle_id,ts,lat,lon"]
    for i, lon in enumerate(CROSSING_LON):
        moment = (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{vehicle},{moment},{CROSSING_LAT},{lon:.4f}")
    return "\n".join(lines) + "\n"


def _summary_s(seconds: list[float]) -> dict:
    values = np.asarray(seconds)
    return {
        "p50_s": round(float(np.percentile(values, 50)), 3),
        "p95_s": round(float(np.percentile(values, 95)), 3),
        "max_s": round(float(values.max()), 3),
    }

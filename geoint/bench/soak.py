"""`geoint bench soak`: a mixed load on a real server for some minutes, then an account of
what was stored against what was sent.

`geoint serve` runs on loopback over a fresh workspace of the region. For `minutes`:

- `devices` tracking devices post their positions one request each (OsmAnd, a feeder key),
  each driving back and forth across the border at its own latitude (so that incremental
  analysis raises alerts), and every 50th request posts a CSV batch of 20 positions instead;
- `readers` clients read alert pages, GeoJSON, the OGC events collection, the risk heatmap
  and, now and then, the map;
- one analyst acknowledges every new alert and then resolves it;
- half-way, a full ``geoint analyze`` runs in its own process beside the server.

Then the server stops and the workspace is read directly: every ping the server accepted must
be stored once (``lost``: accepted and missing; ``doubled``: a vehicle and time stored twice),
and every alert transition the server confirmed must be in the alert's history once. Report:
``requests``, ``errors_5xx`` (and the first few), ``errors_transport``, ``lost``, ``doubled``
(pings and transitions together, each also on its own), request latency p50/p95 and the
analysis' exit status.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from geoint.alerts.store import AlertStore
from geoint.store.keys import KeyStore
from geoint.store.workspace import Workspace
from geoint.testing.server import start_server, stop_server

Log = Callable[[str], None] | None
STEP_S = 2  # seconds of device time between two positions of one device
BATCH_EVERY = 50  # every this many requests a device posts a CSV batch
BATCH_ROWS = 20
SAMPLES = 5  # 5xx responses quoted in the report


class _Tally:
    """Thread-safe counts of the load's requests and what the server confirmed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.server_errors: list[str] = []
        self.transport_errors: list[str] = []
        self.accepted: set[tuple[str, int]] = set()  # (vehicle, epoch s) stored per the server
        self.transitions: list[tuple[int, str]] = []  # (alert id, action) the server confirmed

    def request(self, client, method: str, url: str, **kwargs):
        """Send one request; count it, its latency and a 5xx; None on a transport error."""
        import httpx2

        sent = time.perf_counter()
        try:
            response = client.request(method, url, **kwargs)
        except httpx2.TransportError as exc:
            with self.lock:
                self.transport_errors.append(f"{method} {url}: {type(exc).__name__} {exc}")
            return None
        with self.lock:
            self.latencies.append(time.perf_counter() - sent)
            if response.status_code >= 500:
                self.server_errors.append(f"{method} {url} -> {response.status_code}")
        return response


def run_soak(
    root: Path,
    region: Path,
    environment: Mapping[str, str],
    minutes: float,
    devices: int = 8,
    readers: int = 2,
    log: Log = None,
) -> dict:
    """Run the mixed load for `minutes` on a fresh workspace under `root`; the account."""
    say = log or (lambda _text: None)
    workspace = root / "ws"
    store = Workspace(workspace)
    keys = KeyStore(store)
    feeder, analyst = keys.create("feeder")[1], keys.create("analyst")[1]
    store.close()
    server = start_server(workspace, region, root / "server.log", env=dict(environment))
    tally = _Tally()
    stop = threading.Event()
    started = time.monotonic()
    origin = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=23)
    workers = [
        threading.Thread(target=_device, args=(server.url, feeder, i, origin, tally, stop))
        for i in range(devices)
    ]
    workers += [
        threading.Thread(target=_reader, args=(server.url, analyst, i, tally, stop))
        for i in range(readers)
    ]
    workers.append(threading.Thread(target=_alert_actor, args=(server.url, analyst, tally, stop)))
    try:
        for worker in workers:
            worker.start()
        time.sleep(minutes * 30)
        say("half-way: running geoint analyze beside the server")
        command = [sys.executable, "-m", "geoint", "analyze", "--workspace", str(workspace)]
        analysis = subprocess.run(
            [*command, "--region", str(region), "--json"],
            capture_output=True,
            text=True,
            env=dict(environment),
        )
        time.sleep(max(0.0, started + minutes * 60 - time.monotonic()))
    finally:
        stop.set()
        for worker in workers:
            worker.join()
        time.sleep(3)  # the last posts' background analyses
        stop_server(server)
    seconds = time.monotonic() - started
    return _account(workspace, tally, seconds, minutes, analysis.returncode, say)


def _account(
    workspace: Path, tally: _Tally, seconds: float, minutes: float, analysis: int, say
) -> dict:
    """Compare the workspace with what the server confirmed."""
    store = Workspace(workspace)
    try:
        stored = store.scan_pings().select("vehicle_id", "ts").collect()
        history = AlertStore(store)
        confirmed = Counter(tally.transitions)
        recorded: Counter[tuple[int, str]] = Counter()
        for alert_id in {alert_id for alert_id, _ in confirmed}:
            for change in history.history(alert_id):
                recorded[(alert_id, change["action"])] += 1
    finally:
        store.close()
    keys = stored.select(
        pl.col("vehicle_id"), pl.col("ts").dt.epoch("s").alias("epoch")
    ).iter_rows()
    present = Counter(keys)
    lost_pings = sum(1 for key in tally.accepted if key not in present)
    doubled_pings = sum(n - 1 for n in present.values() if n > 1)
    lost_transitions = sum(1 for key in confirmed if recorded[key] == 0)
    doubled_transitions = sum(recorded[key] - 1 for key in confirmed if recorded[key] > 1)
    ms = np.asarray(tally.latencies) * 1000 if tally.latencies else np.zeros(1)
    report = {
        "minutes": minutes,
        "seconds": round(seconds, 1),
        "requests": len(tally.latencies) + len(tally.transport_errors),
        "requests_per_s": round(len(tally.latencies) / seconds, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "errors_5xx": len(tally.server_errors),
        "errors_5xx_first": tally.server_errors[:SAMPLES],
        "errors_transport": len(tally.transport_errors),
        "errors_transport_first": tally.transport_errors[:SAMPLES],
        "pings_accepted": len(tally.accepted),
        "pings_stored": stored.height,
        "alert_transitions": sum(confirmed.values()),
        "lost_pings": lost_pings,
        "doubled_pings": doubled_pings,
        "lost_transitions": lost_transitions,
        "doubled_transitions": doubled_transitions,
        "lost": lost_pings + lost_transitions,
        "doubled": doubled_pings + doubled_transitions,
        "analysis_exit": analysis,
    }
    say(f"soak: {report}")
    return report


def _device(
    url: str, key: str, device: int, origin: datetime, tally: _Tally, stop: threading.Event
) -> None:
    """Post positions of one device across the border at 8°N + device·0.02°, until `stop`."""
    import httpx2

    vehicle, lat = f"SOAK-{device:03d}", 8.0 + 0.02 * device
    headers = {"Authorization": f"Bearer {key}"}
    step = 0

    def position(i: int) -> tuple[int, float]:
        sweep = (i % 40) if (i // 40) % 2 == 0 else 40 - (i % 40)  # 2.60°E ↔ 2.80°E
        return int((origin + timedelta(seconds=STEP_S * i)).timestamp()), 2.60 + 0.005 * sweep

    with httpx2.Client(timeout=60) as client:
        while not stop.is_set():
            if step % BATCH_EVERY == BATCH_EVERY - 1:
                rows = [position(step + i) for i in range(BATCH_ROWS)]
                body = "vehicle_id,ts,lat,lon\n" + "".join(
                    f"{vehicle},{epoch},{lat:.5f},{lon:.5f}\n" for epoch, lon in rows
                )
                response = tally.request(
                    client,
                    "POST",
                    f"{url}/api/v1/pings",
                    content=body,
                    headers=headers | {"Content-Type": "text/csv"},
                )
                if _accepted(response) == len(rows):
                    with tally.lock:
                        tally.accepted.update((vehicle, epoch) for epoch, _ in rows)
                step += BATCH_ROWS
                continue
            epoch, lon = position(step)
            params = {"id": vehicle, "lat": f"{lat:.5f}", "lon": f"{lon:.5f}", "timestamp": epoch}
            response = tally.request(
                client, "POST", f"{url}/osmand", params=params, headers=headers
            )
            if _accepted(response) == 1:
                with tally.lock:
                    tally.accepted.add((vehicle, epoch))
            step += 1


def _accepted(response) -> int:
    """Pings an ingest response says were stored (0 for a refusal or a transport error)."""
    if response is None or response.status_code != 200:
        return 0
    return response.json()["accepted"]


def _reader(url: str, key: str, reader: int, tally: _Tally, stop: threading.Event) -> None:
    """Read the service's lists, feeds and heatmap in turn (every 40th, the map as a browser
    opens it: the page, then its day), until `stop`."""
    import httpx2

    paths = [
        "/api/v1/alerts?limit=50",
        "/api/v1/alerts.geojson?limit=20",
        "/ogc/collections/events/items?limit=20",
        "/api/v1/heatmap?metric=risk&limit=200",
        "/health",
    ]
    headers = {"Authorization": f"Bearer {key}"}
    with httpx2.Client(timeout=60) as client:
        i = reader
        while not stop.is_set():
            for path in ["/map", "/api/v1/map/day"] if i % 40 == 39 else [paths[i % len(paths)]]:
                tally.request(client, "GET", url + path, headers=headers)
            i += 1


def _alert_actor(url: str, key: str, tally: _Tally, stop: threading.Event) -> None:
    """Acknowledge each new alert, then resolve it, until `stop`; note what was confirmed."""
    import httpx2

    headers = {"Authorization": f"Bearer {key}"}
    with httpx2.Client(timeout=60) as client:
        while not stop.is_set():
            listed = tally.request(
                client, "GET", f"{url}/api/v1/alerts?status=new&limit=20", headers=headers
            )
            alerts = listed.json()["alerts"] if listed is not None and listed.is_success else []
            for alert in alerts:
                for verb, action in (("ack", "acknowledged"), ("resolve", "resolved")):
                    response = tally.request(
                        client,
                        "POST",
                        f"{url}/api/v1/alerts/{alert['id']}/{verb}",
                        json={"note": "soak"},
                        headers=headers,
                    )
                    if response is None or response.status_code != 200:
                        break
                    with tally.lock:
                        tally.transitions.append((alert["id"], action))
            stop.wait(0.5)

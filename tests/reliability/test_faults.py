"""Fault injection across the stages: kills during analysis, compaction and a flood of device
posts (group commits in flight), a real full filesystem, and a short soak of the running
service; nothing accepted is lost or doubled.

Kills during ingest: tests/store/test_crash_safety.py; a corrupt part: tests/store/
test_check.py; a database locked by another process and write faults: tests/api/
test_api_faults.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import polars as pl
import pytest
from support.cli import geoint

from geoint.bench.ingest import synthetic_pings
from geoint.bench.soak import run_soak
from geoint.layers import shipped_region_path
from geoint.pipeline.ingest import ingest_pings
from geoint.settings import GeointSettings
from geoint.store.keys import KeyStore
from geoint.store.workspace import Workspace
from geoint.testing.server import start_server, stop_server


def _spawn(*args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "geoint", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _pings(workspace: Path) -> pl.DataFrame:
    store = Workspace(workspace)
    try:
        return store.scan_pings().select("ping_id", "vehicle_id", "ts").collect().sort("ping_id")
    finally:
        store.close()


@pytest.mark.parametrize("kill_after_s", [0.5, 2.0])
def test_a_kill_during_analysis_leaves_a_workspace_that_analyses_again(tmp_path, kill_after_s):
    source, ws = tmp_path / "pings.parquet", tmp_path / "ws"
    synthetic_pings(150_000, seed=5).write_parquet(source)
    assert geoint("ingest", "pings", str(source), "--workspace", str(ws)).returncode == 0
    before = _pings(ws)
    region = str(shipped_region_path())
    analysis = _spawn("analyze", "--workspace", str(ws), "--region", region, "--json")
    time.sleep(kill_after_s)
    analysis.kill()
    analysis.wait()
    assert geoint("check", "--workspace", str(ws)).returncode == 0
    assert _pings(ws).equals(before)
    first = geoint("analyze", "--workspace", str(ws), "--region", region, "--json")
    assert first.returncode == 0, first.stderr
    events = pl.read_parquet(ws / "events" / "events.parquet").sort("event_id")
    again = geoint("analyze", "--workspace", str(ws), "--region", region, "--json")
    assert again.returncode == 0
    assert pl.read_parquet(ws / "events" / "events.parquet").sort("event_id").equals(events)


def test_a_kill_during_compaction_loses_and_doubles_nothing(tmp_path):
    ws = tmp_path / "ws"
    pings = synthetic_pings(60_000, seed=9).sort("ts").with_row_index("i")
    chunks = pings.with_columns(pl.col("i") // 5_000).partition_by("i", include_key=False)
    store, settings = Workspace(ws), GeointSettings(workspace=ws)
    for i, part in enumerate(chunks):  # 12 small parts, fewer than an ingest merges itself
        path = tmp_path / f"p{i}.parquet"
        part.write_parquet(path)
        assert ingest_pings(store, path, settings).accepted == part.height
    store.close()
    before = _pings(ws)
    for delay in (0.2, 0.6, 1.2):
        compaction = _spawn("compact", "--workspace", str(ws), "--min-parts", "2", "--grace-s", "0")
        time.sleep(delay)
        compaction.kill()
        compaction.wait()
        after = _pings(ws)
        assert after.equals(before), f"killed after {delay} s"
    assert geoint("compact", "--workspace", str(ws), "--min-parts", "2").returncode == 0
    assert _pings(ws).equals(before)
    assert geoint("check", "--workspace", str(ws)).returncode == 0


@pytest.fixture
def small_filesystem(tmp_path):
    """A 6 MiB tmpfs (needs root: mounting is what makes the disk really fill up)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root; write faults cover the rest")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("this machine does not let tests mount a filesystem")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _our_files(workspace: Path) -> list[str]:
    """The workspace's files but SQLite's own journal files (which SQLite manages)."""
    return sorted(
        str(p.relative_to(workspace))
        for p in workspace.rglob("*")
        if not p.name.endswith(("-wal", "-shm", "-journal"))
    )


def _fill(folder: Path) -> Path:
    """Write a file until the filesystem is full; return it (deleting it frees the space)."""
    filler = folder / "filler"
    with open(filler, "wb") as sink:
        try:
            while True:
                sink.write(b"\0" * 65_536)
                sink.flush()
        except OSError:
            pass
    return filler


def test_a_really_full_disk_is_one_line_and_leaves_the_workspace_unchanged(
    small_filesystem, tmp_path
):
    ws = small_filesystem / "ws"
    first, second = tmp_path / "first.parquet", tmp_path / "second.parquet"
    synthetic_pings(2_000, seed=1).write_parquet(first)
    synthetic_pings(50_000, seed=2).write_parquet(second)
    assert geoint("ingest", "pings", str(first), "--workspace", str(ws)).returncode == 0
    before = (_pings(ws), _our_files(ws))
    filler = _fill(small_filesystem)
    for args in (("ingest", "pings", str(second)), ("keys", "create", "--role", "analyst")):
        done = geoint(*args, "--workspace", str(ws))
        assert done.returncode == 1, (args, done.stderr)
        (line,) = done.stderr.splitlines()
        assert line.startswith("error: ") and "no space left" in line
    assert _our_files(ws) == before[1]  # no part, no temporary file left
    filler.unlink()
    assert _pings(ws).equals(before[0])
    done = geoint("ingest", "pings", str(second), "--workspace", str(ws), "--json")
    assert done.returncode == 0, done.stderr


def test_a_short_soak_loses_doubles_and_fails_nothing(tmp_path):
    region = Path(shutil.copytree(shipped_region_path(), tmp_path / "region"))
    report = run_soak(tmp_path, region, os.environ, minutes=0.25, devices=3, readers=1)
    assert report["requests"] > 100 and report["pings_accepted"] > 20
    assert report["errors_5xx"] == 0, report["errors_5xx_first"]
    assert (report["lost"], report["doubled"], report["analysis_exit"]) == (0, 0, 0)


def test_a_server_killed_while_devices_post_loses_and_doubles_no_acknowledged_position(
    tmp_path,
):
    region = Path(shutil.copytree(shipped_region_path(), tmp_path / "region"))
    ws = tmp_path / "ws"
    store = Workspace(ws)
    feeder = KeyStore(store).create("feeder")[1]
    store.close()
    server = start_server(ws, region, tmp_path / "first.log", env=dict(os.environ))
    origin = int(time.time()) - 6 * 3600
    acknowledged: set[tuple[str, int]] = set()
    sent: set[tuple[str, int]] = set()
    killed = threading.Event()

    def device(i: int) -> None:  # posts until the server is gone, one position at a time
        with httpx2.Client(timeout=30) as client:
            for step in range(100_000):
                params = {"id": f"K{i}", "lat": 8 + i * 0.01, "lon": 2 + step * 1e-4}
                params["timestamp"], params["key"] = origin + step, feeder
                sent.add((f"K{i}", origin + step))
                try:
                    response = client.post(f"{server.url}/osmand", params=params)
                except httpx2.TransportError:
                    return
                if response.status_code == 200 and response.json()["accepted"] == 1:
                    acknowledged.add((f"K{i}", origin + step))
                if killed.is_set():
                    return

    devices = [threading.Thread(target=device, args=(i,)) for i in range(12)]
    for thread in devices:
        thread.start()
    deadline = time.monotonic() + 120
    while len(acknowledged) < 300:  # groups are being committed: kill in the middle
        assert time.monotonic() < deadline, "the devices' posts were not acknowledged"
        time.sleep(0.05)
    server.process.kill()  # SIGKILL: groups in flight die with the process
    server.process.wait()
    killed.set()
    for thread in devices:
        thread.join()

    def stored() -> pl.DataFrame:
        again = Workspace(ws)
        try:
            with again.writer():  # what a restarted writer sees after its recovery
                pings = again.scan_pings().collect()
        finally:
            again.close()
        return pings.select("vehicle_id", pl.col("ts").dt.epoch("s")).sort("vehicle_id", "ts")

    after_kill = stored()
    present = set(after_kill.iter_rows())
    assert acknowledged <= present  # nothing acknowledged was lost
    assert after_kill.height == len(present)  # nothing doubled
    # the devices send again what was never acknowledged (and some that was): stored once
    restarted = start_server(ws, region, tmp_path / "second.log", env=dict(os.environ))
    try:
        with httpx2.Client(timeout=30) as client:
            for vehicle, epoch in sorted(sent - acknowledged) + sorted(acknowledged)[:20]:
                i = int(vehicle[1:])
                params = {"id": vehicle, "lat": 8 + i * 0.01, "lon": 2 + (epoch - origin) * 1e-4}
                params["timestamp"], params["key"] = epoch, feeder
                assert client.post(f"{restarted.url}/osmand", params=params).status_code == 200
    finally:
        stop_server(restarted)
    final = stored()
    assert set(final.iter_rows()) == sent and final.height == len(sent)

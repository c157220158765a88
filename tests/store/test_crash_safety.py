"""A process killed during ingest leaves a readable workspace, and a re-run completes it."""

import json
import subprocess
import sys
import time

import polars as pl
import pytest
from support.workspaces import open_workspace

from geoint.bench.ingest import synthetic_pings

pytestmark = pytest.mark.databases

PINGS = 1_200_000


def _ingest(source, workspace) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "geoint",
        "ingest",
        "pings",
        str(source),
        "--workspace",
        str(workspace),
        "--json",
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, proc, timeout=120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"ingest ended before the kill: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "ingest never reached the kill point"
        time.sleep(0.002)


@pytest.mark.slow
@pytest.mark.parametrize("kill_point", ["while_reading", "while_writing_parts"])
def test_kill_during_ingest_then_rerun(tmp_path, kill_point):
    source = tmp_path / "pings.parquet"
    synthetic_pings(PINGS, seed=3).write_parquet(source)
    root = tmp_path / "ws"
    proc = _ingest(source, root)
    if kill_point == "while_reading":
        # the workspace's tables were checked (either database): the file is being read
        _wait_for(lambda: (root / ".init.lock").exists(), proc)
    else:
        _wait_for(lambda: any((root / "pings").rglob("part-*")), proc)
    proc.kill()
    proc.wait()

    # readable: nothing of the killed batch is visible, the database opens
    workspace = open_workspace(root)
    assert workspace.scan_pings().select(pl.len()).collect().item() == 0
    assert workspace.batches("committed") == []
    workspace.engine.dispose()

    rerun = _ingest(source, root)
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    report = json.loads(stdout)
    assert (report["accepted"], report["duplicates"], report["quarantined"]) == (PINGS, 0, 0)

    workspace = open_workspace(root)
    stored = workspace.scan_pings().select("ping_id", "vehicle_id", "ts").collect()
    assert stored.height == PINGS
    assert stored["ping_id"].n_unique() == PINGS
    assert stored.select(pl.struct("vehicle_id", "ts").n_unique()).item() == PINGS
    assert not list((root / "pings").rglob("*.tmp"))
    workspace.engine.dispose()


def test_concurrent_writers_take_turns_and_lose_nothing(tmp_path):
    """Two processes ingesting different files into one workspace at once both land whole."""
    root = tmp_path / "ws"
    sources = []
    for seed in (5, 6):
        source = tmp_path / f"pings{seed}.parquet"
        frame = synthetic_pings(300_000, seed=seed)
        frame.with_columns(pl.col("vehicle_id") + f"-{seed}").write_parquet(source)
        sources.append(source)
    procs = [_ingest(source, root) for source in sources]
    reports = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        reports.append(json.loads(stdout))
    assert [r["accepted"] for r in reports] == [300_000, 300_000]
    workspace = open_workspace(root)
    assert workspace.scan_pings().select(pl.len()).collect().item() == 600_000
    workspace.engine.dispose()

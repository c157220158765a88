"""The scale benchmark (`geoint bench scale`): its generator and one small run end to end."""

import itertools
import json
import subprocess
import sys

import polars as pl

from geoint.bench.scale import tracker_chunks


def test_chunks_hold_exactly_n_pings_of_whole_days_in_vehicle_and_time_order():
    chunks = list(tracker_chunks(1_234_567, chunk_pings=300_000))
    assert len(chunks) > 3 and sum(c.height for c in chunks) == 1_234_567
    days = [set(c["ts"].dt.date().unique()) for c in chunks]
    assert all(a.isdisjoint(b) for a, b in itertools.pairwise(days))
    for chunk in chunks:
        assert chunk.columns == ["vehicle_id", "ts", "lat", "lon"]
        assert chunk.equals(chunk.sort("vehicle_id", "ts", maintain_order=True))
    whole = pl.concat(chunks)
    assert whole["vehicle_id"].n_unique() == 61  # 1,234,567 // 20,000 trackers
    assert whole.select(pl.struct("vehicle_id", "ts").is_unique().all()).item()
    assert whole["ts"].dt.date().n_unique() == 90  # months of data


def test_a_small_run_reports_time_memory_and_an_identical_baseline():
    done = subprocess.run(
        [sys.executable, "-m", "geoint", "bench", "scale", "--pings", "200000", "--json"],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["pings"] == 200_000 and result["partitions"] == 1
    assert result["ingest_s"] > 0 and result["analyze_s"] > 0
    assert 0 < result["peak_rss_gb"] < 8 and result["events"] > 0
    assert result["baseline"]["identical"] is True

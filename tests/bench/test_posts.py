"""`geoint bench posts`: the mixed load on a real server counts every acknowledged position
stored once; the single-kind mode counts what it posted."""

import os
import shutil
from pathlib import Path

from geoint.bench.posts import mixed_clients, run_mixed_benchmark, run_posts_benchmark
from geoint.layers import shipped_region_path


def test_the_mixed_load_reports_each_request_kind_and_loses_nothing(tmp_path):
    region = Path(shutil.copytree(shipped_region_path(), tmp_path / "region"))
    report = run_mixed_benchmark(tmp_path, region, os.environ, seconds=4, clients=8)
    assert report["clients"] == mixed_clients(8)
    assert {"osmand", "csv", "map", "map_day", "alerts", "heatmap"} <= set(report["kinds"])
    assert report["kinds"]["csv"]["requests"] > 0 and report["kinds"]["osmand"]["requests"] > 0
    assert report["errors"] == 0, report["errors_first"]
    assert report["accepted"] >= 50 and report["stored"] == report["accepted"]
    assert (report["lost"], report["doubled"]) == (0, 0)
    assert report["posts_per_s"] > 0 and report["post_p95_ms"] > 0


def test_single_position_posts_are_all_stored(tmp_path):
    region = Path(shutil.copytree(shipped_region_path(), tmp_path / "region"))
    report = run_posts_benchmark(tmp_path, region, os.environ, posts=60, devices=6, clients=12)
    for mode in ("merging", "baseline_no_merging"):
        assert report[mode]["stored_pings"] == 60 and report[mode]["lost"] == 0

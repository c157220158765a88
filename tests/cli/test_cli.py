"""The CLI's stable interface (SPEC §12): JSON reports on stdout, one-line failures, exit codes."""

import json
from pathlib import Path

import pytest
from support.cli import geoint

from geoint.testing.builders import write_csv


def test_ingest_pings_json_report_has_spec_keys(tmp_path):
    rows = [
        {"id": "V1", "time": "2026-11-20T08:00:00Z", "latitude": "6.5", "longitude": "2.6"},
        {"id": "V1", "time": "2026-11-20T08:01:00Z", "latitude": "0", "longitude": "0"},
    ]
    path = write_csv(rows, tmp_path / "p.csv")
    result = geoint("ingest", "pings", str(path), "--workspace", str(tmp_path / "ws"), "--json",
                    "--map", "vehicle_id=id", "--map", "ts=time", "--map", "lat=latitude",
                    "--map", "lon=longitude")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"accepted", "duplicates", "quarantined", "quarantined_by_reason"} <= set(report)
    assert (report["accepted"], report["quarantined"]) == (1, 1)
    assert report["quarantined_by_reason"] == {"null_island": 1}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["ingest", "pings", "{tmp}/nothing.csv", "-w", "{tmp}/ws"], "nothing.csv: expected an"),
        (["ingest", "pings", "{tmp}/p.bin", "-w", "{tmp}/ws"], "p.bin: expected a file ending"),
        (["ingest", "pings", "{tmp}/p.csv", "--map", "lat", "-w", "{tmp}/ws"], "--map"),
        (["region", "init", "{tmp}/r", "--countries", "Benin,Atlantis"], "Atlantis"),
        (["layers", "--region", "{tmp}/nowhere", "6,2"], "region.toml"),
    ],
)
def test_failures_exit_non_zero_with_one_line(tmp_path, args, expected):
    (tmp_path / "p.bin").write_bytes(b"\x00\x01")
    write_csv([{"vehicle_id": "V", "ts": "2026-01-01", "lat": "6", "lon": "2"}], tmp_path / "p.csv")
    result = geoint(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]


def test_region_init_then_layers_query(tmp_path):
    region = tmp_path / "bn"
    result = geoint("region", "init", str(region), "--countries", "Benin,Nigeria", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["timezone"] in ("Africa/Porto-Novo", "Africa/Lagos")
    assert summary["layers"]["border"] >= 1
    result = geoint("layers", "--region", str(region), "6.37,2.43", "6.45,3.40", "--json")
    points = json.loads(result.stdout)["points"]
    assert [p["side_country"] for p in points] == ["Benin", "Nigeria"]


def test_demo_ingests_analyses_and_scores_the_sample_scenario(tmp_path):
    result = geoint("demo", "--workspace", str(tmp_path / "ws"), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    reports = {Path(r["file"]).name: r for r in payload["reports"]}
    assert set(reports) == {"pings.parquet", "seizures.csv", "watchlist.csv", "declarations.csv"}
    assert reports["pings.parquet"]["accepted"] == payload["analysis"]["pings"] > 100_000
    assert all(r["quarantined"] == 0 for r in reports.values())
    scores = payload["evaluation"]["events"]
    assert len(scores) == 15
    assert all(s["truth"] > 0 and s["recall"] == s["precision"] == 1.0 for s in scores.values())
    assert payload["evaluation"]["cells"]["top_k_precision"]["50"] >= 0.6
    assert (Path(payload["region"]) / "region.toml").is_file()

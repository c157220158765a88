"""A full disk during ingest: one clear error, the batch's files removed, the workspace as it
was (write faults injected where Parquet is written; tests/reliability fills a real one)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from support.faults import fill_disk_on_parquet

from geoint.errors import StorageFullError
from geoint.pipeline.ingest import ingest_pings
from geoint.testing.builders import iso, make_track, write_csv

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _csv(tmp_path, vehicle: str, name: str):
    track = make_track(vehicle, T0, [(6.50, 2.60), (6.51, 2.61), (6.52, 2.62)])
    return write_csv([{**r, "ts": iso(r["ts"])} for r in track.to_dicts()], tmp_path / name)


def _files(workspace) -> list[str]:
    return sorted(
        str(p.relative_to(workspace.root))
        for p in (workspace.root / "pings").rglob("*")
        if p.is_file()
    )


def test_a_full_disk_stores_nothing_and_leaves_no_temporary_files(
    workspace, settings, tmp_path, monkeypatch
):
    ingest_pings(workspace, _csv(tmp_path, "V1", "first.csv"), settings, now=NOW)
    before = (_files(workspace), workspace.scan_pings().collect())
    second = _csv(tmp_path, "V2", "second.csv")
    with monkeypatch.context() as patch:
        fill_disk_on_parquet(patch)
        with pytest.raises(StorageFullError, match="no space left") as raised:
            ingest_pings(workspace, second, settings, now=NOW)
    assert "second.csv" in str(raised.value) and "\n" not in str(raised.value)
    assert _files(workspace) == before[0]  # no part, no .tmp part
    assert workspace.scan_pings().collect().equals(before[1])
    assert [b.status for b in workspace.batches()] == ["committed", "aborted"]
    assert ingest_pings(workspace, second, settings, now=NOW).accepted == 3  # space freed

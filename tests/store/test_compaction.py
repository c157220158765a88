"""Small ping parts (one per device post) are merged; reads see every ping once, always."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
import sqlalchemy as sa
from support.workspaces import open_workspace

from geoint.pipeline.ingest import ingest_pings
from geoint.settings import GeointSettings
from geoint.store.tables import ping_parts
from geoint.store.workspace import COMPACTION
from geoint.testing.builders import iso, make_track, write_csv

pytestmark = pytest.mark.databases

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 20, 23, 50, tzinfo=UTC)  # posts run past midnight: two dates


@pytest.fixture
def compacting(settings: GeointSettings) -> GeointSettings:
    return settings.model_copy(
        update={
            "ingest": settings.ingest.model_copy(
                update={"compact_min_parts": 4, "compact_grace_s": 3600}
            )
        }
    )


def post(workspace, settings, tmp_path, i: int):
    """One device post: vehicle V{i % 3}'s position at minute i."""
    track = make_track(f"V{i % 3}", T0 + timedelta(minutes=i), [(6.5 + i * 1e-3, 2.6)])
    rows = [{**r, "ts": iso(r["ts"])} for r in track.to_dicts()]
    return ingest_pings(workspace, write_csv(rows, tmp_path / f"post-{i}.csv"), settings, now=NOW)


def stored(workspace) -> pl.DataFrame:
    return workspace.scan_pings().collect().sort("ping_id")


def test_posts_are_merged_and_every_ping_is_read_once(workspace, compacting, tmp_path):
    reports = [post(workspace, compacting, tmp_path, i) for i in range(21)]
    pings = stored(workspace)
    assert pings["ping_id"].to_list() == list(range(1, 22))
    assert pings["vehicle_id"].to_list() == [f"V{i % 3}" for i in range(21)]
    files = workspace.ping_files()
    assert len(files) < 8  # 21 parts over two dates, merged by fours
    merged = [f for f in files if workspace.batch(int(f.stem[5:])).kind == COMPACTION]
    assert merged
    for path in merged:
        frame = pl.read_parquet(path)
        assert frame.equals(frame.sort("vehicle_id", "ts", "ping_id"))
    for report in reports:  # each post's own pings, merged or not
        own = workspace.scan_batch_pings(int(report.batch_id)).collect()
        assert own["ping_id"].to_list() == [reports.index(report) + 1]
    again = post(workspace, compacting, tmp_path, 3)  # the same content: nothing stored twice
    assert again.already_ingested and stored(workspace).height == 21


def test_merged_files_are_deleted_after_the_grace_period(workspace, compacting, tmp_path):
    for i in range(8):
        post(workspace, compacting, tmp_path, i)
    on_disk = sorted(workspace.root.glob("pings/date=*/part-*.parquet"))
    assert len(on_disk) > len(workspace.ping_files())  # merged parts kept for readers
    report = workspace.compact(4, 2**22, grace_s=0)
    assert report["deleted_files"] == len(on_disk) - len(workspace.ping_files())
    assert sorted(workspace.root.glob("pings/date=*/part-*.parquet")) == workspace.ping_files()
    assert stored(workspace)["ping_id"].to_list() == list(range(1, 9))


def test_a_killed_merge_is_undone_by_the_next_writer(workspace, compacting, tmp_path):
    for i in range(3):
        post(workspace, compacting, tmp_path, i)
    before = stored(workspace)
    entry = workspace.begin_batch(COMPACTION, "date=2026-11-20", "")  # a merge that died
    day = workspace.ping_files()[0].parent
    before.write_parquet(day / f"part-{entry.batch:08d}.parquet")
    assert stored(workspace).equals(before)  # not in the catalogue: never read
    with workspace.writer():
        pass
    assert workspace.batch(entry.batch).status == "aborted"
    assert not (day / f"part-{entry.batch:08d}.parquet").exists()
    assert stored(workspace).equals(before)


def test_a_workspace_from_before_the_catalogue_is_catalogued_once(workspace, settings, tmp_path):
    for i in range(5):
        post(workspace, settings, tmp_path, i)
    files, pings = workspace.ping_files(), stored(workspace)
    with workspace.engine.begin() as conn:
        conn.execute(sa.delete(ping_parts))
    assert workspace.ping_files() == []
    reopened = open_workspace(workspace.root)
    try:
        assert reopened.ping_files() == files and stored(reopened).equals(pings)
    finally:
        reopened.close()


def test_compact_command_merges_and_deletes(workspace, settings, tmp_path):
    import json
    import subprocess
    import sys

    for i in range(3):
        post(workspace, settings, tmp_path, i)  # fewer than the default 32: not merged yet
    assert len(workspace.ping_files()) == 3
    command = [sys.executable, "-m", "geoint", "compact", "--workspace", str(workspace.root)]
    done = subprocess.run([*command, "--min-parts", "2", "--grace-s", "0", "--json"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(done.stdout)["merged_parts"] == 3
    assert len(workspace.ping_files()) == 1 and stored(workspace).height == 3
    done = subprocess.run([*command, "--grace-s", "0", "--json"], capture_output=True, text=True)
    assert json.loads(done.stdout)["deleted_files"] == 3

"""Posts stored in one group commit: each post is validated, reported and recorded as if
ingested alone; a group killed before its commit is undone; ingest never waits for an
analysis, which merges into the events as committed when it commits."""

import threading
from datetime import UTC, datetime

import polars as pl
import pytest
import sqlalchemy as sa
from support.incremental import CROSSING, T0, rows

from geoint.errors import InputError
from geoint.ingest.readers import read_records_bytes
from geoint.layers import Region, RegionIndex, shipped_region_path
from geoint.pipeline import incremental
from geoint.pipeline.incremental import analyze_batches, analyze_vehicles
from geoint.pipeline.ingest import Post, ingest_ping_posts, ingest_pings
from geoint.store.keys import KeyStore
from geoint.store.tables import ingest_ledger
from geoint.store.workspace import Workspace
from geoint.testing.builders import write_csv
from geoint.times import as_utc

NOW = datetime(2026, 9, 15, tzinfo=UTC)


def _post(name: str, body: str) -> Post:
    data = body.encode()
    return Post(read_records_bytes(data, name, "csv", {}), name, f"sha-{name}")


def _csv(records: list[dict]) -> str:
    lines = [f"{r['vehicle_id']},{r['ts']},{r['lat']},{r['lon']}" for r in records]
    return "vehicle_id,ts,lat,lon\n" + "\n".join(lines) + "\n"


def test_each_post_of_a_group_is_reported_and_recorded_as_if_ingested_alone(workspace, settings):
    a = rows("A", T0, CROSSING[:3])
    posts = [
        _post("first", _csv(a) + "A,soon,8.0,2.7\n"),  # row 4: no time
        _post("second", _csv(rows("B", T0, CROSSING[:2]))),
        _post("third", _csv(a[:1]) + "C,2026-09-14T01:00:00Z,95,2.7\n"),  # A again; C off Earth
    ]
    reports = ingest_ping_posts(workspace, posts, settings, NOW)
    counts = [(r.rows, r.accepted, r.duplicates, r.quarantined) for r in reports]
    assert counts == [(4, 3, 0, 1), (2, 2, 0, 0), (2, 0, 1, 1)]
    assert reports[0].quarantined_by_reason == {"unparsable_time": 1}
    assert reports[2].quarantined_by_reason == {"out_of_range_coordinates": 1}
    batches = [int(r.batch_id) for r in reports]
    assert len(set(batches)) == 3
    # each post's refused rows under its own batch, name and row number
    refused = workspace.quarantined("pings").sort("batch", "row")
    assert refused.select("batch", "file", "row", "reason").rows() == [
        (batches[0], "first", 4, "unparsable_time"),
        (batches[2], "third", 1, "duplicate"),
        (batches[2], "third", 2, "out_of_range_coordinates"),
    ]
    # one shared part; each post's pings found by its own batch, with its own ping ids
    assert len(workspace.ping_files()) == 1
    first = workspace.scan_batch_pings(batches[0]).collect()
    second = workspace.scan_batch_pings(batches[1]).collect()
    assert (
        first["vehicle_id"].to_list() == ["A"] * 3 and second["vehicle_id"].to_list() == ["B"] * 2
    )
    ids = sorted([*first["ping_id"], *second["ping_id"]])
    assert ids == list(range(ids[0], ids[0] + 5))
    assert workspace.scan_batches_pings(batches).collect().height == 5
    # the posts that stored pings wait for analysis; the ledger holds every post, committed
    assert workspace.pending_batches() == batches[:2]
    assert {b.batch: b.accepted for b in workspace.batches("committed") if b.kind == "pings"} == {
        batches[0]: 3,
        batches[1]: 2,
        batches[2]: 0,
    }
    # the same body again stores nothing
    (again,) = ingest_ping_posts(workspace, posts[:1], settings, NOW)
    assert again.already_ingested and again.accepted == 0
    assert workspace.scan_pings().collect().height == 5


def test_posts_are_audited_in_their_groups_transaction_or_not_at_all(workspace, settings):
    KeyStore(workspace)  # the audit log's table
    audit = {"key_id": "k1", "method": "POST", "path": "/api/v1/pings"}
    one = _post("one", _csv(rows("A", T0, CROSSING[:2])))
    posts = [Post(one.read, one.name, one.sha, audit), _post("two", _csv(rows("B", T0, CROSSING)))]

    def fail_the_commit(_conn, _cursor, statement, *_args) -> None:
        if statement.startswith("UPDATE ingest_ledger SET status") and "committed_at" in statement:
            raise RuntimeError("killed mid-commit")  # after the audit rows were inserted

    sa.event.listen(workspace.engine, "before_cursor_execute", fail_the_commit)
    with pytest.raises(RuntimeError, match="killed mid-commit"):
        ingest_ping_posts(workspace, posts, settings, NOW)
    sa.event.remove(workspace.engine, "before_cursor_execute", fail_the_commit)
    assert KeyStore(workspace).audit(10) == ([], 0)  # rolled back with the group

    reports = ingest_ping_posts(workspace, posts, settings, NOW)
    entries, total = KeyStore(workspace).audit(10)
    assert total == 1  # the post without audit fields is audited by its caller
    (entry,) = entries
    assert {k: entry[k] for k in audit} == audit and entry["status"] == 200
    assert entry["summary"] == reports[0].summary()
    assert "2 accepted" in entry["summary"]
    ledger = ingest_ledger.c
    query = sa.select(ledger.committed_at).where(ledger.batch == int(reports[0].batch_id))
    with workspace.engine.connect() as conn:
        committed = as_utc(conn.execute(query).scalar_one())
    assert datetime.fromisoformat(entry["at"]) == committed  # the same commit


def test_a_group_killed_before_its_commit_is_undone(settings):
    store = Workspace(settings.workspace)
    group, batches = store.begin_group([("a", "sha-a", 2), ("b", "sha-b", 1)])
    pings = pl.DataFrame(
        {"vehicle_id": ["A", "A", "B"], "ts": [T0, T0, T0]},
        schema={"vehicle_id": pl.String, "ts": pl.Datetime("us", "UTC")},
    )
    store.write_ping_parts(group, pings, durable=True)
    assert [p.name for p in (settings.workspace / "pings").rglob("*.parquet")]
    store.engine.dispose()  # the process dies here, before `commit_group`
    again = Workspace(settings.workspace)
    with again.writer():  # the next writer recovers
        pass
    assert {b.status for b in again.batches()} == {"aborted"}
    assert not list((settings.workspace / "pings").rglob("*.parquet"))
    assert again.scan_batches_pings([b.batch for b in batches]).collect().height == 0
    again.engine.dispose()


@pytest.fixture(scope="module")
def ground():
    return RegionIndex(Region.load(shipped_region_path()))


def _in_thread(target, *args) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(target(*args)), daemon=True)
    thread.start()
    return thread, out


def test_ingest_goes_on_while_an_analysis_waits_to_commit(workspace, settings, ground, tmp_path):
    first = ingest_pings(
        workspace, write_csv(rows("V1", T0, CROSSING), tmp_path / "a.csv"), settings
    )
    with workspace.events_writer():  # an analysis committing its events and alerts
        analysis, report = _in_thread(
            analyze_batches, workspace, ground, settings, [int(first.batch_id)]
        )
        # the analysis read its snapshot and waits for the lock: ingests are not held up
        later = rows("V2", T0, CROSSING)
        posted = ingest_ping_posts(workspace, [_post("late", _csv(later))], settings, NOW)
        assert posted[0].accepted == len(later)
        alone = write_csv(rows("V3", T0, CROSSING), tmp_path / "b.csv")
        assert ingest_pings(workspace, alone, settings).accepted == len(CROSSING)
        assert analysis.is_alive() and not report
    analysis.join(timeout=120)
    assert report and report[0]["events"] == 1
    assert set(workspace.read_events()["vehicle_id"]) == {"V1"}


def test_an_analysis_from_an_older_snapshot_reads_again(
    workspace, settings, ground, tmp_path, monkeypatch
):
    first = ingest_pings(
        workspace, write_csv(rows("V1", T0, CROSSING[:5]), tmp_path / "a.csv"), settings
    )
    reads, detect = threading.Semaphore(0), incremental._detect_recent

    def counted(*args):
        found = detect(*args)
        reads.release()
        return found

    monkeypatch.setattr(incremental, "_detect_recent", counted)
    with workspace.events_writer():
        stale, report = _in_thread(analyze_vehicles, workspace, ground, settings, ["V1"], T0)
        assert reads.acquire(timeout=120)  # its snapshot is read: five pings
        # meanwhile the rest of the crossing is stored and a newer analysis commits first
        rest = ingest_pings(
            workspace, write_csv(rows("V1", T0, CROSSING)[5:], tmp_path / "b.csv"), settings
        )
        workspace.set_events_snapshot(int(rest.batch_id))
    stale.join(timeout=120)
    # the stale analysis found the newer snapshot committed and analysed again, every ping
    assert reads.acquire(timeout=0)
    assert report[0]["pings"] == len(CROSSING) and report[0]["events"] == 1
    assert workspace.read_events()["event_type"].to_list() == ["unofficial_crossing"]
    assert workspace.events_snapshot() == int(rest.batch_id) > int(first.batch_id)


def test_a_post_missing_a_column_is_refused_alone(workspace, settings):
    with pytest.raises(InputError, match="lat"):
        _post("no latitude", "vehicle_id,ts,lon\nA,2026-09-14T01:00:00Z,2.7\n")
    (report,) = ingest_ping_posts(
        workspace, [_post("fine", _csv(rows("A", T0, CROSSING)))], settings, NOW
    )
    assert report.accepted == len(CROSSING)


def _reads_of_the_store(monkeypatch) -> list[int]:
    """The heights of the frames de-duplication reads from the store, one per read."""
    reads: list[int] = []
    read_pings = Workspace.read_pings

    def counted(self, frame):
        result = read_pings(self, frame)
        reads.append(result.height)
        return result

    monkeypatch.setattr(Workspace, "read_pings", counted)
    return reads


def test_newer_positions_of_known_vehicles_skip_the_store_and_repeats_are_still_caught(
    workspace, settings, monkeypatch
):
    track = rows("A", T0, CROSSING)
    ingest_ping_posts(workspace, [_post("1", _csv(track[:4]))], settings, NOW)
    reads = _reads_of_the_store(monkeypatch)
    watched = workspace.engine.dialect.name == "sqlite"  # PostgreSQL: every ping looked up
    # newer pings of A and a first one of B: only B is looked up in the store
    newer = [_post("2", _csv(track[4:6])), _post("3", _csv(rows("B", T0, CROSSING[:1])))]
    assert [r.accepted for r in ingest_ping_posts(workspace, newer, settings, NOW)] == [2, 1]
    assert reads == [0] or not watched
    (later,) = ingest_ping_posts(workspace, [_post("4", _csv(track[6:7]))], settings, NOW)
    assert later.accepted == 1
    assert reads == [0] or not watched  # nothing looked up at all
    # an older ping sent again (out of order), moved: looked up, a conflicting duplicate
    moved = {**track[2], "lon": 3.0}
    (again,) = ingest_ping_posts(workspace, [_post("5", _csv([moved, track[7]]))], settings, NOW)
    assert (again.accepted, again.duplicates) == (1, 1) and (len(reads) == 2 or not watched)
    reasons = workspace.quarantined("pings")["reason"].to_list()
    assert reasons == ["conflicting_duplicate"]
    assert workspace.scan_pings().collect().height == 8 + 1


def test_pings_another_writer_stored_are_looked_up_again(workspace, settings, tmp_path):
    track = rows("A", T0, CROSSING)
    ingest_ping_posts(workspace, [_post("1", _csv(track[:3]))], settings, NOW)
    # the CLI (another process, or this one) stores A's next ping
    other = Workspace(settings.workspace, settings.database_url)
    try:
        ingest_pings(other, write_csv(track[3:4], tmp_path / "cli.csv"), settings, now=NOW)
    finally:
        other.close()
    # a group of nothing but refused rows in between stores no ping and changes nothing
    nowhere = [{"vehicle_id": "Z", "ts": track[0]["ts"], "lat": 95, "lon": 2.7}]
    (refused,) = ingest_ping_posts(workspace, [_post("off", _csv(nowhere))], settings, NOW)
    assert refused.quarantined == 1
    # the same ping posted: newer than what this process stored, yet a duplicate
    (report,) = ingest_ping_posts(workspace, [_post("2", _csv(track[3:5]))], settings, NOW)
    assert (report.accepted, report.duplicates) == (1, 1)
    assert workspace.scan_pings().collect().height == 5

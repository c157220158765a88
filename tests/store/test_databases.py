"""The operational database on SQLite and on PostgreSQL: drivers, reachability, times read
back, counters under concurrent writers, and alert changes and group shares numbered in commit
order."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime

import polars as pl
import pytest
import sqlalchemy as sa
from support.alerts import SectorGround, events
from support.cli import geoint
from support.workspaces import open_workspace

from geoint.alerts.raising import raise_alerts
from geoint.alerts.store import AlertNotFoundError, AlertQuery, AlertStore
from geoint.errors import DatabaseUnavailableError
from geoint.intel.query import SeizureFilter, count_seizures
from geoint.pipeline.ingest import ingest_records
from geoint.store.groups import GroupStore
from geoint.store.keys import KeyStore
from geoint.store.workspace import Workspace, reserve
from geoint.testing.builders import write_csv
from geoint.testing.server import free_port

pytestmark = pytest.mark.databases
NOW = datetime(2026, 12, 1, tzinfo=UTC)
UTC_TIME = pl.Datetime("us", "UTC")


def test_a_missing_driver_is_one_line_naming_the_extra(tmp_path):
    with pytest.raises(DatabaseUnavailableError, match=r"pip install 'geoint\[postgres\]'"):
        Workspace(tmp_path / "ws", "postgresql+pg8000://geoint:secret@127.0.0.1/geoint")
    with pytest.raises(DatabaseUnavailableError, match="expected a SQLAlchemy URL"):
        Workspace(tmp_path / "ws", "not a url")


def test_an_unreachable_database_is_one_line_in_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOINT_DATABASE_URL", f"{_nowhere()}")
    result = geoint("alerts", "list", "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in result.stderr
    assert line.startswith("error: database postgresql+psycopg://geoint:***@127.0.0.1:")
    assert "cannot be reached" in line and "secret" not in line


def _nowhere() -> str:
    """A PostgreSQL URL on a loopback port nothing listens on."""
    return f"postgresql+psycopg://geoint:secret@127.0.0.1:{free_port()}/geoint"


def test_times_read_back_are_utc_and_a_second_ingest_of_each_record_kind_works(
    workspace, settings, tmp_path
):
    files = {
        "seizures": [
            [{"seizure_id": "S1", "date": "2026-09-01", "lat": "6.4", "lon": "2.7"}],
            [{"seizure_id": "S2", "date": "2026-09-02T03:00:00+01:00", "lat": "6.5", "lon": "2.7"}],
        ],
        "watchlist": [
            [{"vehicle_id": "T1", "reason": "prior seizure", "expires": "2027-01-01"}],
            [{"vehicle_id": "T2", "reason": "tip-off", "expires": "2027-02-01T00:00:00Z"}],
        ],
        "declarations": [
            [{"vehicle_id": v, "corridor_id": "C1", "start": "2026-11-01T08:00:00Z",
              "deadline": "2026-11-02T08:00:00Z", "dest_lat": "12.0", "dest_lon": "8.5"}]
            for v in ("T1", "T2")
        ],
    }  # fmt: skip
    for kind, batches in files.items():
        for i, rows in enumerate(batches):
            path = write_csv(rows, tmp_path / f"{kind}-{i}.csv")
            assert ingest_records(workspace, kind, path, settings, now=NOW).accepted == 1
        stored = workspace.read_table(kind)
        assert stored.height == 2
        times = [name for name, dtype in stored.schema.items() if isinstance(dtype, pl.Datetime)]
        assert times and all(stored.schema[name] == UTC_TIME for name in times)
    seizures = workspace.read_table("seizures").sort("seizure_id")
    assert seizures["ts"].to_list()[1] == datetime(2026, 9, 2, 2, tzinfo=UTC)


def test_concurrent_reservations_never_share_a_number(workspace):
    def take(count: int) -> list[int]:
        store = open_workspace(workspace.root)  # a connection of its own, as another worker
        firsts = []
        try:
            for _ in range(count):
                with store.engine.begin() as conn:
                    firsts.append(reserve(conn, "ping_id", 10))
        finally:
            store.close()
        return firsts

    results: list[list[int]] = [[] for _ in range(4)]
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, take(25))) for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    firsts = sorted(first for result in results for first in result)
    assert firsts == list(range(1, 1 + 100 * 10, 10))  # 100 disjoint blocks of 10, no gap


def test_alert_changes_are_numbered_in_commit_order_under_concurrent_writers(workspace, settings):
    """A stream resuming after the last number it read misses no change, even when a writer
    that started first commits last (each writer here waits 20 ms before committing)."""
    alerts = [{"event_id": f"E{i}", "vehicle_id": f"V{i}"} for i in range(24)]
    raise_alerts(workspace, SectorGround(), settings, events(*alerts))
    with workspace.engine.connect() as conn:
        ids = list(conn.execute(sa.text("SELECT id FROM alerts ORDER BY id")).scalars())
    reader, done = AlertStore(workspace), threading.Event()
    seen: list[int] = []

    def read() -> None:
        last = reader.last_seq()
        while True:
            finished = done.is_set()
            for change in reader.changes_since(last):
                seen.append(change["seq"])
                last = change["seq"]
            if finished:
                return

    def write(share: list[int]) -> None:
        store = open_workspace(workspace.root)
        sa.event.listen(store.engine, "commit", lambda _conn: time.sleep(0.02))
        try:
            alert_store = AlertStore(store)
            for alert_id in share:
                alert_store.transition(alert_id, "ack", "k1")
                alert_store.label(alert_id, "true_positive", "k1")
        finally:
            store.close()

    start = AlertStore(workspace).last_seq()
    streaming = threading.Thread(target=read)
    streaming.start()
    writers = [threading.Thread(target=write, args=(ids[i::4],)) for i in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    streaming.join()
    with workspace.engine.connect() as conn:
        stored = list(
            conn.execute(
                sa.text("SELECT seq FROM alert_changes WHERE seq > :s ORDER BY seq"), {"s": start}
            ).scalars()
        )
    assert len(stored) == 2 * len(ids)
    assert seen == stored  # every change, once, in order


def test_group_shares_are_numbered_in_commit_order_under_concurrent_sharers(workspace):
    """A member polling "after S" sees every share exactly once, in order, even when a sharer
    that drew its number first commits last (each commit waits 0 to 30 ms, at random)."""
    keys = KeyStore(workspace)
    reader_key, *sharers = [keys.create("analyst")[0].id for _ in range(5)]
    groups = GroupStore(workspace)
    group_ids = [groups.create(name).id for name in ("north", "south")]
    for group_id in group_ids:
        for key_id in (reader_key, *sharers):
            groups.add_member(group_id, key_id)
    reader, done = GroupStore(workspace), threading.Event()
    seen: list[int] = []

    def read() -> None:
        last = reader.last_seq()
        while True:
            finished = done.is_set()
            for share in reader.shares_since(last, reader_key, 500):
                seen.append(share["seq"])
                last = share["seq"]
            if finished:
                return

    def write(sharer: str) -> None:
        store = open_workspace(workspace.root)
        delays = random.Random(sharer)
        sa.event.listen(store.engine, "commit", lambda _conn: time.sleep(delays.uniform(0, 0.03)))
        try:
            mine = GroupStore(store)
            for i in range(12):
                mine.share(group_ids[i % 2], sharer, "seizure", f"S-{sharer}-{i}", {"i": i}, "")
        finally:
            store.close()

    start = reader.last_seq()
    streaming = threading.Thread(target=read)
    streaming.start()
    writers = [threading.Thread(target=write, args=(sharer,)) for sharer in sharers]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    streaming.join()
    with workspace.engine.connect() as conn:
        stored = list(
            conn.execute(
                sa.text("SELECT seq FROM group_shares WHERE seq > :s ORDER BY seq"), {"s": start}
            ).scalars()
        )
    assert len(stored) == 12 * len(sharers)
    assert seen == stored  # every share, once, in order


def test_ids_beyond_the_columns_and_nul_characters_match_nothing(workspace, settings):
    """PostgreSQL refuses to compare a 32-bit id column with a larger number, or text with a
    NUL character (a 500 there, found by the API fuzz test); SQLite accepts both."""
    raise_alerts(workspace, SectorGround(), settings, events({}))
    store = AlertStore(workspace)
    with pytest.raises(AlertNotFoundError):
        store.get(2**40)
    with pytest.raises(AlertNotFoundError):
        store.transition(2**40, "ack", "k1")
    everything = store.list(AlertQuery())[0]
    assert len(everything) == 1
    assert store.list(AlertQuery(cursor=10**11))[0] == everything
    assert store.list(AlertQuery(status=["new\x00"]))[0] == []
    assert store.changes_since(2**40) == []


def test_nul_characters_in_free_text_and_quarantined_rows_are_stored_replaced(
    workspace, settings, tmp_path
):
    source = tmp_path / "nul.csv"
    source.write_bytes(
        b"seizure_id,date,lat,lon,description\n"
        b"S1,2026-09-01,6.4,2.7,jerrycans\x00under a tarp\n"
        b"S\x002,2026-09-01,6.4,2.7,an id with NUL\n"
    )
    report = ingest_records(workspace, "seizures", source, settings, now=NOW)
    assert (report.accepted, report.quarantined) == (1, 1)
    assert workspace.read_table("seizures")["description"].to_list() == [
        "jerrycans\ufffdunder a tarp"
    ]
    (raw,) = workspace.quarantined("seizures")["raw"].to_list()
    assert '"S\\u00002"' in raw  # the raw row as JSON: the NUL escaped, kept as sent


def test_seizure_filters_holding_nul_match_nothing(workspace, settings, tmp_path):
    path = write_csv(
        [{"seizure_id": "S1", "date": "2026-09-01", "lat": "6.4", "lon": "2.7",
          "commodity": "fuel"}],
        tmp_path / "s.csv",
    )  # fmt: skip
    ingest_records(workspace, "seizures", path, settings, now=NOW)
    assert count_seizures(workspace, SeizureFilter(values={"commodity": ("fuel",)})) == 1
    assert count_seizures(workspace, SeizureFilter(values={"commodity": ("fu\x00el",)})) == 0
    assert count_seizures(workspace, SeizureFilter(values={"origin_country": ("\x00",)})) == 0
    assert count_seizures(workspace, SeizureFilter(text="fu\x00")) == 0


def test_an_audited_request_quoting_nul_is_recorded(workspace):
    keys = KeyStore(workspace)
    keys.record("k1", "GET", "/ogc/collections/seizures/items", 200, "read seizures a\x00b")
    entries, _ = keys.audit(10)
    assert entries[0]["summary"] == "read seizures a\ufffdb"

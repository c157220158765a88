"""The workspace: pings as date-partitioned Parquet, operational state in SQL (SPEC §4).

Crash safety rests on one protocol. A batch is first recorded as ``started`` in the ledger,
its Parquet parts are then written to temporary files and renamed into place, and finally the
ledger row, its quarantine rows and any table rows are committed in one SQL transaction.
Readers only see parts of committed batches, and :meth:`Workspace.recover` deletes the parts
and temporary files a killed ingest left behind, so a re-run completes the work.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Engine

from geoint.atomic import read_parquet, temporary_path, write_parquet
from geoint.errors import (
    CorruptPartError,
    DatabaseUnavailableError,
    StorageFullError,
    WorkspaceError,
    is_storage_full,
)
from geoint.schema import EVENT_SCHEMA, PING_SCHEMA
from geoint.store.cell_tables import cells_folder
from geoint.store.tables import (
    LEDGER_STATUS_INDEX,
    RECORD_TABLES,
    SEIZURE_CLIENT_ID_INDEX,
    audit_log,
    counters,
    ingest_ledger,
    metadata,
    pending_analysis,
    ping_parts,
    quarantine,
)

PINGS_DIR = "pings"
EVENTS_FILE = "events/events.parquet"
LOCK_FILE = ".writer.lock"
INIT_LOCK_FILE = ".init.lock"
COMPACTION = "compaction"  # the ledger kind of a merged ping part (or a group's shared one)
EVENTS_SNAPSHOT = "events_snapshot"  # the counter naming the stored events' snapshot
PING_ID_COUNTER = "ping_id"  # the counter of ping ids: every writer of pings reserves from it
DATABASE_FILE = "geoint.sqlite"
FULL_BYTES = 1 << 20  # free space below which a failing database open means a full disk
CORRUPT_DIR = "corrupt"  # unreadable parts moved aside by `geoint check --repair`
CORRUPT = "corrupt"  # the ledger status of a batch whose part was moved aside
_PART_NAME = re.compile(r"part-(\d+)\.parquet$")
Box = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
T = TypeVar("T")


@dataclass(frozen=True)
class Batch:
    """A ledger entry for one ingest of one file."""

    batch: int
    kind: str
    file: str
    sha256: str
    status: str
    rows: int
    accepted: int
    duplicates: int
    quarantined: int
    flagged_spikes: int
    first_ping_id: int | None


@dataclass(frozen=True)
class PingPart:
    """One Parquet file of pings: a batch's pings of one UTC date."""

    batch: int
    day: date
    rows: int
    bytes: int


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # busy_timeout first: switching to WAL needs a lock another process may briefly hold
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def database_engine(url: str) -> Engine:
    """An engine for a SQLAlchemy URL: SQLite with its pragmas, PostgreSQL in UTC.

    A PostgreSQL session answers in the server's time zone (``Etc/UTC`` on Debian), which
    polars keeps as a zone of its own; asking for ``UTC`` makes every time read back carry the
    same zone as the workspace's (and SQLite's) ``Datetime(UTC)``.
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseUnavailableError(
            f"database URL {url!r}: expected a SQLAlchemy URL such as "
            "postgresql+psycopg://user:password@host/database"
        ) from None
    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        options = {"connect_args": {"options": "-c timezone=UTC"}, "pool_pre_ping": True}
    try:
        engine = sa.create_engine(parsed, **options)
    except ModuleNotFoundError as exc:
        raise DatabaseUnavailableError(
            f"database URL {parsed.render_as_string(hide_password=True)}: its driver "
            f"{exc.name!r} is not installed; install it with pip install 'geoint[postgres]'"
        ) from None
    except sa.exc.NoSuchModuleError:
        raise DatabaseUnavailableError(
            f"database URL {parsed.render_as_string(hide_password=True)}: unknown database "
            "or driver; expected sqlite:///FILE or postgresql+psycopg://…"
        ) from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def unreachable_error(url: sa.URL, exc: Exception) -> DatabaseUnavailableError:
    """The one-line error of a database that refused or dropped the connection."""
    reason = " ".join(str(getattr(exc, "orig", exc)).split())[:300]
    return DatabaseUnavailableError(
        f"database {url.render_as_string(hide_password=True)} cannot be reached ({reason})"
    )


class Workspace:
    """A workspace folder: Parquet partitions of pings and an SQL database of state."""

    def __init__(self, root: Path, database_url: str | None = None) -> None:
        self.root = Path(root)
        try:
            (self.root / PINGS_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(
                f"{self.root}: cannot create the workspace folder ({exc})"
            ) from exc
        url = database_url or f"sqlite:///{self.root / DATABASE_FILE}"
        self.engine: Engine = database_engine(url)
        self._watch: sqlite3.Connection | None = None
        self._watch_lock = threading.Lock()
        try:
            self.ensure_tables()
        except (OSError, sa.exc.OperationalError) as exc:
            # SQLite cannot even open its write-ahead log on a full disk: "disk I/O error"
            if is_storage_full(exc) or shutil.disk_usage(self.root).free < FULL_BYTES:
                raise StorageFullError(
                    f"{self.root}: no space left on the device; free space and retry"
                ) from None
            if self.engine.dialect.name != "sqlite":
                self.engine.dispose()
                raise unreachable_error(self.engine.url, exc) from None
            raise

    def data_version(self) -> int | None:
        """A number that changes whenever any connection (this process's included) commits to
        the database; None when the database is not an SQLite file (callers then re-read).

        SQLite's ``PRAGMA data_version`` on a connection of its own that never writes: a few
        microseconds, so read-mostly caches (keys, alert pages) can check it on every request.
        """
        return self._watched("PRAGMA data_version")

    def watched_counter(self, name: str) -> int | None:
        """The value of the counter `name` (0 before its first `reserve`), read like
        `data_version`: a few microseconds; None when the database is not an SQLite file.

        Unlike `data_version`, it changes only when a writer reserves from that counter, so a
        cache keyed on it survives the commits of ingest (keys: `geoint.store.keys`).
        """
        return self._watched("SELECT coalesce(max(value), 0) FROM counters WHERE name = ?", name)

    def _watched(self, query: str, *parameters: object) -> int | None:
        """One integer read on a connection of its own that never writes (SQLite files only)."""
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        with self._watch_lock:
            if self._watch is None:
                self._watch = sqlite3.connect(database, check_same_thread=False)
            return self._watch.execute(query, parameters).fetchone()[0]

    def close(self) -> None:
        """Close the database connections (the workspace can be opened again)."""
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None
        self.engine.dispose()

    def ensure_tables(self, tables: list[sa.Table] | None = None) -> None:
        """Create missing tables (all of `metadata` by default), one process at a time."""
        with _exclusive(self.root / INIT_LOCK_FILE):
            metadata.create_all(self.engine, tables=tables)
            if tables is None:  # create_all adds no index to an existing table
                with self.engine.begin() as conn:
                    conn.execute(sa.schema.CreateIndex(LEDGER_STATUS_INDEX, if_not_exists=True))
                self._add_missing_columns()
                with self.engine.begin() as conn:  # on a column older workspaces just got
                    conn.execute(sa.schema.CreateIndex(SEIZURE_CLIENT_ID_INDEX, if_not_exists=True))
                self._catalogue_existing_parts()

    def _add_missing_columns(self) -> None:
        """Add the optional (nullable) columns newer versions gave to existing record tables."""
        existing = sa.inspect(self.engine)
        for table in RECORD_TABLES.values():
            have = {column["name"] for column in existing.get_columns(table.name)}
            missing = [c for c in table.columns if c.name not in have and c.nullable]
            with self.engine.begin() as conn:
                for column in missing:
                    kind = column.type.compile(dialect=self.engine.dialect)
                    conn.execute(
                        sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
                    )

    def _catalogue_existing_parts(self) -> None:
        """Enter the parts of a workspace written before the catalogue existed (once)."""
        with self.engine.connect() as conn:
            if conn.execute(sa.select(ping_parts.c.batch).limit(1)).first() is not None:
                return
            committed = set(
                conn.execute(
                    sa.select(ingest_ledger.c.batch).where(ingest_ledger.c.status == "committed")
                ).scalars()
            )
        parts = [
            PingPart(
                int(match.group(1)),
                day,
                pl.scan_parquet(path).select(pl.len()).collect().item(),
                path.stat().st_size,
            )
            for folder, day in self._date_folders()
            for path in sorted(folder.glob("part-*.parquet"))
            if (match := _PART_NAME.search(path.name)) and int(match.group(1)) in committed
        ]
        if parts:
            with self.engine.begin() as conn:
                conn.execute(ping_parts.insert(), [_part_row(part) for part in parts])

    # ----------------------------------------------------------------- ledger
    def committed_batch(self, sha256: str, kind: str) -> Batch | None:
        """Return the committed batch that ingested this exact content, if any."""
        query = sa.select(ingest_ledger).where(
            ingest_ledger.c.sha256 == sha256,
            ingest_ledger.c.kind == kind,
            ingest_ledger.c.status == "committed",
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _batch(row) if row else None

    def committed_batches(self, sha256s: Sequence[str], kind: str) -> dict[str, Batch]:
        """The committed batches that ingested any of these contents, by content (one query)."""
        query = sa.select(ingest_ledger).where(
            ingest_ledger.c.sha256.in_(sorted(set(sha256s))),
            ingest_ledger.c.kind == kind,
            ingest_ledger.c.status == "committed",
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(ingest_ledger.c.batch.desc())).mappings().all()
        return {row["sha256"]: _batch(row) for row in rows}  # the earliest one wins

    def batches(self, status: str | None = None) -> list[Batch]:
        """Return ledger entries, oldest first."""
        query = sa.select(ingest_ledger).order_by(ingest_ledger.c.batch)
        if status:
            query = query.where(ingest_ledger.c.status == status)
        with self.engine.connect() as conn:
            return [_batch(row) for row in conn.execute(query).mappings()]

    def latest_ping_batch(self) -> int:
        """The id of the latest committed ping batch (0 when there is none)."""
        query = sa.select(sa.func.max(ingest_ledger.c.batch)).where(
            ingest_ledger.c.kind == "pings", ingest_ledger.c.status == "committed"
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar() or 0

    def ping_batches_after(self, batch: int) -> list[int]:
        """The committed ping batches with a larger id than `batch`, in order."""
        query = sa.select(ingest_ledger.c.batch).where(
            ingest_ledger.c.kind == "pings",
            ingest_ledger.c.status == "committed",
            ingest_ledger.c.batch > batch,
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query.order_by(ingest_ledger.c.batch)).scalars())

    def pending_batches(self) -> list[int]:
        """The ping batches queued for incremental analysis and not analysed yet, in order."""
        query = sa.select(pending_analysis.c.batch).order_by(pending_analysis.c.batch)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def analysed(self, batches: Sequence[int] | None = None, through: int | None = None) -> None:
        """Take `batches` (and every batch up to `through`) off the pending analysis queue."""
        condition = sa.false()
        if batches:
            condition = sa.or_(condition, pending_analysis.c.batch.in_(list(batches)))
        if through is not None:
            condition = sa.or_(condition, pending_analysis.c.batch <= through)
        with self.engine.begin() as conn:
            conn.execute(pending_analysis.delete().where(condition))

    def batch(self, batch: int) -> Batch | None:
        """One ledger entry, if it exists."""
        query = sa.select(ingest_ledger).where(ingest_ledger.c.batch == batch)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _batch(row) if row else None

    def begin_batch(self, kind: str, file: str, sha256: str, ping_ids: int = 0) -> Batch:
        """Record a started batch and reserve `ping_ids` consecutive ping ids for it."""
        with self.engine.begin() as conn:
            first = None
            if ping_ids:
                first = reserve(conn, PING_ID_COUNTER, ping_ids)
            result = conn.execute(
                ingest_ledger.insert().values(
                    kind=kind,
                    file=file,
                    sha256=sha256,
                    status="started",
                    started_at=datetime.now(UTC),
                    first_ping_id=first,
                )
            )
            batch = result.inserted_primary_key[0]
        return Batch(batch, kind, file, sha256, "started", 0, 0, 0, 0, 0, first)

    def commit_batch(
        self,
        batch: Batch,
        counts: Mapping[str, int],
        quarantined_rows: pl.DataFrame,
        records: pl.DataFrame | None = None,
        parts: Sequence[PingPart] = (),
        queue_analysis: bool = False,
    ) -> None:
        """Commit a batch: ledger counts, its quarantine rows, its table records and its ping
        parts (`write_ping_parts`), atomically; with `queue_analysis`, also enter it as
        pending incremental analysis (`pending_batches`)."""
        with self.engine.begin() as conn:
            if parts:
                conn.execute(ping_parts.insert(), [_part_row(part) for part in parts])
                if queue_analysis:
                    conn.execute(pending_analysis.insert().values(batch=batch.batch))
            if records is not None and records.height:
                rows = _sql_rows(_without_nul(records), batch.batch)
                conn.execute(RECORD_TABLES[batch.kind].insert(), rows)
            if quarantined_rows.height:
                rows = (
                    _without_nul(quarantined_rows)
                    .rename({"_row": "row"})
                    .with_columns(
                        pl.lit(batch.batch).alias("batch"),
                        pl.lit(batch.kind).alias("kind"),
                        pl.lit(batch.file).alias("file"),
                    )
                )
                conn.execute(quarantine.insert(), rows.to_dicts())
            conn.execute(
                ingest_ledger.update()
                .where(ingest_ledger.c.batch == batch.batch)
                .values(status="committed", committed_at=datetime.now(UTC), **counts)
            )

    def begin_group(self, posts: Sequence[tuple[str, str, int]]) -> tuple[Batch, list[Batch]]:
        """Record a group of posted ping batches (name, sha256, pings) and the batch of the part
        they share as started, each post's ping ids reserved consecutively, in one transaction
        (`commit_group` ends it; `recover` undoes it if the process dies first)."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            total = sum(count for *_, count in posts)
            first = reserve(conn, PING_ID_COUNTER, total) if total else None
            file = f"group of {len(posts)} posts"
            group = conn.execute(
                ingest_ledger.insert().values(
                    kind=COMPACTION, file=file, sha256="", status="started", started_at=now
                )
            ).inserted_primary_key[0]
            counts = [count for *_, count in posts]
            offsets = accumulate(counts, initial=first or 0)  # one more than counts
            starts = [start if n else None for start, n in zip(offsets, counts, strict=False)]
            rows = [
                {"kind": "pings", "file": name, "sha256": sha, "status": "started",
                 "started_at": now, "first_ping_id": start}
                for (name, sha, _), start in zip(posts, starts, strict=True)
            ]  # fmt: skip
            inserted = conn.execute(
                ingest_ledger.insert().returning(
                    ingest_ledger.c.batch, sort_by_parameter_order=True
                ),
                rows,
            )
            ids = list(inserted.scalars())
        shared = Batch(group, COMPACTION, file, "", "started", 0, 0, 0, 0, 0, None)
        batches = [
            Batch(batch, "pings", name, sha, "started", 0, 0, 0, 0, 0, start)
            for batch, (name, sha, _), start in zip(ids, posts, starts, strict=True)
        ]
        return shared, batches

    def commit_group(
        self,
        group: Batch,
        batches: Sequence[Batch],
        counts: Sequence[Mapping[str, int]],
        quarantined_rows: pl.DataFrame,
        parts: Sequence[PingPart],
        days: pl.DataFrame,
        queue_analysis: bool = False,
        audit: Sequence[Mapping[str, object]] = (),
    ) -> None:
        """Commit a group (`begin_group`) in one transaction: its shared `parts`, each post's
        share of them (`days`: ``batch``, ``day``, ``rows``; catalogued as parts merged into
        the shared one, read through it), the posts' ledger counts and quarantine rows
        (``batch``, ``kind``, ``file``, ``row``, ...), with `queue_analysis` the posts that
        stored pings as pending incremental analysis, and the posts' `audit` entries."""
        now = datetime.now(UTC)
        with self._durable() as conn, conn.begin():
            if parts:
                conn.execute(ping_parts.insert(), [_part_row(part) for part in parts])
                shares = [
                    {**share, "bytes": 0, "merged_into": group.batch, "merged_at": now,
                     "file_deleted": True}  # no file of its own to delete
                    for share in days.to_dicts()
                ]  # fmt: skip
                conn.execute(ping_parts.insert(), shares)
                if queue_analysis:
                    posted = sorted(set(days["batch"].to_list()))
                    conn.execute(pending_analysis.insert(), [{"batch": b} for b in posted])
            if quarantined_rows.height:
                conn.execute(quarantine.insert(), quarantined_rows.to_dicts())
            if audit:
                conn.execute(audit_log.insert(), [{"at": now, **entry} for entry in audit])
            conn.execute(
                ingest_ledger.update()
                .where(ingest_ledger.c.batch == sa.bindparam("batch_id"))
                .values(
                    status="committed",
                    committed_at=now,
                    **{name: sa.bindparam(name) for name in counts[0]},
                ),
                [{"batch_id": b.batch, **c} for b, c in zip(batches, counts, strict=True)],
            )
            conn.execute(
                ingest_ledger.update()
                .where(ingest_ledger.c.batch == group.batch)
                .values(status="committed", committed_at=now, rows=int(days["rows"].sum()))
            )

    @contextmanager
    def _durable(self) -> Iterator[sa.Connection]:
        """A connection whose commits are on disk when they return: SQLite syncs its
        write-ahead log at each commit (``synchronous=FULL``; the others only at checkpoints);
        PostgreSQL always does."""
        with self.engine.connect() as conn:
            if conn.dialect.name != "sqlite":
                yield conn
                return
            conn.exec_driver_sql("PRAGMA synchronous=FULL")
            conn.commit()  # ends the statement's implicit transaction, so the caller can begin
            try:
                yield conn
            finally:
                conn.rollback()  # nothing, unless the caller's block failed before its begin
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                conn.commit()

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the workspace's single-writer lock, then clean up after killed writers.

        Ingests from the CLI and the API (any process) take turns; a batch left ``started``
        while nobody holds the lock belongs to a process that died, so recovery is safe here.
        """
        with _exclusive(self.root / LOCK_FILE):
            self.recover()
            yield

    def events_writer(self) -> AbstractContextManager[None]:
        """Hold the lock of the stored events (``events/.writer.lock``): analyses commit their
        events and alerts one at a time, in any process, without blocking ingests."""
        folder = (self.root / EVENTS_FILE).parent
        folder.mkdir(parents=True, exist_ok=True)
        return _exclusive(folder / LOCK_FILE)

    def events_snapshot(self) -> int:
        """The latest ping batch the stored events were analysed from (0: none recorded).

        An analysis reads a snapshot (the batches committed when it starts) and commits under
        `events_writer`; one that finds a newer snapshot committed meanwhile analyses again,
        so older pings never replace events found from newer ones."""
        query = sa.select(counters.c.value).where(counters.c.name == EVENTS_SNAPSHOT)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar() or 0

    def set_events_snapshot(self, batch: int) -> None:
        """Record the snapshot the events just committed were analysed from (hold
        `events_writer`)."""
        with self.engine.begin() as conn:
            updated = conn.execute(
                counters.update().where(counters.c.name == EVENTS_SNAPSHOT).values(value=batch)
            )
            if not updated.rowcount:
                conn.execute(counters.insert().values(name=EVENTS_SNAPSHOT, value=batch))

    def cells_writer(self) -> AbstractContextManager[None]:
        """Hold the lock of the cell tables (``cells/.writer.lock``): one writer at a time, in
        any process, without blocking ingests (which hold the workspace's writer lock)."""
        folder = cells_folder(self.root)
        folder.mkdir(parents=True, exist_ok=True)
        return _exclusive(folder / LOCK_FILE)

    def first_of_processes(self, task: str) -> AbstractContextManager[bool]:
        """Whether this process got `task`'s turn, held until the block ends: any other
        process (workers of one ``geoint serve --workers N``) asking meanwhile gets False.
        A lock file of the workspace: processes of this machine only."""
        return _exclusive_or_not(self.root / f".{task}.lock")

    def recover(self) -> int:
        """Abort batches a killed ingest (or compaction) left started and delete their files;
        return how many. Only started batches are looked at, so the cost does not grow with
        the history. Call only while holding `writer` (or with no other writer alive).
        """
        started = [b.batch for b in self.batches("started")]
        if not started:
            return 0
        for folder, _ in self._date_folders():
            for batch in started:
                part = folder / f"part-{batch:08d}.parquet"
                for path in (part, temporary_path(part)):
                    path.unlink(missing_ok=True)
        with self.engine.begin() as conn:  # files first: a kill here leaves them started
            conn.execute(
                ingest_ledger.update()
                .where(ingest_ledger.c.batch.in_(started))
                .values(status="aborted")
            )
        for folder, _ in self._date_folders():
            if not any(folder.iterdir()):
                folder.rmdir()
        return len(started)

    def abort_batch(self, batch: Batch) -> None:
        """Undo a started batch that failed: delete its files, then mark it aborted.

        Deleting comes first, so a full disk gets its space back; if the database cannot
        be written either, the batch stays started and the next writer's `recover` ends it.
        """
        for folder, _ in self._date_folders():
            part = folder / f"part-{batch.batch:08d}.parquet"
            for path in (part, temporary_path(part)):
                path.unlink(missing_ok=True)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    ingest_ledger.update()
                    .where(
                        ingest_ledger.c.batch == batch.batch, ingest_ledger.c.status == "started"
                    )
                    .values(status="aborted")
                )
        except sa.exc.SQLAlchemyError:
            pass  # `recover` ends it under the next writer

    # ------------------------------------------------------------------ pings
    def write_ping_parts(
        self, batch: Batch, pings: pl.DataFrame, durable: bool = False
    ) -> list[PingPart]:
        """Write a batch's pings, one Parquet part per UTC date, each atomically (tmp + rename;
        `durable`: synced to disk); they count once `commit_batch` enters them in the
        catalogue."""
        dates = np.unique(pings["ts"].to_numpy().astype("<M8[D]"))  # UTC dates
        if dates.size == 1:  # the usual post: one date, no query
            parts = {(dates[0].item(),): pings}
        else:
            dated = pings.with_columns(pl.col("ts").dt.date().alias("_date"))
            parts = dated.partition_by(
                "_date", as_dict=True, maintain_order=True, include_key=False
            )
        targets = []
        for (day,), part in parts.items():
            folder = _date_folder(self.root, day)
            folder.mkdir(parents=True, exist_ok=True)
            targets.append((folder / f"part-{batch.batch:08d}.parquet", part))
        if len(targets) == 1:  # no thread to start and wait for
            _write_part(*targets[0], durable=durable)
        else:  # Parquet encoding releases the GIL: two writers keep both cores busy
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(lambda job: _write_part(*job, durable=durable), targets))
        return [
            PingPart(batch.batch, day, part.height, target.stat().st_size)
            for ((day,), part), (target, _) in zip(parts.items(), targets, strict=True)
        ]

    def ping_files(self, start: date | None = None, end: date | None = None) -> list[Path]:
        """Return the committed ping parts, optionally only those of dates in [start, end]
        (one catalogue query: parts merged into another are left out)."""
        query = sa.select(ping_parts.c.batch, ping_parts.c.day).where(
            ping_parts.c.merged_into.is_(None)
        )
        if start:
            query = query.where(ping_parts.c.day >= start)
        if end:
            query = query.where(ping_parts.c.day <= end)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(ping_parts.c.day, ping_parts.c.batch)).all()
        return [_part_path(self.root, batch, day) for batch, day in rows]

    def scan_pings(self, start: date | None = None, end: date | None = None) -> pl.LazyFrame:
        """Return a lazy frame over the committed pings (columns of schema.PING_SCHEMA)."""
        files = self.ping_files(start, end)
        if not files:
            return pl.LazyFrame(schema=PING_SCHEMA)
        return pl.scan_parquet(files)

    def read_pings(self, frame: pl.LazyFrame) -> pl.DataFrame:
        """Collect a query over `scan_pings`; an unreadable part raises `CorruptPartError`
        naming it (instead of the reader's own error, which does not)."""
        try:
            return frame.collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            bad = self.unreadable_parts(full=False)
            if not bad:
                raise
            raise self.corrupt_error(bad) from exc

    def corrupt_error(self, bad: Sequence[tuple[Path, str]]) -> CorruptPartError:
        """The error naming unreadable parts and how to repair the workspace."""
        names = ", ".join(str(path.relative_to(self.root)) for path, _ in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        return CorruptPartError(
            f"{self.root}: unreadable ping part {names}{more} ({bad[0][1]}); run "
            f"'geoint check --workspace {self.root} --repair' to set it aside, then ingest "
            "its source file again"
        )

    def unreadable_parts(self, full: bool = True) -> list[tuple[Path, str]]:
        """The catalogued live parts that are missing or unreadable, with why.

        `full` reads every row (a damaged page anywhere); else only each footer and its row
        count against the catalogue (milliseconds per part).
        """
        query = sa.select(ping_parts.c.batch, ping_parts.c.day, ping_parts.c.rows).where(
            ping_parts.c.merged_into.is_(None)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(ping_parts.c.day, ping_parts.c.batch)).all()
        bad = []
        for batch, day, count in rows:
            path = _part_path(self.root, batch, day)
            try:
                found = pq.read_table(path).num_rows if full else pq.read_metadata(path).num_rows
                problem = None if found == count else f"{found} rows, the catalogue says {count}"
            except (OSError, pa.ArrowException) as exc:
                problem = " ".join(str(exc).split())[:200]
            if problem is not None:
                bad.append((path, problem))
        return bad

    def set_aside(self, path: Path) -> Path:
        """Move an unreadable part into ``corrupt/`` and take it off the catalogue; its batch
        becomes ``corrupt``, so ingesting its source file again stores its pings again."""
        match = _PART_NAME.search(path.name)
        batch, day = int(match.group(1)), date.fromisoformat(path.parent.name.split("=")[1])
        target = self.root / CORRUPT_DIR / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.replace(target)
        with self.engine.begin() as conn:
            conn.execute(
                ping_parts.delete().where(ping_parts.c.batch == batch, ping_parts.c.day == day)
            )
            conn.execute(  # a merged part: the parts it merged read again while they exist
                ping_parts.update()
                .where(
                    ping_parts.c.merged_into == batch,
                    ping_parts.c.day == day,
                    ping_parts.c.file_deleted.is_(False),
                )
                .values(merged_into=None, merged_at=None)
            )
            conn.execute(
                ingest_ledger.update().where(ingest_ledger.c.batch == batch).values(status=CORRUPT)
            )
        return target

    def scan_batch_pings(self, batch: int) -> pl.LazyFrame:
        """Return a lazy frame over the pings one committed batch stored (empty otherwise),
        also after its parts were merged (their rows are found by the batch's ping ids)."""
        return self.scan_batches_pings([batch])

    def scan_batches_pings(self, batches: Sequence[int]) -> pl.LazyFrame:
        """The pings committed `batches` stored (`scan_batch_pings`), one scan per part file:
        the posts of a group, or parts merged together, share one."""
        query = (
            sa.select(
                ping_parts.c.batch,
                ping_parts.c.day,
                ping_parts.c.merged_into,
                ingest_ledger.c.first_ping_id,
                ingest_ledger.c.accepted,
            )
            .join(ingest_ledger, ingest_ledger.c.batch == ping_parts.c.batch)
            .where(ping_parts.c.batch.in_(list(batches)), ingest_ledger.c.status == "committed")
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        whole: list[Path] = []
        ranges: dict[Path, list[tuple[int, int]]] = {}
        for batch, day, into, first, accepted in rows:
            if into is None:
                whole.append(_part_path(self.root, batch, day))
            else:
                span = (first or 0, (first or 0) + accepted - 1)
                ranges.setdefault(_part_path(self.root, into, day), []).append(span)
        frames = [pl.scan_parquet(path) for path in whole] + [
            pl.scan_parquet(path).filter(
                pl.any_horizontal([pl.col("ping_id").is_between(a, b) for a, b in _joined(spans)])
            )
            for path, spans in ranges.items()
        ]
        return pl.concat(frames) if frames else pl.LazyFrame(schema=PING_SCHEMA)

    def compact(self, min_parts: int, small_bytes: int, grace_s: float) -> dict[str, int]:
        """Merge each date's small ping parts into one when it holds at least `min_parts`.

        Devices posting a few positions at a time (OsmAnd) leave one small part per post, and
        every read opens them all. A merge writes one part (a ledger batch of kind
        `COMPACTION`, sorted by vehicle and time, ping ids kept) and, in one transaction,
        enters it in the catalogue and points the parts it holds at it; their files are
        deleted by a later call once `grace_s` has passed. Call holding `writer`. Report:
        ``merged_parts``, ``merged_rows``, ``deleted_files``.
        """
        report = {
            "merged_parts": 0,
            "merged_rows": 0,
            "deleted_files": self._delete_merged(grace_s),
        }
        small = sa.and_(ping_parts.c.merged_into.is_(None), ping_parts.c.bytes < small_bytes)
        crowded = (
            sa.select(ping_parts.c.day)
            .where(small)
            .group_by(ping_parts.c.day)
            .having(sa.func.count() >= min_parts)
        )
        with self.engine.connect() as conn:
            days = list(conn.execute(crowded).scalars())
        for day in days:
            with self.engine.connect() as conn:
                members = list(
                    conn.execute(
                        sa.select(ping_parts.c.batch).where(small, ping_parts.c.day == day)
                    ).scalars()
                )
            frame = pl.read_parquet([_part_path(self.root, b, day) for b in members])
            frame = frame.sort("vehicle_id", "ts", "ping_id")
            entry = self.begin_batch(COMPACTION, f"date={day.isoformat()}", "")
            target = _part_path(self.root, entry.batch, day)
            try:
                # small row groups: a read of a few vehicles skips the others' groups
                write_parquet(
                    frame, target, compression="lz4", statistics=True, row_group_size=65_536
                )
            except BaseException:
                self.abort_batch(entry)
                raise
            merged = PingPart(entry.batch, day, frame.height, target.stat().st_size)
            now = datetime.now(UTC)
            with self.engine.begin() as conn:
                conn.execute(ping_parts.insert(), [_part_row(merged)])
                conn.execute(  # earlier merges into these parts now live in the new one
                    ping_parts.update()
                    .where(ping_parts.c.merged_into.in_(members), ping_parts.c.day == day)
                    .values(merged_into=entry.batch)
                )
                conn.execute(
                    ping_parts.update()
                    .where(ping_parts.c.batch.in_(members), ping_parts.c.day == day)
                    .values(merged_into=entry.batch, merged_at=now)
                )
                conn.execute(
                    ingest_ledger.update()
                    .where(ingest_ledger.c.batch == entry.batch)
                    .values(status="committed", committed_at=now, rows=frame.height)
                )
            report["merged_parts"] += len(members)
            report["merged_rows"] += frame.height
        return report

    def _delete_merged(self, grace_s: float) -> int:
        """Delete the files of parts merged more than `grace_s` ago; return how many."""
        cutoff = datetime.now(UTC) - timedelta(seconds=grace_s)
        due = sa.and_(
            ping_parts.c.merged_into.is_not(None),
            ping_parts.c.file_deleted.is_(False),
            ping_parts.c.merged_at <= cutoff,
        )
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(ping_parts.c.batch, ping_parts.c.day).where(due)).all()
        for batch, day in rows:
            _part_path(self.root, batch, day).unlink(missing_ok=True)
        if rows:
            with self.engine.begin() as conn:
                conn.execute(ping_parts.update().where(due).values(file_deleted=True))
        return len(rows)

    def _date_folders(self) -> list[tuple[Path, date]]:
        """The ping date folders with their dates, oldest first."""
        return [
            (folder, date.fromisoformat(folder.name.removeprefix("date=")))
            for folder in sorted((self.root / PINGS_DIR).glob("date=*"))
            if folder.is_dir()
        ]

    # ----------------------------------------------------------------- events
    def write_events(self, events: pl.DataFrame) -> Path:
        """Replace the stored events (schema.EVENT_SCHEMA) atomically; return the file."""
        target = self.root / EVENTS_FILE
        _write_part(target, events.select(list(EVENT_SCHEMA)).cast(EVENT_SCHEMA))
        return target

    def read_events(self) -> pl.DataFrame:
        """Return the stored events (empty with schema.EVENT_SCHEMA when none were analysed)."""
        return read_events_file(self.root / EVENTS_FILE)

    # ---------------------------------------------------------------- records
    def read_table(
        self,
        kind: str,
        where: Sequence[sa.ColumnElement[bool]] = (),
        order_by: Sequence[sa.ColumnElement] = (),
        limit: int | None = None,
        offset: int = 0,
        columns: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """Return the stored rows of a record table (seizures, watchlist, declarations).

        Every row and column by default; else the `columns` of the rows meeting `where`, in
        `order_by` order, `offset` rows skipped and at most `limit` returned.
        """
        table = RECORD_TABLES[kind]
        selected = [table.c[name] for name in columns] if columns else list(table.columns)
        query = sa.select(*selected).where(*where).order_by(*order_by).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        frame = (
            pl.DataFrame([dict(r) for r in rows])
            if rows
            else pl.DataFrame(schema={c.name: _polars_type(c) for c in selected})
        )
        # a column holding only nulls is inferred as Null: give it the table's type
        frame = frame.with_columns(
            pl.col(c.name).cast(_polars_type(c))
            for c in selected
            if frame.schema[c.name] == pl.Null
        )
        return frame.with_columns(
            utc_column(c.name, frame.schema[c.name])
            for c in selected
            if isinstance(c.type, sa.DateTime)
        )

    def count_rows(self, kind: str, where: Sequence[sa.ColumnElement[bool]] = ()) -> int:
        """How many rows of a record table meet `where`."""
        query = sa.select(sa.func.count()).select_from(RECORD_TABLES[kind]).where(*where)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def table_version(self, kind: str) -> tuple[int, int | None, int]:
        """Row count, last batch and update counter of a record table: they change when a batch
        adds rows or a row is changed in place (``geoint.store.positions``)."""
        table = RECORD_TABLES[kind]
        updates = sa.select(counters.c.value).where(counters.c.name == update_counter(kind))
        query = sa.select(sa.func.count(), sa.func.max(table.c.batch), updates.scalar_subquery())
        with self.engine.connect() as conn:
            count, last, updated = conn.execute(query).one()
        return count, last, updated or 0

    def quarantined_reasons(self, batch: int) -> dict[str, int]:
        """Return how many rows of a batch were quarantined, by reason."""
        query = (
            sa.select(quarantine.c.reason, sa.func.count())
            .where(quarantine.c.batch == batch)
            .group_by(quarantine.c.reason)
            .order_by(quarantine.c.reason)
        )
        with self.engine.connect() as conn:
            return {reason: count for reason, count in conn.execute(query)}

    def quarantined(
        self, kind: str | None = None, limit: int = 1000, batch: int | None = None
    ) -> pl.DataFrame:
        """Return quarantined rows, newest batch first and by row within it, at most `limit`."""
        query = sa.select(quarantine).order_by(
            quarantine.c.batch.desc(), quarantine.c.row, quarantine.c.id
        )
        if kind:
            query = query.where(quarantine.c.kind == kind)
        if batch is not None:
            query = query.where(quarantine.c.batch == batch)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).mappings().all()
        return pl.DataFrame([dict(r) for r in rows], infer_schema_length=None)


def read_events_file(path: Path) -> pl.DataFrame:
    """The events of an events file (empty with schema.EVENT_SCHEMA when there is none)."""
    return read_parquet(path) if path.exists() else pl.DataFrame(schema=EVENT_SCHEMA)


def reserve(
    conn: sa.Connection, name: str, count: int, start: Callable[[], int] = lambda: 1
) -> int:
    """Reserve `count` consecutive numbers of the counter `name` (created at `start()`);
    return the first.

    One ``UPDATE … RETURNING``: the counter's row stays write-locked until the transaction
    ends, so concurrent transactions (other processes on PostgreSQL) never get the same
    numbers, and numbers are handed out in the order their transactions commit.
    """
    bump = (
        counters.update()
        .where(counters.c.name == name)
        .values(value=counters.c.value + count)
        .returning(counters.c.value)
    )
    bumped = conn.execute(bump).scalar_one_or_none()
    if bumped is None:  # a new counter: two first writers both insert, one row is kept
        insert_missing(conn, counters, {"name": name, "value": start()})
        bumped = conn.execute(bump).scalar_one()
    return bumped - count


def update_counter(kind: str) -> str:
    """The counter bumped when a row of the record table `kind` is changed in place."""
    return f"{kind}_updates"


def insert_missing(conn: sa.Connection, table: sa.Table, row: dict[str, Any]) -> None:
    """Insert `row` unless a row with its primary key exists (``ON CONFLICT DO NOTHING``)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite_dialect
    conn.execute(dialect.insert(table).values(**row).on_conflict_do_nothing())


def utc_column(name: str, dtype: pl.DataType) -> pl.Expr:
    """A stored time column as ``Datetime("us", "UTC")``, whatever the database gave back:
    SQLite naive UTC wall times, PostgreSQL aware times in its session's zone (``Etc/UTC``
    on a server whose zone was not set), so that frames of both databases compare and concat."""
    column = pl.col(name)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        column = column.dt.convert_time_zone("UTC")
    elif isinstance(dtype, pl.Datetime):
        column = column.dt.replace_time_zone("UTC")
    return column.cast(pl.Datetime("us", "UTC"))


def span_conditions(
    table: sa.Table,
    span: tuple[str, str],
    boxes: Sequence[Box] = (),
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[sa.ColumnElement[bool]]:
    """SQL conditions on a table with ``lat`` and ``lon``: the point lies in one of `boxes`
    (edges included; none: anywhere) and the time span (`span`: its first and last column)
    meets ``[start, end]`` (None: open)."""
    lat, lon = table.c.lat, table.c.lon
    conditions = []
    if boxes:
        conditions.append(
            sa.or_(*(sa.and_(lon.between(x0, x1), lat.between(y0, y1)) for x0, y0, x1, y1 in boxes))
        )
    if end is not None:
        conditions.append(table.c[span[0]] <= end.astimezone(UTC))
    if start is not None:
        conditions.append(table.c[span[1]] >= start.astimezone(UTC))
    return conditions


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` (any process on this machine waits)."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _joined(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Inclusive id ranges, adjacent or overlapping ones joined (a group's posts are one)."""
    joined: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if joined and first <= joined[-1][1] + 1:
            joined[-1] = (joined[-1][0], max(last, joined[-1][1]))
        else:
            joined.append((first, last))
    return joined


@contextmanager
def _exclusive_or_not(path: Path) -> Iterator[bool]:
    """Hold an exclusive advisory lock on `path` if no process holds it; yield whether held."""
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _date_folder(root: Path, day: date) -> Path:
    return root / PINGS_DIR / f"date={day.isoformat()}"


def _part_path(root: Path, batch: int, day: date) -> Path:
    return _date_folder(root, day) / f"part-{batch:08d}.parquet"


def _write_part(target: Path, frame: pl.DataFrame, durable: bool = False) -> None:
    """Write a ping part or the events file: Parquet with statistics, atomically."""
    write_parquet(frame, target, durable, compression="lz4", statistics=True)


def _part_row(part: PingPart) -> dict[str, object]:
    return {"batch": part.batch, "day": part.day, "rows": part.rows, "bytes": part.bytes}


def _batch(row: Mapping) -> Batch:
    return Batch(
        row["batch"],
        row["kind"],
        row["file"],
        row["sha256"],
        row["status"],
        row["rows"] or 0,
        row["accepted"] or 0,
        row["duplicates"] or 0,
        row["quarantined"] or 0,
        row["flagged_spikes"] or 0,
        row["first_ping_id"],
    )


def _without_nul(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with NUL characters in its text replaced by U+FFFD: PostgreSQL text cannot hold
    them (SQLite can; both store the same). Identifiers holding one were quarantined already."""
    return frame.with_columns(pl.col(pl.String).str.replace_all("\x00", "\ufffd", literal=True))


def _sql_rows(records: pl.DataFrame, batch: int) -> list[dict]:
    return records.with_columns(pl.lit(batch).alias("batch")).to_dicts()


def _polars_type(column: sa.Column) -> pl.DataType:
    if isinstance(column.type, sa.DateTime):
        return pl.Datetime("us", "UTC")
    if isinstance(column.type, sa.Float):
        return pl.Float64()
    if isinstance(column.type, sa.Integer):
        return pl.Int64()
    return pl.String()


def insert_frame(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Insert a frame's rows (columns named as the table's) in one driver call of plain tuples.

    SQLAlchemy's per-row parameter processing costs about 25 µs a row (2.5 s per 100 k); the
    driver alone a tenth of it. SQLite gets times as SQLAlchemy writes them (UTC wall time).
    """
    if not frame.height:
        return
    if conn.dialect.name == "sqlite":
        frame = frame.with_columns(
            pl.col(pl.Datetime("us", "UTC"))
            .dt.replace_time_zone(None)
            .dt.strftime("%Y-%m-%d %H:%M:%S%.6f")
        )
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=frame.columns)
    if compiled.positional:
        params: list[Any] = frame.select(list(compiled.positiontup or [])).rows()
    else:
        params = frame.to_dicts()
    conn.exec_driver_sql(str(compiled), params)

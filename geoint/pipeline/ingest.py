"""Ingest: read → validate → de-duplicate → index → store, atomically and idempotently."""

from __future__ import annotations

import hashlib
import logging
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa

from geoint.errors import InputError, StorageFullError, is_storage_full
from geoint.h3index import latlng_to_cells
from geoint.ingest.readers import ReadResult, read_records
from geoint.ingest.validate import (
    PING_COLUMNS_HINT,
    Validated,
    client_seizure_id,
    duplicates_of_stored,
    duplicates_within,
    empty_quarantine,
    flag_spikes,
    require_columns,
    validate_declarations,
    validate_pings,
    validate_seizures,
    validate_watchlist,
)
from geoint.pipeline.dedup import NewestPings, deduplicate_pings
from geoint.pipeline.progress import Progress, step
from geoint.schema import (
    DUPLICATE_REASONS,
    GAZETTEER_SCHEMA,
    PING_REQUIRED,
    PING_SCHEMA,
    ROW_NUMBER,
    IngestReport,
)
from geoint.settings import GeointSettings
from geoint.store.tables import seizures
from geoint.store.workspace import Batch, PingPart, Workspace
from geoint.vocabularies import SHIPPED, Vocabularies

RECORD_KINDS = ("seizures", "watchlist", "declarations")
ROW_SPAN = 1 << 32  # a grouped post's rows are numbered post * ROW_SPAN + row (`_numbered`)
log = logging.getLogger("geoint.ingest")
_RECORD_KEYS = {
    "seizures": ("seizure_id",),
    "watchlist": ("vehicle_id",),
    "declarations": ("vehicle_id", "corridor_id", "start"),
}
# per workspace open in this process, the newest stored ping of the vehicles its groups of
# posts stored (`geoint.pipeline.dedup.NewestPings`); gone with the workspace object
_NEWEST: weakref.WeakKeyDictionary[Workspace, NewestPings] = weakref.WeakKeyDictionary()


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file's content (the ledger's idempotency key)."""
    if not Path(path).is_file():
        raise InputError(str(path), "an existing, readable file")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_pings(
    workspace: Workspace,
    path: Path,
    settings: GeointSettings,
    fmt: str | None = None,
    column_map: Mapping[str, str] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest one ping file: validate, de-duplicate, index and store it atomically."""
    path = Path(path)
    sha = file_sha256(path)
    prior = workspace.committed_batch(sha, "pings")
    if prior:
        return _already_ingested(workspace, prior, str(path))
    step(progress, "reading")
    read = read_records(path, fmt, column_map)
    return ingest_ping_records(workspace, read, str(path), sha, settings, now, progress)


def ingest_ping_records(
    workspace: Workspace,
    read: ReadResult,
    name: str,
    sha: str,
    settings: GeointSettings,
    now: datetime | None = None,
    progress: Progress | None = None,
    queue_analysis: bool = False,
) -> IngestReport:
    """Ingest pings already read from a file or a request body named `name`.

    `queue_analysis`: enter the stored batch as pending incremental analysis in the commit
    (the service analyses it after the response, or at its next start if killed first).
    """
    with workspace.writer():
        prior = workspace.committed_batch(sha, "pings")
        if prior:
            return _already_ingested(workspace, prior, name)
        return _store_pings(
            workspace, read, name, sha, settings, now or datetime.now(UTC), progress,
            queue_analysis,
        )  # fmt: skip


def _store_pings(
    workspace: Workspace,
    read: ReadResult,
    name: str,
    sha: str,
    settings: GeointSettings,
    now: datetime,
    progress: Progress | None,
    queue_analysis: bool = False,
) -> IngestReport:
    started = time.perf_counter()
    step(progress, "validating")
    validated = validate_pings(read.frame, name, settings.ingest, now)
    step(progress, "de-duplicating")
    unique, repeated = deduplicate_pings(workspace, validated.good)
    step(progress, "indexing")
    pings = _prepare_pings(unique, settings)
    step(progress, "storing")
    with _undone_on_failure(workspace, name) as undoable:
        batch = undoable(workspace.begin_batch("pings", name, sha, ping_ids=pings.height))
        pings = pings.with_columns(
            (pl.int_range(pl.len(), dtype=pl.UInt64) + (batch.first_ping_id or 0)).alias("ping_id")
        ).select(list(PING_SCHEMA))
        parts = workspace.write_ping_parts(batch, pings)
        report = _report(read, name, "pings", validated, repeated, str(batch.batch), pings.height)
        report.flagged_spikes = int(pings["spike"].sum())
        _commit(workspace, batch, report, read, validated, repeated, parts, queue_analysis)
    _compact(workspace, settings)
    report.seconds = time.perf_counter() - started
    return report


# A request's audit entry but its outcome (``key_id``, ``method``, ``path``): a post carrying
# it is audited in its group's own transaction, with status 200 and its report's summary.
AuditFields = Mapping[str, str]


@dataclass(frozen=True)
class Post:
    """One posted input of pings, read (a request body or an OsmAnd position).

    Made, its columns are checked: a post missing a required column is refused alone
    (`InputError` naming it), never failing the group it would have joined."""

    read: ReadResult
    name: str
    sha: str
    audit: AuditFields | None = None

    def __post_init__(self) -> None:
        require_columns(self.read.frame, self.name, PING_REQUIRED, PING_COLUMNS_HINT)

    @property
    def rows(self) -> int:
        """The records posted (read or not)."""
        return self.read.frame.height + self.read.rejected.height


# One device position as the OsmAnd protocol posts it, read into a frame of one record
POSITION_SCHEMA: dict[str, pl.DataType] = {
    ROW_NUMBER: pl.Int64(),
    "vehicle_id": pl.String(),
    "ts": pl.String(),  # epoch seconds or ISO 8601, validated as any ping time
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "speed_kmh": pl.Float64(),
    "heading": pl.Float64(),
    "accuracy_m": pl.Float64(),
    "source": pl.String(),
}


@dataclass(frozen=True)
class Position:
    """One device position as posted (`POSITION_SCHEMA`'s columns but the row number), stored
    by `ingest_ping_posts` as a post of one record. The positions of a group become one frame
    there (`_position_frame`): no engine call on a service's event loop, where each would wait
    for the interpreter lock, and no frame per position (docs/ingest.md)."""

    record: dict[str, Any]
    name: str
    sha: str
    audit: AuditFields | None = None
    rows = 1


def _position_frame(positions: Sequence[Position], indexes: Sequence[int]) -> pl.DataFrame:
    """Positions as one frame, each numbered as the first row of its post (`ROW_SPAN`)."""
    records = [
        {**position.record, ROW_NUMBER: index * ROW_SPAN + 1}
        for position, index in zip(positions, indexes, strict=True)
    ]
    return pl.DataFrame(records, schema=POSITION_SCHEMA)


def ingest_ping_posts(
    workspace: Workspace,
    posted: Sequence[Post | Position],
    settings: GeointSettings,
    now: datetime | None = None,
) -> list[IngestReport]:
    """Ingest concurrent posts of pings together (a group commit); one report per post.

    Each post is validated and de-duplicated as if ingested alone (its own ledger batch, rows,
    quarantine and report), but all are stored in one transaction, with one shared Parquet part
    per date (`Workspace.begin_group`, `commit_group`), and queued for incremental analysis.
    A post whose exact content is already stored stores nothing (``already_ingested``).
    Every other post carrying `audit` fields is audited in the group's transaction: the write
    and its audit entry are stored together or not at all.
    """
    with workspace.writer():
        known = workspace.committed_batches([post.sha for post in posted], "pings")
        priors = [known.get(post.sha) for post in posted]
        fresh = [post for post, prior in zip(posted, priors, strict=True) if prior is None]
        stored = iter(_store_posts(workspace, fresh, settings, now or datetime.now(UTC)))
        return [
            next(stored) if prior is None else _already_ingested(workspace, prior, post.name)
            for post, prior in zip(posted, priors, strict=True)
        ]


def _store_posts(
    workspace: Workspace, posts: Sequence[Post | Position], settings: GeointSettings, now: datetime
) -> list[IngestReport]:
    """Validate, de-duplicate, index and store posts as one group (`ingest_ping_posts`)."""
    if not posts:
        return []
    started = time.perf_counter()
    validated, rejected = _validated_posts(posts, settings, now)
    newest = _NEWEST.setdefault(workspace, NewestPings())
    unique, repeated = deduplicate_pings(workspace, validated.good, newest)
    pings = _prepare_pings(unique, settings)
    post = pings[ROW_NUMBER].to_numpy() // ROW_SPAN
    accepted = np.bincount(post, minlength=len(posts))
    with _undone_on_failure(workspace, posts[0].name) as undoable:
        group, batches = workspace.begin_group(
            [(p.name, p.sha, int(n)) for p, n in zip(posts, accepted, strict=True)]
        )
        for batch in (group, *batches):
            undoable(batch)
        starts = np.array([b.first_ping_id or 0 for b in batches], dtype=np.uint64)
        ids = np.array([b.batch for b in batches], dtype=np.int64)
        ping_ids = pl.Series("ping_id", starts[post] + _rank_within(post))
        stored = pings.select(ping_ids if c == "ping_id" else c for c in PING_SCHEMA)
        parts = workspace.write_ping_parts(group, stored, durable=True)
        days = _rows_per_day(ids[post], pings["ts"])
        refused = pl.concat([rejected, validated.quarantined, repeated])
        of = refused[ROW_NUMBER].to_numpy() // ROW_SPAN
        reports = _post_reports(posts, batches, refused, of, post, pings["spike"])
        rows = refused  # empty: nothing to quarantine, and no query to build the rows
        if refused.height:
            rows = refused.select(
                (pl.col(ROW_NUMBER) % ROW_SPAN).alias("row"),
                "column",
                "reason",
                "detail",
                "raw",
                pl.Series("batch", ids[of]),
                pl.lit("pings").alias("kind"),
                pl.Series("file", np.array([p.name for p in posts], dtype=object)[of], pl.String),
            )
        counts = [_counts(report) for report in reports]
        audit = [
            {**p.audit, "status": 200, "summary": report.summary()}
            for p, report in zip(posts, reports, strict=True)
            if p.audit is not None
        ]
        workspace.commit_group(
            group, batches, counts, rows, parts, days, queue_analysis=True, audit=audit
        )
        newest.stored(workspace, pings)
    _compact(workspace, settings)
    for report in reports:
        report.seconds = time.perf_counter() - started
    return reports


def _validated_posts(
    posts: Sequence[Post | Position], settings: GeointSettings, now: datetime
) -> tuple[Validated, pl.DataFrame]:
    """Validate posts together, one call per set of columns and types (OsmAnd positions are
    all alike and make one frame; CSV bodies mostly share their header); rows are numbered
    ``post * ROW_SPAN + row``. Also the records that could not be split, numbered alike."""

    def numbered(frames: list[pl.DataFrame], indexes: list[int]) -> pl.DataFrame:
        heights = [frame.height for frame in frames]
        offsets = np.repeat(np.asarray(indexes, dtype=np.int64) * ROW_SPAN, heights)
        # one chunk: the validation's conditional columns panic on some multi-chunk frames
        together = pl.concat(frames, rechunk=True)
        rows = pl.Series(ROW_NUMBER, together[ROW_NUMBER].to_numpy() + offsets)
        return together.replace_column(together.get_column_index(ROW_NUMBER), rows)  # no query

    shapes: dict[tuple, list[int]] = {}
    read: dict[int, Post] = {}
    positions: dict[int, Position] = {}
    for i, post in enumerate(posts):
        if isinstance(post, Position):
            positions[i] = post
        else:
            read[i] = post
            shapes.setdefault(tuple(post.read.frame.schema.items()), []).append(i)
    blocks = [numbered([read[i].read.frame for i in alike], alike) for alike in shapes.values()]
    if positions:
        blocks.append(_position_frame(list(positions.values()), list(positions)))
    results = [validate_pings(block, "posted pings", settings.ingest, now) for block in blocks]
    split = [i for i, post in read.items() if post.read.rejected.height]
    rejected = (
        numbered([read[i].read.rejected for i in split], split) if split else empty_quarantine()
    )
    good = pl.concat([r.good for r in results])
    return Validated(good, pl.concat([r.quarantined for r in results])), rejected


def _rows_per_day(batch: np.ndarray, ts: pl.Series) -> pl.DataFrame:
    """The pings per batch and UTC date (``batch``, ``day``, ``rows``), of each ping's
    `batch` and time; in numpy, no query."""
    day = ts.to_numpy().astype("<M8[D]")
    pairs, rows = np.unique(np.stack([batch, day.astype(np.int64)]), axis=1, return_counts=True)
    return pl.DataFrame(
        {"batch": pairs[0], "day": pairs[1].astype("<M8[D]"), "rows": rows},
        schema={"batch": pl.Int64, "day": pl.Date, "rows": pl.UInt32},
    )


def _rank_within(post: np.ndarray) -> np.ndarray:
    """Each row's rank among the rows of its post, in row order (0, 1, ... per post): the
    pings of a post take its reserved ids in the order they are stored."""
    order = np.argsort(post, kind="stable")
    first = np.concatenate(([0], np.cumsum(np.bincount(post))[:-1]))  # a post's first place
    rank = np.empty(post.size, dtype=np.uint64)
    rank[order] = np.arange(post.size) - first[post[order]]
    return rank


def _post_reports(
    posts: Sequence[Post | Position],
    batches: Sequence[Batch],
    refused: pl.DataFrame,
    of: np.ndarray,
    post: np.ndarray,
    spike: pl.Series,
) -> list[IngestReport]:
    """Each post's report out of its group's refused rows (`of`: the post of each) and stored
    pings (their `post` and `spike` flag)."""
    accepted = np.bincount(post, minlength=len(posts))
    spikes = np.bincount(post, weights=spike.to_numpy(), minlength=len(posts))
    duplicates = np.zeros(len(posts), dtype=np.int64)
    reasons: dict[int, dict[str, int]] = {}
    if refused.height:  # else (the usual group) no query at all
        duplicate = np.isin(refused["reason"].to_numpy(), list(DUPLICATE_REASONS))
        duplicates = np.bincount(of[duplicate], minlength=len(posts))
        quarantined = refused.select(pl.Series("_post", of), "reason").filter(~duplicate)
        for index, reason, count in quarantined.group_by("_post", "reason").len().iter_rows():
            reasons.setdefault(index, {})[reason] = count
    return [
        IngestReport(
            file=p.name,
            kind="pings",
            rows=p.rows,
            accepted=int(accepted[i]),
            duplicates=int(duplicates[i]),
            quarantined=sum(reasons.get(i, {}).values()),
            quarantined_by_reason=dict(sorted(reasons.get(i, {}).items())),
            batch_id=str(batch.batch),
            flagged_spikes=int(spikes[i]),
        )
        for i, (p, batch) in enumerate(zip(posts, batches, strict=True))
    ]


def _counts(report: IngestReport) -> dict[str, int]:
    """The ledger counts of a report."""
    return {
        "rows": report.rows,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "quarantined": report.quarantined,
        "flagged_spikes": report.flagged_spikes,
    }


def _compact(workspace: Workspace, settings: GeointSettings) -> None:
    """Merge small ping parts after an ingest; a full disk leaves it for later."""
    ingest = settings.ingest
    try:
        workspace.compact(
            ingest.compact_min_parts, ingest.compact_small_bytes, ingest.compact_grace_s
        )
    except (OSError, sa.exc.OperationalError) as exc:  # the batch is stored: merge later
        if not is_storage_full(exc):
            raise
        log.warning("part merging skipped, no space left: %s", exc)


@contextmanager
def _undone_on_failure(workspace: Workspace, name: str) -> Iterator[Callable[[Batch], Batch]]:
    """Store a batch (the block hands it to the yielded function) or, if the block fails,
    undo it (`Workspace.abort_batch`); a full disk or database becomes `StorageFullError`."""
    begun: list[Batch] = []

    def started(batch: Batch) -> Batch:
        begun.append(batch)
        return batch

    try:
        yield started
    except BaseException as exc:
        for batch in begun:
            workspace.abort_batch(batch)
        if isinstance(exc, Exception) and is_storage_full(exc):
            raise StorageFullError(
                f"{name}: no space left on the device holding {workspace.root}; nothing was "
                "stored (free space, then ingest again)"
            ) from None
        raise


def _prepare_pings(pings: pl.DataFrame, settings: GeointSettings) -> pl.DataFrame:
    """Index pings (sorted by vehicle and time) into H3 and flag GPS spikes."""
    cells = latlng_to_cells(
        pings["lat"].to_numpy(), pings["lon"].to_numpy(), settings.h3_resolution
    )
    return pings.with_columns(
        pl.Series("cell", cells, dtype=pl.UInt64),
        flag_spikes(pings, settings.ingest.spike_speed_kmh),
    )


def ingest_records(
    workspace: Workspace,
    kind: str,
    path: Path,
    settings: GeointSettings,
    gazetteer: pl.DataFrame | None = None,
    fmt: str | None = None,
    column_map: Mapping[str, str] | None = None,
    now: datetime | None = None,
    vocabularies: Vocabularies = SHIPPED,
) -> IngestReport:
    """Ingest seizures, a watch list or transit declarations into their tables."""
    if kind not in RECORD_KINDS:
        raise ValueError(f"kind must be one of {', '.join(RECORD_KINDS)}, got {kind!r}")
    path = Path(path)
    sha = file_sha256(path)
    prior = workspace.committed_batch(sha, kind)
    if prior:
        return _already_ingested(workspace, prior, str(path))
    read = read_records(path, fmt, column_map)
    return ingest_record_rows(
        workspace, kind, read, str(path), sha, settings, gazetteer, now, vocabularies
    )


def ingest_record_rows(
    workspace: Workspace,
    kind: str,
    read: ReadResult,
    name: str,
    sha: str,
    settings: GeointSettings,
    gazetteer: pl.DataFrame | None = None,
    now: datetime | None = None,
    vocabularies: Vocabularies = SHIPPED,
) -> IngestReport:
    """Ingest records already read from a file or a request body named `name`."""
    args = (kind, read, name, sha, settings, gazetteer, now, vocabularies)
    return ingest_checked_records(workspace, *args)[0]


def ingest_checked_records(
    workspace: Workspace,
    kind: str,
    read: ReadResult,
    name: str,
    sha: str,
    settings: GeointSettings,
    gazetteer: pl.DataFrame | None = None,
    now: datetime | None = None,
    vocabularies: Vocabularies = SHIPPED,
) -> tuple[IngestReport, CheckedRecords | None]:
    """Ingest records; also return how each was judged (None when the content was ingested
    before and nothing was checked)."""
    with workspace.writer():
        prior = workspace.committed_batch(sha, kind)
        if prior:
            return _already_ingested(workspace, prior, name), None
        started = time.perf_counter()
        checked = check_records(workspace, kind, read, name, settings, gazetteer, now, vocabularies)
        with _undone_on_failure(workspace, name) as undoable:
            batch = undoable(workspace.begin_batch(kind, name, sha))
            report = _report(
                read, name, kind, checked.validated, checked.repeated, str(batch.batch),
                checked.unique.height,
            )  # fmt: skip
            _commit(workspace, batch, report, read, checked.validated, checked.repeated,
                    records=checked.unique.drop("_row"))  # fmt: skip
        report.seconds = time.perf_counter() - started
        return report, checked


@dataclass
class CheckedRecords:
    """Records validated and de-duplicated (against each other and the store), not stored."""

    read: ReadResult
    validated: Validated
    unique: pl.DataFrame  # what storing would add (``_row`` kept)
    repeated: pl.DataFrame  # duplicate rows, as quarantine rows

    def report(self, name: str, kind: str) -> IngestReport:
        """The ingest report storing these records would give (no batch)."""
        return _report(self.read, name, kind, self.validated, self.repeated, "", self.unique.height)


def check_records(
    workspace: Workspace,
    kind: str,
    read: ReadResult,
    name: str,
    settings: GeointSettings,
    gazetteer: pl.DataFrame | None = None,
    now: datetime | None = None,
    vocabularies: Vocabularies = SHIPPED,
) -> CheckedRecords:
    """Validate and de-duplicate records without storing anything (also a dry run's answer).

    Seizures are unique by id and, when they have one, by client id (a resend of a record
    the store holds, under the same or another seizure id, is a duplicate).
    """
    now = now or datetime.now(UTC)
    if kind == "seizures":
        places = gazetteer if gazetteer is not None else pl.DataFrame(schema=GAZETTEER_SCHEMA)
        validated = validate_seizures(read.frame, name, places, now, vocabularies)
    elif kind == "watchlist":
        validated = validate_watchlist(read.frame, name, now)
    else:
        validated = validate_declarations(read.frame, name, now)
    keys = _RECORD_KEYS[kind]
    values = [c for c in validated.good.columns if c not in (*keys, "_row")]
    raw = [c for c in validated.good.columns if c != "_row"]
    stored = workspace.read_table(kind)
    unique, within = duplicates_within(validated.good, keys, values, raw)
    unique, against_store = duplicates_of_stored(unique, stored, keys, values, raw)
    repeated = [within, against_store]
    if kind == "seizures":
        keyed = unique.filter(pl.col("client_id").is_not_null())
        same = [c for c in values if c != "client_id"] + ["seizure_id"]
        keyed, again = duplicates_within(keyed, ("client_id",), same, raw)
        keyed, resent = duplicates_of_stored(
            keyed, stored.filter(pl.col("client_id").is_not_null()), ("client_id",), same, raw
        )
        unique = pl.concat([keyed, unique.filter(pl.col("client_id").is_null())])
        repeated += [again, resent]
        cells = latlng_to_cells(
            unique["lat"].to_numpy(), unique["lon"].to_numpy(), settings.h3_resolution
        )
        unique = unique.with_columns(pl.Series("cell", cells.astype(np.int64)))
    return CheckedRecords(read, validated, unique, pl.concat(repeated))


def _report(
    read: ReadResult,
    name: str,
    kind: str,
    validated: Validated,
    repeated: pl.DataFrame,
    batch_id: str,
    accepted: int,
) -> IngestReport:
    quarantined = pl.concat([read.rejected, validated.quarantined])
    by_reason = quarantined.group_by("reason").len().sort("reason")
    return IngestReport(
        file=name,
        kind=kind,
        rows=read.frame.height + read.rejected.height,
        accepted=accepted,
        duplicates=repeated.height,
        quarantined=quarantined.height,
        quarantined_by_reason=dict(zip(by_reason["reason"], by_reason["len"], strict=True)),
        batch_id=batch_id,
    )


def _commit(
    workspace: Workspace,
    batch: Batch,
    report: IngestReport,
    read: ReadResult,
    validated: Validated,
    repeated: pl.DataFrame,
    parts: Sequence[PingPart] = (),
    queue_analysis: bool = False,
    records: pl.DataFrame | None = None,
) -> None:
    rows = pl.concat([read.rejected, validated.quarantined, repeated])
    workspace.commit_batch(batch, _counts(report), rows, records, parts, queue_analysis)


def prior_ingest(workspace: Workspace, sha: str, kind: str, name: str) -> IngestReport | None:
    """Return the report of an input whose exact content was already ingested, else None."""
    prior = workspace.committed_batch(sha, kind)
    return _already_ingested(workspace, prior, name) if prior else None


def _already_ingested(workspace: Workspace, prior: Batch, name: str) -> IngestReport:
    """Report a file whose exact content is already stored: nothing is stored twice."""
    reasons = workspace.quarantined_reasons(prior.batch)
    not_duplicates = {r: n for r, n in reasons.items() if r not in DUPLICATE_REASONS}
    return IngestReport(
        file=name,
        kind=prior.kind,
        rows=prior.rows,
        accepted=0,
        duplicates=prior.accepted + prior.duplicates,
        quarantined=prior.quarantined,
        quarantined_by_reason=not_duplicates,
        already_ingested=True,
        batch_id=str(prior.batch),
    )


def record_outcomes(workspace: Workspace, checked: CheckedRecords) -> list[dict[str, Any]]:
    """What became of each seizure record, by row: ``{"row", "client_id", "seizure_id",
    "status": "stored" | "duplicate" | "refused", "errors": [{"field", "reason", "detail"}]}``.

    A duplicate of a stored client id names the stored seizure's id. In a dry run, ``stored``
    means the record would be stored.
    """
    frame = checked.read.frame
    texts = [
        (pl.col(c).cast(pl.String).str.strip_chars() if c in frame.columns else pl.lit(None))
        .cast(pl.String)
        .alias(c)
        for c in ("client_id", "seizure_id")
    ]
    given = frame.select(ROW_NUMBER, *texts).with_columns(
        pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
        for c in ("client_id", "seizure_id")
    )
    given = pl.concat([given, checked.read.rejected.select(ROW_NUMBER)], how="diagonal_relaxed")
    stored_ids = _stored_seizure_ids(workspace, given["client_id"].drop_nulls().to_list())
    refusals = pl.concat(
        [
            checked.read.rejected.select(ROW_NUMBER, "column", "reason", "detail"),
            checked.validated.errors
            if checked.validated.errors is not None
            else checked.validated.quarantined.select(ROW_NUMBER, "column", "reason", "detail"),
        ]
    )
    errors: dict[int, list[dict[str, Any]]] = {}
    for row, column, reason, detail in refusals.iter_rows():
        errors.setdefault(row, []).append({"field": column, "reason": reason, "detail": detail})
    duplicate = set(checked.repeated[ROW_NUMBER].to_list())
    outcomes = []
    for row, client_id, seizure_id in given.sort(ROW_NUMBER).iter_rows():
        if seizure_id is None and client_id is not None:
            seizure_id = stored_ids.get(client_id, client_seizure_id(client_id))
        status = "refused" if row in errors else "duplicate" if row in duplicate else "stored"
        if status == "duplicate" and client_id in stored_ids:
            seizure_id = stored_ids[client_id]
        outcomes.append(
            {
                "row": row,
                "client_id": client_id,
                "seizure_id": seizure_id,
                "status": status,
                "errors": errors.get(row, []),
            }
        )
    return outcomes


def _stored_seizure_ids(workspace: Workspace, client_ids: Sequence[str]) -> dict[str, str]:
    """The stored seizure id of each stored client id among `client_ids`."""
    if not client_ids:
        return {}
    query = sa.select(seizures.c.client_id, seizures.c.seizure_id).where(
        seizures.c.client_id.in_(list(client_ids))
    )
    with workspace.engine.connect() as conn:
        return dict(conn.execute(query).tuples().all())

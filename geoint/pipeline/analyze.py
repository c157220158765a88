"""The one place that orders the stages: read → validate → de-duplicate → index → store;
then analysis: prepare tracks → detect events → store → cell analytics → alerts."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from geoint.alerts.store import raise_alerts
from geoint.errors import InputError
from geoint.ground import Ground
from geoint.h3index import latlng_to_cells
from geoint.ingest.readers import ReadResult, read_records
from geoint.ingest.validate import (
    Validated,
    duplicates_of_stored,
    duplicates_within,
    flag_spikes,
    validate_declarations,
    validate_pings,
    validate_seizures,
    validate_watchlist,
)
from geoint.schema import DUPLICATE_REASONS, PING_SCHEMA, EventType, IngestReport
from geoint.settings import GeointSettings
from geoint.store.workspace import Batch, PingPart, Workspace

if TYPE_CHECKING:
    from geoint.analytics.scoring import Activity

Progress = Callable[[str], None]
RECORD_KINDS = ("seizures", "watchlist", "declarations")
_RECORD_KEYS = {
    "seizures": ("seizure_id",),
    "watchlist": ("vehicle_id",),
    "declarations": ("vehicle_id", "corridor_id", "start"),
}


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
    _step(progress, "reading")
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
) -> IngestReport:
    """Ingest pings already read from a file or a request body named `name`."""
    with workspace.writer():
        prior = workspace.committed_batch(sha, "pings")
        if prior:
            return _already_ingested(workspace, prior, name)
        return _store_pings(
            workspace, read, name, sha, settings, now or datetime.now(UTC), progress
        )


def _store_pings(
    workspace: Workspace,
    read: ReadResult,
    name: str,
    sha: str,
    settings: GeointSettings,
    now: datetime,
    progress: Progress | None,
) -> IngestReport:
    started = time.perf_counter()
    _step(progress, "validating")
    validated = validate_pings(read.frame, name, settings.ingest, now)
    _step(progress, "de-duplicating")
    unique, repeated = _deduplicate_pings(workspace, validated.good)
    _step(progress, "indexing")
    pings = _prepare_pings(unique, settings)
    _step(progress, "storing")
    batch = workspace.begin_batch("pings", name, sha, ping_ids=pings.height)
    pings = pings.with_columns(
        (pl.int_range(pl.len(), dtype=pl.UInt64) + (batch.first_ping_id or 0)).alias("ping_id")
    ).select(list(PING_SCHEMA))
    parts = workspace.write_ping_parts(batch, pings)
    report = _report(read, name, "pings", validated, repeated, batch, pings.height)
    report.flagged_spikes = int(pings["spike"].sum())
    _commit(workspace, batch, report, read, validated, repeated, parts=parts)
    ingest = settings.ingest
    workspace.compact(ingest.compact_min_parts, ingest.compact_small_bytes, ingest.compact_grace_s)
    report.seconds = time.perf_counter() - started
    return report


def _deduplicate_pings(
    workspace: Workspace, good: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    keys, same = ("vehicle_id", "ts"), ("lat", "lon")
    raw = ("vehicle_id", "ts", "lat", "lon")
    unique, within = duplicates_within(good, keys, same, raw)
    if unique.height == 0:
        return unique, within
    first, last = unique["ts"].min(), unique["ts"].max()
    # the vehicles' pings only: merged parts are sorted by vehicle, so row groups are skipped
    vehicles = unique["vehicle_id"].unique().implode()
    stored = (
        workspace.scan_pings(first.date(), last.date())
        .select("vehicle_id", "ts", "lat", "lon")
        .filter(pl.col("ts").is_between(first, last), pl.col("vehicle_id").is_in(vehicles))
        .collect()
    )
    unique, against_store = duplicates_of_stored(unique, stored, keys, same, raw)
    return unique, pl.concat([within, against_store])


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
    return ingest_record_rows(workspace, kind, read, str(path), sha, settings, gazetteer, now)


def ingest_record_rows(
    workspace: Workspace,
    kind: str,
    read: ReadResult,
    name: str,
    sha: str,
    settings: GeointSettings,
    gazetteer: pl.DataFrame | None = None,
    now: datetime | None = None,
) -> IngestReport:
    """Ingest records already read from a file or a request body named `name`."""
    with workspace.writer():
        prior = workspace.committed_batch(sha, kind)
        if prior:
            return _already_ingested(workspace, prior, name)
        return _store_records(workspace, kind, read, name, sha, settings, gazetteer, now)


def _store_records(
    workspace: Workspace,
    kind: str,
    read: ReadResult,
    name: str,
    sha: str,
    settings: GeointSettings,
    gazetteer: pl.DataFrame | None,
    now: datetime | None,
) -> IngestReport:
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    if kind == "seizures":
        from geoint.ingest.gazetteer import GAZETTEER_SCHEMA

        places = gazetteer if gazetteer is not None else pl.DataFrame(schema=GAZETTEER_SCHEMA)
        validated = validate_seizures(read.frame, name, places, now)
    elif kind == "watchlist":
        validated = validate_watchlist(read.frame, name, now)
    else:
        validated = validate_declarations(read.frame, name, now)
    keys = _RECORD_KEYS[kind]
    values = [c for c in validated.good.columns if c not in (*keys, "_row")]
    raw = [c for c in validated.good.columns if c != "_row"]
    unique, within = duplicates_within(validated.good, keys, values, raw)
    unique, against_store = duplicates_of_stored(
        unique, workspace.read_table(kind), keys, values, raw
    )
    repeated = pl.concat([within, against_store])
    if kind == "seizures":
        cells = latlng_to_cells(
            unique["lat"].to_numpy(), unique["lon"].to_numpy(), settings.h3_resolution
        )
        unique = unique.with_columns(pl.Series("cell", cells.astype(np.int64)))
    batch = workspace.begin_batch(kind, name, sha)
    report = _report(read, name, kind, validated, repeated, batch, unique.height)
    _commit(workspace, batch, report, read, validated, repeated, records=unique.drop("_row"))
    report.seconds = time.perf_counter() - started
    return report


def _report(
    read: ReadResult,
    name: str,
    kind: str,
    validated: Validated,
    repeated: pl.DataFrame,
    batch: Batch,
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
        batch_id=str(batch.batch),
    )


def _commit(
    workspace: Workspace,
    batch: Batch,
    report: IngestReport,
    read: ReadResult,
    validated: Validated,
    repeated: pl.DataFrame,
    records: pl.DataFrame | None = None,
    parts: Sequence[PingPart] = (),
) -> None:
    counts = {
        "rows": report.rows,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "quarantined": report.quarantined,
        "flagged_spikes": report.flagged_spikes,
    }
    rows = pl.concat([read.rejected, validated.quarantined, repeated])
    workspace.commit_batch(batch, counts, rows, records, parts)


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


ANALYZED_PING_COLUMNS = ("ping_id", "vehicle_id", "ts", "lat", "lon", "cell")


def analyze(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Detect the track events of every stored ping, store them, then run the cell analytics.

    Reads the pings, transit declarations and watch list of the workspace; corridors, stop
    areas and every other layer are questions to `ground`. Ping batches committed while it
    ran (the API analyses them as they come) are analysed again incrementally at the end,
    as its stored events and cell tables replaced theirs. Report: ``pings``, ``vehicles``,
    ``events`` (count per type, every type listed), ``cells`` (`analyze_cells`), ``alerts``
    (`geoint.alerts.store.raise_alerts`), ``caught_up`` (those batches' incremental report, or
    None), ``seconds`` and ``stage_seconds``.
    """
    # imported here: the numba kernels load only for analysis, not for every ingest command
    from geoint.analytics.cells import keyed_vehicle_days
    from geoint.detect.events import events_from_tracks
    from geoint.detect.tracks import prepare_tracks

    started = time.perf_counter()
    stages: dict[str, float] = {}

    def lap(name: str) -> None:
        stages[name] = round(time.perf_counter() - started - sum(stages.values()), 3)

    _step(progress, "reading pings")
    seen = workspace.latest_ping_batch()  # later batches may or may not be in the read
    pings = workspace.scan_pings().select(ANALYZED_PING_COLUMNS).collect()
    declarations = workspace.read_table("declarations")
    watchlist = workspace.read_table("watchlist")
    lap("read")
    _step(progress, "preparing tracks")
    tracks = prepare_tracks(pings, ground, settings)
    count = pings.height
    del pings
    lap("tracks")
    _step(progress, "detecting events")
    events = events_from_tracks(tracks, ground, settings, declarations, watchlist)
    lap("events")
    _step(progress, "storing events")
    with workspace.writer():  # not in the middle of an incremental merge of the events
        workspace.write_events(events)
    lap("store")
    segments = tracks.pings.select("vehicle", "ts", "cell", "dt_s", "speed_kmh", "trip")
    per_vehicle = keyed_vehicle_days(segments, tracks.vehicle_ids, ground.timezone, settings)
    del segments
    with workspace.cells_writer():
        cells = analyze_cells(workspace, ground, settings, per_vehicle, events, progress)
    lap("cells")
    _step(progress, "raising alerts")
    alerts = raise_alerts(workspace, ground, settings, events)
    lap("alerts")
    caught_up = None
    if newer := workspace.ping_batches_after(seen):
        from geoint.pipeline.incremental import analyze_batches  # it builds on this module

        _step(progress, "analysing pings stored meanwhile")
        caught_up = analyze_batches(workspace, ground, settings, newer)
        lap("caught_up")
    by_type = dict(events.group_by("event_type").len().iter_rows())
    return {
        "pings": count,
        "vehicles": tracks.vehicle_ids.len(),
        "events": {str(kind): by_type.get(str(kind), 0) for kind in EventType},
        "events_total": events.height,
        "cells": cells,
        "alerts": alerts,
        "caught_up": caught_up,
        "seconds": round(time.perf_counter() - started, 3),
        "stage_seconds": stages,
    }


def analyze_cells(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    per_vehicle: pl.DataFrame | None = None,
    events: pl.DataFrame | None = None,
    progress: Progress | None = None,
    activity: Activity | None = None,
) -> dict[str, Any]:
    """Compute the cell analytics (SPEC §7) and write them under ``cells/``; return the report.

    `per_vehicle` (the vehicle-day table, `geoint.analytics.cells.keyed_vehicle_days`) and `events`
    default to those of the workspace's pings and stored events; the vehicle-day table is
    stored too. `activity`: its sums when known (`update_cells`), else they are computed.
    Tables and columns: docs/cells.md.
    """
    from geoint.analytics.cells import (
        pings_vehicle_days,
        static_context,
        write_table,
        write_vehicle_days,
    )
    from geoint.analytics.scoring import Activity, cell_tables

    started = time.perf_counter()
    if per_vehicle is None:
        _step(progress, "preparing pings for cells")
        pings = workspace.scan_pings().select(ANALYZED_PING_COLUMNS).collect()
        per_vehicle = pings_vehicle_days(pings, ground.timezone, settings)
    events = workspace.read_events() if events is None else events
    seizures = workspace.read_table("seizures").with_columns(pl.col("cell").cast(pl.UInt64))
    touched = [per_vehicle["cell"].unique(), events["cell"], seizures["cell"]]
    cells = np.unique(np.concatenate([c.cast(pl.UInt64).to_numpy() for c in touched]))
    _step(progress, "cell context")
    context = static_context(workspace, ground, cells)
    _step(progress, "cell analytics")
    if activity is None:
        activity = Activity.of(per_vehicle, settings.coarse_resolutions)
    tables = cell_tables(activity, events, seizures, context, settings)
    _step(progress, "storing cell tables")
    write_vehicle_days(workspace, per_vehicle)
    for name, frame in tables.named().items():
        write_table(workspace, name, frame)
    alert_p = settings.cells.anomaly_alert_p
    return {
        "cells": int(tables.days["cell"].n_unique()),
        "cell_days": tables.days.height,
        "vehicle_days": per_vehicle.height,
        "anomalous_cell_days": int((tables.days["anomaly_p"] <= alert_p).sum()),
        "hotspot_cell_days": int((tables.days["gi_bin"] > 0).sum()),
        "emerging": dict(sorted(tables.emerging.group_by("emerging").len().iter_rows())),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _step(progress: Progress | None, name: str) -> None:
    if progress:
        progress(name)

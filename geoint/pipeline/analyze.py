"""The full analysis, the one place that orders its stages: prepare tracks → detect events →
store → cell analytics → alerts, then catch up with batches stored meanwhile."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import polars as pl

from geoint.alerts.raising import raise_alerts
from geoint.errors import GeointError
from geoint.ground import Ground
from geoint.intel.profiles import raise_declaration_alerts
from geoint.pipeline.cells import analyze_cells
from geoint.pipeline.incremental import analyze_batches
from geoint.pipeline.partitions import (
    Engine,
    PartitionResult,
    Task,
    analyze_partition,
    combine,
    plan_partitions,
)
from geoint.pipeline.progress import Progress, step
from geoint.schema import EventType
from geoint.settings import GeointSettings
from geoint.store.cell_tables import VehicleDayParts
from geoint.store.workspace import PINGS_DIR, Workspace


def analyze(
    workspace: Workspace,
    ground: Ground,
    settings: GeointSettings,
    progress: Progress | None = None,
    partitions: int | None = None,
    engine: Engine | None = None,
    region: str | None = None,
    pings_url: str | None = None,
) -> dict[str, Any]:
    """Detect the track events of every stored ping, store them, then run the cell analytics.

    Vehicles are analysed by partitions (`geoint.pipeline.partitions`; `partitions` fixes
    their number): one after the other here, or as tasks of `engine` (e.g. on Dask workers,
    which build the ground from the `region` folder); results are identical either way.
    `pings_url`: the ping parts are read from this copy of the workspace's pings folder
    (e.g. ``s3://bucket/ws/pings``, credentials from the standard AWS environment), as
    workers on other hosts need.

    Reads the pings, transit declarations and watch list of the workspace; corridors, stop
    areas and every other layer are questions to `ground`. Ping batches committed while it
    ran (the API analyses them as they come) are analysed again incrementally at the end,
    as its stored events and cell tables replaced theirs. Report: ``pings``,
    ``pings_beyond_extent`` (left out of the cell analytics: `vehicle_days_within`), ``vehicles``,
    ``events`` (count per type, every type listed), ``cells`` (`analyze_cells`), ``alerts``
    (`geoint.alerts.store.raise_alerts`), ``caught_up`` (those batches' incremental report, or
    None), ``partitions``, ``partition_seconds``, ``seconds`` and ``stage_seconds``.
    """
    started = time.perf_counter()
    stages: dict[str, float] = {}

    def lap(name: str) -> None:
        stages[name] = round(time.perf_counter() - started - sum(stages.values()), 3)

    step(progress, "planning vehicle partitions")
    seen = workspace.latest_ping_batch()  # later batches may or may not be in the read
    files = ping_files_at(workspace, pings_url)
    with _parts_named(workspace):
        plan = plan_partitions(files, settings, count=partitions)
    declarations = workspace.read_table("declarations")
    watchlist = workspace.read_table("watchlist")
    here = None if engine is not None else ground  # workers build theirs from `region`
    tasks = [
        Task(plan, part, settings, declarations, watchlist, region=region, ground=here)
        for part in plan.partitions
    ]
    lap("plan")
    step(progress, f"tracks and events of {len(tasks)} vehicle partition(s)")
    with VehicleDayParts(workspace.root) as days:
        threads = settings.analysis.threads
        results = engine(tasks) if engine is not None else _local(workspace, tasks, threads)
        combined = combine(results, ground, settings, days.add)
        events = combined.events
        lap("partitions")
        step(progress, "storing events")
        with workspace.events_writer():  # not in the middle of an incremental merge of the events
            workspace.write_events(events)
            workspace.set_events_snapshot(seen)
        lap("store")
        with workspace.cells_writer():
            days.store()
            cells = analyze_cells(
                workspace,
                ground,
                settings,
                None,
                events,
                progress,
                activity=combined.activity,
                stored_vehicle_days=days.rows,
            )
    lap("cells")
    step(progress, "raising alerts")
    alerts = raise_alerts(workspace, ground, settings, events)
    alerts["declarations"] = raise_declaration_alerts(workspace, ground, settings)
    workspace.analysed(through=seen)  # every batch in the read is analysed now
    lap("alerts")
    caught_up = None
    if newer := workspace.ping_batches_after(seen):
        step(progress, "analysing pings stored meanwhile")
        caught_up = analyze_batches(workspace, ground, settings, newer)
        lap("caught_up")
    by_type = dict(events.group_by("event_type").len().iter_rows())
    return {
        "pings": combined.pings,
        "pings_beyond_extent": combined.beyond,
        "vehicles": combined.vehicles,
        "partitions": len(tasks),
        "partition_seconds": combined.partition_seconds,
        "events": {str(kind): by_type.get(str(kind), 0) for kind in EventType},
        "events_total": events.height,
        "cells": cells,
        "alerts": alerts,
        "caught_up": caught_up,
        "seconds": round(time.perf_counter() - started, 3),
        "stage_seconds": stages,
    }


def ping_files_at(workspace: Workspace, url: str | None) -> list[str]:
    """Return the committed ping parts, or their copies under `url` (an fsspec URL of the
    workspace's pings folder), each of which must be there."""
    parts = workspace.ping_files()
    if url is None:
        return [str(path) for path in parts]
    import fsspec

    folder = workspace.root / PINGS_DIR
    names = [path.relative_to(folder).as_posix() for path in parts]
    try:
        system, base = fsspec.core.url_to_fs(url)
        base = base.rstrip("/")
        found = set(system.find(base))  # one listing, not one request per part
    except (ImportError, ValueError, OSError) as exc:
        raise GeointError(f"--pings-url {url}: cannot list it ({exc})") from None
    missing = [name for name in names if f"{base}/{name}" not in found]
    if missing:
        raise GeointError(
            f"--pings-url {url}: {len(missing)} of {len(names)} ping parts are missing there "
            f"(first: {missing[0]}); copy the workspace's pings folder first "
            f"(e.g. aws s3 sync {folder} {url})"
        )
    return [f"{url.rstrip('/')}/{name}" for name in names]


def _local(workspace: Workspace, tasks: list[Task], threads: int) -> Iterator[PartitionResult]:
    """Run the partitions here, `threads` at once, yielding their results in task order.

    At most `threads` partitions are started ahead of the one being yielded, so memory holds
    that many partitions' pings, never all of them.
    """
    with ThreadPoolExecutor(max_workers=threads) as pool:
        running: deque[Future[PartitionResult]] = deque()
        for task in tasks:
            running.append(pool.submit(analyze_partition, task))
            if len(running) >= threads:
                yield _result(workspace, running.popleft())
        while running:
            yield _result(workspace, running.popleft())


def _result(workspace: Workspace, future: Future[PartitionResult]) -> PartitionResult:
    with _parts_named(workspace):
        return future.result()


@contextmanager
def _parts_named(workspace: Workspace) -> Iterator[None]:
    """Turn a reader's error on an unreadable ping part into one naming the part."""
    try:
        yield
    except (pl.exceptions.PolarsError, OSError) as exc:
        bad = workspace.unreadable_parts(full=False)
        if not bad:
            raise
        raise workspace.corrupt_error(bad) from exc

"""The full analysis, the one place that orders its stages: prepare tracks → detect events →
store → cell analytics → alerts, then catch up with batches stored meanwhile."""

from __future__ import annotations

import time
from typing import Any

from geoint.alerts.raising import raise_alerts
from geoint.analytics.cells import keyed_vehicle_days
from geoint.detect.events import events_from_tracks
from geoint.detect.tracks import prepare_tracks
from geoint.ground import Ground
from geoint.intel.profiles import raise_declaration_alerts
from geoint.pipeline.cells import ANALYZED_PING_COLUMNS, analyze_cells
from geoint.pipeline.incremental import analyze_batches
from geoint.pipeline.progress import Progress, step
from geoint.schema import EventType
from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace


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
    started = time.perf_counter()
    stages: dict[str, float] = {}

    def lap(name: str) -> None:
        stages[name] = round(time.perf_counter() - started - sum(stages.values()), 3)

    step(progress, "reading pings")
    seen = workspace.latest_ping_batch()  # later batches may or may not be in the read
    pings = workspace.read_pings(workspace.scan_pings().select(ANALYZED_PING_COLUMNS))
    declarations = workspace.read_table("declarations")
    watchlist = workspace.read_table("watchlist")
    lap("read")
    step(progress, "preparing tracks")
    tracks = prepare_tracks(pings, ground, settings)
    count = pings.height
    del pings
    lap("tracks")
    step(progress, "detecting events")
    events = events_from_tracks(tracks, ground, settings, declarations, watchlist)
    lap("events")
    step(progress, "storing events")
    with workspace.events_writer():  # not in the middle of an incremental merge of the events
        workspace.write_events(events)
        workspace.set_events_snapshot(seen)
    lap("store")
    segments = tracks.pings.select("vehicle", "ts", "cell", "dt_s", "speed_kmh", "trip")
    per_vehicle = keyed_vehicle_days(segments, tracks.vehicle_ids, ground.timezone, settings)
    del segments
    with workspace.cells_writer():
        cells = analyze_cells(workspace, ground, settings, per_vehicle, events, progress)
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

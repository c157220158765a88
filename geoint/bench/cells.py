"""Cell analytics benchmark: 10 M pings over 12 weeks at resolution 8, Gi* against esda.

The workload is `geoint.bench.ingest.synthetic_pings` (random walks at 30 s over 84 days) plus
synthetic events (one per ~100 pings, at pings' places and times, types drawn at random) and
seizures. The static context is computed once per region and cached, so it is timed apart.
The baseline is ``esda.G_Local`` on one daily window, measured in the same run, against
`geoint.analytics.hotspots.gi_windows` (sparse products and the BH correction) on every window.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import polars as pl

from geoint.analytics.cells import segment_pings
from geoint.analytics.hotspots import dense, gi_windows, ring_weights
from geoint.analytics.scoring import cell_analytics
from geoint.bench.events import PeakMemory
from geoint.bench.ingest import synthetic_pings
from geoint.ground import Ground
from geoint.h3index import latlng_to_cells
from geoint.schema import COMMODITIES, EventType
from geoint.settings import GeointSettings

Log = Callable[[str], None] | None


def synthetic_events(pings: pl.DataFrame, count: int, seed: int = 0) -> pl.DataFrame:
    """Return `count` events (event_type, start, end, lat, lon, cell) at random pings."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(pings.height, count, replace=False))
    types = np.array([str(kind) for kind in EventType])
    chosen = pings[pick]
    return chosen.select(
        pl.Series("event_type", types[rng.integers(0, len(types), count)]),
        pl.col("ts").alias("start"),
        pl.col("ts").alias("end"),
        "lat",
        "lon",
        "cell",
    )


def synthetic_seizures(pings: pl.DataFrame, count: int, seed: int = 0) -> pl.DataFrame:
    """Return `count` seizures (ts, lat, lon, cell, commodity) at random pings."""
    rng = np.random.default_rng(seed + 1)
    chosen = pings[np.sort(rng.choice(pings.height, count, replace=False))]
    return chosen.select(
        "ts",
        "lat",
        "lon",
        pl.col("cell").cast(pl.Int64),
        pl.Series("commodity", np.array(COMMODITIES)[rng.integers(0, len(COMMODITIES), count)]),
    )


def run_cells_benchmark(ground: Ground, pings_count: int, log: Log = None) -> dict:
    """Time every cell analytic on `pings_count` synthetic pings; Gi* against esda."""
    import esda
    from libpysal.weights import WSP

    say = log or (lambda _text: None)
    settings = GeointSettings()
    say(f"generating {pings_count:,} synthetic pings over 84 days")
    pings = synthetic_pings(pings_count).with_row_index("ping_id")
    cells = latlng_to_cells(pings["lat"].to_numpy(), pings["lon"].to_numpy(), 8)
    pings = pings.with_columns(pl.Series("cell", cells, dtype=pl.UInt64))
    events = synthetic_events(pings, pings_count // 100)
    seizures = synthetic_seizures(pings, 2_000)

    say("preparing segments (order, spikes, speeds)")
    started = time.perf_counter()
    segments = segment_pings(pings, settings)
    segment_s = time.perf_counter() - started
    distinct = np.unique(segments["cell"].to_numpy())
    del pings

    say(f"static context of {len(distinct):,} cells (once per region, then cached)")
    started = time.perf_counter()
    context = ground.cell_context(distinct)
    context_s = time.perf_counter() - started

    say("cell analytics: activity, anomaly, Gi* (days and weeks), emerging, seizures, risk")
    with PeakMemory() as memory:
        started = time.perf_counter()
        tables = cell_analytics(segments, events, seizures, context, ground.timezone, settings)
        analytics_s = time.perf_counter() - started

    say("Gi*: sparse product on every daily window (with BH) against esda.G_Local on one")
    study = np.unique(tables.days["cell"].to_numpy())
    weights = ring_weights(study, settings.cells.gi_k, include_self=True)
    started = time.perf_counter()
    gi = gi_windows(tables.days, study, weights)
    sparse_s = time.perf_counter() - started
    dates = gi.dates
    busiest = int(np.argmax(dense(tables.days, study, "severity")[0].sum(axis=0)))
    values = dense(tables.days.filter(pl.col("date") == dates[busiest]), study, "severity")[0]
    w = WSP(weights).to_W(silence_warnings=True)
    started = time.perf_counter()
    reference = esda.G_Local(values[:, 0], w, transform="B", star=True, permutations=0)
    esda_s = time.perf_counter() - started
    mine = gi.z(np.arange(len(study)), np.full(len(study), busiest))
    difference = float(np.max(np.abs(reference.Zs - mine)))

    result = {
        "pings": pings_count,
        "cells": len(study),
        "days": len(dates),
        "cell_days": tables.days.height,
        "segments_seconds": round(segment_s, 3),
        "context_seconds_uncached": round(context_s, 3),
        "cell_analytics_seconds": round(analytics_s, 3),
        "cell_analytics_peak_gb": round(memory.peak_bytes / 1e9, 2),
        "total_seconds_context_cached": round(segment_s + analytics_s, 3),
        "gi_sparse_all_windows_seconds": round(sparse_s, 4),
        "gi_esda_one_window_seconds": round(esda_s, 4),
        "gi_max_abs_difference": difference,
    }
    say(
        f"{pings_count:,} pings, {len(study):,} cells x {len(dates)} days: segments "
        f"{segment_s:.2f} s + cell analytics {analytics_s:.2f} s (context, cached per region: "
        f"{context_s:.2f} s uncached); Gi* on all {len(dates)} windows {sparse_s:.3f} s vs esda "
        f"on one {esda_s:.3f} s (max |Δz| {difference:.1e})"
    )
    return result

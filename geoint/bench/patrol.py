"""`geoint bench patrol`: a 3-team, 8-hour plan over a region, and its unpredictability.

The figure is the time to build the travel graph and plan one shift (target ≤ 10 s). Ten seeded
shifts then measure how often their targets repeat those of the deterministic plan and of the
previous shift, and how much risk they give up for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock

import numpy as np
import polars as pl

from geoint.h3index import cell_centres
from geoint.patrol.plan import PatrolPlan, PatrolRequest, TravelGraph, plan_patrol
from geoint.settings import PatrolSettings


def run_patrol_benchmark(
    build_graph: Callable[[], TravelGraph],
    risk: pl.DataFrame,
    emerging: pl.DataFrame | None,
    request: PatrolRequest,
    settings: PatrolSettings,
    shifts: int = 10,
    log: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Time the graph and one plan, then compare `shifts` seeded plans with it."""
    began = time.perf_counter()
    graph = build_graph()
    graph_s = time.perf_counter() - began
    plan = plan_patrol(graph, risk, emerging, request, settings)
    total_s = time.perf_counter() - began
    if log:
        log(f"graph {graph_s:.2f} s, plan {total_s - graph_s:.2f} s; {shifts} seeded shifts")
    fixed = _targets(plan)
    repeats, between, kept = [], [], []
    previous: set[int] | None = None
    for seed in range(shifts):
        seeded = plan_patrol(graph, risk, emerging, replace(request, seed=seed), settings)
        cells = _targets(seeded)
        repeats.append(len(cells & fixed) / max(len(cells), 1))
        if previous is not None:
            between.append(len(cells & previous) / max(len(cells), 1))
        kept.append(seeded.collected_risk / max(plan.collected_risk, 1e-9))
        previous = cells
    return {
        "teams": request.teams,
        "hours": request.hours,
        "seconds": round(total_s, 3),
        "graph_seconds": round(graph_s, 3),
        "plan_seconds": round(total_s - graph_s, 3),
        "target_seconds": 10,
        "graph_cells": len(graph.cells),
        "graph_edges": len(graph.src) // 2,
        "candidates": plan.targets.height,
        "waypoints": len(fixed),
        "collected_risk": round(plan.collected_risk, 3),
        "greedy_collected_risk": round(plan.greedy_collected_risk, 3),
        "ratio_vs_greedy": round(plan.collected_risk / max(plan.greedy_collected_risk, 1e-9), 3),
        "unpredictable": {
            "shifts": shifts,
            "repeat_share_vs_deterministic": round(float(np.mean(repeats)), 3),
            "repeat_share_vs_previous_shift": round(float(np.mean(between)), 3)
            if between
            else None,
            "collected_vs_deterministic_mean": round(float(np.mean(kept)), 3),
            "collected_vs_deterministic_min": round(float(np.min(kept)), 3),
        },
    }


def default_start(risk: pl.DataFrame) -> datetime:
    """18:00 UTC on the day before the last risk day (the last day is often partial)."""
    return datetime.combine(risk["date"].max() - timedelta(days=1), clock(18), UTC)


def nearest_to_risk(
    risk: pl.DataFrame, start: datetime, lat: np.ndarray, lon: np.ndarray
) -> tuple[float, float]:
    """The (lat, lon) among the given points (crossings) nearest the shift's riskiest cell."""
    day = risk.filter(pl.col("date") <= start.date())
    top = day.filter(pl.col("date") == day["date"].max()).sort("risk")["cell"][-1:]
    cell_lat, cell_lon = cell_centres(top.to_numpy())
    scale = np.cos(np.radians(cell_lat[0]))
    nearest = int(np.argmin(np.hypot((lon - cell_lon[0]) * scale, lat - cell_lat[0])))
    return float(lat[nearest]), float(lon[nearest])


def _targets(plan: PatrolPlan) -> set[int]:
    return {stop.cell for team in plan.teams for stop in team.stops}

"""`geoint bench detection`: recall and precision per event type under each signal profile.

For every border and profile a scenario is generated (`geoint simulate --signal`), its pings,
watch list and declarations are ingested into a fresh workspace in the order the devices
delivered them, `geoint analyze` runs, and the stored events are scored against the planted
behaviour (`geoint evaluate`). The clean profile is the baseline of the same run.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from geoint.layers import Region, RegionIndex
from geoint.pipeline.analyze import analyze
from geoint.pipeline.ingest import ingest_pings, ingest_records
from geoint.settings import GeointSettings
from geoint.sim.evaluate import evaluate_workspace
from geoint.sim.scenery import Geography
from geoint.sim.signal import PROFILES
from geoint.sim.simulate import SimulationOptions, simulate
from geoint.sim.synthetic_layers import add_synthetic_layers
from geoint.store.workspace import Workspace

Log = Callable[[str], None] | None


def run_detection_benchmark(
    regions: Sequence[Region],
    profiles: Sequence[str] = tuple(PROFILES),
    seed: int = 5,
    vehicles: int = 150,
    days: int = 3,
    log: Log = None,
) -> dict:
    """Score detection per border, profile and event type; return the figures and the bar."""
    say = log or (lambda _text: None)
    settings = GeointSettings()
    runs = []
    for region in regions:
        add_synthetic_layers(region, seed)
        index, geography = RegionIndex(region), Geography.of(region)
        for signal in profiles:
            say(f"{region.name}: {signal} signal, seed {seed}")
            options = SimulationOptions(seed, vehicles, days, signal=signal)
            scenario = simulate(index, geography, options, settings)
            with tempfile.TemporaryDirectory(prefix="geoint-bench-") as tmp:
                started = time.perf_counter()
                report, ingest = _analysed(scenario, index, Path(tmp))
                seconds = time.perf_counter() - started
            runs.append(
                {
                    "region": region.name,
                    "signal": signal,
                    "pings": scenario.pings.height,
                    "duplicates": ingest,
                    "truth_events": scenario.truth.height,
                    "analyse_s": round(seconds, 1),
                    "events": report["events"],
                }
            )
    return {"seed": seed, "vehicles": vehicles, "days": days, "runs": runs, "bar": _bar(runs)}


def _analysed(scenario, index: RegionIndex, tmp: Path) -> tuple[dict, int]:
    """Ingest a written scenario into a workspace under `tmp`, analyse and evaluate it."""
    paths = scenario.write(tmp / "scenario")
    settings = GeointSettings(workspace=tmp / "ws")
    workspace = Workspace(settings.workspace)
    try:
        pings = ingest_pings(workspace, paths["pings.parquet"], settings)
        for kind in ("watchlist", "declarations"):
            ingest_records(workspace, kind, paths[f"{kind}.csv"], settings)
        analyze(workspace, index, settings)
        return evaluate_workspace(workspace, paths["truth.csv"]), pings.duplicates
    finally:
        workspace.engine.dispose()


def _bar(runs: list[dict]) -> dict:
    """Return the types under recall 0.95 or precision 0.9, per border and profile."""
    failing = {}
    for run in runs:
        low = {
            kind: {"recall": s["recall"], "precision": s["precision"]}
            for kind, s in run["events"].items()
            if s["truth"] and ((s["recall"] or 0) < 0.95 or (s["precision"] or 0) < 0.9)
        }
        if low:
            failing[f"{run['region']}/{run['signal']}"] = low
    return {"recall": 0.95, "precision": 0.9, "failing": failing}

"""The demo: the committed sample scenario ingested, analysed and scored in a workspace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from geoint.pipeline.ingest import ingest_pings, ingest_records
from geoint.schema import IngestReport
from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace

SAMPLES = Path(__file__).resolve().parents[2] / "sample_tracks"
SCENARIO = "scenario"

# (kind, file relative to the scenario folder): the outputs of `geoint simulate`
SCENARIO_INPUTS: tuple[tuple[str, str], ...] = (
    ("pings", "pings.parquet"),
    ("seizures", "seizures.csv"),
    ("watchlist", "watchlist.csv"),
    ("declarations", "declarations.csv"),
)


def ingest_scenario(
    workspace: Workspace,
    settings: GeointSettings,
    gazetteer: pl.DataFrame,
    scenario: Path,
    log: Callable[[str], None] | None = None,
) -> list[IngestReport]:
    """Ingest every file of a generated scenario into `workspace`; return the reports."""
    reports = []
    for kind, name in SCENARIO_INPUTS:
        if log:
            log(f"ingesting {kind} from {scenario / name}")
        path = scenario / name
        if kind == "pings":
            reports.append(ingest_pings(workspace, path, settings))
        else:
            reports.append(ingest_records(workspace, kind, path, settings, gazetteer=gazetteer))
    return reports

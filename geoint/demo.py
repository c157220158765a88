"""The demo's sample inputs and their ingest into a workspace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from geoint.pipeline import ingest_pings, ingest_records
from geoint.schema import IngestReport
from geoint.settings import GeointSettings
from geoint.store import Workspace

SAMPLES = Path(__file__).resolve().parents[1] / "sample_tracks"

# (kind, file relative to sample_tracks, column mapping)
SAMPLE_INPUTS: tuple[tuple[str, str, dict[str, str]], ...] = (
    (
        "pings",
        "real/liverpool_bus_route14_outbound.csv",
        {"lat": "latitude", "lon": "longitude", "ts": "timestamp", "heading": "bearing"},
    ),
    ("pings", "real/osm_traces.gpx", {}),
    (
        "seizures",
        "real/asam_benin_nigeria.csv",
        {"seizure_id": "reference", "date": "date", "position": "position"},
    ),
    ("seizures", "seizures_example.csv", {}),
)


def ingest_samples(
    workspace: Workspace,
    settings: GeointSettings,
    gazetteer: pl.DataFrame,
    samples: Path = SAMPLES,
    log: Callable[[str], None] | None = None,
) -> list[IngestReport]:
    """Ingest every sample input into `workspace` and return the ingest reports."""
    reports = []
    for kind, name, mapping in SAMPLE_INPUTS:
        if log:
            log(f"ingesting {kind} from {name}")
        path = samples / name
        if kind == "pings":
            report = ingest_pings(workspace, path, settings, column_map=mapping)
        else:
            report = ingest_records(
                workspace, kind, path, settings, gazetteer=gazetteer, column_map=mapping
            )
        reports.append(report)
    return reports

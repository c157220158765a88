"""Workspaces with a scenario ingested, and every stored output of an analysis, to compare."""

from pathlib import Path

import polars as pl

from geoint.cli.demo import ingest_scenario
from geoint.layers import Region
from geoint.layers.gazetteer import build_gazetteer
from geoint.settings import GeointSettings
from geoint.store.cell_tables import cells_folder
from geoint.store.workspace import Workspace

SAMPLE = Path(__file__).resolve().parents[2] / "sample_tracks" / "scenario"


def ingested(region: Region, scenario: Path, folder: Path) -> Path:
    """Ingest every input of a generated scenario into a new workspace `folder`."""
    settings = GeointSettings(workspace=folder)
    reports = ingest_scenario(Workspace(folder), settings, build_gazetteer(region), scenario)
    assert all(r.quarantined == 0 for r in reports)
    return folder


def stored_outputs(folder: Path) -> dict[str, pl.DataFrame]:
    """Every cell table (the vehicle-day table in a fixed order) and the events."""
    tables = {p.stem: pl.read_parquet(p) for p in sorted(cells_folder(folder).glob("*.parquet"))}
    tables["vehicle_days"] = (
        tables["vehicle_days"]
        .with_columns(pl.col("vehicle_id").cast(pl.String))
        .sort("cell", "date", "vehicle_id")
    )
    tables["events"] = Workspace(folder).read_events()
    return tables


def assert_same_outputs(got: dict[str, pl.DataFrame], expected: dict[str, pl.DataFrame]) -> None:
    """The same tables, value for value (no tolerance), naming the first that differs."""
    from polars.testing import assert_frame_equal

    assert sorted(got) == sorted(expected)
    for name, frame in expected.items():
        try:
            assert_frame_equal(got[name], frame, check_exact=True)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None

"""The cell tables of the workspace: ``cells/<name>.parquet`` (columns in docs/cells.md).

Written atomically by the analyses (full and incremental), read by alerts, the patrol planner,
the served heatmaps and the map. This module is the only one that knows their paths.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import polars as pl

from geoint.atomic import read_parquet, replacing, write_parquet
from geoint.errors import WorkspaceError

CELLS_DIR = "cells"
CONTEXT = "context"  # the static cell context, cached per region
VEHICLE_DAYS = "vehicle_days"  # the incremental update's input
EMERGING = "emerging"
RISK = "risk"


def cells_folder(root: Path) -> Path:
    """Return the folder of the cell tables in the workspace folder `root`."""
    return Path(root) / CELLS_DIR


def cell_table_path(root: Path, name: str) -> Path:
    """Return the path of the cell table `name` in the workspace folder `root`."""
    return cells_folder(root) / f"{name}.parquet"


def write_table(root: Path, name: str, frame: pl.DataFrame) -> Path:
    """Write the cell table `name` atomically; return its path."""
    return write_parquet(frame, cell_table_path(root, name), compression="lz4")


def read_table(root: Path, name: str) -> pl.DataFrame:
    """Return the cell table `name`; an error says to run the analysis when it is missing."""
    target = cell_table_path(root, name)
    if not target.is_file():
        raise WorkspaceError(f"{target}: no cell table; run 'geoint analyze' first")
    return read_parquet(target)


def read_optional_table(root: Path, name: str) -> pl.DataFrame | None:
    """Return the cell table `name`, or None before an analysis has written it."""
    target = cell_table_path(root, name)
    return read_parquet(target) if target.is_file() else None


def write_vehicle_days(root: Path, per_vehicle: pl.DataFrame) -> Path:
    """Store a vehicle-day table (`geoint.analytics.cells.keyed_vehicle_days`).

    ``vehicle_id`` is written dictionary-encoded (Categorical): it reads and writes faster.
    """
    stored = per_vehicle.with_columns(pl.col("vehicle").cast(pl.Categorical))
    return write_table(root, VEHICLE_DAYS, stored.rename({"vehicle": "vehicle_id"}))


class VehicleDayParts:
    """A vehicle-day table gathered part by part (vehicle-disjoint partitions) in a temporary
    folder beside the cell tables, then stored whole by `store`, streamed without holding it
    in memory; the folder is removed on exit."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.parts: list[Path] = []
        self.rows = 0
        self._folder: Path | None = None

    def __enter__(self) -> VehicleDayParts:
        cells_folder(self.root).mkdir(parents=True, exist_ok=True)
        self._folder = Path(tempfile.mkdtemp(prefix=".vehicle-days-", dir=cells_folder(self.root)))
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def add(self, per_vehicle: pl.DataFrame) -> None:
        """Keep one part (`geoint.analytics.cells.keyed_vehicle_days`, ``vehicle`` the id)."""
        assert self._folder is not None, "use VehicleDayParts as a context manager"
        part = self._folder / f"part-{len(self.parts):06d}.parquet"
        per_vehicle.with_columns(pl.col("vehicle").cast(pl.String)).write_parquet(part)
        self.parts.append(part)
        self.rows += per_vehicle.height

    def store(self) -> Path:
        """Write the parts as the stored vehicle-day table, atomically; return its path."""
        target = cell_table_path(self.root, VEHICLE_DAYS)
        with replacing(target) as tmp:
            pl.scan_parquet(self.parts).rename({"vehicle": "vehicle_id"}).with_columns(
                pl.col("vehicle_id").cast(pl.Categorical)
            ).sink_parquet(tmp, compression="lz4")
        return target


def read_vehicle_days(root: Path) -> pl.DataFrame | None:
    """Return the stored vehicle-day table (``vehicle`` the id), None before any analysis."""
    frame = read_optional_table(root, VEHICLE_DAYS)
    if frame is None:
        return None
    frame = frame.rename({"vehicle_id": "vehicle"})
    return frame.with_columns(pl.col("vehicle").cast(pl.Categorical))

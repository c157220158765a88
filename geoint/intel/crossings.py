"""The official crossing each seizure was made at or near, kept beside the seizures.

A seizure belongs to the nearest crossing of the region within `radius_m` (none beyond it).
Rows are written for seizures not yet located and rewritten when the crossings layer changes
(its fingerprint is stored with each row), so the filter and the trends by crossing stay in SQL.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np
import polars as pl
import shapely
import sqlalchemy as sa

from geoint.layers import RegionIndex
from geoint.store.tables import seizure_crossings, seizures
from geoint.store.workspace import Workspace


def crossings_fingerprint(index: RegionIndex, radius_m: float) -> str:
    """A short digest of the crossings' names and positions and of the radius."""
    crossings = index.crossings
    digest = hashlib.sha256(f"{radius_m!r}".encode())
    digest.update("\x00".join(crossings["name"].astype(str)).encode())
    digest.update(
        shapely.to_wkb(crossings.geometry.to_numpy()).tobytes() if len(crossings) else b""
    )
    return digest.hexdigest()[:16]


def locate_seizures(workspace: Workspace, index: RegionIndex, radius_m: float) -> int:
    """Store the crossing of every seizure not located against these crossings; return how
    many were (re)located."""
    fingerprint = crossings_fingerprint(index, radius_m)
    located = sa.select(seizure_crossings.c.seizure_id).where(
        seizure_crossings.c.region == fingerprint
    )
    pending = sa.select(seizures.c.seizure_id, seizures.c.lat, seizures.c.lon).where(
        seizures.c.seizure_id.not_in(located)
    )
    with workspace.engine.connect() as conn:
        rows = conn.execute(pending).all()
    if not rows:
        return 0
    frame = pl.DataFrame(
        rows, schema={"seizure_id": pl.String, "lat": pl.Float64, "lon": pl.Float64}, orient="row"
    )
    metres, row = index.nearest_crossing(frame["lat"].to_numpy(), frame["lon"].to_numpy(), radius_m)
    # row -1 (none within the radius) picks the None appended last
    names = np.append(index.crossings["name"].astype(str).to_numpy(dtype=object), None)
    found = row >= 0
    records = pl.DataFrame(
        {
            "seizure_id": frame["seizure_id"],
            "crossing": pl.Series(names[row].tolist(), dtype=pl.String),
            "distance_m": np.where(found, metres, np.nan),
            "region": [fingerprint] * frame.height,
        }
    ).with_columns(pl.col("distance_m").fill_nan(None))
    ids = frame["seizure_id"].to_list()
    with workspace.engine.begin() as conn:
        conn.execute(seizure_crossings.delete().where(seizure_crossings.c.seizure_id.in_(ids)))
        conn.execute(seizure_crossings.insert(), records.to_dicts())
    return frame.height


class SeizureLocator:
    """Locates new seizures before a query that needs their crossing: once per table version
    (a batch adds seizures, a placing moves one), one caller at a time."""

    def __init__(self, index: RegionIndex, radius_m: float) -> None:
        self._index = index
        self._radius_m = radius_m
        self._seen: tuple[int, int | None, int] | None = None
        self._lock = threading.Lock()

    def update(self, workspace: Workspace) -> None:
        """Locate the seizures added since the last call."""
        with self._lock:
            version = workspace.table_version("seizures")
            if version != self._seen:
                locate_seizures(workspace, self._index, self._radius_m)
                self._seen = version

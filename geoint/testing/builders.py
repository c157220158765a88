"""Builders for hand-made inputs with known answers (used by the tests and by other tools)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from geoint.schema import ROW_NUMBER


def make_track(
    vehicle_id: str,
    start: datetime,
    points: Sequence[tuple[float, float]],
    interval_s: float = 60.0,
) -> pl.DataFrame:
    """Return pings (vehicle_id, ts, lat, lon) visiting `points` (lat, lon) every `interval_s`."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return pl.DataFrame(
        {
            "vehicle_id": [vehicle_id] * len(points),
            "ts": [start + timedelta(seconds=interval_s * i) for i in range(len(points))],
            "lat": [p[0] for p in points],
            "lon": [p[1] for p in points],
        },
        schema={
            "vehicle_id": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "lat": pl.Float64,
            "lon": pl.Float64,
        },
    )


def raw_rows(rows: Iterable[dict[str, object]]) -> pl.DataFrame:
    """Return a reader-like frame (``_row`` then string columns) from dicts, as a CSV gives."""
    rows = list(rows)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    data = {c: [None if row.get(c) is None else str(row[c]) for row in rows] for c in columns}
    frame = pl.DataFrame(data, schema={c: pl.String for c in columns})
    return frame.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ROW_NUMBER)
    ).select(ROW_NUMBER, *columns)


def write_csv(rows: Iterable[dict[str, object]], path: Path) -> Path:
    """Write dicts as a CSV file (columns in first-seen order) and return its path."""
    rows = list(rows)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def iso(moment: datetime) -> str:
    """Return an ISO 8601 UTC text ending in Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

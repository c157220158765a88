"""Exports of stored events: CSV and GeoJSON with the columns of SPEC §12.

Cells go out as canonical hex strings, text that a spreadsheet would run as a formula is
prefixed with ``'`` in CSV, times as ISO 8601 UTC text, non-finite distances (a
region without crossings) as empty values / JSON null; GeoJSON points are [lon, lat].
"""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl

from geoint.atomic import replacing, write_bytes
from geoint.h3index import cells_to_hex
from geoint.schema import EVENT_EXPORT_COLUMNS

EXPORT_FORMATS = ("csv", "geojson")
ISO_UTC = "%Y-%m-%dT%H:%M:%S%.fZ"


def export_frame(events: pl.DataFrame) -> pl.DataFrame:
    """Return `events` (EVENT_SCHEMA) as EVENT_EXPORT_COLUMNS text-ready columns."""
    finite = [
        pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c)
        for c in ("distance_to_border_m", "distance_to_crossing_m")
    ]
    return events.with_columns(
        pl.Series("cell", cells_to_hex(events["cell"].to_numpy()), dtype=pl.String),
        pl.col("start").dt.to_string(ISO_UTC),
        pl.col("end").dt.to_string(ISO_UTC),
        *finite,
    ).select(EVENT_EXPORT_COLUMNS)


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with text cells that a spreadsheet would run as a formula (starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return: a vehicle id ``=HYPERLINK(...)``) prefixed
    with ``'``, which spreadsheets show as text (OWASP's CSV injection advice)."""
    formula = r"^[=+\-@\t\r]"
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(formula))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )


def export_events(events: pl.DataFrame, path: Path, fmt: str) -> int:
    """Write `events` to `path` as ``csv`` or ``geojson`` atomically; return the row count."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    path = Path(path)
    rows = export_frame(events)
    if fmt == "csv":
        with replacing(path) as tmp:
            spreadsheet_safe(rows).write_csv(tmp)
    else:
        features = [
            {
                "type": "Feature",
                "id": row["event_id"],
                "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                "properties": row,
            }
            for row in rows.iter_rows(named=True)
        ]
        write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}), path)
    return rows.height

"""Exports of stored events, alerts and seizures: CSV, GeoJSON and KML (SPEC §12).

Cells go out as canonical hex strings, text that a spreadsheet would run as a formula is
prefixed with ``'`` in CSV, times as ISO 8601 UTC text, non-finite distances (a region without
crossings) as empty values / JSON null, lists (an alert's vehicles) as comma-separated text in
CSV; GeoJSON points are [lon, lat]; KML is styled by event type, CAP severity or commodity
(`geoint.serve.kml`).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl

from geoint.atomic import replacing, write_bytes
from geoint.h3index import cells_to_hex
from geoint.schema import EVENT_EXPORT_COLUMNS
from geoint.serve.kml import ALERTS, EVENTS, SEIZURES, KmlLayout, write_kml

EXPORT_FORMATS = ("csv", "geojson", "kml")
ISO_UTC = "%Y-%m-%dT%H:%M:%S%.fZ"
LAYOUTS = {"events": EVENTS, "alerts": ALERTS, "seizures": SEIZURES}


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
    """Write `events` to `path` as ``csv``, ``geojson`` or ``kml`` atomically; return the row
    count."""
    return export_points(export_frame(events), path, fmt, EVENTS)


def export_records(frame: pl.DataFrame, path: Path, fmt: str, kind: str) -> int:
    """Write stored alerts or seizures (``kind``) to `path` in `fmt`; return the row count."""
    if "cell" in frame.columns and frame.schema["cell"].is_integer():
        cells = frame["cell"].cast(pl.UInt64).to_numpy()
        frame = frame.with_columns(pl.Series("cell", cells_to_hex(cells), dtype=pl.String))
    text = [
        pl.col(name).dt.to_string(ISO_UTC)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime)
    ]
    return export_points(
        frame.drop("batch", strict=False).with_columns(text), path, fmt, LAYOUTS[kind]
    )


def export_points(rows: pl.DataFrame, path: Path, fmt: str, layout: KmlLayout) -> int:
    """Write text-ready point rows (``lat``, ``lon``) to `path` in `fmt`; return the count."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    path = Path(path)
    if fmt == "kml":
        return write_kml(rows, path, layout)
    if fmt == "csv":
        lists = [name for name, dtype in rows.schema.items() if isinstance(dtype, pl.List)]
        with replacing(path) as tmp:
            spreadsheet_safe(rows.with_columns(pl.col(lists).list.join(", "))).write_csv(tmp)
    else:
        features = [
            {
                "type": "Feature",
                "id": row[layout.id_column],
                "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                "properties": row,
            }
            for row in rows.iter_rows(named=True)
        ]
        write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}), path)
    return rows.height

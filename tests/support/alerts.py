"""Hand-made events and a ground of two sectors, for alert tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from geoint.h3index import latlng_to_cells
from geoint.schema import EVENT_SCHEMA

T0 = datetime(2026, 9, 14, 1, 0, tzinfo=UTC)
SCRIPT = "<script>alert('x')</script>&"


class SectorGround:
    """Only what alerts ask of the ground: sector "south" below 9°N, "north" above."""

    timezone = "Africa/Lagos"

    def sector(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        return np.where(np.asarray(lat) < 9.0, "south", "north").astype(object)


def events(*rows: dict) -> pl.DataFrame:
    """Events with defaults: an unofficial crossing by V1 at 6.5N 2.6E, at night."""
    full = []
    for i, row in enumerate(rows):
        start = row.get("start", T0)
        lat, lon = row.get("lat", 6.5), row.get("lon", 2.6)
        full.append(
            {
                "event_id": row.get("event_id", f"E{i}"),
                "event_type": row.get("event_type", "unofficial_crossing"),
                "vehicle_id": row.get("vehicle_id", "V1"),
                "other_vehicle_id": row.get("other_vehicle_id"),
                "start": start,
                "end": row.get("end", start + timedelta(minutes=3)),
                "lat": lat,
                "lon": lon,
                "cell": int(latlng_to_cells(np.array([lat]), np.array([lon]), 8)[0]),
                "side_from": 0,
                "side_to": 1,
                "night": row.get("night", True),
                "distance_to_border_m": 0.0,
                "distance_to_crossing_m": 5200.0,
                "evidence": row.get("evidence", [101 + i, 102 + i]),
                "detail": '{"crossing_official_radius_m": 2000}',
            }
        )
    return pl.DataFrame(full, schema=EVENT_SCHEMA)

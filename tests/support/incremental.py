"""Pings of hand-made vehicles near the shipped region's border, for incremental tests."""

from datetime import UTC, datetime, timedelta

from geoint.testing.builders import iso

T0 = datetime(2026, 9, 14, 1, tzinfo=UTC)
# Benin → Nigeria at 8°N, about 30 km from any official crossing of the shipped region
CROSSING = [(8.0, 2.67 + 0.005 * i) for i in range(9)]  # border near 2.695°E
STOP = [(7.0, 2.0)] * 5  # deep in Benin: no event
MEETING = (8.0, 2.68)  # 1.5 km west of the border, far from crossings and places


def rows(vehicle: str, start: datetime, points: list[tuple[float, float]]) -> list[dict]:
    """CSV rows of `vehicle` visiting `points` a minute apart from `start`."""
    return [
        {"vehicle_id": vehicle, "ts": iso(start + timedelta(minutes=i)), "lat": lat, "lon": lon}
        for i, (lat, lon) in enumerate(points)
    ]

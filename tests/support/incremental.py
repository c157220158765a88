"""Pings of hand-made vehicles near the shipped region's border, for incremental tests."""

from datetime import UTC, datetime, timedelta

from geoint.alerts.store import AlertQuery, AlertStore
from geoint.layers import Region, RegionIndex
from geoint.pipeline.incremental import analyze_batch
from geoint.pipeline.ingest import ingest_pings
from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace
from geoint.testing.builders import iso, write_csv

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


def dead_zone_trip(vehicle: str, start: datetime) -> tuple[list[dict], list[dict], list[dict]]:
    """CSV rows of a drive with a 3 h dead zone, a ping a minute: (before, buffered, after).

    Before: 10 min driving 21 km inside Benin. In the dead zone (180 pings the device buffers):
    an hour's drive east across the border 30 km from any crossing, an hour parked 1.6 km into
    Nigeria, an hour back. After: 10 min again 21 km inside Benin, where the 3 h gap is no
    signal gap near the border.
    """
    west, east = 2.50, 2.71
    drive = [(8.0, 2.52 + (east - 2.52) * i / 60) for i in range(60)]
    points = (
        [(8.0, west + 0.002 * i) for i in range(10)]
        + drive
        + [(8.0, east)] * 60
        + drive[::-1]
        + [(8.0, west + 0.002 * (9 - i)) for i in range(10)]
    )
    every = rows(vehicle, start, points)
    return every[:10], every[10:190], every[190:]


# what an event says happened (ping ids, and so event ids, follow the delivery order)
WHAT = ("event_type", "vehicle_id", "other_vehicle_id", "start", "end", "lat", "lon")


def alerts_agree(on_time: list[dict], raised: list[dict], event_ids: list[str]) -> list[dict]:
    """Check that the open alerts are those of in-order delivery (rule and subject), none
    twice, and every stored event is in exactly one of them (late pings replace events: the
    replaced ids stay in the evidence of the alert that folded them in); return the others,
    the alerts withdrawn because late pings replaced their only events."""
    opened = [a for a in raised if a["status"] == "new"]
    key = sorted((a["rule"], tuple(a["vehicles"])) for a in on_time)
    assert sorted((a["rule"], tuple(a["vehicles"])) for a in opened) == key
    assert len(set(key)) == len(key)
    for event in event_ids:
        assert sum(event in a["evidence"]["events"] for a in opened) == 1, event
    withdrawn = [a for a in raised if a["status"] != "new"]
    assert all(a["status"] == "dismissed" for a in withdrawn)
    assert not {e for a in withdrawn for e in a["evidence"]["events"]} & set(event_ids)
    return withdrawn


def in_order_delivery(tmp_path, region, batches) -> tuple[list[tuple], list[dict]]:
    """The events and alerts of the same pings ingested and analysed in order, in process."""
    settings = GeointSettings(workspace=tmp_path / "in-order")
    store, ground = Workspace(settings.workspace), RegionIndex(Region.load(region))
    try:
        for k, batch in enumerate(batches):
            report = ingest_pings(store, write_csv(batch, tmp_path / f"{k}.csv"), settings)
            analyze_batch(store, ground, settings, int(report.batch_id))
        return store.read_events().select(WHAT).rows(), AlertStore(store).list(AlertQuery())[0]
    finally:
        store.engine.dispose()

"""Late and out-of-order pings: a 3 h dead zone delivered after the pings that followed it, and
shuffled, gives the events of in-order delivery, raises each alert once, and says it was late."""

import json
import random

import pytest
from support.cli import geoint
from support.incremental import T0, WHAT, alerts_agree, dead_zone_trip, in_order_delivery

from geoint.alerts.store import AlertQuery, AlertStore
from geoint.layers import shipped_region_path
from geoint.store.workspace import Workspace
from geoint.testing.builders import write_csv


def shuffled(records: list[dict], seed: int) -> list[dict]:
    """The records in a seeded random order (a buffer flushed out of order)."""
    out = list(records)
    random.Random(seed).shuffle(out)
    return out


def _ingest(tmp_path, ws: str, name: str, records: list[dict]) -> dict:
    """`geoint ingest pings --analyze` of `records` as a CSV file; its JSON report."""
    path = write_csv(records, tmp_path / name)
    region = str(shipped_region_path())
    result = geoint(
        "ingest", "pings", str(path), "-w", ws, "--region", region, "--analyze", "--json"
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _alerts(ws: str) -> list[dict]:
    store = Workspace(ws)
    try:
        return AlertStore(store).list(AlertQuery(limit=100))[0]
    finally:
        store.engine.dispose()


def _events(ws: str) -> tuple[list[tuple], list[str]]:
    """The events as what happened (ping ids, and so event ids, follow the delivery order),
    and their ids."""
    store = Workspace(ws)
    try:
        events = store.read_events()
        return events.select(WHAT).rows(), events["event_id"].to_list()
    finally:
        store.engine.dispose()


@pytest.mark.slow
def test_a_dead_zone_delivered_late_and_shuffled_equals_in_order_delivery(tmp_path):
    before, buffered, after = dead_zone_trip("V1", T0)
    late = str(tmp_path / "late")
    expected, on_time = in_order_delivery(
        tmp_path, shipped_region_path(), (before, buffered, after)
    )
    # live pings before and after the dead zone, then the buffer in two shuffled parts, the
    # later half first; then the whole buffer again, reshuffled (a device retrying)
    mixed = shuffled(buffered, 1)
    parts = (before, after, mixed[90:], mixed[:90], shuffled(buffered, 2))
    reports = [_ingest(tmp_path, late, f"late-{k}.csv", batch) for k, batch in enumerate(parts)]
    assert reports[-1]["duplicates"] == len(buffered)
    assert "analysis" not in reports[-1]  # nothing new stored: nothing analysed, no alert

    assert len(expected) >= 3  # two unofficial crossings and the parked hour between them
    got, event_ids = _events(late)
    assert got == expected
    raised = _alerts(late)
    alerts_agree(on_time, raised, event_ids)
    assert all(a["raised_late"] is None for a in on_time)
    for alert in raised:  # every event lies in the dead zone: 1 h 10 min to 3 h 10 min late
        assert 3_600 < alert["raised_late"]["late_s"] < 4 * 3_600
        assert alert["raised_late"]["reason"].startswith("Raised late: the event's pings")
        assert "Raised late" in alert["explanation"]  # the latest event folded in (also late)

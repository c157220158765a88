"""Incremental analysis of new ping batches: only the affected vehicles, new events alert once."""

import json
import threading
from datetime import timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from support.cli import geoint
from support.incremental import CROSSING, MEETING, STOP, T0, rows
from support.workspaces import open_workspace

from geoint.alerts.rules import default_rules_path
from geoint.alerts.store import AlertQuery, AlertStore
from geoint.api.background import BatchAnalysis, CellRefresh
from geoint.detect.events import detect_events
from geoint.layers import Region, RegionIndex, shipped_region_path
from geoint.pipeline.analyze import analyze
from geoint.pipeline.incremental import analyze_batch, lookback_s
from geoint.pipeline.ingest import ingest_pings
from geoint.settings import GeointSettings
from geoint.store.cell_tables import VEHICLE_DAYS, cell_table_path
from geoint.store.workspace import Workspace
from geoint.testing.builders import write_csv

pytestmark = pytest.mark.databases


@pytest.fixture(scope="module")
def ground():
    return RegionIndex(Region.load(shipped_region_path()))


def _ingest(store, settings, ground, tmp_path, name, records):
    report = ingest_pings(store, write_csv(records, tmp_path / name), settings)
    if report.already_ingested or not report.accepted:
        return None
    return analyze_batch(store, ground, settings, int(report.batch_id))


def test_new_pings_raise_one_alert_once_and_leave_other_vehicles_alone(tmp_path, ground):
    settings = GeointSettings(workspace=tmp_path / "ws")
    store = open_workspace(settings.workspace)
    alerts = AlertStore(store)
    # the first half of the crossing, then another vehicle's pings: no event yet
    first = _ingest(store, settings, ground, tmp_path, "a.csv", rows("V1", T0, CROSSING[:5]))
    assert first["events"] == 0 and first["alerts"]["created"] == 0
    # the second half completes an unofficial crossing: exactly one new alert
    rest = rows("V1", T0, CROSSING)[5:]
    second = _ingest(store, settings, ground, tmp_path, "b.csv", rest)
    assert second["vehicles"] == 1 and second["pings"] == len(CROSSING)
    assert second["alerts"]["created"] == 1
    (alert,), _ = alerts.list(AlertQuery(limit=10))
    assert alert["type"] == "unofficial_crossing" and alert["vehicles"] == ["V1"]
    crossing = store.read_events()
    assert crossing["event_type"].to_list() == ["unofficial_crossing"]
    # the same pings in another file are duplicates: nothing is analysed, no alert
    assert _ingest(store, settings, ground, tmp_path, "c.csv", rest[::-1]) is None
    # analysing the batch again re-detects the same event: known, no alert, events unchanged
    again = analyze_batch(store, ground, settings, int(second["batch"]))
    assert again["alerts"]["created"] == 0 and again["alerts"]["known"] == 1
    assert store.read_events().equals(crossing)
    # an unrelated vehicle's pings leave V1's events alone
    other = _ingest(store, settings, ground, tmp_path, "d.csv", rows("V2", T0, STOP))
    assert other["vehicles"] == 1 and other["replaced"] == 0 and other["events"] == 0
    assert store.read_events().equals(crossing)
    assert len(alerts.list(AlertQuery(limit=10))[0]) == 1
    # the merged events are those of a detection over every stored ping
    everything = detect_events(store.scan_pings().collect(), ground, settings)
    assert everything["event_id"].to_list() == store.read_events()["event_id"].to_list()


def test_lookback_covers_every_event_window():
    settings = GeointSettings(alerts={"incremental_lookback_s": 60})
    assert lookback_s(settings) == settings.events.shuttle_window_s
    longer = GeointSettings(alerts={"incremental_lookback_s": 3 * 86400})
    assert lookback_s(longer) == 3 * 86400


def test_cli_ingest_analyzes_the_batch_when_asked(tmp_path):
    path = write_csv(rows("V1", T0, CROSSING), tmp_path / "p.csv")
    ws, region = str(tmp_path / "ws"), str(shipped_region_path())
    refused = geoint("ingest", "pings", str(path), "-w", ws, "--analyze", "--json")
    assert refused.returncode != 0 and "--analyze needs --region" in refused.stderr
    result = geoint(
        "ingest", "pings", str(path), "-w", ws, "--region", region, "--analyze", "--json"
    )
    assert result.returncode == 0, result.stderr
    analysis = json.loads(result.stdout)["analysis"]
    assert analysis["events"] == 1 and analysis["alerts"]["created"] == 1


CELL_TABLES = {
    "days": ("date", "cell"),
    "risk": ("date", "cell"),
    "weeks": ("date", "cell"),
    "emerging": ("cell",),
    "days_r5": ("date", "cell"),
    "days_r6": ("date", "cell"),
    "days_r7": ("date", "cell"),
    "vehicle_days": ("cell", "date", "vehicle_id"),
}


def _cell_tables(store: Workspace) -> dict[str, pl.DataFrame]:
    folder = store.root / "cells"
    return {n: pl.read_parquet(folder / f"{n}.parquet").sort(k) for n, k in CELL_TABLES.items()}


def _risk_rules(tmp_path, min_risk: float):
    """The shipped rules with the high-risk threshold at `min_risk`."""
    text = default_rules_path().read_text().replace("min_risk = 70.0", f"min_risk = {min_risk}")
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


def test_incremental_cells_equal_a_full_analysis_and_raise_the_risk_alert(tmp_path, ground):
    settings = GeointSettings(
        workspace=tmp_path / "ws", alerts={"rules_file": _risk_rules(tmp_path, 50.0)}
    )
    store = open_workspace(settings.workspace)
    alerts = AlertStore(store)
    day = timedelta(days=1)
    first = rows("V1", T0, STOP) + rows("V2", T0, STOP) + rows("V4", T0, [(7.0, 2.01)] * 3)
    first += rows("V3", T0 + timedelta(hours=20), CROSSING[:3])
    ingest_pings(store, write_csv(first, tmp_path / "a.csv"), settings)
    analyze(store, ground, settings)
    assert not alerts.list(AlertQuery(limit=10, alert_type=("high_risk",)))[0]
    # a night crossing the next day; late pings of yesterday; a track across midnight
    second = rows("V1", T0 + day, CROSSING)
    second += rows("V2", T0 + timedelta(hours=22, minutes=50), STOP)
    second += rows("V3", T0 + timedelta(hours=22, minutes=58), CROSSING[3:6])
    report = _ingest(store, settings, ground, tmp_path, "b.csv", second)
    assert 0 < report["cells"]["recomputed"] < report["cells"]["vehicle_days"]
    assert report["cells"]["alerts"]["by_rule"] == {"high-risk-cell": 1}
    (risky,), _ = alerts.list(AlertQuery(limit=10, alert_type=("high_risk",)))
    assert risky["rule"] == "high-risk-cell" and risky["event_time"].startswith("2026-09-15")
    incremental = _cell_tables(store)
    # a full analysis of the same pings gives the same tables (and folds the same alert)
    full = analyze(store, ground, settings)
    assert full["alerts"]["created"] == 0
    for name, frame in _cell_tables(store).items():
        assert_frame_equal(incremental[name], frame, check_exact=False, rel_tol=0, abs_tol=1e-9)


def test_a_rendezvous_with_a_stored_vehicle_is_found_when_its_partner_reports(tmp_path, ground):
    settings = GeointSettings(workspace=tmp_path / "ws")
    store = open_workspace(settings.workspace)
    alerts = AlertStore(store)
    parked = rows("A", T0, [MEETING] * 20)
    assert _ingest(store, settings, ground, tmp_path, "a.csv", parked)["events"] == 0
    joining = rows("B", T0 + timedelta(minutes=3), [(MEETING[0] + 0.001, MEETING[1])] * 15)
    report = _ingest(store, settings, ground, tmp_path, "b.csv", joining)
    assert report["partners"] == 1 and report["alerts"]["created"] == 1
    (alert,), _ = alerts.list(AlertQuery(limit=10))
    assert alert["type"] == "rendezvous" and sorted(alert["vehicles"]) == ["A", "B"]
    everything = detect_events(store.scan_pings().collect(), ground, settings)
    assert everything["event_type"].to_list() == ["rendezvous"]
    assert_frame_equal(store.read_events(), everything)


def _days(vehicle: str, *offsets: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"vehicle": [vehicle] * len(offsets), "date": [T0.date() + timedelta(d) for d in offsets]}
    )


def test_cell_refreshes_coalesce_requests_made_during_a_run():
    refresh, runs = CellRefresh(), []
    started, release = threading.Event(), threading.Event()

    def run(days: pl.DataFrame) -> None:
        runs.append(days)
        if len(runs) == 1:
            started.set()
            assert release.wait(10)

    ran: list[bool] = []
    first = threading.Thread(target=lambda: ran.append(refresh.request(_days("V1", 0), run)))
    first.start()
    assert started.wait(10)
    # while the first run is under way, requests queue and return at once
    assert refresh.request(_days("V2", 0, 1), run) is False
    assert refresh.request(_days("V3", 1), run) is False
    assert refresh.request(_days("V2", 1), run) is False
    release.set()
    first.join(10)
    assert ran == [True] and len(runs) == 2  # exactly one more run, covering all three
    assert runs[1].rows() == _days("V2", 0, 1).vstack(_days("V3", 1)).rows()
    # idle again: the next request runs at once; a failed run frees the refresh
    assert refresh.request(_days("V4", 0), run) is True and len(runs) == 3

    def fail(days: pl.DataFrame) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        refresh.request(_days("V5", 0), fail)
    assert refresh.request(_days("V6", 0), run) is True
    assert runs[-1].rows() == _days("V6", 0).rows()


def test_cell_updates_start_at_least_the_interval_apart_without_holding_requests():
    now, slept, runs = [100.0], [], []

    def sleep(seconds: float) -> None:
        if not slept:
            refresh.add(_days("V3", 0))  # queued while the runner waits: joins the run
        slept.append(seconds)
        now[0] += seconds

    refresh = CellRefresh(30, clock=lambda: now[0], sleep=sleep)
    assert refresh.request(_days("V1", 0), runs.append) and slept == []  # idle: at once
    now[0] += 5
    assert refresh.request(_days("V2", 1), runs.append) and slept == [25]
    assert runs[1].rows() == _days("V2", 1).vstack(_days("V3", 0)).rows()
    now[0] += 60
    refresh.add(_days("V4", 0))  # added, then drained by a later call
    assert refresh.drain(runs.append) and slept == [25] and len(runs) == 3
    assert refresh.drain(runs.append) is False  # nothing pending


def test_batches_posted_during_an_analysis_are_analysed_together():
    analysis, runs = BatchAnalysis(), []
    started, release = threading.Event(), threading.Event()

    def run(batches: list[int]) -> None:
        runs.append(batches)
        if len(runs) == 1:
            started.set()
            assert release.wait(10)

    first = threading.Thread(target=analysis.request, args=([7], run))
    first.start()
    assert started.wait(10)
    assert analysis.request([9], run) is False and analysis.request([8, 9], run) is False
    release.set()
    first.join(10)
    assert runs == [[7], [8, 9]]


def test_a_ping_that_turns_the_last_one_into_a_spike_drops_its_event(tmp_path, ground):
    settings = GeointSettings(workspace=tmp_path / "ws")
    store = open_workspace(settings.workspace)
    west, east = (8.0, 2.67), (8.0, 2.75)  # 9 km apart, across the border
    _ingest(store, settings, ground, tmp_path, "a.csv", rows("V1", T0, [west] * 3))
    # a jump across the border one minute later: a crossing while it is the last ping
    jump = _ingest(store, settings, ground, tmp_path, "b.csv", rows("V1", T0, [west] * 3 + [east]))
    assert jump["events"] == 1
    # back where it was: the jump was a GPS spike, and no crossing happened
    back = rows("V1", T0, [west] * 3 + [east, west])[4:]
    assert _ingest(store, settings, ground, tmp_path, "c.csv", back)["replaced"] == 1
    assert store.read_events().height == 0
    assert detect_events(store.scan_pings().collect(), ground, settings).height == 0


def test_pings_analysed_while_a_full_analysis_runs_are_not_lost(tmp_path, ground, monkeypatch):
    import geoint.pipeline.partitions

    settings = GeointSettings(workspace=tmp_path / "ws")
    store = open_workspace(settings.workspace)
    _ingest(store, settings, ground, tmp_path, "a.csv", rows("V1", T0, CROSSING))
    real = geoint.pipeline.partitions.prepare_tracks

    def meanwhile(*args, **kwargs):  # the API stores and analyses V2 after analyze read
        _ingest(store, settings, ground, tmp_path, "b.csv", rows("V2", T0, CROSSING))
        return real(*args, **kwargs)

    monkeypatch.setattr(geoint.pipeline.partitions, "prepare_tracks", meanwhile)
    report = analyze(store, ground, settings)
    assert report["events_total"] == 1  # V1's crossing: V2's pings came after the read
    events = store.read_events()
    assert sorted(events["vehicle_id"].to_list()) == ["V1", "V2"]
    assert report["caught_up"]["vehicles"] == 1
    everything = detect_events(store.scan_pings().collect(), ground, settings)
    assert sorted(everything["event_id"].to_list()) == sorted(events["event_id"].to_list())
    vehicle_days = pl.read_parquet(cell_table_path(store.root, VEHICLE_DAYS))
    assert sorted(vehicle_days["vehicle_id"].cast(pl.String).unique().to_list()) == ["V1", "V2"]

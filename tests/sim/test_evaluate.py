"""Evaluation against ground truth on hand-made detections with known precision and recall."""

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from support.event_cases import CASES_BY_NAME

from geoint.errors import InputError
from geoint.h3index import cells_to_hex
from geoint.schema import TRUTH_COLUMNS, EventType
from geoint.settings import GeointSettings
from geoint.sim.evaluate import (
    evaluation_report,
    read_illicit_cells,
    read_truth,
    score_events,
    top_k_precision,
)
from geoint.store.workspace import Workspace
from geoint.testing.builders import iso, write_csv
from geoint.testing.reference import reference_events

T0 = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
KM_PER_DEGREE_LAT = 111.195  # haversine sphere


def _events(*rows: tuple) -> pl.DataFrame:
    """Events from (type, vehicle, other, start offset min, duration min, lat, lon) tuples."""
    return pl.DataFrame(
        [
            {
                "event_type": kind,
                "vehicle_id": vehicle,
                "other_vehicle_id": other,
                "start": T0 + timedelta(minutes=start),
                "end": T0 + timedelta(minutes=start + duration),
                "lat": lat,
                "lon": lon,
            }
            for kind, vehicle, other, start, duration, lat, lon in rows
        ],
        schema={
            "event_type": pl.String, "vehicle_id": pl.String, "other_vehicle_id": pl.String,
            "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"),
            "lat": pl.Float64, "lon": pl.Float64,
        },
    )  # fmt: skip


TRUTH = _events(
    ("border_crossing", "car-1", None, 0, 1, 7.0, 3.0),
    ("border_crossing", "car-2", None, 0, 1, 7.0, 3.0),
    ("unofficial_crossing", "car-3", None, 120, 1, 7.5, 3.0),
    ("rendezvous", "a", "b", 600, 20, 7.8, 2.97),
    ("border_loiter", "car-4", None, 60, 30, 7.7, 2.97),
    ("dark_crossing", "car-5", None, 0, 40, 7.71, 3.0),
)
DETECTED = _events(
    ("border_crossing", "car-1", None, 0, 1, 7.0, 3.0),  # match
    ("border_crossing", "car-1", None, 0, 1, 7.0, 3.0),  # duplicate: unmatched
    ("border_crossing", "car-9", None, 0, 1, 7.0, 3.0),  # wrong vehicle: car-2 is missed
    ("unofficial_crossing", "car-3", None, 137, 1, 7.5, 3.0),  # starts 16 min after the end
    ("rendezvous", "b", "a", 605, 20, 7.8, 2.97),  # the pair in the other order: match
    ("border_loiter", "car-4", None, 60, 30, 7.7 + 2.1 / KM_PER_DEGREE_LAT, 2.97),  # 2.1 km off
    ("watchlist_hit", "car-6", None, 0, 5, 7.3, 3.15),  # no truth of this type
)


def test_scores_of_hand_made_detections():
    scores = score_events(DETECTED, TRUTH)
    assert list(scores) == [str(t) for t in EventType]
    assert all(set(s) == {"truth", "detected", "recall", "precision"} for s in scores.values())
    assert scores["border_crossing"] == {
        "truth": 2, "detected": 3, "recall": 0.5, "precision": pytest.approx(1 / 3)
    }  # fmt: skip
    assert scores["unofficial_crossing"] == {
        "truth": 1, "detected": 1, "recall": 0.0, "precision": 0.0
    }  # fmt: skip
    assert scores["rendezvous"] == {"truth": 1, "detected": 1, "recall": 1.0, "precision": 1.0}
    assert scores["border_loiter"]["recall"] == 0.0
    assert scores["dark_crossing"] == {
        "truth": 1, "detected": 0, "recall": 0.0, "precision": None
    }  # fmt: skip
    assert scores["watchlist_hit"] == {
        "truth": 0, "detected": 1, "recall": None, "precision": 0.0
    }  # fmt: skip
    assert scores["shuttle"] == {"truth": 0, "detected": 0, "recall": None, "precision": None}


@pytest.mark.parametrize(
    ("offset_min", "lat_km", "matches"),
    [(-15, 0.0, True), (-16, 0.0, False), (15, 0.0, True), (16, 0.0, False),
     (0, 1.9, True), (0, 2.1, False)],
)  # fmt: skip
def test_time_and_distance_tolerances(offset_min, lat_km, matches):
    truth = _events(("transit_overdue", "car", None, 0, 0, 7.0, 3.0))
    moved = ("transit_overdue", "car", None, offset_min, 0, 7.0 + lat_km / KM_PER_DEGREE_LAT, 3.0)
    recall = score_events(_events(moved), truth)["transit_overdue"]["recall"]
    assert recall == (1.0 if matches else 0.0)


def test_interval_events_match_within_15_min_of_either_end():
    truth = _events(("border_loiter", "car", None, 0, 30, 7.7, 2.97))
    starts = {-45: True, -46: False, 45: True, 46: False}  # detections last 30 min
    for start, matches in starts.items():
        detected = _events(("border_loiter", "car", None, start, 30, 7.7, 2.97))
        assert score_events(detected, truth)["border_loiter"]["recall"] == float(matches), start


def test_matching_is_one_to_one_and_greedy_by_time():
    # Two truths 10 min apart; the nearer-in-time detection goes to each, not both to one.
    truth = _events(
        ("shuttle", "v", None, 0, 60, 7.0, 3.0), ("shuttle", "v", None, 10, 60, 7.0, 3.0)
    )
    detected = _events(
        ("shuttle", "v", None, 9, 60, 7.0, 3.0), ("shuttle", "v", None, 1, 60, 7.0, 3.0)
    )
    score = score_events(detected, truth)["shuttle"]
    assert (score["recall"], score["precision"]) == (1.0, 1.0)
    one_truth = score_events(detected, truth.head(1))["shuttle"]
    assert (one_truth["recall"], one_truth["precision"]) == (1.0, 0.5)


def test_a_shared_vehicle_id_does_not_match_across_pairs():
    truth = _events(("rendezvous", "a", "b", 0, 20, 7.8, 2.97))
    detected = _events(("rendezvous", "a", "c", 0, 20, 7.8, 2.97))
    assert score_events(detected, truth)["rendezvous"]["recall"] == 0.0


def _risk(day: date, cells: list[int]) -> pl.DataFrame:
    """A ranking in which `cells` are listed from the riskiest down."""
    return pl.DataFrame(
        {"date": [day] * len(cells), "cell": cells, "risk": [float(-i) for i in range(len(cells))]},
        schema={"date": pl.Date, "cell": pl.UInt64, "risk": pl.Float64},
    )


def _illicit(day: date, cells: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"date": [day] * len(cells), "cell": cells}, schema={"date": pl.Date, "cell": pl.UInt64}
    )


def test_top_k_precision_averages_days_with_illicit_cells():
    day1, day2, day3 = date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)
    cells = list(range(100, 120))
    risk = pl.concat([_risk(day1, cells), _risk(day2, cells), _risk(day3, cells)])
    illicit = pl.concat([_illicit(day1, cells[:5]), _illicit(day2, [*cells[:10], 999])])
    # k=10: day1 5/10, day2 10/10; k=50 ranks only 20 cells: 5/20 and 10/20. Day3 has none.
    assert top_k_precision(risk, illicit, (10, 50)) == {"10": 0.75, "50": 0.375}
    assert top_k_precision(risk, illicit.filter(pl.col("date") == day3), (10,)) == {"10": None}


def test_top_k_ties_go_to_the_smaller_cell():
    day = date(2024, 3, 4)
    risk = _risk(day, [5, 3, 4]).with_columns(pl.lit(1.0).alias("risk"))
    assert top_k_precision(risk, _illicit(day, [3]), (1,)) == {"1": 1.0}
    assert top_k_precision(risk, _illicit(day, [5]), (1,)) == {"1": 0.0}


def test_report_without_a_ranking_or_alerts_says_why():
    report = evaluation_report(DETECTED, TRUTH)
    assert set(report) == {"events", "cells", "alerts", "notes"}
    assert report["cells"] == {"top_k_precision": {"10": None, "50": None, "200": None}}
    assert report["alerts"] == {"latency_s_p95": None, "precision_by_rule": None}
    assert any("risk.parquet" in n for n in report["notes"])
    assert any("dark_crossing" in n for n in report["notes"])
    assert any(n.startswith("alerts.") for n in report["notes"])


def test_read_truth_types_columns_and_names_bad_values(tmp_path):
    rows = [
        {"event_type": "rendezvous", "vehicle_id": "a", "other_vehicle_id": "b",
         "start": "2024-03-04T10:00:00Z", "end": "2024-03-04T10:20:00Z", "lat": 7.8, "lon": 2.97},
        {"event_type": "border_crossing", "vehicle_id": "car", "other_vehicle_id": "",
         "start": "2024-03-04T10:00:00Z", "end": "2024-03-04T10:01:00Z", "lat": 7.0, "lon": 3.0},
    ]  # fmt: skip
    truth = read_truth(write_csv(rows, tmp_path / "truth.csv"))
    assert truth.columns == list(TRUTH_COLUMNS)
    assert truth["other_vehicle_id"].to_list() == ["b", None]
    assert truth["start"][0] == T0 and truth["lat"].dtype == pl.Float64
    rows[1]["end"] = "yesterday"
    with pytest.raises(InputError, match=r"column 'end'.*row 2 has 'yesterday'"):
        read_truth(write_csv(rows, tmp_path / "bad.csv"))
    with pytest.raises(InputError, match="column 'lon'"):
        read_truth(write_csv([{k: v for k, v in rows[0].items() if k != "lon"}], tmp_path / "x"))


def test_read_illicit_cells_refuses_a_bad_cell(tmp_path):
    path = write_csv([{"date": "2024-03-04", "cell": "8858918cd7fffff"}], tmp_path / "ok.csv")
    assert read_illicit_cells(path).schema == pl.Schema({"date": pl.Date, "cell": pl.UInt64})
    bad = write_csv([{"date": "2024-03-04", "cell": "nope"}], tmp_path / "bad.csv")
    with pytest.raises(InputError, match="column 'cell'"):
        read_illicit_cells(bad)


def _geoint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "geoint", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_scores_reference_events_of_a_case(tmp_path, toy_index):
    # The reference's own events of a case, stored, score 1.0 against the case's answer.
    case = CASES_BY_NAME["rendezvous_while_loitering"]
    events = reference_events(case.pings, toy_index, GeointSettings())
    workspace = Workspace(tmp_path / "ws")
    workspace.write_events(events)
    truth = [
        {"event_type": e.event_type, "vehicle_id": e.vehicle_id,
         "other_vehicle_id": e.other_vehicle_id or "", "start": iso(e.start),
         "end": iso(e.end or e.start), "lat": e.lat, "lon": e.lon}
        for e in case.expected
    ]  # fmt: skip
    write_csv(truth, tmp_path / "truth.csv")
    day = events["start"][0].date()
    write_csv(
        [{"date": day.isoformat(), "cell": h} for h in cells_to_hex(events["cell"].to_numpy())],
        tmp_path / "illicit_cells.csv",
    )
    (tmp_path / "ws" / "cells").mkdir()
    risk = pl.DataFrame({"date": [day], "cell": [events["cell"][0]], "risk": [1.0]})
    risk.write_parquet(tmp_path / "ws" / "cells" / "risk.parquet")

    ws, truth_file = str(tmp_path / "ws"), str(tmp_path / "truth.csv")
    result = _geoint("evaluate", "-w", ws, "--truth", truth_file, "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["events"]["rendezvous"] == {
        "truth": 1, "detected": 1, "recall": 1.0, "precision": 1.0
    }  # fmt: skip
    assert report["events"]["border_loiter"]["recall"] == 1.0
    assert report["cells"]["top_k_precision"] == {"10": 1.0, "50": 1.0, "200": 1.0}
    assert report["signal"] is None and any("scenario.json" in n for n in report["notes"])
    # a scenario of `geoint simulate --signal poor` labels the report with its profile
    (tmp_path / "scenario.json").write_text(json.dumps({"seed": 1, "signal": {"name": "poor"}}))
    labelled = _geoint("evaluate", "-w", ws, "--truth", truth_file)
    assert labelled.returncode == 0, labelled.stderr
    assert "detections against ground truth (poor signal)" in labelled.stdout
    assert "recall" in labelled.stdout and "precision" in labelled.stdout


def test_cli_refuses_a_missing_truth_file_in_one_line(tmp_path):
    result = _geoint("evaluate", "-w", str(tmp_path / "ws"), "--truth", str(tmp_path / "no.csv"))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "no.csv" in result.stderr

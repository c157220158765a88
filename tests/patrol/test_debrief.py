"""Debriefs as effort: parsing, quarantine, idempotence, and effort in the risk."""

from datetime import UTC, date, datetime, timedelta

import gpxpy.gpx
import h3
import numpy as np
import polars as pl
import pytest

from geoint.analytics.scoring import (
    CONTRIBUTIONS,
    EFFORT_COLUMNS,
    effort_factors,
    rescore,
    risk_score,
)
from geoint.h3index import cell_centres, hex_to_cells
from geoint.patrol.debrief import debrief_sha256, parse_debrief, read_effort, store_debrief
from geoint.settings import CellSettings, PatrolSettings
from geoint.store.workspace import Workspace

CELL = h3.latlng_to_cell(7.5, 2.75, 8)
OTHER = h3.latlng_to_cell(7.6, 2.80, 8)
FAR = h3.latlng_to_cell(8.2, 2.75, 8)  # beyond the kernel's 15 km
ARRIVE = datetime(2026, 3, 4, 19, 30, tzinfo=UTC)
PLAN = {
    "teams": [
        {
            "team": 1,
            "waypoints": [
                {"stop": "T1-01", "cell": CELL, "cells": [CELL, h3.grid_ring(CELL, 1)[0]],
                 "eta": "2026-03-04T19:30:00Z"},
                {"stop": "T1-02", "cell": OTHER, "cells": [OTHER], "eta": "2026-03-04T21:00:00Z"},
            ],
        }
    ]
}  # fmt: skip


def _track(minutes: int = 30) -> bytes:
    """A GPX track standing in CELL for `minutes`, one point a minute."""
    gpx = gpxpy.gpx.GPX()
    track, segment = gpxpy.gpx.GPXTrack(name="team 1"), gpxpy.gpx.GPXTrackSegment()
    gpx.tracks.append(track)
    track.segments.append(segment)
    lat, lon = h3.cell_to_latlng(CELL)
    for i in range(minutes + 1):
        segment.points.append(gpxpy.gpx.GPXTrackPoint(lat, lon, time=ARRIVE + timedelta(minutes=i)))
    return gpx.to_xml().encode()


OUTCOMES = (
    (
        "stop,cell,outcome,minutes,seizure_id,time\n"
        "T1-01,,nothing,,,\n"  # minutes and time from the track
        f",{OTHER},seizure,15,S-9,2026-03-04T21:00:00Z\n"
        "T7-01,,nothing,10,,\n"  # no such stop
        "T1-02,,maybe,10,,\n"  # unknown outcome
        f",{OTHER},seizure,10,,\n"  # a seizure without its id
        ",not-a-cell,nothing,10,,\n"
    )
    .format(other=OTHER)
    .encode()
)


def test_debrief_is_effort_per_cell_day_with_bad_rows_quarantined(tmp_path):
    debrief = parse_debrief(_track(), "t.gpx", OUTCOMES, "o.csv", PLAN, PatrolSettings())
    reasons = dict(zip(debrief.quarantined["column"], debrief.quarantined["reason"], strict=True))
    assert reasons == {
        "stop": "unknown_stop",
        "outcome": "invalid_value",
        "seizure_id": "missing_value",
        "cell": "invalid_value",
    }
    assert debrief.quarantined["_row"].to_list() == [3, 4, 5, 6]
    effort = {h3.int_to_str(c): row for c, *row in debrief.effort.iter_rows()}
    minutes, nothing, _ = effort[CELL][1:]
    assert minutes == pytest.approx(30) and nothing == pytest.approx(15)  # split over 2 cells
    assert effort[OTHER][1:] == [15.0, 0.0, 1]
    assert {row[0] for row in effort.values()} == {date(2026, 3, 4)}

    workspace = Workspace(tmp_path / "W")
    sha = debrief_sha256(_track(), b"plan", OUTCOMES)
    first = store_debrief(workspace, debrief, "o.csv", sha)
    again = store_debrief(workspace, debrief, "o.csv", sha)
    assert first["accepted"] == 2 and first["quarantined"] == 4 and not first["already_recorded"]
    assert again["already_recorded"] and again["debrief"] == first["debrief"]
    stored = read_effort(workspace)
    assert stored.schema == pl.Schema(EFFORT_COLUMNS) and stored.height == debrief.effort.height
    assert workspace.quarantined("debrief")["reason"].to_list() == list(reasons.values())


def test_an_outcome_without_time_or_minutes_is_refused():
    outcomes = f"cell,outcome\n{CELL},nothing\n".encode()
    debrief = parse_debrief(None, "none", outcomes, "o.csv", None, PatrolSettings())
    assert debrief.quarantined["column"].to_list() == ["time"]
    assert debrief.effort.is_empty()


def _days(cells: list[str], day: date) -> pl.DataFrame:
    """Cell-days with every risk input set: events and seizures near."""
    n = len(cells)
    return pl.DataFrame(
        {
            "cell": pl.Series(hex_to_cells(cells), dtype=pl.UInt64),
            "date": [day] * n,
            "severity": [8.0] * n, "gi_z": [2.0] * n, "gi_bin": [2] * n,
            "anomaly_z": [1.0] * n, "night_share": [0.5] * n,
            "distance_to_road_m": [500.0] * n, "distance_to_crossing_m": [9e3] * n,
            "distance_to_place_m": [4e3] * n, "distance_to_border_m": [1e3] * n,
        }
    )  # fmt: skip


def test_searched_with_nothing_lowers_risk_then_fades_and_effort_divides_the_prior():
    settings = CellSettings()
    searched_on = date(2026, 3, 4)
    effort = pl.DataFrame(
        {"cell": hex_to_cells([CELL]), "date": [searched_on], "minutes": [60.0],
         "nothing_minutes": [60.0]},
        schema=EFFORT_COLUMNS,
    )  # fmt: skip
    lat, lon = cell_centres(hex_to_cells([CELL]))
    seizures = pl.DataFrame(
        {"ts": [datetime(2026, 3, 1, tzinfo=UTC)], "lat": lat, "lon": lon},
        schema={"ts": pl.Datetime("us", "UTC"), "lat": pl.Float64, "lon": pl.Float64},
    )
    risks = []
    for offset in (0, 1, 8, settings.searched_days + 1):
        days = _days([CELL, FAR], searched_on + timedelta(days=offset))
        aware = rescore(days, seizures, effort, settings)
        blind = rescore(days, seizures, None, settings)
        sums = aware.select(pl.sum_horizontal(CONTRIBUTIONS)).to_series()
        assert np.allclose(sums, aware["risk"])  # the explanation adds up
        assert aware["risk"][1] == pytest.approx(blind["risk"][1])  # the unsearched cell
        risks.append((aware["risk"][0], blind["risk"][0], aware.row(0, named=True)))
    same_day, next_day, week, after = risks
    assert same_day[0] == pytest.approx(same_day[1])  # effort counts from the next day
    row = next_day[2]
    assert row["f_searched"] == pytest.approx(1.0)
    assert row["c_searched"] < 0 and row["c_effort"] < 0
    assert next_day[0] == pytest.approx(
        (next_day[1] + row["c_effort"]) * (1 - settings.searched_share)
    )
    assert week[2]["f_searched"] == pytest.approx(1 - 7 / settings.searched_days)
    assert after[2]["c_searched"] == 0 and after[0] < after[1]  # the prior stays divided


def test_effort_factors_without_effort_are_zero():
    days = _days([CELL], date(2026, 3, 4))
    factors = effort_factors(pl.DataFrame(schema=EFFORT_COLUMNS), days, CellSettings())
    assert factors["effort_hours"].to_list() == [0.0] and factors["searched"].to_list() == [0.0]
    scored = risk_score(days.with_columns(seizure_density=pl.lit(0.0)), CellSettings())
    assert scored["c_effort"].to_list() == [0.0] and scored["c_searched"].to_list() == [0.0]

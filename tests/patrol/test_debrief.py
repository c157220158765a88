"""Debriefs as effort: parsing, quarantine, idempotence, and effort in the risk."""

from datetime import UTC, date, datetime, timedelta

import gpxpy.gpx
import h3
import polars as pl
import pytest

from geoint.analytics.scoring import EFFORT_COLUMNS
from geoint.patrol.debrief import debrief_sha256, parse_debrief, read_effort, store_debrief
from geoint.settings import PatrolSettings
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

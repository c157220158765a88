"""The reference implementation of docs/events.md on hand-built tracks with known answers."""

import json

import polars as pl
import pytest
from support.event_cases import CASES, CASES_BY_NAME, mismatches

from geoint.h3index import latlng_to_cells
from geoint.schema import EVENT_SCHEMA, EventType
from geoint.settings import EventSettings, GeointSettings
from geoint.testing.reference import event_id, reference_events


def _run(case, index, settings=None):
    settings = settings or GeointSettings()
    return reference_events(case.pings, index, settings, case.declarations, case.watchlist)


def test_cases_cover_every_event_type():
    covered = {e.event_type for case in CASES for e in case.expected}
    assert covered == set(EventType)
    assert len(CASES_BY_NAME) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_gives_exactly_its_events(case, toy_index):
    assert mismatches(_run(case, toy_index), case) == []


def test_a_crossing_carries_every_common_field(toy_index):
    case = CASES_BY_NAME["crossing_westward"]
    events = _run(case, toy_index)
    assert events.schema == pl.Schema(EVENT_SCHEMA)
    event = events.row(0, named=True)
    assert (event["side_from"], event["side_to"]) == (1, 0)
    assert event["evidence"] == [2, 3]  # the middle segment of four pings
    assert event["cell"] == latlng_to_cells([event["lat"]], [event["lon"]], 8)[0]
    assert event["distance_to_border_m"] < 1 and event["distance_to_crossing_m"] < 1
    assert event["end"] - event["start"] == case.pings["ts"][2] - case.pings["ts"][1]
    assert json.loads(event["detail"])["dt_s"] == 60
    assert event["event_id"] == event_id(
        "border_crossing", "van", None, [2, 3], case.pings["ts"][1]
    )
    assert len(event["event_id"]) == 16


def test_rendezvous_evidence_holds_both_runs(toy_index):
    case = CASES_BY_NAME["rendezvous_pair_order"]
    (event,) = _run(case, toy_index).to_dicts()
    alpha = case.pings.filter(pl.col("vehicle_id") == "alpha-1")["ping_id"].to_list()
    zulu = case.pings.filter(pl.col("vehicle_id") == "zulu-9")["ping_id"].to_list()
    assert event["evidence"] == alpha + zulu


def test_spikes_are_left_out_of_the_evidence(toy_index):
    case = CASES_BY_NAME["loiter_ignores_a_spike"]
    (event,) = _run(case, toy_index).to_dicts()
    spike = case.pings.sort("ts")["ping_id"][3]  # the ping at 12.5 min, 20 km away
    assert spike not in event["evidence"] and len(event["evidence"]) == 6


@pytest.mark.parametrize(
    "name", ["shuttle_counts_dark_crossings", "rendezvous_while_loitering", "transit_overdue"]
)
def test_row_order_and_a_stored_spike_flag_do_not_matter(toy_index, name):
    case = CASES_BY_NAME[name]
    expected = _run(case, toy_index)
    shuffled = case.pings.sample(fraction=1.0, shuffle=True, seed=3).with_columns(
        pl.lit(True).alias("spike")
    )
    got = reference_events(shuffled, toy_index, GeointSettings(), case.declarations)
    assert got.equals(expected)


def test_thresholds_come_from_the_settings(toy_index):
    settings = GeointSettings(
        events=EventSettings(stop_min_duration_s=19 * 60, crossing_official_radius_m=2_500)
    )
    stop = _run(CASES_BY_NAME["stop_19_min_is_not_loiter"], toy_index, settings)
    assert stop["event_type"].to_list() == ["border_loiter"]
    crossing = _run(CASES_BY_NAME["crossing_2_1_km_from_official"], toy_index, settings)
    assert crossing["event_type"].to_list() == ["border_crossing"]


def test_no_pings_give_an_empty_frame(toy_index):
    empty = CASES[0].pings.clear()
    events = reference_events(empty, toy_index, GeointSettings())
    assert events.is_empty() and events.schema == pl.Schema(EVENT_SCHEMA)

"""Hand-built tracks with known answers for every event type of docs/events.md.

Each `EventCase` holds pings (ping_id, vehicle_id, ts, lat, lon), optional declarations and
watch list, and the complete list of events it must produce on the toy region of
`toy_region.py` with default settings: nothing more, nothing less. Both the reference
implementation and the fast detectors are tested against `CASES`::

    from support.event_cases import CASES, mismatches
    from support.toy_region import build_toy_index

    index = build_toy_index(tmp_path / "toy")
    for case in CASES:
        events = detect(case.pings, index, GeointSettings(), case.declarations, case.watchlist)
        assert mismatches(events, case) == [], case.name

Expected events are matched one to one on (type, vehicle, other vehicle), start within
`TIME_TOLERANCE_S`, location within `DISTANCE_TOLERANCE_M` and, where given, end and night.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from geoint.geodesy import distance_m
from geoint.schema import EventType
from geoint.testing.builders import make_track
from support.toy_region import (
    CORRIDOR,
    CORRIDOR_LAT,
    DESTINATION,
    MIDTOWN,
    NORTHGATE,
    SOUTHGATE,
    STOP_AREA_BOX,
    STOP_AREA_POINT,
    local,
    offset,
)

TIME_TOLERANCE_S = 60.0
DISTANCE_TOLERANCE_M = 250.0

# Places of the toy region where nothing else happens (see toy_region.py).
LOITER = (7.7, 2.97)  # 3.3 km from the border, 33 km from Northgate, 22 km from Midtown
MEETING = (7.8, 2.97)  # 3.3 km from the border, 22 km from Northgate
OFF_ROAD = (7.65, 2.95)  # 5.5 km from the border, 72 km from the nearest road
GAP = (7.7, 2.955)  # 5 km from the border
WATCH = (7.3, 3.15)  # 16.5 km from the border (east), 33 km from the nearest road
FAR_A = (6.8, 2.3)  # 77 km from the border: identity and GNSS cases
FAR_B = (7.8, 2.3)  # 111 km north of FAR_A

E = EventType  # short alias for the case tables


@dataclass(frozen=True)
class Expected:
    """One event a case must produce; start and location are checked within tolerances."""

    event_type: EventType
    vehicle_id: str
    start: datetime
    lat: float
    lon: float
    other_vehicle_id: str | None = None
    end: datetime | None = None
    night: bool | None = None


@dataclass(frozen=True)
class EventCase:
    """Pings (and declarations, watch list) with every event they must produce."""

    name: str
    description: str
    pings: pl.DataFrame
    expected: tuple[Expected, ...]
    declarations: pl.DataFrame | None = None
    watchlist: pl.DataFrame | None = None


def mismatches(events: pl.DataFrame, case: EventCase) -> list[str]:
    """Return what differs between detected `events` (EVENT_SCHEMA) and the case's answer."""
    found = events.to_dicts()
    problems = []
    for want in case.expected:
        hit = next((i for i, got in enumerate(found) if _matches(got, want)), None)
        if hit is None:
            problems.append(f"missing {want}")
        else:
            found.pop(hit)
    problems += [
        f"unexpected {got['event_type']} {got['vehicle_id']}/{got['other_vehicle_id']} "
        f"at {got['start']} ({got['lat']:.5f}, {got['lon']:.5f})"
        for got in found
    ]
    return problems


def _matches(got: dict, want: Expected) -> bool:
    return (
        got["event_type"] == want.event_type
        and got["vehicle_id"] == want.vehicle_id
        and got["other_vehicle_id"] == want.other_vehicle_id
        and abs((got["start"] - want.start).total_seconds()) <= TIME_TOLERANCE_S
        and (want.end is None or abs((got["end"] - want.end).total_seconds()) <= TIME_TOLERANCE_S)
        and (want.night is None or got["night"] == want.night)
        and distance_m(got["lat"], got["lon"], want.lat, want.lon) <= DISTANCE_TOLERANCE_M
    )


# ------------------------------------------------------------------------ builders
def _numbered(*tracks: pl.DataFrame) -> pl.DataFrame:
    """Concatenate tracks and number their pings 1, 2, ... in that order."""
    return (
        pl.concat(tracks)
        .with_row_index("ping_id", offset=1)
        .with_columns(pl.col("ping_id").cast(pl.UInt64))
    )


def _timed(vehicle: str, rows: Sequence[tuple[datetime, tuple[float, float]]]) -> pl.DataFrame:
    """Return pings at the given (time, (lat, lon)) pairs."""
    return pl.concat([make_track(vehicle, ts, [point]) for ts, point in rows])


def _parked(
    vehicle: str, point: tuple[float, float], start: datetime, minutes: Sequence[float]
) -> pl.DataFrame:
    """Return pings at `point` (±5 m of GPS noise) at `start` plus each of `minutes`."""
    return _timed(
        vehicle,
        [
            (start + timedelta(minutes=m), offset(point, north_m=5 if i % 2 else -5))
            for i, m in enumerate(minutes)
        ],
    )


def _driving(
    vehicle: str,
    start: tuple[float, float],
    t0: datetime,
    minutes: int,
    north_m_per_min: float = 0.0,
    east_m_per_min: float = 0.0,
) -> pl.DataFrame:
    """Return one ping a minute for `minutes` minutes (minutes + 1 pings) on a straight line."""
    points = [
        offset(start, north_m=north_m_per_min * k, east_m=east_m_per_min * k)
        for k in range(minutes + 1)
    ]
    return make_track(vehicle, t0, points)


def _crossing(
    vehicle: str,
    lat: float,
    t_x: datetime,
    dt_s: float = 60.0,
    eastward: bool = True,
    every_s: float = 60.0,
) -> pl.DataFrame:
    """Return four pings crossing the border at `lat` at time `t_x` (±1 ms): the middle
    segment lasts `dt_s`, the two around it `every_s` (the device's usual interval).

    The middle segment runs from 2.996°E to 3.004°E, symmetric about the border.
    """
    lons = [2.990, 2.996, 3.004, 3.010]
    if not eastward:
        lons.reverse()
    half = dt_s / 2
    offsets = (-half - every_s, -half, half, half + every_s)
    times = [t_x + timedelta(seconds=k) for k in offsets]
    return _timed(vehicle, [(ts, (lat, lon)) for ts, lon in zip(times, lons, strict=True)])


def _crossed(
    event_type: EventType,
    vehicle: str,
    lat: float,
    t_x: datetime,
    dt_s: float = 60.0,
    night: bool | None = None,
) -> Expected:
    """The event of a `_crossing` track: starts at the segment's first ping, on the border."""
    start = t_x - timedelta(seconds=dt_s / 2)
    return Expected(event_type, vehicle, start, lat, 3.0, night=night)


def _declaration(vehicle: str, start: datetime, deadline: datetime) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "vehicle_id": [vehicle],
            "corridor_id": [CORRIDOR],
            "start": [start],
            "deadline": [deadline],
            "dest_lat": [DESTINATION[0]],
            "dest_lon": [DESTINATION[1]],
        },
        schema_overrides={"start": pl.Datetime("us", "UTC"), "deadline": pl.Datetime("us", "UTC")},
    )


def _watchlist(vehicle: str, expires: datetime | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {"vehicle_id": [vehicle], "reason": ["stolen"], "expires": [expires]},
        schema={"vehicle_id": pl.String, "reason": pl.String, "expires": pl.Datetime("us", "UTC")},
    )


# ------------------------------------------------------------------------ crossings
def _crossing_cases() -> list[EventCase]:
    ten = local("10:00")
    north_19, north_21 = offset(SOUTHGATE, 1_900)[0], offset(SOUTHGATE, 2_100)[0]
    north_5k = offset(SOUTHGATE, 5_000)[0]
    cases = [
        ("crossing_at_open_official", "eastward at Southgate (24 h) at 10:00 local",
         "car", SOUTHGATE[0], ten, 60.0, E.BORDER_CROSSING, False),
        ("crossing_1_9_km_from_official", "1.9 km north of Southgate: still official",
         "car", north_19, ten, 60.0, E.BORDER_CROSSING, False),
        ("crossing_2_1_km_from_official", "2.1 km north of Southgate: unofficial",
         "car", north_21, ten, 60.0, E.UNOFFICIAL_CROSSING, False),
        ("crossing_5_km_from_official_at_02_00", "the STYLE.md example: unofficial, at night",
         "car", north_5k, local("02:00"), 60.0, E.UNOFFICIAL_CROSSING, True),
        ("official_crossing_at_21_59_local", "Northgate (06:00-22:00) still open, not night",
         "car", NORTHGATE[0], local("21:59"), 60.0, E.BORDER_CROSSING, False),
        ("official_crossing_at_22_01_local", "Northgate closed at 22:01, night",
         "car", NORTHGATE[0], local("22:01"), 60.0, E.CLOSED_HOURS_CROSSING, True),
        ("official_crossing_at_05_59_local", "Northgate still closed at 05:59, not night (< 5)",
         "car", NORTHGATE[0], local("05:59"), 60.0, E.CLOSED_HOURS_CROSSING, False),
        ("official_crossing_at_06_00_local", "Northgate open from minute 06:00 (crossed 06:00:30)",
         "car", NORTHGATE[0], local("06:00", seconds=30), 60.0, E.BORDER_CROSSING, False),
        ("crossing_pings_9_min_59_s_apart", "dt just below 10 min: an official crossing",
         "car", SOUTHGATE[0], ten, 599.0, E.BORDER_CROSSING, False),
        ("crossing_pings_10_min_apart_is_dark", "dt exactly 10 min: dark, not official",
         "car", SOUTHGATE[0], ten, 600.0, E.DARK_CROSSING, False),
    ]  # fmt: skip
    out = [
        EventCase(
            name,
            description,
            _numbered(_crossing(vehicle, lat, t_x, dt_s)),
            (_crossed(kind, vehicle, lat, t_x, dt_s, night),),
        )
        for name, description, vehicle, lat, t_x, dt_s, kind, night in cases
    ]
    westward = _crossing("van", SOUTHGATE[0], ten, eastward=False)
    out.append(
        EventCase(
            "crossing_westward",
            "east to west at Southgate",
            _numbered(westward),
            (_crossed(E.BORDER_CROSSING, "van", SOUTHGATE[0], ten),),
        )
    )
    beyond = _timed(
        "car",
        [(ten, (8.49, 2.995)), (ten + timedelta(minutes=1), (8.51, 3.0)),
         (ten + timedelta(minutes=2), (8.49, 3.005))],
    )  # fmt: skip
    out.append(
        EventCase(
            "no_crossing_through_neither_side",
            "side 0, then beyond the line's end (side -1), then side 1: never a crossing",
            _numbered(beyond),
            (),
        )
    )
    for dt_s, kind in ((900.0, E.BORDER_CROSSING), (1_500.0, E.DARK_CROSSING)):
        out.append(
            EventCase(
                f"crossing_of_a_device_every_5_min_after_{dt_s / 60:.0f}_min",
                "a device reporting every 5 min crosses between fixes "
                f"{dt_s / 60:.0f} min apart: dark only from 5 usual intervals (25 min)",
                _numbered(_crossing("car", SOUTHGATE[0], ten, dt_s, every_s=300.0)),
                (_crossed(kind, "car", SOUTHGATE[0], ten, dt_s),),
            )
        )
    dark = _timed("car", [(ten, (7.5, 2.5)), (ten + timedelta(hours=2), (7.5, 3.5))])
    out.append(
        EventCase(
            "dark_crossing_far_from_border",
            "two pings 55 km either side of the border, 2 h apart: dark, but no gap near it",
            _numbered(dark),
            (Expected(E.DARK_CROSSING, "car", ten, 7.5, 3.0),),
        )
    )
    out += _settling_cases(ten)
    watched = _crossing("wanted", 7.6, local("11:00"))
    out.append(
        EventCase(
            "watchlisted_vehicle_crosses_unofficially",
            "a watch-listed car crosses 60 km from any crossing: two events",
            _numbered(watched),
            (
                _crossed(E.UNOFFICIAL_CROSSING, "wanted", 7.6, local("11:00")),
                Expected(E.WATCHLIST_HIT, "wanted", watched["ts"][0], 7.6, 2.990),
            ),
            watchlist=_watchlist("wanted"),
        )
    )
    return out


def _queue(vehicle: str, t0: datetime, minutes: int, outliers: Sequence[int]) -> list:
    """Return (time, point) rows: approach Southgate from 2 km west, then wait `minutes` 5 m
    west of the line, one fix a minute, the fixes numbered in `outliers` 60 m east of it."""
    approach = [(t0 + timedelta(minutes=k), offset(SOUTHGATE, east_m=m))
                for k, m in enumerate((-2_000, -1_000, -400))]  # fmt: skip
    wait = [
        (t0 + timedelta(minutes=3 + k), offset(SOUTHGATE, east_m=60 if k in outliers else -5))
        for k in range(minutes)
    ]
    return approach + wait


def _settling_cases(t0: datetime) -> list[EventCase]:
    """Crossing hysteresis: the vehicle must report settled (> 150 m) on the new side."""
    idle = _queue("queue", t0, 40, (5, 15, 16, 30))
    back = [(idle[-1][0] + timedelta(minutes=k), offset(SOUTHGATE, east_m=-600 * k))
            for k in (1, 2, 3)]  # fmt: skip
    through = _queue("queue", t0, 12, (4, 9))
    last_west = through[-1][0]
    onward = [(last_west + timedelta(minutes=k), offset(SOUTHGATE, east_m=m))
              for k, m in ((1, 120), (2, 600), (3, 1_500))]  # fmt: skip
    short, long, longer = (
        _timed("car", [(t0, offset(SOUTHGATE, east_m=-1_000)),
                       (t0 + timedelta(minutes=1), offset(SOUTHGATE, east_m=-300)),
                       (t0 + timedelta(minutes=2), offset(SOUTHGATE, east_m=metres))])
        for metres in (140, 160, 200)
    )  # fmt: skip
    accuracy_60 = pl.lit(60.0, pl.Float32).alias("accuracy_m")
    return [
        EventCase(
            "idling_at_a_post_with_outliers_across_is_no_crossing",
            "40 min 5 m west of Southgate, four fixes 60 m east of the line: no crossing, "
            "no shuttle (nor a loiter: 2 km from an official crossing)",
            _numbered(_timed("queue", idle + back)),
            (),
        ),
        EventCase(
            "jitter_then_through_is_one_crossing",
            "waits 12 min at Southgate with two fixes across, then drives on: one crossing, "
            "on the last change of side",
            _numbered(_timed("queue", through + onward)),
            (Expected(E.BORDER_CROSSING, "queue", last_west, *SOUTHGATE),),
        ),
        EventCase(
            "crossing_not_settled_at_140_m",
            "the last fix 140 m past the line (settled means > 150 m): no crossing yet",
            _numbered(short),
            (),
        ),
        EventCase(
            "crossing_settled_at_160_m",
            "the last fix 160 m past the line: a crossing",
            _numbered(long),
            (Expected(E.BORDER_CROSSING, "car", t0 + timedelta(minutes=1), *SOUTHGATE),),
        ),
        EventCase(
            "crossing_at_160_m_reporting_60_m_accuracy_is_not_settled",
            "the same fixes reporting accuracy_m 60: settled means > 3 × 60 = 180 m",
            _numbered(long.with_columns(accuracy_60)),
            (),
        ),
        EventCase(
            "crossing_at_200_m_reporting_60_m_accuracy_is_settled",
            "the last fix 200 m past the line, accuracy_m 60: a crossing",
            _numbered(longer.with_columns(accuracy_60)),
            (Expected(E.BORDER_CROSSING, "car", t0 + timedelta(minutes=1), *SOUTHGATE),),
        ),
    ]


# ----------------------------------------------------------------------------- gaps
def _gap_cases() -> list[EventCase]:
    t0 = local("10:00")
    far_side = (GAP[0] + 0.02, 3.045)
    same_side = (GAP[0] + 0.02, GAP[1])
    mid = (GAP[0] + 0.01, GAP[1])

    def pair(second: tuple[float, float], after: timedelta) -> pl.DataFrame:
        return _numbered(_timed("car", [(t0, GAP), (t0 + after, second)]))

    def every_10_min(hole: int) -> pl.DataFrame:
        """Fixes 10 min and 500 m apart (3 km/h: no stop, no moving run) around the hole, whose
        two fixes are 1.1 km apart either side of `mid`."""
        before = [
            (t0 + timedelta(minutes=10 * k), offset(mid, -550 - 500 * (3 - k))) for k in range(4)
        ]
        after = [
            (t0 + timedelta(minutes=30 + hole + 10 * k), offset(mid, 550 + 500 * k))
            for k in range(4)
        ]
        return _numbered(_timed("car", before + after))

    return [
        EventCase(
            "gap_same_side_30_min",
            "30 min without pings, 5 km from the border, same side",
            pair(same_side, timedelta(minutes=30)),
            (Expected(E.SIGNAL_GAP_NEAR_BORDER, "car", t0, *mid),),
        ),
        EventCase(
            "gap_opposite_sides_40_min",
            "a 40 min gap with the sides changed: also a dark crossing",
            pair(far_side, timedelta(minutes=40)),
            (
                Expected(E.SIGNAL_GAP_NEAR_BORDER, "car", t0, mid[0], 3.0),
                Expected(E.DARK_CROSSING, "car", t0, mid[0], 3.0),
            ),
        ),
        EventCase(
            "gap_29_min_59_s",
            "just under 30 min: no gap",
            pair(same_side, timedelta(minutes=29, seconds=59)),
            (),
        ),
        *(
            EventCase(
                f"gap_of_a_device_every_10_min_{hole}_min",
                f"a device reporting every 10 min, silent {hole} min 5 km from the border: "
                "a gap only from 5 usual intervals (50 min)",
                every_10_min(hole),
                (Expected(E.SIGNAL_GAP_NEAR_BORDER, "car", t0 + timedelta(minutes=30), *mid),)
                if hole >= 50
                else (),
            )
            for hole in (40, 50)
        ),
        EventCase(
            "gap_with_one_end_beyond_10_km",
            "the second ping is 11 km from the border",
            pair((GAP[0] + 0.02, 2.90), timedelta(minutes=40)),
            (),
        ),
    ]


# ---------------------------------------------------------------------------- stops
def _stop_cases() -> list[EventCase]:
    t0 = local("10:00")
    near_gate = offset(NORTHGATE, 1_900, -110)
    clear_of_gate = offset(NORTHGATE, 2_100, -110)
    spiky = pl.concat(
        [
            _parked("car", LOITER, t0, [0, 5, 10, 15, 20, 25]),
            _timed("car", [(t0 + timedelta(minutes=12.5), offset(LOITER, east_m=-20_000))]),
        ]
    ).sort("ts")
    wide = _timed(
        "car",
        [
            (t0 + timedelta(minutes=m), offset(LOITER, east_m=250 * (k % 2)))
            for k, m in enumerate(range(0, 35, 5))
        ],
    )
    outliers = {10: (0, 125), 20: (0, -125), 30: (130, 0)}  # minute: (north, east) metres
    spread = _timed(
        "car",
        [
            (t0 + timedelta(minutes=m), offset(LOITER, *outliers.get(m, (5 * (-1) ** m, 0))))
            for m in range(41)
        ],
    )
    return [
        EventCase(
            "loiter_with_outliers_spread_250_m_is_one_loiter",
            "40 min parked, one fix a minute, three 125-130 m off (250 m apart): one loiter "
            "from the first fix (the fix breaking the diameter is an outlier)",
            _numbered(spread),
            (Expected(E.BORDER_LOITER, "car", t0, *LOITER, end=t0 + timedelta(minutes=40)),),
        ),
        EventCase(
            "loiter_exactly_20_min",
            "parked 20 min 3.3 km from the border, far from crossings and towns",
            _numbered(_parked("car", LOITER, t0, [0, 5, 10, 15, 20])),
            (Expected(E.BORDER_LOITER, "car", t0, *LOITER, end=t0 + timedelta(minutes=20)),),
        ),
        EventCase(
            "stop_19_min_is_not_loiter",
            "parked 19 min",
            _numbered(_parked("car", LOITER, t0, [0, 5, 10, 15, 19])),
            (),
        ),
        EventCase(
            "stop_in_town_is_not_loiter",
            "parked 30 min in Midtown, 4.4 km from the border",
            _numbered(_parked("car", MIDTOWN, t0, range(0, 35, 5))),
            (),
        ),
        EventCase(
            "stop_1_9_km_from_crossing_is_not_loiter",
            "parked 25 min 1.9 km from Northgate",
            _numbered(_parked("car", near_gate, t0, range(0, 30, 5))),
            (),
        ),
        EventCase(
            "stop_2_1_km_from_crossing_is_loiter",
            "parked 25 min 2.1 km from Northgate",
            _numbered(_parked("car", clear_of_gate, t0, range(0, 30, 5))),
            (Expected(E.BORDER_LOITER, "car", t0, *clear_of_gate),),
        ),
        EventCase(
            "stop_wider_than_200_m_is_no_stop",
            "30 min moving slowly back and forth between two points 250 m apart",
            _numbered(wide),
            (),
        ),
        EventCase(
            "stop_split_by_a_trip_break",
            "15 min parked, 30 min silent, 15 min parked: two short halves and one gap",
            _numbered(_parked("car", LOITER, t0, [0, 5, 10, 15, 45, 50, 55, 60])),
            (Expected(E.SIGNAL_GAP_NEAR_BORDER, "car", t0 + timedelta(minutes=15), *LOITER),),
        ),
        EventCase(
            "loiter_ignores_a_spike",
            "parked 25 min with one GPS spike 20 km away in the middle: one loiter",
            _numbered(spiky),
            (Expected(E.BORDER_LOITER, "car", t0, *LOITER, end=t0 + timedelta(minutes=25)),),
        ),
    ]


# ----------------------------------------------------------------------- rendezvous
def _rendezvous_cases() -> list[EventCase]:
    t0 = local("23:00")
    beside = offset(MEETING, east_m=100)
    mid = offset(MEETING, east_m=50)

    def meet(
        a_minutes: Sequence[float],
        b_minutes: Sequence[float],
        apart_m: float = 100,
        at: tuple[float, float] = MEETING,
        names: tuple[str, str] = ("truck-a", "truck-b"),
    ) -> pl.DataFrame:
        return _numbered(
            _parked(names[0], at, t0, a_minutes),
            _parked(names[1], offset(at, east_m=apart_m), t0, b_minutes),
        )

    def met(start_min: float, end_min: float, first: str = "truck-a", other: str = "truck-b"):
        return Expected(
            E.RENDEZVOUS, first, t0 + timedelta(minutes=start_min), *mid,
            other_vehicle_id=other, end=t0 + timedelta(minutes=end_min), night=True,
        )  # fmt: skip

    minutes_11, minutes_10, minutes_9 = range(12), range(11), range(10)
    far = (MEETING[0], 2.77)
    a_at = [0, 0.5, 2, 3, 4.5, 6, 6.5, 8, 9.5, 10, 11.5, 12, 13, 14.5, 15, 16.5, 18, 19]
    stray = {m: offset(MEETING, north_m=300) for m in (6, 12, 13)}

    def creep(east_m: float, more_m: float) -> tuple[float, float]:
        return offset(MEETING, east_m=east_m + more_m)

    return [
        EventCase(
            "rendezvous_11_min",
            "two trucks parked 100 m apart for 11 min at night",
            meet(minutes_11, minutes_11),
            (met(0, 11),),
        ),
        EventCase("rendezvous_9_min", "only 9 min together", meet(minutes_9, minutes_9), ()),
        EventCase(
            "rendezvous_exactly_10_min",
            "10 min together",
            meet(minutes_10, minutes_10),
            (met(0, 10),),
        ),
        EventCase(
            "rendezvous_partial_overlap",
            "a parked 0-15 min, b 5-20 min: the event is the 10 min overlap",
            meet(range(16), range(5, 21)),
            (met(5, 15),),
        ),
        EventCase("rendezvous_310_m_apart", "too far apart", meet(minutes_11, minutes_11, 310), ()),
        EventCase(
            "rendezvous_in_town",
            "meeting in Midtown is normal activity",
            meet(minutes_11, minutes_11, at=MIDTOWN),
            (),
        ),
        EventCase(
            "rendezvous_25_km_from_border",
            "beyond the 20 km rendezvous zone",
            meet(minutes_11, minutes_11, at=far),
            (),
        ),
        EventCase(
            "rendezvous_pair_order",
            "vehicle_id is the smaller id whichever is listed first",
            meet(minutes_11, minutes_11, names=("zulu-9", "alpha-1")),
            (met(0, 11, "alpha-1", "zulu-9"),),
        ),
        EventCase(
            "rendezvous_while_loitering",
            "both parked 25 min: each loiters, and they meet",
            meet(range(0, 30, 5), range(0, 30, 5)),
            (
                met(0, 25),
                Expected(E.BORDER_LOITER, "truck-a", t0, *MEETING),
                Expected(E.BORDER_LOITER, "truck-b", t0, *beside),
            ),
        ),
        EventCase(
            "rendezvous_stray_fixes_are_one_meeting",
            "a reports every 30-90 s with a fix 300 m off at 6 min and two at 12-13 min, b every"
            " 2 min: one meeting (before: three, split at the strays)",
            _numbered(
                _timed(
                    "truck-a", [(t0 + timedelta(minutes=m), stray.get(m, MEETING)) for m in a_at]
                ),
                _parked("truck-b", beside, t0, range(0, 19, 2)),
            ),
            (met(0, 18),),
        ),
        EventCase(
            "rendezvous_passing_slowly_is_none",
            "a creeps 1 km east and b 1 km west past it at 3 km/h: their runs' centres coincide,"
            " but at common times they are within 300 m for only 6 min",
            _numbered(
                _timed(
                    "truck-a", [(t0 + timedelta(minutes=m), creep(-500, 50 * m)) for m in range(21)]
                ),
                _timed(
                    "truck-b", [(t0 + timedelta(minutes=m), creep(500, -50 * m)) for m in range(21)]
                ),
            ),
            (),
        ),
    ]


# ------------------------------------------------------------------------- off road
def _off_road_cases() -> list[EventCase]:
    t0 = local("10:00")
    road_400 = offset((NORTHGATE[0], 2.93), 400)
    road_600 = offset((NORTHGATE[0], 2.93), 600)
    slow = pl.concat(
        [
            _driving("jeep", OFF_ROAD, t0, 6, north_m_per_min=500),
            _driving(
                "jeep", offset(OFF_ROAD, 3_050), t0 + timedelta(minutes=7), 6, north_m_per_min=500
            ),
        ]
    )
    road = (NORTHGATE[0], 2.93)

    def out_and_back(first_m: float) -> pl.DataFrame:
        """A fix `first_m` north of the road, 9 min of fixes 650-1450 m off it, then back."""
        north = [first_m, 650, 850, 1050, 1250, 1450, 1450, 1250, 1050, 850, 650, first_m]
        east = [0] * 6 + [200] * 6
        points = [offset(road, m, e) for m, e in zip(north, east, strict=True)]
        return make_track("jeep", t0, points)

    return [
        EventCase(
            "off_road_from_the_road_crossing_500_m",
            "fixes 450 m, then 650 m from the road, 9 min off it, back at 650 then 450 m: the "
            "run lasts from crossing 500 m (a quarter of the minute in) to crossing it back",
            _numbered(out_and_back(450)),
            (
                Expected(
                    E.OFF_ROAD_NEAR_BORDER,
                    "jeep",
                    t0 + timedelta(minutes=1),
                    *offset(road, 650),
                    end=t0 + timedelta(minutes=10),
                ),
            ),
        ),
        EventCase(
            "off_road_from_the_road_crossing_500_m_late",
            "the same with the fixes around it 100 m from the road: 500 m is crossed 0.8 of "
            "the minute in and out, 9.4 min off the road",
            _numbered(out_and_back(100)),
            (),
        ),
        EventCase(
            "off_road_exactly_10_min",
            "30 km/h across country 5.5 km from the border for 10 min",
            _numbered(_driving("jeep", OFF_ROAD, t0, 10, north_m_per_min=500)),
            (
                Expected(
                    E.OFF_ROAD_NEAR_BORDER, "jeep", t0, *OFF_ROAD, end=t0 + timedelta(minutes=10)
                ),
            ),
        ),
        EventCase(
            "off_road_9_min",
            "the same for 9 min",
            _numbered(_driving("jeep", OFF_ROAD, t0, 9, north_m_per_min=500)),
            (),
        ),
        EventCase(
            "off_road_interrupted_by_a_slow_segment",
            "6 min moving, one minute at 3 km/h, 6 min moving: two short runs",
            _numbered(slow),
            (),
        ),
        EventCase(
            "off_road_400_m_from_a_road",
            "10 min driving parallel to the road, 400 m from it",
            _numbered(_driving("jeep", road_400, t0, 10, east_m_per_min=500)),
            (),
        ),
        EventCase(
            "off_road_600_m_from_a_road",
            "10 min driving parallel to the road, 600 m from it",
            _numbered(_driving("jeep", road_600, t0, 10, east_m_per_min=500)),
            (Expected(E.OFF_ROAD_NEAR_BORDER, "jeep", t0, *road_600),),
        ),
        EventCase(
            "off_road_beyond_10_km_from_border",
            "10 min across country 16.5 km from the border",
            _numbered(_driving("jeep", (OFF_ROAD[0], 2.85), t0, 10, north_m_per_min=500)),
            (),
        ),
    ]


# -------------------------------------------------------------------------- shuttle
def _shuttle(crossings: Sequence[tuple[datetime, float]]) -> pl.DataFrame:
    """Crossings at Southgate alternating direction, driving 20 km away in between."""
    parts = []
    for k, (t_x, dt_s) in enumerate(crossings):
        eastward = k % 2 == 0
        parts.append(_crossing("shuttle", SOUTHGATE[0], t_x, dt_s, eastward))
        west, east = (SOUTHGATE[0], 2.81), (SOUTHGATE[0], 3.19)
        drive = timedelta(seconds=1.5 * dt_s, minutes=20)
        before = [(t_x - drive, west if eastward else east)] if k else []
        parts.append(_timed("shuttle", [*before, (t_x + drive, east if eastward else west)]))
    return _numbered(pl.concat(parts).sort("ts"))


def _shuttle_cases() -> list[EventCase]:
    times = [local("08:00"), local("14:00"), local("20:00")]
    in_24h, after_24h = local("07:55", day=1), local("08:05", day=1)

    def crossed(t_x: datetime, dt_s: float = 60.0, kind: EventType = E.BORDER_CROSSING):
        return _crossed(kind, "shuttle", SOUTHGATE[0], t_x, dt_s)

    shuttle = Expected(E.SHUTTLE, "shuttle", times[0], *SOUTHGATE, end=in_24h)
    return [
        EventCase(
            "shuttle_4_crossings_in_23_h_55",
            "four official crossings, the last 23 h 55 min after the first",
            _shuttle([(t, 60.0) for t in [*times, in_24h]]),
            (*(crossed(t) for t in [*times, in_24h]), shuttle),
        ),
        EventCase(
            "shuttle_3_crossings",
            "three crossings in a day are not a shuttle",
            _shuttle([(t, 60.0) for t in times]),
            tuple(crossed(t) for t in times),
        ),
        EventCase(
            "shuttle_4_crossings_in_24_h_05",
            "the fourth crossing 24 h 05 min after the first",
            _shuttle([(t, 60.0) for t in [*times, after_24h]]),
            tuple(crossed(t) for t in [*times, after_24h]),
        ),
        EventCase(
            "shuttle_counts_dark_crossings",
            "three official crossings and one dark one (pings 12 min apart)",
            _shuttle([*((t, 60.0) for t in times), (in_24h, 720.0)]),
            (*(crossed(t) for t in times), crossed(in_24h, 720.0, E.DARK_CROSSING), shuttle),
        ),
    ]


# -------------------------------------------------------------------------- transit
def _route(
    vehicle: str,
    t0: datetime,
    *,
    stop_at: int | None = None,
    stop_minutes: Sequence[float] = (),
    stop_point: tuple[float, float] | None = None,
    deviate: Sequence[int] = (),
    last: int = 35,
) -> tuple[pl.DataFrame, dict[int, datetime]]:
    """Drive corridor C1 east from 3.20°E, a ping every 2 min at 66 km/h, to the destination.

    Ping k is at 3.20 + 0.02·k °E (k = 35 is the destination); pings in `deviate` are 1.5 km
    north of the corridor; at `stop_at` the vehicle parks (at `stop_point`) with pings at
    `stop_minutes`. Returns the pings and the time of each route ping k.
    """
    rows, times, shift = [], {}, timedelta(0)
    for k in range(last + 1):
        ts = t0 + timedelta(minutes=2 * k) + shift
        point = (CORRIDOR_LAT, 3.20 + 0.02 * k)
        if k in deviate:
            point = offset(point, 1_500)
        times[k] = ts
        if k == stop_at:
            rows += [(ts + timedelta(minutes=m), stop_point or point) for m in stop_minutes]
            shift += timedelta(minutes=stop_minutes[-1])
        else:
            rows.append((ts, point))
    return _timed(vehicle, rows), times


def _transit_cases() -> list[EventCase]:
    t0 = local("09:00")
    four_h = t0 + timedelta(hours=4)
    declared = _declaration("truck", t0, four_h)
    minutes_30, minutes_29, minutes_40 = (
        [*range(0, 30, 5), 30],
        [*range(0, 30, 5), 29],
        range(0, 45, 5),
    )
    on_route, _ = _route("truck", t0)
    deviated, times_2 = _route("truck", t0, deviate=(10, 11))
    stopped, stop_times = _route("truck", t0, stop_at=5, stop_minutes=minutes_30)
    short, _ = _route("truck", t0, stop_at=5, stop_minutes=minutes_29)
    in_disc = offset(STOP_AREA_POINT, east_m=600)
    at_point, _ = _route("truck", t0, stop_at=15, stop_minutes=minutes_40, stop_point=in_disc)
    in_box = (CORRIDOR_LAT, (STOP_AREA_BOX[0] + STOP_AREA_BOX[2]) / 2)
    at_box, _ = _route("truck", t0, stop_at=25, stop_minutes=minutes_40, stop_point=in_box)
    halfway, _ = _route("truck", t0, last=20)
    late_deadline = t0 + timedelta(minutes=60)
    between = late_deadline + timedelta(minutes=1)

    def bystander(ts: datetime) -> pl.DataFrame:
        return _timed("bystander", [(ts, (7.3, 3.4))])

    return [
        EventCase(
            "transit_on_route",
            "a declared truck drives its corridor to the destination",
            _numbered(on_route),
            (),
            declarations=declared,
        ),
        EventCase(
            "route_deviation_2_pings",
            "two consecutive pings 1.5 km off the corridor: from where the truck left it, "
            "1 km out, two thirds of the way from the ping before (80 s after it)",
            _numbered(deviated),
            (
                Expected(
                    E.ROUTE_DEVIATION,
                    "truck",
                    times_2[9] + timedelta(seconds=80),
                    *offset((7.0, 3.38 + 0.02 * 2 / 3), 1_000),
                ),
            ),
            declarations=declared,
        ),
        EventCase(
            "route_deviation_1_ping",
            "a single ping 1.5 km off the corridor",
            _numbered(_route("truck", t0, deviate=(10,))[0]),
            (),
            declarations=declared,
        ),
        EventCase(
            "route_deviation_before_declaration",
            "off the corridor before the declaration starts",
            _numbered(deviated),
            (),
            declarations=_declaration("truck", t0 + timedelta(minutes=25), four_h),
        ),
        EventCase(
            "unauthorized_stop_30_min",
            "parked 30 min on the corridor, outside any stop area",
            _numbered(stopped),
            (Expected(E.UNAUTHORIZED_STOP, "truck", stop_times[5], CORRIDOR_LAT, 3.30),),
            declarations=declared,
        ),
        EventCase(
            "stop_29_min_is_not_unauthorized",
            "parked 29 min",
            _numbered(short),
            (),
            declarations=declared,
        ),
        EventCase(
            "stop_in_point_stop_area",
            "parked 40 min 600 m from a point stop area (a 1 km disc)",
            _numbered(at_point),
            (),
            declarations=declared,
        ),
        EventCase(
            "stop_in_polygon_stop_area",
            "parked 40 min inside a polygon stop area",
            _numbered(at_box),
            (),
            declarations=declared,
        ),
        EventCase(
            "stop_without_declaration",
            "the same 30 min stop by an undeclared truck",
            _numbered(stopped),
            (),
        ),
        EventCase(
            "transit_overdue",
            "the truck stops reporting halfway; another vehicle reports after the deadline",
            _numbered(halfway, bystander(four_h + timedelta(minutes=10))),
            (Expected(E.TRANSIT_OVERDUE, "truck", four_h, CORRIDOR_LAT, 3.60, end=four_h),),
            declarations=declared,
        ),
        EventCase(
            "transit_overdue_not_yet_due",
            "the same, but the data ends before the deadline",
            _numbered(halfway, bystander(four_h - timedelta(minutes=10))),
            (),
            declarations=declared,
        ),
        EventCase(
            "transit_completed_exactly_at_deadline",
            "arrives at the destination at the deadline",
            _numbered(on_route),
            (),
            declarations=_declaration("truck", t0, t0 + timedelta(minutes=70)),
        ),
        EventCase(
            "transit_completed_late",
            "arrives 10 min after the deadline: overdue, located at the last ping before it",
            _numbered(on_route),
            (Expected(E.TRANSIT_OVERDUE, "truck", late_deadline, CORRIDOR_LAT, 3.80),),
            declarations=_declaration("truck", t0, late_deadline),
        ),
        EventCase(
            "transit_overdue_between_fixes",
            "the deadline falls between two fixes 2 min apart: located where the truck was then,"
            " half way (before: at the fix 1.1 km back)",
            _numbered(on_route),
            (Expected(E.TRANSIT_OVERDUE, "truck", between, CORRIDOR_LAT, 3.81),),
            declarations=_declaration("truck", t0, between),
        ),
    ]


# ------------------------------------------------------------------------ watch list
def _watchlist_cases() -> list[EventCase]:
    t0 = local("10:00")
    minutes = [2 * k for k in range(5)]
    near = _timed("wanted", [(t0 + timedelta(minutes=m), offset(WATCH, 500 * m)) for m in minutes])
    far = _timed(
        "wanted", [(t0 + timedelta(minutes=m), offset((WATCH[0], 3.2), 500 * m)) for m in minutes]
    )
    lons = [3.15, 3.15, 3.25, 3.25, 3.15, 3.15]
    twice = _timed(
        "wanted", [(t0 + timedelta(minutes=5 * k), (WATCH[0], lon)) for k, lon in enumerate(lons)]
    )

    def across(lons: Sequence[float]) -> pl.DataFrame:
        """The listed car at WATCH's latitude at these longitudes, 2 min apart."""
        return _timed(
            "wanted", [(t0 + timedelta(minutes=2 * k), (WATCH[0], x)) for k, x in enumerate(lons)]
        )

    clone = _timed(
        "wanted",
        [
            (t0 + timedelta(minutes=3 * k), offset(FAR_A if c == "A" else WATCH, 5 * k))
            for k, c in enumerate("AABBAABBAA")
        ],
    )
    return [
        EventCase(
            "watchlist_jitter_at_the_band_is_one_hit",
            "16.5, 18.8, 20.03, 18.8, 16.5 km from the border: the fix just beyond 20 km (within "
            "the 150 m settle margin) does not end the hit",
            _numbered(across([3.15, 3.17, 3.1815, 3.17, 3.15])),
            (Expected(E.WATCHLIST_HIT, "wanted", t0, *WATCH, end=t0 + timedelta(minutes=8)),),
            watchlist=_watchlist("wanted"),
        ),
        EventCase(
            "watchlist_beyond_the_settle_margin_is_two_hits",
            "the same with the middle fix 20.2 km from the border: two hits, the second from "
            "where the band was entered again",
            _numbered(across([3.15, 3.17, 3.183, 3.17, 3.15])),
            (
                Expected(E.WATCHLIST_HIT, "wanted", t0, *WATCH),
                Expected(  # entering the band 14 % of the way from the fix at 20.2 km
                    E.WATCHLIST_HIT,
                    "wanted",
                    t0 + timedelta(minutes=4, seconds=17),
                    WATCH[0],
                    3.1812,
                ),
            ),
            watchlist=_watchlist("wanted"),
        ),
        EventCase(
            "watchlist_margin_grows_with_reported_accuracy",
            "the fix 20.2 km from the border reports accuracy_m 100: the band is left only "
            "beyond 20 km + 3 × 100 m, one hit",
            _numbered(
                across([3.15, 3.17, 3.183, 3.17, 3.15]).with_columns(
                    pl.lit(100.0, pl.Float32).alias("accuracy_m")
                )
            ),
            (Expected(E.WATCHLIST_HIT, "wanted", t0, *WATCH, end=t0 + timedelta(minutes=8)),),
            watchlist=_watchlist("wanted"),
        ),
        EventCase(
            "watchlist_hit_starts_where_the_band_was_entered",
            "fixes 21 km then 18.8 km from the border 2 min apart: the hit starts 44 % of the "
            "way, 53 s after the first fix, 20 km from the border",
            _numbered(across([3.19, 3.17, 3.15])),
            (
                Expected(
                    E.WATCHLIST_HIT,
                    "wanted",
                    t0 + timedelta(seconds=53),
                    WATCH[0],
                    3.1812,
                    end=t0 + timedelta(minutes=4),
                ),
            ),
            watchlist=_watchlist("wanted"),
        ),
        EventCase(
            "watchlist_clone_in_the_band_is_no_hit",
            "the listed id reports in pairs from 77 km and from 16.5 km from the border (an "
            "identity conflict): the clone's pairs are no hit",
            _numbered(clone),
            (
                Expected(
                    E.IDENTITY_CONFLICT,
                    "wanted",
                    t0 + timedelta(minutes=6),
                    *FAR_A,
                    end=t0 + timedelta(minutes=24),
                ),
            ),
            watchlist=_watchlist("wanted"),
        ),
        EventCase(
            "watchlist_hit_near_border",
            "a listed car 16.5 km from the border: one hit for the whole run",
            _numbered(near),
            (Expected(E.WATCHLIST_HIT, "wanted", t0, *WATCH, end=t0 + timedelta(minutes=8)),),
            watchlist=_watchlist("wanted"),
        ),
        EventCase(
            "watchlist_far_from_border",
            "a listed car 22 km from the border",
            _numbered(far),
            (),
            watchlist=_watchlist("wanted"),
        ),
        EventCase(
            "watchlist_expired",
            "the listing expired the day before",
            _numbered(near),
            (),
            watchlist=_watchlist("wanted", t0 - timedelta(days=1)),
        ),
        EventCase(
            "watchlist_expires_mid_track",
            "the listing expires at the third ping: the hit covers the first two",
            _numbered(near),
            (Expected(E.WATCHLIST_HIT, "wanted", t0, *WATCH, end=t0 + timedelta(minutes=2)),),
            watchlist=_watchlist("wanted", t0 + timedelta(minutes=4)),
        ),
        EventCase(
            "watchlist_two_runs",
            "near, far, near again: two hits",
            _numbered(twice),
            (
                Expected(E.WATCHLIST_HIT, "wanted", t0, *WATCH),
                Expected(  # from where it entered the band, between 27.6 and 16.5 km
                    E.WATCHLIST_HIT,
                    "wanted",
                    t0 + timedelta(minutes=18, seconds=26),
                    WATCH[0],
                    3.1812,
                ),
            ),
            watchlist=_watchlist("wanted"),
        ),
        EventCase(
            "not_on_watchlist",
            "the same car, not listed",
            _numbered(near),
            (),
            watchlist=_watchlist("someone-else"),
        ),
    ]


# ----------------------------------------------------------------- identity and GNSS
def _alternating(pattern: str, interval_min: float) -> tuple[pl.DataFrame, list[datetime]]:
    """Pings of one id, each at FAR_A ('A') or FAR_B ('B'), `interval_min` apart."""
    t0 = local("10:00")
    rows = [
        (t0 + timedelta(minutes=interval_min * k), offset(FAR_A if c == "A" else FAR_B, 5 * k))
        for k, c in enumerate(pattern)
    ]
    return _numbered(_timed("clone", rows)), [ts for ts, _ in rows]


def _spiky(
    spikes: dict[int, tuple[float, float]], minutes: int = 80
) -> tuple[pl.DataFrame, list[datetime], list[tuple[float, float]]]:
    """A car driving north at 40 km/h, a ping a minute, with ping k moved by spikes[k] (°)."""
    t0 = local("10:00")
    times = [t0 + timedelta(minutes=k) for k in range(minutes + 1)]
    points = [offset(FAR_A, 666.7 * k) for k in range(minutes + 1)]
    moved = [
        (lat + spikes[k][0], lon + spikes[k][1]) if k in spikes else (lat, lon)
        for k, (lat, lon) in enumerate(points)
    ]
    return _numbered(_timed("gps", list(zip(times, moved, strict=True)))), times, points


def _identity_gnss_cases() -> list[EventCase]:
    two_tracks, times = _alternating("AABBAABB", 5)
    singles, single_times = _alternating("AABAABAABAA", 3)
    hourly, hourly_times = _alternating("AABBAABB", 15)
    east = (0.0, 0.18)  # 20 km
    in_hour, hour_times, hour_points = _spiky({10: east, 30: east, 50: east})
    exactly, exact_times, exact_points = _spiky({10: east, 40: east, 70: east})
    far, far_times, far_points = _spiky({10: (0.9, 0.0), 20: (-0.9, 0.0), 30: (0.0, -0.9)})
    t0 = local("10:00")
    # the real device drives north 1 km a minute, silent from minute 2 to 7; the clone reports
    # from FAR_B at minutes 5, 6, 9, 10, 13, 14
    real = [(t0 + timedelta(minutes=m), offset(FAR_A, 1_000 * m)) for m in (0, 1, 2, 7, 8, 11, 12)]
    clone = [(t0 + timedelta(minutes=m), FAR_B) for m in (5, 6, 9, 10, 13, 14)]
    after_hole = _numbered(_timed("clone", sorted(real + clone)))
    return [
        EventCase(
            "identity_conflict_after_a_hole",
            "the clone's first fix comes 3 min into a 5 min hole of the real device's fixes: the "
            "conflict starts then, where the real device was (5 km north), not at its fix before",
            after_hole,
            (
                Expected(
                    E.IDENTITY_CONFLICT,
                    "clone",
                    t0 + timedelta(minutes=5),
                    *offset(FAR_A, 5_000),
                    end=t0 + timedelta(minutes=13),
                ),
            ),
        ),
        EventCase(
            "identity_conflict_two_tracks",
            "one id reports alternately from two places 111 km apart, 3 jumps in 30 min",
            two_tracks,
            (Expected(E.IDENTITY_CONFLICT, "clone", times[2], *FAR_A, end=times[6]),),
        ),
        EventCase(
            "identity_two_alternations",
            "only two jumps",
            _alternating("AABBAA", 5)[0],
            (),
        ),
        EventCase(
            "identity_alternations_over_1_h",
            "three jumps spread over 100 min",
            _alternating("AABBAABB", 25)[0],
            (),
        ),
        EventCase(
            "identity_alternations_exactly_1_h",
            "three jumps, the first and third exactly 60 min apart",
            hourly,
            (Expected(E.IDENTITY_CONFLICT, "clone", hourly_times[2], *FAR_A),),
        ),
        EventCase(
            "identity_conflict_not_gnss",
            "the clone reports one ping at a time: its pings look like spikes but are not GNSS",
            singles,
            (Expected(E.IDENTITY_CONFLICT, "clone", single_times[2], *FAR_A),),
        ),
        EventCase(
            "gnss_three_spikes_in_40_min",
            "three isolated 20 km spikes within 40 min",
            in_hour,
            (Expected(E.GNSS_ANOMALY, "gps", hour_times[10], *hour_points[9], end=hour_times[50]),),
        ),
        EventCase(
            "gnss_spikes_exactly_1_h",
            "the first and third spike exactly 60 min apart",
            exactly,
            (Expected(E.GNSS_ANOMALY, "gps", exact_times[10], *exact_points[9]),),
        ),
        EventCase(
            "gnss_spikes_over_61_min",
            "the first and third spike 61 min apart",
            _spiky({10: east, 40: east, 71: east})[0],
            (),
        ),
        EventCase("gnss_two_spikes", "only two spikes", _spiky({10: east, 40: east})[0], ()),
        EventCase(
            "gnss_double_spikes_are_not_isolated",
            "three pairs of consecutive bad pings: no ping is an isolated spike",
            _spiky({k: east for k in (10, 11, 30, 31, 50, 51)})[0],
            (),
        ),
        EventCase(
            "gnss_far_spikes_are_not_identity",
            "spikes 100 km away in three directions: jumps, but no second plausible track",
            far,
            (Expected(E.GNSS_ANOMALY, "gps", far_times[10], *far_points[9]),),
        ),
    ]


CASES: list[EventCase] = [
    *_crossing_cases(),
    *_gap_cases(),
    *_stop_cases(),
    *_rendezvous_cases(),
    *_off_road_cases(),
    *_shuttle_cases(),
    *_transit_cases(),
    *_watchlist_cases(),
    *_identity_gnss_cases(),
]
CASES_BY_NAME: dict[str, EventCase] = {case.name: case for case in CASES}

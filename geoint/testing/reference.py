"""The slow reference implementation of every track event type of docs/events.md.

This module is the oracle the fast detectors (`geoint.detect.events`) and the scenario generator's
ground truth are checked against: it follows docs/events.md sentence by sentence with plain
Python loops per vehicle, per ping and per pair of stationary runs, and shares no code with the
fast path except the layer queries of the `Ground` it is given. It is deliberately slow (about
10⁴ pings per second): use it on test cases and small scenarios, never in the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from geoint.geodesy import distance_m
from geoint.ground import Ground
from geoint.h3index import latlng_to_cells
from geoint.schema import EVENT_SCHEMA, EventType
from geoint.settings import GeointSettings

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class _Ping:
    """One ping with the layer answers at its position."""

    ping_id: int
    vehicle_id: str
    ts: datetime
    lat: float
    lon: float
    side: int = -1
    border_m: float = math.inf
    road_m: float = math.inf
    crossing_m: float = math.inf
    place_m: float = math.inf
    accuracy_m: float | None = None  # reported by the tracker, if at all


@dataclass
class _Event:
    """An event before the fields common to every type are filled in."""

    event_type: EventType
    vehicle_id: str
    start: datetime
    end: datetime
    lat: float
    lon: float
    evidence: list[int]
    detail: dict[str, object]
    other_vehicle_id: str | None = None
    side_from: int | None = None  # None: the side at lat/lon
    side_to: int | None = None
    reference: datetime | None = None  # time at which night is evaluated; None: start


@dataclass
class _Crossing:
    """A segment whose pings are on sides 0 and 1."""

    before: _Ping
    after: _Ping
    lat: float
    lon: float
    t_x: datetime


@dataclass
class _Declaration:
    """A transit declaration with its completion time (None if never completed)."""

    vehicle_id: str
    corridor_id: str
    start: datetime
    deadline: datetime
    dest_lat: float
    dest_lon: float
    completed: datetime | None = None

    @property
    def active_until(self) -> datetime:
        """Completion time, or the deadline when never completed."""
        return self.completed if self.completed is not None else self.deadline

    def active_at(self, ts: datetime) -> bool:
        """Whether the declaration is active at `ts` (both ends included)."""
        return self.start <= ts <= self.active_until


@dataclass
class _Track:
    """One vehicle's pings: raw (with spikes) and clean (spikes removed), split into trips."""

    raw: list[_Ping]
    spikes: list[int]  # indices into raw
    clean: list[_Ping] = field(default_factory=list)
    trips: list[list[_Ping]] = field(default_factory=list)


def reference_events(
    pings: pl.DataFrame,
    ground: Ground,
    settings: GeointSettings,
    declarations: pl.DataFrame | None = None,
    watchlist: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Return every event of docs/events.md for `pings` (EVENT_SCHEMA rows, sorted).

    `pings` needs ping_id, vehicle_id, ts (UTC), lat, lon; a stored ``spike`` flag is ignored
    (spikes are recomputed over whole tracks). `declarations` has vehicle_id, corridor_id,
    start, deadline, dest_lat, dest_lon; `watchlist` has vehicle_id and expires (null: never).
    """
    tracks = _tracks(pings, ground, settings)
    conflicted = {v: _identity_conflict_events(t, settings) for v, t in tracks.items()}
    crossings = {
        v: [
            c
            for c in _crossings(t.clean, ground, settings)
            if not any(c.before.ts <= k.end and c.after.ts >= k.start for k in conflicted[v])
        ]
        for v, t in tracks.items()
    }
    decls = _declarations(declarations, tracks, settings)
    events: list[_Event] = []
    for vehicle, track in tracks.items():
        events += _crossing_events(crossings[vehicle], track, ground, settings)
        events += _gap_events(track, settings)
        stops = [s for trip in track.trips for s in _stops(trip, settings)]
        events += _loiter_events(stops, ground, settings)
        events += _unauthorized_stop_events(stops, decls.get(vehicle, []), ground, settings)
        events += _off_road_events(track, ground, settings)
        events += _route_deviation_events(track, decls.get(vehicle, []), ground, settings)
        events += _watchlist_events(
            track, _expiries(watchlist, vehicle), conflicted[vehicle], ground, settings
        )
        events += _shuttle_events(crossings[vehicle], settings)
        conflicts = conflicted[vehicle]
        events += conflicts
        events += _gnss_events(track, conflicts, settings)
    events += _rendezvous_events(tracks, ground, settings)
    data_end = pings["ts"].max() if pings.height else None
    events += _overdue_events(decls, tracks, data_end, settings.tracks.trip_gap_s)
    return _frame(events, ground, settings)


# ------------------------------------------------------------------------ preparation
def _tracks(pings: pl.DataFrame, ground: Ground, settings: GeointSettings) -> dict[str, _Track]:
    """Return each vehicle's track: sorted pings, spikes, clean pings and trips."""
    rows = pings.select("ping_id", "vehicle_id", "ts", "lat", "lon").sort("ts", "ping_id")
    lat, lon = rows["lat"].to_numpy(), rows["lon"].to_numpy()
    crossing_m, _ = ground.nearest_crossing(lat, lon)
    layers = zip(
        ground.side(lat, lon),
        ground.distance_to_border_m(lat, lon),
        ground.distance_to_road_m(lat, lon),
        crossing_m,
        ground.distance_to_place_m(lat, lon),
        strict=True,
    )
    by_vehicle: dict[str, list[_Ping]] = defaultdict(list)
    accuracy = (
        pings.sort("ts", "ping_id")["accuracy_m"].to_list()
        if "accuracy_m" in pings.columns
        else [None] * rows.height
    )
    for row, (side, border, road, crossing, place), acc in zip(
        rows.iter_rows(), layers, accuracy, strict=True
    ):
        ping = _Ping(*row, int(side), float(border), float(road), float(crossing), float(place))
        ping.accuracy_m = acc
        by_vehicle[ping.vehicle_id].append(ping)
    tracks = {}
    for vehicle in sorted(by_vehicle):
        raw = by_vehicle[vehicle]
        spikes = _spikes(raw, settings.ingest.spike_speed_kmh)
        spiked = set(spikes)
        clean = [p for i, p in enumerate(raw) if i not in spiked]
        tracks[vehicle] = _Track(raw, spikes, clean, _trips(clean, settings.tracks.trip_gap_s))
    return tracks


def _spikes(raw: Sequence[_Ping], max_kmh: float) -> list[int]:
    """Return indices of pings implausible to both neighbours, which are plausible together."""
    return [
        k
        for k in range(1, len(raw) - 1)
        if _speed_kmh(raw[k - 1], raw[k]) > max_kmh
        and _speed_kmh(raw[k], raw[k + 1]) > max_kmh
        and _speed_kmh(raw[k - 1], raw[k + 1]) <= max_kmh
    ]


def _trips(clean: Sequence[_Ping], gap_s: float) -> list[list[_Ping]]:
    """Split pings where consecutive pings are at least `gap_s` apart."""
    trips: list[list[_Ping]] = []
    for ping in clean:
        if not trips or _seconds(trips[-1][-1], ping) >= gap_s:
            trips.append([])
        trips[-1].append(ping)
    return trips


def _seconds(a: _Ping, b: _Ping) -> float:
    return (b.ts - a.ts).total_seconds()


def _speed_kmh(a: _Ping, b: _Ping) -> float:
    metres, seconds = distance_m(a.lat, a.lon, b.lat, b.lon), _seconds(a, b)
    if seconds <= 0:
        return math.inf if metres > 0 else 0.0
    return metres / seconds * 3.6


def _runs(
    pings: Sequence[_Ping],
    keep: Callable[[_Ping], bool],
    joins: Callable[[_Ping, _Ping], bool] = lambda a, b: True,
) -> list[list[_Ping]]:
    """Return maximal runs of consecutive pings that all `keep`, linked by segments that `join`."""
    runs: list[list[_Ping]] = []
    current: list[_Ping] = []
    for ping in pings:
        if keep(ping) and current and joins(current[-1], ping):
            current.append(ping)
            continue
        if current:
            runs.append(current)
        current = [ping] if keep(ping) else []
    if current:
        runs.append(current)
    return runs


def _merged_windows(times: Sequence[datetime], count: int, within_s: float) -> list[list[int]]:
    """Return index groups: every `count` consecutive times spanning ≤ `within_s`, merged."""
    windows: list[list[int]] = []
    for i in range(len(times) - count + 1):
        if (times[i + count - 1] - times[i]).total_seconds() > within_s:
            continue
        if windows and times[i] <= times[windows[-1][-1]]:
            windows[-1] = list(range(windows[-1][0], i + count))
        else:
            windows.append(list(range(i, i + count)))
    return windows


# -------------------------------------------------------------------------- crossings
def _settle_m(ping: _Ping, settle_m: float, settings: GeointSettings) -> float:
    """The ping's settle distance: `settle_m`, or more for a fix reporting a poor accuracy."""
    if ping.accuracy_m is None:
        return settle_m
    return max(settle_m, settings.events.settle_accuracy_factor * ping.accuracy_m)


def _crossing_segments(
    clean: Sequence[_Ping], settings: GeointSettings
) -> list[tuple[_Ping, _Ping]]:
    """Return the crossing segments: at each settled ping (farther than its settle distance
    from the border) on the side opposite the last settled one, the last change into its
    side."""
    found = []
    state = None  # side of the last settled ping
    into: dict[int, tuple[_Ping, _Ping]] = {}  # last change into each side since then
    for k, ping in enumerate(clean):
        if k and {clean[k - 1].side, ping.side} == {0, 1}:
            into[ping.side] = (clean[k - 1], ping)
        if ping.side >= 0 and ping.border_m > _settle_m(
            ping, settings.events.crossing_settle_m, settings
        ):
            if state is not None and state != ping.side and ping.side in into:
                found.append(into[ping.side])
            state, into = ping.side, {}
    return found


def _crossings(clean: Sequence[_Ping], ground: Ground, settings: GeointSettings) -> list[_Crossing]:
    """Return every crossing segment, with its crossing point and time."""
    found = []
    for a, b in _crossing_segments(clean, settings):
        lat, lon, fraction = ground.border_intersection(
            np.array([a.lat]), np.array([a.lon]), np.array([b.lat]), np.array([b.lon])
        )
        if np.isnan(fraction[0]):
            point, share = ((a.lat + b.lat) / 2, (a.lon + b.lon) / 2), 0.5
        else:
            point, share = (float(lat[0]), float(lon[0])), float(fraction[0])
        t_x = a.ts + timedelta(
            microseconds=round((b.ts - a.ts) / timedelta(microseconds=1) * share)
        )
        found.append(_Crossing(a, b, point[0], point[1], t_x))
    return found


def _usual_interval_s(track: _Track) -> float | None:
    """The median interval between consecutive pings of one trip (None without any)."""
    intervals = [_seconds(a, b) for trip in track.trips for a, b in pairwise(trip)]
    return statistics.median(intervals) if intervals else None


def _is_gap(dt: float, threshold_s: float, track: _Track, settings: GeointSettings) -> bool:
    """Whether a hole of `dt` seconds is a gap: at least the setting and the device's factor
    times its usual interval."""
    usual = _usual_interval_s(track)
    factor = settings.events.gap_interval_factor
    return dt >= threshold_s and (usual is None or dt >= factor * usual)


def _crossing_events(
    crossings: Sequence[_Crossing], track: _Track, ground: Ground, settings: GeointSettings
) -> list[_Event]:
    s = settings.events
    events = []
    for c in crossings:
        dt = (c.after.ts - c.before.ts).total_seconds()
        _, rows, metres = ground.crossings_within(
            np.array([c.lat]), np.array([c.lon]), s.crossing_official_radius_m
        )
        if _is_gap(dt, s.crossing_max_gap_s, track, settings):
            kind = EventType.DARK_CROSSING
        elif len(rows) == 0:
            kind = EventType.UNOFFICIAL_CROSSING
        elif ground.crossing_open(rows, _utc64([c.t_x] * len(rows))).any():
            kind = EventType.BORDER_CROSSING
        else:
            kind = EventType.CLOSED_HOURS_CROSSING
        detail = {
            "dt_s": dt,
            "crossing_time": c.t_x.isoformat(),
            "official_within_m": metres.tolist(),
        }
        events.append(
            _Event(kind, c.before.vehicle_id, c.before.ts, c.after.ts, c.lat, c.lon,
                   [c.before.ping_id, c.after.ping_id], detail,
                   side_from=c.before.side, side_to=c.after.side, reference=c.t_x)
        )  # fmt: skip
    return events


def _shuttle_events(crossings: Sequence[_Crossing], settings: GeointSettings) -> list[_Event]:
    s = settings.events
    ordered = sorted(crossings, key=lambda c: c.t_x)
    events = []
    windows = _merged_windows([c.t_x for c in ordered], s.shuttle_min_crossings, s.shuttle_window_s)
    for window in windows:
        members = [ordered[i] for i in window]
        evidence = list(dict.fromkeys(p.ping_id for c in members for p in (c.before, c.after)))
        first = members[0]
        events.append(
            _Event(EventType.SHUTTLE, first.before.vehicle_id, first.t_x, members[-1].t_x,
                   first.lat, first.lon, evidence, {"crossings": len(members)})
        )  # fmt: skip
    return events


# ------------------------------------------------------------------------------- gaps
def _gap_events(track: _Track, settings: GeointSettings) -> list[_Event]:
    near = settings.tracks.near_border_m
    events = []
    for a, b in pairwise(track.clean):
        dt = _seconds(a, b)
        if (
            _is_gap(dt, settings.events.signal_gap_s, track, settings)
            and a.border_m <= near
            and b.border_m <= near
        ):
            events.append(
                _Event(EventType.SIGNAL_GAP_NEAR_BORDER, a.vehicle_id, a.ts, b.ts,
                       (a.lat + b.lat) / 2, (a.lon + b.lon) / 2, [a.ping_id, b.ping_id],
                       {"dt_s": dt}, side_from=a.side, side_to=b.side)
            )  # fmt: skip
    return events


# ------------------------------------------------------------------------------ stops
class _Stop(list):
    """A stop's pings, with `inliers`: those its diameter and centre are measured on."""

    inliers: list[_Ping]


def _stops(trip: Sequence[_Ping], settings: GeointSettings) -> list[_Stop]:
    """Return the greedy stops of one trip (docs/events.md, Stops), outliers tolerated."""
    s = settings.events
    diameter, min_s = s.stop_diameter_m, s.stop_min_duration_s
    stops = []
    i = 0
    while i < len(trip):
        inliers, j, skipped = [trip[i]], i, 0

        def fits(r: int, inliers: list[_Ping] = inliers) -> bool:
            return all(
                distance_m(p.lat, p.lon, trip[r].lat, trip[r].lon) <= diameter for p in inliers
            )

        while j + 1 < len(trip):
            q = j + 1 if fits(j + 1) else None
            for r in range(j + 2, min(j + 2 + s.stop_outlier_run, len(trip))) if q is None else ():
                if skipped + r - (j + 1) > s.stop_outlier_share * (r - i + 1):
                    break
                if fits(r):
                    q = r
                    break
            if q is None:
                break
            skipped += q - (j + 1)
            inliers.append(trip[q])
            j = q
        if _seconds(trip[i], trip[j]) >= min_s:
            stop = _Stop(trip[i : j + 1])
            stop.inliers = inliers
            stops.append(stop)
            i = j + 1
        else:
            i += 1
    return stops


def _centre(pings: Sequence[_Ping]) -> tuple[float, float]:
    return sum(p.lat for p in pings) / len(pings), sum(p.lon for p in pings) / len(pings)


def _stop_event(kind: EventType, stop: _Stop, detail: dict) -> _Event:
    lat, lon = _centre(stop.inliers)
    detail = {"duration_s": _seconds(stop[0], stop[-1]), **detail}
    return _Event(
        kind, stop[0].vehicle_id, stop[0].ts, stop[-1].ts, lat, lon,
        [p.ping_id for p in stop], detail,
    )  # fmt: skip


def _loiter_events(
    stops: Sequence[_Stop], ground: Ground, settings: GeointSettings
) -> list[_Event]:
    events = []
    for stop in stops:
        lat, lon = _centre(stop.inliers)
        border, crossing, place = _at(ground, lat, lon)
        if (
            border <= settings.tracks.near_border_m
            and crossing > settings.events.loiter_clear_of_official_m
            and place > 0
        ):
            events.append(_stop_event(EventType.BORDER_LOITER, stop, {}))
    return events


def _unauthorized_stop_events(
    stops: Sequence[_Stop],
    decls: Sequence[_Declaration],
    ground: Ground,
    settings: GeointSettings,
) -> list[_Event]:
    s = settings.events
    events = []
    for stop in stops:
        if _seconds(stop[0], stop[-1]) < s.unauthorized_stop_min_s:
            continue
        lat, lon = _centre(stop.inliers)
        for d in decls:
            if not (d.start <= stop[0].ts and stop[-1].ts <= d.active_until):
                continue
            in_area = ground.in_stop_area(
                np.array([lat]), np.array([lon]), np.array([d.corridor_id], dtype=object)
            )[0]
            to_destination = distance_m(lat, lon, d.dest_lat, d.dest_lon)
            if not in_area and to_destination > s.transit_arrival_radius_m:
                detail = {"corridor_id": d.corridor_id, "to_destination_m": to_destination}
                events.append(_stop_event(EventType.UNAUTHORIZED_STOP, stop, detail))
                break
    return events


# ------------------------------------------------------------------------------- runs
def _run_event(kind: EventType, run: Sequence[_Ping], detail: dict) -> _Event:
    return _Event(
        kind, run[0].vehicle_id, run[0].ts, run[-1].ts, run[0].lat, run[0].lon,
        [p.ping_id for p in run], detail,
    )  # fmt: skip


def _off_road_events(track: _Track, ground: Ground, settings: GeointSettings) -> list[_Event]:
    s, t = settings.events, settings.tracks
    limit = s.off_road_distance_m

    def moving(a: _Ping, b: _Ping) -> bool:
        return _speed_kmh(a, b) >= t.moving_speed_kmh

    def crossed(outside: _Ping | None, inside: _Ping) -> datetime:
        """When the vehicle reached `limit` from a road between `outside` and `inside`."""
        if outside is None or outside.border_m > t.near_border_m:
            return inside.ts
        if not moving(*sorted((outside, inside), key=lambda p: p.ts)):
            return inside.ts
        (d_out, d_in) = ground.distance_to_road_m(
            np.array([outside.lat, inside.lat]), np.array([outside.lon, inside.lon])
        )
        fraction = min(max((limit - d_out) / (d_in - d_out), 0.0), 1.0)
        micros = round(fraction * (inside.ts - outside.ts) / timedelta(microseconds=1))
        return outside.ts + timedelta(microseconds=micros)

    events = []
    for trip in track.trips:
        position = {p.ping_id: k for k, p in enumerate(trip)}
        runs = _runs(
            trip,
            keep=lambda p: p.road_m >= limit and p.border_m <= t.near_border_m,
            joins=moving,
        )
        for run in runs:
            k, m = position[run[0].ping_id], position[run[-1].ping_id]
            start = crossed(trip[k - 1] if k > 0 else None, run[0])
            end = crossed(trip[m + 1] if m + 1 < len(trip) else None, run[-1])
            duration = (end - start).total_seconds()
            if duration >= s.off_road_min_duration_s:
                detail = {"duration_s": duration}
                events.append(_run_event(EventType.OFF_ROAD_NEAR_BORDER, run, detail))
    return events


def _route_deviation_events(
    track: _Track, decls: Sequence[_Declaration], ground: Ground, settings: GeointSettings
) -> list[_Event]:
    s = settings.events
    events = []
    for d in decls:
        for trip in track.trips:
            active = [p for p in trip if d.active_at(p.ts)]
            if not active:
                continue
            metres = ground.distance_to_corridor_m(
                np.array([p.lat for p in active]),
                np.array([p.lon for p in active]),
                np.array([d.corridor_id] * len(active), dtype=object),
            )
            off = {p.ping_id: float(m) for p, m in zip(active, metres, strict=True)}
            away = {i for i, m in off.items() if m > s.route_deviation_m}
            position = {p.ping_id: k for k, p in enumerate(trip)}
            # Runs are of consecutive pings of the trip: an inactive ping ends a run.
            for run in _runs(trip, keep=lambda p, away=away: p.ping_id in away):
                if len(run) >= s.route_deviation_min_pings:
                    detail = {"corridor_id": d.corridor_id, "pings": len(run)}
                    event = _run_event(EventType.ROUTE_DEVIATION, run, detail)
                    k = position[run[0].ping_id]
                    if k > 0 and trip[k - 1].ping_id in off:  # left the corridor from there
                        before, first = trip[k - 1], run[0]
                        d_before, d_first = off[before.ping_id], off[first.ping_id]
                        f = (s.route_deviation_m - d_before) / (d_first - d_before)
                        micros = round(f * ((first.ts - before.ts) / timedelta(microseconds=1)))
                        event.start = before.ts + timedelta(microseconds=micros)
                        event.lat, event.lon = _position_at([before, first], event.start)
                    events.append(event)
    return events


def _watchlist_events(
    track: _Track,
    expiries: Sequence[datetime | None],
    conflicts: Sequence[_Event],
    ground: Ground,
    settings: GeointSettings,
) -> list[_Event]:
    if not expiries:
        return []
    band = settings.events.watchlist_near_border_m

    def clear(p: _Ping) -> bool:
        """On the list and in no identity conflict: its distance decides."""
        on_list = any(e is None or p.ts < e for e in expiries)
        return on_list and not any(k.start <= p.ts <= k.end for k in conflicts)

    def settle(p: _Ping) -> float:
        return _settle_m(p, settings.events.watchlist_settle_m, settings)

    def hit(run: list[_Ping], before: _Ping | None) -> _Event:
        event = _run_event(EventType.WATCHLIST_HIT, run, {"pings": len(run)})
        if before is not None:  # entered the band between `before` and the run's first fix
            first = run[0]
            d_before, d_first = ground.distance_to_border_m(
                np.array([before.lat, first.lat]), np.array([before.lon, first.lon])
            )
            fraction = min(max((d_before - band) / (d_before - d_first), 0.0), 1.0)
            micros = round(fraction * ((first.ts - before.ts) / timedelta(microseconds=1)))
            event.start = before.ts + timedelta(microseconds=micros)
            event.lat = before.lat + fraction * (first.lat - before.lat)
            event.lon = before.lon + fraction * (first.lon - before.lon)
        return event

    events = []
    for trip in track.trips:
        run: list[_Ping] = []
        entry: _Ping | None = None
        for k, p in enumerate(trip):
            on_list = any(e is None or p.ts < e for e in expiries)
            if clear(p) and p.border_m <= band:
                if not run:
                    entry = trip[k - 1] if k > 0 and clear(trip[k - 1]) else None
                run.append(p)
            elif run and on_list and (not clear(p) or p.border_m <= band + settle(p)):
                run.append(p)  # between the band and the band plus margin, or in a conflict
            elif run:
                events.append(hit(run, entry))
                run = []
        if run:
            events.append(hit(run, entry))
    return events


# ------------------------------------------------------------------------- rendezvous
def _stationary_runs(track: _Track, settings: GeointSettings) -> list[tuple[list[_Ping], set]]:
    """Return stationary runs (within a trip) as (pings, ids of their stray fixes).

    From the first unused ping, the run's next ping is the next one if their segment is not
    moving; once the run has two pings, also the first of the following `rendezvous_stray_run`
    + 1 pings whose segment from the run's last ping is not moving, the pings skipped on the
    way being strays. A run ends where there is none; ≥ 2 pings are kept.
    """
    moving, skip = settings.tracks.moving_speed_kmh, settings.events.rendezvous_stray_run
    runs = []
    for trip in track.trips:
        i = 0
        while i < len(trip):
            j, strays = i, set()
            while True:
                ahead = trip[j + 1 : j + 2 + (skip if j > i else 0)]
                slow = [k for k, p in enumerate(ahead) if _speed_kmh(trip[j], p) < moving]
                if not slow:
                    break
                strays |= {p.ping_id for p in ahead[: slow[0]]}
                j += slow[0] + 1
            if j > i:
                runs.append((trip[i : j + 1], strays))
                i = j + 1
            else:
                i += 1
    return runs


def _position_at(run: Sequence[_Ping], moment: datetime) -> tuple[float, float]:
    """Return the run's lat/lon at `moment`, linear between the fixes around it."""
    before = [p for p in run if p.ts <= moment][-1]
    after = [p for p in run if p.ts > moment]
    if before.ts == moment or not after:
        return before.lat, before.lon
    f = (moment - before.ts) / (after[0].ts - before.ts)
    return before.lat + f * (after[0].lat - before.lat), before.lon + f * (
        after[0].lon - before.lon
    )


def _median_apart(
    run1: Sequence[_Ping], run2: Sequence[_Ping], start: datetime, end: datetime
) -> float:
    """Return the median distance between the runs (strays removed) at their common times:
    every fix of either inside [start, end], the other run interpolated to its time."""
    metres = []
    for run, other in ((run1, run2), (run2, run1)):
        for p in run:
            if start <= p.ts <= end:
                lat, lon = _position_at(other, p.ts)
                metres.append(distance_m(p.lat, p.lon, lat, lon))
    return statistics.median(metres)


def _rendezvous_events(
    tracks: dict[str, _Track], ground: Ground, settings: GeointSettings
) -> list[_Event]:
    """Compare every pair of stationary runs of different vehicles that overlap long enough.

    Runs are sorted by start, so the partners of a run are the runs after it that start at
    least the minimum duration before it ends.
    """
    s = settings.events
    runs = sorted(
        (
            (vehicle, run, [p for p in run if p.ping_id not in strays])
            for vehicle, track in tracks.items()
            for run, strays in _stationary_runs(track, settings)
        ),
        key=lambda item: (item[1][0].ts, item[0]),
    )
    latest_start = timedelta(seconds=s.rendezvous_min_duration_s)
    events = []
    for i, (v1, run1, fixes1) in enumerate(runs):
        for v2, run2, fixes2 in runs[i + 1 :]:
            if run2[0].ts > run1[-1].ts - latest_start:
                break
            if v1 == v2:
                continue
            start, end = max(run1[0].ts, run2[0].ts), min(run1[-1].ts, run2[-1].ts)
            if (end - start).total_seconds() < s.rendezvous_min_duration_s:
                continue
            (lat1, lon1), (lat2, lon2) = _centre(fixes1), _centre(fixes2)
            apart = distance_m(lat1, lon1, lat2, lon2)
            if apart > s.rendezvous_distance_m:
                continue
            if _median_apart(fixes1, fixes2, start, end) > s.rendezvous_distance_m:
                continue
            lat, lon = (lat1 + lat2) / 2, (lon1 + lon2) / 2
            border, crossing, place = _at(ground, lat, lon)
            if (
                border > s.rendezvous_near_border_m
                or crossing <= s.loiter_clear_of_official_m
                or place <= 0
            ):
                continue
            (first, run_a), (other, run_b) = sorted([(v1, run1), (v2, run2)], key=lambda x: x[0])
            evidence = [p.ping_id for p in run_a] + [p.ping_id for p in run_b]
            detail = {"apart_m": apart, "overlap_s": (end - start).total_seconds()}
            events.append(
                _Event(EventType.RENDEZVOUS, first, start, end, lat, lon, evidence, detail,
                       other_vehicle_id=other)
            )  # fmt: skip
    return events


# ------------------------------------------------------------------ identity and gnss
def _identity_conflict_events(track: _Track, settings: GeointSettings) -> list[_Event]:
    s = settings.events
    raw, plausible = track.raw, settings.ingest.spike_speed_kmh
    jumps = [
        k
        for k in range(1, len(raw))
        if distance_m(raw[k - 1].lat, raw[k - 1].lon, raw[k].lat, raw[k].lon)
        > s.identity_conflict_distance_m
    ]
    windows = _merged_windows(
        [raw[k].ts for k in jumps], s.identity_conflict_alternations, s.identity_conflict_window_s
    )
    events = []
    for window in windows:
        pings = raw[jumps[window[0]] - 1 : jumps[window[-1]] + 1]
        first = pings[0]
        near = [
            distance_m(first.lat, first.lon, p.lat, p.lon) <= s.identity_conflict_distance_m
            for p in pings
        ]
        groups = [
            [p for p, n in zip(pings, near, strict=True) if n],
            [p for p, n in zip(pings, near, strict=True) if not n],
        ]
        if all(
            len(g) >= 2 and all(_speed_kmh(a, b) <= plausible for a, b in pairwise(g))
            for g in groups
        ):
            # It starts at the clone's first fix, where the first fix's device then was.
            clone_first = pings[1]
            lat, lon = _position_at(groups[0][:2], clone_first.ts)
            detail = {"jumps": len(window), "group_sizes": [len(g) for g in groups]}
            events.append(
                _Event(EventType.IDENTITY_CONFLICT, first.vehicle_id, clone_first.ts,
                       pings[-1].ts, lat, lon, [p.ping_id for p in pings], detail)
            )  # fmt: skip
    return events


def _gnss_events(
    track: _Track, conflicts: Sequence[_Event], settings: GeointSettings
) -> list[_Event]:
    s = settings.events
    raw = track.raw
    spikes = [k for k in track.spikes if not any(c.start <= raw[k].ts <= c.end for c in conflicts)]
    windows = _merged_windows(
        [raw[k].ts for k in spikes], s.gnss_anomaly_min_spikes, s.gnss_anomaly_window_s
    )
    events = []
    for window in windows:
        members = [spikes[i] for i in window]
        before = raw[members[0] - 1]
        events.append(
            _Event(EventType.GNSS_ANOMALY, before.vehicle_id, raw[members[0]].ts,
                   raw[members[-1]].ts, before.lat, before.lon,
                   [raw[k].ping_id for k in members], {"spikes": len(members)})
        )  # fmt: skip
    return events


# ---------------------------------------------------------------------------- transit
def _declarations(
    frame: pl.DataFrame | None, tracks: dict[str, _Track], settings: GeointSettings
) -> dict[str, list[_Declaration]]:
    """Return each vehicle's declarations with their completion times, by start."""
    out: dict[str, list[_Declaration]] = defaultdict(list)
    if frame is None:
        return out
    columns = ("vehicle_id", "corridor_id", "start", "deadline", "dest_lat", "dest_lon")
    for row in frame.select(columns).sort("start", "vehicle_id").iter_rows():
        d = _Declaration(*row)
        track = tracks.get(d.vehicle_id)
        arrivals = [
            p.ts
            for p in (track.clean if track else [])
            if p.ts >= d.start
            and distance_m(p.lat, p.lon, d.dest_lat, d.dest_lon)
            <= settings.events.transit_arrival_radius_m
        ]
        d.completed = arrivals[0] if arrivals else None
        out[d.vehicle_id].append(d)
    return out


def _overdue_events(
    decls: dict[str, list[_Declaration]],
    tracks: dict[str, _Track],
    data_end: datetime | None,
    trip_gap_s: float,
) -> list[_Event]:
    """Late declarations, placed where the vehicle was at the deadline (interpolated towards
    its next ping of the same trip)."""
    events = []
    for vehicle, items in decls.items():
        for d in items:
            on_time = d.completed is not None and d.completed <= d.deadline
            if on_time or data_end is None or data_end < d.deadline:
                continue
            track = tracks.get(vehicle)
            pings = track.clean if track else []
            known = [p for p in pings if p.ts <= d.deadline]
            last = known[-1] if known else None
            lat, lon = (last.lat, last.lon) if last else (d.dest_lat, d.dest_lon)
            after = [p for p in pings if p.ts > d.deadline][:1]
            if last and after and _seconds(last, after[0]) < trip_gap_s:
                lat, lon = _position_at([last, after[0]], d.deadline)
            detail = {"corridor_id": d.corridor_id, "completed": str(d.completed)}
            events.append(
                _Event(EventType.TRANSIT_OVERDUE, vehicle, d.deadline, d.deadline, lat, lon,
                       [last.ping_id] if last else [], detail)
            )  # fmt: skip
    return events


def _expiries(watchlist: pl.DataFrame | None, vehicle: str) -> list[datetime | None]:
    if watchlist is None:
        return []
    rows = watchlist.filter(pl.col("vehicle_id") == vehicle)
    if "expires" not in rows.columns:
        return [None] * rows.height
    return rows["expires"].to_list()


# ----------------------------------------------------------------------- every event
def _at(ground: Ground, lat: float, lon: float) -> tuple[float, float, float]:
    """Return metres to the border, the nearest official crossing and the nearest place."""
    la, lo = np.array([lat]), np.array([lon])
    return (
        float(ground.distance_to_border_m(la, lo)[0]),
        float(ground.nearest_crossing(la, lo)[0][0]),
        float(ground.distance_to_place_m(la, lo)[0]),
    )


def _utc64(moments: Sequence[datetime]) -> np.ndarray:
    return np.array(
        [m.astimezone(UTC).replace(tzinfo=None) for m in moments], dtype="datetime64[us]"
    )


def _night(moment: datetime, zone: ZoneInfo, settings: GeointSettings) -> bool:
    hour = moment.astimezone(zone).hour
    start, end = settings.events.night_start_hour, settings.events.night_end_hour
    return (hour >= start or hour < end) if start > end else start <= hour < end


def event_id(
    event_type: str,
    vehicle_id: str,
    other_vehicle_id: str | None,
    evidence: Sequence[int],
    start: datetime,
) -> str:
    """Return the deterministic id of an event (docs/events.md, Every event)."""
    micros = (start - EPOCH) // timedelta(microseconds=1)
    first = str(evidence[0]) if len(evidence) else ""
    key = f"{event_type}|{vehicle_id}|{other_vehicle_id or ''}|{first}|{micros}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def _frame(events: Sequence[_Event], ground: Ground, settings: GeointSettings) -> pl.DataFrame:
    """Return the events as EVENT_SCHEMA rows, with the fields common to every type filled in."""
    if not events:
        return pl.DataFrame(schema=EVENT_SCHEMA)
    lat = np.array([e.lat for e in events])
    lon = np.array([e.lon for e in events])
    cells = latlng_to_cells(lat, lon, settings.h3_resolution)
    side = ground.side(lat, lon)
    border = ground.distance_to_border_m(lat, lon)
    crossing, _ = ground.nearest_crossing(lat, lon)
    zone = ZoneInfo(ground.timezone)
    rows = [
        {
            "event_id": event_id(
                e.event_type, e.vehicle_id, e.other_vehicle_id, e.evidence, e.start
            ),
            "event_type": str(e.event_type),
            "vehicle_id": e.vehicle_id,
            "other_vehicle_id": e.other_vehicle_id,
            "start": e.start,
            "end": e.end,
            "lat": e.lat,
            "lon": e.lon,
            "cell": int(cells[i]),
            "side_from": int(side[i]) if e.side_from is None else e.side_from,
            "side_to": int(side[i]) if e.side_to is None else e.side_to,
            "night": _night(e.reference or e.start, zone, settings),
            "distance_to_border_m": float(border[i]),
            "distance_to_crossing_m": float(crossing[i]),
            "evidence": e.evidence,
            "detail": json.dumps(e.detail, sort_keys=True, default=str),
        }
        for i, e in enumerate(events)
    ]
    return pl.DataFrame(rows, schema=EVENT_SCHEMA).sort(
        "start", "event_type", "vehicle_id", "other_vehicle_id", "event_id"
    )

"""Ground truth of generated scenarios: every event docs/events.md implies for a set of pings.

The scenario generator plants behaviour, but the truth is what the definitions say about the
pings it actually wrote (side effects included: an off-road unofficial crossing is also
off-road driving near the border). This module is an implementation of docs/events.md of its
own, vectorised with numpy over all pings (numba for the greedy stop scan), independent of the
detectors it is used to score; the slow reference implementation must agree with it exactly.
Layer questions go through the `Ground` it is given. Times are float seconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import polars as pl

from geoint.geodesy import EARTH_RADIUS_M, distance_m, haversine_m
from geoint.ground import Ground
from geoint.schema import TRUTH_COLUMNS, UTC_DATETIME, EventType
from geoint.settings import GeointSettings

# Layer distances are measured exactly only for pings whose lat/lon grid cell (this size,
# degrees) cannot decide a threshold; the reach of a cell beyond its centre per degree of
# size is its half diagonal (at most 0.71 degree of latitude, 111.2 km each) and the metric
# CRS's scale error, with room to spare.
_BORDER_GRID_DEG = 0.01
_ROAD_GRID_DEG = 0.002
_REACH_M_PER_DEG = 100_000.0
_GRID_OFFSET = 1 << 30  # keeps grid indices positive in the cell keys
_GRID_STRIDE = 1 << 31
_QUERY_CHUNK = 500_000  # points per layer query
_HOUR_S = 3_600.0  # time bucket of stationary runs paired into rendezvous
_NO_VEHICLE = ""


@dataclass(frozen=True)
class _Pings:
    """Pings of many vehicles sorted by (vehicle, time): codes order as vehicle ids do."""

    vehicle: np.ndarray  # int64 code
    t: np.ndarray  # float seconds since the epoch
    lat: np.ndarray
    lon: np.ndarray
    accuracy: np.ndarray | None = None  # reported accuracy_m (NaN: none), if any ping has one

    def __len__(self) -> int:
        return len(self.t)

    def take(self, rows: np.ndarray) -> _Pings:
        accuracy = None if self.accuracy is None else self.accuracy[rows]
        return _Pings(self.vehicle[rows], self.t[rows], self.lat[rows], self.lon[rows], accuracy)

    def settled_beyond(
        self,
        ground: Ground,
        settle_m: float,
        factor: float,
        plus_m: float = 0.0,
        *subsets: np.ndarray,
    ) -> np.ndarray:
        """Return whether each ping (of `subsets`, if given: the others are far) lies farther
        than `plus_m` + its settle distance from the border (`settle_m`, or `factor` × its
        reported accuracy where larger)."""
        far = ~_within_border(ground, self.lat, self.lon, plus_m + settle_m, *subsets)
        if self.accuracy is None:
            return far
        settle = np.fmax(settle_m, factor * self.accuracy)
        wider = np.flatnonzero(far & (settle > settle_m))
        metres = ground.distance_to_border_m(self.lat[wider], self.lon[wider])
        far[wider] = metres > plus_m + settle[wider]
        return far

    def step(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (same vehicle, seconds, metres) from each ping to the next."""
        same = self.vehicle[1:] == self.vehicle[:-1]
        return (
            same,
            np.diff(self.t),
            _metres(self.lat[:-1], self.lon[:-1], self.lat[1:], self.lon[1:]),
        )


class _Events:
    """Event rows collected per type as arrays (vehicle codes, float times)."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        kind: EventType,
        vehicle: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        lat: np.ndarray,
        lon: np.ndarray,
        other: np.ndarray | None = None,
    ) -> None:
        count = len(vehicle)
        if count:
            self.parts.append(
                {
                    "event_type": np.full(count, str(kind), dtype=object),
                    "vehicle": np.asarray(vehicle, dtype=np.int64),
                    "other": np.full(count, -1) if other is None else np.asarray(other, np.int64),
                    "start": np.asarray(start, dtype=np.float64),
                    "end": np.asarray(end, dtype=np.float64),
                    "lat": np.asarray(lat, dtype=np.float64),
                    "lon": np.asarray(lon, dtype=np.float64),
                }
            )


def truth_events(
    pings: pl.DataFrame,
    ground: Ground,
    settings: GeointSettings,
    declarations: pl.DataFrame | None = None,
    watchlist: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Return every event of docs/events.md in `pings` as ground-truth rows (TRUTH_COLUMNS).

    `pings` has vehicle_id, ts (UTC), lat, lon, with no two pings of a vehicle at one time;
    `declarations` vehicle_id, corridor_id, start, deadline, dest_lat, dest_lon; `watchlist`
    vehicle_id, expires (null: never). Rows are sorted by start, type, vehicles, position.
    """
    reported = "accuracy_m" in pings.columns and pings["accuracy_m"].null_count() < pings.height
    ordered = pings.select("vehicle_id", "ts", "lat", "lon", *(["accuracy_m"] if reported else []))
    if not _is_sorted(ordered):
        ordered = ordered.sort("vehicle_id", "ts")
    ids = ordered["vehicle_id"]
    first = np.r_[True, (ids.slice(1) != ids.slice(0, len(ids) - 1)).to_numpy()] if len(ids) else []
    code = np.cumsum(first) - 1
    names = ids.filter(pl.Series(first, dtype=pl.Boolean)) if len(ids) else ids
    raw = _Pings(
        code.astype(np.int64),
        ordered["ts"].dt.epoch("us").to_numpy() / 1e6,
        ordered["lat"].to_numpy(),
        ordered["lon"].to_numpy(),
        ordered["accuracy_m"].cast(pl.Float64).to_numpy() if reported else None,
    )
    del ordered
    events = _Events()
    if len(raw):
        spike, conflicts = _raw_events(raw, settings, events)
        clean, data_end = raw.take(np.flatnonzero(~spike)), float(raw.t.max())
        del raw, spike  # the clean pings are all the rest needs
        _clean_events(
            clean, data_end, names, ground, settings, declarations, watchlist, conflicts, events
        )
    return _frame(events, names)


def _is_sorted(frame: pl.DataFrame) -> bool:
    """Whether pings are sorted by vehicle, then strictly by time within a vehicle."""
    if frame.height < 2:
        return True
    ids, ts = frame["vehicle_id"], frame["ts"]
    before, after = ids.slice(0, frame.height - 1), ids.slice(1)
    later = ts.slice(1) > ts.slice(0, frame.height - 1)
    return bool(((after > before) | ((after == before) & later)).all())


def _raw_events(
    raw: _Pings, settings: GeointSettings, events: _Events
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Add the events read on raw pings (identity conflicts, GNSS anomalies); return spikes
    and the conflicts."""
    spike = _spikes(raw, settings.ingest.spike_speed_kmh)
    conflicts = _identity_conflicts(raw, settings)
    events.add(EventType.IDENTITY_CONFLICT, *conflicts)
    _gnss(raw, spike, conflicts, settings, events)
    return spike, conflicts


def _clean_events(
    clean: _Pings,
    data_end: float,
    names: pl.Series,
    ground: Ground,
    settings: GeointSettings,
    declarations: pl.DataFrame | None,
    watchlist: pl.DataFrame | None,
    conflicts: tuple[np.ndarray, ...],
    events: _Events,
) -> None:
    """Add every event read on the pings without spikes; `data_end` is the last ping time,
    `conflicts` the identity conflicts (vehicle, start, end, ...)."""
    s, tracks = settings.events, settings.tracks
    same, dt, metres = clean.step()
    speed = _kmh(metres, dt)
    del metres
    trip = np.cumsum(np.r_[True, ~same | (dt >= tracks.trip_gap_s)])
    joined = trip[1:] == trip[:-1]  # segment k links pings k and k + 1 inside one trip
    # a hole is a gap for a device when it is also `gap_interval_factor` usual intervals
    usual = _median_interval(clean, joined, dt)[clean.vehicle[1:]]
    hole = np.where(np.isnan(usual), 0.0, s.gap_interval_factor * usual)
    crossings = _crossings(clean, dt, hole, ground, settings, conflicts, events)
    _shuttles(crossings, settings, events)
    gaps = np.flatnonzero(same & (dt >= s.signal_gap_s) & (dt >= hole))
    del hole
    del same, dt
    near = _within_border(ground, clean.lat, clean.lon, tracks.near_border_m, gaps, gaps + 1)
    g = gaps[near[gaps] & near[gaps + 1]]
    events.add(
        EventType.SIGNAL_GAP_NEAR_BORDER, clean.vehicle[g], clean.t[g], clean.t[g + 1],
        (clean.lat[g] + clean.lat[g + 1]) / 2, (clean.lon[g] + clean.lon[g + 1]) / 2,
    )  # fmt: skip
    del near
    first, last, inlier = _stops(trip, clean, settings)
    lat, lon = _means(clean.lat, first, last, inlier), _means(clean.lon, first, last, inlier)
    _loiters(clean, first, last, lat, lon, ground, settings, events)
    active = _Declarations(declarations, names, clean, settings)
    _unauthorized_stops(clean, first, last, lat, lon, active, ground, settings, events)
    _overdue(active, clean, data_end, tracks.trip_gap_s, events)
    _route_deviations(clean, joined, active, ground, settings, events)
    _off_road(clean, joined & (speed >= tracks.moving_speed_kmh), ground, settings, events)
    _watchlist_hits(clean, joined, names, watchlist, conflicts, ground, settings, events)
    _rendezvous(clean, trip, ground, settings, events)


# -------------------------------------------------------------------------- preparation
def _metres(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    return haversine_m(lat1, lon1, lat2, lon2)


def _kmh(metres: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Return speeds; two pings at one time are infinitely fast unless they coincide."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(seconds > 0, metres / seconds * 3.6, np.where(metres > 0, np.inf, 0.0))


def _spikes(raw: _Pings, max_kmh: float) -> np.ndarray:
    """Return whether each ping is implausible to both neighbours, which are plausible together."""
    spike = np.zeros(len(raw), dtype=bool)
    if len(raw) < 3:
        return spike
    same, dt, metres = raw.step()
    fast = _kmh(metres, dt) > max_kmh
    skip = _metres(raw.lat[:-2], raw.lon[:-2], raw.lat[2:], raw.lon[2:])
    plausible = _kmh(skip, raw.t[2:] - raw.t[:-2]) <= max_kmh
    spike[1:-1] = same[:-1] & same[1:] & fast[:-1] & fast[1:] & plausible
    return spike


def _merged_windows(
    group: np.ndarray, times: np.ndarray, count: int, within_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return (first, last) indices of merged windows of `count` items within `within_s`.

    Items are sorted by (group, time). Item `i` marks the window of items i..i+count-1 when they
    share a group and span at most `within_s`; a window starting at or before the end of the
    previous merged window (same group) joins it.
    """
    n = len(times)
    if n < count:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    i = np.arange(n - count + 1)
    marked = (group[i] == group[i + count - 1]) & (times[i + count - 1] - times[i] <= within_s)
    starts = np.flatnonzero(marked)
    ends = starts + count - 1
    if not len(starts):
        return starts, ends
    joins = (group[starts[1:]] == group[starts[:-1]]) & (times[starts[1:]] <= times[ends[:-1]])
    head = np.r_[True, ~joins]
    block = np.cumsum(head) - 1
    first = starts[head]
    last = np.zeros(len(first), dtype=np.int64)
    np.maximum.at(last, block, ends)
    return first, last


def _identity_conflicts(raw: _Pings, settings: GeointSettings) -> tuple[np.ndarray, ...]:
    """Return (vehicle, start, end, lat, lon) of identity conflicts on the raw pings."""
    s = settings.events
    same, _, metres = raw.step()
    jump = np.flatnonzero(same & (metres > s.identity_conflict_distance_m)) + 1  # later ping
    first, last = _merged_windows(
        raw.vehicle[jump],
        raw.t[jump],
        s.identity_conflict_alternations,
        s.identity_conflict_window_s,
    )
    keep = []
    for a, b in zip(jump[first] - 1, jump[last], strict=True):
        window = raw.take(np.arange(a, b + 1))
        apart = _metres(window.lat[0], window.lon[0], window.lat, window.lon)
        group_a = apart <= s.identity_conflict_distance_m
        if all(_plausible(window.take(np.flatnonzero(g)), settings) for g in (group_a, ~group_a)):
            keep.append((a, b))
    rows = np.array(keep, dtype=np.int64).reshape(-1, 2)
    a, b = rows[:, 0], rows[:, 1]
    # from the clone's first fix (a + 1), where the device of fix a was at that time
    lat, lon = _between(raw, a, _next_own(raw, a, b, settings), raw.t[a + 1])
    return raw.vehicle[a], raw.t[a + 1], raw.t[b], lat, lon


def _next_own(raw: _Pings, a: np.ndarray, b: np.ndarray, settings: GeointSettings) -> np.ndarray:
    """Return, per window a..b, its first fix after a within the conflict distance of a."""
    out = np.empty(len(a), dtype=np.int64)
    for k, (first, last) in enumerate(zip(a, b, strict=True)):  # one loop step per conflict
        later = np.arange(first + 1, last + 1)
        apart = _metres(raw.lat[first], raw.lon[first], raw.lat[later], raw.lon[later])
        out[k] = later[np.argmax(apart <= settings.events.identity_conflict_distance_m)]
    return out


def _between(
    pings: _Pings, a: np.ndarray, b: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the lat/lon at times `t`, linear from pings `a` to pings `b`."""
    span = pings.t[b] - pings.t[a]
    f = np.where(span > 0, (t - pings.t[a]) / np.where(span > 0, span, 1.0), 0.0)
    return (
        pings.lat[a] + f * (pings.lat[b] - pings.lat[a]),
        pings.lon[a] + f * (pings.lon[b] - pings.lon[a]),
    )


def _plausible(group: _Pings, settings: GeointSettings) -> bool:
    """Whether a group has at least 2 pings and plausible speeds between consecutive ones."""
    if len(group) < 2:
        return False
    _, dt, metres = group.step()
    return bool((_kmh(metres, dt) <= settings.ingest.spike_speed_kmh).all())


def _gnss(
    raw: _Pings,
    spike: np.ndarray,
    conflicts: tuple[np.ndarray, ...],
    settings: GeointSettings,
    events: _Events,
) -> None:
    s = settings.events
    spikes = np.flatnonzero(spike)
    vehicle, start, end = conflicts[:3]
    inside = np.zeros(len(spikes), dtype=bool)
    for v, a, b in zip(vehicle, start, end, strict=True):
        inside |= (raw.vehicle[spikes] == v) & (raw.t[spikes] >= a) & (raw.t[spikes] <= b)
    spikes = spikes[~inside]
    first, last = _merged_windows(
        raw.vehicle[spikes], raw.t[spikes], s.gnss_anomaly_min_spikes, s.gnss_anomaly_window_s
    )
    a, b = spikes[first], spikes[last]
    events.add(
        EventType.GNSS_ANOMALY, raw.vehicle[a], raw.t[a], raw.t[b], raw.lat[a - 1], raw.lon[a - 1]
    )


# ----------------------------------------------------------------------------- crossings
@dataclass(frozen=True)
class _Crossed:
    vehicle: np.ndarray
    t_x: np.ndarray
    lat: np.ndarray
    lon: np.ndarray


def _median_interval(clean: _Pings, joined: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Return each vehicle code's median interval (s) between consecutive pings of one trip
    (NaN without any)."""
    medians = (
        pl.DataFrame({"vehicle": clean.vehicle[1:][joined], "dt": dt[joined]})
        .group_by("vehicle")
        .agg(pl.col("dt").median())
    )
    out = np.full(int(clean.vehicle.max()) + 1 if len(clean) else 0, np.nan)
    out[medians["vehicle"].to_numpy()] = medians["dt"].to_numpy()
    return out


def _crossings(
    clean: _Pings,
    dt: np.ndarray,
    hole: np.ndarray,
    ground: Ground,
    settings: GeointSettings,
    conflicts: tuple[np.ndarray, ...],
    events: _Events,
) -> _Crossed:
    """Add the four crossing types; return every crossing (vehicle, t_x, point). Segments
    overlapping an identity conflict of their vehicle are none (two devices may share it)."""
    s = settings.events
    side = _sides(ground, clean.lat, clean.lon)
    settled = (side >= 0) & clean.settled_beyond(
        ground, s.crossing_settle_m, s.settle_accuracy_factor
    )
    k = _crossing_starts(clean.vehicle, side, settled)
    for v, a, b in zip(*conflicts[:3], strict=True):  # loops over conflicts, not pings
        k = k[~((clean.vehicle[k] == v) & (clean.t[k] <= b) & (clean.t[k + 1] >= a))]
    lat, lon, fraction = ground.border_intersection(
        clean.lat[k], clean.lon[k], clean.lat[k + 1], clean.lon[k + 1]
    )
    missing = np.isnan(fraction)
    lat = np.where(missing, (clean.lat[k] + clean.lat[k + 1]) / 2, lat)
    lon = np.where(missing, (clean.lon[k] + clean.lon[k + 1]) / 2, lon)
    fraction = np.where(missing, 0.5, fraction)
    micros = np.round(clean.t[k] * 1e6).astype(np.int64)
    t_x_us = micros + np.round(
        (np.round(clean.t[k + 1] * 1e6).astype(np.int64) - micros) * fraction
    ).astype(np.int64)
    t_x = t_x_us / 1e6
    quick = (dt[k] < s.crossing_max_gap_s) | (dt[k] < hole[k])
    point, crossing, _ = ground.crossings_within(lat, lon, s.crossing_official_radius_m)
    opened = ground.crossing_open(crossing, t_x_us[point].astype("datetime64[us]"))
    near = np.zeros(len(k), dtype=bool)
    near[point] = True
    open_any = np.zeros(len(k), dtype=bool)
    open_any[point[opened]] = True
    kinds = (
        (EventType.BORDER_CROSSING, quick & open_any),
        (EventType.CLOSED_HOURS_CROSSING, quick & near & ~open_any),
        (EventType.UNOFFICIAL_CROSSING, quick & ~near),
        (EventType.DARK_CROSSING, ~quick),
    )
    for kind, mask in kinds:
        m = k[mask]
        events.add(kind, clean.vehicle[m], clean.t[m], clean.t[m + 1], lat[mask], lon[mask])
    return _Crossed(clean.vehicle[k], t_x, lat, lon)


@numba.njit(cache=True)
def _crossing_starts(vehicle, side, settled):  # pragma: no cover - compiled
    """Return the first ping of each crossing segment: per vehicle, at a settled ping on the
    side opposite the last settled one, the last change of side into its side since then."""
    out = np.empty(len(side), np.int64)
    count = 0
    state = -1
    into = np.array([-1, -1])
    for k in range(len(side)):
        if k == 0 or vehicle[k] != vehicle[k - 1]:
            state, into[0], into[1] = -1, -1, -1
        elif side[k] >= 0 and side[k - 1] >= 0 and side[k] != side[k - 1]:
            into[side[k]] = k - 1
        if settled[k]:
            if state >= 0 and state != side[k] and into[side[k]] >= 0:
                out[count] = into[side[k]]
                count += 1
            state, into[0], into[1] = side[k], -1, -1
    return out[:count]


def _sides(ground: Ground, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    return np.asarray(ground.side(lat, lon), dtype=np.int8)


def _shuttles(crossed: _Crossed, settings: GeointSettings, events: _Events) -> None:
    s = settings.events
    order = np.lexsort((crossed.t_x, crossed.vehicle))
    vehicle, t_x = crossed.vehicle[order], crossed.t_x[order]
    first, last = _merged_windows(vehicle, t_x, s.shuttle_min_crossings, s.shuttle_window_s)
    lat, lon = crossed.lat[order], crossed.lon[order]
    events.add(EventType.SHUTTLE, vehicle[first], t_x[first], t_x[last], lat[first], lon[first])


# --------------------------------------------------------------------------------- stops
@numba.njit(cache=True)
def _inside(r, inlier, i, j, lat, lon, diameter):  # pragma: no cover - compiled
    """Whether ping r is within the diameter of every inlier among pings i..j."""
    for k in range(i, j + 1):
        if inlier[k] and distance_m(lat[k], lon[k], lat[r], lon[r]) > diameter:
            return False
    return True


@numba.njit(cache=True)
def _greedy_stops(
    trip, t, lat, lon, diameter, min_s, outlier_run, outlier_share
):  # pragma: no cover - compiled
    """Return (first, last, inlier) of the greedy stops of docs/events.md (lat/lon in
    degrees): up to `outlier_run` pings off the diameter are skipped when the next one fits
    and the stop's outliers stay within `outlier_share` of its pings."""
    n = len(t)
    first = np.empty(n, dtype=np.int64)
    last = np.empty(n, dtype=np.int64)
    inlier = np.zeros(n, dtype=np.bool_)
    found = 0
    i = 0
    while i < n:
        j, skipped = i, 0
        inlier[i] = True
        while j + 1 < n and trip[j + 1] == trip[i]:
            q = j + 1 if _inside(j + 1, inlier, i, j, lat, lon, diameter) else -1
            if q < 0:
                r = j + 2
                while r < min(j + 2 + outlier_run, n) and trip[r] == trip[i]:
                    if skipped + r - (j + 1) > outlier_share * (r - i + 1):
                        break
                    if _inside(r, inlier, i, j, lat, lon, diameter):
                        q = r
                        break
                    r += 1
            if q < 0:
                break
            skipped += q - (j + 1)
            inlier[q] = True
            j = q
        if t[j] - t[i] >= min_s:
            first[found] = i
            last[found] = j
            found += 1
            i = j + 1
        else:
            inlier[i : j + 1] = False
            i += 1
    return first[:found], last[:found], inlier


def _stops(
    trip: np.ndarray, clean: _Pings, settings: GeointSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = settings.events
    return _greedy_stops(
        trip.astype(np.int64), clean.t, clean.lat, clean.lon, float(s.stop_diameter_m),
        float(s.stop_min_duration_s), int(s.stop_outlier_run), float(s.stop_outlier_share),
    )  # fmt: skip


def _means(
    values: np.ndarray, first: np.ndarray, last: np.ndarray, inlier: np.ndarray | None = None
) -> np.ndarray:
    """Return the mean of the inliers (default all) of values[first..last] for each range."""
    inlier = np.ones(len(values), dtype=bool) if inlier is None else inlier
    total = np.r_[0.0, np.cumsum(np.where(inlier, values, 0.0))]
    count = np.r_[0, np.cumsum(inlier)]
    return (total[last + 1] - total[first]) / (count[last + 1] - count[first])


def _loiters(
    clean: _Pings,
    first: np.ndarray,
    last: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    ground: Ground,
    settings: GeointSettings,
    events: _Events,
) -> None:
    near = ground.distance_to_border_m(lat, lon) <= settings.tracks.near_border_m
    keep = near & _clear(ground, lat, lon, near, settings)
    events.add(
        EventType.BORDER_LOITER, clean.vehicle[first[keep]], clean.t[first[keep]],
        clean.t[last[keep]], lat[keep], lon[keep],
    )  # fmt: skip


def _clear(
    ground: Ground, lat: np.ndarray, lon: np.ndarray, ask: np.ndarray, settings: GeointSettings
) -> np.ndarray:
    """Return whether points (where `ask`) are clear of official crossings and of places."""
    out = np.zeros(len(lat), dtype=bool)
    rows = np.flatnonzero(ask)
    crossing, _ = ground.nearest_crossing(lat[rows], lon[rows])
    place = ground.distance_to_place_m(lat[rows], lon[rows])
    out[rows] = (crossing > settings.events.loiter_clear_of_official_m) & (place > 0)
    return out


# ------------------------------------------------------------------------------- transit
class _Declarations:
    """Transit declarations with their vehicle code, completion time and active interval."""

    def __init__(
        self,
        frame: pl.DataFrame | None,
        names: pl.Series,
        clean: _Pings,
        settings: GeointSettings,
    ) -> None:
        known = {name: code for code, name in enumerate(names.to_list())}
        rows = [] if frame is None else frame.sort("start", "vehicle_id").to_dicts()
        rows = [r for r in rows if r["vehicle_id"] in known]
        self.vehicle = np.array([known[r["vehicle_id"]] for r in rows], dtype=np.int64)
        self.corridor = np.array([r["corridor_id"] for r in rows], dtype=object)
        self.start = np.array([r["start"].timestamp() for r in rows], dtype=np.float64)
        self.deadline = np.array([r["deadline"].timestamp() for r in rows], dtype=np.float64)
        self.dest_lat = np.array([r["dest_lat"] for r in rows], dtype=np.float64)
        self.dest_lon = np.array([r["dest_lon"] for r in rows], dtype=np.float64)
        self.bounds = np.searchsorted(clean.vehicle, np.arange(len(names) + 1))
        self.completed = np.full(len(rows), np.nan)
        radius = settings.events.transit_arrival_radius_m
        for d in range(len(rows)):
            rows_d = self.pings(d, clean)
            later = rows_d[clean.t[rows_d] >= self.start[d]]
            there = _metres(clean.lat[later], clean.lon[later], self.dest_lat[d], self.dest_lon[d])
            arrived = later[there <= radius]
            if len(arrived):
                self.completed[d] = clean.t[arrived[0]]
        self.until = np.where(np.isnan(self.completed), self.deadline, self.completed)

    def __len__(self) -> int:
        return len(self.vehicle)

    def pings(self, d: int, clean: _Pings) -> np.ndarray:
        """Return the rows of `clean` of declaration `d`'s vehicle."""
        v = self.vehicle[d]
        return np.arange(self.bounds[v], self.bounds[v + 1])

    def active_rows(self, d: int, clean: _Pings) -> np.ndarray:
        """Return the rows of `clean` at which declaration `d` is active (both ends included)."""
        rows = self.pings(d, clean)
        t = clean.t[rows]
        return rows[(t >= self.start[d]) & (t <= self.until[d])]


def _unauthorized_stops(
    clean: _Pings,
    first: np.ndarray,
    last: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    active: _Declarations,
    ground: Ground,
    settings: GeointSettings,
    events: _Events,
) -> None:
    s = settings.events
    vehicle = clean.vehicle[first]  # stops are in vehicle order
    found = np.zeros(len(first), dtype=bool)
    for d in range(len(active)):
        lo, hi = np.searchsorted(vehicle, [active.vehicle[d], active.vehicle[d] + 1])
        mine = np.arange(lo, hi)
        mine = mine[
            (clean.t[last[mine]] - clean.t[first[mine]] >= s.unauthorized_stop_min_s)
            & (clean.t[first[mine]] >= active.start[d])
            & (clean.t[last[mine]] <= active.until[d])
        ]
        if not len(mine):
            continue
        corridor = np.full(len(mine), active.corridor[d], dtype=object)
        inside = ground.in_stop_area(lat[mine], lon[mine], corridor)
        away = _metres(lat[mine], lon[mine], active.dest_lat[d], active.dest_lon[d])
        found[mine[~inside & (away > s.transit_arrival_radius_m)]] = True
    k = np.flatnonzero(found)
    events.add(
        EventType.UNAUTHORIZED_STOP, clean.vehicle[first[k]], clean.t[first[k]],
        clean.t[last[k]], lat[k], lon[k],
    )  # fmt: skip


def _overdue(
    active: _Declarations, clean: _Pings, data_end: float, trip_gap_s: float, events: _Events
) -> None:
    """Late declarations, placed where the vehicle was at the deadline (interpolated towards
    its next ping of the same trip)."""
    late = (np.isnan(active.completed) | (active.completed > active.deadline)) & (
        data_end >= active.deadline
    )
    for d in np.flatnonzero(late):
        rows = active.pings(d, clean)
        before = rows[clean.t[rows] <= active.deadline[d]]
        at = before[-1] if len(before) else None
        lat = clean.lat[at] if at is not None else active.dest_lat[d]
        lon = clean.lon[at] if at is not None else active.dest_lon[d]
        after = rows[clean.t[rows] > active.deadline[d]]
        if at is not None and len(after) and clean.t[after[0]] - clean.t[at] < trip_gap_s:
            f = (active.deadline[d] - clean.t[at]) / (clean.t[after[0]] - clean.t[at])
            lat += f * (clean.lat[after[0]] - clean.lat[at])
            lon += f * (clean.lon[after[0]] - clean.lon[at])
        deadline = active.deadline[d : d + 1]
        events.add(
            EventType.TRANSIT_OVERDUE, active.vehicle[d : d + 1], deadline, deadline, [lat], [lon]
        )


def _route_deviations(
    clean: _Pings,
    joined: np.ndarray,
    active: _Declarations,
    ground: Ground,
    settings: GeointSettings,
    events: _Events,
) -> None:
    """Add runs of ≥ 2 consecutive pings (one trip) at which a declaration is active and the
    vehicle is off its corridor; the pings where it is active are consecutive ones."""
    s = settings.events
    for d in range(len(active)):
        rows = active.active_rows(d, clean)
        if not len(rows):
            continue
        corridor = np.full(len(rows), active.corridor[d], dtype=object)
        metres = ground.distance_to_corridor_m(clean.lat[rows], clean.lon[rows], corridor)
        a, b = _runs(metres > s.route_deviation_m, joined[rows[:-1]])
        long = (b - a + 1) >= s.route_deviation_min_pings
        a, b = a[long], b[long]
        # from where the vehicle left the corridor: on the segment from the active ping before
        left = (a > 0) & joined[rows[np.maximum(a - 1, 0)]]
        before, first = a[left] - 1, a[left]
        f = (s.route_deviation_m - metres[before]) / (metres[first] - metres[before])
        start, lat, lon = clean.t[rows[a]].copy(), clean.lat[rows[a]], clean.lon[rows[a]]
        start[left] = clean.t[rows[before]] + f * (clean.t[rows[first]] - clean.t[rows[before]])
        lat, lon = lat.copy(), lon.copy()
        lat[left], lon[left] = _between(clean, rows[before], rows[first], start[left])
        events.add(
            EventType.ROUTE_DEVIATION, clean.vehicle[rows[a]], start, clean.t[rows[b]], lat, lon
        )


# ---------------------------------------------------------------------------------- runs
def _runs(keep: np.ndarray, joins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (first, last) of maximal runs of kept pings linked by joining segments."""
    linked = keep[:-1] & keep[1:] & joins
    first = np.flatnonzero(keep & ~np.r_[False, linked])
    last = np.flatnonzero(keep & ~np.r_[linked, False])
    return first, last


def _add_runs(
    kind: EventType, clean: _Pings, first: np.ndarray, last: np.ndarray, events: _Events
) -> None:
    events.add(
        kind,
        clean.vehicle[first],
        clean.t[first],
        clean.t[last],
        clean.lat[first],
        clean.lon[first],
    )


def _within_border(
    ground: Ground,
    lat: np.ndarray,
    lon: np.ndarray,
    limit_m: float,
    *subsets: np.ndarray,
) -> np.ndarray:
    """Return whether points are within `limit_m` of the border (only `subsets` if given)."""
    out = np.zeros(len(lat), dtype=bool)
    if subsets:
        for subset in subsets:
            out[subset] = True
        rows, out[:] = np.flatnonzero(out), False
    else:
        rows = np.arange(len(lat))
    status = _screen(ground.distance_to_border_m, lat[rows], lon[rows], limit_m, _BORDER_GRID_DEG)
    out[rows[status == _NEAR]] = True
    ask = rows[status == _ASK]
    out[ask] = _chunked(ground.distance_to_border_m, lat[ask], lon[ask], limit_m) <= limit_m
    return out


_FAR, _NEAR, _ASK = 0, 1, 2


def _screen(query, lat: np.ndarray, lon: np.ndarray, limit_m: float, step_deg: float) -> np.ndarray:
    """Return _NEAR, _FAR or _ASK for each point against a layer distance threshold.

    Distances are 1-Lipschitz: a point is as far from the layer as the centre of its grid
    cell, give or take the cell's reach. Cells decide for their points when their centre is
    farther than that from the threshold; the other points (_ASK) need an exact distance.
    """
    if not len(lat):
        return np.empty(0, dtype=np.int8)
    gy = np.floor(lat / step_deg).astype(np.int64) + _GRID_OFFSET
    gx = np.floor(lon / step_deg).astype(np.int64) + _GRID_OFFSET
    cells, cell_of = np.unique(gy * _GRID_STRIDE + gx, return_inverse=True)
    centre_lat = (cells // _GRID_STRIDE - _GRID_OFFSET + 0.5) * step_deg
    centre_lon = (cells % _GRID_STRIDE - _GRID_OFFSET + 0.5) * step_deg
    reach = step_deg * _REACH_M_PER_DEG
    centre = _chunked(query, centre_lat, centre_lon, limit_m + reach)
    status = np.full(len(cells), _ASK, dtype=np.int8)
    status[centre < limit_m - reach] = _NEAR
    status[centre > limit_m + reach] = _FAR
    return status[cell_of]


def _chunked(query, lat: np.ndarray, lon: np.ndarray, *args: object) -> np.ndarray:
    """Return a layer query over many points, a chunk at a time (bounded memory)."""
    parts = [
        query(lat[i : i + _QUERY_CHUNK], lon[i : i + _QUERY_CHUNK], *args)
        for i in range(0, len(lat), _QUERY_CHUNK)
    ]
    return np.concatenate(parts) if parts else np.empty(0)


def _off_road(
    clean: _Pings,
    moving: np.ndarray,
    ground: Ground,
    settings: GeointSettings,
    events: _Events,
) -> None:
    s = settings.events
    linked = np.r_[moving, False] | np.r_[False, moving]  # only such pings can make a run
    rows = np.flatnonzero(linked)
    near = np.flatnonzero(
        _within_border(ground, clean.lat, clean.lon, settings.tracks.near_border_m, rows)
    )
    limit = s.off_road_distance_m
    status = _screen(
        ground.distance_to_road_m, clean.lat[near], clean.lon[near], limit, _ROAD_GRID_DEG
    )
    keep = np.zeros(len(clean), dtype=bool)
    keep[near[status == _FAR]] = True
    ask = near[status == _ASK]
    keep[ask] = _chunked(ground.distance_to_road_m, clean.lat[ask], clean.lon[ask], limit) >= limit
    a, b = _runs(keep, moving)
    # The run lasts from where the vehicle got `limit` from a road to where it came back: on
    # a moving segment from a ping near the border (only its road distance kept it out).
    is_near = np.zeros(len(clean), dtype=bool)
    is_near[near] = True
    into = (a > 0) & moving[np.maximum(a - 1, 0)] & is_near[np.maximum(a - 1, 0)]
    out = (b + 1 < len(clean)) & moving[np.minimum(b, len(moving) - 1)]
    out &= is_near[np.minimum(b + 1, len(clean) - 1)]
    start = _road_reached(clean, a - 1, a, into, ground, limit)
    end = _road_reached(clean, b + 1, b, out, ground, limit)
    long = end - start >= s.off_road_min_duration_s
    _add_runs(EventType.OFF_ROAD_NEAR_BORDER, clean, a[long], b[long], events)


def _road_reached(
    clean: _Pings,
    outside: np.ndarray,
    inside: np.ndarray,
    crossed: np.ndarray,
    ground: Ground,
    limit_m: float,
) -> np.ndarray:
    """Return when each segment `outside` → `inside` reaches `limit_m` from a road, linearly
    by road distance (the time of `inside` where not `crossed`)."""
    t = clean.t[inside].copy()
    o, i = outside[crossed], inside[crossed]
    d_out = ground.distance_to_road_m(clean.lat[o], clean.lon[o])
    d_in = ground.distance_to_road_m(clean.lat[i], clean.lon[i])
    fraction = np.clip((limit_m - d_out) / (d_in - d_out), 0.0, 1.0)
    t[crossed] = clean.t[o] + fraction * (clean.t[i] - clean.t[o])
    return t


def _watchlist_hits(
    clean: _Pings,
    joined: np.ndarray,
    names: pl.Series,
    watchlist: pl.DataFrame | None,
    conflicts: tuple[np.ndarray, ...],
    ground: Ground,
    settings: GeointSettings,
    events: _Events,
) -> None:
    if watchlist is None or not watchlist.height:
        return
    s = settings.events
    band = s.watchlist_near_border_m
    known = {name: code for code, name in enumerate(names.to_list())}
    bounds = np.searchsorted(clean.vehicle, np.arange(len(names) + 1))
    listed = np.zeros(len(clean), dtype=bool)
    expires = watchlist["expires"] if "expires" in watchlist.columns else [None] * watchlist.height
    for vehicle, until in zip(watchlist["vehicle_id"], expires, strict=True):
        if vehicle not in known:
            continue
        rows = np.arange(bounds[known[vehicle]], bounds[known[vehicle] + 1])
        listed[rows if until is None else rows[clean.t[rows] < until.timestamp()]] = True
    rows = np.flatnonzero(listed)
    conflicted = np.zeros(len(clean), dtype=bool)
    for v, a, b in zip(*conflicts[:3], strict=True):  # one step per identity conflict
        conflicted |= (clean.vehicle == v) & (clean.t >= a) & (clean.t <= b)
    clear = listed & ~conflicted
    inside = clear & _within_border(ground, clean.lat, clean.lon, band, rows)
    out = ~listed | clear & clean.settled_beyond(
        ground, s.watchlist_settle_m, s.settle_accuracy_factor, band, rows
    )
    # a fix's state is that of the latest fix deciding it (inside, out, or a trip's first)
    opens = np.r_[True, ~joined]
    decider = np.maximum.accumulate(np.where(inside | out | opens, np.arange(len(clean)), 0))
    a, b = _runs(inside[decider] & listed, joined)
    entered = (a > 0) & ~opens[a] & clear[np.maximum(a - 1, 0)]
    start, lat, lon = clean.t[a].copy(), clean.lat[a].copy(), clean.lon[a].copy()
    e, before = a[entered], a[entered] - 1
    d_before = ground.distance_to_border_m(clean.lat[before], clean.lon[before])
    d_first = ground.distance_to_border_m(clean.lat[e], clean.lon[e])
    f = np.clip((d_before - band) / (d_before - d_first), 0.0, 1.0)
    start[entered] = clean.t[before] + f * (clean.t[e] - clean.t[before])
    lat[entered], lon[entered] = _between(clean, before, e, start[entered])
    events.add(EventType.WATCHLIST_HIT, clean.vehicle[a], start, clean.t[b], lat, lon)


# ---------------------------------------------------------------------------- rendezvous
@numba.njit(cache=True)
def _stationary_scan(trip, t, lat, lon, moving_kmh, stray_run):  # pragma: no cover - compiled
    """Return (first, last, stray) of stationary runs: from the first unused ping, the next
    ping of a run is the first of the following stray_run + 1 (same trip; only the next one
    while the run has one ping) slower than moving from its last ping, the pings passed over
    being strays; runs of >= 2 pings are kept."""
    n = len(t)
    first, last = np.empty(n, np.int64), np.empty(n, np.int64)
    stray = np.zeros(n, np.bool_)
    count, i = 0, 0
    while i < n:
        j = i
        while True:
            q, r = -1, j + 1
            reach = j + 1 + (stray_run if j > i else 0)
            while r < n and r <= reach and trip[r] == trip[i]:
                metres, seconds = distance_m(lat[j], lon[j], lat[r], lon[r]), t[r] - t[j]
                kmh = metres / seconds * 3.6 if seconds > 0 else np.inf if metres > 0 else 0.0
                if kmh < moving_kmh:
                    q = r
                    break
                r += 1
            if q < 0:
                break
            stray[j + 1 : q] = True
            j = q
        if j > i:
            first[count], last[count] = i, j
            count += 1
            i = j + 1
        else:
            i += 1
    return first[:count], last[:count], stray


@numba.njit(cache=True)
def _interpolated(lo, hi, at, t, lat, lon, stray):  # pragma: no cover - compiled
    """Return the lat/lon of pings lo..hi (strays left out) at time `at`, linear between the
    last fix at or before it and the next one."""
    k = lo
    for r in range(lo, hi + 1):
        if stray[r]:
            continue
        if t[r] > at:
            f = (at - t[k]) / (t[r] - t[k])
            return lat[k] + f * (lat[r] - lat[k]), lon[k] + f * (lon[r] - lon[k])
        k = r
    return lat[k], lon[k]


@numba.njit(cache=True)
def _median_apart(first, last, a, b, t, lat, lon, stray):  # pragma: no cover - compiled
    """Per pair of runs, the median distance at their common times (every fix of either
    inside their overlap) between the fix and the other run interpolated to its time."""
    out = np.zeros(len(a))
    for k in range(len(a)):
        start = max(t[first[a[k]]], t[first[b[k]]])
        end = min(t[last[a[k]]], t[last[b[k]]])
        metres = []
        for x, y in ((a[k], b[k]), (b[k], a[k])):
            for p in range(first[x], last[x] + 1):
                if stray[p] or t[p] < start or t[p] > end:
                    continue
                y_lat, y_lon = _interpolated(first[y], last[y], t[p], t, lat, lon, stray)
                metres.append(distance_m(lat[p], lon[p], y_lat, y_lon))
        out[k] = np.median(np.array(metres))
    return out


def _rendezvous(
    clean: _Pings,
    trip: np.ndarray,
    ground: Ground,
    settings: GeointSettings,
    events: _Events,
) -> None:
    """Pair stationary runs of different vehicles close in space and overlapping in time,
    also at every common time (positions interpolated).

    Runs are bucketed on a grid of twice the meeting distance (east-west scaled at the mean
    latitude, which distorts by far less than that) and by the hours they span, so only runs in
    neighbouring buckets of a shared hour are compared.
    """
    s = settings.events
    first, last, stray = _stationary_scan(
        trip, clean.t, clean.lat, clean.lon,
        settings.tracks.moving_speed_kmh, s.rendezvous_stray_run,
    )  # fmt: skip
    lat, lon = _means(clean.lat, first, last, ~stray), _means(clean.lon, first, last, ~stray)
    bucket = 2 * s.rendezvous_distance_m
    y = np.radians(lat) * EARTH_RADIUS_M
    x = np.radians(lon) * EARTH_RADIUS_M * np.cos(np.radians(lat.mean() if len(lat) else 0.0))
    hours = np.floor(clean.t[first] / _HOUR_S).astype(np.int64)
    spans = np.floor(clean.t[last] / _HOUR_S).astype(np.int64) - hours + 1
    runs = pl.DataFrame(
        {
            "run": np.arange(len(first)),
            "vehicle": clean.vehicle[first],
            "bx": np.floor(x / bucket).astype(np.int64),
            "by": np.floor(y / bucket).astype(np.int64),
            "hour": pl.int_ranges(hours, hours + spans, eager=True),
        }
    ).explode("hour")
    shifted = pl.concat(
        runs.with_columns(pl.col("bx") + dx, pl.col("by") + dy)
        for dx in (-1, 0, 1)
        for dy in (-1, 0, 1)
    )
    pairs = (
        runs.join(shifted, on=["bx", "by", "hour"], suffix="_b")
        .filter(pl.col("vehicle") < pl.col("vehicle_b"))
        .select("run", "run_b")
        .unique()
        .sort("run", "run_b")
    )
    a, b = pairs["run"].to_numpy(), pairs["run_b"].to_numpy()
    start = np.maximum(clean.t[first[a]], clean.t[first[b]])
    end = np.minimum(clean.t[last[a]], clean.t[last[b]])
    apart = _metres(lat[a], lon[a], lat[b], lon[b])
    ok = (end - start >= s.rendezvous_min_duration_s) & (apart <= s.rendezvous_distance_m)
    apart_then = _median_apart(first, last, a[ok], b[ok], clean.t, clean.lat, clean.lon, stray)
    ok[ok] = apart_then <= s.rendezvous_distance_m
    a, b, start, end = a[ok], b[ok], start[ok], end[ok]
    mid_lat, mid_lon = (lat[a] + lat[b]) / 2, (lon[a] + lon[b]) / 2
    near = ground.distance_to_border_m(mid_lat, mid_lon) <= s.rendezvous_near_border_m
    keep = near & _clear(ground, mid_lat, mid_lon, near, settings)
    events.add(
        EventType.RENDEZVOUS, clean.vehicle[first[a[keep]]], start[keep], end[keep],
        mid_lat[keep], mid_lon[keep], other=clean.vehicle[first[b[keep]]],
    )  # fmt: skip


# ------------------------------------------------------------------------------- output
def _frame(events: _Events, names: pl.Series) -> pl.DataFrame:
    """Return the events as TRUTH_COLUMNS rows with vehicle ids and UTC times, sorted."""
    schema = {
        "event_type": pl.String,
        "vehicle_id": pl.String,
        "other_vehicle_id": pl.String,
        "start": UTC_DATETIME,
        "end": UTC_DATETIME,
        "lat": pl.Float64,
        "lon": pl.Float64,
    }
    if not events.parts:
        return pl.DataFrame(schema=schema)
    data = {key: np.concatenate([p[key] for p in events.parts]) for key in events.parts[0]}
    lookup = np.array([*names.to_list(), _NO_VEHICLE], dtype=object)
    frame = pl.DataFrame(
        {
            "event_type": data["event_type"],
            "vehicle_id": lookup[data["vehicle"]],
            "other_vehicle_id": lookup[data["other"]],
            "start": _datetimes(data["start"]),
            "end": _datetimes(data["end"]),
            "lat": data["lat"],
            "lon": data["lon"],
        },
        schema_overrides={
            "event_type": pl.String,
            "vehicle_id": pl.String,
            "other_vehicle_id": pl.String,
        },
    ).with_columns(pl.col("other_vehicle_id").replace(_NO_VEHICLE, None))
    return frame.select(TRUTH_COLUMNS).sort(
        "start", "event_type", "vehicle_id", "other_vehicle_id", "lat", "lon", nulls_last=True
    )


def _datetimes(seconds: np.ndarray) -> pl.Series:
    micros = np.round(seconds * 1e6).astype(np.int64)
    return pl.Series(micros).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")

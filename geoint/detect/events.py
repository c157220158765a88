"""Track events (SPEC §6, docs/events.md), detected for every vehicle at once.

`detect_events` prepares the tracks (`geoint.detect.tracks`) and runs one vectorised detector per
event
family; each returns a *partial* frame (type, vehicles, times, position, evidence, detail) and
`finish_events` fills in the fields every event has (cell, sides, distances, night, id) and
sorts. Layer questions at event positions are asked of the `Ground` exactly; per-ping
conditions use the cell-level context of the prepared tracks. Loops run over declarations'
corridors and event rows only, never over pings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import h3
import numpy as np
import polars as pl
import pyarrow as pa

from geoint.detect.tracks import (
    US,
    Tracks,
    apart_at_common_times,
    micros,
    prepare_tracks,
    settle_distances,
    within_distance,
)
from geoint.geodesy import distances_m
from geoint.ground import Ground
from geoint.h3index import cell_centres, grid_disks, latlng_to_cells
from geoint.schema import EVENT_SCHEMA, UTC_DATETIME, EventType
from geoint.settings import GeointSettings

# Stationary runs are paired by H3 cell (+ ring 1) and by time bucket; the bucket length only
# trades candidate pairs against exploded rows, it decides nothing.
RENDEZVOUS_BUCKET_S = 3600
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.6fZ"

PARTIAL_SCHEMA: dict[str, pl.DataType] = {
    "event_type": pl.String(),
    "vehicle_id": pl.String(),
    "other_vehicle_id": pl.String(),
    "start": UTC_DATETIME,
    "end": UTC_DATETIME,
    "reference": UTC_DATETIME,  # time at which night is evaluated (null: start)
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "side_from": pl.Int8(),  # null: the side at lat/lon
    "side_to": pl.Int8(),
    "evidence": pl.List(pl.UInt64()),
    "detail": pl.String(),
}
_DECLARATION_COLUMNS = ("vehicle_id", "corridor_id", "start", "deadline", "dest_lat", "dest_lon")


def detect_events(
    pings: pl.DataFrame,
    ground: Ground,
    settings: GeointSettings,
    declarations: pl.DataFrame | None = None,
    watchlist: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Return every event of docs/events.md for `pings` (EVENT_SCHEMA rows, sorted).

    `pings` needs ping_id, vehicle_id, ts, lat, lon (and ``cell``, else it is computed); a
    stored ``spike`` flag is ignored. `declarations` has vehicle_id, corridor_id, start,
    deadline, dest_lat, dest_lon; `watchlist` has vehicle_id and expires (null: never).
    """
    tracks = prepare_tracks(pings, ground, settings)
    return events_from_tracks(tracks, ground, settings, declarations, watchlist)


def events_from_tracks(
    tracks: Tracks,
    ground: Ground,
    settings: GeointSettings,
    declarations: pl.DataFrame | None = None,
    watchlist: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Return every event of prepared tracks (see `detect_events`)."""
    parts = [
        vehicle_partials(tracks, ground, settings, declarations, watchlist),
        rendezvous_partials(rendezvous_runs(tracks, ground, settings), ground, settings),
    ]
    return finish_events(pl.concat(parts), ground, settings)


def vehicle_partials(
    tracks: Tracks,
    ground: Ground,
    settings: GeointSettings,
    declarations: pl.DataFrame | None = None,
    watchlist: pl.DataFrame | None = None,
    data_end: int | None = None,
) -> pl.DataFrame:
    """Return the PARTIAL_SCHEMA events of each vehicle on its own: all but rendezvous.

    `data_end` (int64 µs): the time the data reaches for overdue transits; default the last
    ping of `tracks` (a vehicle partition passes that of the whole workspace).
    """
    view = _View.of(tracks)
    conflicts = _identity_conflicts(view, settings)
    crossings = _outside_conflicts(view, _find_crossings(view, ground, settings), conflicts)
    decls = _declarations(declarations, view, settings)
    return pl.concat(
        [
            _crossing_events(view, crossings, settings),
            _shuttle_events(view, crossings, settings),
            _gap_events(view, settings),
            _loiter_events(view, ground, settings),
            _unauthorized_stop_events(view, decls, ground, settings),
            _off_road_events(view, ground, settings),
            _route_deviation_events(view, decls, ground, settings),
            _watchlist_events(view, watchlist, conflicts, ground, settings),
            conflicts,
            _gnss_events(view, conflicts, settings),
            _overdue_events(view, decls, data_end),
        ]
    )


# ------------------------------------------------------------------------------ arrays
@dataclass(frozen=True)
class _View:
    """Numpy views of prepared tracks (pings: non-spike; raw: every ping)."""

    tracks: Tracks
    vehicle: np.ndarray
    ts: np.ndarray  # int64 µs
    lat: np.ndarray
    lon: np.ndarray
    ping_id: np.ndarray
    trip: np.ndarray
    dt_s: np.ndarray
    speed: np.ndarray
    side: np.ndarray
    same_vehicle: np.ndarray  # row k continues the vehicle of row k - 1
    same_trip: np.ndarray
    rows: pl.DataFrame  # row (index of the ping), vehicle, ts: for joins with per-vehicle tables

    @classmethod
    def of(cls, tracks: Tracks) -> _View:
        p = tracks.pings
        vehicle, trip = p["vehicle"].to_numpy(), p["trip"].to_numpy()
        return cls(
            tracks,
            vehicle,
            p["ts"].to_physical().to_numpy(),
            p["lat"].to_numpy(),
            p["lon"].to_numpy(),
            p["ping_id"].to_numpy(),
            trip,
            p["dt_s"].to_numpy(),
            p["speed_kmh"].to_numpy(),
            p["side"].to_numpy(),
            np.r_[False, vehicle[1:] == vehicle[:-1]] if len(vehicle) else np.zeros(0, bool),
            np.r_[False, trip[1:] == trip[:-1]] if len(trip) else np.zeros(0, bool),
            p.select(
                pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
                "vehicle",
                pl.col("ts").to_physical(),
            ),
        )

    def ids(self, codes: np.ndarray) -> pl.Series:
        """Return the vehicle ids of vehicle codes."""
        return self.tracks.vehicle_ids.gather(np.asarray(codes, dtype=np.int64))


def _codes(view: _View, vehicle_ids: pl.Series) -> pl.Series:
    """Return the vehicle code of each id (null for a vehicle without pings)."""
    known = view.tracks.vehicle_ids
    return vehicle_ids.cast(pl.String).replace_strict(
        known, pl.int_range(known.len(), eager=True), default=None, return_dtype=pl.UInt32
    )


def _datetimes(micros: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(micros, dtype=np.int64)).cast(UTC_DATETIME)


def _iso(micros: np.ndarray) -> pl.Series:
    return _datetimes(micros).dt.to_string(ISO_FORMAT)


def _lists(values: np.ndarray, lengths: np.ndarray, dtype: pl.DataType = pl.UInt64()) -> pl.Series:
    """Return a List(`dtype`) series cutting `values` into consecutive pieces of `lengths`."""
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    array = pa.LargeListArray.from_arrays(offsets, pa.array(values))
    return pl.Series("evidence", pl.from_arrow(array)).cast(pl.List(dtype))


def _ranges(
    values: np.ndarray, first: np.ndarray, last: np.ndarray, dtype: pl.DataType = pl.UInt64()
) -> pl.Series:
    """Return the values (ping ids unless said) of rows first..last (inclusive) of each range
    as lists."""
    lengths = (last - first + 1).astype(np.int64)
    offsets = np.r_[0, np.cumsum(lengths)]
    rows = np.arange(offsets[-1]) - np.repeat(offsets[:-1] - first, lengths)
    return _lists(values[rows], lengths, dtype)


def _pair_evidence(view: _View, before: np.ndarray, after: np.ndarray) -> pl.Series:
    """Return [ping id of `before`, ping id of `after`] per segment."""
    pairs = np.column_stack([view.ping_id[before], view.ping_id[after]]).ravel()
    return _lists(pairs, np.full(len(before), 2))


def _detail(height: int, **fields: object) -> pl.Series:
    """Return one JSON object per event from arrays (one value per event) and scalars."""
    columns = {
        name: value
        if isinstance(value, np.ndarray | pl.Series)
        else pl.repeat(value, height, eager=True)
        for name, value in fields.items()
    }
    frame = (
        pl.DataFrame(columns, nan_to_null=True)
        if height
        else pl.DataFrame({name: [] for name in fields})
    )
    return frame.select(pl.struct(pl.all()).struct.json_encode().alias("detail")).to_series()


def _partial(
    event_type: EventType,
    vehicle_id: pl.Series,
    start: np.ndarray,
    end: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    evidence: pl.Series,
    detail: pl.Series,
    other_vehicle_id: pl.Series | None = None,
    side_from: np.ndarray | None = None,
    side_to: np.ndarray | None = None,
    reference: np.ndarray | None = None,
) -> pl.DataFrame:
    """Return a PARTIAL_SCHEMA frame (times as int64 µs arrays)."""
    n = len(start)
    nothing = pl.repeat(None, n, eager=True)
    frame = pl.DataFrame(
        {
            "event_type": pl.repeat(str(event_type), n, eager=True, dtype=pl.String),
            "vehicle_id": vehicle_id,
            "other_vehicle_id": nothing if other_vehicle_id is None else other_vehicle_id,
            "start": _datetimes(start),
            "end": _datetimes(end),
            "reference": nothing if reference is None else _datetimes(reference),
            "lat": np.asarray(lat, dtype=np.float64),
            "lon": np.asarray(lon, dtype=np.float64),
            "side_from": nothing if side_from is None else side_from,
            "side_to": nothing if side_to is None else side_to,
            "evidence": evidence,
            "detail": detail,
        }
    )
    return frame.cast(PARTIAL_SCHEMA)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=PARTIAL_SCHEMA)


def _runs(keep: np.ndarray, joins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (first, last) rows of maximal runs of `keep` rows; row k joins row k - 1 where
    ``joins[k]`` (which must include being in the same trip)."""
    if len(keep) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    link = keep & np.r_[False, keep[:-1]] & joins
    starts = keep & ~link
    ends = keep & ~np.r_[link[1:], False]
    return np.flatnonzero(starts), np.flatnonzero(ends)


def _merged_windows(
    group: np.ndarray, micros: np.ndarray, count: int, within_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return (first, last) index of merged windows over times sorted within groups.

    Every i whose `count` consecutive times (same group) span <= `within_s` marks the window
    i..i + count - 1; a window starting no later than the previous one's last time merges.
    """
    n = len(micros)
    i = np.arange(max(n - count + 1, 0))
    j = i + count - 1
    marked = (group[i] == group[j]) & ((micros[j] - micros[i]) / US <= within_s)
    i, j = i[marked], j[marked]
    if len(i) == 0:
        return i, j
    new = np.r_[True, (group[i[1:]] != group[i[:-1]]) | (micros[i[1:]] > micros[j[:-1]])]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:] - 1, len(i) - 1]
    return i[starts], j[ends]


def _kmh(metres: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(seconds > 0, metres / seconds * 3.6, np.where(metres > 0, np.inf, 0.0))


# --------------------------------------------------------------------------- crossings
def _find_crossings(view: _View, ground: Ground, settings: GeointSettings) -> pl.DataFrame:
    """Return every segment between sides 0 and 1 with its crossing point, time and kind.

    Columns: vehicle, before, after (rows of the prepared pings), lat, lon, t_x (int64 µs),
    dt_s, fraction, kind, official (crossings within the radius), open (of those, open at
    t_x), nearest_official_m (null when none within the radius).
    """
    s = settings.events
    pings = view.tracks.pings
    settle = settle_distances(pings, s.crossing_settle_m, s.settle_accuracy_factor)
    close = within_distance(
        pings["border_cell_m"].to_numpy(),
        pings["cell_error_m"].to_numpy(),
        settle,
        lambda rows: ground.distance_to_border_m(
            view.lat[rows], view.lon[rows], max_distance_m=float(np.max(settle))
        ),
    )
    after = settled_crossings(view.vehicle, view.side, (view.side >= 0) & ~close)
    before = after - 1
    lat, lon, fraction = ground.border_intersection(
        view.lat[before], view.lon[before], view.lat[after], view.lon[after]
    )
    missing = np.isnan(fraction)
    lat = np.where(missing, (view.lat[before] + view.lat[after]) / 2, lat)
    lon = np.where(missing, (view.lon[before] + view.lon[after]) / 2, lon)
    fraction = np.where(missing, 0.5, fraction)
    span = view.ts[after] - view.ts[before]
    t_x = view.ts[before] + np.round(span * fraction).astype(np.int64)
    dt_s = view.dt_s[after]
    long = np.flatnonzero(dt_s >= s.crossing_max_gap_s)
    dark = np.zeros(len(after), dtype=bool)
    usual = _known(usual_interval_s(view, view.vehicle[after[long]]))
    dark[long] = dt_s[long] >= s.gap_interval_factor * usual
    quick = np.flatnonzero(~dark)
    point, row, metres = ground.crossings_within(
        lat[quick], lon[quick], s.crossing_official_radius_m
    )
    is_open = ground.crossing_open(row, t_x[quick][point].astype("datetime64[us]"))
    official = np.zeros(len(after), np.int64)
    opened = np.zeros(len(after), np.int64)
    nearest = np.full(len(after), np.nan)
    official[quick] = np.bincount(point, minlength=len(quick))
    opened[quick] = np.bincount(point, weights=is_open, minlength=len(quick)).astype(np.int64)
    closest = np.full(len(quick), np.inf)
    np.minimum.at(closest, point, metres)
    nearest[quick] = np.where(np.isfinite(closest), closest, np.nan)
    kind = np.full(len(after), str(EventType.DARK_CROSSING), dtype=object)
    kind[quick] = np.where(
        official[quick] == 0,
        str(EventType.UNOFFICIAL_CROSSING),
        np.where(
            opened[quick] > 0, str(EventType.BORDER_CROSSING), str(EventType.CLOSED_HOURS_CROSSING)
        ),
    )
    return pl.DataFrame(
        {
            "vehicle": view.vehicle[after],
            "before": before,
            "after": after,
            "lat": lat,
            "lon": lon,
            "t_x": t_x,
            "dt_s": dt_s,
            "fraction": fraction,
            "kind": pl.Series(kind, dtype=pl.String),
            "official": official,
            "open": opened,
            "nearest_official_m": pl.Series(nearest, nan_to_null=True),
        }
    )


def settled_crossings(vehicle: np.ndarray, side: np.ndarray, settled: np.ndarray) -> np.ndarray:
    """Return the later row of each crossing segment (docs/events.md, "Crossings").

    Rows are one vehicle's pings after another, in time order. A vehicle is on the side of
    its last *settled* ping; a settled ping on the other side makes a crossing, whose segment
    is the last change of side into the new one since the previous settled ping.
    """
    n = len(side)
    if n < 2:
        return np.zeros(0, np.int64)
    row = np.arange(n)
    last = np.maximum.accumulate(np.where(settled, row, -1))
    before = np.r_[-1, last[:-1]]  # last settled row < k
    after = np.minimum.accumulate(np.where(settled, row, n)[::-1])[::-1]  # first settled >= k
    change = np.flatnonzero(
        np.r_[False, vehicle[1:] == vehicle[:-1]]
        & (side >= 0)
        & (np.r_[-1, side[:-1]] >= 0)
        & (side + np.r_[-1, side[:-1]] == 1)
    )
    a, b = before[change], after[change]
    known = (a >= 0) & (b < n)
    change, a, b = change[known], a[known], b[known]
    real = (
        (vehicle[a] == vehicle[change])
        & (vehicle[b] == vehicle[change])
        & (side[a] != side[b])
        & (side[change] == side[b])
    )
    change, b = change[real], b[real]
    return change[np.r_[b[1:] != b[:-1], True][: len(b)]]  # the last change into each


def _outside_conflicts(
    view: _View, crossings: pl.DataFrame, conflicts: pl.DataFrame
) -> pl.DataFrame:
    """Return the crossings whose segment overlaps no identity conflict of their vehicle
    (its two pings may come from two devices)."""
    if conflicts.height == 0 or crossings.height == 0:
        return crossings
    windows = conflicts.select(
        _codes(view, conflicts["vehicle_id"]).alias("vehicle"),
        pl.col("start").to_physical().alias("from"),
        pl.col("end").to_physical().alias("to"),
    )
    spans = crossings.with_row_index("crossing").with_columns(
        pl.Series("t0", view.ts[crossings["before"].to_numpy()]),
        pl.Series("t1", view.ts[crossings["after"].to_numpy()]),
    )
    inside = (
        spans.join(windows, on="vehicle")
        .filter((pl.col("t0") <= pl.col("to")) & (pl.col("t1") >= pl.col("from")))
        .select("crossing")
    )
    return spans.filter(~pl.col("crossing").is_in(inside["crossing"].implode())).drop(
        "crossing", "t0", "t1"
    )


def _crossing_events(
    view: _View, crossings: pl.DataFrame, settings: GeointSettings
) -> pl.DataFrame:
    if crossings.height == 0:
        return _empty()
    s = settings.events
    before, after = crossings["before"].to_numpy(), crossings["after"].to_numpy()
    t_x = crossings["t_x"].to_numpy()
    detail = _detail(
        crossings.height,
        dt_s=crossings["dt_s"],
        max_gap_s=s.crossing_max_gap_s,
        crossing_time=_iso(t_x),
        fraction=crossings["fraction"],
        official_radius_m=s.crossing_official_radius_m,
        official_within=crossings["official"],
        official_open=crossings["open"],
        nearest_official_m=crossings["nearest_official_m"],
    )
    frame = _partial(
        EventType.BORDER_CROSSING,
        view.ids(crossings["vehicle"].to_numpy()),
        view.ts[before],
        view.ts[after],
        crossings["lat"].to_numpy(),
        crossings["lon"].to_numpy(),
        _pair_evidence(view, before, after),
        detail,
        side_from=view.side[before],
        side_to=view.side[after],
        reference=t_x,
    )
    return frame.with_columns(crossings["kind"].alias("event_type"))


def _shuttle_events(view: _View, crossings: pl.DataFrame, settings: GeointSettings) -> pl.DataFrame:
    s = settings.events
    ordered = crossings.sort("vehicle", "t_x", "after")
    t_x = ordered["t_x"].to_numpy()
    first, last = _merged_windows(
        ordered["vehicle"].to_numpy(), t_x, s.shuttle_min_crossings, s.shuttle_window_s
    )
    if len(first) == 0:
        return _empty()
    lengths = last - first + 1
    members = np.arange(lengths.sum()) - np.repeat(
        np.r_[0, np.cumsum(lengths)[:-1]] - first, lengths
    )
    pairs = np.column_stack(
        [
            view.ping_id[ordered["before"].to_numpy()[members]],
            view.ping_id[ordered["after"].to_numpy()[members]],
        ]
    ).ravel()
    evidence = _lists(pairs, 2 * lengths).list.unique(maintain_order=True)
    detail = _detail(
        len(first),
        crossings=lengths,
        min_crossings=s.shuttle_min_crossings,
        window_s=s.shuttle_window_s,
        span_s=(t_x[last] - t_x[first]) / US,
    )
    return _partial(
        EventType.SHUTTLE,
        view.ids(ordered["vehicle"].to_numpy()[first]),
        t_x[first],
        t_x[last],
        ordered["lat"].to_numpy()[first],
        ordered["lon"].to_numpy()[first],
        evidence,
        detail,
    )


# -------------------------------------------------------------------------------- gaps
def usual_interval_s(view: _View, vehicles: np.ndarray) -> np.ndarray:
    """Return the usual interval (s) of each of `vehicles` (codes): the median interval between
    consecutive pings of one trip (NaN for a vehicle without two)."""
    if len(vehicles) == 0:
        return np.zeros(0)
    codes = np.unique(vehicles)
    lo, hi = np.searchsorted(view.vehicle, codes), np.searchsorted(view.vehicle, codes, "right")
    lengths = hi - lo
    rows = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths - lo, lengths)
    medians = (
        pl.DataFrame({"code": np.repeat(np.arange(len(codes)), lengths), "dt": view.dt_s[rows]})
        .filter(pl.Series(view.same_trip[rows]))
        .group_by("code")
        .agg(pl.col("dt").median())
    )
    out = np.full(len(codes), np.nan)
    out[medians["code"].to_numpy()] = medians["dt"].to_numpy()
    return out[np.searchsorted(codes, vehicles)]


def _known(usual_s: np.ndarray) -> np.ndarray:
    """Usual intervals with 0 where unknown (the setting alone decides)."""
    return np.nan_to_num(usual_s, nan=0.0)


def _gap_events(view: _View, settings: GeointSettings) -> pl.DataFrame:
    s = settings.events
    near = view.tracks.pings["near_border"].to_numpy()
    after = np.flatnonzero(
        view.same_vehicle & (view.dt_s >= s.signal_gap_s) & near & np.r_[False, near[:-1]]
    )
    usual = usual_interval_s(view, view.vehicle[after])
    long = view.dt_s[after] >= s.gap_interval_factor * _known(usual)
    after, usual = after[long], usual[long]
    if len(after) == 0:
        return _empty()
    before = after - 1
    detail = _detail(
        len(after),
        dt_s=view.dt_s[after],
        usual_interval_s=usual,
        gap_interval_factor=s.gap_interval_factor,
        signal_gap_s=settings.events.signal_gap_s,
        near_border_m=settings.tracks.near_border_m,
    )
    return _partial(
        EventType.SIGNAL_GAP_NEAR_BORDER,
        view.ids(view.vehicle[after]),
        view.ts[before],
        view.ts[after],
        (view.lat[before] + view.lat[after]) / 2,
        (view.lon[before] + view.lon[after]) / 2,
        _pair_evidence(view, before, after),
        detail,
        side_from=view.side[before],
        side_to=view.side[after],
    )


# ------------------------------------------------------------------------------- stops
def _stop_partial(
    view: _View, stops: pl.DataFrame, event_type: EventType, **detail: object
) -> pl.DataFrame:
    first, last = stops["first"].to_numpy(), stops["last"].to_numpy()
    start, end = view.ts[first], view.ts[last]
    return _partial(
        event_type,
        view.ids(stops["vehicle"].to_numpy()),
        start,
        end,
        stops["lat"].to_numpy(),
        stops["lon"].to_numpy(),
        _ranges(view.ping_id, first, last),
        _detail(stops.height, duration_s=(end - start) / US, pings=last - first + 1, **detail),
    )


def _loiter_events(view: _View, ground: Ground, settings: GeointSettings) -> pl.DataFrame:
    s, near_m = settings.events, settings.tracks.near_border_m
    stops = view.tracks.stops
    lat, lon = stops["lat"].to_numpy(), stops["lon"].to_numpy()
    near = np.flatnonzero(ground.distance_to_border_m(lat, lon, max_distance_m=near_m) <= near_m)
    clear = s.loiter_clear_of_official_m
    crossing_m, _ = ground.nearest_crossing(lat[near], lon[near], max_distance_m=clear)
    place_m = ground.distance_to_place_m(lat[near], lon[near], max_distance_m=0.0)
    loiter = near[(crossing_m > clear) & (place_m > 0)]
    if len(loiter) == 0:
        return _empty()
    return _stop_partial(
        view,
        stops[loiter],
        EventType.BORDER_LOITER,
        stop_diameter_m=s.stop_diameter_m,
        stop_min_duration_s=s.stop_min_duration_s,
        near_border_m=near_m,
        clear_of_official_m=clear,
    )


# ----------------------------------------------------------------------------- transit
def _declarations(
    frame: pl.DataFrame | None, view: _View, settings: GeointSettings
) -> pl.DataFrame:
    """Return declarations (sorted by start, vehicle, corridor) with ``vehicle`` (code, null
    without pings), ``completed`` (null if never) and ``active_until`` (int64 µs)."""
    schema = {"vehicle": pl.UInt32, "completed": pl.Int64, "active_until": pl.Int64}
    if frame is None or frame.height == 0:
        return pl.DataFrame(
            schema={
                "vehicle_id": pl.String,
                "corridor_id": pl.String,
                "start": pl.Int64,
                "deadline": pl.Int64,
                "dest_lat": pl.Float64,
                "dest_lon": pl.Float64,
                "decl": pl.UInt32,
                **schema,
            }
        )
    decls = (
        frame.select(_DECLARATION_COLUMNS)
        .with_columns(
            pl.col("start").cast(UTC_DATETIME).to_physical(),
            pl.col("deadline").cast(UTC_DATETIME).to_physical(),
            _codes(view, frame["vehicle_id"]).alias("vehicle"),
        )
        .sort("start", "vehicle_id", "corridor_id")
        .with_row_index("decl")
    )
    rows = _declared_rows(decls, view)
    arrived = (
        distances_m(
            view.lat[rows["row"]], view.lon[rows["row"]], rows["dest_lat"], rows["dest_lon"]
        )
        <= settings.events.transit_arrival_radius_m
    )
    completed = (
        rows.filter(pl.Series(arrived)).group_by("decl").agg(pl.col("ts").min().alias("completed"))
    )
    return (
        decls.join(completed, on="decl", how="left")
        .with_columns(pl.coalesce("completed", "deadline").alias("active_until"))
        .sort("decl")
    )


def _declared_rows(decls: pl.DataFrame, view: _View) -> pl.DataFrame:
    """Return (decl, row, ts, dest_lat, dest_lon) for pings of each declaration's vehicle at or
    after its start."""
    return (
        view.rows.join(
            decls.select("decl", "vehicle", "start", "dest_lat", "dest_lon").drop_nulls("vehicle"),
            on="vehicle",
        )
        .filter(pl.col("ts") >= pl.col("start"))
        .select("decl", "row", "ts", "dest_lat", "dest_lon")
        .sort("decl", "row")
    )


def _unauthorized_stop_events(
    view: _View, decls: pl.DataFrame, ground: Ground, settings: GeointSettings
) -> pl.DataFrame:
    s = settings.events
    stops = view.tracks.stops.with_row_index("stop").with_columns(
        pl.col("start").to_physical().alias("_start"), pl.col("end").to_physical().alias("_end")
    )
    long_enough = (pl.col("_end") - pl.col("_start")) / US >= s.unauthorized_stop_min_s
    pairs = (
        stops.filter(long_enough)
        .join(
            decls.select(
                "decl", "vehicle", "corridor_id", "start", "active_until", "dest_lat", "dest_lon"
            ).drop_nulls("vehicle"),
            on="vehicle",
            suffix="_decl",
        )
        .filter(
            (pl.col("start_decl") <= pl.col("_start")) & (pl.col("_end") <= pl.col("active_until"))
        )
        .sort("stop", "decl")
    )
    if pairs.height == 0:
        return _empty()
    lat, lon = pairs["lat"].to_numpy(), pairs["lon"].to_numpy()
    corridor = pairs["corridor_id"].to_numpy().astype(object)
    in_area = ground.in_stop_area(lat, lon, corridor)
    to_destination = distances_m(lat, lon, pairs["dest_lat"], pairs["dest_lon"])
    unauthorized = pairs.with_columns(pl.Series("to_destination_m", to_destination)).filter(
        pl.Series(~in_area & (to_destination > s.transit_arrival_radius_m))
    )
    first = unauthorized.unique("stop", keep="first", maintain_order=True)
    if first.height == 0:
        return _empty()
    return _stop_partial(
        view,
        first,
        EventType.UNAUTHORIZED_STOP,
        corridor_id=first["corridor_id"],
        to_destination_m=first["to_destination_m"],
        unauthorized_stop_min_s=s.unauthorized_stop_min_s,
        arrival_radius_m=s.transit_arrival_radius_m,
    )


def _overdue_events(view: _View, decls: pl.DataFrame, data_end: int | None) -> pl.DataFrame:
    """Declarations not completed by their deadline, once the data reaches the deadline."""
    raw_ts = view.tracks.raw["ts"]
    if decls.height == 0 or (data_end is None and raw_ts.len() == 0):
        return _empty()
    if data_end is None:
        data_end = int(raw_ts.to_physical().max())
    late = decls.filter(
        (pl.col("completed").is_null() | (pl.col("completed") > pl.col("deadline")))
        & (pl.col("deadline") <= data_end)
    )
    if late.height == 0:
        return _empty()
    last = (
        late.sort("deadline")
        .join_asof(
            view.rows,
            left_on="deadline",
            right_on="ts",
            by="vehicle",
            strategy="backward",
            check_sortedness=False,
        )
        .sort("decl")
    )
    row = last["row"].to_numpy()
    known = ~last["row"].is_null().to_numpy()
    safe = np.where(known, row, 0).astype(np.int64)
    deadline = last["deadline"].to_numpy()
    lat, lon = _position_at(view, safe, known, deadline.astype("datetime64[us]").astype(np.int64))
    evidence = _lists(view.ping_id[safe[known]], known.astype(np.int64))
    detail = _detail(
        last.height,
        corridor_id=last["corridor_id"],
        deadline=_iso(deadline),
        completed=last["completed"].cast(UTC_DATETIME).dt.to_string(ISO_FORMAT),
    )
    return _partial(
        EventType.TRANSIT_OVERDUE,
        last["vehicle_id"],
        deadline,
        deadline,
        np.where(known, lat, last["dest_lat"].to_numpy()),
        np.where(known, lon, last["dest_lon"].to_numpy()),
        evidence,
        detail,
    )


def _position_at(
    view: _View, row: np.ndarray, known: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the lat/lon at times `at` (µs) of the vehicles whose last ping at or before is
    `row`: interpolated towards the next ping when it continues the same trip."""
    after = np.minimum(row + 1, len(view.ts) - 1)
    on = known & (row + 1 < len(view.ts)) & view.same_trip[after] & (view.ts[row] < at)
    f = np.where(on, (at - view.ts[row]) / np.where(on, view.ts[after] - view.ts[row], 1), 0.0)
    return (
        view.lat[row] + f * (view.lat[after] - view.lat[row]),
        view.lon[row] + f * (view.lon[after] - view.lon[row]),
    )


def _route_deviation_events(
    view: _View, decls: pl.DataFrame, ground: Ground, settings: GeointSettings
) -> pl.DataFrame:
    s = settings.events
    rows = (
        _declared_rows(decls, view)
        .join(decls.select("decl", "corridor_id", "active_until"), on="decl")
        .filter(pl.col("ts") <= pl.col("active_until"))
        .sort("decl", "row")
    )
    if rows.height == 0:
        return _empty()
    row = rows["row"].to_numpy()
    corridor = rows["corridor_id"].to_numpy().astype(object)
    away = ~_within_corridor(view, row, corridor, s.route_deviation_m, ground)
    decl = rows["decl"].to_numpy()
    joins = np.r_[False, (decl[1:] == decl[:-1]) & (row[1:] == row[:-1] + 1)] & view.same_trip[row]
    first, last = _runs(away, joins)
    long_enough = last - first + 1 >= s.route_deviation_min_pings
    first, last = first[long_enough], last[long_enough]
    if len(first) == 0:
        return _empty()
    a, b = row[first], row[last]
    # The run starts where the vehicle left the corridor, on the segment from the active ping
    # before (within the corridor, or it would be in the run).
    left = joins[first]
    start, lat, lon = view.ts[a].copy(), view.lat[a].copy(), view.lon[a].copy()
    o, i = row[first[left] - 1], a[left]
    metres = ground.distance_to_corridor_m(
        np.r_[view.lat[o], view.lat[i]],
        np.r_[view.lon[o], view.lon[i]],
        np.r_[corridor[first[left] - 1], corridor[first[left]]],
    )
    d_o, d_i = metres[: len(o)], metres[len(o) :]
    fraction = np.clip((s.route_deviation_m - d_o) / (d_i - d_o), 0.0, 1.0)
    start[left] = view.ts[o] + np.round(fraction * (view.ts[i] - view.ts[o])).astype(np.int64)
    lat[left] = view.lat[o] + fraction * (view.lat[i] - view.lat[o])
    lon[left] = view.lon[o] + fraction * (view.lon[i] - view.lon[o])
    return _partial(
        EventType.ROUTE_DEVIATION,
        view.ids(view.vehicle[a]),
        start,
        view.ts[b],
        lat,
        lon,
        _ranges(view.ping_id, a, b),
        _detail(
            len(a),
            corridor_id=pl.Series(corridor[first], dtype=pl.String),
            pings=b - a + 1,
            route_deviation_m=s.route_deviation_m,
            min_pings=s.route_deviation_min_pings,
        ),
    )


def _within_corridor(
    view: _View, row: np.ndarray, corridor: np.ndarray, metres: float, ground: Ground
) -> np.ndarray:
    """Return whether pings `row` are within `metres` of their corridor's centre line, from
    distances per distinct (cell, corridor) and exact ones near the threshold."""
    cells = view.tracks.pings["cell"].to_numpy()[row]
    keys = pl.DataFrame({"cell": cells, "corridor": pl.Series(corridor, dtype=pl.String)})
    distinct = keys.unique(maintain_order=True).with_row_index("key")
    index = keys.join(distinct, on=["cell", "corridor"], how="left", maintain_order="left")
    clat, clon = cell_centres(distinct["cell"].to_numpy())
    centre_m = ground.distance_to_corridor_m(
        clat, clon, distinct["corridor"].to_numpy().astype(object)
    )
    error = view.tracks.pings["cell_error_m"].to_numpy()[row]
    lat, lon = view.lat[row], view.lon[row]
    return within_distance(
        centre_m[index["key"].to_numpy()],
        error,
        metres,
        lambda r: ground.distance_to_corridor_m(lat[r], lon[r], corridor[r]),
    )


# -------------------------------------------------------------------------------- runs
def _run_partial(
    view: _View, event_type: EventType, first: np.ndarray, last: np.ndarray, **detail: object
) -> pl.DataFrame:
    start, end = view.ts[first], view.ts[last]
    fields = {"duration_s": (end - start) / US, "pings": last - first + 1} | detail
    return _partial(
        event_type,
        view.ids(view.vehicle[first]),
        start,
        end,
        view.lat[first],
        view.lon[first],
        _ranges(view.ping_id, first, last),
        _detail(len(first), **fields),
    )


def _off_road_events(view: _View, ground: Ground, settings: GeointSettings) -> pl.DataFrame:
    s = settings.events
    pings = view.tracks.pings
    keep = pings["far_from_road"].fill_null(False).to_numpy()
    moving = view.speed >= settings.tracks.moving_speed_kmh
    first, last = _runs(keep, view.same_trip & moving)
    # A run is entered (left) where the vehicle crossed the road distance on the segment from
    # the ping before (to the ping after) when only the road distance kept that ping out.
    # (a maximal run's neighbour linked to it is not kept: only its road distance may be short)
    near, link = pings["near_border"].to_numpy(), view.same_trip & moving
    n = len(view.ts)
    before, after = np.maximum(first - 1, 0), np.minimum(last + 1, n - 1)
    enters = link[first] & near[before]
    leaves = (last + 1 < n) & link[after] & near[after]
    outer_first = np.where(enters, before, first)
    outer_last = np.where(leaves, after, last)
    # the interpolated duration lies between the fixes' and the outer pings' spans
    maybe = (view.ts[outer_last] - view.ts[outer_first]) / US >= s.off_road_min_duration_s
    first, last, enters, leaves = first[maybe], last[maybe], enters[maybe], leaves[maybe]
    start = _road_threshold_time(view, first - 1, first, enters, ground, s.off_road_distance_m)
    end = _road_threshold_time(view, last + 1, last, leaves, ground, s.off_road_distance_m)
    long_enough = (end - start) / US >= s.off_road_min_duration_s
    first, last = first[long_enough], last[long_enough]
    duration_s = ((end - start) / US)[long_enough]
    if len(first) == 0:
        return _empty()
    return _run_partial(
        view,
        EventType.OFF_ROAD_NEAR_BORDER,
        first,
        last,
        duration_s=duration_s,
        off_road_distance_m=s.off_road_distance_m,
        min_duration_s=s.off_road_min_duration_s,
        near_border_m=settings.tracks.near_border_m,
        moving_speed_kmh=settings.tracks.moving_speed_kmh,
    )


def _road_threshold_time(
    view: _View,
    outside: np.ndarray,
    inside: np.ndarray,
    crossed: np.ndarray,
    ground: Ground,
    limit_m: float,
) -> np.ndarray:
    """Return the time (µs) at which each segment from row `outside` (closer than `limit_m`
    to a road) to row `inside` (not) reaches `limit_m`, linearly by road distance; the time
    of `inside` where not `crossed`."""
    at = view.ts[inside].copy()
    if not crossed.any():
        return at
    o, i = outside[crossed], inside[crossed]
    d = ground.distance_to_road_m(np.r_[view.lat[o], view.lat[i]], np.r_[view.lon[o], view.lon[i]])
    d_out, d_in = d[: len(o)], d[len(o) :]
    fraction = np.clip((limit_m - d_out) / (d_in - d_out), 0.0, 1.0)
    at[crossed] = view.ts[o] + np.round(fraction * (view.ts[i] - view.ts[o])).astype(np.int64)
    return at


def _watchlist_events(
    view: _View,
    watchlist: pl.DataFrame | None,
    conflicts: pl.DataFrame,
    ground: Ground,
    settings: GeointSettings,
) -> pl.DataFrame:
    if watchlist is not None and "kind" in watchlist.columns:  # persons, companies: no track
        watchlist = watchlist.filter(pl.col("kind").is_null() | (pl.col("kind") == "vehicle"))
    if watchlist is None or watchlist.height == 0:
        return _empty()
    s = settings.events
    band = s.watchlist_near_border_m
    expiry = pl.col("expires").cast(UTC_DATETIME) if "expires" in watchlist.columns else None
    entries = watchlist.select(
        _codes(view, watchlist["vehicle_id"]).alias("vehicle"),
        (pl.lit(None, UTC_DATETIME) if expiry is None else expiry).to_physical().alias("expires"),
    ).drop_nulls("vehicle")
    never = pl.col("expires").is_null().any()
    expires = entries.group_by("vehicle").agg(
        pl.when(never).then(None).otherwise(pl.col("expires").max()).alias("expires")
    )
    listed = view.rows.join(expires, on="vehicle").sort("row")
    row = listed["row"].to_numpy()
    if len(row) == 0:
        return _empty()
    on_list = (
        listed.select(pl.col("expires").is_null() | (pl.col("ts") < pl.col("expires")))
        .to_series()
        .to_numpy()
    )
    pings = view.tracks.pings
    cell_m, error = pings["border_cell_m"].to_numpy()[row], pings["cell_error_m"].to_numpy()[row]
    settle = settle_distances(pings, s.watchlist_settle_m, s.settle_accuracy_factor)
    leave = band + (settle[row] if isinstance(settle, np.ndarray) else settle)

    def within(metres: float | np.ndarray) -> np.ndarray:
        return within_distance(
            cell_m,
            error,
            metres,
            lambda r: ground.distance_to_border_m(
                view.lat[row[r]], view.lon[row[r]], max_distance_m=float(np.max(metres))
            ),
        )

    # In the band from a fix within it until one beyond band + settle margin; fixes between
    # the two, and those inside an identity conflict, keep the state of the fix before.
    clear = on_list & ~_in_conflicts(view, conflicts)[row]
    inside = clear & within(band)
    beyond = ~on_list | (clear & ~within(leave))
    segment_start = np.r_[True, (row[1:] != row[:-1] + 1)] | ~view.same_trip[row]
    decided = inside | beyond | segment_start
    last_decided = np.maximum.accumulate(np.where(decided, np.arange(len(row)), 0))
    keep = np.zeros(len(view.ts), dtype=bool)
    keep[row] = inside[last_decided]
    first, last = _runs(keep, view.same_trip)
    if len(first) == 0:
        return _empty()
    # The run starts where the vehicle entered the band, on the segment from the fix before
    # when that one was out of the band only by its distance.
    position = np.searchsorted(row, first)
    entered = ~segment_start[position] & clear[np.maximum(position - 1, 0)]
    start, lat, lon = view.ts[first].copy(), view.lat[first].copy(), view.lon[first].copy()
    a, b = first[entered] - 1, first[entered]
    metres = ground.distance_to_border_m(
        np.r_[view.lat[a], view.lat[b]], np.r_[view.lon[a], view.lon[b]]
    )
    d_a, d_b = metres[: len(a)], metres[len(a) :]
    fraction = np.clip((d_a - band) / (d_a - d_b), 0.0, 1.0)
    start[entered] = view.ts[a] + np.round(fraction * (view.ts[b] - view.ts[a])).astype(np.int64)
    lat[entered] = view.lat[a] + fraction * (view.lat[b] - view.lat[a])
    lon[entered] = view.lon[a] + fraction * (view.lon[b] - view.lon[a])
    end = view.ts[last]
    return _partial(
        EventType.WATCHLIST_HIT,
        view.ids(view.vehicle[first]),
        start,
        end,
        lat,
        lon,
        _ranges(view.ping_id, first, last),
        _detail(
            len(first),
            duration_s=(end - start) / US,
            pings=last - first + 1,
            watchlist_near_border_m=band,
            watchlist_settle_m=s.watchlist_settle_m,
        ),
    )


def _in_conflicts(view: _View, conflicts: pl.DataFrame) -> np.ndarray:
    """Return, per row of the prepared pings, whether it lies in an identity conflict of its
    vehicle (`start` to `end`, both included)."""
    out = np.zeros(len(view.ts), dtype=bool)
    if conflicts.height == 0:
        return out
    windows = conflicts.select(
        _codes(view, conflicts["vehicle_id"]).alias("vehicle"),
        pl.col("start").to_physical().alias("from"),
        pl.col("end").to_physical().alias("to"),
    )
    inside = view.rows.join(windows, on="vehicle").filter(
        (pl.col("ts") >= pl.col("from")) & (pl.col("ts") <= pl.col("to"))
    )
    out[inside["row"].to_numpy()] = True
    return out


# -------------------------------------------------------------------------- rendezvous
def bucket_resolution(distance_m: float) -> int:
    """Return the finest H3 resolution whose cells are so large that two points `distance_m`
    apart are always in the same cell or neighbours (edge >= 2 × distance, for the variation of
    cell sizes over the globe)."""
    for resolution in range(15, -1, -1):
        if h3.average_hexagon_edge_length(resolution, unit="m") >= 2 * distance_m:
            return resolution
    return 0


def rendezvous_candidates(runs: pl.DataFrame, settings: GeointSettings) -> pl.DataFrame:
    """Return (a, b) row pairs of `runs` (vehicle, start, end, lat, lon) that may meet.

    Runs of different vehicles, a's vehicle the smaller, sharing a time bucket with b in
    neighbouring H3 cells: a superset of the pairs within the rendezvous distance that overlap
    in time, found without comparing all pairs.
    """
    s = settings.events
    cells = latlng_to_cells(
        runs["lat"].to_numpy(), runs["lon"].to_numpy(), bucket_resolution(s.rendezvous_distance_m)
    )
    bucket = RENDEZVOUS_BUCKET_S * US
    own = runs.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("run"),
        "vehicle",
        pl.Series("cell", cells, dtype=pl.UInt64),
        pl.int_ranges(
            pl.col("start").to_physical() // bucket, pl.col("end").to_physical() // bucket + 1
        ).alias("bucket"),
    ).explode("bucket")
    row, near = grid_disks(cells, 1)
    around = own.join(
        pl.DataFrame({"run": row, "near": pl.Series(near, dtype=pl.UInt64)}), on="run"
    )
    return (
        around.join(own, left_on=["near", "bucket"], right_on=["cell", "bucket"], suffix="_b")
        .filter(pl.col("vehicle") < pl.col("vehicle_b"))
        .select(pl.col("run").alias("a"), pl.col("run_b").alias("b"))
        .unique()
        .sort("a", "b")
    )


def rendezvous_runs(tracks: Tracks, ground: Ground, settings: GeointSettings) -> pl.DataFrame:
    """Return the stationary runs of `tracks` that may be half of a rendezvous: vehicle_id,
    start, end, lat, lon, evidence (their ping ids) and their fixes (``fix_ts`` in
    microseconds, ``fix_lat``, ``fix_lon``, ``fix_stray``: what `apart_at_common_times`
    interpolates), in vehicle and time order.

    Long enough, and near enough to the border for a meeting point (the midpoint of two runs
    at most the rendezvous distance apart) to be within the rendezvous border distance: the
    compact per-vehicle input that `rendezvous_partials` pairs across vehicles.
    """
    s = settings.events
    runs = tracks.stationary.filter(
        (pl.col("end") - pl.col("start")).dt.total_microseconds() / US
        >= s.rendezvous_min_duration_s
    )
    # a midpoint is at most half the distance from each run; the full distance is the margin
    reach = s.rendezvous_near_border_m + s.rendezvous_distance_m
    lat, lon = runs["lat"].to_numpy(), runs["lon"].to_numpy()
    near = ground.distance_to_border_m(lat, lon, max_distance_m=reach) <= reach
    runs = runs.filter(pl.Series(near, dtype=pl.Boolean))
    first, last = runs["first"].to_numpy(), runs["last"].to_numpy()
    pings = tracks.pings
    return pl.DataFrame(
        {
            "vehicle_id": tracks.vehicle_ids.cast(pl.String).gather(runs["vehicle"].cast(pl.Int64)),
            "start": runs["start"],
            "end": runs["end"],
            "lat": runs["lat"],
            "lon": runs["lon"],
            "evidence": _ranges(pings["ping_id"].to_numpy(), first, last),
            "fix_ts": _ranges(micros(pings["ts"]), first, last, pl.Int64()),
            "fix_lat": _ranges(pings["lat"].to_numpy(), first, last, pl.Float64()),
            "fix_lon": _ranges(pings["lon"].to_numpy(), first, last, pl.Float64()),
            "fix_stray": _ranges(tracks.stray, first, last, pl.Boolean()),
        },
        schema=RUN_SCHEMA,
    )


RUN_SCHEMA: dict[str, pl.DataType] = {
    "vehicle_id": pl.String(),
    "start": UTC_DATETIME,
    "end": UTC_DATETIME,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "evidence": pl.List(pl.UInt64()),
    "fix_ts": pl.List(pl.Int64()),
    "fix_lat": pl.List(pl.Float64()),
    "fix_lon": pl.List(pl.Float64()),
    "fix_stray": pl.List(pl.Boolean()),
}


def rendezvous_partials(
    runs: pl.DataFrame, ground: Ground, settings: GeointSettings
) -> pl.DataFrame:
    """Return the PARTIAL_SCHEMA rendezvous of `runs` (`rendezvous_runs`, of any vehicles)."""
    s = settings.events
    vehicle_ids = runs["vehicle_id"].unique().sort()
    runs = runs.with_columns(
        pl.col("vehicle_id")
        .cast(pl.Enum(vehicle_ids))
        .to_physical()
        .cast(pl.UInt32)
        .alias("vehicle")
    )
    pairs = rendezvous_candidates(runs, settings)
    if pairs.height == 0:
        return _empty()
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    start_all, end_all = (
        runs["start"].to_physical().to_numpy(),
        runs["end"].to_physical().to_numpy(),
    )
    lat_all, lon_all = runs["lat"].to_numpy(), runs["lon"].to_numpy()
    start = np.maximum(start_all[a], start_all[b])
    end = np.minimum(end_all[a], end_all[b])
    apart = distances_m(lat_all[a], lon_all[a], lat_all[b], lon_all[b])
    meet = ((end - start) / US >= s.rendezvous_min_duration_s) & (apart <= s.rendezvous_distance_m)
    lengths = runs["fix_ts"].list.len().to_numpy().astype(np.int64)
    offsets = np.r_[0, np.cumsum(lengths)]
    first, last = offsets[:-1], offsets[1:] - 1  # each run's fixes in the exploded columns
    together = np.full(len(a), np.inf)
    together[meet] = apart_at_common_times(
        first,
        last,
        a[meet],
        b[meet],
        *(runs[c].explode().to_numpy() for c in ("fix_ts", "fix_lat", "fix_lon", "fix_stray")),
    )
    meet &= together <= s.rendezvous_distance_m
    lat = (lat_all[a] + lat_all[b]) / 2
    lon = (lon_all[a] + lon_all[b]) / 2
    meet[meet] = (
        ground.distance_to_border_m(lat[meet], lon[meet], max_distance_m=s.rendezvous_near_border_m)
        <= s.rendezvous_near_border_m
    )
    clear = s.loiter_clear_of_official_m
    meet[meet] = ground.nearest_crossing(lat[meet], lon[meet], max_distance_m=clear)[0] > clear
    meet[meet] = ground.distance_to_place_m(lat[meet], lon[meet], max_distance_m=0.0) > 0
    keep = np.flatnonzero(meet)
    if len(keep) == 0:
        return _empty()
    a, b = a[keep], b[keep]
    evidence = (
        pl.DataFrame({"a": runs["evidence"].gather(a), "b": runs["evidence"].gather(b)})
        .select(pl.concat_list("a", "b"))
        .to_series()
    )
    detail = _detail(
        len(a),
        apart_m=apart[keep],
        median_apart_m=together[keep],
        overlap_s=(end[keep] - start[keep]) / US,
        rendezvous_distance_m=s.rendezvous_distance_m,
        min_duration_s=s.rendezvous_min_duration_s,
        near_border_m=s.rendezvous_near_border_m,
        clear_of_official_m=clear,
    )
    return _partial(
        EventType.RENDEZVOUS,
        runs["vehicle_id"].gather(a),
        start[keep],
        end[keep],
        lat[keep],
        lon[keep],
        evidence,
        detail,
        other_vehicle_id=runs["vehicle_id"].gather(b),
    )


# ----------------------------------------------------------------- identity and GNSS
def _raw_arrays(view: _View) -> tuple[np.ndarray, ...]:
    raw = view.tracks.raw
    return (
        raw["vehicle"].to_numpy(),
        raw["ts"].to_physical().to_numpy(),
        raw["lat"].to_numpy(),
        raw["lon"].to_numpy(),
        raw["ping_id"].to_numpy(),
    )


def _identity_conflicts(view: _View, settings: GeointSettings) -> pl.DataFrame:
    """Windows of >= 3 jumps (> 50 km) within an hour whose pings split into two plausible
    tracks (docs/events.md), on the raw pings."""
    s = settings.events
    vehicle, ts, lat, lon, ping_id = _raw_arrays(view)
    apart = distances_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    jumps = np.flatnonzero((vehicle[1:] == vehicle[:-1]) & (apart > s.identity_conflict_distance_m))
    jumps += 1  # a jump is named by its later ping
    first, last = _merged_windows(
        vehicle[jumps], ts[jumps], s.identity_conflict_alternations, s.identity_conflict_window_s
    )
    if len(first) == 0:
        return _empty()
    r0, r1 = jumps[first] - 1, jumps[last]
    lengths = r1 - r0 + 1
    window = np.repeat(np.arange(len(r0)), lengths)
    rows = np.arange(lengths.sum()) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]] - r0, lengths)
    far = distances_m(lat[rows], lon[rows], lat[r0[window]], lon[r0[window]]) > (
        s.identity_conflict_distance_m
    )
    order = np.lexsort((rows, far, window))
    rows, far, window = rows[order], far[order], window[order]
    same = (window[1:] == window[:-1]) & (far[1:] == far[:-1])
    speed = _kmh(
        distances_m(lat[rows[:-1]], lon[rows[:-1]], lat[rows[1:]], lon[rows[1:]]),
        (ts[rows[1:]] - ts[rows[:-1]]) / US,
    )
    implausible = np.zeros(len(r0), dtype=bool)
    implausible[window[1:][same & (speed > settings.ingest.spike_speed_kmh)]] = True
    near_count = np.bincount(window[~far], minlength=len(r0))
    far_count = np.bincount(window[far], minlength=len(r0))
    ok = np.flatnonzero((near_count >= 2) & (far_count >= 2) & ~implausible)
    if len(ok) == 0:
        return _empty()
    # The conflict starts at the clone's first fix, where the device of the window's first
    # fix was then: between that fix and its own next one (the first two of group A).
    group_a = np.searchsorted(window, ok)
    own, own_next = rows[group_a], rows[group_a + 1]
    r0, r1 = r0[ok], r1[ok]
    start = ts[r0 + 1]
    span = ts[own_next] - ts[own]
    fraction = np.where(span > 0, (start - ts[own]) / np.where(span > 0, span, 1), 0.0)
    lat0 = lat[own] + fraction * (lat[own_next] - lat[own])
    lon0 = lon[own] + fraction * (lon[own_next] - lon[own])
    detail = _detail(
        len(ok),
        jumps=(last - first + 1)[ok],
        group_sizes=pl.DataFrame({"a": near_count[ok], "b": far_count[ok]})
        .select(pl.concat_list("a", "b"))
        .to_series(),
        jump_m=s.identity_conflict_distance_m,
        min_jumps=s.identity_conflict_alternations,
        window_s=s.identity_conflict_window_s,
        plausible_kmh=settings.ingest.spike_speed_kmh,
    )
    return _partial(
        EventType.IDENTITY_CONFLICT,
        view.ids(vehicle[r0]),
        start,
        ts[r1],
        lat0,
        lon0,
        _ranges(ping_id, r0, r1),
        detail,
    )


def _gnss_events(view: _View, conflicts: pl.DataFrame, settings: GeointSettings) -> pl.DataFrame:
    """Windows of >= 3 isolated spikes within an hour, outside identity-conflict windows."""
    s = settings.events
    vehicle, ts, lat, lon, ping_id = _raw_arrays(view)
    spike_rows = np.flatnonzero(view.tracks.raw["spike"].to_numpy())
    spikes = pl.DataFrame({"row": spike_rows, "vehicle": vehicle[spike_rows], "ts": ts[spike_rows]})
    windows = conflicts.select(
        _codes(view, conflicts["vehicle_id"]).alias("vehicle"),
        pl.col("start").to_physical().alias("from"),
        pl.col("end").to_physical().alias("to"),
    )
    inside = (
        spikes.join(windows, on="vehicle")
        .filter((pl.col("from") <= pl.col("ts")) & (pl.col("ts") <= pl.col("to")))
        .select("row")
    )
    rows = spikes.filter(~pl.col("row").is_in(inside["row"].implode()))["row"].to_numpy()
    first, last = _merged_windows(
        vehicle[rows], ts[rows], s.gnss_anomaly_min_spikes, s.gnss_anomaly_window_s
    )
    if len(first) == 0:
        return _empty()
    before = rows[first] - 1
    detail = _detail(
        len(first),
        spikes=last - first + 1,
        min_spikes=s.gnss_anomaly_min_spikes,
        window_s=s.gnss_anomaly_window_s,
        spike_kmh=settings.ingest.spike_speed_kmh,
    )
    return _partial(
        EventType.GNSS_ANOMALY,
        view.ids(vehicle[rows[first]]),
        ts[rows[first]],
        ts[rows[last]],
        lat[before],
        lon[before],
        _ranges(ping_id[rows], first, last),
        detail,
    )


# ------------------------------------------------------------------------- every event
def finish_events(partial: pl.DataFrame, ground: Ground, settings: GeointSettings) -> pl.DataFrame:
    """Return EVENT_SCHEMA events from PARTIAL_SCHEMA rows: cell, sides, distances to the
    border and the nearest official crossing at lat/lon, night, id; sorted (docs/events.md)."""
    if partial.height == 0:
        return pl.DataFrame(schema=EVENT_SCHEMA)
    lat, lon = partial["lat"].to_numpy(), partial["lon"].to_numpy()
    side = pl.Series(ground.side(lat, lon), dtype=pl.Int8)
    crossing_m, _ = ground.nearest_crossing(lat, lon)
    s = settings.events
    hour = pl.coalesce("reference", "start").dt.convert_time_zone(ground.timezone).dt.hour()
    if s.night_start_hour > s.night_end_hour:
        night = (hour >= s.night_start_hour) | (hour < s.night_end_hour)
    else:
        night = (hour >= s.night_start_hour) & (hour < s.night_end_hour)
    frame = partial.with_columns(
        pl.Series("cell", latlng_to_cells(lat, lon, settings.h3_resolution), dtype=pl.UInt64),
        pl.col("side_from").fill_null(side),
        pl.col("side_to").fill_null(side),
        night.alias("night"),
        pl.Series("distance_to_border_m", ground.distance_to_border_m(lat, lon)),
        pl.Series("distance_to_crossing_m", crossing_m),
    )
    keys = frame.select(
        pl.concat_str(
            pl.col("event_type"),
            pl.col("vehicle_id"),
            pl.col("other_vehicle_id").fill_null(""),
            pl.col("evidence").list.first().cast(pl.String).fill_null(""),
            pl.col("start").to_physical().cast(pl.String),
            separator="|",
        )
    ).to_series()
    ids = [hashlib.sha1(key.encode()).hexdigest()[:16] for key in keys]
    return (
        frame.with_columns(pl.Series("event_id", ids, dtype=pl.String))
        .select(list(EVENT_SCHEMA))
        .cast(EVENT_SCHEMA)
        .sort("start", "event_type", "vehicle_id", "other_vehicle_id", "event_id")
    )

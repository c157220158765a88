"""Track preparation (docs/events.md, "Preparation"), vectorised over all vehicles at once.

Pings are ordered per vehicle by time (ties by ping id), GPS spikes are recomputed over whole
tracks, and the other pings get their segment from the previous ping of the same vehicle, their
trip, country side and border and road context. Stops (the greedy 200 m rule) and stationary runs
come out as tables of row ranges of the prepared pings. The sequential scans are numba kernels;
times inside them are int64 microseconds since the epoch.

Layer distances are measured once per distinct H3 cell, at its centre. Distances are
1-Lipschitz, so a ping's distance lies within its *cell error* (its own distance to the centre,
widened for the metric CRS's scale factor) of its cell's: a threshold is decided from the cell
table for every ping except those within that error of it, which are measured exactly (SPEC §14).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import polars as pl

from geoint.geodesy import distance_m, distances_m
from geoint.ground import Ground
from geoint.h3index import cell_centres, latlng_to_cells
from geoint.schema import UTC_DATETIME
from geoint.settings import GeointSettings

US = 1_000_000  # microseconds per second
# |d(ping) - d(centre)| <= _SCALE * great-circle(ping, centre) + _SLACK_M: the metric CRS stretches
# great-circle lengths by its scale factor (a UTM zone: < 1.01 over the zone and its margins)
_SCALE = 1.1
_SLACK_M = 5.0
# the bbox pre-check of the stop scan accepts only this far below the diameter, so that the
# difference between a corner bound and exact great-circle distances never decides a case
_BBOX_SAFETY = 1e-3
_SIDE_CHUNK = 500_000


@dataclass(frozen=True)
class Tracks:
    """Every vehicle's prepared track.

    ``vehicle_ids``: the id of each integer vehicle code; sorted, so codes order as ids do.

    ``raw``: every ping, sorted by (vehicle, ts, ping_id): ``ping_id``, ``vehicle`` (code),
    ``ts``, ``lat``, ``lon``, ``spike`` (recomputed over the whole track).

    ``pings``: the non-spike pings in the same order, with ``cell``; their segment from the
    previous ping of the vehicle ``dt_s``, ``distance_m``, ``speed_kmh``, ``bearing_deg`` (NaN at
    a vehicle's first ping); ``trip`` (global number); ``side``; ``cell_error_m`` (bound on the
    difference between the ping's and its cell centre's layer distances); ``border_cell_m``
    (cell centre's distance to the border, inf beyond the largest border threshold);
    ``near_border`` (exact); ``far_from_road`` (exact ``distance_to_road_m >=
    off_road_distance_m``, null where not near the border).

    ``stops`` and ``stationary``: ``vehicle``, ``trip``, ``first``, ``last`` (rows of ``pings``),
    ``start``, ``end``, ``lat``, ``lon`` (mean position, stray fixes left out).

    ``stray``: per row of ``pings``, whether it is a stray fix skipped by its stationary run.
    """

    vehicle_ids: pl.Series
    raw: pl.DataFrame
    pings: pl.DataFrame
    stops: pl.DataFrame
    stationary: pl.DataFrame
    stray: np.ndarray


def prepare_tracks(pings: pl.DataFrame, ground: Ground, settings: GeointSettings) -> Tracks:
    """Return the prepared tracks of `pings` (ping_id, vehicle_id, ts, lat, lon[, cell]).

    Pings without a ``cell`` column are indexed at ``settings.h3_resolution``.
    """
    ordered, vehicle_ids = order_pings(pings, settings.h3_resolution)
    spike = find_spikes(ordered, settings.ingest.spike_speed_kmh)
    raw = ordered.select("ping_id", "vehicle", "ts", "lat", "lon").with_columns(
        pl.Series("spike", spike)
    )
    kept = add_segments(ordered.filter(~spike), settings.tracks.trip_gap_s)
    del ordered
    kept = add_context(kept, ground, settings)
    events = settings.events
    stops = find_stops(
        kept,
        events.stop_diameter_m,
        events.stop_min_duration_s,
        events.stop_outlier_run,
        events.stop_outlier_share,
    )
    stationary, stray = stationary_runs(
        kept, settings.tracks.moving_speed_kmh, events.rendezvous_stray_run
    )
    return Tracks(vehicle_ids, raw, kept, stops, stationary, stray)


# ----------------------------------------------------------------------------- ordering
def order_pings(pings: pl.DataFrame, resolution: int) -> tuple[pl.DataFrame, pl.Series]:
    """Return (ping_id, vehicle, ts, lat, lon, cell) sorted by (vehicle, ts, ping_id), and ids.

    ``vehicle`` is a UInt32 code into the returned sorted vehicle ids.
    """
    vehicle_ids = pings["vehicle_id"].unique().sort()
    frame = pings.select(
        pl.col("ping_id").cast(pl.UInt64),
        pl.col("vehicle_id")
        .cast(pl.Enum(vehicle_ids))
        .to_physical()
        .cast(pl.UInt32)
        .alias("vehicle"),
        pl.col("ts").cast(UTC_DATETIME),
        pl.col("lat").cast(pl.Float64),
        pl.col("lon").cast(pl.Float64),
    )
    reported = "accuracy_m" in pings.columns and pings["accuracy_m"].null_count() < pings.height
    if reported:  # by some trackers: their settle distances grow with it
        frame = frame.with_columns(pings["accuracy_m"].cast(pl.Float32))
    if "cell" in pings.columns:
        frame = frame.with_columns(pings["cell"].cast(pl.UInt64))
    else:
        cells = latlng_to_cells(frame["lat"].to_numpy(), frame["lon"].to_numpy(), resolution)
        frame = frame.with_columns(pl.Series("cell", cells, dtype=pl.UInt64))
    if not _is_ordered(frame):
        frame = frame.sort("vehicle", "ts", "ping_id")
    return frame, vehicle_ids


def _is_ordered(frame: pl.DataFrame) -> bool:
    if frame.height < 2:
        return True
    vehicle = frame["vehicle"].to_numpy()
    ts = micros(frame["ts"])
    ping = frame["ping_id"].to_numpy()
    later_vehicle = vehicle[1:] > vehicle[:-1]
    same_vehicle = vehicle[1:] == vehicle[:-1]
    later = (ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (ping[1:] > ping[:-1]))
    return bool(np.all(later_vehicle | (same_vehicle & later)))


def micros(ts: pl.Series) -> np.ndarray:
    """Return int64 microseconds since the epoch of a UTC datetime column."""
    return ts.dt.cast_time_unit("us").to_physical().to_numpy()


# ------------------------------------------------------------------------------- kernels
@numba.njit(cache=True)
def _kmh(t1: int, lat1: float, lon1: float, t2: int, lat2: float, lon2: float) -> float:
    metres = distance_m(lat1, lon1, lat2, lon2)
    seconds = (t2 - t1) / 1e6
    if seconds > 0:
        return metres / seconds * 3.6
    return np.inf if metres > 0 else 0.0


@numba.njit(parallel=True, cache=True, nogil=True)
def _spike_kernel(vehicle, ts, lat, lon, max_kmh):
    n = ts.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    for k in numba.prange(1, max(n - 1, 1)):
        if vehicle[k - 1] != vehicle[k] or vehicle[k + 1] != vehicle[k]:
            continue
        if (
            _kmh(ts[k - 1], lat[k - 1], lon[k - 1], ts[k], lat[k], lon[k]) > max_kmh
            and _kmh(ts[k], lat[k], lon[k], ts[k + 1], lat[k + 1], lon[k + 1]) > max_kmh
            and _kmh(ts[k - 1], lat[k - 1], lon[k - 1], ts[k + 1], lat[k + 1], lon[k + 1])
            <= max_kmh
        ):
            out[k] = True
    return out


@numba.njit(parallel=True, cache=True, nogil=True)
def _segment_kernel(vehicle, ts, lat, lon):
    n = ts.shape[0]
    dt = np.full(n, np.nan)
    metres = np.full(n, np.nan)
    speed = np.full(n, np.nan)
    bearing = np.full(n, np.nan, dtype=np.float32)
    for k in numba.prange(1, max(n, 1)):
        if vehicle[k] != vehicle[k - 1]:
            continue
        dt[k] = (ts[k] - ts[k - 1]) / 1e6
        metres[k] = distance_m(lat[k - 1], lon[k - 1], lat[k], lon[k])
        speed[k] = _kmh(ts[k - 1], lat[k - 1], lon[k - 1], ts[k], lat[k], lon[k])
        p1, p2 = math.radians(lat[k - 1]), math.radians(lat[k])
        dl = math.radians(lon[k]) - math.radians(lon[k - 1])
        y = math.sin(dl) * math.cos(p2)
        x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
        bearing[k] = (math.degrees(math.atan2(y, x)) + 360.0) % 360.0
    return dt, metres, speed, bearing


@numba.njit(cache=True)
def _corner_bound(lat, lon, south, west, north, east):
    return max(
        max(distance_m(lat, lon, south, west), distance_m(lat, lon, south, east)),
        max(distance_m(lat, lon, north, west), distance_m(lat, lon, north, east)),
    )


@numba.njit(cache=True)
def _fits(p, i, j, lat, lon, outlier, bbox, diameter, accept):
    """Whether row p is within `diameter` of every inlier of rows i..j (bbox: their bounds,
    or a superset; refreshed in place when the exact check runs)."""
    if distance_m(lat[p], lon[p], lat[j], lon[j]) > diameter:
        return False  # a moving vehicle's next ping is usually too far from the last one
    if _corner_bound(lat[p], lon[p], bbox[0], bbox[1], bbox[2], bbox[3]) <= accept:
        return True
    bbox[0], bbox[2], bbox[1], bbox[3] = lat[i], lat[i], lon[i], lon[i]
    fits = True
    for q in range(i, j + 1):
        if outlier[q]:
            continue
        bbox[0], bbox[2] = min(bbox[0], lat[q]), max(bbox[2], lat[q])
        bbox[1], bbox[3] = min(bbox[1], lon[q]), max(bbox[3], lon[q])
        if fits and distance_m(lat[p], lon[p], lat[q], lon[q]) > diameter:
            fits = False
    return fits


@numba.njit(parallel=True, cache=True, nogil=True)
def _stop_kernel(bounds, ts, lat, lon, diameter, min_us, outlier_run, outlier_share):
    """Return, per row, the last row of the stop that starts there (-1 where none starts),
    and which rows are outliers of their stop.

    Greedy per trip (rows bounds[t] .. bounds[t + 1] - 1): from the first unused row i, extend
    j while the next row is within `diameter` of every inlier of rows i..j; when it is not,
    up to `outlier_run` rows are skipped as outliers if the row after them fits and the
    window's outliers stay within `outlier_share` of its rows. A run lasting >= min_us is a
    stop and the scan goes on after it, else at i + 1. Without outliers rows i + 1..j still
    fit (a subset of a fitting window), so the extension resumes at j: the result equals the
    plain restart. A bbox of the inliers (possibly of a superset) bounds the distance of a
    new row to each of them; only when that bound is not clearly inside the diameter are the
    distances computed one by one.
    """
    n = ts.shape[0]
    last = np.full(n, -1, dtype=np.int64)
    outlier = np.zeros(n, dtype=np.bool_)
    accept = diameter * (1.0 - _BBOX_SAFETY)
    for t in numba.prange(bounds.shape[0] - 1):
        lo, hi = bounds[t], bounds[t + 1]
        i, j = lo, lo - 1
        skipped = 0
        bbox = np.zeros(4)  # south, west, north, east
        while i < hi:
            if j < i:
                j = i
                bbox[0], bbox[2], bbox[1], bbox[3] = lat[i], lat[i], lon[i], lon[i]
            while j + 1 < hi:
                p = j + 1
                q = p
                if not _fits(p, i, j, lat, lon, outlier, bbox, diameter, accept):
                    q = -1
                    for r in range(p + 1, min(p + outlier_run + 1, hi)):
                        if skipped + r - p > outlier_share * (r - i + 1):
                            break
                        if _fits(r, i, j, lat, lon, outlier, bbox, diameter, accept):
                            q = r
                            break
                    if q < 0:
                        break
                    for r in range(p, q):
                        outlier[r] = True
                    skipped += q - p
                bbox[0], bbox[2] = min(bbox[0], lat[q]), max(bbox[2], lat[q])
                bbox[1], bbox[3] = min(bbox[1], lon[q]), max(bbox[3], lon[q])
                j = q
            if ts[j] - ts[i] >= min_us:
                last[i] = j
                i = j + 1
            else:
                if skipped:  # the window without row i may judge its outliers otherwise
                    for r in range(i, j + 1):
                        outlier[r] = False
                    j = i
                i += 1
            skipped = 0
    return last, outlier


@numba.njit(cache=True)
def _range_means(values, first, last, skip):
    """Return the mean of values[first..last] of each range, leaving out `skip` rows."""
    out = np.empty(first.shape[0])
    for r in range(first.shape[0]):
        total, count = 0.0, 0
        for k in range(first[r], last[r] + 1):
            if not skip[k]:
                total += values[k]
                count += 1
        out[r] = total / count
    return out


# ------------------------------------------------------------------ spikes and segments
def find_spikes(ordered: pl.DataFrame, max_speed_kmh: float) -> np.ndarray:
    """Return the spike flag of each ordered ping (docs/events.md): implied speed to both
    neighbours above `max_speed_kmh` while the neighbours are plausible with each other."""
    return _spike_kernel(
        ordered["vehicle"].to_numpy(),
        micros(ordered["ts"]),
        ordered["lat"].to_numpy(),
        ordered["lon"].to_numpy(),
        float(max_speed_kmh),
    )


def add_segments(ordered: pl.DataFrame, trip_gap_s: float) -> pl.DataFrame:
    """Return ordered pings with their segment from the previous ping and their trip."""
    vehicle = ordered["vehicle"].to_numpy()
    dt, metres, speed, bearing = _segment_kernel(
        vehicle, micros(ordered["ts"]), ordered["lat"].to_numpy(), ordered["lon"].to_numpy()
    )
    new_trip = np.isnan(dt) | (dt >= trip_gap_s)
    return ordered.with_columns(
        pl.Series("trip", np.cumsum(new_trip) - 1, dtype=pl.UInt32),
        pl.Series("dt_s", dt),
        pl.Series("distance_m", metres),
        pl.Series("speed_kmh", speed),
        pl.Series("bearing_deg", bearing),
    )


# ------------------------------------------------------------------------ layer context
def within_distance(
    approx: np.ndarray,
    error: np.ndarray,
    threshold: float | np.ndarray,
    exact: Callable[[np.ndarray], np.ndarray],
    strict: bool = False,
) -> np.ndarray:
    """Return ``d <= threshold`` (``d < threshold`` if `strict`; a threshold per row or one for
    all) for distances known to within ``approx ± error``; ``exact(rows)`` measures the rows
    the bound leaves undecided."""
    if strict:
        out = approx + error < threshold
        undecided = ~out & (approx - error < threshold)
    else:
        out = approx + error <= threshold
        undecided = ~out & (approx - error <= threshold)
    rows = np.flatnonzero(undecided)
    if len(rows):
        measured = exact(rows)
        limit = threshold[rows] if isinstance(threshold, np.ndarray) else threshold
        out[rows] = measured < limit if strict else measured <= limit
    return out


def settle_distances(pings: pl.DataFrame, settle_m: float, factor: float) -> float | np.ndarray:
    """Return the settle distance of each ping: `settle_m`, or `factor` times its reported
    ``accuracy_m`` where that is larger (one number when no ping reports an accuracy)."""
    if "accuracy_m" not in pings.columns or pings["accuracy_m"].null_count() == pings.height:
        return settle_m
    accuracy = pings["accuracy_m"].cast(pl.Float64).fill_null(0.0).to_numpy()
    return np.maximum(settle_m, factor * accuracy)


def distinct_cells(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (distinct cells, index of each row's cell among them)."""
    n = len(cells)
    if n == 0:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    # consecutive pings of a track mostly share a cell: unique over runs is several times cheaper
    starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    distinct, run_index = np.unique(cells[starts], return_inverse=True)
    return distinct, np.repeat(run_index, np.diff(np.r_[starts, n]))


def add_context(frame: pl.DataFrame, ground: Ground, settings: GeointSettings) -> pl.DataFrame:
    """Return pings with side, cell error, cell border distance, near_border, far_from_road."""
    lat, lon = frame["lat"].to_numpy(), frame["lon"].to_numpy()
    distinct, index = distinct_cells(frame["cell"].to_numpy())
    clat, clon = cell_centres(distinct)
    error = _SCALE * distances_m(lat, lon, clat[index], clon[index]) + _SLACK_M
    slack = (float(error.max()) if len(error) else 0.0) + 1.0
    near_m = settings.tracks.near_border_m
    events, factor = settings.events, settings.events.settle_accuracy_factor
    # cell distances must reach every threshold they decide, settle distances included
    watch_m = events.watchlist_near_border_m + np.max(
        settle_distances(frame, events.watchlist_settle_m, factor)
    )
    crossing_m = np.max(settle_distances(frame, events.crossing_settle_m, factor))
    reach = float(max(near_m, watch_m, crossing_m)) + slack
    border_cell = ground.distance_to_border_m(clat, clon, max_distance_m=reach)[index]
    near = within_distance(
        border_cell,
        error,
        near_m,
        lambda rows: ground.distance_to_border_m(lat[rows], lon[rows], max_distance_m=near_m),
    )
    road_m = settings.events.off_road_distance_m
    near_rows = np.flatnonzero(near)
    road_cells, road_index = np.unique(index[near_rows], return_inverse=True)
    road_cell = ground.distance_to_road_m(
        clat[road_cells], clon[road_cells], max_distance_m=road_m + slack
    )[road_index]
    lat_n, lon_n = lat[near_rows], lon[near_rows]
    close_to_road = within_distance(
        road_cell,
        error[near_rows],
        road_m,
        lambda rows: ground.distance_to_road_m(lat_n[rows], lon_n[rows], max_distance_m=road_m),
        strict=True,
    )
    far = np.zeros(len(lat), dtype=bool)
    far[near_rows] = ~close_to_road
    return frame.with_columns(
        pl.Series("side", _sides(ground, lat, lon), dtype=pl.Int8),
        pl.Series("cell_error_m", error),
        pl.Series("border_cell_m", border_cell),
        pl.Series("near_border", near),
        pl.when(pl.Series(near)).then(pl.Series(far)).otherwise(None).alias("far_from_road"),
    )


def _sides(ground: Ground, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Return the side of every ping; large inputs in threads (point-in-polygon frees the GIL)."""
    if len(lat) <= _SIDE_CHUNK:
        return ground.side(lat, lon)
    bounds = range(0, len(lat), _SIDE_CHUNK)
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = pool.map(
            lambda s: ground.side(lat[s : s + _SIDE_CHUNK], lon[s : s + _SIDE_CHUNK]), bounds
        )
        return np.concatenate(list(parts))


# ---------------------------------------------------------------- stops and stationary runs
def find_stops(
    pings: pl.DataFrame,
    diameter_m: float,
    min_duration_s: float,
    outlier_run: int = 0,
    outlier_share: float = 0.0,
) -> pl.DataFrame:
    """Return the stops of prepared pings (greedy per trip; see `_stop_kernel`), their
    centres the mean of their inliers."""
    bounds = _trip_bounds(pings["trip"].to_numpy())
    lat, lon = pings["lat"].to_numpy(), pings["lon"].to_numpy()
    last, outlier = _stop_kernel(
        bounds,
        micros(pings["ts"]),
        lat,
        lon,
        float(diameter_m),
        round(min_duration_s * US),
        int(outlier_run),
        float(outlier_share),
    )
    first = np.flatnonzero(last >= 0)
    return _ranges(pings, first, last[first], outlier)


def stationary_runs(
    pings: pl.DataFrame, moving_speed_kmh: float, stray_run: int = 0
) -> tuple[pl.DataFrame, np.ndarray]:
    """Return the stationary runs of prepared pings (see `_stationary_kernel`) and which rows
    are stray fixes inside them; run positions are the means of their other rows."""
    bounds = _trip_bounds(pings["trip"].to_numpy())
    last, stray = _stationary_kernel(
        bounds,
        micros(pings["ts"]),
        pings["lat"].to_numpy(),
        pings["lon"].to_numpy(),
        float(moving_speed_kmh),
        int(stray_run),
    )
    first = np.flatnonzero(last >= 0)
    return _ranges(pings, first, last[first], stray), stray


def apart_at_common_times(
    first: np.ndarray,
    last: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    ts_us: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    stray: np.ndarray,
) -> np.ndarray:
    """Return, per pair (a, b) of stationary runs (rows first..last of the fixes `ts_us`
    (microseconds), `lat`, `lon`, `stray`), the median distance between their positions at
    their common times (`_apart_kernel`)."""
    return _apart_kernel(
        first[a].astype(np.int64),
        last[a].astype(np.int64),
        first[b].astype(np.int64),
        last[b].astype(np.int64),
        ts_us.astype(np.int64),
        lat.astype(np.float64),
        lon.astype(np.float64),
        stray.astype(np.bool_),
    )


@numba.njit(parallel=True, cache=True, nogil=True)
def _apart_kernel(a_lo, a_hi, b_lo, b_hi, ts, lat, lon, stray):
    """Median, over the fixes (strays left out) of either run inside the two runs' overlap,
    of the distance between that fix and the other run's position interpolated to its time."""
    out = np.zeros(a_lo.shape[0])
    for k in numba.prange(a_lo.shape[0]):
        start, end = max(ts[a_lo[k]], ts[b_lo[k]]), min(ts[a_hi[k]], ts[b_hi[k]])
        metres = np.concatenate(
            (
                _apart_from(a_lo[k], a_hi[k], b_lo[k], b_hi[k], start, end, ts, lat, lon, stray),
                _apart_from(b_lo[k], b_hi[k], a_lo[k], a_hi[k], start, end, ts, lat, lon, stray),
            )
        )
        out[k] = np.median(metres)
    return out


@numba.njit(cache=True)
def _apart_from(x_lo, x_hi, y_lo, y_hi, start, end, ts, lat, lon, stray):
    """Distances from run x's fixes in [start, end] to run y interpolated to their times."""
    out = np.empty(x_hi - x_lo + 1)
    n = 0
    k = y_lo  # y's last fix at or before the current time (y_lo is never a stray)
    for p in range(x_lo, x_hi + 1):
        if stray[p] or ts[p] < start or ts[p] > end:
            continue
        m = k + 1
        while m <= y_hi and (stray[m] or ts[m] <= ts[p]):
            if not stray[m]:
                k = m
            m += 1
        if ts[k] == ts[p] or m > y_hi:
            y_lat, y_lon = lat[k], lon[k]
        else:
            f = (ts[p] - ts[k]) / (ts[m] - ts[k])
            y_lat, y_lon = lat[k] + f * (lat[m] - lat[k]), lon[k] + f * (lon[m] - lon[k])
        out[n] = distance_m(lat[p], lon[p], y_lat, y_lon)
        n += 1
    return out[:n]


def _trip_bounds(trip: np.ndarray) -> np.ndarray:
    """Return the first row of every trip, then the row count."""
    n = len(trip)
    bounds = np.flatnonzero(np.r_[True, trip[1:] != trip[:-1]]) if n else np.empty(0, np.int64)
    return np.r_[bounds, n].astype(np.int64)


@numba.njit(parallel=True, cache=True, nogil=True)
def _stationary_kernel(bounds, ts, lat, lon, moving_kmh, stray_run):
    """Return, per row, the last row of the stationary run that starts there (-1 where none
    starts), and which rows are stray fixes skipped by a run.

    Per trip, from the first unused row i: the run's next row is j + 1 if the segment from its
    last row j is slower than `moving_kmh`, else (once the run has two rows) the first of the
    next `stray_run` rows after it that is (the rows between are strays); the run ends where
    none is. A run of >= 2 rows is kept and the scan goes on after it, else at i + 1.
    """
    n = ts.shape[0]
    last = np.full(n, -1, dtype=np.int64)
    stray = np.zeros(n, dtype=np.bool_)
    for t in numba.prange(bounds.shape[0] - 1):
        hi = bounds[t + 1]
        i = bounds[t]
        while i < hi:
            j = i
            while True:
                q = -1
                reach = j + 2 + (stray_run if j > i else 0)  # no strays before the 2nd row
                for r in range(j + 1, min(reach, hi)):
                    if _kmh(ts[j], lat[j], lon[j], ts[r], lat[r], lon[r]) < moving_kmh:
                        q = r
                        break
                if q < 0:
                    break
                for r in range(j + 1, q):
                    stray[r] = True
                j = q
            if j > i:
                last[i] = j
                i = j + 1
            else:
                i += 1
    return last, stray


def _ranges(
    pings: pl.DataFrame, first: np.ndarray, last: np.ndarray, skip: np.ndarray | None = None
) -> pl.DataFrame:
    """Return vehicle, trip, first, last, start, end, lat, lon (means without the `skip`
    rows) of row ranges."""
    lat, lon = pings["lat"].to_numpy(), pings["lon"].to_numpy()
    first, last = first.astype(np.int64), last.astype(np.int64)
    skip = np.zeros(len(lat), dtype=bool) if skip is None else skip
    return pl.DataFrame(
        {
            "vehicle": pings["vehicle"].gather(first),
            "trip": pings["trip"].gather(first),
            "first": first,
            "last": last,
            "start": pings["ts"].gather(first),
            "end": pings["ts"].gather(last),
            "lat": _range_means(lat, first, last, skip),
            "lon": _range_means(lon, first, last, skip),
        }
    )

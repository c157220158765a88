"""Motion plans of simulated devices and their pings, sampled for all devices at once.

A `Track` is one GPS device: where it is over time (knots joined by straight constant-speed
moves, in the metric CRS) and when it reports. `sample_pings` turns many tracks into pings in a
few numpy passes: ping times on each device's reporting grid, positions interpolated between
knots, GPS noise (smaller while standing still, as receivers hold a static fix), random missing
pings and isolated spikes. Times are float seconds since the scenario start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from geoint.sim.scenery import Leg
from geoint.sim.signal import SignalProfile, heavy_tail, irregular_times

STATIC_NOISE_SHARE = 0.25  # noise while standing still, relative to the device's noise
DEVICE_NOISE_M = (5.0, 15.0)  # range of the clean devices' RMS error while moving
_CHUNK = 1_000_000  # pings positioned at a time


@dataclass
class Track:
    """One device: a vehicle id, its knots, reporting windows and planted spikes."""

    vehicle_id: str
    t: float
    xy: np.ndarray
    phase: float  # pings fall on phase + k * interval
    noise_m: float  # horizontal RMS error while moving
    legit: bool = True  # legitimate devices drop pings and spike at random
    knots: list[np.ndarray] = field(default_factory=list)  # (t, x, y) rows
    windows: list[tuple[float, float]] = field(default_factory=list)
    spikes: list[tuple[float, float]] = field(default_factory=list)  # (time, metres)
    reporting_since: float | None = None

    def __post_init__(self) -> None:
        self.knots.append(np.array([[self.t, self.xy[0], self.xy[1]]]))

    def drive(self, leg: Leg, factor: float = 1.0) -> None:
        """Drive along a leg at `factor` times its free-flow speeds."""
        if len(leg.coords) < 2:
            return
        seconds = np.diff(leg.distance) / (leg.speed * factor)
        times = self.t + np.cumsum(seconds)
        self.knots.append(np.column_stack([times, leg.coords[1:]]))
        self.t, self.xy = float(times[-1]), leg.coords[-1].copy()

    def move(self, xy: np.ndarray, speed_ms: float) -> None:
        """Go straight to a point at one speed."""
        self.drive(Leg.straight(np.array([self.xy, xy]), speed_ms))

    def wait(self, seconds: float) -> None:
        """Stand still."""
        if seconds > 0:
            self.t += seconds
            self.knots.append(np.array([[self.t, self.xy[0], self.xy[1]]]))

    def wait_until(self, t: float) -> None:
        self.wait(t - self.t)

    def report(self, on: bool) -> None:
        """Start or stop reporting from now."""
        if on and self.reporting_since is None:
            if self.windows and self.windows[-1][1] >= self.t:  # resume the window just closed
                self.reporting_since = self.windows.pop()[0]
            else:
                self.reporting_since = self.t
        elif not on and self.reporting_since is not None:
            if self.t > self.reporting_since:
                self.windows.append((self.reporting_since, self.t))
            self.reporting_since = None

    def spike(self, at: float, metres: float) -> None:
        """Plant a spike `metres` off the true position at the ping nearest to time `at`."""
        self.spikes.append((at, metres))

    def finish(self) -> None:
        self.report(False)

    def knot_table(self) -> np.ndarray:
        """Return all knots (t, x, y) in time order."""
        return np.concatenate(self.knots)


@dataclass(frozen=True)
class Pings:
    """Sampled pings of many tracks, sorted by track then time."""

    track: np.ndarray
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    speed_ms: np.ndarray
    heading: np.ndarray  # degrees clockwise from grid north; NaN while still


def sample_pings(
    tracks: list[Track],
    interval_s: float,
    rng: np.random.Generator,
    max_missing: int,
    drop_rate: float = 0.01,
    burst_rate: float = 0.002,
    signal: SignalProfile | None = None,
) -> Pings:
    """Return the pings of every track: on its grid, noisy, with drops and spikes.

    Legitimate tracks lose single pings (`drop_rate`) and short bursts (`burst_rate` per ping)
    of at most `max_missing` consecutive pings; planted tracks lose only what their plan says.
    A degraded `signal` profile samples at irregular steps instead of the grid, maps each
    device's error into its range with a heavy tail, and drops its share of every track's
    fixes. Positions are computed a chunk of pings at a time, to bound memory.
    """
    degraded = signal is not None and not signal.clean
    noise = np.array([tr.noise_m for tr in tracks])
    if degraded:
        windows = [(i, a, b) for i, tr in enumerate(tracks) for a, b in tr.windows]
        track, t = irregular_times(windows, interval_s, signal.step_share, rng)
        low, high = signal.noise_m
        noise = low + (noise - DEVICE_NOISE_M[0]) / np.ptp(DEVICE_NOISE_M) * (high - low)
        drop_rate = signal.drop_rate
    else:
        track, t = _ping_times(tracks, interval_s)
        noise = noise / np.sqrt(2)
    knots = _Knots(tracks)
    x, y = np.empty(len(t)), np.empty(len(t))
    speed, heading = np.empty(len(t), np.float32), np.empty(len(t), np.float32)
    for a in range(0, len(t), _CHUNK):
        part = slice(a, a + _CHUNK)
        px, py, vx, vy = knots.at(track[part], t[part])
        moving = np.hypot(vx, vy)
        still = moving < 0.1
        sigma = noise[track[part]] * np.where(still, STATIC_NOISE_SHARE, 1.0)
        if degraded:
            dx, dy = heavy_tail(sigma, signal, rng)
        else:
            dx, dy = rng.normal(0.0, 1.0, len(px)) * sigma, rng.normal(0.0, 1.0, len(px)) * sigma
        x[part], y[part] = px + dx, py + dy
        speed[part] = moving
        heading[part] = np.where(still, np.nan, np.degrees(np.arctan2(vx, vy)) % 360.0)
    spiked = _spike_rows(tracks, track, t)
    legit = np.array([tr.legit or degraded for tr in tracks])[track]
    keep = ~_drops(track, legit, spiked, rng, max_missing, drop_rate, burst_rate)
    rows, metres = spiked
    angle = rng.uniform(0.0, 2 * np.pi, len(rows))
    x[rows] += metres * np.sin(angle)
    y[rows] += metres * np.cos(angle)
    return Pings(track[keep], t[keep], x[keep], y[keep], speed[keep], heading[keep])


def _ping_times(tracks: list[Track], interval_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (track, time) of every ping: each window's grid points, sorted by track and time."""
    owner, start, end = [], [], []
    for i, tr in enumerate(tracks):
        for a, b in tr.windows:
            owner.append(i)
            start.append(np.ceil((a - tr.phase) / interval_s))
            end.append(np.floor((b - tr.phase) / interval_s))
    owner_a, first, last = np.array(owner, dtype=np.int64), np.array(start), np.array(end)
    count = np.maximum(last - first + 1, 0).astype(np.int64)
    track = np.repeat(owner_a, count)
    step = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    phase = np.array([tr.phase for tr in tracks])
    t = (np.repeat(first, count) + step) * interval_s + phase[track]
    return track, t  # tracks in order, each one's windows in time order


class _Knots:
    """Every track's knots in one table, for interpolation at many (track, time) at once."""

    def __init__(self, tracks: list[Track]) -> None:
        # a last knot far ahead keeps every track's final position after its plan ends
        knots = [tr.knot_table() for tr in tracks]
        knots = [np.vstack([k, [k[-1, 0] + 1e7, k[-1, 1], k[-1, 2]]]) for k in knots]
        sizes = np.array([len(k) for k in knots])
        self.table = np.concatenate(knots)
        self.offset = np.r_[0, np.cumsum(sizes)]
        low = min(float(self.table[:, 0].min()), 0.0)
        self.span = float(self.table[:, 0].max() - low) + 1.0
        self.key = np.repeat(np.arange(len(knots)), sizes) * self.span + self.table[:, 0]

    def at(
        self, track: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return positions and velocities at (track, time), interpolated between knots."""
        table = self.table
        at = np.searchsorted(self.key, track * self.span + t, side="right") - 1
        at = np.clip(at, self.offset[track], self.offset[track + 1] - 2)
        t0, t1 = table[at, 0], table[at + 1, 0]
        dt = np.where(t1 > t0, t1 - t0, 1.0)
        share = np.clip((t - t0) / dt, 0.0, 1.0)
        dx, dy = table[at + 1, 1] - table[at, 1], table[at + 1, 2] - table[at, 2]
        return table[at, 1] + share * dx, table[at, 2] + share * dy, dx / dt, dy / dt


def _spike_rows(
    tracks: list[Track], track: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the rows of the pings nearest to each planted spike time, and their offsets."""
    bounds = np.searchsorted(track, np.arange(len(tracks) + 1))
    rows, metres = [], []
    for i, tr in enumerate(tracks):
        if not tr.spikes:
            continue
        times = t[bounds[i] : bounds[i + 1]]
        for at, distance in tr.spikes:
            k = int(np.clip(np.searchsorted(times, at), 1, len(times) - 2))
            rows.append(bounds[i] + k)
            metres.append(distance)
    return np.array(rows, dtype=np.int64), np.array(metres, dtype=float)


def _drops(
    track: np.ndarray,
    legit: np.ndarray,
    spiked: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
    max_missing: int,
    drop_rate: float,
    burst_rate: float,
) -> np.ndarray:
    """Return which pings go missing: singles and short bursts, never a track's ends,
    never a spike or its neighbours, never more than `max_missing` in a row."""
    n = len(track)
    drop = rng.random(n) < drop_rate
    starts = np.flatnonzero(rng.random(n) < burst_rate)
    lengths = rng.integers(2, max(max_missing, 2) + 1, len(starts))
    covered = np.repeat(starts, lengths) + (
        np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
    drop[covered[covered < n]] = True
    drop &= legit
    edge = np.r_[True, track[1:] != track[:-1]] | np.r_[track[1:] != track[:-1], True]
    drop &= ~edge
    rows = spiked[0]
    for shift in (-1, 0, 1):
        drop[np.clip(rows + shift, 0, n - 1)] = False
    # undo runs longer than allowed
    run_start = drop & ~np.r_[False, drop[:-1]]
    run_id = np.cumsum(run_start) * drop
    lengths_of = np.bincount(run_id)
    drop &= lengths_of[run_id] <= max_missing
    return drop

"""Signal profiles: how simulated trackers report (docs/signals.md).

`clean` is the generator's original sampling: a regular grid, 5-15 m of error, a few single
drops. `typical` and `poor` are what trackers on remote borders deliver: irregular sampling
with jitter, 10-30 m of error with a heavy tail of fixes tens of metres off, dropped fixes,
dead zones whose fixes arrive buffered hours later, duplicate and out-of-order deliveries,
device clocks a few seconds off, and vehicles that queue for customs a few metres from the
line. A degraded scenario is sampled from the same motion plans as the clean one, whose pings
give its ground truth: what the vehicles did, not what the noisy fixes imply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

MINUTE = 60.0
HOUR = 3_600.0


@dataclass(frozen=True)
class SignalProfile:
    """How devices report: sampling, error, losses and delivery (all times in seconds)."""

    name: str
    noise_m: tuple[float, float]  # per-device RMS horizontal error while moving, range
    outlier_share: float  # share of fixes from the heavy tail
    outlier_m: float  # RMS error of a tail fix
    step_share: tuple[float, float]  # each sampling step is this share of the interval, range
    drop_rate: float  # fixes lost at random (never a track's ends or a spike's neighbours)
    dead_zones_per_day: float  # per device and day: fixes buffered, delivered at its end
    dead_zone_s: tuple[float, float]  # duration of a dead zone, range
    late_share: float  # fixes delivered 1-10 min late (out of order)
    duplicate_share: float  # fixes delivered twice
    clock_offset_s: float  # a device's clock is off by up to this much, either way
    customs_m: float  # vehicles queue for customs this far before the border line

    @property
    def clean(self) -> bool:
        return self.name == "clean"


PROFILES: dict[str, SignalProfile] = {
    "clean": SignalProfile(
        "clean", (5.0, 15.0), 0.0, 0.0, (1.0, 1.0), 0.01, 0.0, (0.0, 0.0), 0.0, 0.0, 0.0, 150.0
    ),
    "typical": SignalProfile(
        "typical",
        (10.0, 20.0),
        0.03,
        60.0,
        (0.5, 1.5),
        0.08,
        0.5,
        (30 * MINUTE, 3 * HOUR),
        0.01,
        0.01,
        5.0,
        5.0,
    ),
    "poor": SignalProfile(
        "poor",
        (15.0, 30.0),
        0.06,
        80.0,
        (0.5, 2.0),
        0.15,
        1.0,
        (1 * HOUR, 4 * HOUR),
        0.03,
        0.02,
        15.0,
        3.0,
    ),
}


def profile(name: str) -> SignalProfile:
    """Return the signal profile called `name`; a ValueError names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"signal must be one of {', '.join(PROFILES)}, got {name!r}") from None


def irregular_times(
    windows: list[tuple[int, float, float]],
    interval_s: float,
    share: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (owner, time) of fixes in reporting windows (owner, start, end), each step a
    random share of the interval: sorted by owner (in window order) and time."""
    if not windows:
        return np.zeros(0, np.int64), np.zeros(0)
    owner = np.array([w[0] for w in windows], dtype=np.int64)
    start = np.array([w[1] for w in windows])
    end = np.array([w[2] for w in windows])
    low, high = share[0] * interval_s, share[1] * interval_s
    # enough steps for the window at the shortest step; the surplus is cut below
    count = (np.ceil((end - start) / low) + 1).astype(np.int64)
    window = np.repeat(np.arange(len(windows)), count)
    steps = rng.uniform(low, high, len(window))
    first = np.r_[0, np.cumsum(count)[:-1]]
    steps[first] *= rng.random(len(windows))  # the first fix falls anywhere in its step
    total = np.cumsum(steps)
    t = start[window] + total - np.repeat(total[first] - steps[first], count)
    keep = t <= end[window]
    return owner[window[keep]], t[keep]


def heavy_tail(
    sigma: np.ndarray, profile: SignalProfile, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return (dx, dy) errors: Gaussian of RMS `sigma`, a share from the profile's tail."""
    n = len(sigma)
    sigma = np.where(rng.random(n) < profile.outlier_share, profile.outlier_m, sigma) / np.sqrt(2)
    return rng.normal(0.0, 1.0, n) * sigma, rng.normal(0.0, 1.0, n) * sigma


def deliver(
    pings: pl.DataFrame, profile: SignalProfile, days: int, rng: np.random.Generator
) -> pl.DataFrame:
    """Return pings as the devices deliver them: clocks off, dead zones delivered late,
    some fixes late or twice, with a ``received`` time (UTC) and sorted by it.

    `pings` has vehicle_id and ts (UTC), sorted by vehicle and time.
    """
    n = pings.height
    if n == 0:
        return pings.with_columns(pl.col("ts").alias("received"))
    vehicle = pings["vehicle_id"]
    ids, code = np.unique(vehicle.to_numpy(), return_inverse=True)
    offset = rng.uniform(-profile.clock_offset_s, profile.clock_offset_s, len(ids))
    ts = pings["ts"].dt.epoch("us").to_numpy() / 1e6
    # transmission takes a few seconds; a fix taken in a dead zone waits for its end
    received = ts + rng.uniform(1.0, 10.0, n)
    low, high = float(ts.min()), float(ts.max())
    zones = rng.poisson(profile.dead_zones_per_day * days, len(ids))
    zone_vehicle = np.repeat(np.arange(len(ids)), zones)
    zone_start = rng.uniform(low, high, len(zone_vehicle))
    zone_end = zone_start + rng.uniform(*profile.dead_zone_s, len(zone_vehicle))
    span = high - low + 1.0
    key = code * span + (ts - low)  # increasing: pings are sorted by vehicle and time
    first = np.searchsorted(key, zone_vehicle * span + (zone_start - low))
    last = np.searchsorted(key, zone_vehicle * span + (zone_end - low))
    for a, b, end in zip(first, last, zone_end, strict=True):  # loops over zones, not pings
        received[a:b] = end + rng.uniform(5.0, 60.0, b - a)
    late = rng.random(n) < profile.late_share
    received[late] += rng.uniform(MINUTE, 10 * MINUTE, int(late.sum()))
    twice = np.flatnonzero(rng.random(n) < profile.duplicate_share)
    shifted = np.round((ts + offset[code]) * 1e3) * 1e3  # device clocks report milliseconds
    out = pings.with_columns(
        pl.Series("ts", shifted.astype(np.int64)).cast(pl.Datetime("us", "UTC")),
        _utc(received),
    )
    again = out[twice].with_columns(_utc(received[twice] + rng.uniform(MINUTE, HOUR, len(twice))))
    return pl.concat([out, again]).sort("received", "vehicle_id", "ts")


def _utc(seconds: np.ndarray) -> pl.Series:
    micros = np.round(seconds * 1e6).astype(np.int64)
    return pl.Series("received", micros).cast(pl.Datetime("us", "UTC"))

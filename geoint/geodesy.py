"""Distances on the sphere: degrees in, metres out (haversine on the mean Earth radius).

Three forms of one formula: `distance_m` for two points (a numba kernel, callable from other
kernels and from Python), `distances_m` for equal-length arrays (the same kernel in parallel:
the detectors' hot path) and `haversine_m` for numpy arrays that broadcast (a point against many).
"""

from __future__ import annotations

import math

import numba
import numpy as np

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG), metres


@numba.njit(cache=True)
def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle metres between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2) - math.radians(lon1)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


@numba.njit(parallel=True, cache=True, nogil=True)
def _pairwise(lat1, lon1, lat2, lon2):  # pragma: no cover - compiled
    out = np.empty(lat1.shape[0])
    for k in numba.prange(lat1.shape[0]):
        out[k] = distance_m(lat1[k], lon1[k], lat2[k], lon2[k])
    return out


def distances_m(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Return the great-circle metres between equal-length arrays of points in degrees."""
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (lat1, lon1, lat2, lon2)]
    return _pairwise(*arrays)


def haversine_m(lat1: object, lon1: object, lat2: object, lon2: object) -> np.ndarray:
    """Return the great-circle metres between points in degrees (numpy broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))

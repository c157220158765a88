"""Activity anomaly per cell and day with empirical-Bayes shrinkage (SPEC §7, docs/cells.md).

For cell i on day d, the baseline is its count of distinct vehicles over the trailing
``baseline_days`` before d (S over E days; d itself excluded). Its daily rate λ_i has a Gamma
prior with mean m_i, the mean baseline rate of the cells in H3 rings 1..k around it (absent
cells count 0; at least ``prior_floor_per_day``), and relative spread 1/a:
λ_i ~ Gamma(a, a / m_i). The strength a is estimated per day by the method of moments over all
cells (Marshall, 1991): the variance of the relative rates S / (E m) less their Poisson part.
The day's count then follows the posterior
predictive negative binomial NB(a + S, β / (β + 1)) with β = a / m + E, whose mean is the
expected count. The anomaly is its upper-tail p-value P(Y ≥ y) and the normal z-score of that
tail (Φ⁻¹(1 − p), within ±8), which stays honest for small discrete counts: a sparse remote
cell needs more than one passing vehicle to stand out, since a short history and a quiet
neighbourhood both widen its predictive tail.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import nbinom, norm

from geoint.analytics.hotspots import ring_weights
from geoint.settings import CellSettings

_MIN_SPREAD = 1e-3  # smallest relative-rate variance (a at most 1000: near-total shrinkage)
_MAX_Z = 8.0


def activity_anomaly(days: pl.DataFrame, cells: np.ndarray, settings: CellSettings) -> pl.DataFrame:
    """Return cell, date, expected, anomaly_z, anomaly_p for every row of `days`.

    `days` holds cell, date and ``vehicles`` (distinct vehicles: pings come in bursts per
    vehicle, far from Poisson, while vehicles arrive nearly independently); `cells` (sorted
    uint64) are all analysed cells. Days with under ``baseline_min_days`` of history get nulls.
    """
    observed = days["vehicles"].to_numpy()
    first = days["date"].min()
    day = (days["date"] - first).dt.total_days().to_numpy() if days.height else np.empty(0, int)
    n, n_days = len(cells), (int(day.max()) + 1 if len(day) else 0)
    row = np.searchsorted(cells, days["cell"].to_numpy())
    flat = np.bincount(row * n_days + day, weights=observed, minlength=n * n_days)
    # float32 halves the memory traffic of these cells × days arrays; counts stay exact
    cumulative = np.zeros((n, n_days + 1), dtype=np.float32)
    np.cumsum(flat.reshape(n, n_days), axis=1, out=cumulative[:, 1:])
    lower = np.maximum(np.arange(n_days) - settings.baseline_days, 0)
    baseline = cumulative[:, :n_days] - cumulative[:, lower]  # S: the days before d
    del cumulative, flat
    exposure = (np.arange(n_days) - lower).astype(np.float64)  # E

    neighbours = ring_weights(cells, settings.neighbourhood_k, include_self=False)
    ring_size = 3.0 * settings.neighbourhood_k * (settings.neighbourhood_k + 1)  # H3 rings 1..k
    rate = baseline / np.maximum(exposure, 1.0).astype(np.float32)
    prior_mean = neighbours.astype(np.float32) @ rate
    del rate
    prior_mean /= np.float32(ring_size)
    np.maximum(prior_mean, settings.prior_floor_per_day, out=prior_mean)
    strength = _prior_strength(baseline, exposure, prior_mean)[day]
    s = strength + baseline[row, day].astype(np.float64)
    b = strength / prior_mean[row, day].astype(np.float64) + exposure[day]
    expected = s / b
    p = nbinom.sf(observed - 1, s, b / (b + 1))
    z = np.clip(norm.isf(p), -_MAX_Z, _MAX_Z)
    valid = exposure[day] >= settings.baseline_min_days
    return pl.DataFrame(
        {
            "cell": days["cell"].cast(pl.UInt64),
            "date": days["date"],
            "expected": np.where(valid, expected, np.nan),
            "anomaly_z": np.where(valid, z, np.nan),
            "anomaly_p": np.where(valid, p, np.nan),
        }
    ).fill_nan(None)


def _prior_strength(
    baseline: np.ndarray, exposure: np.ndarray, prior_mean: np.ndarray
) -> np.ndarray:
    """Return the Gamma shape a of each day by the method of moments (Marshall, 1991).

    With r = S / (E m) and weights E m, the weighted variance of r across cells less its
    Poisson part R̄ / mean(E m) estimates the variance 1 / a of the relative rates.
    """
    n = max(baseline.shape[0], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        predicted = exposure * prior_mean.sum(axis=0, dtype=np.float64)  # Σ E m
        observed = baseline.sum(axis=0, dtype=np.float64)  # Σ S
        overall = observed / predicted  # R̄
        weighted = np.einsum("ij,ij->j", baseline, baseline / prior_mean, dtype=np.float64)
        weighted /= exposure  # Σ S² / (E m)
        spread = (weighted - overall * observed) / predicted - overall / (predicted / n)
    return 1.0 / np.where(np.isfinite(spread), np.maximum(spread, _MIN_SPREAD), 1.0)

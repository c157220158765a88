"""Getis-Ord Gi* hotspots over H3 rings and Esri's emerging hotspot classes (SPEC §7).

Gi* uses binary weights over rings 0..k (the cell itself included, as Gi* does) among the
analysed cells, and is computed for every window at once as one sparse matrix product; it
equals ``esda.G_Local(y, w, transform="B", star=True).Zs`` (tests/test_cells.py). p-values
are two-sided normal, corrected per window with Benjamini–Hochberg; bins ±1/±2/±3 mark
corrected p ≤ 0.10/0.05/0.01 with the sign of z. Emerging classes follow Esri's "How Emerging
Hot Spot Analysis works" on weekly Gi* z (Mann-Kendall trend); see docs/cells.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse
from scipy.special import ndtr

from geoint.h3index import grid_disks
from geoint.settings import CellSettings

BIN_LEVELS = (0.10, 0.05, 0.01)
NO_PATTERN = "no pattern"
PATTERNS = (
    "new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic",
    "oscillating", "historical",
)  # fmt: skip
CLASSES = (
    NO_PATTERN,
    *(f"{p} hot spot" for p in PATTERNS),
    *(f"{p} cold spot" for p in PATTERNS),
)


def ring_weights(cells: np.ndarray, k: int, include_self: bool) -> sparse.csr_matrix:
    """Return binary weights between sorted `cells`: 1 where j is within k rings of i.

    Only cells of `cells` are neighbours (the analysed study area).
    """
    cells = np.asarray(cells, dtype=np.uint64)
    rows, neighbours = grid_disks(cells, k)
    at = np.searchsorted(cells, neighbours).clip(max=max(len(cells) - 1, 0))
    keep = cells[at] == neighbours if len(cells) else np.zeros(0, bool)
    if not include_self:
        keep &= at != rows
    n = len(cells)
    data = np.ones(int(keep.sum()))
    return sparse.csr_matrix((data, (rows[keep], at[keep])), shape=(n, n))


def gi_star(values: np.ndarray, weights: sparse.csr_matrix) -> np.ndarray:
    """Return Gi* z-scores (cells × windows) of `values` (cells × windows); 0 where undefined.

    z = (Σ_j w_ij x_j − W_i x̄) / (s √(W_i (n − W_i) / (n − 1))), with x̄ and s the mean and
    (population) standard deviation of the window and W_i = Σ_j w_ij.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    z = weights @ values  # the spatial lag, turned into z in place (large: cells × windows)
    card = np.asarray(weights.sum(axis=1)).reshape(-1, 1)
    mean = values.sum(axis=0) / n
    sd = np.sqrt(np.maximum(np.einsum("ij,ij->j", values, values) / n - mean**2, 0.0))
    z -= card * mean
    with np.errstate(divide="ignore", invalid="ignore"):
        z /= np.sqrt(card * (n - card) / max(n - 1, 1))
        z /= sd
    return np.nan_to_num(z, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


def two_sided_p(z: np.ndarray) -> np.ndarray:
    """Return two-sided normal p-values of z-scores."""
    return 2.0 * ndtr(-np.abs(z))


class BenjaminiHochberg:
    """Benjamini–Hochberg adjustment of families given as distinct p-values with counts.

    Family w holds ``count[k]`` tests of p-value ``value[k]``. Tied p-values share the largest
    rank, as in the usual definition, so the adjusted value of p is the suffix minimum of
    n·p₍ₖ₎/k over the sorted family from its rank on; it is looked up for any p of the family.
    """

    def __init__(self, values: list[np.ndarray], counts: list[np.ndarray]) -> None:
        self._sorted, self._adjusted = [], []
        for value, count in zip(values, counts, strict=True):
            order = np.argsort(value, kind="stable")
            value, count = value[order], count[order]
            rank = np.cumsum(count)
            last = np.r_[value[1:] != value[:-1], True]  # last of each run of ties
            value, rank = value[last], rank[last]
            scaled = value * (rank[-1] / rank) if len(rank) else value
            self._sorted.append(value)
            self._adjusted.append(np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0))

    def at(self, p: np.ndarray, window: np.ndarray) -> np.ndarray:
        """Return the adjusted values of p-values `p` of families `window`."""
        out = np.empty(len(p))
        order = np.argsort(window, kind="stable")
        bounds = np.searchsorted(window[order], np.arange(len(self._sorted) + 1))
        for w, (value, adjusted) in enumerate(zip(self._sorted, self._adjusted, strict=True)):
            rows = order[bounds[w] : bounds[w + 1]]  # loops over windows (few), not cells
            out[rows] = adjusted[np.searchsorted(value, p[rows])]
        return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Return BH-adjusted p-values, each column (window) a family of tests."""
    p = np.asarray(p, dtype=np.float64)
    columns = list(p.T)
    fdr = BenjaminiHochberg(columns, [np.ones(len(c)) for c in columns])
    windows = np.broadcast_to(np.arange(p.shape[1]), p.shape)
    return fdr.at(p.ravel(), windows.ravel()).reshape(p.shape)


def hotspot_bins(z: np.ndarray, p_adjusted: np.ndarray) -> np.ndarray:
    """Return int8 bins: ±1/±2/±3 for corrected p ≤ 0.10/0.05/0.01, sign of z; else 0."""
    level = sum((p_adjusted <= a).astype(np.int8) for a in BIN_LEVELS)
    return (np.sign(z).astype(np.int8) * level).astype(np.int8)


@dataclass(frozen=True)
class GiWindows:
    """Gi* of every analysed cell (sorted) and window (sorted ``dates``), stored sparsely.

    Most cells have no event near them in a window: their spatial lag is 0 and their z depends
    only on their number of neighbours W_i (``card``) and the window. Those z are kept per
    (W_i, window) in ``background``; the others per entry (``keys`` = row · windows + column).
    """

    dates: np.ndarray
    card: np.ndarray  # W_i of every cell
    card_values: np.ndarray  # distinct W_i
    background: np.ndarray  # z of a zero lag: len(card_values) × windows
    keys: np.ndarray  # sorted
    z_entries: np.ndarray
    fdr: BenjaminiHochberg

    def z(self, row: np.ndarray, window: np.ndarray) -> np.ndarray:
        """Return z at (cell row, window column) pairs."""
        key = row * len(self.dates) + window
        at = np.searchsorted(self.keys, key).clip(max=max(len(self.keys) - 1, 0))
        found = self.keys[at] == key if len(self.keys) else np.zeros(len(key), bool)
        level = np.searchsorted(self.card_values, self.card[row])
        return np.where(
            found, self.z_entries[at] if len(self.keys) else 0.0, self.background[level, window]
        )

    def dense(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (z, corrected p) of every cell and window as matrices."""
        n, t = len(self.card), len(self.dates)
        z = self.background[np.searchsorted(self.card_values, self.card)]
        z.ravel()[self.keys] = self.z_entries
        window = np.broadcast_to(np.arange(t), (n, t)).ravel()
        return z, self.fdr.at(two_sided_p(z).ravel(), window).reshape(n, t)


def gi_windows(
    table: pl.DataFrame, cells: np.ndarray, weights: sparse.csr_matrix, value: str = "severity"
) -> GiWindows:
    """Return Gi* of `value` for every cell and window, corrected per window.

    `table` holds (cell, date, `value`); `cells` (sorted uint64) is the study area and
    `weights` its `ring_weights` (rings 0..k); windows are the distinct dates of `table`; a
    cell absent from a window counts 0 there. The same z as `gi_star`, from sparse products.
    """
    dates = np.unique(table["date"].to_numpy())
    n, t = len(cells), len(dates)
    nonzero = table.filter(pl.col(value) != 0)
    row = np.searchsorted(cells, nonzero["cell"].to_numpy())
    col = np.searchsorted(dates, nonzero["date"].to_numpy())
    values = sparse.csr_matrix((nonzero[value].to_numpy(), (row, col)), shape=(n, t))
    mean = np.asarray(values.sum(axis=0)).ravel() / n
    sd = np.sqrt(
        np.maximum(np.asarray(values.multiply(values).sum(axis=0)).ravel() / n - mean**2, 0)
    )
    card = np.asarray(weights.sum(axis=1)).ravel()
    card_values = np.unique(card)
    lag = (weights @ values).tocoo()

    def scale(c: np.ndarray, w: np.ndarray) -> np.ndarray:
        return sd[w] * np.sqrt(c * (n - c) / max(n - 1, 1))

    with np.errstate(divide="ignore", invalid="ignore"):
        z_entries = (lag.data - card[lag.row] * mean[lag.col]) / scale(card[lag.row], lag.col)
        grid_c, grid_w = np.meshgrid(card_values, np.arange(t), indexing="ij")
        background = -grid_c * mean[grid_w] / scale(grid_c, grid_w)
    z_entries = np.nan_to_num(z_entries, nan=0.0, posinf=0.0, neginf=0.0)
    background = np.nan_to_num(background, nan=0.0, posinf=0.0, neginf=0.0)
    keys = lag.row.astype(np.int64) * t + lag.col
    order = np.argsort(keys)
    keys, z_entries, entry_row, entry_col = (
        keys[order],
        z_entries[order],
        lag.row[order],
        lag.col[order],
    )
    # each window's family: its entries, and the other cells at their background z
    level = np.searchsorted(card_values, card)
    per_level = np.bincount(level, minlength=len(card_values))
    values_w, counts_w = [], []
    entry_level = level[entry_row]
    for w in range(t):  # loops over windows (few), not cells
        mine = entry_col == w
        taken = np.bincount(entry_level[mine], minlength=len(card_values))
        values_w.append(np.r_[two_sided_p(z_entries[mine]), two_sided_p(background[:, w])])
        counts_w.append(np.r_[np.ones(int(mine.sum())), per_level - taken])
    return GiWindows(
        dates, card, card_values, background, keys, z_entries, BenjaminiHochberg(values_w, counts_w)
    )


def gi_rows(table: pl.DataFrame, cells: np.ndarray, gi: GiWindows) -> pl.DataFrame:
    """Return cell, date, gi_z, gi_p, gi_p_fdr, gi_bin at every (cell, date) row of `table`."""
    row = np.searchsorted(cells, table["cell"].to_numpy())
    window = np.searchsorted(gi.dates, table["date"].to_numpy())
    z = gi.z(row, window)
    p = two_sided_p(z)
    p_fdr = gi.fdr.at(p, window)
    return pl.DataFrame(
        {
            "cell": table["cell"].cast(pl.UInt64),
            "date": table["date"],
            "gi_z": z,
            "gi_p": p,
            "gi_p_fdr": p_fdr,
            "gi_bin": pl.Series(hotspot_bins(z, p_fdr), dtype=pl.Int8),
        }
    )


def dense(table: pl.DataFrame, cells: np.ndarray, value: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (cells × windows matrix of `value`, sorted window dates) from a long table."""
    dates = np.unique(table["date"].to_numpy())
    row = np.searchsorted(cells, table["cell"].to_numpy())
    col = np.searchsorted(dates, table["date"].to_numpy())
    flat = np.bincount(
        row * len(dates) + col, weights=table[value].to_numpy(), minlength=len(cells) * len(dates)
    )
    return flat.reshape(len(cells), len(dates)), dates


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (S, z, two-sided p) of the Mann-Kendall trend test of each row, tie-corrected."""
    x = np.asarray(series, dtype=np.float64)
    n = x.shape[1]
    s = np.zeros(x.shape[0])
    for i in range(n - 1):  # loops over windows (few), not cells
        s += np.sign(x[:, i + 1 :] - x[:, [i]]).sum(axis=1)
    ordered = np.sort(x, axis=1)
    ties = np.zeros(x.shape[0])
    run = np.ones(x.shape[0])
    for i in range(1, n + 1):
        same = ordered[:, i] == ordered[:, i - 1] if i < n else np.zeros(x.shape[0], bool)
        ended = ~same
        ties += np.where(ended, run * (run - 1) * (2 * run + 5), 0.0)
        run = np.where(same, run + 1, 1.0)
    variance = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1), np.where(s < 0, s + 1, 0.0)) / np.sqrt(variance)
    z = np.where(np.isfinite(z), z, 0.0)
    return s, z, two_sided_p(z)


def emerging_classes(
    z: np.ndarray,
    p_adjusted: np.ndarray,
    settings: CellSettings,
    trend: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Return Esri's emerging hotspot class of each row of weekly Gi* z (oldest bin first).

    A bin is hot (cold) when its corrected p ≤ `fdr_alpha` and z > 0 (< 0). With the final bin
    hot: ≥ 90 % hot bins → intensifying / diminishing by a significant Mann-Kendall trend,
    else persistent; otherwise oscillating if some earlier bin was cold, new if no earlier bin
    was hot, consecutive if the hot bins are one final run of ≥ 2, else sporadic. With the
    final bin neither hot nor cold, ≥ 90 % hot (cold) bins make a historical hot (cold) spot.
    Cold spots mirror hot spots. Rows with fewer than `min_trend_weeks` bins have no pattern.
    `trend` is `mann_kendall(z)` when already computed.
    """
    n_rows, n = z.shape
    out = np.full(n_rows, NO_PATTERN, dtype=object)
    if n < settings.min_trend_weeks or n_rows == 0:
        return out
    significant = p_adjusted <= settings.fdr_alpha
    hot, cold = significant & (z > 0), significant & (z < 0)
    s, _, trend_p = trend if trend is not None else mann_kendall(z)
    trending = trend_p <= settings.trend_alpha
    share = settings.persistent_share
    for name, this, other, rising in (("hot", hot, cold, s > 0), ("cold", cold, hot, s < 0)):
        last = this[:, -1]
        mostly = this.sum(axis=1) >= share * n
        earlier = this[:, :-1].sum(axis=1)
        # length of the final run of `this` bins
        run = np.argmin(np.c_[this[:, ::-1], np.zeros((n_rows, 1), bool)], axis=1)
        label = np.select(
            [
                last & mostly & trending & rising,
                last & mostly & trending & ~rising,
                last & mostly,
                last & other[:, :-1].any(axis=1),
                last & (earlier == 0),
                last & (run >= 2) & (this.sum(axis=1) == run),
                last,
                ~last & ~other[:, -1] & mostly,
            ],
            [
                f"intensifying {name} spot",
                f"diminishing {name} spot",
                f"persistent {name} spot",
                f"oscillating {name} spot",
                f"new {name} spot",
                f"consecutive {name} spot",
                f"sporadic {name} spot",
                f"historical {name} spot",
            ],
            default=NO_PATTERN,
        )
        out = np.where(out == NO_PATTERN, label, out)
    return out


def emerging(weekly: GiWindows, cells: np.ndarray, settings: CellSettings) -> pl.DataFrame:
    """Return cell, emerging (class), weeks, trend_s, trend_z, trend_p for every cell.

    `weekly` is `gi_windows` over weekly windows (date = the week's Monday).
    """
    z, p_fdr = weekly.dense()
    trend = mann_kendall(z)
    s, trend_z, trend_p = trend
    return pl.DataFrame(
        {
            "cell": pl.Series(cells, dtype=pl.UInt64),
            "emerging": pl.Series(
                emerging_classes(z, p_fdr, settings, trend), dtype=pl.Enum(CLASSES)
            ),
            "weeks": np.full(len(cells), len(weekly.dates), dtype=np.int32),
            "trend_s": s,
            "trend_z": trend_z,
            "trend_p": trend_p,
        }
    )

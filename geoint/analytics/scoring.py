"""Seizure prior, the explainable 0–100 risk score, and the cell analytics as one stage.

Every factor is a number in [0, 1] (docs/cells.md gives each formula); a cell-day's
contribution of a factor is its weight (``CellSettings.risk_weights``, points summing to 100)
times the factor, and the risk is the sum of the contributions, so the explanation adds up.
Patrol effort (debriefs) adds two contributions, as PAWS models patrol effort: ``effort``
(negative) weighs each seizure patrols made by the effort that produced it in the prior
(seizures from checkpoints or tips keep their whole weight); ``searched`` (either sign) moves a
searched cell's risk by its catch per unit effort: its finds over ``searched_days`` against
the finds its detection-weighted searches and its risk predicted (Gamma-Poisson, the risk
calibrated on the record's finds), so a miss weighs presence × detection, not detection alone,
and a record that found little moves little. Cells never searched keep their whole risk.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import timedelta
from functools import reduce
from typing import Any

import h3
import numpy as np
import polars as pl
from scipy.spatial import cKDTree

from geoint.analytics.anomaly import activity_anomaly
from geoint.analytics.cells import (
    ACTIVITY_COLUMNS,
    COUNT_COLUMNS,
    DAY,
    WEEK,
    activity,
    activity_sums,
    cell_windows,
    combine_activity,
    event_counts,
    finish_activity,
    seizure_counts,
    vehicle_days,
)
from geoint.analytics.hotspots import emerging, gi_rows, gi_windows, ring_weights
from geoint.errors import GeointError
from geoint.geodesy import EARTH_RADIUS_M
from geoint.ground import Ground
from geoint.h3index import cell_centres, child_cells, hex_to_cells, parent_cells
from geoint.settings import CellSettings, GeointSettings
from geoint.store.cell_tables import EMERGING, read_table
from geoint.store.workspace import Workspace

FACTORS = ("events", "hotspot", "anomaly", "seizure_prior", "remoteness", "border", "night")
# effort adjustments: factors in [0, 1] without a weight of their own, negative points
ADJUSTMENTS = ("effort", "searched")
CONTRIBUTIONS = tuple(f"c_{f}" for f in (*FACTORS, *ADJUSTMENTS))
EFFORT_COLUMNS = {"cell": pl.UInt64, "date": pl.Date, "minutes": pl.Float64,
                  "nothing_minutes": pl.Float64, "seizures": pl.Int64}  # fmt: skip
# columns a cell-day without pings gets as 0 when evidence (a seizure) gives it a risk row
_ZERO_WITHOUT_PINGS = (*COUNT_COLUMNS, "night_share", "gi_z", "gi_bin")
_DAY_US = 86_400 * 1_000_000


def seizure_density(
    seizures: pl.DataFrame,
    cell: np.ndarray,
    day: np.ndarray,
    first: np.datetime64,
    settings: CellSettings,
    weight_: np.ndarray | None = None,
) -> np.ndarray:
    """Return the decayed seizure kernel density at each (cell, day index from `first`) row.

    density = Σ over seizures s before that day of 0.5^(age / half-life) · exp(−r² / 2σ²), age
    at the start of the day, r the great-circle distance from the cell centre to s (kernel 0
    beyond ``seizure_cutoff_sigmas`` σ). Seizures count from the day after theirs. With
    `weight_` (one per row of `seizures`), each term is multiplied by it (patrol effort hours).
    """
    out = np.zeros(len(cell))
    cells, index = np.unique(np.asarray(cell, dtype=np.uint64), return_inverse=True)
    if seizures.height == 0 or len(cells) == 0:
        return out
    sigma = settings.seizure_sigma_m
    clat, clon = cell_centres(cells)
    at = _unit_vectors(seizures["lat"].to_numpy(), seizures["lon"].to_numpy())
    found = cKDTree(_unit_vectors(clat, clon)).query_ball_point(
        at, 2 * np.sin(settings.seizure_cutoff_sigmas * sigma / (2 * EARTH_RADIUS_M))
    )
    seizure = np.repeat(np.arange(seizures.height), [len(f) for f in found])
    near = np.concatenate([np.asarray(f, dtype=np.int64) for f in found])
    if len(near) == 0:
        return out
    chord = np.linalg.norm(_unit_vectors(clat[near], clon[near]) - at[seizure], axis=1)
    metres = 2 * EARTH_RADIUS_M * np.arcsin(np.clip(chord / 2, 0, 1))
    age_days = (
        seizures["ts"].dt.cast_time_unit("us").to_physical().to_numpy()
        - first.astype("datetime64[us]").astype(np.int64)
    ) / _DAY_US
    # the decay factorises, 0.5^((d - t_s) / h) = 0.5^(d / h) · 0.5^(-t_s / h), so a cumulative
    # sum of the seizure terms per cell (ordered by first day counted) answers every day
    half_life = settings.seizure_half_life_days
    weight = np.exp(-(metres**2) / (2 * sigma**2)) * 0.5 ** (-age_days[seizure] / half_life)
    if weight_ is not None:
        weight = weight * np.asarray(weight_, dtype=float)[seizure]
    span = int(np.max(day)) + 2
    start = np.clip(np.floor(age_days[seizure]).astype(np.int64) + 1, 0, span - 1)
    keys = near * span + start
    order = np.argsort(keys, kind="stable")
    keys, total = keys[order], np.r_[0.0, np.cumsum(weight[order])]
    base = index * span
    upto = np.searchsorted(keys, base + day, side="right")
    before = np.searchsorted(keys, base, side="left")
    return (total[upto] - total[before]) * 0.5 ** (np.asarray(day) / half_life)


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def risk_score(days: pl.DataFrame, settings: CellSettings) -> pl.DataFrame:
    """Return `days` with f_<factor> (0–1), c_<factor> (points) and risk (their sum, 0–100).

    `days` needs severity, gi_z, gi_bin, anomaly_z, seizure_density, night_share and the
    context distances distance_to_road_m, distance_to_crossing_m, distance_to_place_m,
    distance_to_border_m; when patrol effort is known, seizure_density_effort (the density with
    patrols' seizures weighted by their effort, else seizure_density), search_finds and
    search_trials (the cell's faded evenings with a find and detection-weighted searches,
    else 0; per date, the searched cells calibrate the risk as a presence probability, and
    the cell's finds against the finds its searches predicted move its risk).
    """
    nearest = pl.min_horizontal(
        "distance_to_road_m", "distance_to_crossing_m", "distance_to_place_m"
    ).fill_nan(None)

    def prior(density: pl.Expr) -> pl.Expr:
        return 1 - (-density / settings.seizure_scale).exp()

    factors = {
        "events": 1 - (-pl.col("severity") / settings.events_scale).exp(),
        "hotspot": pl.when(pl.col("gi_bin") > 0)
        .then((pl.col("gi_z") / settings.hotspot_z_scale).clip(0, 1))
        .otherwise(0.0),
        "anomaly": (pl.col("anomaly_z") / settings.anomaly_z_scale).clip(0, 1).fill_null(0.0),
        "seizure_prior": prior(pl.col("seizure_density")),
        "remoteness": (1 - (-nearest / settings.remoteness_scale_m).exp()).fill_null(0.0),
        "border": (-pl.col("distance_to_border_m") / settings.border_scale_m)
        .exp()
        .fill_nan(0.0)
        .fill_null(0.0),
        "night": pl.col("night_share").clip(0, 1),
    }
    unknown = set(settings.risk_weights) - set(FACTORS)
    if unknown:
        raise ValueError(f"risk_weights: unknown factors {sorted(unknown)}; known: {FACTORS}")
    weights = {f: settings.risk_weights.get(f, 0.0) for f in FACTORS}
    if "seizure_density_effort" not in days.columns:
        days = days.with_columns(seizure_density_effort=pl.col("seizure_density"))
    for column in ("search_finds", "search_trials"):
        if column not in days.columns:
            days = days.with_columns(pl.lit(0.0).alias(column))
    weighted = [f"c_{f}" for f in FACTORS]
    before = reduce(operator.add, map(pl.col, [*weighted, "c_effort"]))
    weighed = prior(pl.col("seizure_density_effort").fill_null(pl.col("seizure_density")))
    finds, trials = (pl.col(c).fill_null(0.0) for c in ("search_finds", "search_trials"))
    # the risk read as the probability of activity tonight, calibrated on the patrols' record:
    # its finds against the finds the risk of the searched cells predicted (pooled per date)
    calibration = ((finds.sum() + 1) / ((trials * before / 100).sum() + 1)).over("date")
    expected = trials * (calibration * before / 100).clip(0, 1)  # the finds the risk predicts
    # Gamma-Poisson (empirical Bayes, Clayton & Kaldor 1987): the cell's catch ratio, finds over
    # expected finds, shrunk to 1 by effort_prior_finds expected finds' worth of confidence in
    # the risk; a search moves the risk by what it could have found (q × presence), so empty
    # searches in a poor world (or of a cell of low risk) are weak evidence against it
    strength = settings.effort_prior_finds
    posterior = (finds + strength) / (expected + strength)
    # optimism in the face of uncertainty (upper confidence bound): a cell's ratio counts with
    # effort_explore standard deviations of its Gamma posterior, a cell never searched with
    # those of its prior, so that it keeps its risk
    explore = settings.effort_explore
    upper = posterior + explore * (finds + strength).sqrt() / (expected + strength)
    ratio = upper / (1 + explore / strength**0.5)
    return (
        days.with_columns(factors[f].cast(pl.Float64).alias(f"f_{f}") for f in FACTORS)
        .with_columns((pl.col(f"f_{f}") * weights[f]).alias(f"c_{f}") for f in FACTORS)
        # the prior with the patrols' seizures weighted by the effort that produced them
        .with_columns(
            c_effort=(weights["seizure_prior"] * (weighed - pl.col("f_seizure_prior"))).clip(
                upper_bound=0.0
            )
        )
        .with_columns(
            f_effort=pl.when(pl.col("c_seizure_prior") > 0)
            .then(-pl.col("c_effort") / pl.col("c_seizure_prior"))
            .otherwise(0.0),
            f_searched=pl.when(trials > 0).then(ratio).otherwise(1.0),
        )
        .with_columns(
            c_searched=pl.when(trials > 0)
            .then((before * pl.col("f_searched")).clip(0, 100) - before)
            .otherwise(0.0)
        )
        # added left to right, so that summing the contributions in order gives the risk exactly
        .with_columns(reduce(operator.add, map(pl.col, CONTRIBUTIONS)).alias("risk"))
    )


def rescore(
    days: pl.DataFrame,
    seizures: pl.DataFrame,
    effort: pl.DataFrame | None,
    settings: CellSettings,
    context: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Return `days` with the seizure density, the effort factors (none when `effort` is None)
    and the risk computed afresh: what changes when seizures are made or patrols debriefed.

    With `context` (`Ground.cell_context` of at least the seizures' cells), cells without a
    row get one on the days a recent seizure gives them evidence (`evidence_rows`).
    """
    derived = [f"f_{f}" for f in (*FACTORS, *ADJUSTMENTS)] + [*CONTRIBUTIONS, "risk"]
    inputs = ("seizure_density", "seizure_density_effort", "search_finds", "search_trials")
    days = days.drop(*inputs, *derived, strict=False)
    if context is not None:
        days = pl.concat(
            [days, evidence_rows(days, seizures, context, settings)], how="diagonal_relaxed"
        )
    density = np.zeros(days.height)
    if days.height:
        first = days["date"].min()
        day = (days["date"] - first).dt.total_days().to_numpy()
        at = np.datetime64(first, "D")
        density = seizure_density(seizures, days["cell"].to_numpy(), day, at, settings)
    days = days.with_columns(pl.Series("seizure_density", density))
    if effort is not None:
        days = (
            days.join(effort_factors(effort, days, settings), on=["cell", "date"], how="left")
            .with_columns(
                seizure_density_effort=(pl.col("seizure_density") - pl.col("patrol_excess")).clip(
                    0
                ),
            )
            .drop("patrol_excess")
        )
    return risk_score(days, settings)


def evidence_rows(
    days: pl.DataFrame, seizures: pl.DataFrame, context: pl.DataFrame, settings: CellSettings
) -> pl.DataFrame:
    """Return the rows `days` lacks for cells with a seizure in the `evidence_days` before a
    date of `days` (counted from the day after), with their `context` and no activity.

    Without them a cell no sensor sees (no pings) would have no risk and never be a patrol
    target, whatever was seized there.
    """
    dates = days.select(pl.col("date").unique())
    if seizures.is_empty() or dates.is_empty() or settings.evidence_days == 0:
        return days.head(0)
    seized = seizures.select(
        pl.col("cell").cast(pl.UInt64), pl.col("ts").dt.date().alias("seized_on")
    ).unique()
    rows = (
        seized.join(dates, how="cross")
        .filter(
            pl.col("seized_on") < pl.col("date"),
            pl.col("date") <= pl.col("seized_on") + timedelta(days=settings.evidence_days),
        )
        .select("cell", "date")
        .unique()
        .join(days.select("cell", "date"), on=["cell", "date"], how="anti")
    )
    shared = [c for c in context.columns if c in days.columns and c != "cell"]
    zero = [c for c in _ZERO_WITHOUT_PINGS if c in days.columns]
    rows = rows.join(context.select("cell", *shared), on="cell", how="left")
    rows = rows.with_columns(pl.lit(0.0).alias(c) for c in zero)
    return pl.concat([days.head(0), rows], how="diagonal_relaxed").select(days.columns)


def effort_factors(
    effort: pl.DataFrame, days: pl.DataFrame, settings: CellSettings
) -> pl.DataFrame:
    """Return `days` (cell, date) with patrol_excess and searched from the patrol effort.

    `effort` (`EFFORT_COLUMNS`): minutes spent per cell and day, the minutes of searches that
    found nothing and the seizures patrols made. A patrol seizure in a cell where patrols had
    searched H hours up to that day weighs w = 1 / (1 + H / `effort_ref_hours`); patrol_excess is
    the seizure kernel density of the patrols' seizures weighted by 1 − w, the share the prior
    removes. Each search d days before (1 ≤ d ≤ `searched_days`) weighs f = 1 − (d − 1) /
    `searched_days`: search_trials is Σ f · q, q = 1 − exp(−minutes / `detect_minutes`) its
    detection probability, search_finds Σ f over the searches that found something.
    """
    keys = days.select("cell", "date")
    if effort.is_empty() or keys.is_empty():
        return keys.with_columns(
            patrol_excess=pl.lit(0.0), search_finds=pl.lit(0.0), search_trials=pl.lit(0.0)
        )
    first = days["date"].min()
    effort = effort.sort("date").with_columns(hours=pl.col("minutes").cum_sum().over("cell") / 60)
    finds = effort.filter(pl.col("seizures") > 0)
    lat, lon = cell_centres(finds["cell"].to_numpy())
    points = pl.DataFrame(
        {"lat": lat, "lon": lon, "ts": finds["date"].cast(pl.Datetime("us", "UTC"))}
    )
    discount = finds["seizures"] * (1 - 1 / (1 + finds["hours"] / settings.effort_ref_hours))
    excess = seizure_density(
        points,
        keys["cell"].to_numpy(),
        (keys["date"] - first).dt.total_days().to_numpy(),
        np.datetime64(first, "D"),
        settings,
        discount.to_numpy(),
    )
    # every search is a trial weighted by its detection probability (a find or not) and by
    # its age, fading linearly to nothing over searched_days, counted from the next day
    record = effort.select(
        "cell",
        pl.col("date").alias("searched_on"),
        (1 - (-pl.col("minutes") / settings.detect_minutes).exp()).alias("q"),
        (pl.col("seizures") > 0).cast(pl.Float64).alias("found"),
    )
    fade = 1 - ((pl.col("date") - pl.col("searched_on")).dt.total_days() - 1) / (
        settings.searched_days
    )
    searched = (
        keys.join(record, on="cell")
        .filter(
            pl.col("searched_on") < pl.col("date"),
            pl.col("date") <= pl.col("searched_on") + timedelta(days=settings.searched_days),
        )
        .group_by("cell", "date")
        .agg(
            (pl.col("found") * fade).sum().alias("search_finds"),
            (pl.col("q") * fade).sum().alias("search_trials"),
        )
    )
    return (
        keys.with_columns(patrol_excess=pl.Series(excess))
        .join(searched, on=["cell", "date"], how="left")
        .with_columns(pl.col("search_finds", "search_trials").fill_null(0.0))
    )


@dataclass(frozen=True)
class CellTables:
    """The cell analytics of one run (columns in docs/cells.md).

    ``days``: per res-8 cell and UTC day, everything; ``weeks``: per cell and ISO week, counts
    and Gi*; ``emerging``: per cell, the emerging hotspot class; ``risk``: date, cell, risk and
    contributions (the evaluator's ranking); ``coarse``: per coarser resolution, the days table
    aggregated to parents.
    """

    days: pl.DataFrame
    weeks: pl.DataFrame
    emerging: pl.DataFrame
    risk: pl.DataFrame
    coarse: dict[int, pl.DataFrame]

    def named(self) -> dict[str, pl.DataFrame]:
        """Return the tables by their file name under ``cells/`` (docs/cells.md)."""
        coarse = {f"days_r{r}": frame for r, frame in self.coarse.items()}
        return {
            "days": self.days,
            "weeks": self.weeks,
            "emerging": self.emerging,
            "risk": self.risk,
            **coarse,
        }


def cell_analytics(
    segments: pl.DataFrame,
    events: pl.DataFrame,
    seizures: pl.DataFrame,
    context: pl.DataFrame,
    timezone: str,
    settings: GeointSettings,
) -> CellTables:
    """Return every cell table from prepared pings, events, seizures and the static context.

    `segments`: see `geoint.analytics.cells.segment_pings`; `context`: `Ground.cell_context` of (at
    least) every cell the other inputs touch. The per-ping step (`vehicle_days`), its sums
    (`Activity`), then `cell_tables`.
    """
    per_vehicle = vehicle_days(segments, timezone, settings)
    activity_ = Activity.of(per_vehicle, settings.coarse_resolutions)
    return cell_tables(activity_, events, seizures, context, settings)


_KEY = ["cell", "date"]


@dataclass(frozen=True)
class Activity:
    """What the cell tables need of the vehicle-day table (`geoint.analytics.cells.vehicle_days`).

    ``days`` and ``weeks``: `geoint.analytics.cells.activity` per cell and window; ``parents``: per
    coarse resolution, ``cell`` (the parent), ``date``, ``vehicles`` (distinct, exact).
    """

    days: pl.DataFrame
    weeks: pl.DataFrame
    parents: dict[int, pl.DataFrame]

    @classmethod
    def of(cls, per_vehicle: pl.DataFrame, resolutions: tuple[int, ...]) -> Activity:
        """Sum up a whole vehicle-day table."""
        parents = {r: parent_vehicles(per_vehicle, r) for r in resolutions}
        return cls(activity(per_vehicle, DAY), activity(per_vehicle, WEEK), parents)

    @classmethod
    def combined(cls, parts: list[ActivitySums]) -> Activity:
        """Add up the sums of vehicle-disjoint vehicle-day tables (partitions): exactly those
        of their union, since no vehicle is counted in two parts."""
        first = parts[0]
        return cls(
            finish_activity(combine_activity([p.days for p in parts])),
            finish_activity(combine_activity([p.weeks for p in parts])),
            {
                r: pl.concat([p.parents[r] for p in parts]).group_by(_KEY).agg(pl.all().sum())
                for r in first.parents
            },
        )

    @classmethod
    def of_tables(cls, tables: dict[str, pl.DataFrame], resolutions: tuple[int, ...]) -> Activity:
        """Recover the sums from cell tables written before (`CellTables.named`)."""
        columns = [*_KEY, *ACTIVITY_COLUMNS]
        active = pl.col("pings") > 0
        parents = {
            r: tables[f"days_r{r}"].filter(pl.col("vehicles") > 0).select(*_KEY, "vehicles")
            for r in resolutions
        }
        return cls(
            tables["days"].filter(active).select(columns),
            tables["weeks"].filter(active).select(columns),
            parents,
        )

    def replaced(
        self, per_vehicle: pl.DataFrame, changed: pl.DataFrame, resolution: int
    ) -> Activity:
        """Return these sums with those of the `changed` cell-days, their weeks and parent
        cell-days taken afresh from `per_vehicle` (the whole updated table, cells at
        `resolution`); the others are kept."""
        changed = changed.select(pl.col("cell").cast(pl.UInt64), "date").unique()
        near = per_vehicle.filter(pl.col("cell").is_in(changed["cell"].unique().implode()))
        days = near.join(changed, on=_KEY, how="semi")
        weeks = changed.select("cell", pl.col("date").dt.truncate(WEEK)).unique()
        same_days = per_vehicle.filter(pl.col("date").is_in(changed["date"].unique().implode()))
        parents = {}
        for r, stored in self.parents.items():
            keys = changed.select(
                pl.Series("cell", parent_cells(changed["cell"].to_numpy(), r)), "date"
            ).unique()
            children = child_cells(keys["cell"].unique().to_numpy(), resolution)
            rows = same_days.filter(
                pl.col("cell").is_in(pl.Series(children, dtype=pl.UInt64).implode())
            )
            parents[r] = _replace(stored, keys, parent_vehicles(rows, r))
        return Activity(
            _replace(self.days, changed, activity(days, DAY)),
            _replace(self.weeks, weeks, activity(near, WEEK)),
            parents,
        )


@dataclass(frozen=True)
class ActivitySums:
    """One vehicle partition's part of `Activity`: `activity_sums` per day and week, and the
    distinct vehicles per parent cell-day (`Activity.combined` adds the parts up)."""

    days: pl.DataFrame
    weeks: pl.DataFrame
    parents: dict[int, pl.DataFrame]

    @classmethod
    def of(cls, per_vehicle: pl.DataFrame, resolutions: tuple[int, ...]) -> ActivitySums:
        """The sums of one vehicle-day table."""
        parents = {r: parent_vehicles(per_vehicle, r) for r in resolutions}
        return cls(activity_sums(per_vehicle, DAY), activity_sums(per_vehicle, WEEK), parents)


def _replace(stored: pl.DataFrame, keys: pl.DataFrame, fresh: pl.DataFrame) -> pl.DataFrame:
    """Return `stored` with its rows at `keys` (cell, date) replaced by those of `fresh`."""
    fresh = fresh.join(keys, on=_KEY, how="semi").select(stored.columns).cast(stored.schema)
    return pl.concat([stored.join(keys, on=_KEY, how="anti"), fresh])


def parent_vehicles(per_vehicle: pl.DataFrame, resolution: int) -> pl.DataFrame:
    """Return ``cell`` (the parent at `resolution`), ``date`` and distinct ``vehicles``."""
    cells = per_vehicle["cell"].unique()
    parents = pl.DataFrame(
        {"cell": cells, "parent": pl.Series(parent_cells(cells.to_numpy(), resolution))}
    )
    return (
        per_vehicle.lazy()
        .select("cell", "date", "vehicle")
        .join(parents.lazy(), on="cell")
        .group_by(pl.col("parent").alias("cell"), "date")
        .agg(pl.col("vehicle").n_unique().cast(pl.Float64).alias("vehicles"))
        .collect()
    )


def cell_tables(
    activity_: Activity,
    events: pl.DataFrame,
    seizures: pl.DataFrame,
    context: pl.DataFrame,
    settings: GeointSettings,
    effort: pl.DataFrame | None = None,
) -> CellTables:
    """Return every cell table from the activity sums, events, seizures, the context and the
    patrol effort (`EFFORT_COLUMNS`; none when None).

    Windows are kept over the activity's date span only (seizures may go back years).
    """
    cfg = settings.cells
    seizures = seizures.with_columns(pl.col("cell").cast(pl.UInt64))
    days = cell_windows(
        activity_.days,
        event_counts(events, cfg.severity, DAY),
        seizure_counts(seizures, DAY),
    )
    weeks = cell_windows(
        activity_.weeks,
        event_counts(events, cfg.severity, WEEK),
        seizure_counts(seizures, WEEK),
    )
    if activity_.days.height:
        first, last = activity_.days["date"].min(), activity_.days["date"].max()
        days = days.filter(pl.col("date").is_between(first, last))
        monday = first - timedelta(days=first.weekday())
        weeks = weeks.filter(pl.col("date").is_between(monday, last))
    cells = np.unique(days["cell"].to_numpy())
    weights = ring_weights(cells, cfg.gi_k, include_self=True)
    weekly = gi_windows(weeks, cells, weights)
    trends = emerging(weekly, cells, cfg)
    weeks = weeks.join(gi_rows(weeks, cells, weekly), on=["cell", "date"]).sort("date", "cell")
    days = (
        days.join(activity_anomaly(days, cells, cfg), on=["cell", "date"])
        .join(gi_rows(days, cells, gi_windows(days, cells, weights)), on=["cell", "date"])
        .join(context.drop("lat", "lon", strict=False), on="cell", how="left")
    )
    days = rescore(days, seizures, effort, cfg, context).sort("date", "cell")
    risk = days.select("date", "cell", "risk", *CONTRIBUTIONS)
    coarse = parent_days(days, activity_.parents)
    return CellTables(days, weeks, trends, risk, coarse)


def parent_days(days: pl.DataFrame, vehicles: dict[int, pl.DataFrame]) -> dict[int, pl.DataFrame]:
    """Return the days table aggregated to parent cells at each resolution of `vehicles`.

    Counts are sums over children except ``vehicles``, the distinct vehicles of the parent
    (`vehicles`: `parent_vehicles` per resolution); risk and its contributions are those of
    the riskiest child; ``children`` counts the active children.
    """
    sums = [c for c in COUNT_COLUMNS if c != "vehicles"]
    riskiest = pl.col("risk").arg_max()
    finest = np.unique(days["cell"].to_numpy())
    out = {}
    for resolution, counted in vehicles.items():
        parent = parent_cells(finest, resolution)
        out[resolution] = (
            days.with_columns(
                pl.Series("cell", parent[np.searchsorted(finest, days["cell"].to_numpy())])
            )
            .group_by("cell", "date")
            .agg(
                pl.len().alias("children"),
                pl.col(sums).sum(),
                pl.col("risk", *CONTRIBUTIONS).get(riskiest),
            )
            .join(counted, on=["cell", "date"], how="left")
            .with_columns(
                pl.col("vehicles").fill_null(0.0),
                pl.when(pl.col("pings") > 0)
                .then(pl.col("night_pings") / pl.col("pings"))
                .otherwise(0.0)
                .alias("night_share"),
            )
            .sort("date", "cell")
        )
    return out


_SERIES_COLUMNS = (
    "date", "risk", "pings", "vehicles", "moving_minutes", "night_share", "events", "severity",
    "seizures", "expected", "anomaly_z", "anomaly_p", "gi_z", "gi_bin",
)  # fmt: skip


def explain_cell(
    workspace: Workspace, ground: Ground, cell_hex: str, settings: GeointSettings, days: int = 28
) -> dict[str, Any]:
    """Return a cell's explanation: context, latest risk factors and points, daily series.

    Reads the tables `geoint.pipeline.cells.analyze_cells` wrote; a parent cell (coarse
    resolution)
    shows its aggregated table, its risk being that of its riskiest child.
    """
    try:
        cell = hex_to_cells([cell_hex])[0]
    except ValueError as exc:
        raise GeointError(f"cell: {exc}") from None
    resolution = int(h3.get_resolution(cell_hex))
    if resolution == settings.h3_resolution:
        name = "days"
    elif resolution in settings.coarse_resolutions:
        name = f"days_r{resolution}"
    else:
        known = (settings.h3_resolution, *settings.coarse_resolutions)
        raise GeointError(f"cell {cell_hex}: resolution {resolution}; expected one of {known}")
    rows = read_table(workspace.root, name).filter(pl.col("cell") == cell).sort("date")
    context = ground.cell_context(np.array([cell], dtype=np.uint64)).drop("cell").row(0, named=True)
    latest = None
    if rows.height:
        last = rows.row(-1, named=True)
        factors = {
            f: {
                "value": last.get(f"f_{f}", _ratio(last[f"c_{f}"], settings.cells.risk_weights[f])),
                "weight": settings.cells.risk_weights[f],
                "points": last[f"c_{f}"],
            }
            for f in FACTORS
        }
        factors |= {
            f: {"value": last.get(f"f_{f}", 0.0), "weight": None, "points": last.get(f"c_{f}", 0.0)}
            for f in ADJUSTMENTS
        }
        latest = {"date": last["date"], "risk": last["risk"], "factors": factors}
    trend = None
    if name == "days":
        found = read_table(workspace.root, EMERGING).filter(pl.col("cell") == cell)
        trend = found.drop("cell").row(0, named=True) if found.height else None
    series = rows.tail(days).select([c for c in _SERIES_COLUMNS if c in rows.columns])
    return {
        "cell": cell_hex,
        "resolution": resolution,
        "context": context,
        "latest": latest,
        "emerging": trend,
        "series": series.to_dicts(),
    }


def _ratio(points: float, weight: float) -> float:
    return points / weight if weight else 0.0

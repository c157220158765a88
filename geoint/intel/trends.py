"""CEN-style trends of seizures: counts and quantities per field value and period, breakdowns,
top routes and positions, over the rows a `SeizureFilter` kept (`geoint.intel.query`).

The filter runs in SQL; the grouping runs in polars over the few columns it needs. A period is
named by its first day (ISO date): UTC days, ISO weeks (from Monday), months (from the 1st).
Quantities are summed only within one unit: a group mixing units (kg and items) has a null
``quantity`` and ``unit`` rather than a meaningless sum.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from geoint.errors import QueryError
from geoint.intel.query import Scope, SeizureFilter, read_seizures
from geoint.schema import SEIZURE_TREND_FIELDS
from geoint.store.workspace import Workspace

TREND_FIELDS = SEIZURE_TREND_FIELDS
PERIODS = {"day": "1d", "week": "1w", "month": "1mo"}
BREAKDOWNS = ("commodity", "transport_mode", "concealment", "detection_method")
SUMMARY_COLUMNS = (
    "seizure_id", "ts", "lat", "lon", "commodity", "quantity", "unit", "transport_mode",
    "concealment", "detection_method", "origin_country", "destination_country", "crossing",
)  # fmt: skip


def check_trend(by: str, period: str) -> None:
    """Raise `QueryError` naming ``by`` or ``period`` when it is not one trends know."""
    if by not in TREND_FIELDS:
        raise QueryError("by", f"expected one of {', '.join(TREND_FIELDS)}, got {by!r}")
    if period not in PERIODS:
        raise QueryError("period", f"expected one of {', '.join(PERIODS)}, got {period!r}")


def trend_series(frame: pl.DataFrame, by: str, period: str) -> pl.DataFrame:
    """``key, period, count, quantity, unit`` per value of `by` and period, by period then key
    (nulls last); `frame` holds ``ts``, `by`, ``quantity`` and ``unit``."""
    check_trend(by, period)
    start = pl.col("ts").dt.truncate(PERIODS[period]).dt.date().alias("period")
    grouped = (
        frame.group_by(pl.col(by).alias("key"), start)
        .agg(
            count=pl.len(),
            total=pl.col("quantity").sum(),
            measured=pl.col("quantity").count(),
            units=pl.col("unit").filter(pl.col("quantity").is_not_null()).n_unique(),
            unit=pl.col("unit").filter(pl.col("quantity").is_not_null()).first(),
        )
        .with_columns(
            one_unit=(pl.col("measured") > 0) & (pl.col("units") == 1),
            period=pl.col("period").cast(pl.String),
        )
    )
    return grouped.select(
        "key",
        "period",
        pl.col("count").cast(pl.Int64),
        quantity=pl.when("one_unit").then("total"),
        unit=pl.when("one_unit").then("unit"),
    ).sort("period", "key", nulls_last=True)


def seizure_trends(
    workspace: Workspace, query: SeizureFilter, by: str, period: str, scope: Scope | None = None
) -> list[dict[str, Any]]:
    """The trend series of the seizures meeting `query` in `scope` (see `trend_series`)."""
    check_trend(by, period)
    columns = ["ts", *dict.fromkeys([by, "quantity", "unit"])]
    frame = read_seizures(workspace, query, columns, scope=scope)
    return trend_series(frame, by, period).to_dicts()


def seizure_summary(
    workspace: Workspace,
    query: SeizureFilter,
    top: int,
    max_points: int,
    scope: Scope | None = None,
) -> dict[str, Any]:
    """`summarise` of the seizures meeting `query` in `scope`."""
    frame = read_seizures(workspace, query, SUMMARY_COLUMNS, scope=scope)
    return summarise(frame, top, max_points)


def summarise(frame: pl.DataFrame, top: int, max_points: int) -> dict[str, Any]:
    """Headline figures, breakdowns, the `top` routes and the positions of the latest
    `max_points` of `frame`'s seizures (columns `SUMMARY_COLUMNS`, by time)."""
    span = (frame["ts"].min(), frame["ts"].max()) if frame.height else (None, None)
    return {
        "seizures": frame.height,
        "first": span[0],
        "last": span[1],
        "quantities": quantities(frame),
        "breakdowns": {name: breakdown(frame, name) for name in BREAKDOWNS},
        "routes": top_routes(frame, top),
        "points": frame.tail(max_points)
        .select("seizure_id", "ts", "lat", "lon", "commodity", "transport_mode", "crossing")
        .to_dicts(),
    }


def quantities(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """``commodity, unit, quantity, count`` of the seizures with a quantity, most first."""
    return (
        frame.filter(pl.col("quantity").is_not_null())
        .group_by("commodity", "unit")
        .agg(quantity=pl.col("quantity").sum(), count=pl.len())
        .sort("count", "commodity", "unit", descending=[True, False, False], nulls_last=True)
        .to_dicts()
    )


def top_routes(frame: pl.DataFrame, top: int) -> list[dict[str, Any]]:
    """``origin, destination, count`` of the `top` most frequent routes."""
    return (
        frame.group_by(origin="origin_country", destination="destination_country")
        .agg(count=pl.len())
        .sort(["count", "origin", "destination"], descending=[True, False, False], nulls_last=True)
        .head(top)
        .to_dicts()
    )


def breakdown(frame: pl.DataFrame, name: str) -> list[dict[str, Any]]:
    """``key, count`` per value of column `name`, most frequent first (nulls last)."""
    counts = frame.group_by(pl.col(name).alias("key")).agg(count=pl.len())
    return counts.sort(["count", "key"], descending=[True, False], nulls_last=True).to_dicts()

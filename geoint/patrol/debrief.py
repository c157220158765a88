"""Patrol debriefs recorded as effort per cell and day (docs/patrol.md, "Debriefs").

A debrief is the team's GPS track (GPX), optionally the plan it followed (the ``--json`` of
``geoint patrol plan``), and its outcomes (CSV, one row per stop or cell searched):

- ``stop`` (``T1-03``, needs the plan) or ``cell`` (H3 hex) or ``lat`` and ``lon``;
- ``outcome``: ``nothing`` (searched, nothing found) or ``seizure`` (then ``seizure_id``);
- ``minutes`` searched (default: the track's time in the stop's cells);
- ``time`` of arrival, ISO 8601 (default: the track's first point in those cells, else the
  plan's arrival).

The track gives the minutes present in each cell and day (a point's time up to the next one,
gaps of more than ``track_gap_min`` not counted); a searched cell gets the larger of that and the
searched minutes, split evenly among a stop's cells. Rows that cannot be used are quarantined
with their row, column and reason; the others are stored. The same debrief twice stores nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson
import polars as pl
import sqlalchemy as sa

from geoint.analytics.scoring import EFFORT_COLUMNS
from geoint.errors import InputError
from geoint.h3index import hex_to_cells, latlng_to_cells
from geoint.ingest.readers import read_records_bytes
from geoint.ingest.validate import parse_timestamps
from geoint.schema import QUARANTINE_SCHEMA, ROW_NUMBER, Reason
from geoint.settings import PatrolSettings
from geoint.store.tables import ingest_ledger, patrol_effort, quarantine
from geoint.store.workspace import Workspace

OUTCOMES = ("nothing", "seizure")
EFFORT_KIND = "debrief"


@dataclass(frozen=True)
class Debrief:
    """A parsed debrief: effort per cell and day (`geoint.analytics.scoring.EFFORT_COLUMNS`
    plus ``seizures``), the refused outcome rows (QUARANTINE_SCHEMA) and counts."""

    effort: pl.DataFrame
    quarantined: pl.DataFrame
    track_points: int
    outcomes: int


def parse_debrief(
    track: bytes | None,
    track_name: str,
    outcomes: bytes,
    outcomes_name: str,
    plan: dict | None,
    settings: PatrolSettings,
    resolution: int = 8,
) -> Debrief:
    """Effort per cell and day from a track, its plan and its outcomes."""
    present = _track_minutes(track, track_name, settings, resolution)
    frame = read_records_bytes(outcomes, outcomes_name, "csv").frame
    stops = _plan_stops(plan)
    rows, bad = [], []
    # one Python step per outcome row: a debrief has tens of rows, never pings
    for record in frame.iter_rows(named=True):
        used = _outcome(record, stops, present, resolution)
        (bad if isinstance(used, tuple) else rows).append(used)
    searched = pl.DataFrame(
        [r for row in rows for r in row],
        schema={"cell": pl.UInt64, "date": pl.Date, "searched": pl.Float64,
                "nothing_minutes": pl.Float64, "seizures": pl.Int64},
        orient="row",
    )  # fmt: skip
    effort = (
        pl.concat(
            [
                present.group_by("cell", "date").agg(pl.col("minutes").sum()),
                searched.select("cell", "date", pl.lit(0.0).alias("minutes")),
            ]
        )
        .group_by("cell", "date")
        .agg(pl.col("minutes").sum())
        .join(
            searched.group_by("cell", "date").agg(pl.all().sum()), on=["cell", "date"], how="left"
        )
        .with_columns(
            pl.max_horizontal("minutes", pl.col("searched").fill_null(0.0)).alias("minutes"),
            pl.col("nothing_minutes").fill_null(0.0),
            pl.col("seizures").fill_null(0),
        )
        .drop("searched")
        .sort("date", "cell")
    )
    quarantined = pl.DataFrame(bad, schema=QUARANTINE_SCHEMA, orient="row")
    return Debrief(effort, quarantined, present.height, frame.height)


def _track_minutes(
    track: bytes | None, name: str, settings: PatrolSettings, resolution: int
) -> pl.DataFrame:
    """Minutes present per point's cell and UTC day, with the point's time (``ts``)."""
    empty = pl.DataFrame(
        schema={"cell": pl.UInt64, "date": pl.Date, "ts": pl.Datetime("us", "UTC"),
                "minutes": pl.Float64}
    )  # fmt: skip
    if track is None:
        return empty
    points = read_records_bytes(track, name, "gpx").frame
    points = points.with_columns(ts=parse_timestamps(points["ts"])).filter(
        pl.col("ts").is_not_null(),
        pl.col("lat").is_between(-90, 90),
        pl.col("lon").is_between(-180, 180),
    )
    if points.is_empty():
        raise InputError(name, "a GPX track with timed points (trkpt with <time>)", column="time")
    points = points.sort("vehicle_id", "ts")
    gap = settings.track_gap_min
    return points.select(
        pl.Series(
            "cell",
            latlng_to_cells(points["lat"].to_numpy(), points["lon"].to_numpy(), resolution),
        ),
        pl.col("ts").dt.date().alias("date"),
        "ts",
        (pl.col("ts").shift(-1).over("vehicle_id") - pl.col("ts"))
        .dt.total_seconds()
        .truediv(60)
        .fill_null(0.0)
        .pipe(lambda minutes: pl.when(minutes <= gap).then(minutes).otherwise(0.0))
        .alias("minutes"),
    )


def _plan_stops(plan: dict | None) -> dict[str, dict]:
    """The plan's stops by name (``T1-03``): cells (hex) and arrival."""
    if plan is None:
        return {}
    return {
        w["stop"]: w
        for team in plan.get("teams", [])
        for w in team.get("waypoints", [])
        if "stop" in w
    }


def _outcome(
    record: dict, stops: dict[str, dict], present: pl.DataFrame, resolution: int
) -> list[tuple] | tuple:
    """One outcome row as effort rows (cell, date, searched, nothing, seizures), or its
    quarantine row (QUARANTINE_SCHEMA) when it cannot be used."""
    row = record[ROW_NUMBER]
    raw = orjson.dumps({k: v for k, v in record.items() if k != ROW_NUMBER}).decode()

    def refuse(column: str, reason: Reason, detail: str) -> tuple:
        return (row, column, reason.value, detail, raw)

    text = {k: (str(v).strip() if v is not None else "") for k, v in record.items()}
    if text.get("stop"):
        stop = stops.get(text["stop"])
        if stop is None:
            known = "no plan was given" if not stops else f"the plan has {len(stops)} stops"
            return refuse("stop", Reason.UNKNOWN_STOP, f"stop {text['stop']!r}: {known}")
        cells = hex_to_cells(stop["cells"] or [stop["cell"]])
    elif text.get("cell"):
        try:
            cells = hex_to_cells([text["cell"]])
        except ValueError:
            return refuse("cell", Reason.INVALID_VALUE, "expected an H3 cell in hex")
    elif text.get("lat") and text.get("lon"):
        try:
            lat, lon = float(text["lat"]), float(text["lon"])
        except ValueError:
            return refuse("lat", Reason.UNPARSABLE_COORDINATES, "expected decimal degrees")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return refuse("lat", Reason.OUT_OF_RANGE_COORDINATES, "expected WGS84 degrees")
        cells = latlng_to_cells(np.array([lat]), np.array([lon]), resolution)
    else:
        return refuse("stop", Reason.MISSING_VALUE, "expected a stop, a cell or lat and lon")
    outcome = text.get("outcome", "").lower()
    if outcome not in OUTCOMES:
        return refuse("outcome", Reason.INVALID_VALUE, f"expected one of {', '.join(OUTCOMES)}")
    if outcome == "seizure" and not text.get("seizure_id"):
        return refuse("seizure_id", Reason.MISSING_VALUE, "a seizure needs its seizure_id")
    inside = present.filter(pl.col("cell").is_in(pl.Series(cells, dtype=pl.UInt64).implode()))
    when = _arrival(text.get("time", ""), inside, stops.get(text.get("stop", "")))
    if isinstance(when, str):
        return refuse(
            "time", Reason.UNPARSABLE_TIME if text.get("time") else Reason.MISSING_VALUE, when
        )
    if text.get("minutes"):
        try:
            minutes = float(text["minutes"])
        except ValueError:
            return refuse("minutes", Reason.UNPARSABLE_NUMBER, "expected minutes as a number")
        if not 0 <= minutes <= 24 * 60:
            return refuse("minutes", Reason.INVALID_VALUE, "expected 0 to 1440 minutes")
    elif inside.height:
        minutes = float(inside["minutes"].sum())
    else:
        return refuse(
            "minutes", Reason.MISSING_VALUE, "no minutes, and the track never enters the cells"
        )
    share = minutes / len(cells)
    nothing = share if outcome == "nothing" else 0.0
    return [
        (int(c), when.date(), share, nothing, int(outcome == "seizure" and i == 0))
        for i, c in enumerate(cells)
    ]


def _arrival(text: str, inside: pl.DataFrame, stop: dict | None) -> datetime | str:
    """The arrival at an outcome's cells, or why there is none."""
    if text:
        parsed = parse_timestamps(pl.Series("time", [text]))[0]
        return parsed if parsed is not None else "expected an ISO 8601 date-time"
    if inside.height:
        return inside["ts"].min()
    if stop is not None and stop.get("eta"):
        return datetime.fromisoformat(stop["eta"].replace("Z", "+00:00")).astimezone(UTC)
    return "no time, the track never enters the cells and no plan gives the arrival"


def debrief_sha256(*parts: bytes | None) -> str:
    """The debrief's identity: the SHA-256 of its inputs (a repeat stores nothing)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part or b"").digest())
    return digest.hexdigest()


def store_debrief(
    workspace: Workspace, debrief: Debrief, file: str, sha256: str
) -> dict[str, object]:
    """Store a debrief's effort and quarantine in one transaction; return the report."""
    report: dict[str, object] = {
        "track_points": debrief.track_points,
        "outcomes": debrief.outcomes,
        "accepted": debrief.outcomes - debrief.quarantined.height,
        "quarantined": debrief.quarantined.height,
        "quarantined_by_reason": dict(
            sorted(debrief.quarantined.group_by("reason").len().iter_rows())
        ),
        "cells": int(debrief.effort["cell"].n_unique()),
        "cell_days": debrief.effort.height,
        "minutes": round(float(debrief.effort["minutes"].sum()), 1),
        "searched_nothing_minutes": round(float(debrief.effort["nothing_minutes"].sum()), 1),
        "seizures": int(debrief.effort["seizures"].sum()),
    }
    now = datetime.now(UTC)
    with workspace.engine.begin() as conn:
        prior = conn.execute(
            sa.select(ingest_ledger.c.batch).where(
                ingest_ledger.c.sha256 == sha256,
                ingest_ledger.c.kind == EFFORT_KIND,
                ingest_ledger.c.status == "committed",
            )
        ).first()
        if prior is not None:
            return report | {"debrief": prior.batch, "already_recorded": True}
        batch = conn.execute(
            ingest_ledger.insert().values(
                kind=EFFORT_KIND,
                file=file,
                sha256=sha256,
                status="committed",
                started_at=now,
                committed_at=now,
                rows=debrief.outcomes,
                accepted=report["accepted"],
                quarantined=report["quarantined"],
            )
        ).inserted_primary_key[0]
        if debrief.effort.height:
            conn.execute(
                patrol_effort.insert(),
                debrief.effort.with_columns(
                    pl.lit(batch).alias("debrief"), pl.col("date").alias("day")
                )
                .drop("date")
                .to_dicts(),
            )
        if debrief.quarantined.height:
            conn.execute(
                quarantine.insert(),
                debrief.quarantined.rename({ROW_NUMBER: "row"})
                .with_columns(
                    pl.lit(batch).alias("batch"),
                    pl.lit(EFFORT_KIND).alias("kind"),
                    pl.lit(file).alias("file"),
                )
                .to_dicts(),
            )
    return report | {"debrief": batch, "already_recorded": False}


def read_effort(workspace: Workspace) -> pl.DataFrame:
    """Effort per cell and day over every debrief (`geoint.analytics.scoring.EFFORT_COLUMNS`)."""
    query = sa.select(
        patrol_effort.c.cell,
        patrol_effort.c.day,
        sa.func.sum(patrol_effort.c.minutes),
        sa.func.sum(patrol_effort.c.nothing_minutes),
        sa.func.sum(patrol_effort.c.seizures),
    ).group_by(patrol_effort.c.cell, patrol_effort.c.day)
    with workspace.engine.connect() as conn:
        rows = conn.execute(query).all()
    return pl.DataFrame(rows, schema=EFFORT_COLUMNS, orient="row")

"""Detection quality: events against ground truth, the cell ranking against illicit cells.

`score_events` matches detections to truth with the rule of docs/events.md (Evaluation);
`top_k_precision` scores a daily cell risk ranking; `evaluation_report` assembles the JSON
object of SPEC §12 and `evaluate_workspace` feeds it from a workspace and truth files.

The cell risk ranking is read from ``cells/risk.parquet`` in the workspace: one row per day
and cell, columns ``date`` (Date), ``cell`` (UInt64, the analysis resolution) and ``risk``
(higher is riskier). Illicit cells come from ``illicit_cells.csv`` (``date``, ``cell`` as hex).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from geoint.alerts.store import AlertStore
from geoint.errors import InputError
from geoint.geodesy import haversine_m
from geoint.h3index import hex_to_cells
from geoint.ingest.validate import parse_timestamps, require_columns
from geoint.schema import TRUTH_COLUMNS, EventType
from geoint.settings import EvaluationSettings
from geoint.store.cell_tables import RISK, read_optional_table
from geoint.store.workspace import Workspace

SCENARIO_FILE = "scenario.json"  # written by `geoint simulate` beside truth.csv
RISK_FILE = "cells/risk.parquet"  # named in notes; `cell_table_path` builds the path
ILLICIT_CELLS_FILE = "illicit_cells.csv"
_EVENT_COLUMNS = ("event_type", "vehicle_id", "other_vehicle_id", "start", "end", "lat", "lon")


def score_events(
    detected: pl.DataFrame, truth: pl.DataFrame, settings: EvaluationSettings | None = None
) -> dict[str, dict[str, float | int | None]]:
    """Return per event type {"truth", "detected", "recall", "precision"}.

    Both frames need event_type, vehicle_id, other_vehicle_id, start, end (UTC), lat, lon.
    Every type of `EventType` is reported, plus any other type found in either frame. Recall
    is null without truth events, precision null without detections.
    """
    settings = settings or EvaluationSettings()
    truth, detected = _keyed(truth), _keyed(detected)
    matched = _matched_per_type(detected, truth, settings)
    truth_n = dict(truth.group_by("event_type").len().iter_rows())
    detected_n = dict(detected.group_by("event_type").len().iter_rows())
    types = [*EventType, *sorted((set(truth_n) | set(detected_n)) - set(EventType))]
    scores = {}
    for kind in types:
        n_truth, n_detected, hits = truth_n.get(kind, 0), detected_n.get(kind, 0), matched[kind]
        scores[str(kind)] = {
            "truth": n_truth,
            "detected": n_detected,
            "recall": hits / n_truth if n_truth else None,
            "precision": hits / n_detected if n_detected else None,
        }
    return scores


def _keyed(frame: pl.DataFrame) -> pl.DataFrame:
    """Return the event columns plus a row index and the matching key (vehicle or pair)."""
    vehicle, other = pl.col("vehicle_id"), pl.col("other_vehicle_id").fill_null("")
    pair = (
        pl.when(vehicle <= other)
        .then(pl.concat_str(vehicle, other, separator="\x1f"))
        .otherwise(pl.concat_str(other, vehicle, separator="\x1f"))
    )
    text = ("event_type", "vehicle_id", "other_vehicle_id")
    return (
        frame.select(_EVENT_COLUMNS)
        .with_columns(pl.col(text).cast(pl.String))
        .with_row_index("row")
        .with_columns(
            pl.when(pl.col("event_type") == EventType.RENDEZVOUS)
            .then(pair)
            .otherwise(vehicle)
            .alias("key")
        )
    )


def _matched_per_type(
    detected: pl.DataFrame, truth: pl.DataFrame, settings: EvaluationSettings
) -> Counter[str]:
    """Return how many one-to-one matches each type has (greedy by time, then distance)."""
    tolerance = pl.duration(seconds=settings.match_time_s)
    pairs = truth.join(detected, on=["event_type", "key"], suffix="_d").filter(
        (pl.col("start_d") <= pl.col("end") + tolerance)
        & (pl.col("end_d") >= pl.col("start") - tolerance)
    )
    lat, lon, lat_d, lon_d = (pairs[c].to_numpy() for c in ("lat", "lon", "lat_d", "lon_d"))
    metres = haversine_m(lat, lon, lat_d, lon_d)
    pairs = (
        pairs.with_columns(pl.Series("metres", metres))
        .filter(pl.col("metres") <= settings.match_distance_m)
        .with_columns(
            (
                (pl.col("start_d") - pl.col("start")).abs()
                + (pl.col("end_d") - pl.col("end")).abs()
            ).alias("time_apart")
        )
        .sort("time_apart", "metres", "row", "row_d")
    )
    matched: Counter[str] = Counter()
    used_truth, used_detected = set(), set()
    for kind, row, row_d in pairs.select("event_type", "row", "row_d").iter_rows():
        if row in used_truth or row_d in used_detected:
            continue
        used_truth.add(row)
        used_detected.add(row_d)
        matched[kind] += 1
    return matched


def top_k_precision(
    risk: pl.DataFrame, illicit: pl.DataFrame, ks: Sequence[int]
) -> dict[str, float | None]:
    """Return, per k, the mean over days of the share of the k riskiest cells that were illicit.

    Days are those with both a ranking and illicit cells; ties in risk go to the smaller cell
    id; a day ranking fewer than k cells is scored on the cells it ranks. Null without days.
    """
    key = (pl.col("date").cast(pl.Date), pl.col("cell").cast(pl.UInt64))
    risk, illicit = risk.select(*key, pl.col("risk").cast(pl.Float64)), illicit.select(*key)
    days = risk.select("date").unique().join(illicit.select("date").unique(), on="date")
    if days.height == 0:
        return {str(k): None for k in ks}
    ranked = (
        risk.join(days, on="date")
        .sort("date", "risk", "cell", descending=[False, True, False])
        .with_columns(pl.int_range(pl.len()).over("date").alias("rank"))
        .join(illicit.with_columns(pl.lit(True).alias("illicit")), on=["date", "cell"], how="left")
        .with_columns(pl.col("illicit").fill_null(False))
    )
    out = {}
    for k in ks:
        per_day = ranked.filter(pl.col("rank") < k).group_by("date").agg(pl.col("illicit").mean())
        out[str(k)] = float(per_day["illicit"].mean())
    return out


def evaluation_report(
    detected: pl.DataFrame,
    truth: pl.DataFrame,
    risk: pl.DataFrame | None = None,
    illicit: pl.DataFrame | None = None,
    settings: EvaluationSettings | None = None,
    precision_by_rule: dict[str, dict] | None = None,
) -> dict:
    """Return the `geoint evaluate` report of SPEC §12, with a "notes" list saying what is null.

    `precision_by_rule` is `AlertStore.precision_by_rule` (null without stored alerts).
    """
    settings = settings or EvaluationSettings()
    notes = []
    events = score_events(detected, truth, settings)
    silent = [kind for kind, score in events.items() if score["truth"] and not score["detected"]]
    if silent:
        notes.append(f"events: no detections of {', '.join(silent)} (recall 0, precision null)")
    if risk is None:
        top_k = {str(k): None for k in settings.top_k}
        notes.append(
            f"cells.top_k_precision: the workspace has no cell risk ranking ({RISK_FILE} "
            "with columns date, cell, risk); run the cell analytics first"
        )
    elif illicit is None:
        top_k = {str(k): None for k in settings.top_k}
        notes.append(f"cells.top_k_precision: no illicit cells given ({ILLICIT_CELLS_FILE})")
    else:
        top_k = top_k_precision(risk, illicit, settings.top_k)
        if all(v is None for v in top_k.values()):
            notes.append("cells.top_k_precision: no day has both a risk ranking and illicit cells")
    if not precision_by_rule:
        precision_by_rule = None
        notes.append("alerts.precision_by_rule: no alerts are stored; run 'geoint analyze'")
    elif not any(rule["labelled"] for rule in precision_by_rule.values()):
        notes.append("alerts.precision_by_rule: no alert is labelled yet ('geoint alerts label')")
    notes.append(
        "alerts.latency_s_p95: not stored by the workspace; measure it with "
        "'geoint bench alerts' (POSTed pings to the alert on an SSE client)"
    )
    return {
        "events": events,
        "cells": {"top_k_precision": top_k},
        "alerts": {"latency_s_p95": None, "precision_by_rule": precision_by_rule},
        "notes": notes,
    }


def evaluate_workspace(
    workspace: Workspace,
    truth_path: Path,
    illicit_cells_path: Path | None = None,
    settings: EvaluationSettings | None = None,
) -> dict:
    """Return the evaluation report of a workspace's stored events and cell ranking.

    `illicit_cells_path` defaults to ``illicit_cells.csv`` beside the truth file; a missing
    default is noted in the report, a missing explicit file is an error.
    """
    truth = read_truth(truth_path)
    if illicit_cells_path is None:
        beside = Path(truth_path).with_name(ILLICIT_CELLS_FILE)
        illicit = read_illicit_cells(beside) if beside.is_file() else None
    else:
        illicit = read_illicit_cells(illicit_cells_path)
    risk = read_optional_table(workspace.root, RISK)
    precision = AlertStore(workspace).precision_by_rule()
    report = evaluation_report(workspace.read_events(), truth, risk, illicit, settings, precision)
    report["signal"] = signal_profile(Path(truth_path).with_name(SCENARIO_FILE))
    if report["signal"] is None:
        report["notes"].append(
            f"signal: no {SCENARIO_FILE} naming a signal profile beside the truth file"
        )
    return {"signal": report.pop("signal"), **report}


def signal_profile(path: Path) -> str | None:
    """Return the signal profile a scenario was generated with (its ``scenario.json``), if
    it names one; scenarios written before the profiles existed are clean."""
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    signal = meta.get("signal", {"name": "clean"}) if isinstance(meta, dict) else None
    name = signal.get("name") if isinstance(signal, dict) else signal
    return name if isinstance(name, str) else None


def read_truth(path: Path) -> pl.DataFrame:
    """Return a ground-truth CSV (SPEC §12 columns) typed: UTC times, float coordinates."""
    frame = _read_csv(path)
    require_columns(frame, str(path), TRUTH_COLUMNS)
    typed = frame.select(
        pl.col("event_type").str.strip_chars(),
        pl.col("vehicle_id").str.strip_chars(),
        pl.col("other_vehicle_id").str.strip_chars().replace("", None),
        parse_timestamps(frame["start"]),
        parse_timestamps(frame["end"]),
        pl.col("lat").str.strip_chars().cast(pl.Float64, strict=False),
        pl.col("lon").str.strip_chars().cast(pl.Float64, strict=False),
    )
    for column in ("event_type", "vehicle_id", "start", "end", "lat", "lon"):
        _refuse_nulls(typed[column], frame[column], path)
    return typed


def read_illicit_cells(path: Path) -> pl.DataFrame:
    """Return an illicit-cells CSV (``date``, ``cell`` as hex) as Date and UInt64 columns."""
    frame = _read_csv(path)
    require_columns(frame, str(path), ("date", "cell"))
    dates = parse_timestamps(frame["date"]).dt.date()
    _refuse_nulls(dates, frame["date"], path)
    try:
        cells = hex_to_cells(frame["cell"].str.strip_chars())
    except ValueError as exc:
        raise InputError(path, f"H3 cells as hex strings ({exc})", column="cell") from None
    return pl.DataFrame({"date": dates, "cell": pl.Series(cells, dtype=pl.UInt64)}).unique()


def _read_csv(path: Path) -> pl.DataFrame:
    try:
        return pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise InputError(path, f"a readable CSV file with a header line ({exc})") from None


def _refuse_nulls(typed: pl.Series, raw: pl.Series, path: Path) -> None:
    bad = typed.is_null()
    if typed.dtype == pl.Float64:
        bad |= typed.is_nan().fill_null(False)
    if bad.any():
        row = int(bad.arg_true()[0])
        raise InputError(
            path, f"a valid value in every row; row {row + 1} has {raw[row]!r}", column=raw.name
        )

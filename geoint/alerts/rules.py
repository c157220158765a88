"""Alert rules (SPEC §8): which events and cell conditions become alerts, with CAP 1.2 terms.

Rules come from a TOML file (`load_rules`; the shipped ``geoint/alerts/rules.toml`` by default).
Track events and cell conditions become `Candidate` alerts (`event_candidates`,
`cell_candidates`), each with its explanation in words; `geoint.alerts.store.AlertStore` merges
them into the stored alerts.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from geoint.errors import GeointError
from geoint.ground import Ground
from geoint.h3index import cell_centres, cells_to_hex
from geoint.schema import EventType
from geoint.times import iso

SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor")
_EVIDENCE_SHOWN = 12  # ping ids quoted in an explanation; all are kept in `evidence`


class AlertRuleError(GeointError, ValueError):
    """The rules file cannot be used."""


class AlertRule(BaseModel):
    """One rule: what raises the alert and its CAP 1.2 severity, urgency and certainty."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    kind: Literal["event", "emerging", "risk", "declaration"]
    title: str = Field(min_length=1)
    severity: Literal["Extreme", "Severe", "Moderate", "Minor"]
    urgency: Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
    certainty: Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
    event_types: tuple[EventType, ...] = ()
    classes: tuple[str, ...] = ()
    min_risk: float | None = Field(None, ge=0, le=100)
    min_score: float | None = Field(None, ge=0, le=100)  # declarations (risk profiles)

    @model_validator(mode="after")
    def _condition_given(self) -> AlertRule:
        needs = {"event": bool(self.event_types), "emerging": bool(self.classes)}
        needs["risk"] = self.min_risk is not None
        needs["declaration"] = self.min_score is not None
        if not needs[self.kind]:
            field_name = {"event": "event_types", "emerging": "classes", "risk": "min_risk",
                          "declaration": "min_score"}  # fmt: skip
            raise ValueError(f"a {self.kind} rule needs {field_name[self.kind]}")
        return self


def default_rules_path() -> Path:
    """The rules file shipped with the package."""
    return Path(str(files("geoint.alerts") / "rules.toml"))


def load_rules(path: Path | None = None) -> tuple[AlertRule, ...]:
    """Read and validate a rules file (``[[rule]]`` tables); default the shipped one."""
    path = Path(path) if path is not None else default_rules_path()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AlertRuleError(f"{path}: expected a readable TOML rules file ({exc})") from None
    rules = []
    for number, raw in enumerate(document.get("rule", []), start=1):
        try:
            rules.append(AlertRule.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "rule"
            raise AlertRuleError(f"{path}: rule {number}, {where}: {first['msg']}") from None
    ids = [r.id for r in rules]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise AlertRuleError(f"{path}: rule ids must be unique, repeated: {', '.join(repeated)}")
    if not rules:
        raise AlertRuleError(f"{path}: expected at least one [[rule]] table")
    return tuple(rules)


@dataclass
class Candidate:
    """An alert a rule raises for one source (an event, or a cell condition on one day)."""

    rule: AlertRule
    alert_type: str
    subject: str
    source: str
    start: datetime
    end: datetime
    lat: float
    lon: float
    cell: str
    vehicles: tuple[str, ...]
    explanation: str
    event_ids: tuple[str, ...] = ()
    ping_ids: tuple[int, ...] = ()
    sector: str | None = None
    late_s: float | None = None  # its pings reached the analysis this long after later ones


def event_candidates(
    events: pl.DataFrame, rules: Sequence[AlertRule], late: Mapping[str, float] | None = None
) -> list[Candidate]:
    """One candidate per event (schema.EVENT_SCHEMA) and event rule matching its type.

    `late`: seconds by which an event's pings arrived after later ones of its vehicle, by event
    id (`geoint.pipeline.incremental`); those candidates say so in words.
    """
    late = late or {}
    out = []
    for rule in rules:
        if rule.kind != "event":
            continue
        hits = events.filter(pl.col("event_type").is_in([str(t) for t in rule.event_types]))
        hexes = cells_to_hex(hits["cell"].cast(pl.UInt64).to_numpy())
        for row, cell in zip(hits.iter_rows(named=True), hexes, strict=True):
            vehicles = tuple(v for v in (row["vehicle_id"], row["other_vehicle_id"]) if v)
            out.append(
                Candidate(
                    rule=rule,
                    alert_type=row["event_type"],
                    subject=row["vehicle_id"],
                    source=row["event_id"],
                    start=row["start"],
                    end=row["end"],
                    lat=row["lat"],
                    lon=row["lon"],
                    cell=cell,
                    vehicles=vehicles,
                    explanation=_event_explanation(rule, row, cell)
                    + late_words(late.get(row["event_id"])),
                    event_ids=(row["event_id"],),
                    ping_ids=tuple(row["evidence"] or ()),
                    late_s=late.get(row["event_id"]),
                )
            )
    return out


def explained(candidate: Candidate, raised_late: Mapping[str, Any] | None) -> str:
    """The candidate's explanation with the alert's own raised-late reason (its evidence's
    ``raised_late``) in place of the candidate's: an alert raised on time and repeated by
    late pings is not said to be raised late, and one raised late says by how much."""
    own = late_words(candidate.late_s)
    text = candidate.explanation.removesuffix(own) if own else candidate.explanation
    return text + (f" {raised_late['reason']}" if raised_late else "")


def late_words(late_s: float | None) -> str:
    """The sentence an alert raised from late pings adds to its explanation ('' if on time)."""
    if late_s is None:
        return ""
    hours, minutes = divmod(round(late_s / 60), 60)
    return (
        f" Raised late: the event's pings arrived after pings of the vehicle {hours} h "
        f"{minutes:02d} min later (buffered by the device in a signal gap, or delivered late)."
    )


def _event_explanation(rule: AlertRule, row: dict[str, Any], cell: str) -> str:
    who = f"vehicle {row['vehicle_id']}"
    if row["other_vehicle_id"]:
        who += f" with vehicle {row['other_vehicle_id']}"
    when = f"{iso(row['start'])} to {iso(row['end'])}"
    night = ", at night (local time)" if row["night"] else ""
    crossing = row["distance_to_crossing_m"]
    near = (
        f"{crossing:,.0f} m from the nearest official crossing"
        if crossing is not None and np.isfinite(crossing)
        else "no official crossing nearby"
    )
    border = row["distance_to_border_m"]
    far = f"{border:,.0f} m from the border" if border is not None and np.isfinite(border) else ""
    pings = list(row["evidence"] or ())
    shown = ", ".join(str(p) for p in pings[:_EVIDENCE_SHOWN])
    if len(pings) > _EVIDENCE_SHOWN:
        shown += f" and {len(pings) - _EVIDENCE_SHOWN} more"
    detail = row["detail"] or "{}"
    return (
        f"Rule {rule.id} ({rule.title}): {row['event_type']} event {row['event_id']} by {who}, "
        f"{when}{night}, in cell {cell}; {', '.join(p for p in (far, near) if p)}. "
        f"Thresholds and measures: {detail}. Evidence pings: {shown or 'none'}."
    )


def cell_candidates(
    emerging: pl.DataFrame | None,
    risk: pl.DataFrame | None,
    rules: Sequence[AlertRule],
    lookback_days: int,
) -> list[Candidate]:
    """Candidates of the cell rules over the last `lookback_days` days of the risk table.

    `risk` has ``date``, ``cell`` (UInt64), ``risk`` and ``c_<factor>`` columns (``cells/
    risk.parquet``); `emerging` has ``cell``, ``emerging``, ``weeks``, ``trend_z``,
    ``trend_p``. Emerging classes are dated by the risk table's last day.
    """
    if risk is None or risk.height == 0:
        return []
    days = sorted(risk["date"].unique().to_list())[-lookback_days:]
    out: list[Candidate] = []
    for rule in rules:
        if rule.kind == "risk":
            hits = risk.filter(pl.col("date").is_in(days) & (pl.col("risk") >= rule.min_risk))
            out += _cell_rows(rule, "high_risk", hits.sort("date", "cell"), _risk_text)
        elif rule.kind == "emerging" and emerging is not None:
            hits = emerging.filter(pl.col("emerging").is_in(list(rule.classes))).with_columns(
                pl.lit(days[-1]).alias("date")
            )
            out += _cell_rows(rule, "emerging_hotspot", hits.sort("cell"), _emerging_text)
    return out


def _cell_rows(
    rule: AlertRule,
    alert_type: str,
    hits: pl.DataFrame,
    text: Callable[[AlertRule, dict[str, Any], str], str],
) -> list[Candidate]:
    """One candidate per row of `hits` (``date``, ``cell`` and the columns `text` reads)."""
    cells = hits["cell"].cast(pl.UInt64).to_numpy()
    lat, lon = cell_centres(cells)
    out = []
    for row, cell, y, x in zip(
        hits.iter_rows(named=True), cells_to_hex(cells), lat, lon, strict=True
    ):
        start = datetime.combine(row["date"], datetime.min.time(), UTC)
        out.append(
            Candidate(
                rule=rule,
                alert_type=alert_type,
                subject=cell,
                source=f"{cell}:{row['date'].isoformat()}",
                start=start,
                end=start + timedelta(days=1) - timedelta(microseconds=1),
                lat=float(y),
                lon=float(x),
                cell=cell,
                vehicles=(),
                explanation=text(rule, row, cell),
            )
        )
    return out


def _risk_text(rule: AlertRule, row: dict[str, Any], cell: str) -> str:
    parts = sorted(
        ((k.removeprefix("c_"), v) for k, v in row.items() if k.startswith("c_") and v),
        key=lambda kv: -kv[1],
    )
    shown = ", ".join(f"{name} {value:.1f}" for name, value in parts)
    return (
        f"Rule {rule.id} ({rule.title}): cell {cell} on {row['date'].isoformat()} has risk "
        f"{row['risk']:.1f}, at or above the threshold {rule.min_risk:g}; "
        f"points by factor: {shown or 'none'}."
    )


def _emerging_text(rule: AlertRule, row: dict[str, Any], cell: str) -> str:
    trend = ""
    if row.get("trend_z") is not None:
        trend = f" (Mann-Kendall z {row['trend_z']:.2f}, p {row['trend_p']:.3g})"
    return (
        f"Rule {rule.id} ({rule.title}): cell {cell} is a {row['emerging']} over "
        f"{row['weeks']} weekly bins{trend}, as of {row['date'].isoformat()}; "
        f"classes alerted: {', '.join(rule.classes)}."
    )


def assign_sectors(candidates: list[Candidate], ground: Ground) -> None:
    """Set each candidate's sector from the ground's sectors layer (None outside every sector)."""
    if not candidates:
        return
    lat = np.array([c.lat for c in candidates])
    lon = np.array([c.lon for c in candidates])
    for candidate, sector in zip(candidates, ground.sector(lat, lon), strict=True):
        candidate.sector = None if sector is None else str(sector)

"""Seizure filters as SQL conditions, shared by the API, the OGC collection and the CLI.

A filter holds, per CEN field, the values it accepts (any of them), a time interval, boxes and
a text. Vocabulary fields (commodity, transport mode, direction, concealment, detection method,
vehicle type) must hold known values (a code, a label or an alias); the countries match
case-insensitively (ASCII case: SQLite's ``lower``); ``crossing`` is the official crossing a
seizure was made at or near (`geoint.intel.crossings`); ``origin`` the administration that sent
it (``local``: the workspace's own; exact names). The text matches any of `TEXT_COLUMNS` as a
case-insensitive
substring.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa

from geoint.errors import QueryError
from geoint.layers import RegionIndex
from geoint.store.origins import seizure_origin_is
from geoint.store.tables import seizure_crossings, seizures
from geoint.store.workspace import Box, Workspace, span_conditions
from geoint.vocabularies import SHIPPED, Vocabularies

# fields holding codes of a controlled vocabulary (geoint.vocabularies): a filter value may be a
# code, a label or an alias, and stands for its code
VOCABULARY_FIELDS = (
    "commodity", "transport_mode", "direction", "concealment", "detection_method", "vehicle_type",
)  # fmt: skip
FREE_TEXT = ("origin_country", "destination_country")
FILTER_FIELDS = (*VOCABULARY_FIELDS, *FREE_TEXT, "crossing", "origin")
TEXT_COLUMNS = ("seizure_id", "description", "place", "concealment", "vehicle_id")
ORDER = (seizures.c.ts, seizures.c.seizure_id)


@dataclass(frozen=True)
class SeizureFilter:
    """Which seizures a query keeps; empty: all of them."""

    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    boxes: tuple[Box, ...] = ()
    text: str | None = None


def field_values(
    pairs: Iterable[tuple[str, str]], vocabularies: Vocabularies = SHIPPED
) -> dict[str, tuple[str, ...]]:
    """Values by filter field from (field, value) pairs, checked (vocabulary values become
    their codes); a value may list several separated by commas (``commodity=fuel,tobacco``)."""
    found: dict[str, list[str]] = {}
    for name, raw in pairs:
        if name not in FILTER_FIELDS:
            raise QueryError(name, f"unknown filter; expected one of {', '.join(FILTER_FIELDS)}")
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not values:
            raise QueryError(name, "expected a value")
        if name in VOCABULARY_FIELDS:
            codes = [vocabularies.code_of(name, value) for value in values]
            unknown = sorted(v for v, code in zip(values, codes, strict=True) if code is None)
            if unknown:
                allowed = ", ".join(vocabularies.codes(name))
                raise QueryError(name, f"expected one of {allowed}, got {unknown}")
            values = [code for code in codes if code is not None]
        found.setdefault(name, []).extend(values)
    return {name: tuple(dict.fromkeys(values)) for name, values in found.items()}


def parse_day(name: str, text: str, end: bool = False) -> datetime:
    """An ISO date (the whole UTC day: its first or, with `end`, last instant) or date-time."""
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), time(), UTC)
            return day + timedelta(days=1, microseconds=-1) if end else day
        moment = datetime.fromisoformat(text.upper())
    except (ValueError, OverflowError):
        raise QueryError(name, f"expected an ISO date or date-time, got {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def conditions(query: SeizureFilter) -> list[sa.ColumnElement[bool]]:
    """The filter as SQL conditions on the seizures table."""
    where = span_conditions(seizures, ("ts", "ts"), query.boxes, query.start, query.end)
    for name, given in query.values.items():
        # PostgreSQL refuses text holding NUL; no stored value holds one (it is replaced)
        values = [v for v in given if "\x00" not in v]
        if name == "origin":
            where.append(sa.or_(*(seizure_origin_is(origin) for origin in values)))
        elif name == "crossing":
            located = sa.select(seizure_crossings.c.seizure_id).where(
                seizure_crossings.c.crossing.in_(values)
            )
            where.append(seizures.c.seizure_id.in_(located))
        elif name in FREE_TEXT:
            where.append(sa.func.lower(seizures.c[name]).in_([v.lower() for v in values]))
        else:
            where.append(seizures.c[name].in_(values))
    if query.text and "\x00" in query.text:
        where.append(sa.false())
    elif query.text:
        escaped = query.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(
            sa.or_(*(seizures.c[c].ilike(f"%{escaped}%", escape="\\") for c in TEXT_COLUMNS))
        )
    return where


@dataclass(frozen=True)
class Scope:
    """The sectors a caller may see (a unit key's) and the region that places seizures in them."""

    index: RegionIndex
    sectors: frozenset[str]

    def keep(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of `frame` (with ``lat``, ``lon``) whose position lies in the sectors."""
        owner = self.index.sector(frame["lat"].to_numpy(), frame["lon"].to_numpy())
        inside = pl.Series(owner.tolist(), dtype=pl.String).is_in(list(self.sectors))
        return frame.filter(inside.fill_null(False))


def read_seizures(
    workspace: Workspace,
    query: SeizureFilter,
    columns: Sequence[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
    scope: Scope | None = None,
) -> pl.DataFrame:
    """The seizures meeting `query` and in the `scope` (None: anywhere): their `columns`
    (``crossing`` included on request), by time then id, `offset` skipped and at most `limit`."""
    wanted = list(columns) if columns else [c.name for c in seizures.columns if c.name != "batch"]
    if scope is not None:
        located = read_seizures(workspace, query, list(dict.fromkeys([*wanted, "lat", "lon"])))
        return scope.keep(located).select(wanted).slice(offset, limit)
    selected = [
        seizure_crossings.c.crossing if name == "crossing" else seizures.c[name] for name in wanted
    ]
    source = seizures
    if "crossing" in wanted:
        source = seizures.outerjoin(
            seizure_crossings, seizure_crossings.c.seizure_id == seizures.c.seizure_id
        )
    statement = (
        sa.select(*selected)
        .select_from(source)
        .where(*conditions(query))
        .order_by(*ORDER)
        .limit(limit)
        .offset(offset)
    )
    with workspace.engine.connect() as conn:
        rows = conn.execute(statement).all()
    schema = {name: _polars_type(name) for name in wanted}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    if "ts" in wanted:
        frame = frame.with_columns(pl.col("ts").dt.replace_time_zone("UTC"))
    return frame


def count_seizures(workspace: Workspace, query: SeizureFilter) -> int:
    """How many seizures meet `query`."""
    return workspace.count_rows("seizures", conditions(query))


def _polars_type(name: str) -> pl.DataType:
    if name == "crossing":
        return pl.String()
    column = seizures.c[name]
    if isinstance(column.type, sa.DateTime):
        return pl.Datetime("us")
    if isinstance(column.type, sa.Float):
        return pl.Float64()
    if isinstance(column.type, sa.Integer):
        return pl.Int64()
    return pl.String()


def seizure_queryables() -> dict[str, dict[str, Any]]:
    """JSON Schema of each filter field (OGC API – Features Part 3 queryables)."""
    described = {
        "origin_country": "country of origin (case-insensitive)",
        "destination_country": "country of destination (case-insensitive)",
        "crossing": "official crossing within the radius of the seizure (layer name)",
    }
    found: dict[str, dict[str, Any]] = {}
    for name in FILTER_FIELDS:
        if name == "origin":  # the OGC items take it as a parameter of their own
            continue
        if name in VOCABULARY_FIELDS:
            found[name] = {"type": "string", "enum": list(SHIPPED.codes(name)), "title": name}
        else:
            found[name] = {"type": "string", "title": name, "description": described[name]}
    return found

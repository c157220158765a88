"""Where a record came from: partner records carry their sender's name, the rest ``local``;
partner alerts and events as received."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl
import sqlalchemy as sa

from geoint.store.origins import LOCAL
from geoint.store.tables import exchange_records
from geoint.store.workspace import Box, Workspace, span_conditions

_BOUND_IDS = 10_000  # ids per IN list (SQLite allows 32,766 parameters)


def with_origins(
    workspace: Workspace, frame: pl.DataFrame, kind: str = "seizures", id_column: str = "seizure_id"
) -> pl.DataFrame:
    """The frame with an ``origin`` column: the sending administration, or ``local``."""
    ids = frame[id_column].cast(pl.String).unique().to_list()
    found: list[tuple[str, str]] = []
    with workspace.engine.connect() as conn:
        for start in range(0, len(ids), _BOUND_IDS):
            query = sa.select(exchange_records.c.record_id, exchange_records.c.origin).where(
                exchange_records.c.kind == kind,
                exchange_records.c.record_id.in_(ids[start : start + _BOUND_IDS]),
            )
            found.extend(tuple(row) for row in conn.execute(query))
    origins = pl.DataFrame(found, schema={id_column: pl.String, "origin": pl.String}, orient="row")
    joined = frame.join(origins, on=id_column, how="left", maintain_order="left")
    return joined.with_columns(pl.col("origin").fill_null(LOCAL))


PARTNER_KINDS = ("alerts", "events")  # kept in `exchange_records` only, never mixed with ours
_PARTNER_SCHEMA = {
    "kind": pl.String,
    "record_id": pl.String,
    "origin": pl.String,
    "package_id": pl.String,
    "ts": pl.Datetime("us"),  # stored in UTC, read naive: made aware once read
    "lat": pl.Float64,
    "lon": pl.Float64,
    "content": pl.String,
}


def partner_records(
    workspace: Workspace,
    kinds: Sequence[str] = PARTNER_KINDS,
    origins: Sequence[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    boxes: Sequence[Box] = (),
) -> pl.DataFrame:
    """Received alerts and events of `kinds` from `origins` (none: any) whose time is in
    ``[start, end]`` and position in one of `boxes`, by time then id; ``content`` is the record
    as received (JSON text)."""
    unknown = sorted(set(kinds) - set(PARTNER_KINDS))
    if unknown:
        raise ValueError(f"kind: expected {' or '.join(PARTNER_KINDS)}, got {unknown}")
    where = span_conditions(exchange_records, ("ts", "ts"), boxes, start, end)
    where.append(exchange_records.c.kind.in_(list(kinds)))
    if origins:
        where.append(exchange_records.c.origin.in_(list(origins)))
    columns = [exchange_records.c[name] for name in _PARTNER_SCHEMA]
    query = sa.select(*columns).where(*where).order_by(exchange_records.c.ts, *columns[:2])
    with workspace.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pl.DataFrame(rows, schema=_PARTNER_SCHEMA, orient="row")
    return frame.with_columns(pl.col("ts").dt.replace_time_zone("UTC"))


def received_count(workspace: Workspace) -> int:
    """How many records partners sent (imports only add: a new package changes it)."""
    with workspace.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(exchange_records)).scalar_one()

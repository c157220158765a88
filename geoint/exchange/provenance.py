"""Where a record came from: partner records carry their sender's name, the rest ``local``."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from geoint.store.tables import exchange_records, seizures
from geoint.store.workspace import Workspace

LOCAL = "local"  # the origin of the workspace's own records
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


def seizure_origin_is(origin: str) -> sa.ColumnElement[bool]:
    """SQL condition on the seizures table: the seizure came from `origin` (``local``: ours)."""
    received = sa.select(exchange_records.c.record_id).where(exchange_records.c.kind == "seizures")
    if origin == LOCAL:
        return seizures.c.seizure_id.not_in(received)
    return seizures.c.seizure_id.in_(received.where(exchange_records.c.origin == origin))

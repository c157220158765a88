"""Which administration a stored record came from, as SQL: partner records are listed in
``exchange_records`` with their sender; the rest are the workspace's own (``local``)."""

from __future__ import annotations

import sqlalchemy as sa

from geoint.store.tables import exchange_records, seizures

LOCAL = "local"  # the origin of the workspace's own records


def seizure_origin_is(origin: str) -> sa.ColumnElement[bool]:
    """SQL condition on the seizures table: the seizure came from `origin` (``local``: ours)."""
    received = sa.select(exchange_records.c.record_id).where(exchange_records.c.kind == "seizures")
    if origin == LOCAL:
        return seizures.c.seizure_id.not_in(received)
    return seizures.c.seizure_id.in_(received.where(exchange_records.c.origin == origin))

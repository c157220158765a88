"""The concealment library (CENcomm-style): seizures that have photos, newest first.

Filters run in SQL on the seizures table (`geoint.intel.query`), joined to the photos; a unit
sees its sectors' seizures only.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from geoint.intel.query import Scope, SeizureFilter, conditions
from geoint.store.tables import seizure_photos, seizures
from geoint.store.workspace import Workspace

LIBRARY_COLUMNS = (
    "seizure_id", "ts", "lat", "lon", "place", "commodity", "quantity", "unit", "transport_mode",
    "vehicle_type", "concealment", "detection_method", "direction", "description",
)  # fmt: skip
NEWEST = (seizures.c.ts.desc(), seizures.c.seizure_id.desc())


def concealment_library(
    workspace: Workspace,
    query: SeizureFilter,
    limit: int,
    offset: int = 0,
    scope: Scope | None = None,
) -> tuple[pl.DataFrame, int]:
    """The seizures with photos meeting `query` and in `scope` (None: anywhere), newest
    first: `offset` skipped, at most `limit` kept; and how many match in all."""
    with_photos = seizures.c.seizure_id.in_(sa.select(seizure_photos.c.seizure_id))
    where = [with_photos, *conditions(query)]
    if scope is None:
        matched = workspace.count_rows("seizures", where)
        frame = workspace.read_table("seizures", where, NEWEST, limit, offset, LIBRARY_COLUMNS)
        return frame, matched
    # a unit's sectors are polygons: place the (few) seizures with photos, then page
    every = workspace.read_table("seizures", where, NEWEST, columns=LIBRARY_COLUMNS)
    visible = scope.keep(every)
    return visible.slice(offset, limit), visible.height

"""WCO-style enforcement operations: a named window with a scope, and what falls inside it.

An operation (Thunder, Demeter, Stop...) runs from ``start`` to ``end`` (UTC, both included)
over some commodities and sectors (none: all). A seizure is tagged with it when its time is in
the window, its commodity in the scope and its position in one of the sectors; an event or an
alert when its time span meets the window and its position (alerts: the sector stored when it
was raised) is in the sectors. Events and alerts carry no commodity, so the commodity scope
does not narrow them. Tags are computed when asked, never stored, so an operation created
after the fact, or a seizure entered late, is tagged all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import polars as pl
import sqlalchemy as sa

from geoint.alerts.store import AlertStore
from geoint.errors import GeointError
from geoint.intel.query import Scope, SeizureFilter, field_values, read_seizures
from geoint.layers import RegionIndex
from geoint.store.tables import operations
from geoint.store.workspace import Workspace
from geoint.times import as_utc


class OperationError(GeointError, ValueError):
    """An operation that does not exist or cannot be created as asked."""


@dataclass(frozen=True)
class Operation:
    """A stored operation."""

    id: int
    name: str
    start: datetime
    end: datetime
    commodities: tuple[str, ...]
    sectors: tuple[str, ...]
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "id": self.id,
            "name": self.name,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "commodities": list(self.commodities),
            "sectors": list(self.sectors),
            "created_at": self.created_at.isoformat(),
        }


@dataclass
class OperationItems:
    """What an operation tags: seizures, events and alerts (frames, by time)."""

    seizures: pl.DataFrame
    events: pl.DataFrame
    alerts: pl.DataFrame

    def counts(self) -> dict[str, int]:
        """How many of each."""
        return {
            "seizures": self.seizures.height,
            "events": self.events.height,
            "alerts": self.alerts.height,
        }


def create_operation(
    workspace: Workspace,
    name: str,
    start: datetime,
    end: datetime,
    commodities: tuple[str, ...] = (),
    sectors: tuple[str, ...] = (),
    known_sectors: tuple[str, ...] | None = None,
) -> int:
    """Store an operation and return its id; `known_sectors` (when given) checks `sectors`."""
    if not name.strip():
        raise OperationError("--name: expected a non-empty name")
    if as_utc(end) < as_utc(start):
        raise OperationError(f"--end: {end.isoformat()} is before --start {start.isoformat()}")
    checked = field_values(("commodity", c) for c in commodities).get("commodity", ())
    if known_sectors is not None:
        unknown = sorted(set(sectors) - set(known_sectors))
        if unknown:
            raise OperationError(
                f"--sector: {unknown} not in the region's sectors ({', '.join(known_sectors)})"
            )
    row = {
        "name": name.strip(),
        "start": as_utc(start),
        "end": as_utc(end),
        "commodities": orjson.dumps(list(checked)).decode(),
        "sectors": orjson.dumps(list(dict.fromkeys(sectors))).decode(),
        "created_at": datetime.now(UTC),
    }
    with workspace.engine.begin() as conn:
        return conn.execute(operations.insert().values(**row)).inserted_primary_key[0]


def list_operations(workspace: Workspace) -> list[Operation]:
    """Every operation, latest start first."""
    query = sa.select(operations).order_by(operations.c.start.desc(), operations.c.id.desc())
    with workspace.engine.connect() as conn:
        return [_operation(row) for row in conn.execute(query).mappings()]


def get_operation(workspace: Workspace, operation_id: int) -> Operation:
    """The operation with this id; `OperationError` when there is none."""
    query = sa.select(operations).where(operations.c.id == operation_id)
    with workspace.engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        raise OperationError(f"no operation {operation_id} (see 'geoint operations list')")
    return _operation(row)


def operation_items(
    workspace: Workspace, operation: Operation, index: RegionIndex | None
) -> OperationItems:
    """The seizures, events and alerts `operation` tags; `index` places them in sectors (needed
    when the operation has sectors)."""
    if operation.sectors and index is None:
        raise OperationError(
            f"operation {operation.id} is scoped to sectors: the region is needed (--region)"
        )
    scope = Scope(index, frozenset(operation.sectors)) if operation.sectors and index else None
    values = {"commodity": operation.commodities} if operation.commodities else {}
    chosen = SeizureFilter(values, operation.start, operation.end)
    seizures = read_seizures(workspace, chosen, scope=scope)
    events = workspace.read_events().filter(
        (pl.col("start") <= operation.end) & (pl.col("end") >= operation.start)
    )
    if scope is not None:
        events = scope.keep(events)
    sectors = frozenset(operation.sectors) if operation.sectors else None
    alerts, _ = AlertStore(workspace).frame_page(start=operation.start, end=operation.end,
                                                 sectors=sectors)  # fmt: skip
    return OperationItems(seizures, events.sort("start", "event_id"), alerts)


def scoped_operation(operation: Operation, sectors: frozenset[str] | None) -> Operation | None:
    """The operation as a caller limited to `sectors` (None: all) sees it: its sectors cut to
    the caller's (an operation over every sector meets them all); None when they do not meet."""
    if sectors is None:
        return operation
    kept = [s for s in operation.sectors if s in sectors] if operation.sectors else sorted(sectors)
    return replace(operation, sectors=tuple(kept)) if kept else None


def operation_json(
    operation: Operation, items: OperationItems, limit: int | None = None
) -> dict[str, Any]:
    """The operation, its tag counts and the ids of what it tags (the first `limit` of each)."""
    return {
        **operation.as_dict(),
        "tagged": items.counts(),
        "seizures": items.seizures["seizure_id"].slice(0, limit).to_list(),
        "events": items.events["event_id"].slice(0, limit).to_list(),
        "alerts": [int(a) for a in items.alerts["id"].slice(0, limit).to_list()],
    }


def _operation(row: Any) -> Operation:
    return Operation(
        id=row["id"],
        name=row["name"],
        start=as_utc(row["start"]),
        end=as_utc(row["end"]),
        commodities=tuple(orjson.loads(row["commodities"])),
        sectors=tuple(orjson.loads(row["sectors"])),
        created_at=as_utc(row["created_at"]),
    )


def seizure_operations(
    seizures: pl.DataFrame, found: list[Operation], index: RegionIndex | None
) -> list[list[int]]:
    """The ids of the operations in `found` tagging each seizure (``ts``, ``commodity``,
    ``lat``, ``lon``); an operation scoped to sectors tags nothing without `index`."""
    tags: list[list[int]] = [[] for _ in range(seizures.height)]
    for operation in found:  # operations are few; each is one vectorised mask
        inside = (pl.col("ts") >= operation.start) & (pl.col("ts") <= operation.end)
        if operation.commodities:
            inside &= pl.col("commodity").is_in(list(operation.commodities))
        mask = seizures.select(inside.fill_null(False)).to_series().to_numpy()
        if operation.sectors:
            owner = (
                index.sector(seizures["lat"].to_numpy(), seizures["lon"].to_numpy())
                if index is not None
                else np.full(seizures.height, None, dtype=object)
            )
            mask &= np.isin(owner.astype(str), list(operation.sectors))
        for row in np.flatnonzero(mask):
            tags[row].append(operation.id)
    return tags

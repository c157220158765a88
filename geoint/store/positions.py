"""Placing a seizure that was entered by place name at coordinates (docs/field.md).

One transaction moves the seizure and its H3 cell, records where the coordinates came from,
drops its crossing (located again at the next query) and bumps the seizures table's update
counter, which ``Workspace.table_version`` includes: every cache keyed on that version (a
unit's scope, the map, the crossings, the quality report) sees the new position.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from geoint.schema import PositionPrecision
from geoint.store.tables import seizure_crossings, seizures
from geoint.store.workspace import Workspace, reserve, update_counter


class PositionSource(StrEnum):
    """Where coordinates given to a seizure after its entry came from."""

    PHOTO_EXIF = "photo_exif"  # the GPS position in a photo's EXIF (read by the server)
    DEVICE = "device"  # the officer's device (its geolocation)
    MAP = "map"  # a point tapped on a map


class Moved(StrEnum):
    """What `place_seizure` did."""

    MOVED = "moved"
    EXACT = "exact"  # the seizure's position was exact already: left alone
    MISSING = "missing"  # no such seizure


def place_seizure(
    workspace: Workspace,
    seizure_id: str,
    lat: float,
    lon: float,
    cell: int,
    source: PositionSource,
) -> Moved:
    """Give a seizure whose position is not exact these coordinates and cell, as exact."""
    exact = PositionPrecision.EXACT.value
    move = (
        seizures.update()
        .where(seizures.c.seizure_id == seizure_id, seizures.c.position_precision != exact)
        .values(lat=lat, lon=lon, cell=cell, position_precision=exact, position_source=source)
    )
    with workspace.engine.begin() as conn:
        if conn.execute(move).rowcount == 0:
            found = sa.select(seizures.c.seizure_id).where(seizures.c.seizure_id == seizure_id)
            return Moved.EXACT if conn.execute(found).first() else Moved.MISSING
        conn.execute(seizure_crossings.delete().where(seizure_crossings.c.seizure_id == seizure_id))
        reserve(conn, update_counter("seizures"), 1)
    return Moved.MOVED

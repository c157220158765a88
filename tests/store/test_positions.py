"""Placing a seizure entered by place name at coordinates, on SQLite and on PostgreSQL: its
row and cell move, and every cache keyed on the seizures table's version sees it (a unit's
scope, the map's data version, the crossing side table)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import sqlalchemy as sa
from support.api import NORTH, build_region

from geoint.alerts.store import AlertStore
from geoint.api.collections import ItemQuery, SeizureCollection
from geoint.h3index import latlng_to_cells
from geoint.intel.crossings import SeizureLocator
from geoint.layers import Region, RegionIndex
from geoint.serve.map_data import map_data_version
from geoint.store.positions import Moved, PositionSource, place_seizure
from geoint.store.tables import seizure_crossings, seizures

pytestmark = pytest.mark.databases
SEME = (6.3794, 2.7035)  # the crossing of sector "south"
RADIUS_M = 100_000  # Kalale, 59 km from NORTH, is within it


def _cell(lat: float, lon: float) -> int:
    return int(latlng_to_cells(np.array([lat]), np.array([lon]), 8)[0])


def _seizure(seizure_id: str, lat: float, lon: float, precision: str, batch: int) -> dict:
    when = datetime(2026, 9, 14, 10, tzinfo=UTC)
    return {
        "seizure_id": seizure_id, "ts": when, "lat": lat, "lon": lon, "cell": _cell(lat, lon),
        "position_precision": precision, "place": "Kalalé", "batch": batch,
    }  # fmt: skip


def _crossing(workspace, seizure_id: str) -> str | None:
    query = sa.select(seizure_crossings.c.crossing).where(
        seizure_crossings.c.seizure_id == seizure_id
    )
    with workspace.engine.connect() as conn:
        return conn.execute(query).scalar_one()


def test_a_placed_seizure_moves_for_the_scope_the_map_and_its_crossing(workspace, tmp_path):
    index = RegionIndex(Region.load(build_region(tmp_path / "region")))
    batch = workspace.begin_batch("seizures", "field", "0" * 64).batch
    with workspace.engine.begin() as conn:
        conn.execute(
            seizures.insert(),
            [
                _seizure("S-PLACE", *NORTH, "place", batch),
                _seizure("S-EXACT", *NORTH, "exact", batch),
            ],
        )
    locator = SeizureLocator(index, RADIUS_M)
    collection = SeizureCollection(workspace, index, locator)
    south = ItemQuery(None, None, 50, 0, frozenset({"south"}))
    alerts = AlertStore(workspace)
    locator.update(workspace)
    before = workspace.table_version("seizures"), map_data_version(workspace, alerts)
    assert collection.items(south).matched == 0
    assert _crossing(workspace, "S-PLACE") == "Kalale"

    moved = place_seizure(workspace, "S-PLACE", *SEME, _cell(*SEME), PositionSource.PHOTO_EXIF)
    assert moved is Moved.MOVED
    # same count, same last batch: only the update counter tells the caches
    version = workspace.table_version("seizures")
    assert version[:2] == before[0][:2] and version != before[0]
    assert map_data_version(workspace, alerts) != before[1]
    assert [f["id"] for f in collection.items(south).features] == ["S-PLACE"]
    row = workspace.read_table("seizures", [seizures.c.seizure_id == "S-PLACE"]).row(0, named=True)
    assert (row["lat"], row["lon"], row["cell"]) == (*SEME, _cell(*SEME))
    assert (row["position_precision"], row["position_source"]) == ("exact", "photo_exif")
    locator.update(workspace)
    assert _crossing(workspace, "S-PLACE") == "Seme"

    # exact positions are left alone, whatever asks
    assert place_seizure(workspace, "S-PLACE", *NORTH, 1, PositionSource.MAP) is Moved.EXACT
    assert place_seizure(workspace, "S-EXACT", *SEME, 1, PositionSource.DEVICE) is Moved.EXACT
    assert place_seizure(workspace, "S-NONE", *SEME, 1, PositionSource.DEVICE) is Moved.MISSING
    assert workspace.table_version("seizures") == version
    assert _crossing(workspace, "S-EXACT") == "Kalale"

"""Pings beyond the region's extent are counted and left out of the cell analytics."""

from datetime import timedelta

import h3
import polars as pl
from support.incremental import STOP, T0, rows

from geoint.layers import Region, RegionIndex, shipped_region_path
from geoint.pipeline.analyze import analyze
from geoint.pipeline.incremental import analyze_batch
from geoint.pipeline.ingest import ingest_pings
from geoint.settings import GeointSettings
from geoint.store.cell_tables import read_vehicle_days
from geoint.store.workspace import Workspace
from geoint.testing.builders import write_csv

FAR = [(20.0, 20.0 + 0.001 * i) for i in range(6)]  # in Chad, 1,900 km from the region


def _cells_inside(cells: pl.Series, extent: tuple[float, float, float, float]) -> bool:
    west, south, east, north = extent
    points = [h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells.unique()]
    return all(south <= lat <= north and west <= lon <= east for lat, lon in points)


def test_pings_beyond_the_extent_are_counted_and_make_no_cells(tmp_path):
    ground = RegionIndex(Region.load(shipped_region_path()))
    settings = GeointSettings(workspace=tmp_path / "ws")
    store = Workspace(settings.workspace)
    records = rows("V1", T0, STOP) + rows("LOST", T0, FAR)
    ingest_pings(store, write_csv(records, tmp_path / "a.csv"), settings)
    report = analyze(store, ground, settings)
    assert report["pings"] == len(STOP) + len(FAR)
    assert report["pings_beyond_extent"] == len(FAR)
    days = pl.read_parquet(store.root / "cells" / "days.parquet")
    assert days.height > 0 and _cells_inside(days["cell"], ground.extent)
    # the incremental update of the cells leaves them out too
    later = rows("LOST", T0 + timedelta(hours=1), FAR) + rows("V1", T0 + timedelta(hours=1), STOP)
    batch = ingest_pings(store, write_csv(later, tmp_path / "b.csv"), settings).batch_id
    analyze_batch(store, ground, settings, int(batch))
    per_vehicle = read_vehicle_days(store.root)
    assert per_vehicle.height > 0 and _cells_inside(per_vehicle["cell"], ground.extent)
    assert "LOST" not in per_vehicle["vehicle"].cast(pl.String).to_list()
    store.engine.dispose()

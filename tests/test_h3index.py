"""H3 indexing: axis order, parity with the reference library, parents."""

import h3
import numpy as np
import polars as pl
import pytest

from geoint.h3index import (
    aggregate_to_parent,
    cells_to_hex,
    hex_to_cells,
    latlng_to_cells,
    parent_cells,
)

SEME = (6.3794, 2.7035)  # the Seme–Kraké crossing, lat/lon
SEME_CELL_RES8 = "8858918cd7fffff"


def test_known_point_maps_to_known_cell_axis_order_guard():
    cells = latlng_to_cells(np.array([SEME[0]]), np.array([SEME[1]]), 8)
    assert cells.dtype == np.uint64
    assert cells_to_hex(cells) == [SEME_CELL_RES8]
    swapped = latlng_to_cells(np.array([SEME[1]]), np.array([SEME[0]]), 8)
    assert cells_to_hex(swapped) != [SEME_CELL_RES8]


@pytest.mark.parametrize("count", [1_000, 450_000])  # below and above the threaded path
def test_vectorised_equals_per_row_library(count):
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-80, 80, count), rng.uniform(-179, 179, count)
    cells = latlng_to_cells(lat, lon, 8)
    sample = rng.choice(count, 500, replace=False)
    expected = [h3.latlng_to_cell(lat[i], lon[i], 8) for i in sample]
    assert [cells_to_hex(cells[[i]])[0] for i in sample] == expected


def test_parents_are_computed_not_reindexed():
    cells = latlng_to_cells(np.array([SEME[0], 9.35]), np.array([SEME[1], 2.63]), 8)
    for resolution in (5, 6, 7):
        parents = cells_to_hex(parent_cells(cells, resolution))
        assert parents == [h3.cell_to_parent(c, resolution) for c in cells_to_hex(cells)]


def test_hex_round_trip_and_bad_hex():
    cells = hex_to_cells([SEME_CELL_RES8])
    assert cells_to_hex(cells) == [SEME_CELL_RES8]
    with pytest.raises(ValueError, match="not an H3 cell: 'nonsense'"):
        hex_to_cells([SEME_CELL_RES8, "nonsense"])


def test_aggregate_to_parent_sums_children():
    children = [int(c, 16) for c in h3.cell_to_children(h3.cell_to_parent(SEME_CELL_RES8, 7), 8)]
    frame = pl.DataFrame(
        {"cell": pl.Series(children, dtype=pl.UInt64), "pings": [1] * len(children)}
    )
    parents = aggregate_to_parent(frame, 7, sums=("pings",))
    assert parents.height == 1
    assert parents["pings"][0] == 7
    assert cells_to_hex(parents["cell"].to_numpy()) == [h3.cell_to_parent(SEME_CELL_RES8, 7)]

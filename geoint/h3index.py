"""Vectorised H3 indexing: cells are uint64 inside, canonical hex strings outside (SPEC §5)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import h3ronpy
import numpy as np
import polars as pl
import pyarrow as pa
from h3ronpy import vector

# h3ronpy releases the GIL, so chunks run on all cores; below this size threads cost more.
_PARALLEL_MIN_ROWS = 200_000
_CHUNKS = 4
_pool = ThreadPoolExecutor(max_workers=_CHUNKS, thread_name_prefix="h3index")


def latlng_to_cells(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    """Return the uint64 H3 cell of every (lat, lon) pair; inputs must be valid WGS84."""
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    if lat.shape != lon.shape:
        raise ValueError(f"lat and lon differ in length: {lat.shape} vs {lon.shape}")
    if len(lat) < _PARALLEL_MIN_ROWS:
        return _index_chunk(lat, lon, resolution)
    bounds = np.linspace(0, len(lat), _CHUNKS + 1).astype(int)
    parts = _pool.map(
        lambda i: _index_chunk(
            lat[bounds[i] : bounds[i + 1]], lon[bounds[i] : bounds[i + 1]], resolution
        ),
        range(_CHUNKS),
    )
    return np.concatenate(list(parts))


def _index_chunk(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    if len(lat) == 0:
        return np.empty(0, dtype=np.uint64)
    return np.asarray(vector.coordinates_to_cells(lat, lon, resolution), dtype=np.uint64)


def cell_centres(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (lat, lon) of the centre of every uint64 cell."""
    cells = np.ascontiguousarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        return np.empty(0), np.empty(0)
    centres = pa.record_batch(vector.cells_to_coordinates(cells))
    return centres.column("lat").to_numpy(), centres.column("lng").to_numpy()


def grid_disks(cells: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (row, cell) pairs: every cell within `k` steps of each input cell (itself too)."""
    cells = np.ascontiguousarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
    disks = pa.array(h3ronpy.grid_disk(cells, k, flatten=False))
    offsets = disks.offsets.to_numpy()
    rows = np.repeat(np.arange(len(cells)), np.diff(offsets))
    return rows, disks.flatten().to_numpy().astype(np.uint64)


def parent_cells(cells: np.ndarray, resolution: int) -> np.ndarray:
    """Return the parent at `resolution` of every uint64 cell (computed, never re-indexed)."""
    cells = np.ascontiguousarray(cells, dtype=np.uint64)
    return np.asarray(h3ronpy.change_resolution(cells, resolution), dtype=np.uint64)


def child_cells(cells: np.ndarray, resolution: int) -> np.ndarray:
    """Return every child at `resolution` (finer or equal) of the uint64 cells, flattened."""
    cells = np.ascontiguousarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        return np.empty(0, dtype=np.uint64)
    children = pa.array(h3ronpy.change_resolution_list(cells, resolution))
    return children.flatten().to_numpy().astype(np.uint64)


def cells_to_hex(cells: np.ndarray | pl.Series) -> list[str]:
    """Return the canonical hex string of every uint64 cell."""
    cells = np.ascontiguousarray(cells, dtype=np.uint64)
    return pa.array(h3ronpy.cells_to_string(cells)).to_pylist()


def hex_to_cells(hexes: list[str] | pl.Series) -> np.ndarray:
    """Return uint64 cells for hex strings; raises ValueError naming a malformed one."""
    texts = [str(h) for h in hexes]
    parsed = pa.array(h3ronpy.cells_parse(texts, set_failing_to_invalid=True))
    if parsed.null_count:
        bad = texts[parsed.is_null().to_pylist().index(True)]
        raise ValueError(f"not an H3 cell: {bad!r} (expected a hex string like '8858918cd7fffff')")
    cells = parsed.to_numpy().astype(np.uint64)
    return cells


def aggregate_to_parent(
    frame: pl.DataFrame, resolution: int, cell_column: str = "cell", sums: tuple[str, ...] = ()
) -> pl.DataFrame:
    """Return per-parent-cell totals of `sums` (and a row count) at a coarser `resolution`."""
    parents = parent_cells(frame[cell_column].to_numpy(), resolution)
    return (
        frame.with_columns(pl.Series(cell_column, parents, dtype=pl.UInt64))
        .group_by(cell_column)
        .agg(pl.len().alias("rows"), *[pl.col(c).sum() for c in sums])
        .sort(cell_column)
    )

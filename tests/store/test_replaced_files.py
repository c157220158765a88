"""Files an analysis replaces (the events file, the cell tables) read whole while they are
replaced: a reader gets the old file or the new one, never a mix of both (a 500 on /map/day
under a live feed, found by the mixed load)."""

import threading

import numpy as np
import polars as pl
from support.workspaces import open_workspace

from geoint.schema import EVENT_SCHEMA
from geoint.store.cell_tables import read_table, write_table

READS = 150


def _frames(build) -> list[pl.DataFrame]:
    """Two versions of a file, of different sizes (so a mix of them is caught)."""
    return [build(np.random.default_rng(seed), 20_000 + 15_000 * seed) for seed in (0, 1)]


def _read_while_replaced(write, read, frames: list[pl.DataFrame]) -> None:
    write(frames[0])
    stop = threading.Event()

    def replace() -> None:
        i = 0
        while not stop.is_set():
            write(frames[i % 2])
            i += 1

    writer = threading.Thread(target=replace, daemon=True)
    writer.start()
    try:
        heights = {read().height for _ in range(READS)}
    finally:
        stop.set()
        writer.join()
    assert heights <= {frame.height for frame in frames}


def _events(rng: np.random.Generator, rows: int) -> pl.DataFrame:
    columns = {}
    for name, dtype in EVENT_SCHEMA.items():
        if dtype == pl.Utf8:
            columns[name] = pl.Series(name, rng.integers(0, 10**6, rows).astype(str))
        else:
            columns[name] = pl.Series(name, [None] * rows, dtype=dtype)
    return pl.DataFrame(columns)


def test_the_events_file_reads_whole_while_an_analysis_replaces_it(tmp_path):
    store = open_workspace(tmp_path / "ws")
    _read_while_replaced(store.write_events, store.read_events, _frames(_events))


def test_a_cell_table_reads_whole_while_an_analysis_replaces_it(tmp_path):
    def cells(rng: np.random.Generator, rows: int) -> pl.DataFrame:
        return pl.DataFrame({"cell": rng.integers(0, 2**60, rows, dtype=np.uint64),
                             "risk": rng.random(rows)})  # fmt: skip

    _read_while_replaced(
        lambda frame: write_table(tmp_path, "days", frame),
        lambda: read_table(tmp_path, "days"),
        _frames(cells),
    )

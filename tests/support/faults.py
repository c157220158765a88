"""Injected faults for the reliability tests: a disk that fills up under a Parquet write."""

from __future__ import annotations

import errno

import polars as pl


def fill_disk_on_parquet(monkeypatch) -> None:
    """Make every Parquet write put some bytes down, then fail as a full disk does."""

    def full(self, file, *args, **kwargs):
        with open(file, "wb") as sink:
            sink.write(b"PAR1" + b"\0" * 100_000)
        raise OSError(errno.ENOSPC, "No space left on device", str(file))

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)

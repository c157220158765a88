"""Atomic file writes: a temporary file beside the target, then one rename.

Readers never see half a file, and a write that fails (a full disk, a killed process) leaves
the target as it was. The temporary name keeps the target's suffix (GDAL drivers go by it) and
starts with a dot, so no reader's pattern (``part-*.parquet``) ever lists it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl


def temporary_path(target: Path) -> Path:
    """Return the temporary path a write of `target` uses (beside it, same suffix)."""
    target = Path(target)
    return target.with_name(f".tmp-{target.name}")


@contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """Yield a temporary path to write; rename it over `target` if the block succeeds.

    The folder is created if missing; the temporary file is removed if the block fails.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(target)
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_parquet(frame: pl.DataFrame, target: Path, durable: bool = False, **options: Any) -> Path:
    """Write `frame` as Parquet at `target` atomically (`options` go to polars); return it.

    `durable`: on the disk before returning (the file, then its folder's entry, synced), so
    that a power cut after the caller acknowledges the write loses nothing."""
    with replacing(target) as tmp:
        frame.write_parquet(tmp, **options)
        if durable:
            _sync(tmp)
    if durable:
        _sync(Path(target).parent)
    return Path(target)


def read_parquet(target: Path, **options: Any) -> pl.DataFrame:
    """Read the Parquet file `target`, which an atomic write may replace at any moment.

    One open file: polars given a path opens it again for the pages after the footer, so a
    rename in between gave it the footer of one file and the pages of the other (a wrong page
    size, or a panic, under a live feed's analyses). An open file keeps its contents.
    """
    with open(target, "rb") as handle:
        return pl.read_parquet(handle, **options)


def _sync(path: Path) -> None:
    """fsync a file or a folder (the folder holds the renamed file's entry)."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_bytes(data: bytes, target: Path) -> Path:
    """Write `data` at `target` atomically; return it."""
    with replacing(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(text: str, target: Path) -> Path:
    """Write UTF-8 `text` at `target` atomically; return it."""
    return write_bytes(text.encode("utf-8"), target)

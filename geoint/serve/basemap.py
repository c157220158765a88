"""A post's own basemap: tiles read from a local MBTiles or PMTiles file (``serve --basemap``).

MBTiles is SQLite (``tiles`` in TMS rows, ``metadata``: format, minzoom, maxzoom, name,
attribution), opened read-only; PMTiles is read with the ``pmtiles`` package through a memory
map. Both give the tile of ``z/x/y`` (XYZ rows) as bytes, or None. Vector tiles (``pbf``) are
answered with their stored compression named in ``Content-Encoding``.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Compression, TileType

from geoint.errors import GeointError

FORMATS = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp",
           "pbf": "application/x-protobuf"}  # fmt: skip
_PMTILES_TYPES = {TileType.PNG: "png", TileType.JPEG: "jpg", TileType.WEBP: "webp",
                  TileType.MVT: "pbf"}  # fmt: skip
_ENCODINGS = {Compression.GZIP: "gzip", Compression.BROTLI: "br", Compression.ZSTD: "zstd"}


@dataclass(frozen=True)
class BasemapInfo:
    """What the map needs to offer a tile source as a base layer."""

    name: str
    format: str  # png, jpg, webp or pbf
    min_zoom: int
    max_zoom: int
    attribution: str
    encoding: str | None = None  # PMTiles: Content-Encoding of every tile


class TileSource:
    """Tiles of one MBTiles or PMTiles file (chosen by its first bytes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with path.open("rb") as file:
                magic = file.read(16)
        except OSError as exc:
            raise GeointError(f"--basemap {path}: cannot read the file ({exc.strerror})") from None
        if magic.startswith(b"PMTiles"):
            self._file: BinaryIO | None = path.open("rb")
            self._reader: Reader | None = Reader(MmapSource(self._file))
            self._db: sqlite3.Connection | None = None
            self.info = self._pmtiles_info()
        elif magic.startswith(b"SQLite format 3"):
            self._file, self._reader = None, None
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                       check_same_thread=False)  # fmt: skip
            self._lock = threading.Lock()  # one connection shared by the threadpool
            self.info = self._mbtiles_info()
        else:
            raise GeointError(f"--basemap {path}: expected an MBTiles or PMTiles file")

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at XYZ `z/x/y`, or None when the file has none there."""
        if not (self.info.min_zoom <= z <= self.info.max_zoom and 0 <= x < 2**z and 0 <= y < 2**z):
            return None
        if self._reader is not None:
            data = self._reader.get(z, x, y)
            return bytes(data) if data else None
        assert self._db is not None
        with self._lock:
            row = self._db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                (z, x, 2**z - 1 - y),  # MBTiles rows count from the south (TMS)
            ).fetchone()
        return bytes(row[0]) if row else None

    def encoding(self, data: bytes) -> str | None:
        """The Content-Encoding a tile is stored with (MBTiles vector tiles are usually gzip)."""
        if self.info.encoding is not None:
            return self.info.encoding
        return "gzip" if self.info.format == "pbf" and data[:2] == b"\x1f\x8b" else None

    def close(self) -> None:
        """Release the file."""
        if self._db is not None:
            self._db.close()
        if self._file is not None:
            self._file.close()

    def _pmtiles_info(self) -> BasemapInfo:
        assert self._reader is not None
        header = self._reader.header()
        kind = _PMTILES_TYPES.get(header["tile_type"])
        if kind is None:
            raise GeointError(
                f"--basemap {self.path}: tile type {header['tile_type'].name} is not served; "
                f"expected {', '.join(FORMATS)}"
            )
        metadata = self._reader.metadata()
        return BasemapInfo(
            name=str(metadata.get("name") or self.path.stem),
            format=kind,
            min_zoom=header["min_zoom"],
            max_zoom=header["max_zoom"],
            attribution=str(metadata.get("attribution") or ""),
            encoding=_ENCODINGS.get(header["tile_compression"]),
        )

    def _mbtiles_info(self) -> BasemapInfo:
        assert self._db is not None
        try:
            metadata = dict(self._db.execute("SELECT name, value FROM metadata").fetchall())
            zooms = self._db.execute(
                "SELECT min(zoom_level), max(zoom_level) FROM tiles"
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise GeointError(f"--basemap {self.path}: not an MBTiles file ({exc})") from None
        kind = {"jpeg": "jpg"}.get(metadata.get("format", "png"), metadata.get("format", "png"))
        if kind not in FORMATS:
            raise GeointError(
                f"--basemap {self.path}: metadata format {kind!r}; expected {', '.join(FORMATS)}"
            )
        return BasemapInfo(
            name=str(metadata.get("name") or self.path.stem),
            format=kind,
            min_zoom=int(metadata.get("minzoom", zooms[0] or 0)),
            max_zoom=int(metadata.get("maxzoom", zooms[1] or 0)),
            attribution=str(metadata.get("attribution") or ""),
        )

"""Seizure photos in the workspace: files content-addressed under ``photos/``, rows in SQL.

A photo is ``photos/ab/<sha256>.<ext>`` (``ab``: the digest's first two characters, so no
folder grows past a few hundred files) and its thumbnail ``<sha256>.thumb.jpg`` beside it,
each written once and atomically. The same content attached twice to one seizure, or an upload
resent with its client id, is one row (the database's unique constraints decide).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from geoint.atomic import write_bytes
from geoint.store.tables import seizure_photos, seizures
from geoint.store.workspace import Workspace

PHOTOS_DIR = "photos"
THUMBNAIL_SUFFIX = ".thumb.jpg"
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


@dataclass(frozen=True)
class StoredPhoto:
    """One photo row."""

    id: int
    seizure_id: str
    sha256: str
    media_type: str
    width: int
    height: int
    bytes: int
    exif_lat: float | None
    exif_lon: float | None
    client_id: str | None
    uploaded_by: str
    uploaded_at: datetime


def photo_path(root: Path, sha256: str, media_type: str) -> Path:
    """Where a photo's content lives in the workspace at `root`."""
    return root / PHOTOS_DIR / sha256[:2] / f"{sha256}.{EXTENSIONS[media_type]}"


def thumbnail_path(root: Path, sha256: str) -> Path:
    """Where a photo's thumbnail lives."""
    return root / PHOTOS_DIR / sha256[:2] / f"{sha256}{THUMBNAIL_SUFFIX}"


class PhotoStore:
    """The photos of a workspace's seizures."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def seizure_position(self, seizure_id: str) -> tuple[float, float, str] | None:
        """(lat, lon, position precision) of a stored seizure, None if there is none."""
        query = sa.select(seizures.c.lat, seizures.c.lon, seizures.c.position_precision).where(
            seizures.c.seizure_id == seizure_id
        )
        with self.workspace.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else (row[0], row[1], row[2])

    def add(
        self,
        seizure_id: str,
        content: bytes,
        thumbnail: bytes,
        described: Mapping[str, Any],
        uploaded_by: str,
        client_id: str | None,
    ) -> tuple[StoredPhoto, bool]:
        """Store a photo of a seizure; return its row and whether it is new.

        `described` holds ``sha256, media_type, width, height, exif_lat, exif_lon``. Files are
        written before the row (a row never points at a missing file; an orphan file left by a
        failed insert is the same content a retry writes again).
        """
        existing = self._existing(seizure_id, described["sha256"], client_id)
        if existing is not None:
            return existing, False
        root = self.workspace.root
        _write_once(content, photo_path(root, described["sha256"], described["media_type"]))
        _write_once(thumbnail, thumbnail_path(root, described["sha256"]))  # once per content
        row = {
            **{k: described[k] for k in ("sha256", "media_type", "width", "height")},
            "exif_lat": described.get("exif_lat"),
            "exif_lon": described.get("exif_lon"),
            "seizure_id": seizure_id,
            "bytes": len(content),
            "client_id": client_id,
            "uploaded_by": uploaded_by,
            "uploaded_at": datetime.now(UTC),
        }
        try:
            with self.workspace.engine.begin() as conn:
                conn.execute(seizure_photos.insert().values(**row))
        except sa.exc.IntegrityError:  # a resend racing this one stored it first
            existing = self._existing(seizure_id, described["sha256"], client_id)
            if existing is None:
                raise
            return existing, False
        stored = self._existing(seizure_id, described["sha256"], client_id)
        assert stored is not None
        return stored, True

    def version(self) -> tuple[int, int | None]:
        """Row count and largest id: they change whenever a photo is added or removed."""
        query = sa.select(sa.func.count(), sa.func.max(seizure_photos.c.id))
        with self.workspace.engine.connect() as conn:
            count, last = conn.execute(query).one()
        return count, last

    def get(self, photo_id: int) -> StoredPhoto | None:
        """One photo row by id."""
        return next(iter(self._select(seizure_photos.c.id == photo_id)), None)

    def of_seizures(self, seizure_ids: Sequence[str]) -> dict[str, list[StoredPhoto]]:
        """The photos of each of these seizures, oldest first."""
        found: dict[str, list[StoredPhoto]] = {}
        if seizure_ids:
            for photo in self._select(seizure_photos.c.seizure_id.in_(list(seizure_ids))):
                found.setdefault(photo.seizure_id, []).append(photo)
        return found

    def _existing(self, seizure_id: str, sha256: str, client_id: str | None) -> StoredPhoto | None:
        same = sa.and_(seizure_photos.c.seizure_id == seizure_id, seizure_photos.c.sha256 == sha256)
        if client_id is not None:
            same = sa.or_(same, seizure_photos.c.client_id == client_id)
        return next(iter(self._select(same)), None)

    def _select(self, where: sa.ColumnElement[bool]) -> list[StoredPhoto]:
        query = sa.select(seizure_photos).where(where).order_by(seizure_photos.c.id)
        with self.workspace.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            StoredPhoto(**{**row, "uploaded_at": row["uploaded_at"].replace(tzinfo=UTC)})
            for row in rows
        ]


def _write_once(content: bytes, target: Path) -> None:
    """Write content-addressed bytes unless they are there; a writer racing with the same
    bytes may move its file in first (then this one's temporary file is gone)."""
    if target.exists():
        return
    try:
        write_bytes(content, target)
    except FileNotFoundError:
        if not target.exists():
            raise

"""What the service opens once at startup and every route shares (lifespan state)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl
from fastapi import Request

from geoint.alerts.store import AlertStore
from geoint.api.background import BatchAnalysis, CellRefresh, GroupCommit
from geoint.api.compression import GzipVariants
from geoint.api.read_threads import ReadThreads
from geoint.api.settings import ApiSettings
from geoint.layers import Region, RegionIndex
from geoint.pipeline.ingest import Position, Post
from geoint.schema import IngestReport
from geoint.serve.basemap import TileSource
from geoint.serve.heatmap import Heatmaps
from geoint.store.groups import GroupStore
from geoint.store.keys import KeyStore
from geoint.store.workspace import Workspace
from geoint.vocabularies import SHIPPED, Vocabularies

if TYPE_CHECKING:
    from geoint.api.collections import Collection


@dataclass
class Services:
    """The workspace, key, alert and group stores, region, spatial index, gazetteer, collections."""

    settings: ApiSettings
    workspace: Workspace
    keys: KeyStore
    alerts: AlertStore
    region: Region
    index: RegionIndex
    gazetteer: pl.DataFrame
    collections: dict[str, Collection]
    heatmaps: Heatmaps  # the cell tables, read once, as cached GeoJSON and vector tiles
    # Threads computing responses that missed their cache (heatmaps, tiles, alert pages): the
    # work is short and mostly Python, so more threads only contend for the interpreter lock.
    # They and the page builders run at a lower CPU priority (api/read_threads.py).
    compute: ReadThreads
    pages: ReadThreads  # threads building map pages and their days' layers (api/map.py)
    gzip: GzipVariants  # gzip forms of the cached response bodies
    # Incremental analyses of posted batches and the cell updates after them: one at a time,
    # bursts coalesced, spaced by the alert settings (api/ingest.py).
    batch_analysis: BatchAnalysis
    cell_refresh: CellRefresh
    # Small posts of pings (OsmAnd positions, short bodies) stored together (api/ingest.py).
    posts: GroupCommit[Post | Position, IngestReport]
    audit_log: GroupCommit[dict[str, Any], None]  # audit entries, written in groups alike
    groups: GroupStore  # closed user groups and their shares (api/groups.py)
    # Ingest reserves ids and recovers unfinished batches: one at a time per process.
    ingest_lock: threading.Lock = field(default_factory=threading.Lock)
    basemap: TileSource | None = None  # ``geoint serve --basemap FILE``
    # the seizure vocabularies, extended by the region's vocabularies.toml (docs/field.md)
    vocabularies: Vocabularies = SHIPPED


def get_services(request: Request) -> Services:
    """The services of the app serving this request."""
    return request.state.services


async def request_services(request: Request) -> Services:
    """`get_services` as a dependency (async: FastAPI runs a plain `def` one on the thread
    pool, a hop per request)."""
    return get_services(request)

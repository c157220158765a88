"""The service's work in child processes: groups of posts stored, incremental analyses run.

A service process holds Python's interpreter lock for its event loop and readers; a group
commit or an analysis in a thread of it waits for that lock at each of its engine calls, and
holds it against the requests in turn (docs/ingest.md, "Session 7": under issue 18's mixed
load a group of 8 posts took 176 ms for 21 ms of its own CPU in a thread). So, unless
``api.child_processes`` is false, each service process has two children of its own
(`ChildProcess`), shared by the workspaces it serves:

- `STORE_PROCESS` stores the groups of small posts (`ingest_ping_posts`), at normal priority;
- `ANALYSIS_PROCESS` runs the incremental analyses and cell updates at the lowest CPU
  priority: on Linux in the ``SCHED_IDLE`` class (elsewhere nice +10), so that analysis never
  delays an acknowledgement. It runs on the CPU time posts and reads leave, which a service
  that is not saturated always has; under a sustained full load its analyses wait, and catch
  up (coalesced) once the load eases (docs/ingest.md, "Session 11": under issue 18's mixed
  load, nice +10 still cost the device posts' p95 ~15 %).

Each child keeps the workspaces (and regions) it was called for open, a few at most; a service
closes its own at shutdown (`close_child_workspaces`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import polars as pl

from geoint.api.background import ChildProcess
from geoint.api.settings import ApiSettings
from geoint.layers import Region, RegionIndex
from geoint.pipeline.incremental import analyze_batches, update_cells
from geoint.pipeline.ingest import Position, Post, ingest_ping_posts
from geoint.schema import IngestReport
from geoint.serve.caches import file_version
from geoint.store.workspace import Workspace

STORE_PROCESS = ChildProcess("storing posts")
ANALYSIS_PROCESS = ChildProcess("analysing pings", nice=10, idle=True)
_KEPT = 4  # workspaces (and regions) a child keeps open: one per service, usually


class _Kept:
    """In a child: values opened on first use by key, the least recently used closed past
    `_KEPT`."""

    def __init__(self, close: Callable[[Any], object] = lambda _value: None) -> None:
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._close = close

    def get(self, key: Hashable, open_: Callable[[], Any]) -> Any:
        value = self._values.pop(key) if key in self._values else open_()
        self._values[key] = value
        while len(self._values) > _KEPT:
            self._close(self._values.popitem(last=False)[1])
        return value

    def forget(self, key: Hashable) -> None:
        if key in self._values:
            self._close(self._values.pop(key))


_WORKSPACES = _Kept(Workspace.close)
_GROUNDS = _Kept()


def _workspace(settings: ApiSettings) -> Workspace:
    key = (str(settings.workspace), settings.database_url)
    return _WORKSPACES.get(key, lambda: Workspace(settings.workspace, settings.database_url))


def _ground(settings: ApiSettings) -> RegionIndex:
    """The region's index, built again if a file of the region folder changed."""
    files = sorted(p for p in Path(settings.region).rglob("*") if p.is_file())
    key = (str(settings.region), tuple((str(p), file_version(p)) for p in files))
    return _GROUNDS.get(key, lambda: RegionIndex(Region.load(settings.region)))


def store_posts_in_child(settings: ApiSettings, posts: list[Post | Position]) -> list[IngestReport]:
    """`ingest_ping_posts` in `STORE_PROCESS`."""
    return STORE_PROCESS.call(_store_posts, settings, posts)


def analyse_in_child(
    settings: ApiSettings, refresh_cells: Callable[[pl.DataFrame], object], batches: list[int]
) -> dict[str, Any]:
    """`analyze_batches` in `ANALYSIS_PROCESS`; the changed vehicle-days go to
    `refresh_cells` here."""
    report, days = ANALYSIS_PROCESS.call(_analyse_batches, settings, batches)
    if days is not None:
        refresh_cells(days)
    return report


def update_cells_in_child(settings: ApiSettings, days: pl.DataFrame) -> dict[str, Any]:
    """`update_cells` in `ANALYSIS_PROCESS`."""
    return ANALYSIS_PROCESS.call(_update_cells, settings, days)


def start_store_process(settings: ApiSettings) -> None:
    """Start `STORE_PROCESS` with the service's workspace open, so that the first post after a
    start does not wait seconds for a new interpreter (a device's client may time out)."""
    STORE_PROCESS.call(_open_workspace, settings)


def close_child_workspaces(settings: ApiSettings) -> None:
    """Close the children's connections to the service's workspace (it stopped)."""
    for child in (STORE_PROCESS, ANALYSIS_PROCESS):
        if child.started():
            child.call(_forget_workspace, settings)


def _store_posts(settings: ApiSettings, posts: list[Post | Position]) -> list[IngestReport]:
    return ingest_ping_posts(_workspace(settings), posts, settings)


def _analyse_batches(
    settings: ApiSettings, batches: list[int]
) -> tuple[dict[str, Any], pl.DataFrame | None]:
    changed: list[pl.DataFrame] = []
    report = analyze_batches(
        _workspace(settings), _ground(settings), settings, batches, refresh_cells=changed.append
    )
    return report, pl.concat(changed) if changed else None


def _update_cells(settings: ApiSettings, days: pl.DataFrame) -> dict[str, Any]:
    return update_cells(_workspace(settings), _ground(settings), settings, days)


def _open_workspace(settings: ApiSettings) -> None:
    _workspace(settings)


def _forget_workspace(settings: ApiSettings) -> None:
    _WORKSPACES.forget((str(settings.workspace), settings.database_url))

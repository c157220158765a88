"""The service's incremental analyses, in a process of their own.

Posted pings are analysed in the background: their vehicles' events and alerts
(`geoint.pipeline.incremental.analyze_batches`), then the cell tables and cell rules of the
vehicle-days they changed (`update_cells`). That work is mostly Python; in the server's own
process it took the interpreter lock from the requests and from the group commit (measured in
docs/ingest.md: a third of the server's CPU per device post). So each server process has one
`AnalysisProcess`, whose child process:

- starts at the first `wake` (a group or an ingest stored pings, or the service starts with
  batches pending); a `wake` then only sets a flag, never blocking the caller; it also looks
  at the pending-analysis queue every ``alerts.incremental_events_interval_s`` unwoken (so the
  posts of other worker processes are seen too);
- analyses every pending batch together, at most once per that interval, under the
  workspace's ``analysis`` lock: of several server processes, one analyses at a time, and the
  queue is the workspace's, so nothing is analysed twice or left out. A batch leaves the queue
  once its events and alerts are stored: a process killed mid-run leaves it queued, and the
  next run (or the next start) analyses it;
- updates the cell tables in a thread of its own, at most once every
  ``alerts.incremental_cells_interval_s`` (its wait holds no event analysis back);
- stops when the service stops, and on its own when its server process is gone.

Readers see the results as they see any other process's writes: alerts and events through the
workspace, the cell tables by their files (`geoint.serve.cell_views`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event

from geoint.api.background import CellRefresh
from geoint.api.settings import ApiSettings
from geoint.layers import Region, RegionIndex
from geoint.pipeline.incremental import analyze_batches, update_cells
from geoint.store.workspace import Workspace

log = logging.getLogger("geoint.api")
STOP_TIMEOUT_S = 120  # a run under way when the service stops is let finish this long
RETRY_AFTER_S = 60  # a failed run is tried again this much later (or at the next start)
PARENT_CHECK_S = 1.0  # how often the child looks whether its server process is still there


class AnalysisProcess:
    """The incremental analyses of one server process, run by a child process."""

    def __init__(self, settings: ApiSettings) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._woken, self._stopping = context.Event(), context.Event()
        self._starting = threading.Lock()
        self._process: BaseProcess = context.Process(
            target=analyse_until_stopped,
            args=(settings, self._woken, self._stopping, os.getpid()),
            name="geoint-analysis",
            daemon=True,
        )

    def wake(self) -> None:
        """Pings were stored (or are pending since a stop): analyse soon. Starts the child the
        first time; then only sets a flag the child reads, never blocking the caller."""
        if self._process.pid is None:
            with self._starting:
                if self._process.pid is None:
                    self._process.start()
        self._woken.set()

    def close(self) -> None:
        """Stop the child once its run under way, if any, has finished."""
        if self._process.pid is None:
            return
        self._stopping.set()
        self._woken.set()
        self._process.join(STOP_TIMEOUT_S)
        if self._process.is_alive():
            log.error("the analysis process did not stop in %d s; terminated", STOP_TIMEOUT_S)
            self._process.terminate()
            self._process.join()


def analyse_until_stopped(
    settings: ApiSettings, woken: Event, stopping: Event, parent: int
) -> None:
    """The child's life: analyse pending batches when woken or every interval, until told to
    stop or until the server process `parent` is gone (looked at every `PARENT_CHECK_S`)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: analysis: %(message)s")
    analyses = PendingAnalyses.open(settings, wait=stopping.wait)
    poll = min(max(analyses.interval_s, 0.05), PARENT_CHECK_S)
    wait = 0.0  # batches may be pending at the start (catch-up)
    try:
        while not stopping.is_set() and os.getppid() == parent:
            woken.wait(wait)
            woken.clear()
            too_soon = analyses.run_pending()
            wait = min(too_soon, poll) if too_soon > 0 else poll
    finally:
        analyses.close()  # a cell update waiting for its interval runs now


@dataclass
class PendingAnalyses:
    """The workspace's pending ping batches analysed (events, alerts), then the cells.

    Runs start at least `interval_s` apart (a stream of posts is analysed in fewer, larger
    runs; an alert waits at most that much longer); a call that comes too soon does nothing,
    and the caller comes back. Nothing waits while holding the workspace's analysis turn."""

    workspace: Workspace
    index: RegionIndex
    settings: ApiSettings
    cells: CellRefresh
    clock: Callable[[], float] = time.monotonic
    _updater: threading.Thread | None = field(default=None, init=False)
    _next_run: float = field(default=-float("inf"), init=False)

    @classmethod
    def open(cls, settings: ApiSettings, wait: Callable[[float], object]) -> PendingAnalyses:
        """Open the workspace and the region's index; the cell updates space their runs with
        `wait` (seconds), which returns early when the service stops."""
        return cls(
            Workspace(settings.workspace, settings.database_url),
            RegionIndex(Region.load(settings.region)),
            settings,
            CellRefresh(settings.alerts.incremental_cells_interval_s, sleep=wait),
        )

    @property
    def interval_s(self) -> float:
        """The least time between the starts of two runs."""
        return self.settings.alerts.incremental_events_interval_s

    def run_pending(self) -> float:
        """Analyse the pending batches, if it is time and this process has the analysis turn;
        then let the cell thread update the vehicle-days they changed (it waits for its
        interval). After a failed run the batches stay queued and are tried again
        `RETRY_AFTER_S` later. Return how long until a run may start (0: now)."""
        too_soon = self._next_run - self.clock()
        if too_soon <= 0:
            try:
                self._analyse_pending()
            except Exception:  # the service stays up; the batches stay queued
                log.exception("analysing the posted ping batches failed; retrying later")
                self._next_run = self.clock() + RETRY_AFTER_S
        if self.cells.has_pending() and (self._updater is None or not self._updater.is_alive()):
            self._updater = threading.Thread(target=self._update_cells, name="cells")
            self._updater.start()
        return max(too_soon, 0.0)

    def close(self) -> None:
        """Wait for the cell update under way or waiting, then close the workspace."""
        if self._updater is not None:
            self._updater.join()
        self.workspace.close()

    def _analyse_pending(self) -> None:
        with self.workspace.first_of_processes("analysis") as turn:
            pending = self.workspace.pending_batches() if turn else []
            if pending:
                self._next_run = self.clock() + self.interval_s
                analyze_batches(
                    self.workspace, self.index, self.settings, pending, refresh_cells=self.cells.add
                )

    def _update_cells(self) -> None:
        try:
            self.cells.drain(partial(update_cells, self.workspace, self.index, self.settings))
        except Exception:  # the next update covers these vehicle-days again
            log.exception("updating the cell tables failed")

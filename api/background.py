"""The service's background work: incremental analyses and cell updates, coalesced.

Devices post one position per request; each post is a batch. `BatchAnalysis` and `CellRefresh`
run the incremental stages of `geoint.pipeline.incremental` one at a time per server, merging
what is posted during a run into the next one (docs/alerts.md, "Incremental processing").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import polars as pl

T = TypeVar("T")


class Coalescer(Generic[T]):
    """Work done one run at a time; work requested during a run makes exactly one more run.

    `request` queues its item; if no run is under way, the caller runs (its `run`) until
    nothing is pending, each run covering every item queued before it started (`merge`d into
    one); else it returns at once and the running caller picks the item up. Runs start at
    least `min_interval_s` apart: the caller waits, and items queued meanwhile join the run.
    A failed run's items are dropped (the next run or a full analysis covers them again) and
    the error is raised; items queued meanwhile wait for the next request.
    """

    def __init__(
        self,
        merge: Callable[[list[T]], T],
        min_interval_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self._merge = merge
        self._min_interval_s = min_interval_s
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._pending: list[T] = []
        self._running = False
        self._last_start = -float("inf")

    def request(self, item: T, run: Callable[[T], object]) -> bool:
        """Queue `item` and `drain`; return whether this call ran the work itself."""
        self.add(item)
        return self.drain(run)

    def add(self, item: T) -> None:
        """Queue `item` for the next run (a later `drain` runs it)."""
        with self._lock:
            self._pending.append(item)

    def drain(self, run: Callable[[T], object]) -> bool:
        """Run until nothing is pending, unless a run is under way; whether this call ran."""
        ran = False
        while True:
            with self._lock:
                if self._running or not self._pending:
                    return ran
                self._running = True
            ran = True
            try:
                while self._has_pending():
                    wait = self._last_start + self._min_interval_s - self._clock()
                    if wait > 0:
                        self._sleep(wait)  # what is queued meanwhile joins this run
                    queued = self._take()
                    self._last_start = self._clock()
                    run(queued)
            finally:
                with self._lock:
                    self._running = False
            # an item added after the last take but before the flag was lowered runs now

    def _has_pending(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def _take(self) -> T:
        with self._lock:
            merged = self._merge(self._pending)
            self._pending = []
            return merged


class CellRefresh(Coalescer[pl.DataFrame]):
    """Coalesced cell updates of (vehicle, date) pairs (`changed_days`, `update_cells` of
    `geoint.pipeline.incremental`), at most one every `min_interval_s`: each update rewrites
    the cell tables, which the service then reloads and whose cached heatmaps and tiles it
    recomputes."""

    def __init__(self, min_interval_s: float = 0.0, **timing: Any) -> None:
        super().__init__(
            lambda days: pl.concat(days).unique().sort("vehicle", "date"), min_interval_s, **timing
        )


class BatchAnalysis(Coalescer[list[int]]):
    """Coalesced incremental analyses of ping batches (`geoint.pipeline.incremental.
    analyze_batches`): devices posting one position each would otherwise run one analysis,
    and rewrite the events, per position.
    Runs start at least `min_interval_s` apart, so that a stream of posts is analysed in
    fewer, larger runs (an alert waits at most that much longer)."""

    def __init__(self, min_interval_s: float = 0.0, **timing: Any) -> None:
        super().__init__(
            lambda batches: sorted({b for group in batches for b in group}),
            min_interval_s,
            **timing,
        )

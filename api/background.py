"""The service's background work: posts stored in groups, incremental analyses and cell
updates, coalesced.

Devices post one position per request; `GroupCommit` stores the posts arriving together in one
transaction (docs/ingest.md), in a `ChildProcess` by default. `BatchAnalysis` and `CellRefresh`
run the incremental stages of `geoint.pipeline.incremental` one at a time per server, merging
what is posted during a run into the next one (docs/alerts.md, "Incremental processing").
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

import polars as pl

from geoint.errors import WorkspaceError

T = TypeVar("T")
R = TypeVar("R")
_CLOSED = object()  # queued by `GroupCommit.close`, after every item


class _Slot(Generic[T, R]):
    """One caller's item in a `GroupCommit`; `settle` hands it its group's outcome."""

    __slots__ = ("error", "item", "settle", "value")

    def __init__(self, item: T, settle: Callable[[], object]) -> None:
        self.item, self.settle = item, settle
        self.value: R | None = None
        self.error: BaseException | None = None

    def outcome(self) -> R:
        """The item's result, or its group's error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class GroupCommit(Generic[T, R]):
    """Items of concurrent callers stored together: one `store` call per group (group commit).

    A caller queues its item (`submit` from a thread, `submit_async` from the event loop, which
    holds no thread while it waits) and gets the item's result once its group is stored, or the
    group's error (then nothing of the group was stored). One thread of its own stores the
    groups: it waits `wait_s` for posts to join an item queued alone, takes the queued items
    in order up to `max_size` (by `size`, at least one) and stores them. Items queued while a
    group is stored form the next one, so groups grow with the load, and an item waits for at
    most one group before its own.
    """

    def __init__(
        self,
        store: Callable[[list[T]], list[R]],
        wait_s: float = 0.0,
        max_size: int = 1_000,
        size: Callable[[T], int] = lambda _item: 1,
    ) -> None:
        self._store, self._wait_s, self._max_size, self._size = store, wait_s, max_size, size
        # callers only put (never wait on a lock the storing thread holds: with the GIL, such a
        # wait can cost the event loop a switch interval per post under load)
        self._queue: queue.SimpleQueue[_Slot[T, R] | object] = queue.SimpleQueue()
        self._entry = threading.Lock()  # callers' lock: the closed flag and the thread's start
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, item: T) -> R:
        """Store `item` with whatever is queued with it; its result once stored (blocks)."""
        done = threading.Event()
        slot: _Slot[T, R] = _Slot(item, done.set)
        self._enqueue(slot)
        done.wait()
        return slot.outcome()

    async def submit_async(self, item: T) -> R:
        """`submit` for the event loop: awaits the group without holding a worker thread."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            with suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(lambda: future.done() or future.set_result(None))

        slot: _Slot[T, R] = _Slot(item, settle)
        self._enqueue(slot)
        await future
        return slot.outcome()

    def close(self) -> None:
        """Store what is queued, then stop the thread (at the service's shutdown)."""
        with self._entry:
            self._closed = True
            self._queue.put(_CLOSED)  # after every item: nothing is queued once closed
            thread = self._thread
        if thread is not None:
            thread.join()

    def _enqueue(self, slot: _Slot[T, R]) -> None:
        with self._entry:
            if self._closed:
                raise RuntimeError("the service is stopping: posts are no longer stored")
            self._queue.put(slot)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        left: _Slot[T, R] | object | None = None  # what the last group could not take
        while True:
            first = left if left is not None else self._queue.get()
            if first is _CLOSED:
                return
            if left is None and self._wait_s > 0 and self._queue.empty():
                time.sleep(self._wait_s)  # alone: posts arriving meanwhile join this group
            group, left = self._take(first)  # type: ignore[arg-type]
            self._store_group(group)

    def _take(self, first: _Slot[T, R]) -> tuple[list[_Slot[T, R]], _Slot[T, R] | object | None]:
        """`first` and the items queued after it, in order, up to `max_size`; and the next item
        (or the close) if it did not fit, else None."""
        group, total = [first], self._size(first.item)
        while True:
            try:
                slot = self._queue.get_nowait()
            except queue.Empty:
                return group, None
            if slot is _CLOSED:
                return group, slot
            size = self._size(slot.item)  # type: ignore[union-attr]
            if total + size > self._max_size:
                return group, slot
            total += size
            group.append(slot)  # type: ignore[arg-type]

    def _store_group(self, group: list[_Slot[T, R]]) -> None:
        try:
            results = self._store([slot.item for slot in group])
            for slot, value in zip(group, results, strict=True):
                slot.value = value
        except BaseException as exc:  # every caller of the group learns it failed
            for slot in group:
                slot.error = exc
        for slot in group:
            slot.settle()


class ChildProcess:
    """Calls run one at a time in a child process, away from this process's interpreter lock.

    The child is spawned (a fork would copy locks this process's threads hold) on the first
    call, niced by `nice` (and, with `idle`, in Linux's ``SCHED_IDLE`` class), and serves
    every later one over a pipe: the calling thread sends the call and waits for the answer,
    holding no lock of the interpreter meanwhile. The child exits once this process has gone,
    however it ended (its end of the pipe closes). If the child dies, the call under way fails
    with `WorkspaceError` (the service answers 503: retry) and the next call starts a new
    child.
    """

    def __init__(self, work: str, nice: int = 0, idle: bool = False) -> None:
        self._work = work  # what the child does, for the error ("storing posts")
        self._nice = nice  # added to the child's CPU niceness (lower priority)
        self._idle = idle  # Linux: the child only takes CPU time nothing else wants
        self._lock = threading.Lock()  # one call at a time
        self._child: tuple[BaseProcess, Connection] | None = None

    def call(self, function: Callable[..., R], *args: Any) -> R:
        """`function(*args)` in the child (both picklable); its result, or its error."""
        with self._lock:
            if self._child is None:
                self._child = self._start()
            connection = self._child[1]
            try:
                connection.send((function, args))
                done, value = connection.recv()
            except (EOFError, OSError):
                self._stop()
                raise WorkspaceError(
                    f"the process {self._work} stopped before it answered; send the request again"
                ) from None
        if not done:
            raise value
        return value

    def started(self) -> bool:
        """Whether a child is running."""
        with self._lock:
            return self._child is not None

    def close(self) -> None:
        """Stop the child once its call under way returns (a later call starts another)."""
        with self._lock:
            self._stop()

    def _start(self) -> tuple[BaseProcess, Connection]:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve, args=(theirs, self._nice, self._idle), name=self._work, daemon=True
        )
        process.start()
        theirs.close()  # the child's end lives in the child only: its death is an EOF here
        return process, ours

    def _stop(self) -> None:
        if self._child is not None:
            process, connection = self._child
            self._child = None
            connection.close()  # the child reads the end of its input and exits
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


def _serve(connection: Connection, nice: int, idle: bool) -> None:
    """The child of a `ChildProcess`: answer calls until its parent's end of the pipe closes."""
    os.nice(nice)
    if idle and hasattr(os, "SCHED_IDLE"):  # Linux; the threads it starts inherit the class
        with suppress(OSError):  # a sandbox refusing it: the niceness alone, as elsewhere
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    while True:
        try:
            function, args = connection.recv()
        except EOFError:
            return
        try:
            answer = (True, function(*args))
        except Exception as exc:  # the caller raises it
            answer = (False, exc)
        try:
            connection.send(answer)
        except Exception as exc:  # an answer that does not pickle
            connection.send((False, WorkspaceError(f"{type(exc).__name__}: {exc}")))


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

    def busy(self) -> bool:
        """Whether a run is under way (it takes what is queued before it ends)."""
        with self._lock:
            return self._running

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

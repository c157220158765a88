"""Threads that compute read responses (heatmaps, tiles, alert pages, map pages) at a lower CPU
priority than the rest of the service.

On a loaded machine the work competes for cores: the event loop, the process storing device
posts, the analysis and the reads. A device waits for its post (and, timed out, sends it again),
while a map a little slower is still a map. So the threads that build missing responses run
at `ApiSettings.read_nice` (Linux sets a niceness per thread): when the cores are free they run
at full speed; when posts want them, posts go first. Under issue 18's mixed load (docs/ingest.md,
"Session 12") that cut the device posts' p95 by 13–18 %, for map days ~1.7× slower to build
under that load (alone, reads run as fast as before).

Elsewhere than Linux (no per-thread niceness) the threads run at the service's priority.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import TypeVar

R = TypeVar("R")


class ReadThreads:
    """At most `threads` calls at once, each in a thread `nice` steps below the service."""

    def __init__(self, name: str, threads: int, nice: int) -> None:
        self._pool = ThreadPoolExecutor(
            threads, thread_name_prefix=name, initializer=_lower_priority, initargs=(nice,)
        )

    async def run(self, function: Callable[..., R], *args: object) -> R:
        """`function(*args)` in one of the threads; its result (or its exception)."""
        return await asyncio.wrap_future(self._pool.submit(function, *args))

    def close(self) -> None:
        """Let running calls finish; start no queued one."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _lower_priority(nice: int) -> None:
    """Add `nice` to the calling thread's niceness (Linux: niceness is per thread)."""
    if not nice or sys.platform != "linux":  # elsewhere a thread id is no process id
        return
    thread = threading.get_native_id()
    with suppress(OSError):  # a sandbox refusing it: the service's priority
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + nice)

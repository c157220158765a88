"""`ReadThreads`: read responses are computed in threads at a lower CPU priority (Linux), at
most so many at once, their results and errors handed back to the awaiting request."""

import asyncio
import os
import sys
import threading
import time

import pytest

from geoint.api.read_threads import ReadThreads

PER_THREAD_NICENESS = sys.platform == "linux"


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _fail() -> None:
    raise ValueError("no such cell")


@pytest.mark.skipif(not PER_THREAD_NICENESS, reason="per-thread niceness is Linux's")
def test_calls_run_niced_and_the_callers_thread_keeps_its_priority():
    before = _niceness()
    threads = ReadThreads("testing", 2, nice=7)
    try:
        niced = asyncio.run(threads.run(_niceness))
    finally:
        threads.close()
    assert niced == min(before + 7, 19)
    assert _niceness() == before  # the event loop's thread is not touched


def test_results_and_errors_reach_the_caller():
    threads = ReadThreads("testing", 1, nice=0)

    async def calls() -> tuple[int, BaseException]:
        total = await threads.run(sum, [1, 2, 3])
        with pytest.raises(ValueError, match="no such cell") as failed:
            await threads.run(_fail)
        return total, failed.value

    try:
        total, error = asyncio.run(calls())
    finally:
        threads.close()
    assert total == 6
    assert isinstance(error, ValueError)


def test_at_most_threads_calls_run_at_once():
    threads = ReadThreads("testing", 2, nice=0)
    running, most = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    async def calls() -> None:
        await asyncio.gather(*(threads.run(work) for _ in range(6)))

    try:
        asyncio.run(calls())
    finally:
        threads.close()
    assert most == 2

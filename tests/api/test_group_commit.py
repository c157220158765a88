"""`GroupCommit`: items submitted together are stored in one call, each caller gets its own
result (or its group's error), and groups grow with the load up to their size limit."""

import asyncio
import threading
import time

import pytest

from geoint.api.background import GroupCommit


class Store:
    """Records each group; the first call waits until released, so later items pile up."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, items: list[int]) -> list[int]:
        self.groups.append(list(items))
        self.entered.set()
        assert self.release.wait(60)
        if -1 in items:
            raise OSError("disk full")
        return [item * 10 for item in items]


def _submit_all(commit: GroupCommit, items: list[int]) -> tuple[list[threading.Thread], dict]:
    outcomes: dict[int, object] = {}

    def submit(item: int) -> None:
        try:
            outcomes[item] = commit.submit(item)
        except OSError as exc:
            outcomes[item] = exc

    threads = [threading.Thread(target=submit, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return threads, outcomes


def _wait_queued(commit: GroupCommit, count: int) -> None:
    deadline = time.monotonic() + 60
    while commit._queue.qsize() < count:
        assert time.monotonic() < deadline, f"{count} items never queued"
        time.sleep(0.01)


def test_items_queued_during_a_group_form_the_next_one_and_get_their_own_results():
    store = Store()
    commit = GroupCommit(store, max_size=3)
    first, outcomes = _submit_all(commit, [1])
    assert store.entered.wait(60)  # the first group is being stored: the rest queue up
    later, more = _submit_all(commit, [2, 3, 4, 5])
    _wait_queued(commit, 4)
    store.release.set()
    for thread in [*first, *later]:
        thread.join(60)
    commit.close()
    assert store.groups[0] == [1]
    assert len(store.groups[1]) == 3  # at most max_size items a group
    assert sorted(x for group in store.groups[1:] for x in group) == [2, 3, 4, 5]
    assert {**outcomes, **more} == {1: 10, 2: 20, 3: 30, 4: 40, 5: 50}


def test_a_failed_group_fails_each_of_its_callers_and_not_the_next_group():
    store = Store()
    commit = GroupCommit(store)
    first, outcomes = _submit_all(commit, [7])
    assert store.entered.wait(60)
    failing, more = _submit_all(commit, [-1, 8])
    _wait_queued(commit, 2)
    store.release.set()
    for thread in [*first, *failing]:
        thread.join(60)
    assert outcomes == {7: 70}
    assert all(isinstance(more[item], OSError) for item in (-1, 8))
    assert commit.submit(9) == 90  # the next group is stored
    commit.close()
    with pytest.raises(RuntimeError, match="stopping"):
        commit.submit(10)


def test_submissions_from_the_event_loop_wait_without_threads():
    store = Store()
    store.release.set()
    commit = GroupCommit(store, wait_s=0.05)  # the group waits for the others to join

    async def many() -> list[int]:
        return await asyncio.gather(*(commit.submit_async(i) for i in range(50)))

    assert asyncio.run(many()) == [i * 10 for i in range(50)]
    commit.close()
    assert sorted(x for group in store.groups for x in group) == list(range(50))
    assert len(store.groups) < 50  # stored together, not one by one

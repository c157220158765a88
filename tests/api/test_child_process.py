"""`ChildProcess`: calls run in one long-lived child process; its errors arrive whole, a child
that dies fails only the call under way, and a child never outlives its parent."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geoint.api.background import ChildProcess
from geoint.errors import (
    DatabaseUnavailableError,
    InputError,
    QueryError,
    StorageFullError,
    WorkspaceError,
)


def _pid() -> int:
    return os.getpid()


def _raise(error: Exception) -> None:
    raise error


def _die() -> None:
    os._exit(3)


@pytest.fixture
def child():
    process = ChildProcess("testing")
    yield process
    process.close()


def _priority() -> tuple[int, int, int]:
    """The calling thread's scheduling class and niceness, and a new thread's class."""
    import threading

    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(os.sched_getscheduler(0)))
    thread.start()
    thread.join()
    return os.sched_getscheduler(0), os.nice(0), seen[0]


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling classes")
def test_an_idle_child_runs_in_the_idle_class_niced_and_so_do_its_threads():
    idle = ChildProcess("testing", nice=10, idle=True)
    plain = ChildProcess("testing", nice=10)
    niced = min(os.nice(0) + 10, 19)  # a run already niced stops at the lowest priority
    try:
        assert idle.call(_priority) == (os.SCHED_IDLE, niced, os.SCHED_IDLE)
        assert plain.call(_priority) == (os.SCHED_OTHER, niced, os.SCHED_OTHER)
    finally:
        idle.close()
        plain.close()


def test_calls_run_in_one_child_process_that_stays(child):
    assert not child.started()
    first = child.call(_pid)
    assert child.started()
    assert first != os.getpid()
    assert child.call(_pid) == first


@pytest.mark.parametrize(
    "error",
    [
        InputError("post 3", "a latitude", "lat"),
        QueryError("limit", "at most 500"),
        StorageFullError("no space left on the device"),  # the API's 507
        DatabaseUnavailableError("the database cannot be reached"),  # the API's 503
    ],
)
def test_an_error_in_the_child_arrives_with_its_type_and_fields(child, error):
    with pytest.raises(type(error)) as raised:
        child.call(_raise, error)
    assert str(raised.value) == str(error)
    assert vars(raised.value) == vars(error)


def test_a_child_that_dies_fails_its_call_and_the_next_call_starts_another(child):
    before = child.call(_pid)
    with pytest.raises(WorkspaceError, match="process testing stopped"):
        child.call(_die)
    after = child.call(_pid)
    assert after not in (before, os.getpid())


def test_the_child_exits_when_its_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, signal, sys\n"
        "from geoint.api.background import ChildProcess\n"
        "if __name__ == '__main__':\n"
        "    print(ChildProcess('testing').call(os.getpid), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    parent = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    child = int(parent.stdout)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{child}").exists() and _state(child) != "Z":
        assert time.monotonic() < deadline, f"child {child} outlived its killed parent"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"

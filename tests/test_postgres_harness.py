"""The test harness's PostgreSQL server stops with a run that is terminated (SIGTERM)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

WAITING_TEST = """
import time


def test_waits(postgres):
    print("READY", postgres.folder, flush=True)
    time.sleep(120)
"""


def test_a_terminated_run_stops_its_postgresql_server(tmp_path):
    (tmp_path / "test_waits.py").write_text(WAITING_TEST)
    tests = Path(__file__).parent
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "conftest",
         "--rootdir", str(tmp_path), str(tmp_path / "test_waits.py")],
        stdout=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tests)},
    )  # fmt: skip
    folder = None
    for line in run.stdout:
        if line.startswith("READY"):
            folder = line.split()[1]
            break
    assert folder is not None, "the run did not start its server"
    try:
        assert _servers(folder), "no PostgreSQL server runs in the run's folder"
        run.send_signal(signal.SIGTERM)
        run.communicate(timeout=120)
        assert not _servers(folder)
        assert not Path(folder).exists()
    finally:  # a failure leaves no server behind
        run.kill()
        for server in _servers(folder):
            server.send_signal(signal.SIGQUIT)


def _servers(folder: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if "postgres" in (process.info["name"] or "") and folder in " ".join(
            process.info["cmdline"] or []
        ):
            found.append(process)
    return found

"""Run the real `geoint` command line in a subprocess."""

import subprocess
import sys


def geoint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "geoint", *args], capture_output=True, text=True, timeout=300
    )

"""Run `geoint serve` as a child process on loopback, for benchmarks and integration tests.

It starts the real command line (not an in-process app), so the core imports nothing of the API.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class LocalServer:
    """A `geoint serve` process listening on 127.0.0.1."""

    url: str
    process: subprocess.Popen
    log: Path


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    workspace: Path,
    region: Path,
    log: Path,
    timeout_s: float = 60,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> LocalServer:
    """Start `geoint serve` (with `args`) on a free loopback port; return once /health answers."""
    import httpx2

    port = free_port()
    command = [sys.executable, "-m", "geoint", "serve", "--workspace", str(workspace)]
    command += ["--region", str(region), "--host", "127.0.0.1", "--port", str(port), *args]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    server = LocalServer(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-2000:]}")
        try:
            if httpx2.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        except httpx2.TransportError:
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"server did not answer within {timeout_s} s:\n{log.read_text()[-2000:]}")


def stop_server(server: LocalServer) -> None:
    """Stop the server process (SIGTERM, then SIGKILL after 10 s)."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()

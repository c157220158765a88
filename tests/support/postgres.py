"""A real PostgreSQL server for the test run: `initdb` + `pg_ctl` of the Debian package.

One cluster per test session, in a temporary folder, on a free loopback port; every test that
asks for it gets a fresh database of its own (``CREATE DATABASE``, about 50 ms). `make test`
installs the ``postgresql`` package when it is missing; without it the PostgreSQL variants of
the tests fail with the message below (they never skip silently).

``initdb`` refuses to run as root (and `make test` runs as root): the cluster then belongs to
the ``postgres`` user the package creates, and its commands run through ``runuser``.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import sqlalchemy as sa

from geoint.testing.server import free_port

MISSING = (
    "PostgreSQL's server binaries (initdb, pg_ctl) were not found: install the Debian package "
    "with 'apt-get install -y postgresql' (make test does it)"
)
SERVER_USER = "postgres"  # the Debian package's user: owns the cluster when tests run as root
USER = "geoint"  # the cluster's superuser, trusted on loopback


def server_binaries() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl`` (newest Debian version first)."""
    found = shutil.which("initdb")
    if found and (Path(found).resolve().parent / "pg_ctl").exists():
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise RuntimeError(MISSING)
    return versions[-1].parent


class PostgresCluster:
    """A PostgreSQL server in a temporary folder on 127.0.0.1; `stop` removes it."""

    def __init__(self) -> None:
        self.bin = server_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="geoint-pg-"))
        self.port = free_port()
        self._names = itertools.count(1)
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", SERVER_USER, "--"]
        data = self.folder / "data"
        self._run("initdb", "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")  # fmt: skip
        # a throw-away cluster: durability off, room for multi-worker servers' pools
        settings = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run("pg_ctl", "start", "-w", "-t", "120", "-D", str(data), "-o", settings,
                  "-l", str(self.folder / "server.log"))  # fmt: skip
        self.admin = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_user, str(self.bin / program), *args]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr[-2000:]}")

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one database of the cluster."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database's URL (copied from ``template0``: nothing in it)."""
        name = f"test_{next(self._names)}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY"))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database of `create_database` (connections still open are closed)."""
        name = sa.engine.make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        self.admin.dispose()
        try:
            self._run("pg_ctl", "stop", "-m", "immediate", "-D", str(self.folder / "data"))
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

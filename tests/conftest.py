"""Shared fixtures: fresh workspaces (on SQLite, or on PostgreSQL too for tests marked
`databases`) and paths to the real public data."""

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace

DATABASES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `databases` run once on SQLite and once on PostgreSQL: through
    `module_database_url` when their module's fixtures share one, else `database_url`."""
    if metafunc.definition.get_closest_marker("databases") is None:
        return
    name = "module_database_url"
    if name not in metafunc.fixturenames:
        name = "database_url"
        if name not in metafunc.fixturenames:  # set up by `_marked_database`
            metafunc.fixturenames.append(name)
    metafunc.parametrize(name, DATABASES, indirect=True)


@pytest.fixture(autouse=True)
def _marked_database(request: pytest.FixtureRequest) -> None:
    """Sets up the database of a test marked `databases` that names no fixture using it (its
    CLI runs and servers read ``GEOINT_DATABASE_URL``)."""
    params = getattr(getattr(request.node, "callspec", None), "params", {})
    for name in ("module_database_url", "database_url"):
        if name in params:
            request.getfixturevalue(name)


@pytest.fixture(scope="session")
def postgres():
    """The test run's PostgreSQL server (started at its first use, stopped at the end).

    A run ended by SIGTERM (a CI's timeout, `kill`) is interrupted as by Ctrl-C, so that its
    fixtures are torn down and the server stopped: by default the signal ends the process at
    once and leaves the server running."""
    from support.postgres import PostgresCluster

    cluster = PostgresCluster()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield cluster
    finally:
        signal.signal(signal.SIGTERM, previous)
        cluster.stop()


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt("terminated (SIGTERM)")


def _database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite in the workspace) or a fresh PostgreSQL database, also set as
    ``GEOINT_DATABASE_URL`` for the settings, CLI runs and servers the test starts."""
    if not hasattr(request, "param"):  # not parametrised: a module's database, if any
        yield os.environ.get("GEOINT_DATABASE_URL")
        return
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "sqlite":
            patch.delenv("GEOINT_DATABASE_URL", raising=False)
            yield None
            return
        cluster = request.getfixturevalue("postgres")
        url = cluster.create_database()
        patch.setenv("GEOINT_DATABASE_URL", url)
        yield url
        cluster.drop_database(url)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The test's own database (`_database`)."""
    yield from _database(request)


@pytest.fixture(scope="module")
def module_database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """One database for a module whose fixtures build a workspace once (`_database`)."""
    yield from _database(request)


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> GeointSettings:
    return GeointSettings(workspace=tmp_path / "ws", database_url=database_url)


@pytest.fixture
def workspace(settings: GeointSettings) -> Workspace:
    store = Workspace(settings.workspace, settings.database_url)
    yield store
    store.engine.dispose()


@pytest.fixture(scope="session")
def toy_index(tmp_path_factory):
    """The RegionIndex of the hand-made toy region of tests/toy_region.py (built once)."""
    from support.toy_region import build_toy_index

    return build_toy_index(tmp_path_factory.mktemp("toy") / "region")

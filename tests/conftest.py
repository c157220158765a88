"""Shared fixtures: fresh workspaces and paths to the real public data."""

from pathlib import Path

import pytest

from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace


@pytest.fixture
def settings(tmp_path: Path) -> GeointSettings:
    return GeointSettings(workspace=tmp_path / "ws")


@pytest.fixture
def workspace(settings: GeointSettings) -> Workspace:
    store = Workspace(settings.workspace)
    yield store
    store.engine.dispose()


@pytest.fixture(scope="session")
def toy_index(tmp_path_factory):
    """The RegionIndex of the hand-made toy region of tests/toy_region.py (built once)."""
    from support.toy_region import build_toy_index

    return build_toy_index(tmp_path_factory.mktemp("toy") / "region")

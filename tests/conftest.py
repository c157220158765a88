"""Shared fixtures: fresh workspaces and paths to the real public data."""

from pathlib import Path

import pytest

from geoint.settings import GeointSettings
from geoint.store import Workspace

REPO = Path(__file__).resolve().parents[1]
# Tests that read the real public reference data in ../shared/data say so by using this path.
SHARED_DATA = REPO.parent / "shared" / "data"


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
    from toy_region import build_toy_index

    return build_toy_index(tmp_path_factory.mktemp("toy") / "region")

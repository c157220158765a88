"""Opening a test's workspace on the test's database (SQLite, or PostgreSQL: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace


def open_workspace(root: Path) -> Workspace:
    """The workspace at `root` on the database ``GEOINT_DATABASE_URL`` names (SQLite in it when
    unset), as the CLI and the servers a test starts open it."""
    return Workspace(root, GeointSettings(workspace=root).database_url)

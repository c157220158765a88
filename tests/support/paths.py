"""Paths of the repository and of the real public data beside it."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Tests that read the real public reference data in ../shared/data say so by using this path.
SHARED_DATA = REPO.parent / "shared" / "data"

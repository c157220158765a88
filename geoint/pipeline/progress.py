"""Progress callbacks: each stage names the step it starts (the CLI shows them)."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def step(progress: Progress | None, name: str) -> None:
    """Tell `progress` (if any) that the step `name` starts."""
    if progress:
        progress(name)

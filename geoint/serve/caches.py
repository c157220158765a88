"""Caches of the service: encoded responses by key (`BytesLRU`) and values built from a file
(`FileCache`), both checked against the data they came from (`file_version`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class BytesLRU:
    """A thread-safe least-recently-used map of encoded responses, bounded in bytes."""

    ENTRY_OVERHEAD = 200  # bytes counted per entry besides its value (key, links)

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[Hashable, tuple[bytes | None, int]] = OrderedDict()  # value, size
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[bool, bytes | None]:
        """(found, value)."""
        with self._lock:
            if key not in self._items:
                return False, None
            self._items.move_to_end(key)
            return True, self._items[key][0]

    def put(self, key: Hashable, value: bytes | None, extra_bytes: int = 0) -> None:
        """Store a value (unless larger than the budget), evicting the least recently used.

        `extra_bytes`: memory the entry holds besides its value (a large key), counted too.
        """
        size = self.ENTRY_OVERHEAD + extra_bytes + (len(value) if value else 0)
        if size > self._max_bytes:
            return
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self._max_bytes:
                self._bytes -= self._items.popitem(last=False)[1][1]


def file_version(path: Path) -> tuple[int, int] | None:
    """Modification time and size of a file (an atomic rewrite changes them), None if missing."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


class FileCache(Generic[T]):
    """A value built from one file, rebuilt when the file's modification time or size changes."""

    def __init__(self, path: Path, build: Callable[[], T]) -> None:
        self.path = Path(path)
        self._build = build  # reads `path` itself (and answers for a missing file)
        self._cached: tuple[tuple[int, int] | None, T] | None = None

    def get(self) -> T:
        """The value for the file as it is now."""
        signature = file_version(self.path)
        cached = self._cached
        if cached is None or cached[0] != signature:
            # a file replaced between the stat and the read is caught by the next stat
            cached = (signature, self._build())
            self._cached = cached
        return cached[1]

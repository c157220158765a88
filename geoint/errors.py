"""The domain error tree; the CLI prints these as one line and the API maps them to problems."""

from __future__ import annotations

import errno


class GeointError(Exception):
    """Base class of every error the platform raises on purpose."""


class InputError(GeointError, ValueError):
    """A whole input cannot be used: wrong format, missing column, unknown CRS.

    The message names the file, the column (when there is one) and what was expected;
    `expected` is a noun phrase ("a CSV file with a header line").
    """

    def __init__(self, file: str, expected: str, column: str | None = None) -> None:
        self.file = str(file)
        self.column = column
        self.expected = expected
        where = f"{self.file}: column '{column}'" if column else self.file
        super().__init__(f"{where}: expected {expected}")

    def __reduce__(self) -> tuple:  # pickled whole (raised in a child process, a Dask worker)
        return type(self), (self.file, self.expected, self.column)


class RegionError(GeointError, ValueError):
    """A region folder, manifest or layer is missing or inconsistent."""


class WorkspaceError(GeointError):
    """The workspace cannot be opened or written."""


class PatrolError(GeointError, ValueError):
    """A patrol request cannot be planned: base outside the graph, no teams, a too-short shift."""


class QueryError(GeointError, ValueError):
    """A filter or query parameter is unknown or holds a value outside what it accepts."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.detail = detail
        super().__init__(f"{field}: {detail}")

    def __reduce__(self) -> tuple:  # pickled whole, as `InputError`
        return type(self), (self.field, self.detail)


class CorruptPartError(WorkspaceError):
    """Stored files cannot be read (a damaged disk, a copy cut short): names them and the fix."""


class DatabaseUnavailableError(WorkspaceError):
    """The operational database cannot be used: its driver is not installed or it cannot be
    reached (the API answers 503)."""


class StorageFullError(WorkspaceError):
    """The disk (or the database) is full: the write was undone and nothing was stored."""


FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def is_storage_full(exc: BaseException) -> bool:
    """Whether `exc` (an OSError, or a database error of SQLite or PostgreSQL) means no space."""
    if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    return "database or disk is full" in text or "no space left on device" in text

"""The group commit's storage, in a process of its own.

Posts are grouped in the server (`geoint.api.background.GroupCommit`); storing a group (validate,
de-duplicate, index, write and commit: `geoint.pipeline.ingest.ingest_ping_posts`) is mostly
Python. In the server's process it shared one interpreter lock with every request, so under
readers' load (map pages, alert lists, heatmaps) a group waited for the lock and posts waited
seconds (docs/ingest.md). `StorageProcess` hands each group to a child process, started at the
first group, and waits for its reports on a pipe (without the lock). The child does exactly what
the thread did, under the workspace's writer lock (`flock`), so the other writers of the service
(large posts, seizures, merges) and of other processes are coordinated as before.

If the child dies during a group, that group's posts get a 503 (nothing acknowledged, so a
device sends again; what the child had not committed is undone by the next writer's recovery)
and the next group starts a new child. The child stops when the service closes it or when its
pipe closes (its server is gone).
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import threading
from contextlib import suppress
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from geoint.api.errors import Problem
from geoint.pipeline.ingest import Post, ingest_ping_posts
from geoint.schema import IngestReport
from geoint.settings import GeointSettings
from geoint.store.workspace import Workspace

log = logging.getLogger("geoint.api")
STOP_TIMEOUT_S = 120  # a group under way when the service stops is let finish this long


class StorageProcess:
    """Stores groups of posts in a child process; one group at a time (the group thread's)."""

    def __init__(self, settings: GeointSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None

    def store(self, posts: list[Post]) -> list[IngestReport]:
        """Store `posts` as one group; their reports (or the group's error)."""
        with self._lock:
            pipe = self._started()
            try:
                pipe.send(posts)
                stored, value = pipe.recv()
            except (EOFError, OSError) as exc:  # the child died: the group was not acknowledged
                self._stop()
                log.error("the storage process died during a group of %d posts", len(posts))
                raise Problem(
                    503, "the server's storage process stopped; send the position again",
                    slug="storage-restarted",
                ) from exc  # fmt: skip
        if not stored:
            raise value
        return value

    def close(self) -> None:
        """Stop the child once its group under way, if any, is stored."""
        with self._lock:
            self._stop()

    def _started(self) -> Connection:
        if self._process is None or not self._process.is_alive() or self._pipe is None:
            context = multiprocessing.get_context("spawn")  # no fork of a threaded server
            self._pipe, child = context.Pipe()
            self._process = context.Process(
                target=store_until_closed, args=(self._settings, child),
                name="geoint-storage", daemon=True,
            )  # fmt: skip
            self._process.start()
            child.close()  # the child's end: its pipe closes when the child exits
        return self._pipe

    def _stop(self) -> None:
        if self._pipe is not None:
            with suppress(OSError):  # already gone
                self._pipe.send(None)
            self._pipe.close()
            self._pipe = None
        if self._process is not None:
            self._process.join(STOP_TIMEOUT_S)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join()
            self._process = None


def store_until_closed(settings: GeointSettings, pipe: Connection) -> None:
    """The child's life: store each group it receives and send back its reports (or its
    error), until told to stop or until its server's end of the pipe closes."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: storage: %(message)s")
    workspace = Workspace(settings.workspace, settings.database_url)
    try:
        while True:
            try:
                posts = pipe.recv()
            except EOFError:  # the server is gone
                return
            if posts is None:
                return
            try:
                pipe.send((True, ingest_ping_posts(workspace, posts, settings)))
            except Exception as exc:  # the group's error, for each of its callers
                pipe.send((False, _portable(exc)))
    finally:
        workspace.close()


def _portable(exc: Exception) -> Exception:
    """`exc` if it survives the pipe, else a RuntimeError saying what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # an exception class that cannot be rebuilt from its pickle
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc

"""The group commit's storage process (`geoint.api.storage`): groups stored by a child, its
errors handed back (a full disk), and a child that dies during a group."""

import errno
import hashlib
import os

import orjson
import polars as pl
import pytest
from support.workspaces import open_workspace

from geoint.api.errors import Problem
from geoint.api.ingest import _OSMAND_SCHEMA, QUARANTINE, osmand_record
from geoint.api.storage import StorageProcess
from geoint.ingest.readers import ReadResult
from geoint.pipeline.ingest import Post
from geoint.schema import ROW_NUMBER
from geoint.settings import GeointSettings


class FullDisk:
    """A post whose storage fails as a full disk does (when the group reads its content)."""

    @property
    def sha(self) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")


class DiesWhenRead:
    """Unpickled by the child, it ends the child's process (a crash during a group)."""

    def __reduce__(self):
        return (os._exit, (3,))


def _post(device: str, timestamp: str) -> Post:
    record = osmand_record(device, 6.51, 2.61, timestamp)
    frame = pl.DataFrame([{ROW_NUMBER: 1, **record}], schema=_OSMAND_SCHEMA)
    sha = hashlib.sha256(orjson.dumps(record)).hexdigest()
    return Post(ReadResult(frame, QUARANTINE, "osmand"), f"GET /osmand ({device})", sha)


def test_groups_are_stored_by_the_child_which_a_crash_does_not_take_down_for_good(tmp_path):
    settings = GeointSettings(workspace=tmp_path / "ws")
    open_workspace(settings.workspace).close()
    storage = StorageProcess(settings)
    try:
        first, twice = storage.store([_post("P1", "1789372800"), _post("P1", "1789372800")])
        assert (first.accepted, twice.duplicates) == (1, 1)
        (again,) = storage.store([_post("P1", "1789372800")])
        assert again.already_ingested
        with pytest.raises(OSError) as full:  # the child's error, for the API's 507
            storage.store([FullDisk()])  # type: ignore[list-item]
        assert full.value.errno == errno.ENOSPC
        with pytest.raises(Problem) as crashed:
            storage.store([DiesWhenRead()])  # type: ignore[list-item]
        assert crashed.value.status == 503
        (later,) = storage.store([_post("P1", "1789372860")])  # a new child stores it
        assert later.accepted == 1
    finally:
        storage.close()
    store = open_workspace(settings.workspace)
    try:
        assert store.scan_pings().collect()["vehicle_id"].to_list() == ["P1", "P1"]
    finally:
        store.close()

"""API keys, sessions and the audit log (geoint.store.keys) and `geoint keys`."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from support.api import build_region
from support.partitions import SAMPLE
from support.workspaces import open_workspace

from geoint.pipeline.ingest import ingest_pings
from geoint.settings import GeointSettings
from geoint.store.keys import KeyRequestError, KeyStore, UnknownKeyError
from geoint.store.tables import api_keys, sessions

pytestmark = pytest.mark.databases

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def keys(workspace) -> KeyStore:
    return KeyStore(workspace)


def test_key_text_is_returned_once_and_only_its_hash_is_stored(keys):
    key, text = keys.create("analyst", now=T0)
    assert text.startswith(f"geo_{key.id}_") and len(text) > 50
    secret = text.split("_", 2)[2]
    with keys.engine.connect() as conn:
        stored = [str(v) for row in conn.execute(sa.select(api_keys)) for v in row]
    assert not any(secret in value for value in stored)
    assert keys.authenticate(text) == key
    assert keys.authenticate(text[:-1] + ("A" if text[-1] != "A" else "B")) is None
    assert keys.authenticate(text.replace(key.id, "000000000000")) is None
    assert keys.authenticate("Bearer nonsense") is None


def test_revoked_keys_and_their_sessions_stop_working(keys):
    key, text = keys.create("unit", ["south", " south", "north"], now=T0)
    assert key.sectors == ("south", "north")
    token = keys.open_session(key, timedelta(hours=1), now=T0)
    assert keys.session_key(token, now=T0 + timedelta(minutes=59)) == key
    assert keys.session_key(token, now=T0 + timedelta(minutes=61)) is None
    revoked = keys.revoke(key.id, now=T0 + timedelta(minutes=5))
    assert revoked.revoked_at == T0 + timedelta(minutes=5)
    assert keys.revoke(key.id).revoked_at == revoked.revoked_at
    assert keys.authenticate(text) is None
    assert keys.session_key(token, now=T0 + timedelta(minutes=10)) is None
    with pytest.raises(UnknownKeyError, match="no API key with id 'nope'"):
        keys.revoke("nope")


def test_proven_credentials_are_recalled_until_a_key_or_session_ends(keys, workspace):
    key, text = keys.create("analyst")
    assert keys.recall(text) is None  # never proven
    assert keys.authenticate(text) == key
    # PostgreSQL has no counter read cheap enough for every request: nothing is recalled and
    # every request asks the database (a memo could outlive a revocation by another worker)
    recalled = None if workspace.data_version() is None else key
    assert keys.recall(text) == recalled and keys.recall(text + "x") is None
    assert keys.recall(text, session=True) is None  # a key text is not a session token
    token = keys.open_session(key, timedelta(hours=1))
    assert keys.session_key(token) == key and keys.recall(token, session=True) == recalled
    other = open_workspace(workspace.root)  # another connection, as the CLI in another process
    try:
        # commits that touch no key (ingest, alerts, another key) keep what was proven
        ingest_pings(other, SAMPLE / "pings.parquet", GeointSettings(workspace=workspace.root))
        KeyStore(other).create("feeder")
        assert keys.recall(text) == recalled and keys.recall(token, session=True) == recalled
        KeyStore(other).close_session(token)
        assert keys.recall(token, session=True) is None and keys.session_key(token) is None
        assert keys.recall(text) is None  # a sign-out anywhere forgets every proof
        assert keys.authenticate(text) == key and keys.recall(text) == recalled
        KeyStore(other).revoke(key.id)
    finally:
        other.close()
    assert keys.recall(text) is None and keys.authenticate(text) is None


def test_sessions_are_stored_hashed_and_close(keys):
    key, _ = keys.create("admin")
    token = keys.open_session(key, timedelta(hours=1))
    with keys.engine.connect() as conn:
        assert token not in {row.digest for row in conn.execute(sa.select(sessions))}
    keys.close_session(token)
    assert keys.session_key(token) is None


@pytest.mark.parametrize(
    ("role", "sectors", "message"),
    [
        ("root", [], "--role: expected one of admin, analyst, unit, feeder"),
        ("unit", [], "a unit key needs at least one sector"),
        ("feeder", ["south"], "only unit keys are scoped to sectors"),
    ],
)
def test_keys_are_created_only_as_the_roles_allow(keys, role, sectors, message):
    with pytest.raises(KeyRequestError, match=message):
        keys.create(role, sectors)


def test_audit_is_newest_first_and_paged(keys):
    for minute in range(5):
        keys.record(
            "k1", "POST", "/api/v1/pings", 200, f"write {minute}", T0.replace(minute=minute)
        )
    page, total = keys.audit(limit=2, offset=1)
    assert total == 5
    assert [e["summary"] for e in page] == ["write 3", "write 2"]
    assert page[0]["at"] == "2026-11-27T12:03:00+00:00"


def _geoint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "geoint", *args], capture_output=True, text=True, timeout=120
    )


def test_keys_commands(tmp_path):
    ws, region = str(tmp_path / "ws"), str(build_region(tmp_path / "region"))
    unit = ("keys", "create", "-w", ws, "--role", "unit", "--json")
    created = _geoint(*unit, "--sector", "south", "--region", region)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert set(key) == {"id", "key", "role", "sectors"}
    assert (key["role"], key["sectors"]) == ("unit", ["south"])
    # a sector the region lacks, or no region to check against: one line, no key
    for args in (("--sector", "NOPE", "--region", region), ("--sector", "south")):
        refused = _geoint(*unit, *args)
        assert refused.returncode == 2 and refused.stdout == ""
        assert refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1
    assert "no sector 'NOPE'" in _geoint(*unit, "--sector", "NOPE", "--region", region).stderr

    listed = json.loads(_geoint("keys", "list", "-w", ws, "--json").stdout)["keys"]
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0]
    assert key["key"] not in _geoint("keys", "list", "-w", ws).stdout

    revoked = json.loads(_geoint("keys", "revoke", key["id"], "-w", ws, "--json").stdout)
    assert revoked["revoked_at"] is not None

    failed = _geoint("keys", "create", "-w", ws, "--role", "root", "--json")
    assert failed.returncode == 2 and failed.stderr.startswith("error: --role:")
    assert failed.stdout == ""

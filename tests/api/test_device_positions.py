"""Device positions take a short path past the framework's layers
(`geoint.api.osmand.DevicePositions`): the same answers, guard, audit and error responses as
the route itself, which a service without the short path serves."""

import errno
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from support.api import SOUTH, api_settings, bearer, build_region, create_key

import geoint.api.osmand as osmand_module
from geoint.api.app import create_app
from geoint.api.osmand import DevicePositions

pytestmark = pytest.mark.databases

POSITION = {"id": "phone-7", "lat": SOUTH[0], "lon": SOUTH[1], "timestamp": "1789372800"}
ROLES = ("admin", "feeder", "unit")


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    return build_region(tmp_path_factory.mktemp("device") / "region")


def _service(ws: Path, region: Path, short_path: bool) -> Iterator[tuple[TestClient, dict]]:
    keys = {role: create_key(ws, role, ("south",) if role == "unit" else ()) for role in ROLES}
    app = create_app(api_settings(ws, region, child_processes=False))
    if not short_path:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not DevicePositions]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, keys


@pytest.fixture
def short(tmp_path, region):
    yield from _service(tmp_path / "short", region, short_path=True)


@pytest.fixture
def routed(tmp_path, region, short, database_url, request, monkeypatch):
    if database_url is None:
        yield from _service(tmp_path / "routed", region, short_path=False)
        return
    cluster = request.getfixturevalue("postgres")  # a database of its own, as the short one
    url = cluster.create_database()
    monkeypatch.setenv("GEOINT_DATABASE_URL", url)
    yield from _service(tmp_path / "routed", region, short_path=False)
    cluster.drop_database(url)


def _requests(keys: dict[str, str]) -> list[tuple[str, dict, dict]]:
    """(method, query, headers) of positions a fleet and its intruders send."""
    later = {**POSITION, "timestamp": "1789372860000", "bearing": "90", "accuracy": "8"}
    return [
        ("GET", {**POSITION, "speed": "10", "key": keys["feeder"]}, {}),
        ("POST", later, bearer(keys["feeder"])),
        ("GET", {**POSITION, "key": keys["feeder"]}, {}),  # a repeat: a duplicate
        ("GET", {**POSITION, "timestamp": "1789372920", "lat": "95", "key": keys["feeder"]}, {}),
        ("GET", {**POSITION, "lat": "north", "key": keys["feeder"]}, {}),
        ("GET", {k: v for k, v in POSITION.items() if k != "lon"} | {"key": keys["feeder"]}, {}),
        ("GET", POSITION, {}),  # no key
        ("GET", {**POSITION, "key": "not-a-key"}, {}),
        ("GET", {**POSITION, "key": keys["unit"]}, {}),  # a unit may not ingest
        ("GET", POSITION, {"Cookie": "geoint_session=forged"}),
        ("POST", {**POSITION, "timestamp": "1789372980"}, bearer(keys["admin"])),
        ("DELETE", {**POSITION, "key": keys["feeder"]}, {}),  # not a device method
    ]


def _answer(response) -> tuple:
    body = response.json()
    body.pop("seconds", None)
    if "file" in body:  # names the key and the time: "GET /osmand (key ..., time)"
        body["file"] = body["file"].partition(" (key ")[0]
    headers = ("content-type", "x-content-type-options", "www-authenticate", "allow")
    return response.status_code, [response.headers.get(h) for h in headers], body


def _audit(client: TestClient, key: str) -> list[tuple]:
    entries = client.get("/api/v1/audit", headers=bearer(key)).json()["entries"]
    return [(e["method"], e["path"], e["status"], e["summary"]) for e in entries]


def test_device_positions_are_answered_and_audited_as_by_the_route(short, routed, monkeypatch):
    calls = []
    handler = osmand_module.osmand

    async def counted(request, tasks):
        calls.append(request.url.path)
        return await handler(request, tasks)

    monkeypatch.setattr(osmand_module, "osmand", counted)
    (short_client, short_keys), (routed_client, routed_keys) = short, routed
    for (method, query, headers), (_, routed_query, routed_headers) in zip(
        _requests(short_keys), _requests(routed_keys), strict=True
    ):
        answer = _answer(short_client.request(method, "/osmand", params=query, headers=headers))
        expected = routed_client.request(
            method, "/osmand", params=routed_query, headers=routed_headers
        )
        assert answer == _answer(expected), (method, query)
    # the short path took every position that passed the guard; the route none
    assert len(calls) == 8
    assert _audit(short_client, short_keys["admin"]) == _audit(routed_client, routed_keys["admin"])
    assert len(_audit(short_client, short_keys["admin"])) == 7  # all but the unit's


def _failing(exc: Exception):
    async def submit(_position):
        raise exc

    return submit


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), 507),
        (
            sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")),
            503,
        ),
        (RuntimeError("a bug"), 500),
    ],
)
def test_a_failing_store_answers_as_the_route_does(short, routed, exc, status):
    answers = []
    for client, keys in (short, routed):
        client.app_state["services"].posts.submit_async = _failing(exc)
        response = client.get("/osmand", params={**POSITION, "key": keys["feeder"]})
        answers.append(_answer(response))
        assert _audit(client, keys["admin"])[0][2] == status
    assert answers[0] == answers[1]
    assert answers[0][0] == status

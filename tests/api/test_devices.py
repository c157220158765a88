"""The lean path of device positions (`geoint.api.devices`): what it takes, and that it stores
and answers exactly as the FastAPI route it stands in for."""

import errno

import polars as pl
import pytest
from fastapi.testclient import TestClient
from support.api import api_settings, bearer, build_region, create_key
from support.workspaces import open_workspace

from geoint.api.app import create_app
from geoint.api.devices import _plain_position
from geoint.api.errors import Problem

POSITION = {"id": "phone-7", "lat": "6.51", "lon": "2.61", "timestamp": "1789372800"}


def _scope(query: str, method: str = "GET", headers: list | None = None) -> dict:
    return {
        "type": "http",
        "method": method,
        "path": "/osmand",
        "query_string": query.encode(),
        "headers": headers or [],
    }


def _query(**fields: str) -> str:
    return "&".join(f"{k}={v}" for k, v in {**POSITION, **fields}.items() if v is not None)


def test_a_plain_position_is_read_with_its_optional_numbers():
    record = _plain_position(_scope(_query(speed="10", bearing="90", accuracy="8.5e0", batt="80")))
    assert record is not None
    assert (record["vehicle_id"], record["lat"], record["lon"]) == ("phone-7", 6.51, 2.61)
    assert record["speed_kmh"] == pytest.approx(18.52) and record["heading"] == 90
    assert record["accuracy_m"] == 8.5 and record["source"] == "osmand"
    assert _plain_position(_scope(_query(), "POST", [(b"content-length", b"0")])) is not None


@pytest.mark.parametrize(
    ("query", "method", "headers"),
    [
        (_query(lat="north"), "GET", None),  # the route's 400 names the field
        (_query(lat="1_0"), "GET", None),  # Python's float reads it; the route does not
        (_query(lon="inf"), "GET", None),
        (_query(speed=""), "GET", None),
        (_query(lat=None), "GET", None),
        (_query(id=""), "GET", None),
        (_query(id="x" * 300), "GET", None),
        (_query(timestamp=None), "GET", None),
        (_query(), "HEAD", None),
        (_query(), "GET", [(b"cookie", b"geoint_session=abc")]),  # a session is never a device
        (_query(), "POST", [(b"content-length", b"12")]),
        (_query(), "POST", [(b"transfer-encoding", b"chunked")]),
    ],
)
def test_anything_doubtful_goes_on_to_the_route(query, method, headers):
    assert _plain_position(_scope(query, method, headers)) is None


def test_both_paths_store_answer_and_audit_alike(tmp_path):
    region, ws = build_region(tmp_path / "region"), tmp_path / "ws"
    feeder, admin = create_key(ws, "feeder"), create_key(ws, "admin")
    with TestClient(create_app(api_settings(ws, region))) as client:
        lean = client.get("/osmand", params={**POSITION, "key": feeder})
        # the same request with a form body (unused) goes through FastAPI's route
        later = {**POSITION, "timestamp": "1789372860"}
        routed = client.post("/osmand", params=later, headers=bearer(feeder), content=b"batt=80")
        assert lean.status_code == routed.status_code == 200
        one, other = lean.json(), routed.json()
        for body in (one, other):
            body.pop("batch_id"), body.pop("file"), body.pop("seconds")
        assert one == other and one["accepted"] == 1
        # sent again, and the same time with another speed: what the route would answer
        assert client.get("/osmand", params={**later, "key": feeder}).json()["already_ingested"]
        again = client.get("/osmand", params={**later, "speed": "3", "key": feeder}).json()
        assert again["duplicates"] == 1 and again["problem"]["errors"][0]["row"] == 1
        audit = client.get("/api/v1/audit", headers=bearer(admin)).json()["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in audit[::-1]] == [
        ("GET", "/osmand", 200),
        ("POST", "/osmand", 200),
        ("GET", "/osmand", 200),
        ("GET", "/osmand", 200),
    ]
    assert all(e["summary"].startswith("pings: 1 rows, ") for e in audit)
    store = open_workspace(ws)
    try:
        stored = store.scan_pings().collect().sort("ts")
    finally:
        store.close()
    assert stored["vehicle_id"].to_list() == ["phone-7", "phone-7"]
    assert stored["source"].to_list() == ["osmand", "osmand"]
    assert stored.select(pl.col("lat").n_unique()).item() == 1


def test_a_failed_store_gets_the_route_s_problem(tmp_path, monkeypatch):
    region, ws = build_region(tmp_path / "region"), tmp_path / "ws"
    feeder = create_key(ws, "feeder")
    with TestClient(create_app(api_settings(ws, region))) as client:
        storage = client.app_state["services"].storage

        def stopped(_posts):
            raise Problem(503, "the server's storage process stopped", slug="storage-restarted")

        def full(_posts):
            raise OSError(errno.ENOSPC, "No space left on device")

        for store, status, slug in (
            (stopped, 503, "storage-restarted"),
            (full, 507, "storage-full"),
        ):
            monkeypatch.setattr(storage, "store", store)
            response = client.get("/osmand", params={**POSITION, "key": feeder})
            assert response.status_code == status, response.text
            assert response.json()["type"] == f"urn:geoint:problem:{slug}"

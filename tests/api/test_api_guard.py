"""The request guard: cross-site state changes refused on every route, auth and size limits
before a body is read (a real server on loopback), security headers on every page."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx2
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from support.alerts import events
from support.api import (
    SOUTH,
    api_settings,
    bearer,
    build_region,
    create_key,
    same_origin,
    start_server,
    stop_server,
)
from support.workspaces import open_workspace

from geoint.alerts.raising import raise_alerts
from geoint.api.app import create_app
from geoint.api.audit import audited_seizure_writer, audited_writer
from geoint.layers import Region, RegionIndex
from geoint.settings import GeointSettings

pytestmark = pytest.mark.databases

SAFE = {"GET", "HEAD", "OPTIONS"}
CROSS_SITE = {"Origin": "http://testserver:9999", "Sec-Fetch-Site": "same-site"}
MIB = 2**20


@pytest.fixture(scope="module")
def setup(tmp_path_factory, module_database_url):
    root = tmp_path_factory.mktemp("guard")
    region, ws = build_region(root / "region"), root / "ws"
    keys = {role: create_key(ws, role) for role in ("admin", "analyst", "feeder")}
    store = open_workspace(ws)
    ground = RegionIndex(Region.load(region))
    rows = [
        {"event_id": f"E{i}", "vehicle_id": f"V{i}", "lat": SOUTH[0], "lon": SOUTH[1]}
        for i in range(3)
    ]
    raise_alerts(store, ground, GeointSettings(workspace=ws), events(*rows))
    store.engine.dispose()
    return ws, region, keys


@pytest.fixture(scope="module")
def client(setup) -> Iterator[TestClient]:
    ws, region, _ = setup
    with TestClient(create_app(api_settings(ws, region))) as test_client:
        yield test_client


@pytest.fixture
def signed_in(client, setup) -> Iterator[TestClient]:
    """The client with an analyst's session cookie."""
    response = client.post("/login", data={"key": setup[2]["analyst"]}, follow_redirects=False)
    assert response.status_code == 303
    yield client
    client.cookies.clear()


def api_routes(routes: list, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every route of an app with its full path (FastAPI includes routers lazily)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):
            nested = prefix + route.include_context.prefix
            yield from api_routes(route.original_router.routes, nested)


def _unsafe_routes(client: TestClient) -> list[tuple[str, str]]:
    return [
        (method, path.replace("{alert_id}", "1").replace("{seizure_id}", "S-1"))
        for path, route in api_routes(client.app.routes)
        for method in sorted(route.methods - SAFE)
    ]


def _depends_on(route: APIRoute, targets: tuple) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if dependency.call in targets:
            return True
        pending.extend(dependency.dependencies)
    return False


def test_every_state_change_with_the_session_refuses_other_origins(signed_in):
    routes = _unsafe_routes(signed_in)
    assert ("POST", "/api/v1/alerts/1/ack") in routes and len(routes) >= 12
    assert ("POST", "/api/v1/seizures/S-1/photos") in routes
    assert ("POST", "/api/v1/seizures/S-1/position") in routes
    for method, path in routes:
        if path == "/login":
            continue
        for headers in (CROSS_SITE, {"Sec-Fetch-Site": "cross-site"}, {}):
            response = signed_in.request(method, path, headers=headers, content=b"")
            assert response.status_code == 403, (method, path, headers, response.text)
            assert response.json()["type"] == "urn:geoint:problem:cross-site-request"
    # the finding: an empty text/plain form post from another port resolved an alert
    plain = {**CROSS_SITE, "Content-Type": "text/plain"}
    assert signed_in.post("/api/v1/alerts/1/ack", headers=plain).status_code == 403
    assert signed_in.get("/api/v1/alerts/1").json()["status"] == "new"
    # the map's own fetch (same origin) still acknowledges
    ack = signed_in.post("/api/v1/alerts/1/ack", headers=same_origin(), json={"note": "seen"})
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"


def test_no_route_changes_state_on_get_with_the_session(signed_in, setup):
    writing_gets = [
        path
        for path, route in api_routes(signed_in.app.routes)
        if "GET" in route.methods and _depends_on(route, (audited_writer, audited_seizure_writer))
    ]
    # the one GET that writes is the device route, which checks its key itself (api/osmand.py)
    assert writing_gets == []
    query = {"id": "IMG-1", "lat": SOUTH[0], "lon": SOUTH[1], "timestamp": "1789000000"}
    # an <img src="/osmand?..."> on another page carries the cookie: refused
    assert signed_in.get("/osmand", params=query).status_code == 401
    store = open_workspace(setup[0])
    try:
        assert store.scan_pings().collect().height == 0
    finally:
        store.engine.dispose()
    # devices send their key (no cookie), also by GET
    device = signed_in.get("/osmand", params={**query, "key": setup[2]["feeder"]}, cookies={})
    assert device.status_code == 200 and device.json()["accepted"] == 1


def test_a_key_parameter_does_not_lift_the_check_of_a_session(signed_in):
    response = signed_in.post("/api/v1/alerts/2/ack?key=geo_x_y", headers=CROSS_SITE)
    assert response.status_code == 403


def test_bearer_requests_are_not_cross_site_prone(client, setup):
    response = client.post(
        "/api/v1/alerts/3/ack", headers={**bearer(setup[2]["analyst"]), **CROSS_SITE}
    )
    assert response.status_code == 200


def test_login_refuses_other_origins_and_answers_api_clients_in_json(client):
    assert client.post("/login", data={"key": "geo_x_y"}, headers=CROSS_SITE).status_code == 403
    failed = client.post("/login", data={"key": "geo_x_y"})
    assert failed.status_code == 401
    assert failed.headers["content-type"] == "application/problem+json"
    assert "unknown or revoked" in failed.json()["detail"]
    page = client.post("/login", data={"key": "geo_x_y"}, headers={"Accept": "text/html"})
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")


def test_pages_send_security_headers(client, setup):
    key = bearer(setup[2]["analyst"])
    for path, headers in (("/login", {}), ("/map", key), ("/docs", key)):
        response = client.get(path, headers=headers)
        assert response.headers["content-type"].startswith("text/html"), path
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
        assert response.headers["x-frame-options"] == "DENY"
    item = client.get("/ogc/collections/roads/items?limit=1", headers=key)
    assert item.headers["x-content-type-options"] == "nosniff"
    feature = item.json()["features"][0]["id"]
    one = client.get(f"/ogc/collections/roads/items/{feature}", headers=key)
    assert one.status_code == 200 and one.headers["x-content-type-options"] == "nosniff"


@pytest.fixture(scope="module")
def server(setup, tmp_path_factory):
    ws, region, keys = setup
    running = start_server(ws, region, tmp_path_factory.mktemp("guard-log") / "server.log")
    try:
        yield running, keys
    finally:
        stop_server(running)


def _raw(url: str, head: str, body: bytes = b"", wait_s: float = 5.0) -> str:
    """Send a request head (and the start of a body) and return the status line the server
    sends back before `wait_s` (it must not wait for the rest of the body)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait_s) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        started = time.monotonic()
        answer = sock.recv(4096).decode("latin-1")
    assert time.monotonic() - started < wait_s
    return answer.split("\r\n", 1)[0]


@pytest.mark.parametrize("path", ["/api/v1/alerts/1/ack", "/api/v1/patrols/plan", "/api/v1/pings"])
def test_a_huge_body_without_a_key_is_refused_unread(server, path):
    running, _ = server
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {200 * MIB}\r\n"
    )
    assert _raw(running.url, head, b"{" * 1024).startswith("HTTP/1.1 401")


def test_bodies_above_the_limit_are_refused_from_the_headers_and_the_stream(server):
    running, keys = server
    auth = f"Authorization: Bearer {keys['analyst']}\r\n"
    head = (
        f"POST /api/v1/alerts/1/ack HTTP/1.1\r\nHost: x\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {200 * MIB}\r\n"
    )
    assert _raw(running.url, head, b"{" * 1024).startswith("HTTP/1.1 413")

    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b" " * MIB

    streamed = httpx2.post(
        f"{running.url}/api/v1/patrols/plan",
        content=chunks(),
        headers={**bearer(keys["analyst"]), "Content-Type": "application/json"},
        timeout=30,
    )
    assert streamed.status_code == 413 and "exceeds" in streamed.json()["detail"]
    assert httpx2.get(f"{running.url}/health").status_code == 200

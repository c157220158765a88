"""The API as a real `geoint serve` process on 127.0.0.1: auth, scope, OsmAnd, an OGC client."""

import httpx2
import psutil
import pytest
from support.api import (
    NORTH,
    SEIZURES_CSV,
    bearer,
    build_region,
    create_key,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.databases


@pytest.fixture(scope="module")
def server(tmp_path_factory, module_database_url):
    """A server on a workspace holding two seizures; its keys."""
    root = tmp_path_factory.mktemp("server")
    region, ws = build_region(root / "region"), root / "ws"
    keys = {
        "admin": create_key(ws, "admin"),
        "unit": create_key(ws, "unit", ("south",)),
        "feeder": create_key(ws, "feeder"),
    }
    running = start_server(ws, region, root / "server.log")
    try:
        response = httpx2.post(
            f"{running.url}/api/v1/seizures",
            content=SEIZURES_CSV,
            headers={**bearer(keys["admin"]), "Content-Type": "text/csv"},
        )
        assert response.json()["accepted"] == 2
        yield running, keys
    finally:
        stop_server(running)


def test_unauthenticated_requests_get_401_with_a_challenge(server):
    running, _ = server
    assert httpx2.get(f"{running.url}/health").status_code == 200
    for path in ("/ogc/collections", "/docs", "/api/v1/audit"):
        response = httpx2.get(f"{running.url}{path}")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"] == "application/problem+json"


def test_feeder_cannot_read(server):
    running, keys = server
    response = httpx2.get(
        f"{running.url}/ogc/collections/seizures/items", headers=bearer(keys["feeder"])
    )
    assert response.status_code == 403


def test_unit_sees_nothing_outside_its_sectors(server):
    running, keys = server
    headers = bearer(keys["unit"])
    items = f"{running.url}/ogc/collections/seizures/items"
    north = f"{NORTH[1] - 0.5},{NORTH[0] - 0.5},{NORTH[1] + 0.5},{NORTH[0] + 0.5}"
    boxed = httpx2.get(items, params={"bbox": north}, headers=headers).json()
    assert boxed["features"] == [] and boxed["numberMatched"] == 0
    assert [f["id"] for f in httpx2.get(items, headers=headers).json()["features"]] == ["S-SOUTH"]
    assert httpx2.get(f"{items}/S-NORTH", headers=headers).status_code == 404


def test_the_store_process_runs_before_the_first_position(server):
    """Started with the server (before the first post of this module, the next test): a
    device's first position does not wait seconds for a new interpreter."""
    running, _keys = server
    children = psutil.Process(running.process.pid).children()
    assert any("spawn_main" in " ".join(child.cmdline()) for child in children)


def test_osmand_device_posts_with_its_key_in_the_url_and_the_log_hides_it(server):
    running, keys = server
    position = {"id": "phone-1", "lat": 6.45, "lon": 2.65, "timestamp": "1789372800"}
    response = httpx2.post(f"{running.url}/osmand", params={**position, "key": keys["feeder"]})
    assert response.status_code == 200 and response.json()["accepted"] == 1
    secret = keys["feeder"].split("_", 2)[2]
    log = running.log.read_text()
    assert "/osmand?" in log and "key=[redacted]" in log and secret not in log


def test_owslib_lists_collections_and_reads_items(server, monkeypatch):
    from owslib import ogcapi
    from owslib.ogcapi.features import Features

    # OWSLib adds the headers to a module-level dict; keep them out of later clients
    monkeypatch.setattr(ogcapi, "REQUEST_HEADERS", dict(ogcapi.REQUEST_HEADERS))
    running, keys = server
    client = Features(f"{running.url}/ogc", headers=bearer(keys["admin"]))
    assert client.conformance()["conformsTo"]
    collections = client.feature_collections()
    assert {"border", "roads", "crossings", "sectors", "seizures", "events"} <= set(collections)
    seizures = client.collection_items("seizures", limit=1)
    assert seizures["numberReturned"] == 1 and seizures["numberMatched"] == 2
    assert client.collection_items("seizures", limit=5, offset=1)["numberReturned"] == 1
    boxed = client.collection_items("crossings", bbox=[2.6, 6.3, 2.8, 6.5])
    assert [f["properties"]["name"] for f in boxed["features"]] == ["Seme"]
    one = client.collection_item("seizures", "S-NORTH")
    assert one["properties"]["commodity"] == "tobacco"

"""The API in process (TestClient): auth, roles, sector scope, audit, ingest and its errors."""

from pathlib import Path

import orjson
import polars as pl
import pytest
from fastapi.testclient import TestClient
from support.api import (
    NORTH,
    SEIZURES_CSV,
    SOUTH,
    api_settings,
    bearer,
    build_region,
    create_key,
    same_origin,
)
from support.workspaces import open_workspace

from geoint.api.app import create_app

pytestmark = pytest.mark.databases

PROBLEM = "application/problem+json"
CSV = {"Content-Type": "text/csv"}
PINGS_CSV = (
    "vehicle_id,ts,lat,lon,speed_kmh\n"
    f"V1,2026-09-14T08:00:00Z,{SOUTH[0]},{SOUTH[1]},40\n"
    f"V1,2026-09-14T08:01:00Z,{SOUTH[0] + 0.005},{SOUTH[1]},40\n"
    "V1,2026-09-14T08:02:00Z,0,0,40\n"
    "V2,yesterday,6.5,2.6,\n"
)


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    return build_region(tmp_path_factory.mktemp("api") / "region")


@pytest.fixture
def ws(tmp_path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def keys(ws) -> dict[str, str]:
    return {
        "admin": create_key(ws, "admin"),
        "analyst": create_key(ws, "analyst"),
        "unit": create_key(ws, "unit", ("south",)),
        "feeder": create_key(ws, "feeder"),
    }


@pytest.fixture
def client(ws, region, keys):
    app = create_app(api_settings(ws, region, max_body_bytes=4096, default_limit=2, max_limit=50))
    with TestClient(app) as test_client:
        yield test_client


def _stored_pings(ws: Path) -> pl.DataFrame:
    store = open_workspace(ws)
    try:
        return store.scan_pings().collect()
    finally:
        store.engine.dispose()


def _post(client, path, key, body, media="text/csv", **params):
    headers = {**bearer(key), "Content-Type": media}
    return client.post(path, content=body, headers=headers, params=params)


# ------------------------------------------------------------------------------ auth
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ogc"),
        ("GET", "/ogc/collections"),
        ("GET", "/ogc/collections/roads/items"),
        ("GET", "/api/v1/audit"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("POST", "/api/v1/pings"),
        ("POST", "/api/v1/seizures"),
        ("GET", "/osmand"),
        ("POST", "/logout"),
    ],
)
def test_everything_but_health_and_login_needs_a_key(client, method, path):
    response = client.request(method, path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 401


def test_health_and_login_form_are_public(client):
    assert client.get("/health").json()["status"] == "ok"
    page = client.get("/login")
    assert page.status_code == 200 and 'name="key"' in page.text


def test_unknown_and_revoked_keys_are_refused(client, ws, keys):
    from geoint.store.keys import KeyStore

    assert client.get("/ogc", headers=bearer("geo_nope_nope")).status_code == 401
    assert client.get("/ogc", headers=bearer(keys["analyst"])).status_code == 200  # remembered
    store = open_workspace(ws)  # another connection, as the CLI in another process
    key_id = keys["analyst"].split("_")[1]
    KeyStore(store).revoke(key_id)
    store.engine.dispose()
    response = client.get("/ogc", headers=bearer(keys["analyst"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_credential_is_proven_once_per_request(client, keys, monkeypatch):
    """The guard proves the key before any route runs; the route's own check reuses it."""
    from geoint.store.keys import KeyStore

    proofs = []
    recall = KeyStore.recall
    monkeypatch.setattr(
        KeyStore, "recall", lambda self, *args: proofs.append(args) or recall(self, *args)
    )
    assert client.get("/ogc", headers=bearer(keys["analyst"])).status_code == 200
    assert len(proofs) == 1
    position = {"id": "phone-7", "lat": 6.51, "lon": 2.61, "timestamp": "1789372800"}
    assert client.get("/osmand", params={**position, "key": keys["feeder"]}).status_code == 200
    assert len(proofs) == 2
    # a device route takes the key parameter over a session cookie the guard proved first
    client.post("/login", data={"key": keys["analyst"]})
    proofs.clear()
    by_key = client.get("/osmand", params={**position, "key": keys["unit"]})
    assert by_key.status_code == 403 and [session for _, session in proofs] == [True, False]


def test_feeder_ingests_but_cannot_read(client, keys):
    assert _post(client, "/api/v1/pings", keys["feeder"], PINGS_CSV).status_code == 200
    for path in ("/ogc", "/ogc/collections", "/ogc/collections/seizures/items", "/api/v1/audit"):
        response = client.get(path, headers=bearer(keys["feeder"]))
        assert response.status_code == 403, path
        assert response.headers["content-type"] == PROBLEM


def test_unit_sees_only_its_sectors_and_cannot_ingest(client, keys):
    assert _post(client, "/api/v1/seizures", keys["admin"], SEIZURES_CSV).status_code == 200
    unit, analyst = bearer(keys["unit"]), bearer(keys["analyst"])

    items = client.get("/ogc/collections/seizures/items", headers=unit).json()
    assert [f["id"] for f in items["features"]] == ["S-SOUTH"]
    assert items["numberMatched"] == 1
    everything = client.get("/ogc/collections/seizures/items", headers=analyst).json()
    assert {f["id"] for f in everything["features"]} == {"S-SOUTH", "S-NORTH"}

    assert client.get("/ogc/collections/seizures/items/S-NORTH", headers=unit).status_code == 404
    assert client.get("/ogc/collections/seizures/items/S-SOUTH", headers=unit).status_code == 200
    north_box = {"bbox": f"{NORTH[1] - 1},{NORTH[0] - 1},{NORTH[1] + 1},{NORTH[0] + 1}"}
    boxed = client.get("/ogc/collections/seizures/items", headers=unit, params=north_box)
    assert boxed.json()["features"] == []

    sectors = client.get("/ogc/collections/sectors/items", headers=unit).json()
    assert [f["properties"]["sector_id"] for f in sectors["features"]] == ["south"]
    crossings = client.get("/ogc/collections/crossings/items", headers=unit).json()
    assert [f["properties"]["name"] for f in crossings["features"]] == ["Seme"]

    refused = _post(client, "/api/v1/pings", keys["unit"], PINGS_CSV)
    assert refused.status_code == 403 and refused.json()["role"] == "unit"


def test_admin_reads_the_audit_of_writes(client, keys):
    _post(client, "/api/v1/pings", keys["feeder"], PINGS_CSV)
    _post(client, "/api/v1/pings", keys["analyst"], "x", media="application/xml")
    client.get("/ogc/collections", headers=bearer(keys["analyst"]))  # a read: not audited

    audit = client.get("/api/v1/audit", headers=bearer(keys["admin"]), params={"limit": 1})
    assert audit.status_code == 200
    body = audit.json()
    assert body["numberMatched"] == 2 and body["numberReturned"] == 1
    assert any(link["rel"] == "next" for link in body["links"])
    entries = client.get("/api/v1/audit", headers=bearer(keys["admin"])).json()["entries"]
    newest, oldest = entries
    assert (newest["key_id"], newest["status"]) == (keys["analyst"].split("_")[1], 415)
    assert (oldest["key_id"], oldest["method"], oldest["path"], oldest["status"]) == (
        keys["feeder"].split("_")[1],
        "POST",
        "/api/v1/pings",
        200,
    )
    assert "2 accepted" in oldest["summary"] and "2 quarantined" in oldest["summary"]
    assert client.get("/api/v1/audit", headers=bearer(keys["analyst"])).status_code == 403


def test_posts_stored_in_a_group_are_audited_once_with_the_group(client, keys):
    position = {"id": "phone-1", "lat": SOUTH[0], "lon": SOUTH[1], "timestamp": "1789372800"}
    device = client.get("/osmand", params={**position, "key": keys["feeder"]})
    posted = _post(client, "/api/v1/pings", keys["feeder"], PINGS_CSV)
    again = _post(client, "/api/v1/pings", keys["feeder"], PINGS_CSV)  # stores nothing
    assert [r.status_code for r in (device, posted, again)] == [200, 200, 200]
    audit = client.get("/api/v1/audit", headers=bearer(keys["admin"]), params={"limit": 10})
    entries = audit.json()["entries"]
    # the first two in their groups' transactions (the store process), the repeat by the
    # response: one entry each, newest first
    assert [(e["path"], e["status"]) for e in entries] == [
        ("/api/v1/pings", 200), ("/api/v1/pings", 200), ("/osmand", 200)
    ]  # fmt: skip
    summaries = [e["summary"] for e in entries]
    assert summaries[0].endswith("(already ingested)") and "2 accepted" in summaries[1]
    batch = device.json()["batch_id"]
    assert summaries[2] == f"pings: 1 rows, 1 accepted, 0 duplicates, 0 quarantined, batch {batch}"


def test_browser_session_is_httponly_strict_and_ends_with_logout(client, keys):
    wrong = client.post("/login", data={"key": "geo_x_y"})
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
    signed_in = client.post(
        "/login", data={"key": keys["analyst"], "next": "//evil.example/"}, follow_redirects=False
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/docs"
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=" in cookie
    assert client.get("/ogc/conformance").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.post("/logout", headers=same_origin(), follow_redirects=False).status_code == 303
    assert client.get("/ogc/conformance").status_code == 401


def test_browser_without_session_is_pointed_to_the_login_page(client):
    page = client.get("/docs", headers={"Accept": "text/html"})
    assert page.status_code == 401 and "/login?next=/docs" in page.text


def test_docs_load_only_local_assets(client, keys):
    page = client.get("/docs", headers=bearer(keys["analyst"])).text
    assert "cdn" not in page.lower() and "http" not in page.split("<script>")[0]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        response = client.get(f"/docs/assets/{asset}", headers=bearer(keys["analyst"]))
        assert response.status_code == 200 and len(response.content) > 10_000
    schema = client.get("/openapi.json", headers=bearer(keys["analyst"])).json()
    assert "/ogc/collections/{collection_id}/items" in schema["paths"]


# ---------------------------------------------------------------------------- ingest
def test_csv_ingest_reports_and_lists_row_errors_as_a_problem(client, keys, ws):
    response = _post(client, "/api/v1/pings", keys["feeder"], PINGS_CSV)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    report = response.json()
    assert (report["rows"], report["accepted"], report["quarantined"]) == (4, 2, 2)
    assert report["quarantined_by_reason"] == {"null_island": 1, "unparsable_time": 1}
    problem = report["problem"]
    assert problem["status"] == 422 and problem["type"].startswith("urn:geoint:problem:")
    assert [(e["row"], e["column"], e["reason"]) for e in problem["errors"]] == [
        (3, "lat", "null_island"),
        (4, "ts", "unparsable_time"),
    ]
    assert _stored_pings(ws).height == 2


def test_json_array_and_ndjson_bodies_number_rows_by_position(client, keys, ws):
    records = [
        {"vehicle_id": "J1", "ts": "2026-09-14T09:00:00Z", "lat": 6.6, "lon": 2.6},
        {"vehicle_id": "J1", "ts": "2026-09-14T09:01:00Z", "lat": 95.0, "lon": 2.6},
        "not an object",
    ]
    report = _post(
        client, "/api/v1/pings", keys["feeder"], orjson.dumps(records), "application/json"
    ).json()
    assert report["accepted"] == 1
    assert {(e["row"], e["reason"]) for e in report["problem"]["errors"]} == {
        (2, "out_of_range_coordinates"),
        (3, "malformed_record"),
    }
    lines = b"\n".join(orjson.dumps({**r, "vehicle_id": "N1"}) for r in records[:2])
    report = _post(client, "/api/v1/pings", keys["feeder"], lines, "application/x-ndjson").json()
    assert (report["accepted"], report["quarantined"]) == (1, 1)
    assert _stored_pings(ws).height == 2


def test_same_body_twice_stores_nothing_twice(client, keys, ws):
    first = _post(client, "/api/v1/pings", keys["feeder"], PINGS_CSV).json()
    second = _post(client, "/api/v1/pings", keys["feeder"], PINGS_CSV).json()
    assert first["accepted"] == 2 and second["already_ingested"] and second["accepted"] == 0
    assert _stored_pings(ws).height == 2


def test_column_mapping_parameter(client, keys):
    body = "device,time,latitude,longitude\nM1,2026-09-14T08:00:00Z,6.5,2.6\n"
    params = {"map": ["vehicle_id=device", "ts=time", "lat=latitude", "lon=longitude"]}
    response = _post(client, "/api/v1/pings", keys["feeder"], body, **params)
    assert response.json()["accepted"] == 1
    bad = _post(client, "/api/v1/pings", keys["feeder"], body, map="lat")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "map"


@pytest.mark.parametrize(
    ("body", "media", "status", "column"),
    [
        ("vehicle,when,lat,lon\nV1,2026-09-14T08:00:00Z,6.5,2.6\n", "text/csv", 422, "vehicle_id"),
        ("", "text/csv", 422, None),
        ("{not json", "application/json", 422, None),
        ("[]", "application/json", 422, None),
        ('{"type": "Topology"}', "application/geo+json", 422, None),
        ("<gpx/>", "application/xml", 415, None),
        ("vehicle_id,ts,lat,lon\n", "", 415, None),
    ],
)
def test_unreadable_uploads_are_problems_and_store_nothing(
    client, keys, ws, body, media, status, column
):
    response = _post(client, "/api/v1/pings", keys["feeder"], body, media)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status and problem["detail"]
    if column:
        assert problem["column"] == column and column in problem["detail"]
    assert _stored_pings(ws).height == 0


def test_huge_bodies_are_refused_before_being_read(client, keys, ws):
    big = PINGS_CSV + "V3,2026-09-14T08:00:00Z,6.5,2.6,1\n" * 200
    declared = _post(client, "/api/v1/pings", keys["feeder"], big)
    assert declared.status_code == 413 and declared.headers["content-type"] == PROBLEM
    assert declared.json()["max_bytes"] == 4096

    def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(200):
            yield b"V3,2026-09-14T08:00:00Z,6.5,2.6,1\n"

    streamed = client.post(
        "/api/v1/pings", content=chunks(), headers={**bearer(keys["feeder"]), **CSV}
    )
    assert streamed.status_code == 413
    assert _stored_pings(ws).height == 0


def test_osmand_protocol(client, keys, ws):
    position = {"id": "phone-7", "lat": 6.51, "lon": 2.61, "timestamp": "1789372800"}
    by_query = client.get("/osmand", params={**position, "speed": 10, "key": keys["feeder"]})
    assert by_query.status_code == 200 and by_query.json()["accepted"] == 1
    later = {**position, "timestamp": "1789372860000", "bearing": 90, "accuracy": 8}
    by_header = client.post("/osmand", params=later, headers=bearer(keys["feeder"]))
    assert by_header.json()["accepted"] == 1
    iso = {**position, "timestamp": "2026-09-14T08:02:00Z", "altitude": 30, "batt": 80}
    assert client.get("/osmand", params={**iso, "key": keys["feeder"]}).json()["accepted"] == 1

    stored = _stored_pings(ws).sort("ts")
    assert stored["vehicle_id"].unique().to_list() == ["phone-7"]
    assert stored["speed_kmh"][0] == pytest.approx(18.52)
    assert stored["heading"][1] == 90 and stored["source"][0] == "osmand"
    assert stored["ts"][1].isoformat() == "2026-09-14T08:01:00+00:00"

    off_earth = client.get("/osmand", params={**position, "lat": 95, "key": keys["feeder"]})
    assert off_earth.json()["problem"]["errors"][0]["reason"] == "out_of_range_coordinates"
    not_number = client.get("/osmand", params={**position, "lat": "north", "key": keys["feeder"]})
    assert not_number.status_code == 400 and not_number.json()["errors"][0]["field"] == "lat"
    assert client.get("/osmand", params=position).status_code == 401
    assert client.get("/osmand", params={**position, "key": keys["unit"]}).status_code == 403
    assert _stored_pings(ws).height == 3


@pytest.mark.parametrize(
    ("change", "field", "detail"),
    [
        ({"id": None}, "id", "required"),
        ({"id": ""}, "id", "must not be empty"),
        ({"id": "x" * 129}, "id", "at most 128 characters"),
        ({"timestamp": None}, "timestamp", "required"),
        ({"lon": None}, "lon", "required"),
        ({"speed": "fast"}, "speed", "expected a number"),
        ({"accuracy": ""}, "accuracy", "expected a number"),
    ],
)
def test_osmand_names_the_parameter_it_cannot_read(client, keys, ws, change, field, detail):
    position = {"id": "phone-7", "lat": 6.51, "lon": 2.61, "timestamp": "1789372800"}
    query = {
        k: v for k, v in {**position, **change, "key": keys["feeder"]}.items() if v is not None
    }
    response = client.get("/osmand", params=query)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["errors"] == [
        {
            "in": "query",
            "field": field,
            "reason": "invalid",
            "detail": problem["errors"][0]["detail"],
        }
    ]
    assert detail in problem["detail"] and field in problem["detail"]
    assert _stored_pings(ws).height == 0


def test_osmand_parameters_are_documented(client, keys):
    schema = client.get("/openapi.json", headers=bearer(keys["analyst"])).json()
    for method in ("get", "post"):
        operation = schema["paths"]["/osmand"][method]
        parameters = {p["name"]: p for p in operation["parameters"]}
        assert set(parameters) == {
            "id", "lat", "lon", "timestamp", "speed", "bearing", "accuracy", "key"
        }  # fmt: skip
        assert [n for n, p in parameters.items() if p["required"]] == [
            "id", "lat", "lon", "timestamp"
        ]  # fmt: skip
        assert parameters["lat"]["schema"] == {"type": "number"}
        assert operation["security"] == [{"apiKey": []}]
        assert "400" in operation["responses"] and "401" in operation["responses"]


def test_record_endpoints_use_the_cli_validation(client, keys):
    seizures = _post(client, "/api/v1/seizures", keys["analyst"], SEIZURES_CSV).json()
    assert seizures["accepted"] == 2
    by_place = (
        "seizure_id,date,place,commodity\n"
        "P1,2026-09-01,Porto-Novo,drugs\n"
        "P2,2026-09-01,Nowhere-Town-Q,drugs\n"
    )
    report = _post(client, "/api/v1/seizures", keys["analyst"], by_place).json()
    assert report["accepted"] == 1 and report["quarantined_by_reason"] == {"unknown_place": 1}

    watch = [{"vehicle_id": "TRK-1", "reason": "tip-off", "expires": "2027-01-01"}]
    watchlist = _post(
        client, "/api/v1/watchlist", keys["analyst"], orjson.dumps(watch), "application/json"
    )
    assert watchlist.json()["accepted"] == 1
    declarations = (
        "vehicle_id,corridor_id,start,deadline,dest_lat,dest_lon\n"
        "TRK-1,C1,2026-09-01T00:00:00Z,2026-09-03T00:00:00Z,9.3,2.6\n"
    )
    assert (
        _post(client, "/api/v1/declarations", keys["analyst"], declarations).json()["accepted"] == 1
    )


def test_untrusted_description_comes_back_as_a_json_string(client, keys):
    _post(client, "/api/v1/seizures", keys["admin"], SEIZURES_CSV)
    response = client.get("/ogc/collections/seizures/items/S-NORTH", headers=bearer(keys["admin"]))
    assert response.headers["content-type"] == "application/geo+json"
    assert response.json()["properties"]["description"] == ('<script>alert(1)</script> & "quoted"')
    assert b"\\u003c" not in response.content and b'"<script>' in response.content


def test_parameter_errors_are_field_level_problems(client, keys):
    headers = bearer(keys["analyst"])
    cases = {
        "limit": {"limit": 0},
        "offset": {"offset": -1},
        "bbox": {"bbox": "1,2,3"},
        "datetime": {"datetime": "2026-13-40"},
    }
    for field, params in cases.items():
        response = client.get("/ogc/collections/seizures/items", headers=headers, params=params)
        assert response.status_code == 400, field
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["field"] == field
    too_many = client.get("/ogc/collections/roads/items", headers=headers, params={"limit": 51})
    assert too_many.status_code == 400
    untimed = client.get(
        "/ogc/collections/roads/items", headers=headers, params={"datetime": "2026-09-14"}
    )
    assert untimed.status_code == 400 and "has no time" in untimed.json()["detail"]
    missing = client.get("/ogc/collections/nope/items", headers=headers)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM

"""OGC API – Features in process: landing, conformance, collections, paging, bbox, datetime."""

from datetime import UTC, datetime

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
)
from support.workspaces import open_workspace

from geoint.api.app import create_app
from geoint.h3index import latlng_to_cells
from geoint.schema import EVENT_SCHEMA

pytestmark = pytest.mark.databases

LAYERS = ["border", "sides", "roads", "crossings", "sectors", "places", "rivers"]


def _events() -> pl.DataFrame:
    lat, lon = [SOUTH[0], NORTH[0]], [SOUTH[1], NORTH[1]]
    return pl.DataFrame(
        {
            "event_id": ["E-south", "E-north"],
            "event_type": ["border_loiter", "unofficial_crossing"],
            "vehicle_id": ["V1", "V2"],
            "other_vehicle_id": [None, None],
            "start": [datetime(2026, 9, 14, 1, tzinfo=UTC), datetime(2026, 9, 15, 2, tzinfo=UTC)],
            "end": [datetime(2026, 9, 14, 3, tzinfo=UTC), datetime(2026, 9, 15, 2, tzinfo=UTC)],
            "lat": lat,
            "lon": lon,
            "cell": latlng_to_cells(pl.Series(lat).to_numpy(), pl.Series(lon).to_numpy(), 8),
            "side_from": [0, 0],
            "side_to": [0, 1],
            "night": [True, True],
            "distance_to_border_m": [800.0, 0.0],
            "distance_to_crossing_m": [float("inf"), 5200.0],
            "evidence": [[1, 2, 3], [7, 8]],
            "detail": ['{"stop_minutes": 95}', '{"crossing_km": 5.2}'],
        },
        schema=EVENT_SCHEMA,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory, module_database_url):
    """A client on a workspace with two seizures and two events; its keys."""
    root = tmp_path_factory.mktemp("ogc")
    region, ws = build_region(root / "region"), root / "ws"
    keys = {role: create_key(ws, role) for role in ("admin", "analyst")}
    keys["unit"] = create_key(ws, "unit", ("north",))
    store = open_workspace(ws)
    store.write_events(_events())
    store.engine.dispose()
    app = create_app(api_settings(ws, region, default_limit=3, max_limit=100))
    with TestClient(app) as client:
        seizures = client.post(
            "/api/v1/seizures",
            content=SEIZURES_CSV,
            headers={**bearer(keys["admin"]), "Content-Type": "text/csv"},
        )
        assert seizures.json()["accepted"] == 2
        yield client, keys


def _get(served, path, role="analyst", **params):
    client, keys = served
    response = client.get(path, headers=bearer(keys[role]), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_landing_page_and_conformance(served):
    landing = _get(served, "/ogc")
    rels = {link["rel"]: link["href"] for link in landing["links"]}
    assert rels["conformance"].endswith("/ogc/conformance")
    assert rels["data"].endswith("/ogc/collections")
    assert rels["service-desc"].endswith("/openapi.json") and rels["service-doc"].endswith("/docs")
    classes = _get(served, "/ogc/conformance")["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes


def test_collections_are_the_region_layers_seizures_events_and_alerts(served):
    collections = _get(served, "/ogc/collections")["collections"]
    assert [c["id"] for c in collections] == [*LAYERS, "seizures", "events", "alerts"]
    seizures = _get(served, "/ogc/collections/seizures")
    assert seizures["extent"]["temporal"]["interval"] == [
        ["2026-09-14T00:00:00+00:00", "2026-09-20T02:40:00+00:00"]
    ]
    west, south, east, north = seizures["extent"]["spatial"]["bbox"][0]
    assert (south, west, north, east) == (*SOUTH, *NORTH)
    unit_view = _get(served, "/ogc/collections/seizures", role="unit")
    assert unit_view["extent"]["spatial"]["bbox"][0] == [NORTH[1], NORTH[0], NORTH[1], NORTH[0]]


def test_items_page_with_next_and_prev_links(served):
    client, keys = served
    first = _get(served, "/ogc/collections/places/items")
    total = first["numberMatched"]
    assert first["numberReturned"] == 3 < total
    seen, page = [], first
    while True:
        seen += [f["id"] for f in page["features"]]
        following = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        response = client.get(following[0], headers=bearer(keys["analyst"]))
        assert response.headers["content-type"] == "application/geo+json"
        page = response.json()
        assert any(link["rel"] == "prev" for link in page["links"])
    assert seen == list(range(total))


def test_layer_bbox_and_single_item(served):
    near_seme = _get(served, "/ogc/collections/crossings/items", bbox="2.6,6.3,2.8,6.5")
    assert [f["properties"]["name"] for f in near_seme["features"]] == ["Seme"]
    crossing = _get(served, "/ogc/collections/crossings/items/1")
    assert crossing["properties"] == {"name": "Kalale", "hours": "06:00-18:00"}
    assert crossing["geometry"] == {"type": "Point", "coordinates": [3.45, 10.3]}
    assert any(link["rel"] == "collection" for link in crossing["links"])
    client, keys = served
    for missing in ("2", "x", "-1"):
        response = client.get(
            f"/ogc/collections/crossings/items/{missing}", headers=bearer(keys["analyst"])
        )
        assert response.status_code == 404


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ("2026-09-14", ["S-SOUTH"]),
        ("2026-09-20T02:40:00Z", ["S-NORTH"]),
        ("2026-09-20T03:40:00+01:00", ["S-NORTH"]),
        ("2026-09-01/2026-09-15", ["S-SOUTH"]),
        ("2026-09-15/..", ["S-NORTH"]),
        ("../2026-09-30", ["S-SOUTH", "S-NORTH"]),
        ("/2026-09-13", []),
    ],
)
def test_seizures_by_datetime(served, interval, expected):
    items = _get(served, "/ogc/collections/seizures/items", datetime=interval)
    assert [f["id"] for f in items["features"]] == expected


def test_seizure_features_carry_hex_cells_and_cen_fields(served):
    feature = _get(served, "/ogc/collections/seizures/items/S-SOUTH")
    properties = feature["properties"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [SOUTH[1], SOUTH[0]]}
    assert properties["commodity"] == "fuel" and properties["ts"] == "2026-09-14T00:00:00+00:00"
    assert int(properties["cell"], 16) == int(latlng_to_cells([SOUTH[0]], [SOUTH[1]], 8)[0])
    assert "batch" not in properties


def test_events_collection_serves_the_stored_events(served):
    items = _get(served, "/ogc/collections/events/items")
    assert [f["id"] for f in items["features"]] == ["E-south", "E-north"]
    south = items["features"][0]["properties"]
    assert south["detail"] == {"stop_minutes": 95} and south["evidence"] == [1, 2, 3]
    overlapping = _get(served, "/ogc/collections/events/items", datetime="2026-09-14T02:00:00Z")
    assert [f["id"] for f in overlapping["features"]] == ["E-south"]
    north_only = _get(served, "/ogc/collections/events/items", role="unit")
    assert [f["id"] for f in north_only["features"]] == ["E-north"]
    assert north_only["features"][0]["properties"]["distance_to_border_m"] == 0.0


def test_antimeridian_bbox_is_accepted(served):
    items = _get(served, "/ogc/collections/seizures/items", bbox="170,-10,-170,10")
    assert items["numberMatched"] == 0

"""Seizure queries pushed into SQL: `/api/v1/seizures` and the OGC `seizures` collection give
the same seizures as the same filters in pandas, trends equal a pandas group-by, an unknown
filter is a 400 problem, and KML parses with pyogrio with the right count."""

from __future__ import annotations

import pandas as pd
import pyogrio
import pytest
from fastapi.testclient import TestClient
from support.api import api_settings, bearer, build_region, create_key
from support.seizures import (
    EXTRA_SEIZURES_CSV,
    SAMPLE_SEIZURES,
    crossing_oracle,
    pandas_trends,
    stored_frame,
)
from support.workspaces import open_workspace

from geoint.api.app import create_app
from geoint.layers import Region

pytestmark = pytest.mark.databases

RADIUS_M = 10_000.0


@pytest.fixture(scope="module")
def served(tmp_path_factory, module_database_url):
    """A client on the sample seizures plus three hand-made ones; keys; the pandas frame."""
    root = tmp_path_factory.mktemp("seizures")
    region, ws = build_region(root / "region"), root / "ws"
    keys = {"analyst": create_key(ws, "analyst"), "admin": create_key(ws, "admin")}
    keys["unit"] = create_key(ws, "unit", ("north",))
    app = create_app(api_settings(ws, region, max_limit=1000))
    with TestClient(app) as client:
        for body in (SAMPLE_SEIZURES.read_text(encoding="utf-8"), EXTRA_SEIZURES_CSV):
            posted = client.post(
                "/api/v1/seizures",
                content=body,
                headers={**bearer(keys["admin"]), "Content-Type": "text/csv"},
            )
            assert posted.status_code == 200 and posted.json()["quarantined"] == 0, posted.text
        store = open_workspace(ws)
        frame = stored_frame(store.engine)
        store.engine.dispose()
        frame["crossing"] = crossing_oracle(frame, Region.load(region), RADIUS_M)
        yield client, keys, frame


def _lower(column: pd.Series) -> pd.Series:
    return column.str.lower()


# (query parameters, the same filter in pandas)
FILTERS = [
    ({"commodity": "fuel"}, lambda d: d.commodity == "fuel"),
    ({"commodity": "fuel,drugs"}, lambda d: d.commodity.isin(["fuel", "drugs"])),
    ({"commodity": ["fuel", "drugs"]}, lambda d: d.commodity.isin(["fuel", "drugs"])),
    (
        {"transport_mode": "truck", "direction": "import"},
        lambda d: (d.transport_mode == "truck") & (d.direction == "import"),
    ),
    # vocabulary fields take a code, a label or an alias and match the stored code
    ({"concealment": "FALSE FLOOR"}, lambda d: d.concealment == "roof_floor"),
    (
        {"concealment": "Roof or floor,fuel_tank"},
        lambda d: d.concealment.isin(["roof_floor", "fuel_tank"]),
    ),
    ({"detection_method": "Scanner ou rayons X"}, lambda d: d.detection_method == "scanner"),
    ({"origin_country": "nigeria"}, lambda d: _lower(d.origin_country) == "nigeria"),
    ({"destination_country": "Niger"}, lambda d: _lower(d.destination_country) == "niger"),
    ({"crossing": "Seme"}, lambda d: d.crossing == "Seme"),
    (
        {"from": "2026-03-03", "to": "2026-03-04"},
        lambda d: (d.ts >= "2026-03-03") & (d.ts < "2026-03-05"),
    ),
    ({"from": "2026-03-05T12:00:00Z"}, lambda d: d.ts >= "2026-03-05 12:00:00"),
    (
        {"bbox": "2.5,6.3,3.0,9.0"},
        lambda d: d.lon.between(2.5, 3.0) & d.lat.between(6.3, 9.0),
    ),
    (
        {"q": "CANNABIS"},
        lambda d: d.description.str.lower().str.contains("cannabis", regex=False),
    ),
    ({"q": "50%_"}, lambda d: d.description.fillna("").str.contains("50%_", regex=False)),
    (
        {"commodity": "fuel", "transport_mode": "car", "from": "2026-03-04", "bbox": "1,6,4,12"},
        lambda d: (
            (d.commodity == "fuel")
            & (d.transport_mode == "car")
            & (d.ts >= "2026-03-04")
            & d.lon.between(1, 4)
            & d.lat.between(6, 12)
        ),
    ),
]


def _ids(frame: pd.DataFrame) -> list[str]:
    return frame.sort_values(["ts", "seizure_id"])["seizure_id"].tolist()


@pytest.mark.parametrize(("params", "oracle"), FILTERS)
def test_filters_equal_pandas_on_the_api_and_ogc(served, params, oracle):
    client, keys, frame = served
    expected = _ids(frame[oracle(frame).fillna(False).astype(bool)])
    assert expected, "every filter case keeps some seizures"
    headers = bearer(keys["analyst"])
    listed = client.get("/api/v1/seizures", params={**params, "limit": 1000}, headers=headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert [s["seizure_id"] for s in body["seizures"]] == expected
    assert body["numberMatched"] == len(expected)
    ogc_params = {k: v for k, v in params.items() if k not in ("from", "to")}
    if "from" in params or "to" in params:
        ogc_params["datetime"] = f"{params.get('from', '..')}/{params.get('to', '..')}"
    items = client.get("/ogc/collections/seizures/items", params={**ogc_params, "limit": 1000},
                       headers=headers)  # fmt: skip
    assert items.status_code == 200, items.text
    assert [f["id"] for f in items.json()["features"]] == expected


def test_a_page_counts_every_match(served):
    client, keys, frame = served
    page = client.get(
        "/api/v1/seizures",
        params={"commodity": "fuel", "limit": 5, "offset": 5},
        headers=bearer(keys["analyst"]),
    ).json()
    fuel = _ids(frame[frame.commodity == "fuel"])
    assert [s["seizure_id"] for s in page["seizures"]] == fuel[5:10]
    assert page["numberMatched"] == len(fuel) and page["numberReturned"] == 5
    assert any(link["rel"] == "next" for link in page["links"])


def test_a_unit_sees_only_the_seizures_of_its_sectors(served):
    client, keys, frame = served
    headers = bearer(keys["unit"])
    body = client.get("/api/v1/seizures", params={"limit": 1000}, headers=headers).json()
    north = frame[frame.lat.between(9.0, 13.5) & frame.lon.between(1.0, 5.5)]
    assert sorted(s["seizure_id"] for s in body["seizures"]) == sorted(north.seizure_id)
    trends = client.get("/api/v1/seizures/trends", params={"by": "commodity"}, headers=headers)
    assert sum(row["count"] for row in trends.json()["series"]) == len(north)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/seizures", {"comodity": "fuel"}, "comodity"),
        ("/api/v1/seizures", {"commodity": "gold"}, "commodity"),
        ("/api/v1/seizures", {"from": "yesterday"}, "from"),
        ("/api/v1/seizures/trends", {"by": "colour"}, "by"),
        ("/api/v1/seizures/trends", {"period": "hour"}, "period"),
        ("/api/v1/seizures/trends", {"limit": "3"}, "limit"),
        ("/ogc/collections/seizures/items", {"comodity": "fuel"}, "comodity"),
        ("/ogc/collections/seizures/items", {"direction": "sideways"}, "direction"),
        ("/ogc/collections/roads/items", {"commodity": "fuel"}, "commodity"),
        ("/ogc/collections/events/items", {"f": "kml"}, "f"),
    ],
)
def test_an_unknown_filter_is_a_400_problem_naming_it(served, path, params, field):
    client, keys, _ = served
    response = client.get(path, params=params, headers=bearer(keys["analyst"]))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["field"] == field and field in problem["detail"]


def test_queryables_are_advertised(served):
    client, keys, _ = served
    headers = bearer(keys["analyst"])
    schema = client.get("/ogc/collections/seizures/queryables", headers=headers).json()
    assert set(schema["properties"]) == {
        "commodity", "transport_mode", "concealment", "detection_method", "direction",
        "vehicle_type", "origin_country", "destination_country", "crossing",
    }  # fmt: skip
    assert "fuel" in schema["properties"]["commodity"]["enum"]
    assert "fuel_tank" in schema["properties"]["concealment"]["enum"]
    described = client.get("/ogc/collections/seizures", headers=headers).json()
    assert any(link["rel"].endswith("/queryables") for link in described["links"])
    assert (
        client.get("/ogc/collections/roads/queryables", headers=headers).json()["properties"] == {}
    )


@pytest.mark.parametrize("period", ["week", "month"])
@pytest.mark.parametrize(
    "by",
    ["commodity", "transport_mode", "concealment", "detection_method", "direction",
     "origin_country", "crossing"],
)  # fmt: skip
def test_trends_equal_a_pandas_group_by(served, by, period):
    client, keys, frame = served
    response = client.get(
        "/api/v1/seizures/trends",
        params={"by": by, "period": period},
        headers=bearer(keys["analyst"]),
    )
    assert response.status_code == 200, response.text
    got = pd.DataFrame(response.json()["series"]).astype({"quantity": float})
    expected = pandas_trends(frame, by, period)
    key = ["key", "period"]
    got = got.fillna({"key": "\0"}).sort_values(key).reset_index(drop=True)
    expected = expected.fillna({"key": "\0"}).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got[[*key, "count", "quantity"]],
        expected[[*key, "count", "quantity"]],
        check_dtype=False,
    )


def test_filtered_trends_equal_pandas(served):
    client, keys, frame = served
    params = {"by": "transport_mode", "period": "week", "commodity": "fuel", "to": "2026-03-05"}
    got = client.get("/api/v1/seizures/trends", params=params, headers=bearer(keys["analyst"]))
    kept = frame[(frame.commodity == "fuel") & (frame.ts < "2026-03-06")]
    expected = pandas_trends(kept, "transport_mode", "week")
    assert sorted((r["key"], r["period"], r["count"]) for r in got.json()["series"]) == sorted(
        expected[["key", "period", "count"]].itertuples(index=False, name=None)
    )


def test_trends_filter_by_origin(served):
    client, keys, frame = served

    def total(origin: str) -> int:
        params = {"by": "commodity", "period": "month", "origin": origin}
        got = client.get("/api/v1/seizures/trends", params=params, headers=bearer(keys["analyst"]))
        assert got.status_code == 200, got.text
        return sum(row["count"] for row in got.json()["series"])

    # every seizure here is the workspace's own (partner ones: tests/exchange)
    assert total("local") == len(frame) and total("Benin Customs") == 0
    listed = client.get(
        "/api/v1/seizures", params={"origin": "local", "limit": 1}, headers=bearer(keys["analyst"])
    )
    assert listed.json()["numberMatched"] == len(frame)


def test_seizures_as_kml_parse_with_pyogrio(served, tmp_path):
    client, keys, frame = served
    headers = bearer(keys["analyst"])
    for path, params in (
        ("/api/v1/seizures", {"f": "kml", "limit": 1000}),
        ("/ogc/collections/seizures/items", {"f": "kml", "limit": 1000}),
        ("/ogc/collections/seizures/items", {"f": "kml", "commodity": "fuel", "limit": 1000}),
    ):
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/vnd.google-earth.kml+xml")
        file = tmp_path / "seizures.kml"
        file.write_bytes(response.content)
        read = pyogrio.read_dataframe(file)
        expected = frame if "commodity" not in params else frame[frame.commodity == "fuel"]
        assert len(read) == len(expected)
        assert b"<script>" not in response.content
        assert b"&amp;lt;script&amp;gt;" in response.content or "commodity" in params


def test_summary_has_breakdowns_routes_and_points(served):
    client, keys, frame = served
    body = client.get("/api/v1/seizures/summary", headers=bearer(keys["analyst"])).json()
    assert body["seizures"] == len(frame)
    modes = {row["key"]: row["count"] for row in body["breakdowns"]["transport_mode"]}
    assert modes == frame.transport_mode.value_counts().to_dict()
    routes = frame.groupby(["origin_country", "destination_country"]).size()
    top = body["routes"][0]
    assert top["count"] == routes.max()
    assert len(body["points"]) == len(frame)

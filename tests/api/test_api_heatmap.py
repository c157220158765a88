"""Heatmap GeoJSON, vector tiles and cell detail on the analysed sample scenario (`geoint demo`)."""

import asyncio
import os
import shutil
import subprocess
import sys
import time

import h3
import httpx2
import mapbox_vector_tile
import mercantile
import numpy as np
import orjson
import polars as pl
import pytest
import shapely
from fastapi.testclient import TestClient
from support.api import api_settings, bearer, create_key, start_server, stop_server

from geoint.api.app import create_app
from geoint.bench.api import send_requests, session_requests
from geoint.h3index import latlng_to_cells, parent_cells
from geoint.serve.cell_views import CellStore, cell_polygons, explain, round_box
from geoint.serve.heatmap import (
    TILE_BUFFER,
    TILE_EXTENT,
    BytesLRU,
    HeatmapQuery,
    Heatmaps,
    TileQuery,
    tile_resolution,
)

SEME = (6.3794, 2.7035)  # lat, lon of the Seme crossing
SEME_CELL = "8858918cd7fffff"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A workspace built by `geoint demo` (sample scenario ingested and analysed), its region."""
    ws = tmp_path_factory.mktemp("heatmap") / "W"
    command = [sys.executable, "-m", "geoint", "demo", "--workspace", str(ws), "--json"]
    subprocess.run(command, check=True, capture_output=True)
    return ws, ws / "region"


@pytest.fixture(scope="module")
def days(demo):
    return pl.read_parquet(demo[0] / "cells" / "days.parquet")


@pytest.fixture(scope="module")
def sector(days):
    """The sector with the most cells on the last day."""
    last = days.filter(pl.col("date") == days["date"].max())
    return last["sector_id"].drop_nulls().value_counts(sort=True)["sector_id"][0]


@pytest.fixture(scope="module")
def served(demo, sector):
    ws, region = demo
    keys = {role: create_key(ws, role) for role in ("admin", "feeder")}
    keys["unit"] = create_key(ws, "unit", (sector,))
    with TestClient(create_app(api_settings(ws, region, heatmap_max_limit=50_000))) as client:
        yield client, keys


def _get(served, path, role="admin", **params):
    client, keys = served
    return client.get(path, params=params, headers=bearer(keys[role]))


def _centre(cell: str) -> shapely.Point:
    lat, lon = h3.cell_to_latlng(cell)
    return shapely.Point(lon, lat)


def test_known_point_maps_to_its_cell_whose_polygon_holds_it():
    cell = latlng_to_cells(np.array([SEME[0]]), np.array([SEME[1]]), 8)
    assert h3.int_to_str(int(cell[0])) == SEME_CELL
    polygon = cell_polygons(cell)[0]
    ring = shapely.get_coordinates(polygon)
    assert (ring[0] == ring[-1]).all() and len(ring) == 7
    assert polygon.contains(shapely.Point(SEME[1], SEME[0]))  # lng/lat order
    assert not polygon.contains(shapely.Point(SEME[0], SEME[1]))


def test_risk_heatmap_is_valid_geojson_whose_contributions_add_up(served, days):
    response = _get(served, "/api/v1/heatmap", metric="risk", limit=50_000)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    latest = days.filter(pl.col("date") == days["date"].max())
    assert body["date"] == latest["date"][0].isoformat()
    assert body["numberMatched"] == latest.height == body["numberReturned"]
    assert body["truncated"] is False
    values = [f["properties"]["value"] for f in body["features"]]
    assert values == sorted(values, reverse=True)
    for feature in body["features"][:300]:
        geometry, props = feature["geometry"], feature["properties"]
        ring = geometry["coordinates"][0]
        assert geometry["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) >= 6
        assert shapely.Polygon(ring).contains(_centre(props["cell"]))
        parts = [props[f"c_{f}"] for f in ("events", "hotspot", "anomaly", "seizure_prior")]
        parts += [props[f"c_{f}"] for f in ("remoteness", "border", "night")]
        assert sum(parts) == pytest.approx(props["value"], abs=1e-9)
        assert props["contributions_sum"] == pytest.approx(props["value"], abs=1e-9)
    first = latest.sort("risk", descending=True).row(0, named=True)
    assert body["features"][0]["properties"]["value"] == pytest.approx(first["risk"])


def test_bbox_selects_cells_by_centre_and_limit_bounds_the_list(served, days):
    bbox, day = "2.6,6.3,2.9,6.9", days["date"].min().isoformat()
    everything = _get(served, "/api/v1/heatmap", metric="activity", date=day).json()
    boxed = _get(served, "/api/v1/heatmap", metric="activity", bbox=bbox, date=day).json()
    assert 0 < boxed["numberMatched"] < everything["numberMatched"]
    assert boxed["selectionBbox"] == [2.6, 6.3, 2.9, 6.9]
    for feature in boxed["features"]:
        centre = _centre(feature["properties"]["cell"])
        assert 2.6 <= centre.x <= 2.9 and 6.3 <= centre.y <= 6.9
    page = _get(served, "/api/v1/heatmap", metric="activity", bbox=bbox, date=day, limit=3).json()
    assert page["numberReturned"] == 3 and page["truncated"] is True
    assert page["numberMatched"] == boxed["numberMatched"]
    assert [f["id"] for f in page["features"]] == [f["id"] for f in boxed["features"][:3]]


@pytest.mark.parametrize("res", [5, 6, 7])
def test_parent_resolutions_are_parents_of_the_analysed_cells(served, days, res):
    body = _get(served, "/api/v1/heatmap", metric="risk", res=res, limit=50_000).json()
    latest = days.filter(pl.col("date") == days["date"].max())
    parents = set(parent_cells(latest["cell"].to_numpy(), res).tolist())
    cells = {h3.str_to_int(f["properties"]["cell"]) for f in body["features"]}
    assert cells == parents and body["resolution"] == res
    assert {h3.get_resolution(f["id"]) for f in body["features"]} == {res}


def test_other_metrics_and_an_earlier_day(served, days):
    first = days["date"].min()
    body = _get(served, "/api/v1/heatmap", metric="seizures", date=first.isoformat()).json()
    expected = days.filter((pl.col("date") == first) & (pl.col("seizures") > 0))
    assert body["date"] == first.isoformat() and body["numberMatched"] == expected.height
    for metric in ("anomaly", "hotspot"):
        assert _get(served, "/api/v1/heatmap", metric=metric).status_code == 200
    empty = _get(served, "/api/v1/heatmap", metric="risk", date="2001-01-01").json()
    assert empty["features"] == [] and empty["numberMatched"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"metric": "danger"},
        {"metric": "risk", "res": 9},
        {"metric": "risk", "date": "2026-13-01"},
        {"metric": "risk", "bbox": "1,2,3"},
        {"metric": "risk", "bbox": "3,6,2,7"},
        {"metric": "risk", "limit": 50_001},
        {"metric": "risk", "limit": 0},
        {},
    ],
)
def test_malformed_parameters_are_400_problems(served, params):
    response = _get(served, "/api/v1/heatmap", **params)
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM


def test_auth_and_unit_scope(served, days, sector):
    client, _ = served
    assert client.get("/api/v1/heatmap", params={"metric": "risk"}).status_code == 401
    assert client.get("/tiles/risk/8/131/124.mvt").status_code == 401
    assert _get(served, "/api/v1/heatmap", role="feeder", metric="risk").status_code == 403
    admin = _get(served, "/api/v1/heatmap", metric="risk", limit=50_000).json()
    unit = _get(served, "/api/v1/heatmap", role="unit", metric="risk", limit=50_000).json()
    owned = set(days.filter(pl.col("sector_id") == sector)["cell"].to_list())
    cells = {h3.str_to_int(f["id"]) for f in unit["features"]}
    assert cells and cells <= owned and unit["numberMatched"] < admin["numberMatched"]
    for res in (5, 6, 7):  # a parent is shown only when all its children are in the sector
        parents = _get(served, "/api/v1/heatmap", role="unit", metric="risk", res=res).json()
        for feature in parents["features"]:
            children = days.filter(
                pl.Series(parent_cells(days["cell"].to_numpy(), res))
                == h3.str_to_int(feature["id"])
            )
            assert set(children["sector_id"].to_list()) == {sector}


def _active_tile(days, zoom):
    """The tile at `zoom` holding the riskiest cell of the last day."""
    latest = days.filter(pl.col("date") == days["date"].max()).sort("risk", descending=True)
    lat, lon = h3.cell_to_latlng(h3.int_to_str(latest["cell"][0]))
    return mercantile.tile(lon, lat, zoom)


@pytest.mark.parametrize("zoom", [6, 8, 10, 13])
def test_vector_tiles_decode_with_cells_of_their_tile(served, days, zoom):
    tile = _active_tile(days, zoom)
    response = _get(served, f"/tiles/risk/{tile.z}/{tile.x}/{tile.y}.mvt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layers = mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})
    assert list(layers) == ["risk"]
    features = layers["risk"]["features"]
    assert features and layers["risk"]["extent"] == TILE_EXTENT
    west, south, east, north = mercantile.xy_bounds(tile)
    grow = (east - west) * TILE_BUFFER / TILE_EXTENT  # the tile with its buffer, in metres
    bounds = shapely.box(west - grow, south - grow, east + grow, north + grow)
    for feature in features:
        cell = feature["properties"]["cell"]
        assert h3.get_resolution(cell) == tile_resolution(zoom)
        ring = [mercantile.xy(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
        assert shapely.Polygon(ring).intersects(bounds)
        xy = np.array([p for ring in feature["geometry"]["coordinates"] for p in ring], dtype=float)
        assert xy.min() >= -TILE_BUFFER and xy.max() <= TILE_EXTENT + TILE_BUFFER


def test_empty_and_malformed_tiles(served):
    assert _get(served, "/tiles/risk/12/0/0.mvt").status_code == 204  # Arctic, no cell
    for path in ("/tiles/risk/3/8/0.mvt", "/tiles/danger/3/0/0.mvt", "/tiles/risk/23/0/0.mvt"):
        response = _get(served, path)
        assert response.status_code == 400 and response.headers["content-type"] == PROBLEM


def test_unit_tiles_hold_only_its_cells(served, days, sector):
    owned = days.filter(pl.col("sector_id") == sector)
    mine = days.filter(pl.col("date") == days["date"].max())
    mine = mine.filter(pl.col("sector_id") == sector).sort("risk", descending=True)
    lat, lon = h3.cell_to_latlng(h3.int_to_str(mine["cell"][0]))
    for zoom in (9, 12):
        tile = mercantile.tile(lon, lat, zoom)
        response = _get(served, f"/tiles/risk/{zoom}/{tile.x}/{tile.y}.mvt", role="unit")
        decoded = mapbox_vector_tile.decode(response.content)
        cells = {h3.str_to_int(f["properties"]["cell"]) for f in decoded["risk"]["features"]}
        resolution = tile_resolution(zoom)
        allowed = set(parent_cells(owned["cell"].to_numpy(), resolution).tolist())
        assert cells and cells <= allowed
        admin = _get(served, f"/tiles/risk/{zoom}/{tile.x}/{tile.y}.mvt")
        everyone = mapbox_vector_tile.decode(admin.content)["risk"]["features"]
        assert len(everyone) >= len(cells)
    assert mine["cell"][0] in cells  # at zoom 12: res 8


def _busy_cell(demo):
    """The res-8 cell with the most stored events."""
    events = pl.read_parquet(demo[0] / "events" / "events.parquet")
    return events.group_by("cell").len().sort("len", descending=True)["cell"][0]


def test_cell_detail_explains_the_score_and_lists_what_happened(served, demo, days):
    cell = _busy_cell(demo)
    hexed = h3.int_to_str(cell)
    response = _get(served, f"/api/v1/cells/{hexed}", days=2, events_limit=2, radius_m=20_000)
    assert response.status_code == 200
    body = response.json()
    rows = days.filter(pl.col("cell") == cell).sort("date")
    assert body["cell"] == hexed and body["resolution"] == 8
    assert body["context"]["distance_to_border_m"] == pytest.approx(rows["distance_to_border_m"][0])
    latest = body["latest"]
    assert latest["date"] == rows["date"][-1].isoformat()
    points = sum(f["points"] for f in latest["factors"].values())
    assert points == pytest.approx(latest["risk"], abs=1e-9)
    assert latest["factors"]["events"]["weight"] == 35
    assert body["emerging"]["emerging"]
    assert len(body["series"]) == min(2, rows.height) and body["days"] == rows.height
    events = body["events"]
    assert events["numberReturned"] == min(2, events["numberMatched"]) and events["numberMatched"]
    assert {e["cell"] for e in events["items"]} == {hexed}
    seizures = body["seizures"]["items"]
    distances = [s["distance_m"] for s in seizures]
    assert distances == sorted(distances) and all(d <= 20_000 for d in distances)
    assert all(isinstance(s["description"], str | None) for s in seizures)


def test_cell_detail_of_a_parent_and_bad_cells(served, demo, sector):
    cell = _busy_cell(demo)
    parent = h3.cell_to_parent(h3.int_to_str(cell), 5)
    body = _get(served, f"/api/v1/cells/{parent}").json()
    assert body["resolution"] == 5 and body["events"]["numberMatched"] >= 1
    assert body["emerging"] is None
    # no such cell in the tables: 404; not an H3 id, or not at a served resolution: 400
    for bad, status in (
        (SEME_CELL, 404),
        ("nonsense", 400),
        ("8058918cd7fffff", 400),
        (h3.cell_to_parent(SEME_CELL, 3), 400),
    ):
        response = _get(served, f"/api/v1/cells/{bad}")
        assert response.status_code == status and response.headers["content-type"] == PROBLEM
    assert _get(served, f"/api/v1/cells/{parent}", days=0).status_code == 400


def test_unit_cannot_read_cells_of_other_sectors(served, days, sector):
    latest = days.filter(pl.col("date") == days["date"].max())
    mine = latest.filter(pl.col("sector_id") == sector)["cell"][0]
    other = latest.filter(pl.col("sector_id") != sector)["cell"][0]
    assert _get(served, f"/api/v1/cells/{h3.int_to_str(mine)}", role="unit").status_code == 200
    assert _get(served, f"/api/v1/cells/{h3.int_to_str(other)}", role="unit").status_code == 404


def test_cell_store_reloads_a_rewritten_table(demo, tmp_path):
    shutil.copytree(demo[0] / "cells", tmp_path / "cells")
    store = CellStore(tmp_path)
    before = store.view(8)
    assert store.view(8) is before
    path = tmp_path / "cells" / "days.parquet"
    frame = pl.read_parquet(path)
    frame.with_columns(pl.col("risk") + 1).write_parquet(path)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    after = store.view(8)
    assert after is not before
    assert after.frame["risk"].sum() == pytest.approx(before.frame["risk"].sum() + frame.height)


def test_real_server_serves_heatmaps_and_tiles(demo, days, tmp_path):
    ws, region = demo
    key = create_key(ws, "analyst")
    server = start_server(ws, region, tmp_path / "server.log")
    try:
        url = f"{server.url}/api/v1/heatmap"
        assert httpx2.get(url, params={"metric": "risk"}).status_code == 401
        body = httpx2.get(url, params={"metric": "risk", "res": 6}, headers=bearer(key)).json()
        assert body["numberReturned"] > 0
        tile = _active_tile(days, 9)
        response = httpx2.get(
            f"{server.url}/tiles/risk/9/{tile.x}/{tile.y}.mvt", headers=bearer(key)
        )
        assert response.status_code == 200 and mapbox_vector_tile.decode(response.content)["risk"]
        heatmaps, tiles = session_requests(ws, 3)  # what `geoint bench api` sends, its client
        timings = asyncio.run(send_requests(server.url, key, heatmaps + tiles, clients=4))
        assert len(timings) == len(heatmaps) + len(tiles) and all(t > 0 for t, _ in timings)
    finally:
        stop_server(server)


def test_before_any_analysis_heatmaps_are_empty(tmp_path):
    heatmaps = Heatmaps(CellStore(tmp_path))
    body = orjson.loads(heatmaps.geojson(HeatmapQuery("risk", 6, None, None, None, 10)))
    assert body["features"] == [] and body["numberMatched"] == 0 and body["date"] is None
    assert heatmaps.tile(TileQuery("hotspot", 9, 262, 246, None, None)) is None
    assert explain(heatmaps.store, h3.str_to_int(SEME_CELL), 8, {}, 28) is None


def test_bbox_rounding_grows_outwards_and_zoom_picks_the_resolution():
    assert round_box((2.6, 6.3, 2.9, 6.9), 0.01) == pytest.approx((2.6, 6.3, 2.9, 6.9))
    assert round_box((2.601, 6.305, 2.8901, 6.9), 0.01) == pytest.approx((2.6, 6.3, 2.9, 6.9))
    assert round_box((-180, -90, 180, 90), 0.01) == (-180, -90, 180, 90)
    zooms = {z: tile_resolution(z) for z in (0, 7, 8, 9, 10, 11, 12, 22)}
    assert zooms == {0: 5, 7: 5, 8: 6, 9: 6, 10: 7, 11: 7, 12: 8, 22: 8}


def test_response_cache_is_bounded_in_bytes():
    cache = BytesLRU(3 * (BytesLRU.ENTRY_OVERHEAD + 100))
    for i in range(5):
        cache.put(i, b"x" * 100)
    assert [cache.get(i)[0] for i in range(5)] == [False, False, True, True, True]
    cache.put("big", b"x" * 10_000)  # larger than the whole budget: not kept
    assert cache.get("big") == (False, None) and cache.get(4) == (True, b"x" * 100)
    cache.put("empty", None)  # an empty tile is remembered too
    assert cache.get("empty") == (True, None)
    cache.put("keyed", b"x" * 100, extra_bytes=10_000)  # a large key counts: not kept
    assert cache.get("keyed") == (False, None)


def test_responses_are_gzipped_for_clients_that_accept_it(served):
    client, keys = served
    url = "/api/v1/heatmap?metric=risk&res=8&limit=500"
    plain = client.get(url, headers={**bearer(keys["admin"]), "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.content) > 100_000
    assert "accept-encoding" in plain.headers["vary"].lower()
    for accept in ("gzip", "br, gzip;q=0.5", "GZIP ; q=1"):
        packed = client.get(url, headers={**bearer(keys["admin"]), "Accept-Encoding": accept})
        assert packed.headers["content-encoding"] == "gzip"
        assert int(packed.headers["content-length"]) < len(plain.content) / 3
        assert packed.content == plain.content  # httpx decoded it
    refused = client.get(url, headers={**bearer(keys["admin"]), "Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers and refused.content == plain.content


def test_cached_responses_are_served_without_computing(served, monkeypatch):
    client, keys = served
    heatmaps = client.app_state["services"].heatmaps
    url = "/api/v1/heatmap?metric=activity&res=7&bbox=2.5,6.3,3.0,7.0"
    first = client.get(url, headers=bearer(keys["admin"]))
    tile = client.get("/tiles/activity/10/519/490.mvt", headers=bearer(keys["admin"]))

    def computing(*_args, **_kwargs):
        raise AssertionError("computed although cached")

    monkeypatch.setattr(heatmaps, "geojson", computing)
    monkeypatch.setattr(heatmaps, "tile", computing)
    again = client.get(url, headers=bearer(keys["admin"]))
    assert again.status_code == 200 and again.content == first.content
    tile_again = client.get("/tiles/activity/10/519/490.mvt", headers=bearer(keys["admin"]))
    assert tile_again.status_code == tile.status_code and tile_again.content == tile.content

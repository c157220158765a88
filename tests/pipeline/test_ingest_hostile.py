"""Hostile and odd inputs found by the attack review: Parquet columns of nested or odd types,
overflowing numbers, oversized or control-character ids. Each is refused row by row with a
reason (or as a whole input with one message), in the library, over HTTP and from the CLI."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from fastapi.testclient import TestClient
from support.api import api_settings, bearer, build_region, create_key
from support.cli import geoint

from geoint.api.app import create_app
from geoint.pipeline.ingest import ingest_pings, ingest_records

pytestmark = pytest.mark.databases

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
GOOD = {"vehicle_id": "V1", "ts": T0, "lat": 6.5, "lon": 2.6, "speed_kmh": 40.0}


def _parquet(column: str, values: list, dtype: pl.DataType | None = None) -> bytes:
    """Pings whose `column` holds the odd `values` (a Parquet column has one type)."""
    rows = [{**GOOD, "ts": T0 + timedelta(minutes=i)} for i in range(len(values))]
    frame = pl.DataFrame(rows).with_columns(pl.Series(column, values, dtype=dtype))
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


ODD_PINGS = {
    "list lat": ("lat", [[6.5, 6.6], [7.0]], None),
    "list vehicle_id": ("vehicle_id", [["V1"], ["V2", "V3"]], None),
    "list ts": ("ts", [[T0], [T0, T0]], None),
    "list speed": ("speed_kmh", [[1.0], [2.0]], None),
    "struct lon": ("lon", [{"x": 2.6}, {"x": 2.7}], None),
    "duration ts": ("ts", [timedelta(seconds=5), timedelta(days=20_000)], pl.Duration("us")),
    "binary vehicle_id": ("vehicle_id", [b"V9", b"\xff\xfe"], pl.Binary),
}


@pytest.mark.parametrize("case", sorted(ODD_PINGS))
def test_parquet_of_odd_types_is_quarantined_by_row(case, workspace, settings, tmp_path):
    column, values, dtype = ODD_PINGS[case]
    path = tmp_path / "odd.parquet"
    path.write_bytes(_parquet(column, values, dtype))
    report = ingest_pings(workspace, path, settings, now=NOW)
    assert report.rows == 2
    if case == "binary vehicle_id":  # bytes are read as text (hex when not UTF-8)
        assert report.accepted == 2
        assert set(workspace.scan_pings().collect()["vehicle_id"]) == {"V9", "0xfffe"}
        return
    assert (report.accepted, report.quarantined) == (0, 2)
    rows = workspace.quarantined("pings").sort("row")
    named = {"lat"} if column == "lon" else {column}  # positions are refused under lat
    assert rows["row"].to_list() == [1, 2] and set(rows["column"]) == named
    assert all(rows["detail"]) and all(rows["raw"])


def test_a_list_seizure_id_is_quarantined(workspace, settings, tmp_path):
    frame = pl.DataFrame(
        {
            "seizure_id": [["S1"], None],
            "date": ["2026-09-14", "2026-09-15"],
            "lat": [6.5, 6.6],
            "lon": [2.6, 2.7],
        }
    )
    path = tmp_path / "seizures.parquet"
    frame.write_parquet(path)
    report = ingest_records(workspace, "seizures", path, settings, now=NOW)
    assert (report.rows, report.accepted, report.quarantined) == (2, 0, 2)
    reasons = dict(workspace.quarantined("seizures").select("row", "reason").iter_rows())
    assert reasons == {1: "invalid_value", 2: "missing_value"}


def test_overflowing_numbers_and_hostile_ids_are_quarantined(workspace, settings, tmp_path):
    rows = [
        "vehicle_id,ts,lat,lon,speed_kmh,accuracy_m",
        f"V1,{T0.isoformat()},6.5,2.6,40,5",
        f"V2,{T0.isoformat()},6.5,2.6,1e308,5",
        f"V3,{T0.isoformat()},6.5,2.6,40,1e308",
        f"V4,{T0.isoformat()},6.5,2.6,nan,5",
        f"{'X' * 1_000_000},{T0.isoformat()},6.5,2.6,40,5",
        f"V\x006,{T0.isoformat()},6.5,2.6,40,5",
    ]
    path = tmp_path / "pings.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = ingest_pings(workspace, path, settings, now=NOW)
    assert (report.accepted, report.quarantined) == (1, 5)
    stored = workspace.scan_pings().collect()
    assert stored["vehicle_id"].to_list() == ["V1"]
    assert stored["speed_kmh"].is_finite().all() and stored["accuracy_m"].is_finite().all()
    refused = workspace.quarantined("pings").sort("row")
    assert refused["column"].to_list() == [
        "speed_kmh",
        "accuracy_m",
        "speed_kmh",
        "vehicle_id",
        "vehicle_id",
    ]
    assert set(refused["reason"]) == {"invalid_value"}
    assert max(map(len, refused["detail"])) < 300  # the million-character id is not echoed


@pytest.fixture(scope="module")
def api(tmp_path_factory, module_database_url):
    root = tmp_path_factory.mktemp("hostile-api")
    region, ws = build_region(root / "region"), root / "ws"
    key = create_key(ws, "admin")
    with TestClient(create_app(api_settings(ws, region))) as client:
        yield client, bearer(key)


def test_odd_parquet_over_http_never_answers_500(api):
    client, headers = api
    parquet = {**headers, "Content-Type": "application/vnd.apache.parquet"}
    for case, (column, values, dtype) in sorted(ODD_PINGS.items()):
        body = _parquet(column, values, dtype)
        response = client.post("/api/v1/pings", content=body, headers=parquet)
        assert response.status_code == 200, (case, response.text)
        assert response.json()["rows"] == 2
    seizures = io.BytesIO()
    pl.DataFrame(
        {"seizure_id": [["S1"]], "date": ["2026-09-14"], "lat": [6.5], "lon": [2.6]}
    ).write_parquet(seizures)
    response = client.post("/api/v1/seizures", content=seizures.getvalue(), headers=parquet)
    assert response.status_code == 200 and response.json()["quarantined"] == 1


def test_errors_quote_at_most_a_bounded_part_of_the_request(api):
    client, headers = api
    base = "9" * 900_000  # under the 1 MiB body limit; unparsable as a position
    body = {"base": base, "teams": 1, "hours": 8, "start": "2026-03-05T06:00:00Z"}
    response = client.post("/api/v1/patrols/plan", json=body, headers=headers)
    assert 400 <= response.status_code < 500
    assert len(response.content) < 2_000 and "more characters" in response.json()["detail"]
    bigger = {**body, "base": "9" * (20 * 2**20)}
    assert client.post("/api/v1/patrols/plan", json=bigger, headers=headers).status_code == 413


def test_an_invalid_h3_id_is_a_bad_request(api):
    client, headers = api
    response = client.get("/api/v1/cells/not-a-cell", headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cell"


def test_the_cli_refuses_odd_parquet_without_a_traceback(tmp_path):
    path = tmp_path / "odd.parquet"
    path.write_bytes(_parquet("lat", [[6.5, 6.6], [7.0]]))
    done = geoint("ingest", "pings", str(path), "--workspace", str(tmp_path / "ws"), "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

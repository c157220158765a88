"""The API when its PostgreSQL database goes away: 503 problems, never a traceback."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support.api import api_settings, bearer, build_region, create_key

from geoint.api.app import create_app


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_database_gone_mid_service_is_a_503_problem(tmp_path, database_url, postgres):
    region, ws = build_region(tmp_path / "region"), tmp_path / "ws"
    key = create_key(ws, "admin")
    with TestClient(create_app(api_settings(ws, region))) as client:
        assert client.get("/api/v1/alerts", headers=bearer(key)).status_code == 200
        postgres.drop_database(database_url)  # its connections are closed by the server
        response = client.get("/api/v1/alerts", headers=bearer(key))
        body = "\n".join(f"{k}={v}" for k, v in response.json().items())
        assert response.status_code == 503, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "the database cannot be reached; retry shortly"
        assert response.headers["retry-after"] == "5"

"""Schemathesis against a real server's OpenAPI schema: no generated request gets a 5xx.

Bounded for speed: a few derandomised examples per operation, valid and invalid data.
"""

import itertools

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from support.api import (
    SEIZURES_CSV,
    bearer,
    build_region,
    create_key,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.databases

EXAMPLES = 8
COLLECTIONS = (None, "roads", "seizures", "events")


@pytest.fixture(scope="module")
def server(tmp_path_factory, module_database_url):
    root = tmp_path_factory.mktemp("schema")
    region, ws = build_region(root / "region"), root / "ws"
    key = create_key(ws, "admin")
    running = start_server(ws, region, root / "server.log")
    try:
        yield running, key
    finally:
        stop_server(running)


def test_generated_requests_get_no_server_errors(server):
    running, key = server
    headers = bearer(key)
    schema = schemathesis.openapi.from_url(f"{running.url}/openapi.json", headers=headers)
    # the SSE stream never ends by itself: tests/test_api_alerts.py reads it with a real client
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if operation.path != "/api/v1/alerts/stream"
    ]
    assert len(operations) >= 14
    httpx2.post(
        f"{running.url}/api/v1/seizures",
        content=SEIZURES_CSV,
        headers={**headers, "Content-Type": "text/csv"},
    )
    errors: list[str] = []
    for operation in operations:
        # random collection ids only reach the 404; also fuzz real collections' parameters
        collections = COLLECTIONS if "{collection_id}" in operation.path else (None,)
        for collection, mode in itertools.product(collections, schemathesis.GenerationMode):
            path = {"collection_id": collection} if collection else None

            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def call(case):
                response = case.call(base_url=running.url, headers=headers, timeout=10)
                if response.status_code >= 500:
                    errors.append(
                        f"{case.method} {case.formatted_path} {case.query} -> "
                        f"{response.status_code}: {response.text[:200]}"
                    )

            try:
                call()
            except Unsatisfiable:  # no invalid request exists (an operation without inputs)
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    assert errors == [], running.log.read_text()[-3000:]
    assert httpx2.get(f"{running.url}/health").status_code == 200

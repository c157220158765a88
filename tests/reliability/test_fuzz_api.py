"""Schemathesis over every route of a real server without credentials (and with a forged one):
nothing but /health and /login answers anything but 401 (or the cross-site refusal of a state
change carrying a cookie), and nothing answers 5xx.

The authenticated run (every route, valid and invalid data) is tests/api/test_api_schema.py.
"""

from __future__ import annotations

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from support.api import bearer, build_region, create_key, start_server, stop_server

PUBLIC = {"/health", "/login"}
EXAMPLES = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-api")
    region, ws = build_region(root / "region"), root / "ws"
    key = create_key(ws, "admin")
    running = start_server(ws, region, root / "server.log")
    try:
        yield running, key
    finally:
        stop_server(running)


@pytest.mark.parametrize("credential", [None, "geo_000000000000_forged", "session"])
def test_every_route_refuses_callers_without_a_live_credential(server, credential):
    running, key = server
    schema = schemathesis.openapi.from_url(f"{running.url}/openapi.json", headers=bearer(key))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    headers = {}
    if credential == "session":
        headers = {"Cookie": "geoint_session=forged", "Origin": running.url}
    elif credential is not None:
        headers = bearer(credential)
    problems: list[str] = []
    for operation in operations:
        for mode in schemathesis.GenerationMode:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def call(case):
                response = case.call(base_url=running.url, headers=headers, timeout=10)
                public = case.path in PUBLIC
                refused = response.status_code == 401 or _cross_site(response)
                if response.status_code >= 500 or (not public and not refused):
                    problems.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{response.text[:120]}"
                    )

            try:
                call()
            except Unsatisfiable:
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    assert problems == [], problems[:10]
    assert httpx2.get(f"{running.url}/health").status_code == 200


def _cross_site(response) -> bool:
    """A state change refused for coming without this origin's headers (also a refusal)."""
    return response.status_code == 403 and "cross-site-request" in response.text

"""Throttled sign-in: failures per client address in a window, 429 with Retry-After, resets."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.api import api_settings, bearer, build_region, create_key

from geoint.api.app import create_app
from geoint.api.session import SignInThrottle, monotonic_clock

pytestmark = pytest.mark.databases

WINDOW_S = 900.0
HERE, THERE = ("10.0.0.1", 40000), ("10.0.0.2", 40000)
BAD = "geo_nope_nope"


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    return build_region(tmp_path_factory.mktemp("signin") / "region")


@pytest.fixture
def served(tmp_path, region):
    """Two clients (two addresses) of one app whose clock the test moves; an admin key."""
    ws = tmp_path / "ws"
    key = create_key(ws, "admin")
    app = create_app(api_settings(ws, region, sign_in_max_failures=5, sign_in_window_s=WINDOW_S))
    clock = [1000.0]

    async def now() -> float:
        return clock[0]

    app.dependency_overrides[monotonic_clock] = now
    with TestClient(app, client=HERE) as here, TestClient(app, client=THERE) as there:
        yield here, there, key, clock


def _sign_in(client: TestClient, key: str, **headers: str):
    return client.post("/login", data={"key": key}, headers=headers, follow_redirects=False)


def test_five_failures_then_429_even_for_a_good_key_until_the_window_passes(served):
    here, there, key, clock = served
    for _ in range(5):
        assert _sign_in(here, BAD).status_code == 401
        clock[0] += 10
    refused = _sign_in(here, key)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    # the first failure was 50 s ago: it leaves the window in 850 s
    assert refused.headers["retry-after"] == "850"
    body = refused.json()
    assert body["status"] == 429 and body["retry_after"] == 850
    assert body["type"] == "urn:geoint:problem:too-many-requests"
    assert "set-cookie" not in refused.headers

    assert _sign_in(there, key).status_code == 303  # another address is not affected

    clock[0] += 850
    assert _sign_in(here, key).status_code == 303


def test_a_browser_reads_the_refusal_on_the_form(served):
    here, _there, _key, _clock = served
    for _ in range(5):
        _sign_in(here, BAD)
    page = _sign_in(here, BAD, accept="text/html,application/xhtml+xml")
    assert page.status_code == 429 and page.headers["retry-after"] == str(int(WINDOW_S))
    assert page.headers["content-type"].startswith("text/html")
    assert "Too many failed sign-ins: try again in 15 min." in page.text
    assert 'name="key"' in page.text


def test_a_sign_in_resets_the_count(served):
    here, _there, key, _clock = served
    for _ in range(4):
        assert _sign_in(here, BAD).status_code == 401
    assert _sign_in(here, key).status_code == 303
    for _ in range(4):
        assert _sign_in(here, BAD).status_code == 401
    assert _sign_in(here, key).status_code == 303


def test_failures_are_audited_and_refusals_are_not(served):
    here, _there, key, _clock = served
    for _ in range(7):
        _sign_in(here, BAD)
    entries = here.get("/api/v1/audit", headers=bearer(key), params={"limit": 50}).json()
    failed = [e for e in entries["entries"] if e["path"] == "/login"]
    assert len(failed) == 5
    assert {(e["key_id"], e["status"], e["summary"]) for e in failed} == {
        ("-", 401, f"sign-in failed from {HERE[0]}")
    }


def test_the_throttle_tracks_a_bounded_number_of_addresses():
    throttle = SignInThrottle(max_failures=1, window_s=60, max_addresses=2)
    for address in ("a", "b"):
        assert throttle.failed(address, 0.0)
    assert throttle.retry_after("a", 1.0) == 59.0
    throttle.failed("c", 2.0)  # evicts "a", the least recently failing
    assert throttle.retry_after("a", 2.0) == 0.0
    assert throttle.retry_after("b", 2.0) == 58.0
    throttle.failed("d", 62.0)  # "b" and "c" left the window: forgotten
    assert len(throttle) == 1

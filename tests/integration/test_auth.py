"""API keys over real HTTP with real Valkey and SQS: who gets in, how much, and what each
tenant can see."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import httpx
import pytest

from ragcore.bootstrap import get_container
from ragcore.services.auth import create_key
from tests.support.api import local_api
from tests.support.settings import Configure

JOB_ID = "0" * 32
ASK = {"query": "When was Skerry Point Lighthouse first lit?"}


@pytest.fixture
def http(configure: Configure) -> Iterator[httpx.Client]:
    configure(auth_disabled=False)
    with local_api() as client:
        yield client


def key(name: str = "test", **limits: Any) -> str:
    container = get_container()
    return create_key(container.key_store, container.api_key_pepper, name, **limits)[1]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


ROUTES = [
    ("POST", "/chat", ASK), ("GET", f"/job-status/{JOB_ID}", None), ("GET", f"/result/{JOB_ID}", None),
    ("POST", f"/jobs/{JOB_ID}/cancel", None), ("GET", "/documents", None),
    ("GET", "/documents/some-doc", None), ("DELETE", "/documents/some-doc", None),
    ("POST", "/documents", {"text": "# Note\n\nShort."}), ("POST", "/documents/uploads", {"filename": "a.md"}),
    ("POST", f"/documents/uploads/{JOB_ID}/complete", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_route_but_health_needs_a_valid_key(http: httpx.Client, method: str, path: str, body: Any) -> None:
    good, revoked = key("good"), key("revoked")
    get_container().key_store.revoke(revoked.split("_")[1])
    for headers in ({}, bearer("rk_nope_nope"), bearer(revoked), {"Authorization": f"Basic {good}"},
                    {"x-api-key": "not-a-key"}):
        response = http.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    # Another scheme is a wrong key even with a good x-api-key beside it.
    refused = http.request(method, path, json=body, headers={"Authorization": "Basic eA==", "x-api-key": good})
    assert refused.status_code == 401
    for headers in (bearer(good), {"x-api-key": good}):
        assert http.request(method, path, json=body, headers=headers).status_code != 401
    assert http.get("/").status_code in (200, 503)  # health stays open


@pytest.mark.parametrize(("method", "path", "body"), [r for r in ROUTES if r[0] == "POST"])
def test_the_key_is_checked_before_the_body(http: httpx.Client, method: str, path: str, body: Any) -> None:
    """A caller without a key learns nothing from body errors: broken JSON, a body over the
    cap and a wrong content type all get the same 401."""
    bad_bodies = [
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        {"content": b"x" * (7 * 1024 * 1024), "headers": {"Content-Type": "application/json"}},
        {"content": b"<a/>", "headers": {"Content-Type": "application/xml"}},
    ]
    for request in bad_bodies:
        response = http.request(method, path, **request)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"
    # With a key, the same bodies get their own errors.
    good = bearer(key("body"))
    statuses = [http.request(method, path, content=r["content"], headers={**r["headers"], **good}).status_code
                for r in bad_bodies]
    assert 401 not in statuses and 413 in statuses


def test_another_tenants_jobs_are_not_found_and_a_shared_tenant_sees_them(http: httpx.Client) -> None:
    alice, bob = key("alice"), key("bob")
    alice_key_id = alice.split("_")[1]
    alice_too = key("alice-ci", tenant=alice_key_id)
    job_id = http.post("/chat", json=ASK, headers=bearer(alice)).json()["job_id"]
    for path in (f"/job-status/{job_id}", f"/result/{job_id}"):
        assert http.get(path, headers=bearer(alice)).status_code in (200, 202)
        assert http.get(path, headers=bearer(alice_too)).status_code in (200, 202)
        hidden = http.get(path, headers=bearer(bob))
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "job_not_found"
    assert http.post(f"/jobs/{job_id}/cancel", headers=bearer(bob)).status_code == 404
    assert http.post(f"/jobs/{job_id}/cancel", headers=bearer(alice)).status_code == 200
    assert get_container().job_store.get(job_id).owner == alice_key_id


def test_the_rate_limit_admits_exactly_the_burst_under_concurrency(http: httpx.Client) -> None:
    secret = key("bursty", rate_per_second=0.01, burst=10)  # no refill to speak of during the test
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: http.get(f"/job-status/{JOB_ID}", headers=bearer(secret)).status_code,
                                 range(40)))
    assert statuses.count(404) == 10  # admitted (the job does not exist)
    assert statuses.count(429) == 30
    refused = http.get(f"/job-status/{JOB_ID}", headers=bearer(secret))
    assert refused.json()["error"]["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1


def test_tokens_come_back_at_the_keys_rate(http: httpx.Client) -> None:
    secret = key("steady", rate_per_second=5, burst=1)
    assert http.get(f"/job-status/{JOB_ID}", headers=bearer(secret)).status_code == 404
    assert http.get(f"/job-status/{JOB_ID}", headers=bearer(secret)).status_code == 429
    time.sleep(0.3)
    assert http.get(f"/job-status/{JOB_ID}", headers=bearer(secret)).status_code == 404


def test_the_daily_quota_runs_out_and_resets_the_next_day(http: httpx.Client) -> None:
    secret = key("quota", daily_quota=3, burst=100)
    assert [http.get(f"/job-status/{JOB_ID}", headers=bearer(secret)).status_code for _ in range(4)] == [404] * 3 + [429]
    refused = http.get(f"/job-status/{JOB_ID}", headers=bearer(secret))
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert 0 < int(refused.headers["Retry-After"]) <= 86400
    # The next UTC day: the counter's day no longer matches, so it starts again.
    store = get_container().key_store
    store._client.hset(f"ragcore:limit:{secret.split('_')[1]}", "day", "0")
    assert http.get(f"/job-status/{JOB_ID}", headers=bearer(secret)).status_code == 404


def test_keys_are_stored_only_as_keyed_hashes_and_never_logged(
    http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = key("secretive")
    http.post("/chat", json=ASK, headers=bearer(secret))
    http.get(f"/job-status/{JOB_ID}", headers=bearer("rk_abc_" + secret[-20:]))
    client = get_container().key_store._client
    stored = [client.get(k) or "" for k in client.keys("ragcore:key*") if client.type(k) == "string"]
    assert stored and not any(secret in value or secret.split("_", 2)[2] in value for value in stored)
    assert secret.split("_", 2)[2] not in caplog.text


def test_the_python_client_sends_the_key_from_its_environment(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ragcore.client import Client, NotFound, Unauthorized

    url = str(http.base_url)
    monkeypatch.delenv("RAGCORE_API_KEY", raising=False)
    with Client(url) as anonymous, pytest.raises(Unauthorized):
        anonymous.status(JOB_ID)
    monkeypatch.setenv("RAGCORE_API_KEY", key("cli"))
    with Client(url) as keyed, pytest.raises(NotFound):  # in, and told the job does not exist
        keyed.status(JOB_ID)


def test_browser_preflights_reach_the_app_without_a_key(configure: Configure,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Preflights carry no key: the gateway routes OPTIONS to the app (template.yaml), which
    answers them for listed origins; the keyed request itself is still refused, readably."""
    import rag_api.app
    from mangum import Mangum

    configure(auth_disabled=False, cors_allow_origins="https://app.example")
    monkeypatch.setattr(rag_api.app, "_mangum", Mangum(rag_api.app.create_app(), lifespan="off"))
    origin = {"Origin": "https://app.example"}
    with local_api() as http:
        for method, path, _ in ROUTES:
            preflight = http.options(path, headers={**origin, "Access-Control-Request-Method": method,
                                                    "Access-Control-Request-Headers": "authorization, content-type"})
            assert preflight.status_code == 200, (path, preflight.text)
            assert preflight.headers["access-control-allow-origin"] == "https://app.example"
            assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        stranger = http.options("/chat", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in stranger.headers
        refused = http.post("/chat", json=ASK, headers=origin)
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "https://app.example"

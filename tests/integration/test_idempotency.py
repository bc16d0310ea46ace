"""Idempotency-Key over the real API handler behind the local gateway, Valkey in cluster mode and
LocalStack SQS and S3: a resend makes no second job and no second message, a changed request
under a used key is refused, concurrent sends make one job, and a key is a tenant's own, ends
with its TTL, and is freed by a failed request. No worker runs: each job's message stays in
the queue, so the queue's depth counts the jobs made."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import httpx
import pytest

from ragcore.adapters.valkey_client import connect
from ragcore.bootstrap import get_container
from ragcore.client import Client
from ragcore.services.auth import create_key
from tests.integration.test_documents import LIGHTHOUSE
from tests.support.api import local_api
from tests.support.settings import Configure

ASK = {"query": "When was Skerry Point Lighthouse first lit?"}


@pytest.fixture
def api(lambda_env: dict[str, str]) -> Iterator[httpx.Client]:
    connect(lambda_env["VALKEY_URL"], timeout_seconds=5).flushall()
    with local_api() as client:
        yield client


@pytest.fixture
def queued(sqs: Any, queue: dict[str, str]) -> Any:
    """Messages in the test's queue (LocalStack's count is exact)."""
    def count() -> int:
        attributes = sqs.get_queue_attributes(QueueUrl=queue["url"], AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    return count


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def test_a_resend_gets_the_first_job_and_queues_nothing(api: httpx.Client, queued: Any) -> None:
    key = str(uuid.uuid4())
    first = api.post("/chat", json=ASK, headers=keyed(key))
    again = api.post("/chat", json=ASK, headers=keyed(f'"{key}"'))  # the draft's quoted form: the same key
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    assert again.json() == first.json()
    assert "idempotent-replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Content-Type"] == "application/json"
    assert again.headers["X-Content-Type-Options"] == "nosniff"  # the outer middleware still adds its headers
    assert queued() == 1
    assert api.post("/chat", json=ASK).json()["job_id"] != first.json()["job_id"]  # no key: a new job
    assert queued() == 2


def test_the_same_key_with_another_body_is_422_and_queues_nothing(api: httpx.Client, queued: Any) -> None:
    key = str(uuid.uuid4())
    assert api.post("/chat", json=ASK, headers=keyed(key)).status_code == 202
    other = api.post("/chat", json={**ASK, "top_k": 3}, headers=keyed(key))
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert queued() == 1
    # A key is per path: the same key on another route is another key.
    document = api.post("/documents", json={"text": LIGHTHOUSE}, headers=keyed(key))
    assert document.status_code == 202 and queued() == 2


@pytest.mark.parametrize("value", ["", "x" * 256, "caf\u00e9", '"open', '"a"b"', '"bad\\escape"'])
def test_a_malformed_key_is_400_and_runs_nothing(api: httpx.Client, queued: Any, value: str) -> None:
    answer = api.post("/chat", json=ASK, headers={"Idempotency-Key": value.encode("utf-8")})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_idempotency_key", answer.text
    assert queued() == 0


def test_two_key_headers_are_400(api: httpx.Client, queued: Any) -> None:
    answer = api.post("/chat", json=ASK, headers=[("Idempotency-Key", "a"), ("Idempotency-Key", "b")])
    assert answer.status_code == 400 and queued() == 0


def test_concurrent_sends_with_one_key_make_one_job(api: httpx.Client, queued: Any) -> None:
    """The first reserves the key; the others wait for its answer (up to 2 s) and get it. A 409
    would be allowed only for a first request still running after that wait."""
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: api.post("/chat", json=ASK, headers=keyed(key)), range(8)))
    accepted = [a for a in answers if a.status_code == 202]
    assert all(a.status_code == 202 or a.json()["error"]["code"] == "idempotency_key_in_flight" for a in answers)
    assert accepted and len({a.json()["job_id"] for a in accepted}) == 1
    assert sum("idempotent-replayed" not in a.headers for a in accepted) <= 1  # one ran, the rest replayed
    assert queued() == 1


def test_a_key_ends_with_its_ttl(api: httpx.Client, queued: Any, configure: Configure) -> None:
    configure(idempotency_ttl_seconds=1)
    key = str(uuid.uuid4())
    first = api.post("/chat", json=ASK, headers=keyed(key)).json()["job_id"]
    time.sleep(1.5)
    later = api.post("/chat", json=ASK, headers=keyed(key))
    assert later.status_code == 202 and later.json()["job_id"] != first
    assert "idempotent-replayed" not in later.headers and queued() == 2


def test_a_failed_request_frees_its_key(api: httpx.Client, queued: Any, configure: Configure,
                                        queue: dict[str, str]) -> None:
    """A 503 (the queue unreachable) made no job: the same request with the same key runs again
    once the queue is back, and its answer is the one kept. A 4xx frees the key the same way."""
    key = str(uuid.uuid4())
    configure(jobs_queue_url=queue["url"] + "-missing")
    down = api.post("/chat", json=ASK, headers=keyed(key))
    assert down.status_code == 503, down.text
    configure(jobs_queue_url=queue["url"])
    up = api.post("/chat", json=ASK, headers=keyed(key))
    assert up.status_code == 202 and "idempotent-replayed" not in up.headers
    assert api.post("/chat", json=ASK, headers=keyed(key)).json() == up.json() and queued() == 1

    other = str(uuid.uuid4())
    assert api.post("/chat", json={"query": ""}, headers=keyed(other)).status_code == 422
    assert api.post("/chat", json=ASK, headers=keyed(other)).status_code == 202  # corrected, same key
    assert queued() == 2


def test_a_key_is_its_tenants_own(api: httpx.Client, queued: Any, configure: Configure) -> None:
    configure(auth_disabled=False)
    container = get_container()

    def bearer(tenant: str) -> dict[str, str]:
        _, secret = create_key(container.key_store, container.api_key_pepper, tenant, tenant=tenant)
        return {"Authorization": f"Bearer {secret}"}

    alice, alice_too, bob = bearer("alice"), bearer("alice"), bearer("bob")
    key = keyed(str(uuid.uuid4()))
    first = api.post("/chat", json=ASK, headers={**alice, **key})
    shared = api.post("/chat", json=ASK, headers={**alice_too, **key})  # another key of the same tenant
    other = api.post("/chat", json=ASK, headers={**bob, **key})
    assert first.status_code == shared.status_code == other.status_code == 202
    assert shared.json()["job_id"] == first.json()["job_id"] and shared.headers["Idempotent-Replayed"] == "true"
    assert other.json()["job_id"] != first.json()["job_id"] and "idempotent-replayed" not in other.headers
    assert queued() == 2


def test_a_document_and_an_upload_are_replayed(api: httpx.Client, queued: Any) -> None:
    key = keyed(str(uuid.uuid4()))
    form = {"files": {"file": ("log.md", LIGHTHOUSE.encode(), "text/markdown")}, "data": {"document_id": "log"}}
    first = api.post("/documents", headers=key, **form)
    again = api.post("/documents", headers=key, **form)  # a new multipart boundary: the same request
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert queued() == 1

    ticket = api.post("/documents/uploads", json={"filename": "big.md"}, headers=key)
    assert ticket.status_code == 201
    assert api.post("/documents/uploads", json={"filename": "big.md"}, headers=key).json() == ticket.json()
    upload = ticket.json()
    stored = httpx.post(upload["url"], data=upload["fields"], files={"file": ("big.md", LIGHTHOUSE.encode())})
    assert stored.status_code == 204
    done = api.post(upload["complete"], headers=key)
    replayed = api.post(upload["complete"], headers=key)  # without the key: 409 upload_already_completed
    assert done.status_code == replayed.status_code == 202 and replayed.json() == done.json()
    assert api.post(upload["complete"]).status_code == 409
    assert queued() == 2


class _LosesFirstAnswer(httpx.BaseTransport):
    """Sends every request, but drops the answer to the first POST, as a connection cut after
    the API answered would: the client sees a read timeout and cannot know a job was made."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if request.method == "POST" and not self.lost:
            self.lost += 1
            response.read()
            response.close()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def test_the_clients_resend_after_a_lost_answer_makes_no_second_job(api: httpx.Client, queued: Any) -> None:
    transport = _LosesFirstAnswer()
    with Client(str(api.base_url), transport=transport) as client:
        accepted = client.submit(ASK["query"])
        assert transport.lost == 1
        assert client.status(accepted.job_id).status.value == "queued"
    assert queued() == 1


def test_openapi_shows_the_header_and_its_answers(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    covered = [("/chat", 202), ("/documents", 202), ("/documents/uploads", 201),
               ("/documents/uploads/{upload_id}/complete", 202)]
    if "/chat/batch" in paths:
        covered.append(("/chat/batch", 202))
    for path, success in covered:
        operation = paths[path]["post"]
        header = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert header and header[0]["in"] == "header" and not header[0]["required"], path
        answers = operation["responses"]
        assert "idempotency_key_in_flight" in answers["409"]["description"], path
        assert "Retry-After" in answers["409"]["headers"]
        assert "idempotency_key_reused" in answers["422"]["description"], path
        assert "invalid_idempotency_key" in answers["400"]["description"], path
        assert "Idempotent-Replayed" in answers[str(success)]["headers"], path
    assert not any(p["name"] == "Idempotency-Key" for p in paths["/jobs/{job_id}/cancel"]["post"].get("parameters", []))


def test_browsers_may_send_the_key_and_read_the_replay_mark(api: httpx.Client, configure: Configure) -> None:
    from fastapi.testclient import TestClient

    from rag_api.app import create_app

    configure(cors_allow_origins="https://app.example")
    browser = TestClient(create_app())
    origin = {"Origin": "https://app.example"}
    preflight = browser.options("/chat", headers={**origin, "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "content-type, idempotency-key"})
    assert preflight.status_code == 200
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
    key = keyed(str(uuid.uuid4()))
    browser.post("/chat", json=ASK, headers={**origin, **key})
    replayed = browser.post("/chat", json=ASK, headers={**origin, **key})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert "idempotent-replayed" in replayed.headers["access-control-expose-headers"].lower()

"""Completion webhooks through the real offline stack: real SQS queues (LocalStack) for the
jobs and the deliveries, the template's WebhookFunction behind its poller, a real local HTTP
receiver, signatures checked with ``standardwebhooks`` and with the README's receiver code.
Retries run on a shortened schedule (WEBHOOK_RETRY_DELAYS=1)."""

from __future__ import annotations

import json
import re
import time
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any, Iterator

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from ragcore.adapters.webhook_http import PinnedHttpSender
from ragcore.bootstrap import get_container
from ragcore.cli.commands import main as ragcore_main
from ragcore.domain import callbacks
from ragcore.domain.callbacks import WebhookState
from ragcore.domain.messages import JobMessage
from ragcore.local.stack import DevStack
from ragcore.services.webhooks import DeliveryOutcome, WebhookPorts, deliver
from tests.support.fake_llm import FakeLLM
from tests.support.paths import ROOT, free_port
from tests.support.stack import fake_llm_stack
from tests.support.webhook_receiver import Delivery, WebhookReceiver

ASK = "When was Skerry Point Lighthouse first lit?"
MAX_ATTEMPTS = 4


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as llm:
        yield llm


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, fake_llm: FakeLLM) -> Iterator[DevStack]:
    settings = {"webhook_retry_delays": "1", "webhook_max_attempts": MAX_ATTEMPTS}
    with fake_llm_stack(fake_llm, tmp_path_factory.mktemp("webhooks"), "fake-model", settings,
                        visibility_timeout=5) as running:
        yield running


@pytest.fixture(scope="module")
def secret(stack: DevStack) -> str:
    made = get_container().webhook_secrets.create(None)
    assert made is not None and made.startswith("whsec_")
    return made


@pytest.fixture(scope="module")
def http(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def ask(http: httpx.Client, callback_url: str, query: str = ASK) -> str:
    accepted = http.post("/chat", json={"query": query, "callback_url": callback_url})
    assert accepted.status_code == 202, accepted.text
    return accepted.json()["job_id"]


def webhook_of(http: httpx.Client, job_id: str, state: WebhookState, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        webhook = http.get(f"/job-status/{job_id}").json()["webhook"]
        if webhook["state"] == state.value or time.monotonic() > deadline:
            assert webhook["state"] == state.value, webhook
            return webhook
        time.sleep(0.1)


def verified(delivery: Delivery, secret: str) -> Any:
    return Webhook(secret).verify(delivery.body, delivery.headers)


def test_a_finished_chat_is_posted_signed_once_and_its_status_says_delivered(
    http: httpx.Client, receiver: WebhookReceiver, secret: str
) -> None:
    job_id = ask(http, f"{receiver.url}/hooks/ragcore?source=test")
    (delivery,) = receiver.wait_for(job_id)
    assert delivery.path == "/hooks/ragcore?source=test"
    assert delivery.headers["webhook-id"] == f"msg_{job_id}"
    assert delivery.headers["content-type"] == "application/json"
    assert abs(int(delivery.headers["webhook-timestamp"]) - time.time()) < 30
    document = verified(delivery, secret)
    assert document == http.get(f"/result/{job_id}").json()  # what GET /result answers
    assert document["job_id"] == job_id and document["status"] == "finished" and document["answer"]
    webhook = webhook_of(http, job_id, WebhookState.DELIVERED)
    assert webhook["id"] == f"msg_{job_id}" and webhook["attempts"] == 1 and webhook["last_status"] == 200
    assert webhook["delivered_at"] and webhook["last_error"] is None
    with pytest.raises(WebhookVerificationError):
        Webhook(get_container().webhook_secrets.rotate("another-tenant", 0)).verify(delivery.body, delivery.headers)


def test_a_job_without_a_callback_has_no_webhook(http: httpx.Client) -> None:
    job_id = http.post("/chat", json={"query": ASK}).json()["job_id"]
    assert http.get(f"/job-status/{job_id}").json()["webhook"] is None

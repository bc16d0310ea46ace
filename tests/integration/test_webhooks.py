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


@pytest.fixture
def secret(stack: DevStack) -> str:
    """A fresh signing secret for jobs without a tenant (the stack runs with auth off); the
    last one stops signing at once."""
    secrets = get_container().webhook_secrets
    made = secrets.create(None) or secrets.rotate(None, 0)
    assert made.startswith("whsec_")
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
    plain = http.post("/chat", json={"query": ASK}).json()["job_id"]
    (listed, unhooked) = http.get("/jobs", params={"ids": f"{job_id},{plain}"}).json()["jobs"]
    assert listed["webhook"] == webhook and unhooked["webhook"] is None
    with pytest.raises(WebhookVerificationError):
        Webhook(get_container().webhook_secrets.rotate("another-tenant", 0)).verify(delivery.body, delivery.headers)


def test_the_python_client_and_ragcore_ask_send_a_callback_url(
    stack: DevStack, receiver: WebhookReceiver, secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``Client.ask(callback_url=)`` and ``ragcore ask --callback-url`` put it on the job:
    each job's result is POSTed, signed, to its URL."""
    from ragcore.client import Client

    with Client(stack.api_url) as client:
        answered = client.ask(ASK, callback_url=f"{receiver.url}/from-client", timeout=60)
    (delivery,) = receiver.wait_for(answered.job_id)
    assert delivery.path == "/from-client" and verified(delivery, secret)["answer"] == answered.answer
    capsys.readouterr()
    assert ragcore_main(["ask", ASK, "--api", stack.api_url, "--callback-url", f"{receiver.url}/from-cli",
                         "--json"]) == 0
    job_id = json.loads(capsys.readouterr().out)["job_id"]
    (delivery,) = receiver.wait_for(job_id)
    assert delivery.path == "/from-cli" and verified(delivery, secret)["job_id"] == job_id


def test_a_job_without_a_callback_has_no_webhook(http: httpx.Client) -> None:
    job_id = http.post("/chat", json={"query": ASK}).json()["job_id"]
    assert http.get(f"/job-status/{job_id}").json()["webhook"] is None


def test_a_receiver_that_fails_then_recovers_gets_it_later_under_the_same_id(
    http: httpx.Client, receiver: WebhookReceiver, secret: str
) -> None:
    receiver.script = [500, 503]
    job_id = ask(http, f"{receiver.url}/flaky")
    retrying = webhook_of(http, job_id, WebhookState.RETRYING)
    assert retrying["last_status"] in (500, 503) and "answered 50" in retrying["last_error"]
    deliveries = receiver.wait_for(job_id, count=1, status=200)
    assert [d.answered for d in deliveries] == [500, 503, 200]
    assert {d.headers["webhook-id"] for d in deliveries} == {f"msg_{job_id}"}
    assert all(verified(d, secret) == verified(deliveries[0], secret) for d in deliveries)
    gaps = [later.received_at - earlier.received_at for earlier, later in zip(deliveries, deliveries[1:])]
    assert all(gap >= 0.9 for gap in gaps)  # each retry waited the schedule's delay (1 s here)
    webhook = webhook_of(http, job_id, WebhookState.DELIVERED)
    assert webhook["attempts"] == 3 and webhook["last_status"] == 200 and webhook["last_error"] is None


def test_a_redelivered_job_message_announces_again_but_the_job_has_one_delivery(
    http: httpx.Client, receiver: WebhookReceiver, stack: DevStack, secret: str
) -> None:
    receiver.script = [500]  # the first attempt fails: the repeat's announcement finds it retrying
    job_id = ask(http, f"{receiver.url}/once")
    webhook_of(http, job_id, WebhookState.RETRYING)
    jobs_queue = get_container().queue
    for _ in range(3):  # SQS delivers the finished job's message again (at-least-once)
        jobs_queue.send(JobMessage(job_id=job_id))
    receiver.wait_for(job_id, count=1, status=200)
    time.sleep(3)  # the repeats' announcements have been delivered too, and dropped
    deliveries = receiver.for_job(job_id)
    assert [d.answered for d in deliveries] == [500, 200]
    assert webhook_of(http, job_id, WebhookState.DELIVERED)["attempts"] == 2
    assert _queue_empty(stack, "WebhookQueue") and _queue_empty(stack, "JobsQueue")


def _queue_empty(stack: DevStack, logical_id: str, timeout: float = 30) -> bool:
    sqs = get_container().webhook_queue._client  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = sqs.get_queue_attributes(
            QueueUrl=stack.queue_urls[logical_id],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if not any(int(v) for v in counts.values()):
            return True
        time.sleep(0.2)
    return False


def test_410_gone_stops_the_attempts(http: httpx.Client, receiver: WebhookReceiver, secret: str) -> None:
    receiver.script = [410]
    job_id = ask(http, f"{receiver.url}/gone")
    webhook = webhook_of(http, job_id, WebhookState.FAILED)
    assert webhook["last_status"] == 410 and "410" in webhook["last_error"] and webhook["attempts"] == 1
    time.sleep(2)
    assert len(receiver.for_job(job_id)) == 1


def test_an_unreachable_receiver_is_given_up_after_the_last_attempt(http: httpx.Client, secret: str) -> None:
    job_id = ask(http, f"http://127.0.0.1:{free_port()}/nobody")  # nothing listens there
    webhook = webhook_of(http, job_id, WebhookState.FAILED, timeout=90)
    assert webhook["attempts"] == MAX_ATTEMPTS
    assert webhook["last_error"].startswith(f"gave up after {MAX_ATTEMPTS} attempts: no answer from 127.0.0.1")


@contextmanager
def strict_callbacks() -> Iterator[None]:
    """The API validates as in AWS (WEBHOOK_ALLOW_PRIVATE off) while the block runs."""
    callbacks.allow_private(False)
    try:
        yield
    finally:
        callbacks.allow_private(True)


@pytest.mark.parametrize(("url", "problem"), [
    ("ftp://example.com/hook", "must be an https URL"),
    ("http://example.com/hook", "must be an https URL"),
    ("https://user:pass@example.com/hook", "must not carry credentials"),
    ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
    ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
    ("https://[::ffff:10.0.0.7]/hook", "10.0.0.7 is a private address"),
    ("https://[fd00::1]/hook", "fd00::1 is a private address"),
    ("https://localhost:8443/hook", "localhost is a loopback address"),
    ("https://example.com/" + "a" * 2000, "at most 2000 characters"),
    ("not a url", "must be an https URL"),
])
def test_a_callback_url_the_service_would_not_call_is_a_422_naming_it(
    http: httpx.Client, url: str, problem: str
) -> None:
    with strict_callbacks():
        chat = http.post("/chat", json={"query": ASK, "callback_url": url})
        document = http.post("/documents", json={"text": "# Tides\n\nHigh.", "callback_url": url})
        batch = http.post("/chat/batch", json={"questions": [{"query": ASK, "callback_url": url}]})
    for refused, field in ((chat, "callback_url"), (document, "callback_url"), (batch, "questions.0.callback_url")):
        assert refused.status_code == 422, refused.text
        (detail,) = refused.json()["error"]["details"]
        assert detail["field"] == field and problem in detail["problem"], detail


def test_a_refused_address_fails_the_delivery_for_good(
    http: httpx.Client, receiver: WebhookReceiver, stack: DevStack, secret: str
) -> None:
    """With WEBHOOK_ALLOW_PRIVATE off (as in AWS), a host that resolves to an internal address is
    never called: the delivery fails at once, saying why, and the receiver sees nothing."""
    receiver.script = [500]  # the stack's own attempt fails, so the job waits for a retry
    job_id = ask(http, f"{receiver.url}/internal")
    webhook_of(http, job_id, WebhookState.RETRYING)
    container = get_container()
    strict = WebhookPorts(
        jobs=container.job_store, deliveries=container.webhook_store, secrets=container.webhook_secrets,
        sender=PinnedHttpSender(2.0, allow_private=False), schedule=container.settings.webhook_schedule,
        claim_seconds=10,
    )
    time.sleep(0.1)
    assert deliver(job_id, 1, strict) is DeliveryOutcome.FAILED
    webhook = webhook_of(http, job_id, WebhookState.FAILED)
    assert webhook["last_error"] == "127.0.0.1 resolves to 127.0.0.1 is a loopback address; the service does not call it"
    time.sleep(2)  # the queued retry finds the delivery final and sends nothing
    assert [d.answered for d in receiver.for_job(job_id)] == [500]


def test_a_cancelled_job_posts_its_error_document(
    http: httpx.Client, receiver: WebhookReceiver, fake_llm: FakeLLM, secret: str
) -> None:
    fake_llm.delay = 3.0
    try:
        job_id = ask(http, f"{receiver.url}/stopped")
        deadline = time.monotonic() + 30
        while fake_llm.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        waiting = http.get(f"/result/{job_id}")
        assert waiting.status_code == 202 and waiting.json()["webhook"]["state"] == "pending"
        stopping = http.post(f"/jobs/{job_id}/cancel")
        assert stopping.status_code == 202 and stopping.json()["webhook"]["state"] == "pending"
        (delivery,) = receiver.wait_for(job_id)
    finally:
        fake_llm.delay = 0.0
    document = verified(delivery, secret)
    assert document == http.get(f"/result/{job_id}").json()
    assert document["error"]["code"] == "job_stopped" and document["error"]["job_id"] == job_id


def test_a_document_job_posts_what_it_did(http: httpx.Client, receiver: WebhookReceiver, secret: str) -> None:
    accepted = http.post("/documents", json={
        "document_id": "tide-tables", "text": "# Tide tables\n\nSpring tides reach 5.2 metres.",
        "callback_url": f"{receiver.url}/documents"})
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    (delivery,) = receiver.wait_for(job_id, timeout=120)
    document = verified(delivery, secret)
    assert document == http.get(f"/result/{job_id}").json()
    assert (document["document_id"], document["collection"], document["action"]) == ("tide-tables", "default", "created")


def test_a_rotated_secret_signs_with_both_until_the_grace_period_ends(
    http: httpx.Client, receiver: WebhookReceiver, secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ragcore_main(["webhooks", "secret", "rotate"]) == 0  # the stack's installed settings
    rotated = capsys.readouterr().out.strip().splitlines()[-1]
    assert rotated.startswith("whsec_") and rotated != secret
    job_id = ask(http, f"{receiver.url}/rotated")
    (delivery,) = receiver.wait_for(job_id)
    assert len(delivery.headers["webhook-signature"].split(" ")) == 2  # "v1,<new> v1,<old>"
    assert verified(delivery, rotated) == verified(delivery, secret)
    assert ragcore_main(["webhooks", "secret", "create"]) == 1  # one exists: create refuses
    newest = get_container().webhook_secrets.rotate(None, 0)  # no grace: the old one stops at once
    job_id = ask(http, f"{receiver.url}/rotated-again")
    (delivery,) = receiver.wait_for(job_id)
    assert len(delivery.headers["webhook-signature"].split(" ")) == 1
    verified(delivery, newest)
    with pytest.raises(WebhookVerificationError):
        verified(delivery, rotated)


def readme_receiver() -> str:
    """The receiver code of README.md's "Completion webhooks" section, as a reader copies it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Completion webhooks", 1)[1].split("\n### ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return code


def test_the_readmes_receiver_accepts_a_delivery_and_rejects_a_tampered_one(
    http: httpx.Client, receiver: WebhookReceiver, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGCORE_WEBHOOK_SECRET", secret)
    namespace: dict[str, Any] = {"__name__": "readme_receiver"}
    exec(compile(readme_receiver(), "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    server = ThreadingHTTPServer(("127.0.0.1", 0), namespace["Receiver"])
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    readme_url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/ragcore"
    try:
        job_id = ask(http, readme_url)
        assert webhook_of(http, job_id, WebhookState.DELIVERED)["last_status"] == 204
        # A genuine delivery, captured, then sent to the README's receiver as is and tampered with.
        captured = receiver.wait_for(ask(http, f"{receiver.url}/capture"))[0]
        headers = {k: v for k, v in captured.headers.items() if k.startswith("webhook-") or k == "content-type"}
        assert httpx.post(readme_url, content=captured.body, headers=headers).status_code == 204
        document = json.loads(captured.body)
        forged_body = json.dumps({**document, "answer": "Forged."}, separators=(",", ":")).encode()
        assert httpx.post(readme_url, content=forged_body, headers=headers).status_code == 401
        signature = headers["webhook-signature"]
        flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
        assert httpx.post(readme_url, content=captured.body,
                          headers={**headers, "webhook-signature": flipped}).status_code == 401
        stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 3600)}
        assert httpx.post(readme_url, content=captured.body, headers=stale).status_code == 401
    finally:
        server.shutdown()
        server.server_close()


def test_without_a_secret_nothing_unsigned_is_sent_until_one_is_made(
    http: httpx.Client, receiver: WebhookReceiver, secret: str
) -> None:
    from ragcore.adapters.valkey_webhooks import secrets_key

    get_container().valkey_client().delete(secrets_key(None))
    job_id = ask(http, f"{receiver.url}/unsigned")
    webhook = webhook_of(http, job_id, WebhookState.RETRYING)
    assert webhook["last_status"] is None
    assert webhook["last_error"] == ("no webhook signing secret for tenant (none): create one with "
                                     "`ragcore webhooks secret create`")
    assert receiver.for_job(job_id) == []
    made = get_container().webhook_secrets.create(None)
    (delivery,) = receiver.wait_for(job_id)
    assert verified(delivery, made)["job_id"] == job_id

"""The webhook Lambda handler (``rag_worker.webhooks``) with an SQS batch, real Valkey and a real
receiver: a record that fails in a way nobody foresaw is reported alone as a batch item
failure, and the batch's other records are delivered."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from rag_worker.webhooks import handler
from ragcore.domain.jobs import new_job
from ragcore.local.lambda_context import LocalLambdaContext
from tests.support.settings import Configure
from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def record(message_id: str, body: str) -> dict[str, Any]:
    return {"messageId": message_id, "receiptHandle": f"receipt-{message_id}", "body": body,
            "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"}


def test_an_unforeseen_error_fails_its_record_only(
    configure: Configure, receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    container = configure(webhook_allow_private=True)
    container.webhook_secrets.create(None)  # jobs without a tenant (AUTH_DISABLED); kept if made
    job = new_job("chat", {"query": "q", "callback_url": f"{receiver.url}/hook"}, 600)
    container.job_store.create(job)
    container.job_store.request_cancel(job.job_id)  # a queued job's cancel ends it
    event = {"Records": [
        record("not-json", "{not json"),
        record("delivered", json.dumps({"job_id": job.job_id})),
        record("no-job-id", json.dumps({"id": job.job_id})),
    ]}
    answer = handler(event, LocalLambdaContext("WebhookFunction", 60))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "not-json"}, {"itemIdentifier": "no-job-id"}]}
    (delivery,) = receiver.wait_for(job.job_id)
    assert delivery.answered == 200
    failures = [r for r in caplog.records if r.getMessage() == "webhook record failed"]
    assert sorted(r.message_id for r in failures) == ["no-job-id", "not-json"]  # type: ignore[attr-defined]
    assert all(r.levelname == "ERROR" and r.exc_info for r in failures)  # with the traceback

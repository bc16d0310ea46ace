"""The SQS adapter against LocalStack."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from botocore.exceptions import ClientError

from ragcore.adapters.sqs_queue import BATCH_ENTRIES, SqsJobQueue
from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.jobs import new_job_id
from ragcore.domain.messages import JobMessage
from tests.support.workers import make_queue


def test_send_puts_the_job_message_on_the_queue(sqs: Any, queue: dict[str, str]) -> None:
    SqsJobQueue(sqs, queue["url"]).send(JobMessage(job_id="ab" * 16))
    messages = sqs.receive_message(QueueUrl=queue["url"], WaitTimeSeconds=2)["Messages"]
    assert json.loads(messages[0]["Body"]) == {"job_id": "ab" * 16, "kind": "chat"}


def _drain(sqs: Any, url: str, expected: int) -> list[dict]:
    bodies: list[dict] = []
    for _ in range(20):
        if len(bodies) >= expected:
            break
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_a_batch_send_puts_every_message_on_its_kinds_queue(sqs: Any) -> None:
    """23 chat messages (three SendMessageBatch calls of at most 10) and 4 ingest messages."""
    jobs, ingest = (make_queue(sqs, visibility=30, max_receive=5) for _ in range(2))
    chats = [JobMessage(job_id=new_job_id()) for _ in range(23)]
    documents = [JobMessage(job_id=new_job_id(), kind="ingest") for _ in range(4)]
    assert SqsJobQueue(sqs, jobs["url"], ingest["url"]).send_batch([*documents, *chats]) == []
    assert sorted(b["job_id"] for b in _drain(sqs, jobs["url"], 23)) == sorted(m.job_id for m in chats)
    assert {b["kind"] for b in _drain(sqs, ingest["url"], 4)} == {"ingest"}


def test_localstack_refuses_what_sqs_refuses_in_a_batch(sqs: Any, queue: dict[str, str]) -> None:
    """The adapter's batches of 10 are the limit the offline queue enforces too, as SQS does:
    an 11th entry, or a batch over 1 MiB (SQS's limit for a message and for a batch since
    August 2025, 256 KiB before), is refused whole. (10 job messages come to under 1 KiB.)"""
    entries = [{"Id": str(i), "MessageBody": "{}"} for i in range(BATCH_ENTRIES + 1)]
    with pytest.raises(ClientError) as too_many:
        sqs.send_message_batch(QueueUrl=queue["url"], Entries=entries)
    assert "TooManyEntriesInBatchRequest" in str(too_many.value)
    big = [{"Id": str(i), "MessageBody": "x" * (110 * 1024)} for i in range(BATCH_ENTRIES)]  # 1100 KiB
    with pytest.raises(ClientError) as too_long:
        sqs.send_message_batch(QueueUrl=queue["url"], Entries=big)
    assert "BatchRequestTooLong" in str(too_long.value)
    sent = sqs.send_message_batch(QueueUrl=queue["url"], Entries=entries[:BATCH_ENTRIES])
    assert len(sent["Successful"]) == BATCH_ENTRIES and not sent.get("Failed")


def test_a_received_message_comes_back_when_the_worker_says(sqs: Any) -> None:
    jobs, ingest = (make_queue(sqs, visibility=300, max_receive=5) for _ in range(2))
    queue = SqsJobQueue(sqs, jobs["url"], ingest["url"])
    for target in (jobs, ingest):  # either queue, named by the ARN the event carries
        sqs.send_message(QueueUrl=target["url"], MessageBody="{}")
        (held,) = sqs.receive_message(QueueUrl=target["url"], WaitTimeSeconds=2)["Messages"]
        assert "Messages" not in sqs.receive_message(QueueUrl=target["url"], WaitTimeSeconds=1)  # hidden for 300 s
        queue.redeliver_in(target["arn"], held["ReceiptHandle"], 1)
        (back,) = sqs.receive_message(QueueUrl=target["url"], WaitTimeSeconds=5)["Messages"]
        assert back["MessageId"] == held["MessageId"]


def test_a_message_from_a_queue_the_worker_does_not_know_is_left_alone(
    sqs: Any, queue: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    SqsJobQueue(sqs, queue["url"]).redeliver_in("arn:aws:sqs:us-east-1:000000000000:elsewhere", "handle", 10)
    assert "message from an unknown queue elsewhere" in caplog.text


def test_unreachable_queue_is_reported_as_unavailable() -> None:
    from botocore.config import Config

    client = boto3.client(
        "sqs", region_name="us-east-1", endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(connect_timeout=0.5, retries={"max_attempts": 1}),
    )
    queue = SqsJobQueue(client, "http://127.0.0.1:1/000000000000/missing")
    with pytest.raises(DependencyUnavailableError, match="queue"):
        queue.send(JobMessage(job_id="ab" * 16))
    with pytest.raises(DependencyUnavailableError):
        queue.ping()
    batch = [JobMessage(job_id=new_job_id()) for _ in range(25)]
    assert queue.send_batch(batch) == batch  # nothing sent, and no error raised

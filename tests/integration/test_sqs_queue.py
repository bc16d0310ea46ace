"""The SQS adapter against LocalStack."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from ragcore.adapters.sqs_queue import SqsJobQueue
from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.messages import JobMessage
from tests.support.workers import make_queue


def test_send_puts_the_job_message_on_the_queue(sqs: Any, queue: dict[str, str]) -> None:
    SqsJobQueue(sqs, queue["url"]).send(JobMessage(job_id="ab" * 16))
    messages = sqs.receive_message(QueueUrl=queue["url"], WaitTimeSeconds=2)["Messages"]
    assert json.loads(messages[0]["Body"]) == {"job_id": "ab" * 16, "kind": "chat"}


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

"""The SQS adapter against LocalStack."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from ragcore.adapters.sqs_queue import SqsJobQueue
from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.messages import JobMessage


def test_send_puts_the_job_message_on_the_queue(sqs: Any, queue: dict[str, str]) -> None:
    SqsJobQueue(sqs, queue["url"]).send(JobMessage(job_id="ab" * 16))
    messages = sqs.receive_message(QueueUrl=queue["url"], WaitTimeSeconds=2)["Messages"]
    assert json.loads(messages[0]["Body"]) == {"job_id": "ab" * 16, "kind": "chat"}


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

"""Worker "Lambda instances" for tests: pollers feeding SQS batches from a real queue to the
worker handler, as the event source mapping does. Several of them act as concurrent
instances; ``tests/support/worker_process.py`` runs one in a process a test can kill."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ragcore.bootstrap import get_container
from ragcore.domain.jobs import Job
from ragcore.local.handlers import invoke, load_handler
from ragcore.local.sqs_poller import SqsPoller
from ragcore.local.template import load_template
from tests.support.paths import ROOT

REGION = "us-east-1"


def make_queue(sqs: Any, visibility: int, max_receive: int) -> dict[str, str]:
    """A queue with its own dead-letter queue, configured as the test needs."""
    name = f"q-{uuid.uuid4().hex[:12]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(visibility),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)}),
    })["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"url": url, "arn": arn, "dlq_url": dlq_url}


class Workers:
    def __init__(
        self, sqs: Any, queue: dict[str, str], instances: int = 1, batch_size: int = 5,
        function_id: str = "WorkerFunction",
    ) -> None:
        spec = load_template(ROOT / "template.yaml").trigger(function_id).function
        handler = load_handler(spec)
        self._pollers = [
            SqsPoller(sqs, queue["url"], queue["arn"], REGION, lambda event: invoke(spec, handler, event),
                      batch_size=batch_size, batching_window_seconds=0)
            for _ in range(instances)
        ]

    def __enter__(self) -> "Workers":
        for poller in self._pollers:
            poller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for poller in self._pollers:
            poller.stop()


def wait_final(job_ids: list[str], timeout: float = 60) -> list[Job]:
    """The jobs once none is queued or started; fails the test if that takes too long."""
    store = get_container().job_store
    deadline = time.monotonic() + timeout
    while True:
        jobs = [store.get(job_id) for job_id in job_ids]
        if all(job.status.is_terminal for job in jobs):
            return jobs
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs still running after {timeout} s: {[j.status.value for j in jobs]}")
        time.sleep(0.2)


def queue_depth(sqs: Any, url: str) -> int:
    """Visible plus in-flight messages."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

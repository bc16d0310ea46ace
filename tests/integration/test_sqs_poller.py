"""The local event source mapping against LocalStack SQS: succeeded records are deleted,
failed ones come back after the visibility timeout, and end in the DLQ after maxReceiveCount."""

from __future__ import annotations

import json
import time
from typing import Any

from ragcore.local.sqs_poller import SqsPoller


def make_poller(sqs: Any, queue: dict[str, str], invoke, batch_size: int = 10, window: int = 0) -> SqsPoller:  # type: ignore[no-untyped-def]
    return SqsPoller(sqs, queue["url"], queue["arn"], "us-east-1", invoke, batch_size, window)


def depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_batch_is_a_real_sqs_event_and_failed_records_are_redelivered(sqs: Any, queue: dict[str, str]) -> None:
    for body in ("ok-1", "fail", "ok-2"):
        sqs.send_message(QueueUrl=queue["url"], MessageBody=body)
    seen: list[list[str]] = []

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        records = event["Records"]
        seen.append(sorted(r["body"] for r in records))
        assert all(r["eventSource"] == "aws:sqs" and r["eventSourceARN"] == queue["arn"] for r in records)
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "fail"]}

    poller = make_poller(sqs, queue, invoke, batch_size=10, window=1)
    processed = 0
    deadline = time.monotonic() + 10
    while processed < 3 and time.monotonic() < deadline:
        processed += poller.poll_once()
    assert sorted(b for batch in seen for b in batch) == ["fail", "ok-1", "ok-2"]
    # After the 1 s visibility timeout, only the failed record is delivered again.
    time.sleep(1.2)
    seen.clear()
    while not seen and time.monotonic() < deadline + 5:
        poller.poll_once()
    assert seen == [["fail"]]


def test_a_record_that_keeps_failing_ends_in_the_dead_letter_queue(sqs: Any, queue: dict[str, str]) -> None:
    sqs.send_message(QueueUrl=queue["url"], MessageBody=json.dumps({"poison": True}))

    def always_fail(event: dict[str, Any]) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    poller = make_poller(sqs, queue, always_fail)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and depth(sqs, queue["dlq_url"]) == 0:
        poller.poll_once()
        time.sleep(0.3)
    assert depth(sqs, queue["dlq_url"]) == 1
    assert depth(sqs, queue["url"]) == 0


def test_a_crashed_invocation_deletes_nothing(sqs: Any, queue: dict[str, str]) -> None:
    sqs.send_message(QueueUrl=queue["url"], MessageBody="x")

    def crash(event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("worker died")

    assert make_poller(sqs, queue, crash).poll_once() == 1
    time.sleep(1.2)
    assert depth(sqs, queue["url"]) == 1

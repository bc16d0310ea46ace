"""Feeds SQS batches to the worker handler the way Lambda's event source mapping does.

Written by hand because the event source mapping is AWS-side machinery with no offline
library: receive up to ``BatchSize`` messages within ``MaximumBatchingWindowInSeconds``,
invoke the handler with a real SQS event, delete the records that succeeded and leave the
ones in ``batchItemFailures`` to reappear after the visibility timeout. If the invocation
itself fails, nothing is deleted.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

MAX_RECEIVE = 10  # SQS's own per-call limit


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS's API says StringValue/DataType; the Lambda event says stringValue/dataType."""
    return {key[0].lower() + key[1:]: item for key, item in value.items()}


def to_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    name: _lambda_attribute(value) for name, value in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def succeeded_records(event: dict[str, Any], response: dict[str, Any] | None) -> list[dict[str, Any]]:
    failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
    return [r for r in event["Records"] if r["messageId"] not in failed]


class SqsPoller:
    def __init__(
        self,
        client: Any,
        queue_url: str,
        queue_arn: str,
        region: str,
        invoke: Callable[[dict[str, Any]], dict[str, Any]],
        batch_size: int,
        batching_window_seconds: int,
    ) -> None:
        self._client = client
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._region = region
        self._invoke = invoke
        self._batch_size = batch_size
        self._window = batching_window_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqs-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # keep polling, as the managed poller does
                log.exception("sqs poll failed")
                self._stop.wait(1)

    def poll_once(self) -> int:
        messages = self._receive_batch()
        if not messages:
            return 0
        event = to_sqs_event(messages, self._queue_arn, self._region)
        try:
            response = self._invoke(event)
        except Exception:
            log.exception("worker invocation failed; the whole batch will be redelivered")
            return len(messages)
        done = succeeded_records(event, response)
        for start in range(0, len(done), MAX_RECEIVE):
            self._client.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]}
                    for i, r in enumerate(done[start : start + MAX_RECEIVE])
                ],
            )
        return len(messages)

    def _receive_batch(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        deadline: float | None = None
        while len(batch) < self._batch_size and not self._stop.is_set():
            wait = 1 if deadline is None else max(0, min(1, int(deadline - time.monotonic())))
            received = self._client.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(MAX_RECEIVE, self._batch_size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch and not received:
                break  # an empty long poll: let the caller check for stop and poll again
            batch.extend(received)
            if deadline is None:
                deadline = time.monotonic() + self._window
            if not received or time.monotonic() >= deadline:
                break
        return batch

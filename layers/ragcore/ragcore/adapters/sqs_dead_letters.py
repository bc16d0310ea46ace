"""A job queue's dead-letter queue on SQS, found from the job queue's own RedrivePolicy."""

from __future__ import annotations

import json
from typing import Any

from ragcore.adapters.sqs_queue import sqs_errors
from ragcore.ports import DeadLetter

# Received letters stay hidden this long, so one pass sees each once and letters it leaves
# behind (unreadable ones) do not come round again before it ends.
_HIDE_SECONDS = 120


def dead_letter_url(client: Any, attributes: dict[str, str]) -> str | None:
    """The URL of the dead-letter queue a queue's ``RedrivePolicy`` names, or None if it has
    none. ``attributes`` are the queue's, fetched by the caller (with ``RedrivePolicy`` among
    them), so one who needs others too asks SQS once. Raises what boto3 raises: callers wrap
    it in ``sqs_errors``."""
    policy = attributes.get("RedrivePolicy")
    if not policy:
        return None
    _, _, _, _, account, name = json.loads(policy)["deadLetterTargetArn"].split(":")
    return client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


class SqsDeadLetters:
    """Implements ``ports.DeadLetters``. Sending back is a new message on the job queue (its
    receive count starts again at 1), then a delete from the dead-letter queue; SQS's own
    move task is not used because the job record must be requeued message by message."""

    def __init__(self, client: Any, source_url: str) -> None:
        self._client = client
        self._source_url = source_url
        self._url = self._dead_letter_url()

    def _dead_letter_url(self) -> str:
        with sqs_errors():
            attributes = self._client.get_queue_attributes(
                QueueUrl=self._source_url, AttributeNames=["RedrivePolicy"]
            )["Attributes"]
            url = dead_letter_url(self._client, attributes)
        if url is None:
            raise ValueError(f"queue {self._source_url} has no dead-letter queue")
        return url

    def receive(self) -> list[DeadLetter]:
        with sqs_errors():
            messages = self._client.receive_message(
                QueueUrl=self._url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                VisibilityTimeout=_HIDE_SECONDS,
            ).get("Messages", [])
        return [DeadLetter(body=m["Body"], handle=m["ReceiptHandle"]) for m in messages]

    def send_back(self, letter: DeadLetter) -> None:
        with sqs_errors():
            self._client.send_message(QueueUrl=self._source_url, MessageBody=letter.body)
            self._client.delete_message(QueueUrl=self._url, ReceiptHandle=letter.handle)

    def discard(self, letter: DeadLetter) -> None:
        with sqs_errors():
            self._client.delete_message(QueueUrl=self._url, ReceiptHandle=letter.handle)


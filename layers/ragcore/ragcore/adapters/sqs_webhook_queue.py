"""The webhook delivery queue on Amazon SQS (LocalStack offline): one message per job that
ended with a callback URL; the delivery function receives them (``rag_worker.webhooks``)."""

from __future__ import annotations

import json
from typing import Any

from ragcore.adapters.sqs_queue import sqs_errors


class SqsWebhookQueue:
    """Implements ``ports.WebhookQueue``."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, job_id: str) -> None:
        with sqs_errors():
            self._client.send_message(QueueUrl=self._url, MessageBody=json.dumps({"job_id": job_id}))

    def redeliver_in(self, receipt_handle: str, seconds: int) -> None:
        with sqs_errors():
            self._client.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)

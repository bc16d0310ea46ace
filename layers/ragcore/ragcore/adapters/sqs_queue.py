"""The job queue on Amazon SQS (LocalStack offline)."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.job_kinds import QueueName, policy
from ragcore.domain.messages import JobMessage

log = logging.getLogger(__name__)


@contextmanager
def sqs_errors() -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailableError("queue", type(exc).__name__) from exc


class SqsJobQueue:
    """Implements ``ports.JobQueue``: each job to its kind's queue (``domain.job_kinds``; document
    jobs to the ingest queue, a slower worker with a longer timeout). The client is built by
    ``bootstrap`` with timeouts and botocore's own retry mode, so no retry loop lives here."""

    def __init__(self, client: Any, queue_url: str, ingest_queue_url: str | None = None) -> None:
        self._client = client
        self._queue_url = queue_url
        self._ingest_queue_url = ingest_queue_url or queue_url
        self._urls = {QueueName.JOBS: self._queue_url, QueueName.INGEST: self._ingest_queue_url}

    def send(self, message: JobMessage) -> None:
        url = self._urls[policy(message.kind).queue]
        with sqs_errors():
            self._client.send_message(QueueUrl=url, MessageBody=message.model_dump_json())

    def redeliver_in(self, source_arn: str, receipt_handle: str, seconds: int) -> None:
        # The event names its queue by ARN; the queue's URL is one this adapter was given
        # (the worker has both in its environment), so no GetQueueUrl call or permission.
        name = source_arn.rsplit(":", 1)[-1]
        url = next((u for u in self._urls.values() if u.rstrip("/").endswith(f"/{name}")), None)
        if url is None:
            log.warning("message from an unknown queue %s: its visibility is left as it is", name)
            return
        with sqs_errors():
            self._client.change_message_visibility(
                QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )

    def ping(self) -> None:
        with sqs_errors():
            self._client.get_queue_attributes(
                QueueUrl=self._queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )

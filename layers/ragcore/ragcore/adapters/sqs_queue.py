"""The job queue on Amazon SQS (LocalStack offline)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.messages import JobMessage


@contextmanager
def sqs_errors() -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailableError("queue", type(exc).__name__) from exc


class SqsJobQueue:
    """Implements ``ports.JobQueue``: chat jobs to the jobs queue, document jobs to the ingest
    queue (a slower worker with a longer timeout). The client is built by ``bootstrap`` with
    timeouts and botocore's own retry mode, so no retry loop lives here."""

    def __init__(self, client: Any, queue_url: str, ingest_queue_url: str | None = None) -> None:
        self._client = client
        self._queue_url = queue_url
        self._ingest_queue_url = ingest_queue_url or queue_url

    def send(self, message: JobMessage) -> None:
        url = self._queue_url if message.kind == "chat" else self._ingest_queue_url
        with sqs_errors():
            self._client.send_message(QueueUrl=url, MessageBody=message.model_dump_json())

    def ping(self) -> None:
        with sqs_errors():
            self._client.get_queue_attributes(
                QueueUrl=self._queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )

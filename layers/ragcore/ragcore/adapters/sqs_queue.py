"""The job queue on Amazon SQS (LocalStack offline)."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from itertools import groupby
from typing import Any, Iterator, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.job_kinds import QueueName, policy
from ragcore.domain.messages import JobMessage

log = logging.getLogger(__name__)

# SQS takes at most 10 entries in one SendMessageBatch (and 1 MiB in all, which 10 job
# messages of under 100 bytes each never come near); LocalStack refuses more as SQS does.
BATCH_ENTRIES = 10


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

    def send_batch(self, messages: Sequence[JobMessage]) -> list[JobMessage]:
        """Each kind's messages to its queue, 10 a call. SQS answers a call with each entry's
        fate (a call can succeed while some entries fail), so every entry is checked; a call
        that fails (botocore has retried it already) ends the sending, so an unreachable
        queue costs one call's time, not ten."""
        unsent: list[JobMessage] = []
        down = False
        for url, queued in groupby(sorted(messages, key=self._url_of), key=self._url_of):
            for batch in _chunks(list(queued), BATCH_ENTRIES):
                if down:
                    unsent.extend(batch)
                    continue
                try:
                    unsent.extend(self._send_entries(url, batch))
                except DependencyUnavailableError as exc:
                    log.warning("a message batch could not be sent (%s); the rest are not tried", exc)
                    down = True
                    unsent.extend(batch)
        return unsent

    def _send_entries(self, url: str, batch: list[JobMessage]) -> list[JobMessage]:
        """One SendMessageBatch call; the messages whose entries SQS refused. Entry ids are the
        job ids (unique in a batch, and within SQS's 80 characters of [A-Za-z0-9_-])."""
        entries = [{"Id": m.job_id, "MessageBody": m.model_dump_json()} for m in batch]
        with sqs_errors():
            answer = self._client.send_message_batch(QueueUrl=url, Entries=entries)
        failed = {f["Id"]: f for f in answer.get("Failed", [])}
        for entry in failed.values():
            log.warning("the queue refused a job message", extra={
                "job_id": entry["Id"], "code": entry.get("Code"), "sender_fault": entry.get("SenderFault")})
        return [m for m in batch if m.job_id in failed]

    def _url_of(self, message: JobMessage) -> str:
        return self._urls[policy(message.kind).queue]

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


def _chunks(items: list[JobMessage], size: int) -> Iterator[list[JobMessage]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

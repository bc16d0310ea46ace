"""The Lambda entry point: ``rag_worker.handler.handler``.

Records of a batch run concurrently (Powertools' async batch processor; the blocking work
goes to threads). A record that raises is reported in ``batchItemFailures`` and only it is
redelivered by SQS; the others are deleted.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from ragcore.bootstrap import get_container
from ragcore.domain.budget import Budget
from ragcore.domain.errors import InvalidMessageError
from ragcore.domain.messages import JobMessage
from ragcore.services.answer import AnswerPorts, answer_job
from ragcore.services.document_jobs import DocumentJobPorts, run_document_job
from ragcore.services.job_runner import JobLimits, Outcome
from ragcore.services.retries import RetryPolicy

logger = Logger(service="ragcore-worker")


def _limits(context: Any) -> JobLimits:
    s = get_container().settings
    remaining = context.get_remaining_time_in_millis() / 1000
    return JobLimits(
        lease_seconds=s.job_lease_seconds,
        max_attempts=s.job_max_attempts,
        retry=RetryPolicy(
            tries=s.retry_tries, initial_wait=s.retry_initial_seconds, max_wait=s.retry_max_seconds
        ),
        budget=Budget.of(remaining - s.invocation_margin_seconds),
        margin_seconds=s.invocation_margin_seconds,
    )


def _run(message: JobMessage, delivery: int, limits: JobLimits) -> Outcome:
    container = get_container()
    if message.kind == "chat":
        ports = AnswerPorts(
            store=container.job_store,
            embedder=container.embedder,
            index=container.vector_index,
            chat=container.chat_model,
        )
        return answer_job(message, ports, limits, delivery)
    document_ports = DocumentJobPorts(
        store=container.job_store,
        documents=container.document_store,
        blobs=container.blob_store,
        embedder=container.embedder,
        index=container.vector_index,
        max_bytes=container.settings.max_upload_bytes,
    )
    return run_document_job(message, document_ports, limits, delivery)


async def _process(record: SQSRecord, lambda_context: Any) -> str:
    try:
        message = JobMessage.model_validate_json(record.body)
    except ValidationError as exc:
        # Not failed here even when a job id can be read: a message this worker cannot parse
        # may come from a newer API (a deploy in progress). It goes to the DLQ, to be redriven
        # once the workers understand it; its job is failed at its deadline if never run.
        raise InvalidMessageError(f"message {record.message_id} is not a job message") from exc
    delivery = int(record.attributes.approximate_receive_count or 1)
    outcome = await asyncio.to_thread(_run, message, delivery, _limits(lambda_context))
    logger.info("job processed", job_id=message.job_id, kind=message.kind, outcome=outcome.value)
    return outcome.value


def _warm_up() -> None:
    container = get_container()
    for adapter in ("job_store", "embedder", "vector_index"):
        getattr(container, adapter)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _warm_up()  # build adapters once, before records fan out to threads
    # Report every failure as a batch item failure, even when all records fail, rather than
    # raising: SQS redelivers the same records either way, and this keeps the invocation "ok".
    # A processor per call: it holds the batch's state, and the local runner calls from threads.
    processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return async_process_partial_response(
        event=event, record_handler=_process, processor=processor, context=context
    )

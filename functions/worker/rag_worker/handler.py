"""The Lambda entry point: ``rag_worker.handler.handler``.

Records of a batch run concurrently (Powertools' async batch processor; the blocking work
goes to a thread per record, up to ``MAX_RECORD_THREADS``, so a whole batch waits on the LLM at
once: about BatchSize jobs per LLM latency per instance). A record that raises is reported in
``batchItemFailures`` and only it is redelivered by SQS; the others are deleted.

Observability: JSON logs (Powertools Logger; cold start and the Lambda context on every line),
each record's lines keyed by its ``job_id`` (also the ``correlation_id``: the API logs the
same id with its request id); an X-Ray segment per invocation (Powertools Tracer, off outside
Lambda) with a subsegment per dependency call; metrics are taken by the job store and queue
adapters (``ragcore.observability.metered``).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from ragcore.bootstrap import Container, get_container
from ragcore.domain.budget import Budget
from ragcore.domain.errors import InvalidMessageError, RagError
from ragcore.domain.job_kinds import JobKind
from ragcore.domain.messages import JobMessage
from ragcore.services.answer import AnswerPorts, answer_job
from ragcore.services.document_jobs import DocumentJobPorts, run_document_job
from ragcore.services.job_runner import JobLimits, MessageOutcome
from ragcore.observability.logs import correlate, route_core_logs
from ragcore.observability.tracing import tracer as make_tracer
from ragcore.services.retries import RedeliveryPolicy, RetryPolicy

logger = Logger(service="ragcore-worker")
tracer = make_tracer("ragcore-worker")
route_core_logs(logger)

# Threads for one batch's records, one each up to this bound (the template's BatchSize, SQS's
# largest batch without a batching window). Not the event loop's default pool: it has
# min(32, CPUs + 4) threads, 6 on a 2-vCPU instance, fewer than a batch, so a batch would wait
# on the LLM in two rounds.
MAX_RECORD_THREADS = 10
_batch_pool: contextvars.ContextVar[ThreadPoolExecutor] = contextvars.ContextVar("batch_pool")


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
        redelivery=RedeliveryPolicy.from_settings(s),
    )


def _run(record: SQSRecord, message: JobMessage, delivery: int, limits: JobLimits) -> MessageOutcome:
    container = get_container()
    # After a transient failure the runner says when this record's message should come back.
    redeliver_in = functools.partial(
        container.queue.redeliver_in, record.event_source_arn, record.receipt_handle
    )
    return _RUNNERS[message.kind](container, message, limits, delivery, redeliver_in)


def _answer(
    container: Container, message: JobMessage, limits: JobLimits, delivery: int, redeliver_in: Callable[[int], None]
) -> MessageOutcome:
    ports = AnswerPorts(
        store=container.job_store,
        embedder=container.embedder,
        index=container.vector_index,
        chat=container.chat_model,
        prompt_limits=container.prompt_limits,
        mode=container.settings.answer_mode,
        conversations=container.conversations,
        partial_interval_ms=container.settings.partial_answer_interval_ms,
    )
    return answer_job(message, ports, limits, delivery, redeliver_in)


def _document(
    container: Container, message: JobMessage, limits: JobLimits, delivery: int, redeliver_in: Callable[[int], None]
) -> MessageOutcome:
    document_ports = DocumentJobPorts(
        store=container.job_store,
        documents=container.document_store,
        blobs=container.blob_store,
        embedder=container.embedder,
        index=container.vector_index,
        max_bytes=container.settings.max_upload_bytes,
        parse_limits=container.parse_limits,
    )
    return run_document_job(message, document_ports, limits, delivery, redeliver_in)


# What runs each kind of job (``domain.job_kinds``).
Runner = Callable[[Container, JobMessage, JobLimits, int, Callable[[int], None]], MessageOutcome]
_RUNNERS: dict[JobKind, Runner] = {JobKind.CHAT: _answer, JobKind.INGEST: _document, JobKind.DELETE: _document}


async def _process(record: SQSRecord, lambda_context: Any) -> str:
    # Each record runs in its own asyncio task (its own copy of the logging context), then
    # in a thread that inherits it: these keys stay on this record's lines only.
    correlate(logger, message_id=record.message_id)
    try:
        message = JobMessage.model_validate_json(record.body)
    except ValidationError as exc:
        # Not failed here even when a job id can be read: a message this worker cannot parse
        # may come from a newer API (a deploy in progress). It goes to the DLQ, to be redriven
        # once the workers understand it; its job is failed at its deadline if never run.
        logger.warning("message is not a job message; it goes back, then to the dead-letter queue")
        raise InvalidMessageError(f"message {record.message_id} is not a job message") from exc
    delivery = int(record.attributes.approximate_receive_count or 1)
    correlate(logger, correlation_id=message.job_id, job_id=message.job_id, kind=message.kind)
    started = time.perf_counter()
    try:
        # As asyncio.to_thread, on this batch's pool: the thread runs in a copy of this context.
        outcome = await asyncio.get_running_loop().run_in_executor(
            _batch_pool.get(), contextvars.copy_context().run,
            _run, record, message, delivery, _limits(lambda_context),
        )
    except Exception as exc:
        # Reported in batchItemFailures: redelivered later, or dead-lettered after the last try.
        # The reason is logged only when it is one of ours (written to carry no request data).
        logger.warning(
            "job not done; its message goes back to the queue", delivery=delivery,
            error=type(exc).__name__, reason=str(exc) if isinstance(exc, RagError) else None,
        )
        raise
    logger.info("job processed", outcome=outcome.value, delivery=delivery,
                duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return outcome.value


def _warm_up() -> None:
    container = get_container()
    for adapter in ("job_store", "embedder", "vector_index"):
        getattr(container, adapter)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # responses name message ids only, but stay out
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _warm_up()  # build adapters once, before records fan out to threads
    # Report every failure as a batch item failure, even when all records fail, rather than
    # raising: SQS redelivers the same records either way, and this keeps the invocation "ok".
    # A processor per call: it holds the batch's state, and the local runner calls from threads.
    processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    threads = max(1, min(len(event.get("Records") or ()), MAX_RECORD_THREADS))
    with ThreadPoolExecutor(threads, thread_name_prefix="record") as pool:
        token = _batch_pool.set(pool)  # the records' tasks copy this context
        try:
            return async_process_partial_response(
                event=event, record_handler=_process, processor=processor, context=context
            )
        finally:
            _batch_pool.reset(token)

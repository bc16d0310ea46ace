"""Running one chat job: claim it, retrieve, prompt, call the LLM, record the outcome."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from ragcore.domain.answers import Answer, Timings
from ragcore.domain.errors import DependencyUnavailableError, JobBusyError, RagError
from ragcore.domain.messages import ChatRequest, JobMessage
from ragcore.ports import ChatModel, ClaimOutcome, Embedder, JobStore, VectorIndex
from ragcore.services.prompting import build_messages, sources_of

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    FINISHED = "finished"
    FAILED = "failed"
    SKIPPED = "skipped"  # redelivery of a job already done, or an expired record


@dataclass(frozen=True)
class AnswerPorts:
    store: JobStore
    embedder: Embedder
    index: VectorIndex
    chat: ChatModel


def answer_job(
    message: JobMessage, ports: AnswerPorts, lease_seconds: int, max_attempts: int, delivery: int = 1
) -> Outcome:
    """Raises ``JobBusyError`` or ``DependencyUnavailableError`` when the message should be
    redelivered; every other failure is recorded on the job, which is then final.

    ``delivery`` is the queue's receive count for this message. Deliveries that never reached
    a claim (a busy job, Valkey down) count there but not in the job's attempts, so the last
    delivery before the dead-letter queue is recognised by whichever is higher."""
    claim = ports.store.claim(message.job_id, lease_seconds)
    if claim.outcome is ClaimOutcome.ALREADY_DONE:
        log.info("job already final; redelivered message ignored", extra={"job_id": message.job_id})
        return Outcome.SKIPPED
    if claim.outcome is ClaimOutcome.MISSING:
        log.warning("job record not found (expired?); message dropped", extra={"job_id": message.job_id})
        return Outcome.SKIPPED
    if claim.outcome is ClaimOutcome.IN_PROGRESS:
        raise JobBusyError(f"job {message.job_id} is being processed by another worker")

    attempt = claim.attempt
    try:
        request = ChatRequest.model_validate(ports.store.get(message.job_id).request)
        answer = _answer(request, ports)
    except DependencyUnavailableError as exc:
        if max(attempt, delivery) < max_attempts:
            raise  # transient: let the queue redeliver
        ports.store.fail(message.job_id, attempt, f"gave up after {attempt} attempts: {exc}")
        return Outcome.FAILED
    except RagError as exc:
        ports.store.fail(message.job_id, attempt, str(exc))
        return Outcome.FAILED
    except Exception as exc:  # a bug or an unexpected SDK error: keep the job readable
        log.exception("unexpected error while answering", extra={"job_id": message.job_id})
        ports.store.fail(message.job_id, attempt, f"internal error ({type(exc).__name__})")
        return Outcome.FAILED

    if not ports.store.finish(message.job_id, attempt, answer.model_dump()):
        # Stopped meanwhile, or our lease expired and another attempt owns the job.
        log.warning("job moved on while answering; result discarded", extra={"job_id": message.job_id})
        return Outcome.SKIPPED
    return Outcome.FINISHED


def _answer(request: ChatRequest, ports: AnswerPorts) -> Answer:
    started = time.perf_counter()
    vector = ports.embedder.embed([request.query])[0]
    embedded = time.perf_counter()
    passages = ports.index.search(request.collection, vector, request.top_k)
    retrieved = time.perf_counter()
    completion = ports.chat.complete(build_messages(request.query, passages))
    done = time.perf_counter()
    return Answer(
        answer=completion.text,
        sources=sources_of(passages),
        model=completion.model,
        usage=completion.usage,
        timings_ms=Timings(
            embed_ms=_ms(embedded - started),
            retrieval_ms=_ms(retrieved - embedded),
            llm_ms=_ms(done - retrieved),
            total_ms=_ms(done - started),
        ),
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)

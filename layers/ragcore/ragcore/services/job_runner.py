"""Running any job kind with the same guarantees: claim it, do the work once, record the outcome.

Shared by chat answers and document ingestion/deletion, so redelivery, leases, retries,
cancels and the dead-letter path behave the same for every kind of job.

Exactly-once effects come from atomic status changes in the job store, not from a separate
idempotency record: a claim is one atomic step that only one delivery can win while the lease
lives, and only the attempt that owns the job may record its outcome. A duplicate message
finds the job started (and goes back to the queue) or final (and is dropped).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Callable

from pydantic import ValidationError
from tenacity import Retrying

from ragcore.domain.budget import Budget
from ragcore.domain.errors import DependencyUnavailableError, JobBusyError, JobCancelled, RagError
from ragcore.domain.jobs import Job
from ragcore.domain.lifecycle import Outcome
from ragcore.domain.messages import JobMessage
from ragcore.ports import JobStore
from ragcore.services.retries import RedeliveryPolicy, RetryPolicy, retrying

log = logging.getLogger(__name__)


class MessageOutcome(StrEnum):
    """What one delivery of a job's message came to: the worker logs it (``outcome=``). Not
    the lifecycle's ``Outcome``, which says what one transition did: a delivery takes several
    (claim, then finish, fail, retry or cancel), and SKIPPED stands for any delivery with
    nothing to run (its job final or gone, or moved on while this attempt ran)."""

    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class JobLimits:
    lease_seconds: int  # >= the function's timeout: a live lease means a live worker
    max_attempts: int  # = the queue's maxReceiveCount: the last delivery fails the job
    retry: RetryPolicy  # transient failures, within one invocation
    budget: Budget  # for the work: this invocation's time less the margin
    margin_seconds: float = 0.0  # kept back to record the outcome, retried within it
    redelivery: RedeliveryPolicy = RedeliveryPolicy()  # transient failures, across deliveries

    def recording(self) -> Retrying:
        """Job-store writes are retried too, briefly: each names its attempt, so a repeat is
        harmless, and a result lost to a Valkey blip would cost a second LLM call."""
        return retrying(_RECORD_RETRY, Budget(self.budget.deadline + self.margin_seconds))


_RECORD_RETRY = RetryPolicy(tries=4, initial_wait=0.2, max_wait=1.0, min_try_seconds=0.5)


@dataclass(frozen=True)
class Run:
    """What a job's work sees: its job, the time left, and the step boundaries."""

    job: Job
    budget: Budget
    store: JobStore

    def checkpoint(self) -> None:
        """Called between steps (before retrieval, before the LLM call, ...), so a cancelled job
        spends nothing more."""
        if self.store.cancel_requested(self.job.job_id):
            raise JobCancelled


Work = Callable[[Run], dict[str, Any]]


def run_job(
    message: JobMessage,
    store: JobStore,
    work: Work,
    limits: JobLimits,
    delivery: int = 1,
    on_failed: Callable[[Job, str], None] | None = None,
    redeliver_in: Callable[[int], None] | None = None,
) -> MessageOutcome:
    """Raises ``JobBusyError`` or ``DependencyUnavailableError`` when the message should be
    redelivered; every other failure is recorded on the job, which is then final.

    ``delivery`` is the queue's receive count for this message. Deliveries that never reached
    a claim (a busy job, Valkey down) count there but not in the job's attempts, so the last
    delivery before the dead-letter queue is recognised by whichever is higher. On that
    delivery a transient failure fails the job and still raises, so the message lands in the
    dead-letter queue, from where ``ragcore dlq redrive`` can run it again.

    Before that, a transient failure hands the job back (QUEUED, with the error in words and
    the next attempt's time, so a reader can tell a failing job from a slow one) and asks
    ``redeliver_in`` to bring the message back after ``limits.redelivery``'s delay for this
    delivery (the last one's message comes back at once, to go to the dead-letter queue)."""
    job_id = message.job_id
    durable = limits.recording()
    claim = durable(store.claim, job_id, limits.lease_seconds)
    if claim.outcome is Outcome.REFUSED:
        log.info("job already final; redelivered message ignored", extra={"job_id": job_id})
        return MessageOutcome.SKIPPED
    if claim.outcome is Outcome.MISSING or claim.job is None:
        log.warning("job record not found (expired?); message dropped", extra={"job_id": job_id})
        return MessageOutcome.SKIPPED
    if claim.outcome is Outcome.BUSY:
        raise JobBusyError(f"job {job_id} is being processed by another worker")
    job, attempt = claim.job, claim.attempt

    def fail(error: str) -> MessageOutcome:
        failed = durable(store.fail, job_id, attempt, error)
        if failed.outcome is Outcome.CANCELLED:
            return MessageOutcome.STOPPED  # a cancel was requested meanwhile: it wins over the failure
        if failed.outcome is Outcome.APPLIED and on_failed is not None and failed.job is not None:
            on_failed(failed.job, error)
        return MessageOutcome.FAILED

    run = Run(job=job, budget=limits.budget, store=store)
    try:
        result = retrying(limits.retry, limits.budget)(work, run)
    except JobCancelled:
        durable(store.honour_cancel, job_id, attempt)
        return MessageOutcome.STOPPED
    except (DependencyUnavailableError, JobBusyError) as exc:
        deliveries = max(attempt, delivery)
        if deliveries >= limits.max_attempts:
            fail(f"gave up after {deliveries} deliveries: {exc}")
            _redeliver(redeliver_in, job_id, 0)
        elif isinstance(exc, DependencyUnavailableError):
            delay = limits.redelivery.delay(deliveries)
            handed_back = durable(store.retry_later, job_id, attempt, str(exc), time.time() + delay)
            if handed_back.outcome is Outcome.CANCELLED:
                return MessageOutcome.STOPPED  # a cancel was requested meanwhile: nothing left to retry
            if handed_back.outcome is Outcome.APPLIED:
                _redeliver(redeliver_in, job_id, delay)
        # A busy document (JobBusyError: another job holds its lock) keeps its lease and the
        # queue's own visibility timeout: that job may take as long as its function's timeout.
        raise  # back to the queue: a later delivery, or the dead-letter queue after the last
    except ValidationError as exc:
        return fail(f"the job's request is not valid ({exc.error_count()} problem(s)); it was not run")
    except RagError as exc:
        return fail(str(exc))
    except Exception as exc:  # a bug or an unexpected SDK error: keep the job readable
        log.exception("unexpected error while running a job", extra={"job_id": job_id})
        return fail(f"internal error ({type(exc).__name__})")

    finished = durable(store.finish, job_id, attempt, result)
    if finished.outcome is Outcome.CANCELLED:
        log.info("job cancelled; its result was not written", extra={"job_id": job_id})
        return MessageOutcome.STOPPED
    if finished.outcome is not Outcome.APPLIED:
        # Our lease expired and another attempt owns the job, or it was failed meanwhile.
        log.warning("job moved on while running; result discarded", extra={"job_id": job_id})
        return MessageOutcome.SKIPPED
    return MessageOutcome.FINISHED


def _redeliver(redeliver_in: Callable[[int], None] | None, job_id: str, seconds: int) -> None:
    """Best effort: if the queue cannot be told, the message still comes back, after the
    queue's whole visibility timeout."""
    if redeliver_in is None:
        return
    try:
        redeliver_in(seconds)
    except DependencyUnavailableError as exc:
        log.warning("redelivery delay not set; the queue's own timeout applies: %s", exc,
                    extra={"job_id": job_id})

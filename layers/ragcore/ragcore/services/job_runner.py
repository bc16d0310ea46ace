"""Running any job kind with the same guarantees: claim it, do the work once, record the outcome.

Shared by chat answers and document ingestion/deletion, so redelivery, leases and the retry
budget behave the same for every kind of job.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any, Callable

from ragcore.domain.errors import DependencyUnavailableError, JobBusyError, RagError
from ragcore.domain.jobs import Job
from ragcore.domain.messages import JobMessage
from ragcore.ports import ClaimOutcome, JobStore

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    FINISHED = "finished"
    FAILED = "failed"
    SKIPPED = "skipped"  # redelivery of a job already done, or an expired record


def run_job(
    message: JobMessage,
    store: JobStore,
    work: Callable[[Job], dict[str, Any]],
    lease_seconds: int,
    max_attempts: int,
    delivery: int = 1,
    on_failed: Callable[[Job, str], None] | None = None,
) -> Outcome:
    """Raises ``JobBusyError`` or ``DependencyUnavailableError`` when the message should be
    redelivered; every other failure is recorded on the job, which is then final.

    ``delivery`` is the queue's receive count for this message. Deliveries that never reached
    a claim (a busy job, Valkey down) count there but not in the job's attempts, so the last
    delivery before the dead-letter queue is recognised by whichever is higher."""
    claim = store.claim(message.job_id, lease_seconds)
    if claim.outcome is ClaimOutcome.ALREADY_DONE:
        log.info("job already final; redelivered message ignored", extra={"job_id": message.job_id})
        return Outcome.SKIPPED
    if claim.outcome is ClaimOutcome.MISSING:
        log.warning("job record not found (expired?); message dropped", extra={"job_id": message.job_id})
        return Outcome.SKIPPED
    if claim.outcome is ClaimOutcome.IN_PROGRESS:
        raise JobBusyError(f"job {message.job_id} is being processed by another worker")

    attempt = claim.attempt
    job = store.get(message.job_id)

    def fail(error: str) -> Outcome:
        if store.fail(message.job_id, attempt, error) and on_failed is not None:
            on_failed(job, error)
        return Outcome.FAILED

    try:
        result = work(job)
    except (DependencyUnavailableError, JobBusyError) as exc:
        if max(attempt, delivery) < max_attempts:
            raise  # transient: let the queue redeliver
        return fail(f"gave up after {attempt} attempts: {exc}")
    except RagError as exc:
        return fail(str(exc))
    except Exception as exc:  # a bug or an unexpected SDK error: keep the job readable
        log.exception("unexpected error while running a job", extra={"job_id": message.job_id})
        return fail(f"internal error ({type(exc).__name__})")

    if not store.finish(message.job_id, attempt, result):
        # Stopped meanwhile, or our lease expired and another attempt owns the job.
        log.warning("job moved on while running; result discarded", extra={"job_id": message.job_id})
        return Outcome.SKIPPED
    return Outcome.FINISHED

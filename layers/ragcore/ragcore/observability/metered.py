"""Metrics taken where the facts are decided: the job store's atomic transitions, the
queue's sends and the LLM's completed calls. ``bootstrap`` wraps the real adapters in these,
so the API and the workers measure the same way and no service knows about metrics.

The store's answers say which call made a change (only one claim, one finish, one failure,
one stop wins per job), so each job is counted once however often its message is delivered
or its cancel is sent. Taking metrics never fails the work: a measurement that cannot be
taken is logged and dropped.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from ragcore.domain.answers import Completion
from ragcore.domain.job_kinds import ResultShape, policy
from ragcore.domain.jobs import Job, JobStatus
from ragcore.domain.messages import JobMessage
from ragcore.observability import metrics as m
from ragcore.ports import ChatModel, Claim, ClaimOutcome, JobQueue, JobStore, StopRequest

log = logging.getLogger(__name__)


class _Delegating:
    """Everything not measured passes straight to the wrapped adapter."""

    def __init__(self, inner: Any, sink: m.MetricsSink) -> None:
        self._metered_inner = inner
        self._metered_sink = sink

    def __getattr__(self, name: str) -> Any:
        return getattr(self._metered_inner, name)

    def _take(self, measure: Callable[[], list[m.Measurement]]) -> None:
        try:
            self._metered_sink.record(measure())
        except Exception:  # a metric is never worth a failed job
            log.warning("metrics not recorded", exc_info=True)


class MeteredJobStore(_Delegating):
    """A ``JobStore`` that counts jobs ending and measures their queue wait and answers."""

    _metered_inner: JobStore

    def claim(self, job_id: str, lease_seconds: int) -> Claim:
        claim = self._metered_inner.claim(job_id, lease_seconds)
        # The first start since the job entered the queue: attempts count from 1 again after
        # a redrive, which also sets ``queued_at``, so a redriven job's wait is the redrive's
        # (the hours it lay dead-lettered are no queue's latency; EndToEndLatency has them).
        if claim.outcome is ClaimOutcome.CLAIMED and claim.attempt == 1:
            self._take(lambda: self._waited(job_id))
        return claim

    def finish(self, job_id: str, attempt: int, result: dict) -> JobStatus | None:
        status = self._metered_inner.finish(job_id, attempt, result)
        if status is not None:
            self._take(lambda: self._ended(job_id, status, result))
        return status

    def fail(self, job_id: str, attempt: int, error: str) -> JobStatus | None:
        status = self._metered_inner.fail(job_id, attempt, error)
        if status is not None:
            self._take(lambda: self._ended(job_id, status))
        return status

    def stop(self, job_id: str, attempt: int) -> bool:
        stopped = self._metered_inner.stop(job_id, attempt)
        if stopped:
            self._take(lambda: self._ended(job_id, JobStatus.STOPPED))
        return stopped

    def retry_later(self, job_id: str, attempt: int, error: str, retry_at: float) -> JobStatus | None:
        status = self._metered_inner.retry_later(job_id, attempt, error, retry_at)
        if status is JobStatus.QUEUED:
            self._take(lambda: m.retried(self._job(job_id).kind))
        elif status is JobStatus.STOPPED:  # a stop was requested meanwhile: the job ended here
            self._take(lambda: self._ended(job_id, status))
        return status

    def fail_if_overdue(self, job_id: str) -> JobStatus | None:
        status = self._metered_inner.fail_if_overdue(job_id)
        if status is not None:
            self._take(lambda: self._ended(job_id, status))
        return status

    def request_stop(self, job_id: str) -> StopRequest:
        asked = self._metered_inner.request_stop(job_id)
        if asked.stopped:  # this call's script moved it: of racing cancels, only one
            self._take(lambda: self._ended(job_id, JobStatus.STOPPED))
        return asked

    def _job(self, job_id: str) -> Job:
        return self._metered_inner.get(job_id)

    def _waited(self, job_id: str) -> list[m.Measurement]:
        job = self._job(job_id)
        return m.queue_wait(job.kind, job.enqueued_at, job.started_at)

    def _ended(self, job_id: str, status: JobStatus, result: dict | None = None) -> list[m.Measurement]:
        job = self._job(job_id)
        found = m.ended(job.kind, status)
        if status is JobStatus.FINISHED:
            found += m.end_to_end(job.kind, job.created_at, job.finished_at)
            if policy(job.kind).result is ResultShape.ANSWER and result is not None:
                found += m.answered(result)
        log.info("job ended", extra={"job_id": job_id, "kind": job.kind, "status": status.value,
                                     "attempts": job.attempts})
        return found


class MeteredJobQueue(_Delegating):
    """A ``JobQueue`` that counts the jobs it queued (a send that fails leaves no job)."""

    _metered_inner: JobQueue

    def send(self, message: JobMessage) -> None:
        self._metered_inner.send(message)
        log.info("job queued", extra={"job_id": message.job_id, "kind": message.kind})
        self._take(lambda: m.submitted(message.kind))


class MeteredChatModel(_Delegating):
    """A ``ChatModel`` that counts the tokens of every call that completed: tokens are a cost,
    spent whether the job then finishes, is stopped (the result is dropped) or fails (an
    unusable answer, a lost write, a retry that calls again)."""

    _metered_inner: ChatModel

    def complete(self, messages: list[dict[str, str]], timeout: float | None = None) -> Completion:
        try:
            completion = self._metered_inner.complete(messages, timeout)
        except Exception as exc:
            spent = getattr(exc, "spent", None)  # a completed call whose answer was unusable
            if isinstance(spent, Completion):
                self._take(lambda: m.spent(spent.model, spent.usage))
            raise
        self._take(lambda: m.spent(completion.model, completion.usage))
        return completion

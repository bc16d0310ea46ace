"""Metrics taken where the facts are decided: the job store's atomic transitions, the
queue's sends and the LLM's completed calls. ``bootstrap`` wraps the real adapters in these,
so the API and the workers measure the same way and no service knows about metrics.

The store's answers say which call made a change (only one claim, one finish, one failure,
one cancel wins per job: ``Transition.ended``), so each job is counted once however often its
message is delivered or its cancel is sent, and they carry the job as it stands after the
change, so measuring reads nothing more from the store. Taking metrics never fails the work:
a measurement that cannot be taken is logged and dropped.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from ragcore.domain.answers import Completion
from ragcore.domain.job_kinds import ResultShape, policy
from ragcore.domain.jobs import Job, JobStatus
from ragcore.domain.lifecycle import Outcome, Transition
from ragcore.domain.messages import JobMessage
from ragcore.observability import metrics as m
from ragcore.ports import ChatModel, JobQueue, JobStore

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

    def claim(self, job_id: str, lease_seconds: int) -> Transition:
        claim = self._metered_inner.claim(job_id, lease_seconds)
        job = claim.job
        # The first start since the job entered the queue: attempts count from 1 again after
        # a redrive, which also sets ``queued_at``, so a redriven job's wait is the redrive's
        # (the hours it lay dead-lettered are no queue's latency; EndToEndLatency has them).
        if claim.outcome is Outcome.APPLIED and job is not None and job.attempts == 1:
            self._take(lambda: m.queue_wait(job.kind, job.enqueued_at, job.started_at))
        return claim

    def finish(self, job_id: str, attempt: int, result: dict) -> Transition:
        return self._ending(self._metered_inner.finish(job_id, attempt, result), result)

    def fail(self, job_id: str, attempt: int, error: str) -> Transition:
        return self._ending(self._metered_inner.fail(job_id, attempt, error))

    def honour_cancel(self, job_id: str, attempt: int) -> Transition:
        return self._ending(self._metered_inner.honour_cancel(job_id, attempt))

    def retry_later(self, job_id: str, attempt: int, error: str, retry_at: float) -> Transition:
        handed_back = self._metered_inner.retry_later(job_id, attempt, error, retry_at)
        job = handed_back.job
        if handed_back.outcome is Outcome.APPLIED and job is not None:
            self._take(lambda: m.retried(job.kind))
        return self._ending(handed_back)  # a cancel requested meanwhile ends the job here

    def fail_overdue(self, job_id: str) -> Transition:
        return self._ending(self._metered_inner.fail_overdue(job_id))

    def request_cancel(self, job_id: str) -> Transition:
        return self._ending(self._metered_inner.request_cancel(job_id))  # a queued job's, at once

    def _ending(self, change: Transition, result: dict | None = None) -> Transition:
        job = change.job
        if change.ended and job is not None:
            self._take(lambda: self._ended(job, result))
        return change

    def _ended(self, job: Job, result: dict | None) -> list[m.Measurement]:
        found = m.ended(job.kind, job.status)
        if job.status is JobStatus.FINISHED:
            found += m.end_to_end(job.kind, job.created_at, job.finished_at)
            if policy(job.kind).result is ResultShape.ANSWER and result is not None:
                found += m.answered(result)
        log.info("job ended", extra={"job_id": job.job_id, "kind": job.kind, "status": job.status.value,
                                     "attempts": job.attempts})
        return found


class MeteredJobQueue(_Delegating):
    """A ``JobQueue`` that counts the jobs it queued (a send that fails leaves no job)."""

    _metered_inner: JobQueue

    def send(self, message: JobMessage) -> None:
        self._metered_inner.send(message)
        log.info("job queued", extra={"job_id": message.job_id, "kind": message.kind})
        self._take(lambda: m.submitted(message.kind))

    def send_batch(self, messages: Sequence[JobMessage]) -> list[JobMessage]:
        unsent = self._metered_inner.send_batch(messages)
        for message in (sent for sent in messages if sent not in unsent):
            log.info("job queued", extra={"job_id": message.job_id, "kind": message.kind})
            self._take(lambda: m.submitted(message.kind))
        return unsent


class MeteredChatModel(_Delegating):
    """A ``ChatModel`` that counts the tokens of every call that completed: tokens are a cost,
    spent whether the job then finishes, is stopped (the result is dropped) or fails (an
    unusable answer, a lost write, a retry that calls again)."""

    _metered_inner: ChatModel

    def complete(self, messages: list[dict[str, str]], timeout: float | None = None) -> Completion:
        return self._counted(lambda: self._metered_inner.complete(messages, timeout))

    def stream(self, messages: list[dict[str, str]], on_text: Callable[[str], None],
               timeout: float | None = None) -> Completion:
        return self._counted(lambda: self._metered_inner.stream(messages, on_text, timeout))

    def _counted(self, call: Callable[[], Completion]) -> Completion:
        try:
            completion = call()
        except Exception as exc:
            spent = getattr(exc, "spent", None)  # a completed call whose answer was unusable
            if isinstance(spent, Completion):
                self._take(lambda: m.spent(spent.model, spent.usage))
            raise
        self._take(lambda: m.spent(completion.model, completion.usage))
        return completion

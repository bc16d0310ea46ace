"""The one place that sees every job end (``services.webhooks.AnnouncingJobStore``), over the
in-memory job store that applies the same lifecycle rules as the Valkey script."""

from __future__ import annotations

import time

import pytest

from ragcore.domain.errors import DependencyUnavailableError, WebhookNotQueuedError
from ragcore.domain.job_kinds import JobKind
from ragcore.domain.jobs import JobStatus, new_job
from ragcore.services.webhooks import AnnouncingJobStore
from tests.support.fakes import InMemoryJobStore, RecordingQueue

HOOK = {"query": "q", "callback_url": "https://hooks.example.com/x"}


def announcing(error: Exception | None = None) -> tuple[AnnouncingJobStore, InMemoryJobStore, RecordingQueue]:
    inner, queue = InMemoryJobStore(), RecordingQueue(error=error)
    return AnnouncingJobStore(inner, queue), inner, queue


def test_each_end_is_announced_once_whoever_makes_it() -> None:
    store, inner, queue = announcing()
    finished, failed, cancelled, overdue = (new_job(JobKind.CHAT, HOOK, 60) for _ in range(4))
    plain = new_job(JobKind.CHAT, {"query": "q"}, 60)
    for job in (finished, failed, cancelled, overdue, plain):
        store.create(job)
    attempt = store.claim(finished.job_id, 60).attempt
    store.finish(finished.job_id, attempt, {"answer": "a"})
    store.finish(finished.job_id, attempt, {"answer": "a"})  # a repeat changes nothing, announces nothing
    store.fail(failed.job_id, store.claim(failed.job_id, 60).attempt, "boom")
    store.request_cancel(cancelled.job_id)  # queued: stopped at once
    inner.jobs[overdue.job_id] = inner.jobs[overdue.job_id].model_copy(update={"deadline_at": time.time() - 1})
    store.fail_overdue(overdue.job_id)
    store.fail(plain.job_id, store.claim(plain.job_id, 60).attempt, "no callback")
    assert queue.sent == [finished.job_id, failed.job_id, cancelled.job_id, overdue.job_id]


def test_a_started_job_is_announced_when_its_worker_stops_it_not_when_the_stop_is_asked() -> None:
    store, _, queue = announcing()
    job = new_job(JobKind.CHAT, HOOK, 60)
    store.create(job)
    attempt = store.claim(job.job_id, 60).attempt
    assert store.request_cancel(job.job_id).status is JobStatus.STARTED and queue.sent == []
    store.retry_later(job.job_id, attempt, "llm down", time.time() + 10)  # the requested cancel wins
    assert store.get(job.job_id).status is JobStatus.STOPPED and queue.sent == [job.job_id]


def test_a_job_message_back_for_a_final_job_announces_it_again() -> None:
    store, _, queue = announcing()
    job = new_job(JobKind.CHAT, HOOK, 60)
    store.create(job)
    store.finish(job.job_id, store.claim(job.job_id, 60).attempt, {"answer": "a"})
    assert store.claim(job.job_id, 60).job.status is JobStatus.FINISHED  # refused: the job is final
    assert queue.sent == [job.job_id, job.job_id]


def test_an_unsent_announcement_fails_the_call_after_the_job_has_ended() -> None:
    store, inner, _ = announcing(error=DependencyUnavailableError("queue", "EndpointConnectionError"))
    job = new_job(JobKind.CHAT, HOOK, 60)
    store.create(job)
    attempt = store.claim(job.job_id, 60).attempt
    with pytest.raises(WebhookNotQueuedError):
        store.finish(job.job_id, attempt, {"answer": "a"})
    assert inner.get(job.job_id).status is JobStatus.FINISHED  # so the message's next delivery announces
    with pytest.raises(WebhookNotQueuedError):
        store.claim(job.job_id, 60)

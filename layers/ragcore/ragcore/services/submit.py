"""Accepting a chat request: record the job, then enqueue it."""

from __future__ import annotations

from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.job_kinds import JobKind
from ragcore.domain.jobs import Job, new_job
from ragcore.domain.messages import ChatRequest, JobMessage
from ragcore.ports import JobQueue, JobStore


def record_chat(request: ChatRequest, store: JobStore, deadline_seconds: float, owner: str | None = None) -> Job:
    """Everything a chat job is before its message is sent (one place for ``submit_chat`` and
    batches alike)."""
    job = new_job(JobKind.CHAT, request.model_dump(), deadline_seconds, owner=owner)
    store.create(job)
    return job


def discard_chat(job: Job, store: JobStore) -> None:
    """Undoes ``record_chat`` for a job whose message could not be sent."""
    store.delete(job.job_id)


def submit_chat(
    request: ChatRequest, store: JobStore, queue: JobQueue, deadline_seconds: float, owner: str | None = None
) -> Job:
    """The record is written before the message is sent, so a worker never receives a job it
    cannot find. If sending fails the record is removed again: the client gets a 503 and no
    job is left behind that nothing will ever run."""
    job = record_chat(request, store, deadline_seconds, owner)
    try:
        queue.send(JobMessage(job_id=job.job_id))
    except DependencyUnavailableError:
        discard_chat(job, store)
        raise
    return job

"""Reading and stopping a job on a client's behalf."""

from __future__ import annotations

import time
from typing import Callable

from ragcore.domain.errors import JobNotFoundError, RagError
from ragcore.domain.job_kinds import policy
from ragcore.domain.jobs import Job, JobStatus
from ragcore.ports import JobStore


class JobNotStoppableError(RagError):
    """The job is final already, or is a document job (those run to the end: stopping one
    half-way would leave a half-written document version)."""


def current_job(
    store: JobStore, job_id: str, owner: str | None = None, on_failed: Callable[[Job, str], None] | None = None
) -> Job:
    """The job as it stands. Another owner's job is missing, never forbidden (an id reveals
    nothing), and checked before anything else. One past its deadline that no live worker
    holds is failed here first (the store re-checks both atomically): its worker died on the
    message's last delivery, or the message was dead-lettered unread, so nothing else would
    end it. ``on_failed`` follows such a failure up, as the worker's would (a document's entry).
    ``owner`` None: no owner to check (auth off)."""
    job = store.get(job_id)
    if owner is not None and job.owner != owner:
        raise JobNotFoundError(job_id)
    looks_overdue = job.deadline_at is not None and job.deadline_at <= time.time()
    if looks_overdue and not job.status.is_terminal:
        ended = store.fail_if_overdue(job_id)
        if ended is not None:
            job = store.get(job_id)
            if ended is JobStatus.FAILED and on_failed is not None:
                on_failed(job, job.error or "")
    return job


def stop_job(
    store: JobStore, job_id: str, owner: str | None = None, on_failed: Callable[[Job, str], None] | None = None
) -> Job:
    """A queued job stops at once; a started one is flagged and stops at its next step
    boundary (its status stays ``started`` until then). Stopping a stopped job is a no-op."""
    job = current_job(store, job_id, owner, on_failed)
    if not policy(job.kind).cancellable:
        raise JobNotStoppableError(
            f"{job.kind} jobs cannot be stopped; delete the document afterwards instead"
        )
    if job.status in (JobStatus.FINISHED, JobStatus.FAILED):
        raise JobNotStoppableError(f"the job is {job.status.value} already")
    if job.status is not JobStatus.STOPPED:
        asked = store.request_stop(job_id)
        if asked.status in (JobStatus.FINISHED, JobStatus.FAILED):  # it ended meanwhile
            raise JobNotStoppableError(f"the job is {asked.status.value} already")
        job = store.get(job_id)
    return job

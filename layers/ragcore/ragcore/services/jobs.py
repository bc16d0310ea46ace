"""Reading, settling and cancelling a job on a client's behalf."""

from __future__ import annotations

import time
from typing import Sequence

from ragcore.domain.errors import JobNotCancellableError, JobNotFoundError
from ragcore.domain.job_kinds import policy
from ragcore.domain.jobs import Job, JobStatus
from ragcore.domain.lifecycle import Outcome, overdue
from ragcore.ports import DocumentStore, JobStore
from ragcore.services.documents import mark_document_failed


def current_job(store: JobStore, job_id: str, owner: str | None = None) -> Job:
    """The job as stored; a read, it changes nothing. Another owner's job is missing, never
    forbidden (an id reveals nothing). ``owner`` None: no owner to check (auth off)."""
    job = store.get(job_id)
    if not _visible(job, owner):
        raise JobNotFoundError(job_id)
    return job


def current_jobs(store: JobStore, job_ids: Sequence[str], owner: str | None = None) -> dict[str, Job]:
    """``current_job`` of many ids in one read: those that exist and are ``owner``'s, by id."""
    return {job_id: job for job_id, job in store.get_many(job_ids).items() if _visible(job, owner)}


def _visible(job: Job, owner: str | None) -> bool:
    return owner is None or job.owner == owner


def settle_overdue(job: Job, store: JobStore, documents: DocumentStore) -> Job:
    """The one write a client's read makes, and why: a job past its deadline that no live
    worker holds is failed (the store re-checks both atomically), as its worker's failure
    would (a document job's entry is marked failed too). Its worker died on the message's
    last delivery, or the message was dead-lettered unread, so nothing else would ever end
    it. Called by the routes that show a job, on the job they read (``current_job``, so
    another owner's job is never touched); returns the job as it stands after."""
    if job.status.is_terminal or not overdue(job, time.time()):
        return job
    settled = store.fail_overdue(job.job_id)
    if not settled.moved or settled.job is None:
        return job  # a worker holds it, or the store's clock says not yet
    if settled.outcome is Outcome.APPLIED:
        mark_document_failed(documents, settled.job, settled.job.error or "")
    return settled.job


def cancel_job(store: JobStore, job: Job) -> Job:
    """A queued job stops at once; a started one is flagged and stops at its next step
    boundary (its status stays ``started`` until then). Cancelling a stopped job is a no-op.
    ``job``: as its client may see it (``current_job``, then ``settle_overdue``)."""
    if not policy(job.kind).cancellable:
        raise JobNotCancellableError(
            f"{job.kind} jobs cannot be stopped; delete the document afterwards instead"
        )
    if job.status in (JobStatus.FINISHED, JobStatus.FAILED):
        raise JobNotCancellableError(f"the job is {job.status.value} already")
    if job.status is JobStatus.STOPPED:
        return job
    cancelled = store.request_cancel(job.job_id)
    if cancelled.job is None:
        raise JobNotFoundError(job.job_id)
    if cancelled.job.status in (JobStatus.FINISHED, JobStatus.FAILED):  # it ended meanwhile
        raise JobNotCancellableError(f"the job is {cancelled.job.status.value} already")
    return cancelled.job

"""Reading a job store's answers in tests: what a transition moved, what a cancel did."""

from __future__ import annotations

from ragcore.domain.jobs import JobStatus
from ragcore.domain.lifecycle import Transition
from ragcore.ports import JobStore


def moved_to(change: Transition) -> JobStatus | None:
    """The status a transition moved the job to; None if it changed nothing."""
    return change.status if change.moved else None


def cancel(store: JobStore, job_id: str) -> tuple[JobStatus | None, bool]:
    """A cancel's answer: the job's status after it, and whether this very call ended it."""
    change = store.request_cancel(job_id)
    return change.status, change.ended

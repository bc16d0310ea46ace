"""Job lifecycle: one status enum and one table of allowed transitions.

The store enforces this table atomically (see ``adapters/valkey_jobs.py``); keeping it here,
free of I/O, lets the rules be read and tested in one place.
"""

from __future__ import annotations

import re
import time
import uuid
from enum import StrEnum

from pydantic import BaseModel, Field

from ragcore.domain.job_kinds import JobKind


class JobStatus(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED})

# Every allowed move. STARTED -> STARTED is a re-claim: a worker that died left its lease to
# expire and the redelivered message picks the job up again. Moves back to QUEUED are a worker
# handing the job back after a transient failure, to wait for its message's next delivery
# (STARTED -> QUEUED), or an operator's redrive of the dead-letter queue (`ragcore dlq redrive`).
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.QUEUED, JobStatus.STARTED, JobStatus.FAILED, JobStatus.STOPPED}),
    JobStatus.STARTED: frozenset(
        {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED}
    ),
    JobStatus.FINISHED: frozenset(),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),
    JobStatus.STOPPED: frozenset(),
}


OVERDUE_ERROR = (
    "the job was not finished by its deadline: the worker running it stopped responding and "
    "its retries ran out"
)
STOPPED_ERROR = "stopped on request"


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return target in TRANSITIONS[current]


JOB_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def new_job_id() -> str:
    return uuid.uuid4().hex


def is_valid_job_id(value: str) -> bool:
    return bool(JOB_ID_PATTERN.match(value))


class Job(BaseModel):
    """What the status endpoint shows; times are epoch seconds (float) or None.

    ``deadline_at`` bounds how long a job may look unfinished: past it, a reader fails a job
    that no live lease holds (a worker that crashed on the message's last delivery, or a
    message dead-lettered unread, leaves one behind). A worker holding the job's message still
    runs it: the deadline is for jobs nothing will run. ``cancel_requested`` is set when a started job is asked to stop; the worker stops
    at its next step boundary."""

    job_id: str
    kind: JobKind = JobKind.CHAT
    status: JobStatus
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    error: str | None = None
    request: dict = Field(default_factory=dict)
    deadline_at: float | None = None
    cancel_requested: bool = False
    owner: str | None = None  # the tenant of the API key that submitted it (None: auth off)
    # When it last entered the queue, if not at ``created_at``: the dead-letter redrive that
    # requeued it. Queue wait is measured from here (an operator's delay is not the queue's).
    queued_at: float | None = None
    # A transient failure (the LLM or a store down) sends the job back to QUEUED to wait for its
    # message's next delivery: ``last_error`` says what failed, in words, and ``retry_at`` when
    # the next attempt is due. ``retry_at`` is cleared when a worker claims the job again.
    last_error: str | None = None
    retry_at: float | None = None

    @property
    def enqueued_at(self) -> float:
        return self.queued_at if self.queued_at is not None else self.created_at


def new_job(
    kind: JobKind, request: dict, deadline_seconds: float, job_id: str | None = None, owner: str | None = None
) -> Job:
    now = time.time()
    return Job(
        job_id=job_id or new_job_id(),
        kind=kind,
        status=JobStatus.QUEUED,
        created_at=now,
        request=request,
        deadline_at=now + deadline_seconds,
        owner=owner,
    )

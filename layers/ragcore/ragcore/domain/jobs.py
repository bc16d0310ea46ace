"""Job lifecycle: one status enum and one table of allowed transitions.

The store enforces this table atomically (see ``adapters/valkey_jobs.py``); keeping it here,
free of I/O, lets the rules be read and tested in one place.
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum

from pydantic import BaseModel, Field


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
# expire and the redelivered message picks the job up again.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.STARTED, JobStatus.FAILED, JobStatus.STOPPED}),
    JobStatus.STARTED: frozenset(
        {JobStatus.STARTED, JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED}
    ),
    JobStatus.FINISHED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.STOPPED: frozenset(),
}


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return target in TRANSITIONS[current]


JOB_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def new_job_id() -> str:
    return uuid.uuid4().hex


def is_valid_job_id(value: str) -> bool:
    return bool(JOB_ID_PATTERN.match(value))


class Job(BaseModel):
    """What the status endpoint shows; times are epoch seconds (float) or None."""

    job_id: str
    kind: str = "chat"
    status: JobStatus
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    error: str | None = None
    request: dict = Field(default_factory=dict)

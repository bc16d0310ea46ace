"""A job: its statuses and its record. How it moves between them is ``domain/lifecycle.py``."""

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


JOB_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def new_job_id() -> str:
    return uuid.uuid4().hex


def is_valid_job_id(value: str) -> bool:
    return bool(JOB_ID_PATTERN.match(value))


class Job(BaseModel):
    """A job's record (the status endpoint shows most of it); times are epoch seconds (float)
    or None.

    ``deadline_at`` bounds how long a job may look unfinished: past it, a reader fails a job
    that no live lease holds (a worker that crashed on the message's last delivery, or a
    message dead-lettered unread, leaves one behind). A worker holding the job's message still
    runs it: the deadline is for jobs nothing will run. ``cancel_requested`` is set when a
    started job is cancelled; the worker stops at its next step boundary."""

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
    # While started: until when the attempt's lease holds it (a live lease means a live worker).
    lease_until: float | None = None
    # While started: the answer text the attempt's LLM has streamed so far (``write_partial``),
    # raw, before the citation check; None whenever the job is not started (``lifecycle.effects``).
    partial_answer: str | None = None

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

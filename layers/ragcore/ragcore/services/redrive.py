"""Sending dead-lettered jobs back to work (``ragcore dlq redrive``, or the RedriveFunction
in AWS): once the cause is fixed, an operator reruns what the queue gave up on.

A job failed on its last delivery goes back to ``queued`` with a fresh attempt count and
deadline, so its client, still polling the same job id, sees it run and finish.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from pydantic import ValidationError

from ragcore.domain.errors import JobNotFoundError
from ragcore.domain.jobs import JobStatus
from ragcore.domain.messages import JobMessage
from ragcore.ports import DeadLetters, JobStore

log = logging.getLogger(__name__)


@dataclass
class RedriveReport:
    requeued: int = 0  # failed jobs, back to queued and sent to run again
    resent: int = 0  # jobs not failed yet (their worker died on the last delivery), sent as they are
    dropped: int = 0  # finished, stopped or expired jobs: nothing left to run
    unreadable: int = 0  # not a job message: left in the dead-letter queue for a person to read


def redrive(letters: DeadLetters, store: JobStore, deadline_seconds: Callable[[str], float]) -> RedriveReport:
    """``deadline_seconds(kind)`` gives a requeued job its new deadline, as at submission."""
    report = RedriveReport()
    while batch := letters.receive():
        for letter in batch:
            try:
                message = JobMessage.model_validate_json(letter.body)
            except ValidationError:
                report.unreadable += 1
                continue
            try:
                job = store.get(message.job_id)
            except JobNotFoundError:
                job = None
            if job is not None and job.status is JobStatus.FAILED:
                # Requeue before sending: a worker must find the job runnable. If the send
                # then fails, the letter stays here and a second redrive sends it.
                store.requeue(job.job_id, time.time() + deadline_seconds(job.kind))
                report.requeued += 1
            elif job is not None and job.status in (JobStatus.QUEUED, JobStatus.STARTED):
                report.resent += 1
            else:
                letters.discard(letter)
                report.dropped += 1
                continue
            letters.send_back(letter)
    log.info("dead-letter redrive done", extra={"report": report.__dict__})
    return report

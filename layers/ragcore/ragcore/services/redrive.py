"""Sending dead-lettered jobs back to work (``ragcore dlq redrive``, or the RedriveFunction
in AWS): once the cause is fixed, an operator reruns what the queue gave up on.

Each dead letter's job goes back to ``queued`` with a fresh attempt count and deadline,
whether it was failed on its last delivery or left ``queued``/``started`` by a message that
never got through, so its client, still polling the same job id, sees it run and finish.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Callable

from pydantic import ValidationError

from ragcore.domain.errors import JobNotFoundError
from ragcore.domain.lifecycle import Outcome
from ragcore.domain.messages import JobMessage
from ragcore.ports import DeadLetters, JobStore

log = logging.getLogger(__name__)


@dataclass
class RedriveReport:
    requeued: int = 0  # back to queued (failed, or left queued/started by a lost message) and sent
    resent: int = 0  # a worker holds the job right now: sent as is, it is dropped once the job ends
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
            # Requeue before sending: a worker must find the job runnable. If the send then
            # fails, the letter stays here and a second redrive sends it.
            requeued = None if job is None else store.requeue(job.job_id, time.time() + deadline_seconds(job.kind))
            if requeued is not None and requeued.outcome is Outcome.APPLIED:
                report.requeued += 1
            elif requeued is not None and requeued.outcome is Outcome.BUSY:
                report.resent += 1
            else:  # expired, finished, stopped (or a cancel was requested: now stopped)
                letters.discard(letter)
                report.dropped += 1
                continue
            letters.send_back(letter)
    log.info("dead-letter redrive done", extra={"report": asdict(report)})
    return report

"""Job kinds and what each one implies, in one table.

A kind decides which queue carries the job, which deadline it gets, whether a client may
cancel it, what its result looks like and what its failure does besides failing the job.
Code asks the table (``policy(kind)``) rather than comparing kinds, so a new kind is one row
here plus the work it runs (the worker's dispatch table).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class JobKind(StrEnum):
    CHAT = "chat"
    INGEST = "ingest"
    DELETE = "delete"


class QueueName(StrEnum):
    """The job queues, by the names commands give them (``ragcore dlq redrive --queue``)."""

    JOBS = "jobs"
    INGEST = "ingest"  # the slower worker with the longer timeout


class DeadlineClass(StrEnum):
    """Which deadline setting a kind gets (``Settings.job_deadline_for``)."""

    CHAT = "chat"  # JOB_DEADLINE_SECONDS
    DOCUMENT = "document"  # DOCUMENT_JOB_DEADLINE_SECONDS


class ResultShape(StrEnum):
    """What a finished job's result holds (the API shows it as ``ResultView`` or
    ``DocumentResultView``)."""

    ANSWER = "answer"
    DOCUMENT = "document"


@dataclass(frozen=True)
class KindPolicy:
    queue: QueueName
    deadline: DeadlineClass
    # Document jobs run to the end: cancelling one half-way would leave half a version.
    cancellable: bool
    result: ResultShape
    # A failed document job leaves its document ``failed`` in the registry, with the reason.
    fails_document: bool


POLICIES: dict[JobKind, KindPolicy] = {
    JobKind.CHAT: KindPolicy(QueueName.JOBS, DeadlineClass.CHAT, cancellable=True,
                             result=ResultShape.ANSWER, fails_document=False),
    JobKind.INGEST: KindPolicy(QueueName.INGEST, DeadlineClass.DOCUMENT, cancellable=False,
                               result=ResultShape.DOCUMENT, fails_document=True),
    JobKind.DELETE: KindPolicy(QueueName.INGEST, DeadlineClass.DOCUMENT, cancellable=False,
                               result=ResultShape.DOCUMENT, fails_document=True),
}


def policy(kind: str) -> KindPolicy:
    return POLICIES[JobKind(kind)]

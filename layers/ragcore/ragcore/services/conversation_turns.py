"""A chat job as a turn of its conversation, on the worker's side: it waits for the turns asked
before it, its prompts read the answered ones, and its outcome is recorded on the conversation.

Order: a turn whose earlier turn is still queued or started (and not past its deadline) is not
claimed. While the earlier turn is started, it waits in place, up to ``WAIT_IN_PLACE_SECONDS``:
two turns sent back to back usually arrive in one batch and run side by side, and the
follow-up then starts as soon as the first is answered. An earlier turn still queued after
``QUEUED_GRACE_SECONDS`` may be behind this one in the queue (an instance whose poller hands
it one batch at a time, as the offline stack's does, would wait for nothing), so the message is
handed back at once to come again after ``wait_seconds`` (2, 6, 18 s); that takes none of the
job's attempts. An earlier turn that failed, was stopped, expired or is
overdue blocks nothing: the follow-up is answered from the turns that were answered. Each wait
is one of the queue's deliveries, so a turn waits on at most all but its last two deliveries
(3 of the default 5: 26 s) and is then answered anyway, leaving one retry for a failure of its
own; a job's own run never waits that long but under a stalled LLM (docs/CONVERSATIONS.md).

Recording: once the job is final, its outcome (status, answer, sources, the standalone query)
is written over its turn, once by job id (``ConversationStore.record``). The delivery that ran
the job writes it after the job's own final write, whatever the delivery came to, the last
delivery's failure too (whose error still goes up, to dead-letter the message); best effort:
a turn that write misses (Valkey gone, the worker stopped between the two writes) is written
by a later delivery of the message, if there is one, and by the next turn's order check. A job
that no delivery makes final, failed at its deadline by a client's read
(``services/jobs.settle_overdue``), is written only by the next turn's check. Until a turn is
written, a reader is shown its job as it stands (``services/conversations.live_turns``), so a
final job is never shown as pending. A redelivered job never records its turn twice.
"""

from __future__ import annotations

import logging
import time

from ragcore.domain.answers import Source
from ragcore.domain.conversations import Turn
from ragcore.domain.errors import JobNotFoundError
from ragcore.domain.jobs import Job, JobStatus
from ragcore.domain.lifecycle import overdue
from ragcore.ports import ConversationStore, JobStore

log = logging.getLogger(__name__)

# How long a turn waits in the worker for an earlier started turn, and for an earlier queued
# one to start, checking every POLL_SECONDS (a conversation read and a job read each), before
# its message is handed back.
WAIT_IN_PLACE_SECONDS = 3.0
QUEUED_GRACE_SECONDS = 0.5
POLL_SECONDS = 0.1
FIRST_WAIT_SECONDS = 2
MAX_WAIT_SECONDS = 60
# Deliveries kept back from waiting: the one that runs the turn, and one retry.
RUN_DELIVERIES = 2


def wait_seconds(delivery: int) -> int:
    """How long a turn's message stays away after delivery ``delivery`` found an earlier turn
    unanswered: 2, 6, 18, ... s (whole seconds: what SQS's ChangeMessageVisibility takes)."""
    return min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * 3 ** max(0, delivery - 1))


def may_wait(delivery: int, max_deliveries: int) -> bool:
    return delivery <= max_deliveries - RUN_DELIVERIES


def earlier_turns_done(job: Job, jobs: JobStore, conversations: ConversationStore, seconds: float) -> bool:
    """Whether no earlier turn of ``job``'s conversation is pending, waiting in place up to
    ``seconds`` for a started one to be answered (a queued one, ``QUEUED_GRACE_SECONDS``)."""
    started = time.monotonic()
    while (pending := earlier_turn_pending(job, jobs, conversations)) is not None:
        waited = time.monotonic() - started
        if waited >= seconds or (pending is JobStatus.QUEUED and waited >= QUEUED_GRACE_SECONDS):
            return False
        time.sleep(POLL_SECONDS)
    return True


def earlier_turn_pending(job: Job, jobs: JobStore, conversations: ConversationStore) -> JobStatus | None:
    """The status (queued or started) of a turn asked before ``job``'s in its conversation and
    still to be answered; None if there is none. An earlier turn whose job is final but not
    recorded yet is recorded on the way."""
    conversation_id = job.request.get("conversation_id")
    if not conversation_id or job.status.is_terminal:
        return None
    conversation = conversations.get(conversation_id)
    if conversation is None:
        return None
    now = time.time()
    for turn in conversation.before(job.job_id):
        if turn.recorded:
            continue
        try:
            earlier = jobs.get(turn.job_id)
        except JobNotFoundError:
            continue  # expired: nothing will answer it
        if earlier.status.is_terminal:
            record_turn(earlier, jobs, conversations)
        elif not overdue(earlier, now):
            return earlier.status
    return None


def record_turn(job: Job, jobs: JobStore, conversations: ConversationStore) -> bool:
    """Writes a final job's outcome on its conversation's turn, if it has one and it is not
    written yet; True if this call wrote it."""
    conversation_id = job.request.get("conversation_id")
    if not conversation_id or not job.status.is_terminal:
        return False
    written = conversations.record(conversation_id, final_turn(job, jobs))
    if written:
        log.info("turn recorded", extra={"job_id": job.job_id, "conversation_id": conversation_id})
    return written


def final_turn(job: Job, jobs: JobStore) -> Turn:
    """A final job's turn as it is recorded (or, until it is, shown: ``live_turns``). Sources
    are kept without their passage text (the snippet stays): it bounds what a conversation
    holds."""
    result = (jobs.get_result(job.job_id) or {}) if job.status is JobStatus.FINISHED else {}
    return Turn(
        job_id=job.job_id,
        question=job.request.get("query", ""),
        created_at=job.created_at,
        status=job.status,
        standalone_query=result.get("standalone_query"),
        answer=result.get("answer"),
        sources=[Source.model_validate({**source, "text": ""}) for source in result.get("sources", [])],
        error=job.error,
        finished_at=job.finished_at,
    )

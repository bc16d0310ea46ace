"""A chat job as a turn of its conversation, on the worker's side: it waits for the turns asked
before it, its prompts read the answered ones, and its outcome is recorded on the conversation.

Order: a turn whose earlier turn is still queued or started (and not past its deadline) is not
claimed; its message is handed back to come again after ``wait_seconds`` (2, 6, 18 s), which
takes none of the job's attempts. An earlier turn that failed, was stopped, expired or is
overdue blocks nothing: the follow-up is answered from the turns that were answered. Each wait
is one of the queue's deliveries, so a turn waits on at most all but its last two deliveries
(3 of the default 5: 26 s) and is then answered anyway, leaving one retry for a failure of its
own; a job's own run never waits that long but under a stalled LLM (docs/CONVERSATIONS.md).

Recording: once the job is final, its outcome (status, answer, sources, the standalone query)
is written over its turn, once by job id (``ConversationStore.record``). It is written after
the job's own final write, and again by every later delivery of the message and by the next
turn's order check, so a worker that stopped between the two writes leaves nothing unrecorded
for long, and a redelivered job never records its turn twice.
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


def earlier_turn_pending(job: Job, jobs: JobStore, conversations: ConversationStore) -> bool:
    """Whether a turn asked before ``job``'s in its conversation is still to be answered. An
    earlier turn whose job is final but not recorded yet is recorded on the way."""
    conversation_id = job.request.get("conversation_id")
    if not conversation_id or job.status.is_terminal:
        return False
    conversation = conversations.get(conversation_id)
    if conversation is None:
        return False
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
            return True
    return False


def record_turn(job: Job, jobs: JobStore, conversations: ConversationStore) -> bool:
    """Writes a final job's outcome on its conversation's turn, if it has one and it is not
    written yet; True if this call wrote it. Sources are kept without their passage text (the
    snippet stays): it bounds what a conversation holds."""
    conversation_id = job.request.get("conversation_id")
    if not conversation_id or not job.status.is_terminal:
        return False
    result = (jobs.get_result(job.job_id) or {}) if job.status is JobStatus.FINISHED else {}
    turn = Turn(
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
    written = conversations.record(conversation_id, turn)
    if written:
        log.info("turn recorded", extra={"job_id": job.job_id, "conversation_id": conversation_id})
    return written

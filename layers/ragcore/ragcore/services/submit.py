"""Accepting a chat request: record the job (and its conversation's turn), then enqueue it."""

from __future__ import annotations

import logging
from typing import Sequence

from ragcore.domain.conversations import MAX_TURNS, Turn, TurnAdmission, new_conversation_id
from ragcore.domain.errors import (
    ConversationFullError,
    ConversationNotFoundError,
    DependencyUnavailableError,
    RagError,
)
from ragcore.domain.job_kinds import JobKind
from ragcore.domain.jobs import Job, new_job
from ragcore.domain.messages import ChatRequest, JobMessage
from ragcore.ports import ConversationStore, JobQueue, JobStore

log = logging.getLogger(__name__)


def record_chat(request: ChatRequest, store: JobStore, conversations: ConversationStore, deadline_seconds: float,
                owner: str | None = None) -> Job:
    """Everything a chat job is before its message is sent (one place for ``submit_chat`` and
    batches alike). The job is a turn of a conversation: of the request's ``conversation_id``,
    which must exist, be ``owner``'s and have room (``ConversationNotFoundError``,
    ``ConversationFullError``, and nothing is left behind), or of a new one; the stored request
    names it."""
    conversation_id = request.conversation_id or new_conversation_id()
    job = new_job(JobKind.CHAT, {**request.model_dump(), "conversation_id": conversation_id}, deadline_seconds,
                  owner=owner)
    store.create(job)  # first: a conversation never lists a turn whose job was never written
    turn = Turn(job_id=job.job_id, question=request.query, created_at=job.created_at)
    try:
        admitted = conversations.add_turn(conversation_id, owner, turn, new=request.conversation_id is None,
                                          max_turns=MAX_TURNS)
    except DependencyUnavailableError:
        store.delete(job.job_id)
        raise
    if admitted is not TurnAdmission.ADDED:
        store.delete(job.job_id)
        if admitted is TurnAdmission.FULL:
            raise ConversationFullError(
                f"conversation {conversation_id!r} has {MAX_TURNS} turns, its most; start a new one "
                "(send no conversation_id)")
        raise ConversationNotFoundError(conversation_id)
    return job


def discard_chat(job: Job, store: JobStore, conversations: ConversationStore) -> None:
    """Undoes ``record_chat`` for a job whose message could not be sent (its turn too, and a
    conversation it opened)."""
    conversation_id = job.request.get("conversation_id")
    if conversation_id:
        conversations.remove_turn(conversation_id, job.job_id)
    store.delete(job.job_id)


def submit_chat(
    request: ChatRequest, store: JobStore, conversations: ConversationStore, queue: JobQueue,
    deadline_seconds: float, owner: str | None = None,
) -> Job:
    """The record is written before the message is sent, so a worker never receives a job it
    cannot find. If sending fails the record is removed again: the client gets a 503 and no
    job is left behind that nothing will ever run."""
    job = record_chat(request, store, conversations, deadline_seconds, owner)
    try:
        queue.send(JobMessage(job_id=job.job_id))
    except DependencyUnavailableError:
        discard_chat(job, store, conversations)
        raise
    return job


def submit_chats(
    requests: Sequence[ChatRequest], store: JobStore, conversations: ConversationStore, queue: JobQueue,
    deadline_seconds: float, owner: str | None = None,
) -> list[Job | RagError]:
    """A batch's chats, each recorded as ``submit_chat`` records one, their messages sent
    together (the queue's batches). Each request's job, or the error that refused it alone: its
    record's (``record_chat`` refused it), or ``DependencyUnavailableError`` where its message
    could not be sent (its record is removed again, so no job is left that nothing will run).
    Valkey failing stops the batch: the records written are removed and the error raised, so
    nothing was queued."""
    outcomes: list[Job | RagError] = []
    try:
        for request in requests:
            try:
                outcomes.append(record_chat(request, store, conversations, deadline_seconds, owner))
            except DependencyUnavailableError:
                raise
            except RagError as exc:
                outcomes.append(exc)
    except DependencyUnavailableError:
        for job in _jobs(outcomes):
            discard_chat(job, store, conversations)
        raise
    messages = [JobMessage(job_id=job.job_id) for job in _jobs(outcomes)]
    unsent = {message.job_id for message in queue.send_batch(messages)}
    for job in _jobs(outcomes):
        if job.job_id in unsent:
            _discard_after_sending(job, store, conversations)
    return [DependencyUnavailableError("queue", "the message was not sent")
            if isinstance(o, Job) and o.job_id in unsent else o for o in outcomes]


def _jobs(outcomes: list[Job | RagError]) -> list[Job]:
    return [o for o in outcomes if isinstance(o, Job)]


def _discard_after_sending(job: Job, store: JobStore, conversations: ConversationStore) -> None:
    """``discard_chat``, whose failure must not fail a batch some of whose jobs are queued (the
    client would send them again). The record left is never run and fails at its deadline."""
    try:
        discard_chat(job, store, conversations)
    except DependencyUnavailableError:
        log.warning("an unsent job's record could not be removed", extra={"job_id": job.job_id})

"""Reading and deleting a conversation on a client's behalf."""

from __future__ import annotations

from ragcore.domain.conversations import Conversation, Turn
from ragcore.domain.errors import ConversationNotFoundError
from ragcore.domain.jobs import Job
from ragcore.ports import ConversationStore, DocumentStore, JobStore
from ragcore.services.conversation_turns import final_turn
from ragcore.services.jobs import settle_overdue


def current_conversation(conversations: ConversationStore, conversation_id: str, owner: str | None) -> Conversation:
    """The conversation as stored; another owner's is missing, never forbidden (as a job is).
    ``owner`` None: no owner to check (auth off)."""
    conversation = conversations.get(conversation_id)
    if conversation is None or (owner is not None and conversation.owner != owner):
        raise ConversationNotFoundError(conversation_id)
    return conversation


def live_turns(conversation: Conversation, jobs: JobStore, documents: DocumentStore) -> list[Turn]:
    """The turns, each not yet recorded shown with its job as it stands now, read in one round
    trip: queued or started, or final (a job's final write comes before its turn's, and a job
    failed at its deadline by a read of it has no worker to record it) and then shown as it
    will be recorded. A job past its deadline that no worker holds is settled first, as
    ``GET /job-status`` settles it (``settle_overdue``), so the conversation never shows a turn
    as queued for ever. A recorded turn is final and read as it is; a turn whose job expired
    first is shown as last recorded."""
    unrecorded = [turn.job_id for turn in conversation.turns if not turn.recorded]
    live = jobs.get_many(unrecorded) if unrecorded else {}
    return [_as_it_stands(turn, live.get(turn.job_id), jobs, documents) for turn in conversation.turns]


def _as_it_stands(turn: Turn, job: Job | None, jobs: JobStore, documents: DocumentStore) -> Turn:
    if job is None:
        return turn
    job = settle_overdue(job, jobs, documents)
    if job.status.is_terminal:
        return final_turn(job, jobs)
    return turn.model_copy(update={"status": job.status, "error": job.error})


def delete_conversation(conversations: ConversationStore, conversation_id: str, owner: str | None) -> None:
    """The turns' jobs stay readable by their ids; a turn still queued is answered without the
    conversation's history."""
    current_conversation(conversations, conversation_id, owner)
    conversations.delete(conversation_id)

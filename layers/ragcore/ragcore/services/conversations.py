"""Reading and deleting a conversation on a client's behalf."""

from __future__ import annotations

from ragcore.domain.conversations import Conversation, Turn
from ragcore.domain.errors import ConversationNotFoundError, JobNotFoundError
from ragcore.ports import ConversationStore, JobStore


def current_conversation(conversations: ConversationStore, conversation_id: str, owner: str | None) -> Conversation:
    """The conversation as stored; another owner's is missing, never forbidden (as a job is).
    ``owner`` None: no owner to check (auth off)."""
    conversation = conversations.get(conversation_id)
    if conversation is None or (owner is not None and conversation.owner != owner):
        raise ConversationNotFoundError(conversation_id)
    return conversation


def live_turns(conversation: Conversation, jobs: JobStore) -> list[Turn]:
    """The turns, each not yet recorded shown with its job's status now (started, or stopped
    by a cancel that no worker saw); a recorded turn is final and read as it is."""
    turns: list[Turn] = []
    for turn in conversation.turns:
        if not turn.recorded:
            try:
                job = jobs.get(turn.job_id)
                turn = turn.model_copy(update={"status": job.status, "error": job.error})
            except JobNotFoundError:
                pass  # expired before its conversation: shown as last recorded
        turns.append(turn)
    return turns


def delete_conversation(conversations: ConversationStore, conversation_id: str, owner: str | None) -> None:
    """The turns' jobs stay readable by their ids; a turn still queued is answered without the
    conversation's history."""
    current_conversation(conversations, conversation_id, owner)
    conversations.delete(conversation_id)

"""Conversation routes: a conversation's turns, and deleting it (``async def``: see routes.py).
A conversation is opened and added to by ``POST /chat`` (``services/submit.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from ragcore.api_schema import ConversationView, TurnView, iso
from ragcore.domain.conversations import CONVERSATION_ID_PATTERN
from ragcore.services.conversations import current_conversation, delete_conversation, live_turns

from .auth import Caller, owner_of
from .errors import KEYED, responses
from .routes import ContainerDep

router = APIRouter(tags=["conversations"])

ConversationId = Annotated[
    str, Path(pattern=CONVERSATION_ID_PATTERN.pattern, description="32 lower-case hex characters")
]
_ERRORS = (*KEYED, 404, 422)  # unknown (or another tenant's), malformed id


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationView,
    responses=responses(*_ERRORS),
    summary="A conversation's turns: each question, its standalone query, status, answer and sources",
)
async def conversation(conversation_id: ConversationId, container: ContainerDep, key: Caller) -> ConversationView:
    found = current_conversation(container.conversations, conversation_id, owner_of(key))
    turns = [
        TurnView(
            job_id=turn.job_id, question=turn.question, standalone_query=turn.standalone_query,
            status=turn.status, answer=turn.answer, sources=turn.sources, error=turn.error,
            created_at=iso(turn.created_at), finished_at=iso(turn.finished_at),
        )
        for turn in live_turns(found, container.job_store, container.document_store)
    ]
    return ConversationView(conversation_id=found.conversation_id, created_at=iso(found.created_at), turns=turns)


@router.delete(
    "/conversations/{conversation_id}",
    status_code=204,
    response_class=Response,
    responses=responses(*_ERRORS),
    summary="Delete a conversation (its turns' jobs stay readable by their ids)",
)
async def remove(conversation_id: ConversationId, container: ContainerDep, key: Caller) -> Response:
    delete_conversation(container.conversations, conversation_id, owner_of(key))
    return Response(status_code=204)

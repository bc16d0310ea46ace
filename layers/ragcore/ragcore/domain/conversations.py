"""A conversation: the turns of one client's follow-up questions, in the order they were asked.

Each turn is one chat job, named by its job id. The API opens the turn when it accepts the
question (``services/submit.py``) and the worker writes the turn's outcome once the job is final
(``services/conversation_turns.py``), at most once per job however often its message arrives.
Its bounds, said once here: how many turns a conversation holds, and how many of the latest
finished turns (and how many bytes of them) a follow-up's prompts carry. Design and costs:
docs/CONVERSATIONS.md.
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum

from pydantic import BaseModel, Field

from ragcore.domain.answers import Source
from ragcore.domain.jobs import JobStatus

# Like a job id: 32 lower-case hex characters, random (uuid4), so an id reveals nothing.
CONVERSATION_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
# A conversation holds at most this many turns; the next question is refused (409), and a new
# conversation goes on. It bounds what a conversation keeps in Valkey (50 turns of at most
# 2,000-character questions and their answers and sources: about 1 MB at worst).
MAX_TURNS = 50
# A follow-up's prompts see at most this many of the latest finished turns...
HISTORY_TURNS = 3
# ...within this many bytes of their text (questions and answers; an upper bound on their
# tokens, as ``services/prompting.py`` counts them), taken from the newest turn back.
HISTORY_TOKENS = 1_000
# Each earlier question or answer is cut to this many bytes before it is weighed in.
HISTORY_TEXT_BYTES = 400


def new_conversation_id() -> str:
    return uuid.uuid4().hex


class TurnAdmission(StrEnum):
    """What asking to add a turn came to (``ConversationStore.add_turn``)."""

    ADDED = "added"
    MISSING = "missing"  # no such conversation (expired, deleted, never made, another tenant's)
    FULL = "full"  # it holds ``MAX_TURNS`` turns already


class Turn(BaseModel):
    """One question of a conversation and, once its job is final, what came of it. ``status``
    is the job's as last recorded here: ``queued`` until the worker records the outcome (a
    reader asks the job store for the live status of an unrecorded turn)."""

    job_id: str
    question: str
    created_at: float
    status: JobStatus = JobStatus.QUEUED
    standalone_query: str | None = Field(default=None, description="what retrieval searched for")
    answer: str | None = None
    sources: list[Source] = Field(default_factory=list)
    error: str | None = None
    finished_at: float | None = None

    @property
    def recorded(self) -> bool:
        """Its outcome is written: it never changes again."""
        return self.status.is_terminal


class Conversation(BaseModel):
    conversation_id: str
    owner: str | None  # the tenant that opened it (None: auth off)
    created_at: float
    turns: list[Turn]

    def before(self, job_id: str) -> list[Turn]:
        """The turns asked before the one of ``job_id`` (all of them if it is not here)."""
        for index, turn in enumerate(self.turns):
            if turn.job_id == job_id:
                return self.turns[:index]
        return list(self.turns)


def history_window(turns: list[Turn]) -> list[Turn]:
    """The answered turns a follow-up's prompts carry: the latest ``HISTORY_TURNS`` finished
    ones, oldest first. Failed or stopped turns have no answer to build on."""
    answered = [t for t in turns if t.status is JobStatus.FINISHED and t.answer is not None]
    return answered[-HISTORY_TURNS:]

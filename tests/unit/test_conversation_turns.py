"""A chat job as a turn of its conversation: opened at submission (owner, room), answered in
order, its history in the prompt, its outcome recorded once however often it is delivered."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ragcore.domain.answers import AnswerMode, Passage
from ragcore.domain.conversations import MAX_TURNS
from ragcore.domain.errors import ConversationFullError, ConversationNotFoundError, TurnNotReadyError
from ragcore.domain.jobs import JobStatus
from ragcore.domain.messages import ChatRequest, JobMessage
from ragcore.services.answer import AnswerPorts, answer_job
from ragcore.services.conversation_turns import wait_seconds
from ragcore.services.job_runner import MessageOutcome
from ragcore.services.submit import discard_chat, record_chat
from tests.support.fakes import (
    InMemoryConversationStore,
    InMemoryJobStore,
    KeywordEmbedder,
    ListIndex,
    ScriptedChat,
)
from tests.unit.test_answer_service import limits

PASSAGES = [
    Passage(chunk_id="c1", document_id="lighthouse", title="Skerry Point Lighthouse", source="l.md",
            text="Skerry Point Lighthouse was first lit in 1874 and automated in 1991.", score=0.8),
]
FIRST, FOLLOW_UP = "When was Skerry Point Lighthouse first lit?", "When was it automated?"


@pytest.fixture
def ports() -> AnswerPorts:
    return AnswerPorts(InMemoryJobStore(), KeywordEmbedder(), ListIndex(PASSAGES), ScriptedChat(),
                       conversations=InMemoryConversationStore(), wait_in_place_seconds=0.3)


def ask(ports: AnswerPorts, query: str, conversation_id: str | None = None, owner: str | None = "t1") -> str:
    request = ChatRequest(query=query, conversation_id=conversation_id)
    return record_chat(request, ports.store, ports.conversations, 600, owner).job_id


def conversation_of(ports: AnswerPorts, job_id: str) -> str:
    return ports.store.get(job_id).request["conversation_id"]


def test_a_question_opens_a_conversation_and_a_follow_up_joins_it(ports: AnswerPorts) -> None:
    first = ask(ports, FIRST)
    conversation_id = conversation_of(ports, first)
    second = ask(ports, FOLLOW_UP, conversation_id)
    stored = ports.conversations.get(conversation_id)  # type: ignore[union-attr]
    assert stored.owner == "t1" and [t.job_id for t in stored.turns] == [first, second]
    assert [t.question for t in stored.turns] == [FIRST, FOLLOW_UP]


def test_an_unknown_a_foreign_or_a_full_conversation_is_refused_and_leaves_no_job(ports: AnswerPorts) -> None:
    conversation_id = conversation_of(ports, ask(ports, FIRST))
    jobs_before = set(ports.store.jobs)  # type: ignore[attr-defined]
    with pytest.raises(ConversationNotFoundError):
        ask(ports, FOLLOW_UP, "0" * 32)
    with pytest.raises(ConversationNotFoundError):
        ask(ports, FOLLOW_UP, conversation_id, owner="t2")
    for _ in range(MAX_TURNS - 1):
        ask(ports, FOLLOW_UP, conversation_id)
    with pytest.raises(ConversationFullError):
        ask(ports, FOLLOW_UP, conversation_id)
    assert len(ports.store.jobs) == len(jobs_before) + MAX_TURNS - 1  # type: ignore[attr-defined]


def test_discarding_a_chat_removes_its_turn_and_a_conversation_it_opened(ports: AnswerPorts) -> None:
    first = ask(ports, FIRST)
    conversation_id = conversation_of(ports, first)
    discard_chat(ports.store.get(first), ports.store, ports.conversations)
    assert ports.conversations.get(conversation_id) is None  # type: ignore[union-attr]


def test_a_follow_up_waits_for_the_turn_before_it_without_using_an_attempt(ports: AnswerPorts) -> None:
    first = ask(ports, FIRST)
    second = ask(ports, FOLLOW_UP, conversation_of(ports, first))
    delays: list[int] = []
    for delivery in (1, 2, 3):
        with pytest.raises(TurnNotReadyError):
            answer_job(JobMessage(job_id=second), ports, limits(max_attempts=5), delivery, delays.append)
    assert delays == [wait_seconds(1), wait_seconds(2), wait_seconds(3)] == [2, 6, 18]
    waiting = ports.store.get(second)
    assert waiting.status is JobStatus.QUEUED and waiting.attempts == 0
    # The last two deliveries are kept to run it: it is answered, not dead-lettered by waiting.
    assert answer_job(JobMessage(job_id=second), ports, limits(max_attempts=5), 4) is MessageOutcome.FINISHED


def test_a_follow_up_waiting_in_place_starts_once_the_turn_before_it_is_answered(ports: AnswerPorts) -> None:
    first = ask(ports, FIRST)
    second = ask(ports, FOLLOW_UP, conversation_of(ports, first))
    waiting = ThreadPoolExecutor(1).submit(answer_job, JobMessage(job_id=second), ports, limits(), 1)
    time.sleep(0.1)
    assert answer_job(JobMessage(job_id=first), ports, limits()) is MessageOutcome.FINISHED
    assert waiting.result(timeout=5) is MessageOutcome.FINISHED  # never handed back
    assert ports.store.get(second).started_at >= ports.store.get(first).finished_at  # type: ignore[operator]


def test_turns_answered_in_order_carry_the_history_and_the_standalone_query(ports: AnswerPorts) -> None:
    first = ask(ports, FIRST)
    conversation_id = conversation_of(ports, first)
    second = ask(ports, FOLLOW_UP, conversation_id)
    assert answer_job(JobMessage(job_id=first), ports, limits()) is MessageOutcome.FINISHED
    assert answer_job(JobMessage(job_id=second), ports, limits()) is MessageOutcome.FINISHED
    result = ports.store.get_result(second)
    # The scripted LLM's rewrite is an answer with a citation: the fallback is the query.
    assert result["standalone_query"] == "When was it automated? Skerry Point Lighthouse"
    assert ports.store.get_result(first)["standalone_query"] == FIRST
    answer_prompt = ports.chat.calls[-1]  # type: ignore[attr-defined]
    assert answer_prompt[3] == {"role": "user", "content": f"Question: {FIRST}"}
    turns = ports.conversations.get(conversation_id).turns  # type: ignore[union-attr]
    assert [t.status for t in turns] == [JobStatus.FINISHED, JobStatus.FINISHED]
    assert turns[1].answer == result["answer"] and turns[1].standalone_query == result["standalone_query"]
    assert turns[1].sources[0].document_id == "lighthouse" and turns[1].sources[0].text == ""


def test_a_redelivered_job_records_its_turn_once(ports: AnswerPorts) -> None:
    first = ask(ports, FIRST)
    conversation_id = conversation_of(ports, first)
    answer_job(JobMessage(job_id=first), ports, limits())
    recorded = ports.conversations.get(conversation_id).turns[0]  # type: ignore[union-attr]
    assert answer_job(JobMessage(job_id=first), ports, limits(), 2) is MessageOutcome.SKIPPED
    assert ports.conversations.get(conversation_id).turns == [recorded]  # type: ignore[union-attr]


def test_a_failed_or_unrecorded_earlier_turn_blocks_nothing(ports: AnswerPorts) -> None:
    first = ask(ports, FIRST)
    conversation_id = conversation_of(ports, first)
    second = ask(ports, FOLLOW_UP, conversation_id)
    claim = ports.store.claim(first, 60)
    ports.store.fail(first, claim.attempt, "the model's context is too short")  # its worker then stopped
    assert answer_job(JobMessage(job_id=second), ports, limits()) is MessageOutcome.FINISHED
    turns = ports.conversations.get(conversation_id).turns  # type: ignore[union-attr]
    assert turns[0].status is JobStatus.FAILED and turns[0].error  # recorded by the follow-up's check
    assert ports.store.get_result(second)["standalone_query"] == FOLLOW_UP  # no answered turn before it


def test_extractive_mode_chooses_the_sentence_for_the_standalone_query() -> None:
    ports = AnswerPorts(InMemoryJobStore(), KeywordEmbedder(), ListIndex(PASSAGES), ScriptedChat(),
                        mode=AnswerMode.EXTRACTIVE, conversations=InMemoryConversationStore(), wait_in_place_seconds=0)
    first = ask(ports, FIRST)
    second = ask(ports, FOLLOW_UP, conversation_of(ports, first))
    answer_job(JobMessage(job_id=first), ports, limits())
    answer_job(JobMessage(job_id=second), ports, limits())
    result = ports.store.get_result(second)
    assert result["standalone_query"].startswith(FOLLOW_UP) and "Skerry" in result["standalone_query"]
    assert "1991" in result["answer"]

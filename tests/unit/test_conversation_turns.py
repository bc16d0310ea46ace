"""A chat job as a turn of its conversation: opened at submission (owner, room), answered in
order, its history in the prompt, its outcome recorded once however often it is delivered."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ragcore.domain.answers import AnswerMode, Passage
from ragcore.domain.conversations import MAX_TURNS, Turn
from ragcore.domain.errors import (
    ConversationFullError,
    ConversationNotFoundError,
    DependencyUnavailableError,
    TurnNotReadyError,
)
from ragcore.domain.jobs import JobStatus, new_job
from ragcore.domain.lifecycle import OVERDUE_ERROR
from ragcore.domain.messages import ChatRequest, JobMessage
from ragcore.services.answer import AnswerPorts, answer_job
from ragcore.services.conversation_turns import wait_seconds
from ragcore.services.conversations import live_turns
from ragcore.services.job_runner import MessageOutcome
from ragcore.services.submit import discard_chat, record_chat
from tests.support.fakes import (
    InMemoryConversationStore,
    InMemoryDocumentStore,
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


def test_a_job_queued_before_conversations_is_answered_without_a_turn(ports: AnswerPorts) -> None:
    job = new_job("chat", {"query": FIRST, "collection": "default"}, 600)  # no conversation_id
    ports.store.create(job)
    assert answer_job(JobMessage(job_id=job.job_id), ports, limits()) is MessageOutcome.FINISHED
    assert ports.store.get_result(job.job_id)["standalone_query"] == FIRST


def test_a_turn_whose_job_fails_on_its_last_delivery_is_recorded_and_the_error_still_raised() -> None:
    llm_down = DependencyUnavailableError("llm", "timed out")
    ports = AnswerPorts(InMemoryJobStore(), KeywordEmbedder(), ListIndex(PASSAGES), ScriptedChat(error=llm_down),
                        InMemoryConversationStore())
    first = ask(ports, FIRST)
    conversation_id = conversation_of(ports, first)
    for delivery in (1, 2):
        with pytest.raises(DependencyUnavailableError) as raised:
            answer_job(JobMessage(job_id=first), ports, limits(max_attempts=2), delivery)
        assert raised.value is llm_down  # to the queue: redelivered, then dead-lettered
        turn = ports.conversations.get(conversation_id).turns[0]  # type: ignore[union-attr]
        assert turn.status is (JobStatus.QUEUED if delivery == 1 else JobStatus.FAILED)
    assert turn.error == ports.store.get(first).error and turn.error.startswith("gave up after 2 deliveries")


class UnwritableConversations(InMemoryConversationStore):
    def record(self, conversation_id: str, turn: Turn) -> bool:
        raise RuntimeError("the conversation store broke")


def test_a_turn_that_cannot_be_recorded_changes_nothing_the_delivery_came_to() -> None:
    ports = AnswerPorts(InMemoryJobStore(), KeywordEmbedder(), ListIndex(PASSAGES), ScriptedChat(),
                        UnwritableConversations())
    answered = ask(ports, FIRST)
    assert answer_job(JobMessage(job_id=answered), ports, limits()) is MessageOutcome.FINISHED
    llm_down = DependencyUnavailableError("llm", "timed out")
    failing = dataclasses.replace(ports, chat=ScriptedChat(error=llm_down))
    last = ask(failing, FIRST)
    with pytest.raises(DependencyUnavailableError) as raised:
        answer_job(JobMessage(job_id=last), failing, limits(max_attempts=1))
    assert raised.value is llm_down and ports.store.get(last).status is JobStatus.FAILED


def test_a_reader_sees_each_unrecorded_turn_as_its_job_stands_read_at_once(
    ports: AnswerPorts, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ask(ports, FIRST)
    conversation_id = conversation_of(ports, first)
    # Past its deadline with no worker (its message never came): the conversation's read fails
    # it as GET /job-status would, and no worker records its turn.
    overdue = record_chat(ChatRequest(query=FOLLOW_UP, conversation_id=conversation_id), ports.store,
                          ports.conversations, -1, "t1").job_id
    queued = ask(ports, FOLLOW_UP, conversation_id)
    # Finished, its worker stopped before recording the turn.
    claim = ports.store.claim(first, 60)
    ports.store.finish(first, claim.attempt, {"answer": "First lit in 1874 [1].", "standalone_query": FIRST,
                                              "sources": []})
    conversation = ports.conversations.get(conversation_id)
    assert conversation is not None and not any(turn.recorded for turn in conversation.turns)

    def one_by_one(job_id: str) -> None:
        raise AssertionError("the turns' jobs are read in one round trip")

    monkeypatch.setattr(ports.store, "get", one_by_one)
    shown = live_turns(conversation, ports.store, InMemoryDocumentStore())
    assert [t.job_id for t in shown] == [first, overdue, queued]
    assert [t.status for t in shown] == [JobStatus.FINISHED, JobStatus.FAILED, JobStatus.QUEUED]
    assert shown[0].answer == "First lit in 1874 [1]." and shown[0].standalone_query == FIRST
    assert shown[1].error == OVERDUE_ERROR and shown[1].finished_at is not None
    assert ports.store.jobs[overdue].status is JobStatus.FAILED  # settled, not only shown as failed


def test_a_follow_ups_usage_and_timings_count_its_rewrite() -> None:
    chat = ScriptedChat(on_call=lambda: time.sleep(0.05))  # each call: 7 tokens, 50 ms at least
    ports = AnswerPorts(InMemoryJobStore(), KeywordEmbedder(), ListIndex(PASSAGES), chat,
                        InMemoryConversationStore())
    first = ask(ports, FIRST)
    second = ask(ports, FOLLOW_UP, conversation_of(ports, first))
    answer_job(JobMessage(job_id=first), ports, limits())
    answer_job(JobMessage(job_id=second), ports, limits())
    alone, follow_up = ports.store.get_result(first), ports.store.get_result(second)
    assert alone["usage"]["total_tokens"] == 7 and alone["timings_ms"]["rewrite_ms"] == 0
    assert len(chat.calls) == 3  # the first's answer; the follow-up's rewrite (not usable) and answer
    assert follow_up["usage"] == {"prompt_tokens": 6, "completion_tokens": 8, "total_tokens": 14}
    timings = follow_up["timings_ms"]
    assert timings["rewrite_ms"] >= 50 and timings["llm_ms"] >= 50
    parts = ("rewrite_ms", "embed_ms", "retrieval_ms", "llm_ms", "check_ms")
    assert timings["total_ms"] == pytest.approx(sum(timings[part] for part in parts), abs=0.5)
    assert follow_up["model"] == "scripted"

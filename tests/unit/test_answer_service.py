"""The answer use-case's decisions: who runs a job, what is retried, what is final."""

from __future__ import annotations

import dataclasses
import time

import pytest

from ragcore.domain.answers import AnswerMode, Passage
from ragcore.domain.budget import Budget
from ragcore.domain.errors import (
    AnswerGenerationError,
    DependencyUnavailableError,
    JobBusyError,
    JobNotFoundError,
)
from ragcore.domain.jobs import Job, JobStatus, new_job, new_job_id
from ragcore.domain.lifecycle import OVERDUE_ERROR
from ragcore.domain.messages import JobMessage
from ragcore.services.answer import AnswerPorts, answer_job
from ragcore.services.citation_check import CHECK_SECONDS
from ragcore.services.job_runner import JobLimits, MessageOutcome
from ragcore.services.prompting import PromptLimits, estimate_tokens
from ragcore.services.jobs import cancel_job, current_job, settle_overdue
from ragcore.services.retries import RedeliveryPolicy, RetryPolicy
from tests.support.fakes import (
    InMemoryConversationStore,
    InMemoryDocumentStore,
    InMemoryJobStore,
    KeywordEmbedder,
    ListIndex,
    ScriptedChat,
)

PASSAGES = [
    Passage(chunk_id="c1", document_id="lighthouse", title="Skerry Point", source="l.md",
            text="It was first lit on 12 October 1874.", score=0.8),
    Passage(chunk_id="c2", document_id="bees", title="Bees", source="b.md", text="Bees dance.", score=0.2),
]
QUERY = {"query": "When was the light first lit?", "top_k": 2, "collection": "c"}


def limits(lease: int = 60, max_attempts: int = 5, tries: int = 1, budget: float = 60) -> JobLimits:
    return JobLimits(lease, max_attempts, RetryPolicy(tries=tries, initial_wait=0, max_wait=0,
                                                      min_try_seconds=0), Budget.of(budget))


def setup(chat: ScriptedChat | None = None, request: dict | None = None,
          deadline_seconds: float = 600) -> tuple[AnswerPorts, str]:
    store = InMemoryJobStore()
    job = new_job("chat", request or QUERY, deadline_seconds)
    store.create(job)
    return AnswerPorts(store, KeywordEmbedder(), ListIndex(PASSAGES), chat or ScriptedChat(),
                       InMemoryConversationStore()), job.job_id


def test_a_queued_job_is_answered_and_finished() -> None:
    ports, job_id = setup()
    assert answer_job(JobMessage(job_id=job_id), ports, limits()) is MessageOutcome.FINISHED
    result = ports.store.get_result(job_id)
    assert result["answer"] == "First lit in 1874 [1]."
    assert [s["n"] for s in result["sources"]] == [1, 2]
    assert result["usage"]["total_tokens"] == 7 and result["model"] == "scripted"
    assert ports.index.searches == [("c", 2)]  # type: ignore[attr-defined]
    assert result["truncated"] is None


def test_the_answer_is_kept_on_the_job_as_it_is_streamed_and_the_checked_answer_replaces_it() -> None:
    seen: list[str | None] = []
    ports, job_id = setup(ScriptedChat(text="First lit in 1874 [1] [7]."))
    original = ports.store.write_partial

    def watched(job_id: str, attempt: int, text: str) -> bool:
        written = original(job_id, attempt, text)
        seen.append(ports.store.get(job_id).partial_answer)
        return written

    ports.store.write_partial = watched  # type: ignore[method-assign]
    ports = dataclasses.replace(ports, partial_interval_ms=0)
    assert answer_job(JobMessage(job_id=job_id), ports, limits()) is MessageOutcome.FINISHED
    assert seen == ["First", "First lit", "First lit in", "First lit in 1874", "First lit in 1874 [1]",
                    "First lit in 1874 [1] [7]."]  # the model's raw text, its bad citation too
    assert ports.store.get_result(job_id)["answer"] == "First lit in 1874 [1]."
    assert ports.store.get(job_id).partial_answer is None
    events = ports.store.read_events(job_id, None)
    assert [e.type for e in events] == ["status", "status", *["delta"] * 6, "status"]
    assert events[-1].data == {"status": "finished", "attempt": 1}


def test_the_llm_call_is_held_to_the_prompt_budget_and_the_result_says_what_was_cut() -> None:
    """Issue 15: twenty 20 kB passages went to the LLM whole (about 100,000 prompt tokens)."""
    huge = [PASSAGES[0].model_copy(update={"chunk_id": f"c{n}", "text": "A" * 20_000}) for n in range(20)]
    chat = ScriptedChat()
    ports, job_id = setup(chat, {**QUERY, "top_k": 20})
    ports = dataclasses.replace(ports, index=ListIndex(huge), prompt_limits=PromptLimits(10_000, 1_000))
    answer_job(JobMessage(job_id=job_id), ports, limits())
    assert estimate_tokens(chat.calls[0]) <= 10_000
    result = ports.store.get_result(job_id)
    sent = len(result["sources"])
    assert 0 < sent < 20 and f"[{sent}] " in chat.calls[0][-1]["content"]
    assert result["truncated"] == {"passages_dropped": 20 - sent, "passages_cut": sent,
                                   "prompt_tokens_estimated": estimate_tokens(chat.calls[0])}


def test_redelivery_of_a_final_job_never_reaches_the_llm() -> None:
    chat = ScriptedChat()
    ports, job_id = setup(chat)
    answer_job(JobMessage(job_id=job_id), ports, limits())
    assert answer_job(JobMessage(job_id=job_id), ports, limits()) is MessageOutcome.SKIPPED
    assert len(chat.calls) == 1


def test_a_job_someone_else_is_working_on_is_sent_back() -> None:
    ports, job_id = setup()
    ports.store.claim(job_id, 60)
    with pytest.raises(JobBusyError):
        answer_job(JobMessage(job_id=job_id), ports, limits())


def test_an_expired_record_is_dropped() -> None:
    ports, _ = setup()
    assert answer_job(JobMessage(job_id=new_job_id()), ports, limits()) is MessageOutcome.SKIPPED


def test_a_transient_error_is_retried_within_the_invocation() -> None:
    chat = ScriptedChat(errors=[DependencyUnavailableError("llm", "HTTP 503")])
    ports, job_id = setup(chat)
    assert answer_job(JobMessage(job_id=job_id), ports, limits(tries=3)) is MessageOutcome.FINISHED
    assert len(chat.calls) == 2 and ports.store.get(job_id).attempts == 1


def test_retries_stop_when_the_budget_would_run_out() -> None:
    chat = ScriptedChat(error=DependencyUnavailableError("llm", "rate limited", retry_after=30))
    ports, job_id = setup(chat)
    with pytest.raises(DependencyUnavailableError):
        answer_job(JobMessage(job_id=job_id), ports, limits(tries=5, budget=10))
    assert len(chat.calls) == 1  # waiting 30 s would overrun the 10 s left: back to the queue
    assert ports.store.get(job_id).status is JobStatus.QUEUED


def test_each_llm_call_gets_at_most_the_time_left_less_the_citation_checks() -> None:
    chat = ScriptedChat()
    ports, job_id = setup(chat)
    answer_job(JobMessage(job_id=job_id), ports, limits(budget=7))
    assert 6 - CHECK_SECONDS < chat.timeouts[0] <= 7 - CHECK_SECONDS


def test_transient_errors_are_redelivered_until_the_last_delivery_then_dead_lettered() -> None:
    ports, job_id = setup(ScriptedChat(error=DependencyUnavailableError("llm", "APITimeoutError")))
    redeliveries: list[int] = []
    before = time.time()
    with pytest.raises(DependencyUnavailableError):
        answer_job(JobMessage(job_id=job_id), ports, limits(max_attempts=3), 1, redeliveries.append)
    # Back in the queue, saying why and when: the message comes back in 10 s, not the
    # queue's whole visibility timeout.
    job = ports.store.get(job_id)
    assert job.status is JobStatus.QUEUED and job.attempts == 1 and job.error is None
    assert job.last_error == "llm is unavailable: APITimeoutError"
    assert redeliveries == [10] and before + 10 <= job.retry_at <= time.time() + 10
    with pytest.raises(DependencyUnavailableError):
        answer_job(JobMessage(job_id=job_id), ports, limits(max_attempts=3), 2, redeliveries.append)
    assert redeliveries == [10, 30] and ports.store.get(job_id).attempts == 2
    # The last delivery fails the job and still raises; its message comes back at once, so
    # SQS moves it to the DLQ.
    with pytest.raises(DependencyUnavailableError):
        answer_job(JobMessage(job_id=job_id), ports, limits(max_attempts=3), 3, redeliveries.append)
    job = ports.store.get(job_id)
    assert job.status is JobStatus.FAILED and redeliveries == [10, 30, 0]
    assert job.error == "gave up after 3 deliveries: llm is unavailable: APITimeoutError"


def test_a_retried_job_that_then_succeeds_is_finished_and_keeps_its_history() -> None:
    chat = ScriptedChat(errors=[DependencyUnavailableError("llm", "InternalServerError")])
    ports, job_id = setup(chat)
    with pytest.raises(DependencyUnavailableError):
        answer_job(JobMessage(job_id=job_id), ports, limits())
    assert answer_job(JobMessage(job_id=job_id), ports, limits(), delivery=2) is MessageOutcome.FINISHED
    job = ports.store.get(job_id)
    assert job.status is JobStatus.FINISHED and job.attempts == 2 and job.retry_at is None
    assert job.last_error == "llm is unavailable: InternalServerError"


def test_a_job_waiting_for_a_retry_stops_at_once_when_cancelled() -> None:
    ports, job_id = setup(ScriptedChat(error=DependencyUnavailableError("llm", "APIConnectionError")))
    with pytest.raises(DependencyUnavailableError):
        answer_job(JobMessage(job_id=job_id), ports, limits())
    assert cancel_job(ports.store, current_job(ports.store, job_id)).status is JobStatus.STOPPED
    assert answer_job(JobMessage(job_id=job_id), ports, limits(), delivery=2) is MessageOutcome.SKIPPED


def test_a_stop_requested_during_a_failing_attempt_ends_the_job_instead_of_a_retry() -> None:
    store = InMemoryJobStore()
    job = new_job("chat", QUERY, 600)
    store.create(job)
    chat = ScriptedChat(error=DependencyUnavailableError("llm", "APITimeoutError"),
                        on_call=lambda: store.request_cancel(job.job_id))
    ports = AnswerPorts(store, KeywordEmbedder(), ListIndex(PASSAGES), chat, InMemoryConversationStore())
    redeliveries: list[int] = []
    outcome = answer_job(JobMessage(job_id=job.job_id), ports, limits(), 1, redeliveries.append)
    assert outcome is MessageOutcome.STOPPED and redeliveries == []  # its message is done with
    assert store.get(job.job_id).status is JobStatus.STOPPED


def test_a_lost_redelivery_delay_leaves_the_queues_own_timeout() -> None:
    ports, job_id = setup(ScriptedChat(error=DependencyUnavailableError("llm", "APITimeoutError")))

    def queue_down(seconds: int) -> None:
        raise DependencyUnavailableError("queue", "EndpointConnectionError")

    with pytest.raises(DependencyUnavailableError, match="llm"):  # the job's own error, not the queue's
        answer_job(JobMessage(job_id=job_id), ports, limits(), 1, queue_down)
    assert ports.store.get(job_id).status is JobStatus.QUEUED


def test_redelivery_delays_grow_to_a_cap() -> None:
    policy = RedeliveryPolicy(initial_delay=10, max_delay=120)
    assert [policy.delay(n) for n in range(1, 7)] == [10, 30, 90, 120, 120, 120]
    # Four waits and five whole invocations of 60 s.
    assert policy.time_to_verdict(max_attempts=5, invocation_seconds=60) == 250 + 300


def test_the_queues_last_delivery_gives_up_even_if_earlier_ones_never_claimed() -> None:
    ports, job_id = setup(ScriptedChat(error=DependencyUnavailableError("llm", "APIConnectionError")))
    # Deliveries 1-4 bounced before claiming (e.g. the job was busy): this is the first claim.
    with pytest.raises(DependencyUnavailableError):
        answer_job(JobMessage(job_id=job_id), ports, limits(), delivery=5)
    assert ports.store.get(job_id).error.startswith("gave up after 5 deliveries")


def test_permanent_errors_fail_the_job_at_once() -> None:
    chat = ScriptedChat(error=AnswerGenerationError("LLM returned an empty answer"))
    ports, job_id = setup(chat)
    assert answer_job(JobMessage(job_id=job_id), ports, limits(tries=3)) is MessageOutcome.FAILED
    job = ports.store.get(job_id)
    assert job.status is JobStatus.FAILED and job.error == "LLM returned an empty answer"
    assert len(chat.calls) == 1


def test_unexpected_errors_fail_the_job_without_leaking_details() -> None:
    ports, job_id = setup(ScriptedChat(error=KeyError("secret-internal-name")))
    assert answer_job(JobMessage(job_id=job_id), ports, limits()) is MessageOutcome.FAILED
    assert ports.store.get(job_id).error == "internal error (KeyError)"


def test_a_stored_request_that_no_longer_validates_fails_the_job() -> None:
    ports, job_id = setup(request={"query": "", "top_k": 2})
    assert answer_job(JobMessage(job_id=job_id), ports, limits()) is MessageOutcome.FAILED
    assert ports.store.get(job_id).error.startswith("the job's request is not valid")


def test_a_job_stopped_while_queued_never_runs() -> None:
    chat = ScriptedChat()
    ports, job_id = setup(chat)
    assert ports.store.request_cancel(job_id).status is JobStatus.STOPPED
    assert answer_job(JobMessage(job_id=job_id), ports, limits()) is MessageOutcome.SKIPPED
    assert chat.calls == []


def test_a_stop_requested_during_the_llm_call_drops_the_result() -> None:
    holder: dict[str, str] = {}
    chat = ScriptedChat(on_call=lambda: ports.store.request_cancel(holder["id"]))
    ports, job_id = setup(chat)
    holder["id"] = job_id
    assert answer_job(JobMessage(job_id=job_id), ports, limits()) is MessageOutcome.STOPPED
    assert ports.store.get(job_id).status is JobStatus.STOPPED
    assert ports.store.get_result(job_id) is None


def test_a_stop_requested_before_the_llm_call_saves_it() -> None:
    chat = ScriptedChat()
    ports, job_id = setup(chat)
    embedder = ports.embedder

    class StopWhileEmbedding:
        dimension = embedder.dimension

        def embed(self, texts):  # type: ignore[no-untyped-def]
            ports.store.request_cancel(job_id)
            return embedder.embed(texts)

    ports = dataclasses.replace(ports, embedder=StopWhileEmbedding(), chat=chat)
    assert answer_job(JobMessage(job_id=job_id), ports, limits()) is MessageOutcome.STOPPED
    assert chat.calls == []


def test_a_job_past_its_deadline_still_runs_when_its_message_arrives() -> None:
    """The deadline is for jobs nothing will run; a late message (a backlog) still runs."""
    ports, job_id = setup(deadline_seconds=-1)
    assert answer_job(JobMessage(job_id=job_id), ports, limits()) is MessageOutcome.FINISHED


def test_an_overdue_job_nobody_runs_is_failed_by_its_next_reader() -> None:
    ports, job_id = setup(deadline_seconds=-1)
    read = current_job(ports.store, job_id)
    assert read.status is JobStatus.QUEUED  # a read is a read: settling is its own step
    job = settle_overdue(read, ports.store, InMemoryDocumentStore())
    assert job.status is JobStatus.FAILED and job.error == OVERDUE_ERROR
    assert ports.store.get(job_id) == job


def test_another_owners_job_is_missing_and_its_read_changes_nothing() -> None:
    ports, job_id = setup(deadline_seconds=-1)
    ports.store.jobs[job_id].owner = "alice"  # type: ignore[attr-defined]
    with pytest.raises(JobNotFoundError):
        current_job(ports.store, job_id, owner="bob")
    assert ports.store.get(job_id).status is JobStatus.QUEUED  # not failed as overdue by bob's read
    settled = settle_overdue(current_job(ports.store, job_id, owner="alice"), ports.store, InMemoryDocumentStore())
    assert settled.status is JobStatus.FAILED


def test_a_stop_requested_before_a_failure_wins() -> None:
    holder: dict[str, str] = {}

    def stop_then_refuse() -> None:
        ports.store.request_cancel(holder["id"])

    chat = ScriptedChat(error=AnswerGenerationError("refused"), on_call=stop_then_refuse)
    ports, job_id = setup(chat)
    holder["id"] = job_id
    assert answer_job(JobMessage(job_id=job_id), ports, limits()) is MessageOutcome.STOPPED
    assert ports.store.get(job_id).status is JobStatus.STOPPED


def test_old_records_without_a_deadline_still_run() -> None:
    ports, _ = setup()
    job_id = new_job_id()
    ports.store.create(Job(job_id=job_id, status=JobStatus.QUEUED, created_at=time.time(), request=QUERY))
    assert answer_job(JobMessage(job_id=job_id), ports, limits()) is MessageOutcome.FINISHED


def test_the_result_carries_the_checked_citations_and_what_the_model_wrote() -> None:
    ports, job_id = setup(ScriptedChat("First lit in 1874 [5]."))
    answer_job(JobMessage(job_id=job_id), ports, limits())
    result = ports.store.get_result(job_id)
    assert result["answer"] == "First lit in 1874 [1]."  # 5 is not a source: it never reaches the client
    [sentence] = result["sentences"]
    assert sentence["model_citations"] == [5] and sentence["citations"] == [1] and sentence["changed"]
    assert result["grounded"] == 1.0 and result["method"] == "generated" and not result["abstained"]


def test_extractive_mode_quotes_the_passage_sentence_when_the_rewording_adds_a_fact() -> None:
    ports, job_id = setup(ScriptedChat("First lit in 1875 [1]."), {**QUERY, "query": "When was it first lit?"})
    ports = dataclasses.replace(ports, mode=AnswerMode.EXTRACTIVE)
    answer_job(JobMessage(job_id=job_id), ports, limits())
    result = ports.store.get_result(job_id)
    assert result["answer"] == "It was first lit on 12 October 1874 [1]."
    assert result["method"] == "quoted" and result["model"] == "scripted"
    assert len(ports.chat.calls) == 1  # type: ignore[attr-defined]

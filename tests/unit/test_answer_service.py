"""The answer use-case's decisions: who runs a job, what is retried, what is final."""

from __future__ import annotations

import time

import pytest

from ragcore.domain.answers import Passage
from ragcore.domain.errors import AnswerGenerationError, DependencyUnavailableError, JobBusyError
from ragcore.domain.jobs import Job, JobStatus, new_job_id
from ragcore.domain.messages import JobMessage
from ragcore.services.answer import AnswerPorts, Outcome, answer_job
from tests.support.fakes import InMemoryJobStore, KeywordEmbedder, ListIndex, ScriptedChat

PASSAGES = [
    Passage(chunk_id="c1", document_id="lighthouse", title="Skerry Point", source="l.md",
            text="It was first lit on 12 October 1874.", score=0.8),
    Passage(chunk_id="c2", document_id="bees", title="Bees", source="b.md", text="Bees dance.", score=0.2),
]


def setup(chat: ScriptedChat | None = None, request: dict | None = None) -> tuple[AnswerPorts, str]:
    store = InMemoryJobStore()
    job_id = new_job_id()
    store.create(Job(job_id=job_id, status=JobStatus.QUEUED, created_at=time.time(),
                     request=request or {"query": "When was the light first lit?", "top_k": 2, "collection": "c"}))
    return AnswerPorts(store, KeywordEmbedder(), ListIndex(PASSAGES), chat or ScriptedChat()), job_id


def test_a_queued_job_is_answered_and_finished() -> None:
    ports, job_id = setup()
    assert answer_job(JobMessage(job_id=job_id), ports, 60, 5) is Outcome.FINISHED
    result = ports.store.get_result(job_id)
    assert result["answer"] == "First lit in 1874 [1]."
    assert [s["n"] for s in result["sources"]] == [1, 2]
    assert result["usage"]["total_tokens"] == 7 and result["model"] == "scripted"
    assert ports.index.searches == [("c", 2)]  # type: ignore[attr-defined]


def test_redelivery_of_a_final_job_never_reaches_the_llm() -> None:
    chat = ScriptedChat()
    ports, job_id = setup(chat)
    answer_job(JobMessage(job_id=job_id), ports, 60, 5)
    assert answer_job(JobMessage(job_id=job_id), ports, 60, 5) is Outcome.SKIPPED
    assert len(chat.calls) == 1


def test_a_job_someone_else_is_working_on_is_sent_back() -> None:
    ports, job_id = setup()
    ports.store.claim(job_id, 60)
    with pytest.raises(JobBusyError):
        answer_job(JobMessage(job_id=job_id), ports, 60, 5)


def test_an_expired_record_is_dropped() -> None:
    ports, _ = setup()
    assert answer_job(JobMessage(job_id=new_job_id()), ports, 60, 5) is Outcome.SKIPPED


def test_transient_errors_are_redelivered_until_the_last_attempt() -> None:
    ports, job_id = setup(ScriptedChat(error=DependencyUnavailableError("llm", "APITimeoutError")))
    with pytest.raises(DependencyUnavailableError):
        answer_job(JobMessage(job_id=job_id), ports, 0, 2)
    assert ports.store.get(job_id).status is JobStatus.STARTED
    assert answer_job(JobMessage(job_id=job_id), ports, 0, 2) is Outcome.FAILED
    assert ports.store.get(job_id).error == "gave up after 2 attempts: llm is unavailable: APITimeoutError"


def test_the_queues_last_delivery_gives_up_even_if_earlier_ones_never_claimed() -> None:
    ports, job_id = setup(ScriptedChat(error=DependencyUnavailableError("llm", "APIConnectionError")))
    # Deliveries 1-4 bounced before claiming (e.g. the job was busy): this is the first claim.
    assert answer_job(JobMessage(job_id=job_id), ports, 60, 5, delivery=5) is Outcome.FAILED
    assert ports.store.get(job_id).error.startswith("gave up after 1 attempts")


def test_permanent_errors_fail_the_job_at_once() -> None:
    ports, job_id = setup(ScriptedChat(error=AnswerGenerationError("LLM returned an empty answer")))
    assert answer_job(JobMessage(job_id=job_id), ports, 60, 5) is Outcome.FAILED
    job = ports.store.get(job_id)
    assert job.status is JobStatus.FAILED and job.error == "LLM returned an empty answer"


def test_unexpected_errors_fail_the_job_without_leaking_details() -> None:
    ports, job_id = setup(ScriptedChat(error=KeyError("secret-internal-name")))
    assert answer_job(JobMessage(job_id=job_id), ports, 60, 5) is Outcome.FAILED
    assert ports.store.get(job_id).error == "internal error (KeyError)"


def test_a_stored_request_that_no_longer_validates_fails_the_job() -> None:
    ports, job_id = setup(request={"query": "", "top_k": 2})
    assert answer_job(JobMessage(job_id=job_id), ports, 60, 5) is Outcome.FAILED
    assert ports.store.get(job_id).status is JobStatus.FAILED

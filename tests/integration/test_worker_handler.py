"""The worker Lambda handler with SQS batch events (events/sqs_batch.json), real Valkey, the
embedded Qdrant engine and the real embedder; the LLM is a counting endpoint over HTTP."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from ragcore.bootstrap import get_container
from ragcore.domain.conversations import Turn
from ragcore.domain.jobs import Job, JobStatus, new_job_id
from ragcore.domain.messages import ChatRequest
from ragcore.local.lambda_context import LocalLambdaContext
from ragcore.services.ingest import index_files
from ragcore.services.submit import record_chat
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.paths import SAMPLES, load_event
from tests.support.settings import Configure

pytestmark = pytest.mark.usefixtures("lambda_env")


@pytest.fixture(autouse=True)
def ingested_samples(lambda_env: dict[str, str]) -> None:
    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index)


def queued_turn(query: str = "When was Skerry Point Lighthouse first lit?", conversation_id: str | None = None) -> str:
    container = get_container()
    request = ChatRequest(query=query, top_k=3, conversation_id=conversation_id)
    return record_chat(request, container.job_store, container.conversations, 600).job_id


def turns(job_id: str) -> list[Turn]:
    container = get_container()
    conversation = container.conversations.get(container.job_store.get(job_id).request["conversation_id"])
    assert conversation is not None
    return conversation.turns


def queued_job(query: str = "When was Skerry Point Lighthouse first lit?", top_k: int = 3) -> str:
    job = Job(job_id=new_job_id(), status=JobStatus.QUEUED, created_at=time.time(),
              request={"query": query, "top_k": top_k, "collection": "default"})
    get_container().job_store.create(job)
    return job.job_id


def batch(*bodies: str) -> dict[str, Any]:
    template = load_event("sqs_batch.json")["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"message-{i}"
        record["body"] = body
        records.append(record)
    return {"Records": records}


def run(event: dict[str, Any]) -> dict[str, Any]:
    from rag_worker.handler import handler

    return handler(event, LocalLambdaContext("WorkerFunction", timeout_seconds=60))


def message(job_id: str) -> str:
    return json.dumps({"job_id": job_id, "kind": "chat"})


def test_the_sample_event_is_a_valid_batch_for_the_handler() -> None:
    event = load_event("sqs_batch.json")
    # Its job ids have no records here: both are dropped as expired, none fails.
    assert run(event) == {"batchItemFailures": []}


def test_a_job_is_answered_from_retrieved_passages(fake_llm: FakeLLM) -> None:
    job_id = queued_job()
    assert run(batch(message(job_id))) == {"batchItemFailures": []}
    store = get_container().job_store
    job = store.get(job_id)
    assert job.status is JobStatus.FINISHED and job.attempts == 1
    result = store.get_result(job_id)
    assert result["answer"] == fake_llm.answer and result["model"] == "fake-model"
    assert [s["document_id"] for s in result["sources"]] == ["skerry-point-lighthouse"] * 3
    assert result["sources"][0]["snippet"].startswith("Skerry Point Lighthouse")
    assert result["usage"]["total_tokens"] == 60
    assert set(result["timings_ms"]) == {"rewrite_ms", "embed_ms", "retrieval_ms", "llm_ms", "check_ms", "total_ms"}
    assert result["timings_ms"]["rewrite_ms"] == 0  # a first question is its own query
    prompt = fake_llm.requests[0]["messages"][-1]["content"]
    assert '[1] "Skerry Point Lighthouse' in prompt and "first lit on 12 October 1874" in prompt


def test_redelivering_a_finished_jobs_message_does_not_call_the_llm_again(fake_llm: FakeLLM) -> None:
    job_id = queued_job()
    run(batch(message(job_id)))
    store = get_container().job_store
    first = (store.get(job_id), store.get_result(job_id))
    assert fake_llm.calls == 1
    assert run(batch(message(job_id), message(job_id))) == {"batchItemFailures": []}
    assert fake_llm.calls == 1
    assert (store.get(job_id), store.get_result(job_id)) == first


def test_records_of_a_batch_run_concurrently(fake_llm: FakeLLM) -> None:
    fake_llm.delay = 0.5
    jobs = [queued_job() for _ in range(4)]
    assert run(batch(*map(message, jobs))) == {"batchItemFailures": []}
    assert fake_llm.calls == 4
    assert fake_llm.max_in_flight >= 2


def test_a_full_batch_waits_on_the_llm_at_once(fake_llm: FakeLLM) -> None:
    """A thread per record (not the event loop's default pool, CPUs + 4 threads): a batch of
    10 takes one LLM latency, not two (docs/PERFORMANCE.md, worker throughput)."""
    from rag_worker.handler import MAX_RECORD_THREADS

    fake_llm.delay = 1.0
    jobs = [queued_job() for _ in range(MAX_RECORD_THREADS)]
    started = time.monotonic()
    assert run(batch(*map(message, jobs))) == {"batchItemFailures": []}
    assert fake_llm.calls == fake_llm.max_in_flight == MAX_RECORD_THREADS
    assert time.monotonic() - started < 2 * fake_llm.delay


def test_only_the_failing_record_is_reported(fake_llm: FakeLLM) -> None:
    good = queued_job()
    response = run(batch(message(good), "not json at all"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "message-1"}]}
    assert get_container().job_store.get(good).status is JobStatus.FINISHED


def test_an_llm_refusal_fails_the_job_at_once_with_a_readable_reason(fake_llm: FakeLLM) -> None:
    fake_llm.script = [Reply(status=400, code="context_length_exceeded")]
    job_id = queued_job()
    assert run(batch(message(job_id))) == {"batchItemFailures": []}
    job = get_container().job_store.get(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error == "the question and its passages do not fit the model's context window"
    assert fake_llm.calls == 1


def test_an_unreachable_llm_is_retried_by_redelivery_then_fails_the_job(configure: Configure) -> None:
    configure(openai_base_url="http://127.0.0.1:1/v1", job_max_attempts=2, job_lease_seconds=1)
    job_id = queued_job()
    assert run(batch(message(job_id))) == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
    waiting = get_container().job_store.get(job_id)  # handed back (lease released), saying why and when
    assert waiting.status is JobStatus.QUEUED and waiting.retry_at is not None
    assert waiting.last_error.startswith("llm is unavailable")
    # The last delivery fails the job and still hands the record back, so SQS moves it to
    # the dead-letter queue.
    assert run(batch(message(job_id))) == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
    job = get_container().job_store.get(job_id)
    assert job.status is JobStatus.FAILED and job.attempts == 2
    assert job.error.startswith("gave up after 2 deliveries: llm is unavailable")


def test_a_turn_whose_job_fails_on_its_last_delivery_is_recorded_as_failed(configure: Configure) -> None:
    configure(openai_base_url="http://127.0.0.1:1/v1", job_max_attempts=2, job_lease_seconds=1)
    job_id = queued_turn()
    for _ in range(2):
        assert run(batch(message(job_id))) == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
    (turn,) = turns(job_id)
    assert turn.status is JobStatus.FAILED and turn.error == get_container().job_store.get(job_id).error
    assert turn.error.startswith("gave up after 2 deliveries: llm is unavailable")


def test_a_follow_ups_usage_and_timings_count_its_rewrite(fake_llm: FakeLLM) -> None:
    fake_llm.delay = 0.2
    first = queued_turn()
    run(batch(message(first)))
    second = queued_turn("When was it automated?", get_container().job_store.get(first).request["conversation_id"])
    assert run(batch(message(second))) == {"batchItemFailures": []}
    assert fake_llm.calls == 3  # the first's answer; the follow-up's rewrite and answer
    result = get_container().job_store.get_result(second)
    assert result["usage"] == {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    timings = result["timings_ms"]
    assert timings["rewrite_ms"] >= 200 and timings["llm_ms"] >= 200
    assert timings["total_ms"] >= timings["rewrite_ms"] + timings["llm_ms"]
    assert [turn.status for turn in turns(second)] == [JobStatus.FINISHED, JobStatus.FINISHED]


def test_a_document_built_to_inflate_prompts_costs_at_most_the_budget(fake_llm: FakeLLM, tmp_path: Any) -> None:
    """Issue 15: a document with a 20 kB one-word heading, asked with top_k 20, sent the LLM a
    407 kB request (about 100,000 prompt tokens). Its paragraphs of long words now fill every
    chunk to its bound, so the budget, not the document, decides the request's size."""
    from ragcore.services.prompting import estimate_tokens

    long_words = " ".join(f"zorbulon{'q' * 40}{i}" for i in range(50))
    paragraphs = "\n\n".join(f"Zorbulon lantern fact {n}: {long_words}" for n in range(42))
    path = tmp_path / "inflated.md"
    path.write_text(f"# {'A' * 20_000}\n\n{paragraphs}\n")
    container = get_container()
    index_files([path], "default", container.embedder, container.vector_index)
    job_id = queued_job("zorbulon lantern fact", top_k=20)
    assert run(batch(message(job_id))) == {"batchItemFailures": []}
    sent = fake_llm.requests[0]
    budget = get_container().settings.llm_prompt_token_budget
    assert estimate_tokens(sent["messages"]) <= budget
    assert len(json.dumps(sent).encode()) < 1.5 * budget  # was 407 kB
    assert sent["max_tokens"] == get_container().settings.llm_max_tokens
    result = get_container().job_store.get_result(job_id)
    truncated = result["truncated"]
    assert truncated["passages_dropped"] > 0 and truncated["passages_cut"] > 0
    assert truncated["prompt_tokens_estimated"] == estimate_tokens(sent["messages"])
    assert len(result["sources"]) + truncated["passages_dropped"] == 20

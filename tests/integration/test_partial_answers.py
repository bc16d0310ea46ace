"""Partial answers over real HTTP and real queues (the fake LLM streaming slowly): a started
job shows its answer as the model writes it, the checked answer replaces it, a retried
attempt starts it again, and a stream that breaks off is a transient failure, retried."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

import httpx
import pytest

from ragcore.bootstrap import get_container
from ragcore.domain.job_events import event_order
from ragcore.domain.jobs import JobStatus
from ragcore.services.ingest import index_files
from tests.support.api import local_api
from tests.support.fake_llm import USAGE, FakeLLM, Reply
from tests.support.paths import SAMPLES
from tests.support.settings import Configure
from tests.support.workers import Workers, wait_final

ASK = {"query": "When was Skerry Point Lighthouse first lit?"}
ANSWER = "Skerry Point Lighthouse was first lit on 12 October 1874 [1], after four years of building."


@contextmanager
def serving(fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    fake_llm.answer = ANSWER
    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index)
    with local_api() as client:
        yield client


@pytest.fixture
def http(lambda_env: dict[str, str], fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with serving(fake_llm) as client:
        yield client


def watch(http: httpx.Client, job_id: str, timeout: float = 60) -> list[dict]:
    """Every status document until the job is final, polled tightly."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(http.get(f"/job-status/{job_id}").json())
        if JobStatus(seen[-1]["status"]).is_terminal:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} not final within {timeout} s")


def deltas(job_id: str) -> list[dict]:
    return [e.data for e in get_container().job_store.read_events(job_id, None) if e.type == "delta"]


def test_a_started_job_shows_its_answer_as_it_is_written_and_the_result_replaces_it(
    http: httpx.Client, sqs: Any, queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    fake_llm.token_delay = 0.1
    job_id = http.post("/chat", json=ASK).json()["job_id"]
    with Workers(sqs, queue):
        while not (fake_llm.first_tokens and http.get(f"/job-status/{job_id}").json()["partial_answer"]):
            time.sleep(0.02)
        waiting = http.get(f"/result/{job_id}")
        seen = watch(http, job_id)
    assert waiting.status_code == 202 and waiting.json()["status"] == "started"
    assert ANSWER.startswith(waiting.json()["partial_answer"])
    partials = [doc["partial_answer"] for doc in seen if doc["status"] == "started"]
    assert len(set(partials)) >= 5  # it grew while the job was started, each a prefix of the next
    assert all(later.startswith(earlier) for earlier, later in zip(partials, partials[1:]))
    assert seen[-1]["status"] == "finished" and seen[-1]["partial_answer"] is None
    result = http.get(f"/result/{job_id}").json()
    assert "12 October 1874" in result["answer"]  # the checked answer
    schemas = http.get("/openapi.json").json()["components"]["schemas"]
    assert {"JobStatusView", "NotReady"} <= {name for name, schema in schemas.items()
                                             if "partial_answer" in schema.get("properties", {})}
    assert result["usage"] == USAGE  # a streamed call's tokens are still counted
    assert fake_llm.requests[-1]["stream"] is True
    # At most one write per 100 ms besides the first and the last (held-back text is written
    # when the interval ends): the writes' count is bounded by the time they span, read from
    # their stream ids (Valkey's clock, ms), with 100 ms allowed for the writes' round trips.
    written = [e for e in get_container().job_store.read_events(job_id, None) if e.type == "delta"]
    span_ms = event_order(written[-1].id)[0] - event_order(written[0].id)[0]
    assert 3 <= len(written) <= 2 + (span_ms + 100) // 100, (len(written), span_ms)
    assert "".join(d["text"] for d in deltas(job_id)) == ANSWER


def test_a_stream_that_breaks_off_is_tried_again_from_the_start_and_never_a_500(
    http: httpx.Client, sqs: Any, queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    fake_llm.token_delay = 0.05
    fake_llm.script = [Reply(fail_after=4, drop=True)]  # retried within the invocation
    job_id = http.post("/chat", json=ASK).json()["job_id"]
    with Workers(sqs, queue):
        (job,) = wait_final([job_id])
    assert job.status is JobStatus.FINISHED and job.attempts == 1
    assert fake_llm.calls == 2
    written = deltas(job_id)
    assert written[0]["offset"] == 0 and any(d["offset"] == 0 for d in written[1:])  # started again
    assert written[-1]["attempt"] == 1
    assert http.get(f"/result/{job_id}").json()["usage"] == USAGE


def test_a_retried_attempt_starts_its_partial_answer_again(
    sqs: Any, queue: dict[str, str], fake_llm: FakeLLM, configure: Configure
) -> None:
    configure(retry_tries=1, redelivery_initial_seconds=1)  # the next delivery retries
    fake_llm.script = [Reply(fail_after=5, code="server_error")]
    with serving(fake_llm) as http, Workers(sqs, queue):
        job_id = http.post("/chat", json=ASK).json()["job_id"]
        seen = watch(http, job_id)
        final = http.get(f"/result/{job_id}")
    waiting = [doc for doc in seen if doc["status"] == "queued" and doc["last_error"]]
    assert waiting and all(doc["partial_answer"] is None for doc in waiting)  # none while it waits
    assert "the stream broke off" in waiting[0]["last_error"]
    assert seen[-1]["status"] == "finished" and seen[-1]["attempts"] == 2
    events = get_container().job_store.read_events(job_id, None)
    assert [(e.data["status"], e.data["attempt"]) for e in events if e.type == "status"] == [
        ("queued", 0), ("started", 1), ("queued", 1), ("started", 2), ("finished", 2)]
    second = [d for d in deltas(job_id) if d["attempt"] == 2]
    assert second[0]["offset"] == 0 and "".join(d["text"] for d in second) == ANSWER
    assert final.status_code == 200

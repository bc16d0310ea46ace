"""Stopping jobs over real HTTP (``POST /jobs/{id}/cancel``): a queued job never runs, a
started one stops at its next step and its answer is never written."""

from __future__ import annotations

import time
from typing import Any, Iterator

import httpx
import pytest

from ragcore.bootstrap import get_container
from ragcore.domain.jobs import JobStatus
from ragcore.services.ingest import index_files
from tests.support.fake_llm import FakeLLM
from tests.support.api import local_api
from tests.support.paths import SAMPLES
from tests.support.workers import Workers, queue_depth, wait_final

ASK = {"query": "When was Skerry Point Lighthouse first lit?"}


@pytest.fixture
def http(lambda_env: dict[str, str]) -> Iterator[httpx.Client]:
    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index)
    with local_api() as client:
        yield client


def test_a_queued_job_stops_at_once_and_never_reaches_the_llm(
    http: httpx.Client, sqs: Any, queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    job_id = http.post("/chat", json=ASK).json()["job_id"]
    stopped = http.post(f"/jobs/{job_id}/cancel")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert http.post(f"/jobs/{job_id}/cancel").status_code == 200  # asking again is harmless
    with Workers(sqs, queue):
        deadline = time.monotonic() + 30
        while queue_depth(sqs, queue["url"]) and time.monotonic() < deadline:
            time.sleep(0.2)  # its message is delivered, and dropped
    assert queue_depth(sqs, queue["url"]) == 0
    result = http.get(f"/result/{job_id}")
    assert result.status_code == 409 and result.json()["error"]["code"] == "job_stopped"
    assert fake_llm.calls == 0


def test_a_started_job_stops_at_its_next_step_and_its_answer_is_dropped(
    http: httpx.Client, sqs: Any, queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    fake_llm.delay = 2.0
    job_id = http.post("/chat", json=ASK).json()["job_id"]
    with Workers(sqs, queue):
        deadline = time.monotonic() + 30
        while fake_llm.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake_llm.in_flight == 1  # the worker is inside the LLM call
        stopping = http.post(f"/jobs/{job_id}/cancel")
        assert stopping.status_code == 202
        assert stopping.json()["status"] == "started" and stopping.json()["cancel_requested"] is True
        (job,) = wait_final([job_id])
    assert job.status is JobStatus.STOPPED
    assert get_container().job_store.get_result(job_id) is None
    assert http.get(f"/result/{job_id}").status_code == 409
    assert fake_llm.calls == 1


def test_finished_and_unknown_jobs_cannot_be_stopped(
    http: httpx.Client, sqs: Any, queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    job_id = http.post("/chat", json=ASK).json()["job_id"]
    with Workers(sqs, queue):
        wait_final([job_id])
    refused = http.post(f"/jobs/{job_id}/cancel")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "job_not_stoppable"
    assert http.get(f"/result/{job_id}").status_code == 200
    assert http.post(f"/jobs/{'0' * 32}/cancel").status_code == 404
    assert http.post("/jobs/not-a-job/cancel").status_code == 422


def test_document_jobs_cannot_be_stopped(http: httpx.Client) -> None:
    accepted = http.post("/documents", json={"text": "# Note\n\nA short note.", "content_type": "text/markdown"})
    assert accepted.status_code == 202, accepted.text
    refused = http.post(f"/jobs/{accepted.json()['job_id']}/cancel")
    assert refused.status_code == 409 and "delete the document" in refused.json()["error"]["message"]

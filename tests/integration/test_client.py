"""``ragcore.client`` (sync and async) against the real API handler behind the local gateway,
real Valkey and SQS, the worker handler fed by a real poller, and the fake LLM."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Iterator

import pytest

from ragcore.bootstrap import get_container
from ragcore.client import (
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    JobFailed,
    JobStopped,
    NotFound,
    NotReady,
    Unauthorized,
    WaitTimeout,
)
from ragcore.domain.answers import AnswerMethod
from ragcore.domain.jobs import JobStatus
from ragcore.services.auth import create_key
from ragcore.services.ingest import index_files
from tests.support.api import local_api
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.paths import SAMPLES
from tests.support.settings import Configure
from tests.support.workers import Workers

QUESTION = "When was Skerry Point Lighthouse first lit?"
UNKNOWN = "0" * 32
CONTEXT_TOO_LONG = "the question and its passages do not fit the model's context window"


@pytest.fixture
def api_url(lambda_env: dict[str, str]) -> Iterator[str]:
    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index)
    with local_api() as http:
        yield str(http.base_url).rstrip("/")


@pytest.fixture
def workers(sqs: Any, queue: dict[str, str]) -> Iterator[Workers]:
    with Workers(sqs, queue) as running:
        yield running


def test_ask_returns_the_cited_answer_and_reports_each_status(
    api_url: str, workers: Workers, fake_llm: FakeLLM
) -> None:
    heard: list[JobStatus] = []
    with Client(api_url) as client:
        answer = client.ask(QUESTION, top_k=3, on_status=heard.append)
        assert answer.answer == fake_llm.answer and answer.status is JobStatus.FINISHED
        assert len(answer.sources) == 3 and answer.sources[0].n == 1
        assert answer.sources[0].document_id == "skerry-point-lighthouse"
        # The citation check's verdict, typed: the fake's "[1]" holds (passage 1 has the date).
        [sentence] = answer.sentences
        assert sentence.supported and sentence.citations == [1] and not sentence.changed
        assert answer.grounded == 1.0 and answer.method is AnswerMethod.GENERATED and not answer.abstained
        assert "12 October 1874" in answer.sources[0].text
        assert heard[0] is JobStatus.QUEUED and set(heard) <= {JobStatus.QUEUED, JobStatus.STARTED}
        status = client.status(answer.job_id)
        assert status.status is JobStatus.FINISHED and status.attempts == 1 and status.kind == "chat"
        assert client.result(answer.job_id) == answer  # the same document when asked again
    assert fake_llm.calls == 1


def test_the_async_client_asks_and_waits_the_same_way(
    api_url: str, workers: Workers, fake_llm: FakeLLM
) -> None:
    async def run() -> None:
        async with AsyncClient(api_url) as client:
            answers = await asyncio.gather(*(client.ask(QUESTION, top_k=2, mode="dense") for _ in range(3)))
            assert [a.answer for a in answers] == [fake_llm.answer] * 3
            assert len({a.job_id for a in answers}) == 3
            assert (await client.status(answers[0].job_id)).status is JobStatus.FINISHED

    asyncio.run(run())
    assert fake_llm.calls == 3


def test_a_failed_job_raises_job_failed_with_the_workers_reason(
    api_url: str, workers: Workers, fake_llm: FakeLLM
) -> None:
    fake_llm.script = [Reply(status=400, code="context_length_exceeded")]
    with Client(api_url) as client:
        with pytest.raises(JobFailed) as raised:
            client.ask(QUESTION)
        failed = raised.value
        assert (failed.status, failed.code, failed.message) == (409, "job_failed", CONTEXT_TOO_LONG)
        assert client.status(failed.job_id).status is JobStatus.FAILED
        with pytest.raises(JobFailed):
            client.result(failed.job_id)


def test_a_cancelled_job_stops_and_waiting_for_it_raises_job_stopped(api_url: str, fake_llm: FakeLLM) -> None:
    with Client(api_url) as client:  # no workers: the job stays queued until it is stopped
        job_id = client.submit(QUESTION).job_id
        assert isinstance(client.result(job_id), NotReady)
        stopped = client.cancel(job_id)
        assert stopped.status is JobStatus.STOPPED and stopped.error == "stopped on request"
        assert client.cancel(job_id).status is JobStatus.STOPPED  # again: harmless
        with pytest.raises(JobStopped) as raised:
            client.wait(job_id, timeout=5)
        assert raised.value.job_id == job_id
    assert fake_llm.calls == 0


def test_waiting_gives_up_after_the_timeout_and_the_job_runs_on(api_url: str, fake_llm: FakeLLM) -> None:
    with Client(api_url) as client:
        job_id = client.submit(QUESTION).job_id
        started = time.monotonic()
        with pytest.raises(WaitTimeout) as raised:
            client.wait(job_id, timeout=1.5)
        assert 1.5 <= time.monotonic() - started < 3
        assert raised.value.status is JobStatus.QUEUED and raised.value.job_id == job_id
        assert client.status(job_id).status is JobStatus.QUEUED


def test_the_async_client_times_out_too(api_url: str) -> None:
    async def run() -> None:
        async with AsyncClient(api_url) as client:
            job_id = (await client.submit(QUESTION)).job_id
            with pytest.raises(WaitTimeout):
                await client.wait(job_id, timeout=1)

    asyncio.run(run())


def test_unknown_jobs_are_not_found_and_bad_requests_name_their_fields(api_url: str) -> None:
    with Client(api_url) as client:
        for operation in (client.status, client.result, client.cancel, client.wait):
            with pytest.raises(NotFound) as raised:
                operation(UNKNOWN)
            assert raised.value.status == 404 and raised.value.code == "job_not_found"
        with pytest.raises(BadRequest) as invalid:
            client.submit(QUESTION, top_k=99)
        assert invalid.value.status == 422 and [d.field for d in invalid.value.details] == ["top_k"]
        with pytest.raises(BadRequest):
            client.status("not-a-job")

    async def run() -> None:
        async with AsyncClient(api_url) as client:
            with pytest.raises(NotFound):
                await client.result(UNKNOWN)

    asyncio.run(run())


def test_a_finished_job_cannot_be_cancelled(api_url: str, workers: Workers, fake_llm: FakeLLM) -> None:
    with Client(api_url) as client:
        answer = client.ask(QUESTION)
        with pytest.raises(Conflict) as refused:
            client.cancel(answer.job_id)
        assert refused.value.code == "job_not_stoppable"


def test_documents_go_in_inline_and_through_an_upload(api_url: str) -> None:
    with Client(api_url) as client:
        inline = client.add_document("# Note\n\nA short note.", document_id="note", collection="notes")
        uploaded = client.upload_document(b"# Big\n\nA file sent to S3.", "big.md", collection="notes")
        assert (inline.document_id, inline.collection, inline.status) == ("note", "notes", JobStatus.QUEUED)
        assert client.status(uploaded.job_id).kind == "ingest"


def test_with_keys_on_a_bad_key_is_unauthorized_and_a_good_one_gets_in(
    api_url: str, monkeypatch: pytest.MonkeyPatch, configure: Configure
) -> None:
    configure(auth_disabled=False)
    monkeypatch.delenv("RAGCORE_API_KEY", raising=False)
    container = get_container()
    good = create_key(container.key_store, container.api_key_pepper, "client-test")[1]
    for key in ("rk_nope_nope", None):
        with Client(api_url, api_key=key) as client, pytest.raises(Unauthorized) as raised:
            client.submit(QUESTION)
        assert raised.value.status == 401 and raised.value.code == "unauthorized"
        assert "rk_nope" not in str(raised.value)
    monkeypatch.setenv("RAGCORE_API_KEY", good)
    with Client(api_url) as client:
        assert client.submit(QUESTION).status is JobStatus.QUEUED

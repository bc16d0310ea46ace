"""Fault injection with real parts: Valkey, LocalStack SQS (with a dead-letter queue), the
embedded Qdrant engine and the real embedder, the worker handler fed by SQS pollers as Lambda
would, and an OpenAI-compatible endpoint over HTTP that fails, throttles or hangs on cue.

Each case checks the end state of every job and how many times the LLM was called: a job
is answered once however its message travels, and none is lost or left running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from typing import Any, Iterator

import pytest

from ragcore.adapters.sqs_dead_letters import SqsDeadLetters
from ragcore.bootstrap import get_container
from ragcore.config import Settings
from ragcore.domain.jobs import JobStatus, new_job
from ragcore.domain.lifecycle import OVERDUE_ERROR
from ragcore.domain.messages import ChatRequest, JobMessage
from ragcore.local.processes import ValkeyService
from ragcore.services.ingest import index_files
from ragcore.services.jobs import current_job, settle_overdue
from ragcore.services.redrive import redrive
from ragcore.services.retries import RedeliveryPolicy
from ragcore.services.submit import submit_chat
from tests.support.api import local_api
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.paths import ROOT, SAMPLES, free_port
from tests.support.settings import Configure
from tests.support.workers import Workers, make_queue, queue_depth, wait_final

MAX_RECEIVE = 4


@pytest.fixture
def jobs_queue(sqs: Any) -> dict[str, str]:
    return make_queue(sqs, visibility=3, max_receive=MAX_RECEIVE)


@pytest.fixture
def env(lambda_env: dict[str, str], jobs_queue: dict[str, str], configure: Configure) -> dict[str, str]:
    """The worker as deployed, with short clocks: a 3 s visibility timeout, a lease shorter
    than that, a 1.5 s LLM timeout, and redeliveries 1 s then 3 s after a transient failure
    (the tests of the default 10 s, 30 s, ... schedule set it back)."""
    overrides = {
        "JOBS_QUEUE_URL": jobs_queue["url"],
        "JOB_MAX_ATTEMPTS": str(MAX_RECEIVE),
        "JOB_LEASE_SECONDS": "2",
        "LLM_TIMEOUT_SECONDS": "1.5",
        "RETRY_TRIES": "3",
        "REDELIVERY_INITIAL_SECONDS": "1",
        "REDELIVERY_MAX_SECONDS": "3",
    }
    container = configure(**{name.lower(): value for name, value in overrides.items()})
    index_files([SAMPLES], "default", container.embedder, container.vector_index)
    return {**lambda_env, **overrides}


def submit(query: str, deadline_seconds: float = 600) -> str:
    container = get_container()
    return submit_chat(ChatRequest(query=query), container.job_store, container.conversations, container.queue,
                       deadline_seconds).job_id


def calls_for(fake_llm: FakeLLM, query: str) -> int:
    return sum(query in question for question in fake_llm.questions())


@pytest.mark.usefixtures("env")
def test_llm_500_then_200_is_retried_within_the_invocation(
    sqs: Any, jobs_queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    fake_llm.script = [Reply(status=500)]
    job_id = submit("When was Skerry Point Lighthouse first lit?")
    with Workers(sqs, jobs_queue):
        (job,) = wait_final([job_id])
    assert job.status is JobStatus.FINISHED and job.attempts == 1
    assert fake_llm.calls == 2


@pytest.mark.usefixtures("env")
def test_llm_429_waits_for_retry_after(sqs: Any, jobs_queue: dict[str, str], fake_llm: FakeLLM) -> None:
    fake_llm.script = [Reply(status=429, headers={"Retry-After": "1"})]
    job_id = submit("When was Skerry Point Lighthouse first lit?")
    with Workers(sqs, jobs_queue):
        (job,) = wait_final([job_id])
    assert job.status is JobStatus.FINISHED and job.attempts == 1
    assert fake_llm.calls == 2
    assert fake_llm.call_times[1] - fake_llm.call_times[0] >= 1.0


@pytest.mark.usefixtures("env")
def test_llm_hanging_past_the_timeout_is_abandoned_and_retried(
    sqs: Any, jobs_queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    fake_llm.script = [Reply(delay=6)]  # the worker gives up after LLM_TIMEOUT_SECONDS=1.5
    job_id = submit("When was Skerry Point Lighthouse first lit?")
    started = time.monotonic()
    with Workers(sqs, jobs_queue):
        (job,) = wait_final([job_id])
    assert time.monotonic() - started < 6  # not held up by the hung call
    assert job.status is JobStatus.FINISHED and job.attempts == 1
    assert fake_llm.calls == 2


@pytest.fixture
def slow_queue(env: dict[str, str], sqs: Any, configure: Configure) -> dict[str, str]:
    """A jobs queue whose own visibility timeout (300 s) no test here waits out: a message
    that comes back sooner came back because the worker set its visibility."""
    queue = make_queue(sqs, visibility=300, max_receive=MAX_RECEIVE)
    configure(jobs_queue_url=queue["url"])
    return queue


def test_an_llm_down_for_30_seconds_delays_the_answer_says_why_and_then_finishes(
    sqs: Any, slow_queue: dict[str, str], fake_llm: FakeLLM, configure: Configure
) -> None:
    """The default redelivery schedule (10 s, then 30 s): the third delivery, about 41 s in,
    finds the LLM back. Meanwhile the API says the job is queued for a retry, why, and when."""
    configure(**{name: Settings.model_fields[name].default
                 for name in ("redelivery_initial_seconds", "redelivery_max_seconds")})
    back_at = time.monotonic() + 30
    fake_llm.reply_for = lambda body: Reply(status=500) if time.monotonic() < back_at else None
    started = time.monotonic()
    job_id = submit("When was Skerry Point Lighthouse first lit?")
    with Workers(sqs, slow_queue), local_api() as api:
        _wait_for(lambda: api.get(f"/job-status/{job_id}").json()["retry_at"] is not None, 10, "a retry")
        seen_at = time.time()
        status = api.get(f"/job-status/{job_id}").json()
        assert (status["status"], status["attempts"], status["error"]) == ("queued", 1, None)
        assert status["last_error"] == "llm is unavailable: HTTP 500"
        retry_in = datetime.fromisoformat(status["retry_at"]).timestamp() - seen_at
        assert 8 < retry_in <= 10
        waiting = api.get(f"/result/{job_id}")
        assert waiting.status_code == 202 and waiting.json()["retry_at"] == status["retry_at"]
        assert waiting.json()["message"] == (
            f"attempt 1 failed (llm is unavailable: HTTP 500); attempt 2 is due at {status['retry_at']}"
        )
        (job,) = wait_final([job_id], timeout=90)
    elapsed = time.monotonic() - started
    assert job.status is JobStatus.FINISHED and job.attempts == 3 and job.error is None
    assert 40 <= elapsed < 60  # 10 s + 30 s of waiting, not the queue's 300 s
    assert queue_depth(sqs, slow_queue["url"]) == 0 and queue_depth(sqs, slow_queue["dlq_url"]) == 0


def test_an_llm_that_stays_down_fails_the_job_on_schedule_and_dead_letters_it_at_once(
    sqs: Any, slow_queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    """This suite's schedule: 1 s, 3 s, 3 s between the four deliveries. The template's own
    (10, 30, 90, 120 s, a 60 s function: under 10 minutes) is checked in
    tests/unit/local/test_template.py and measured by bench/outage_timeline.py."""
    fake_llm.reply_for = lambda body: Reply(status=500)
    started = time.monotonic()
    job_id = submit("When was Skerry Point Lighthouse first lit?")
    with Workers(sqs, slow_queue):
        (job,) = wait_final([job_id])
        elapsed = time.monotonic() - started
        # The last delivery's message is visible again at once, so SQS moves it now.
        _wait_for(lambda: queue_depth(sqs, slow_queue["dlq_url"]) == 1, 10, "the message in the DLQ")
    settings = get_container().settings
    policy = RedeliveryPolicy.from_settings(settings)
    waits = sum(policy.delay(n) for n in range(1, MAX_RECEIVE))
    # A 500 answers at once: each delivery is three quick tries, well inside 2 s.
    assert waits <= elapsed <= policy.time_to_verdict(MAX_RECEIVE, invocation_seconds=2)
    assert job.status is JobStatus.FAILED and job.attempts == MAX_RECEIVE
    assert job.error == f"gave up after {MAX_RECEIVE} deliveries: llm is unavailable: HTTP 500"
    assert job.last_error == "llm is unavailable: HTTP 500" and job.retry_at is None
    assert fake_llm.calls == MAX_RECEIVE * 3
    assert queue_depth(sqs, slow_queue["url"]) == 0


@pytest.mark.usefixtures("env")
def test_duplicate_and_concurrent_deliveries_answer_once(
    sqs: Any, jobs_queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    fake_llm.delay = 0.5  # the copies arrive while the first runs (well inside its 2 s lease)
    job_id = submit("When was Skerry Point Lighthouse first lit?")
    body = JobMessage(job_id=job_id).model_dump_json()
    for _ in range(3):  # the same message three more times, as an at-least-once queue may
        sqs.send_message(QueueUrl=jobs_queue["url"], MessageBody=body)
    with Workers(sqs, jobs_queue, instances=3, batch_size=1):  # three instances at once
        (job,) = wait_final([job_id])
        deadline = time.monotonic() + 30
        while queue_depth(sqs, jobs_queue["url"]) and time.monotonic() < deadline:
            time.sleep(0.5)  # the copies come back after the visibility timeout and are dropped
    assert job.status is JobStatus.FINISHED and job.attempts == 1
    assert fake_llm.calls == 1
    assert get_container().job_store.get_result(job_id)["answer"] == fake_llm.answer
    assert queue_depth(sqs, jobs_queue["url"]) == 0
    assert queue_depth(sqs, jobs_queue["dlq_url"]) == 0


@pytest.mark.usefixtures("env")
def test_one_failing_record_in_a_batch_is_the_only_one_redelivered(
    sqs: Any, jobs_queue: dict[str, str], fake_llm: FakeLLM, configure: Configure
) -> None:
    configure(retry_tries=1)  # no retry inside the invocation: straight back to SQS
    bad = "What is the keeper's dog called? (flaky)"
    failures = iter([Reply(status=503)])
    fake_llm.reply_for = lambda body: next(failures, None) if bad in body["messages"][-1]["content"] else None
    queries = ["When was Skerry Point Lighthouse first lit?", bad, "How do honey bees communicate?"]
    job_ids = [submit(q) for q in queries]
    with Workers(sqs, jobs_queue, batch_size=5):
        jobs = wait_final(job_ids)
    assert [j.status for j in jobs] == [JobStatus.FINISHED] * 3
    assert [j.attempts for j in jobs] == [1, 2, 1]
    assert [calls_for(fake_llm, q) for q in queries] == [1, 2, 1]


@pytest.mark.usefixtures("env")
def test_a_poison_message_ends_in_the_dlq_its_job_failed_and_a_redrive_runs_it(
    sqs: Any, jobs_queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    poison = "Which year did the lighthouse close? (poison)"
    fake_llm.reply_for = lambda body: Reply(status=503) if poison in body["messages"][-1]["content"] else None
    job_id = submit(poison)
    sqs.send_message(QueueUrl=jobs_queue["url"], MessageBody="{not a job message")
    with Workers(sqs, jobs_queue):
        (job,) = wait_final([job_id])
        deadline = time.monotonic() + 30
        while queue_depth(sqs, jobs_queue["dlq_url"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
    assert job.status is JobStatus.FAILED
    assert job.error == f"gave up after {MAX_RECEIVE} deliveries: llm is unavailable: HTTP 503"
    assert calls_for(fake_llm, poison) == MAX_RECEIVE * 3  # RETRY_TRIES per delivery
    assert queue_depth(sqs, jobs_queue["url"]) == 0
    assert queue_depth(sqs, jobs_queue["dlq_url"]) == 2  # the job's message and the garbage

    fake_llm.reply_for = None  # the cause is fixed; an operator redrives
    container = get_container()
    report = redrive(SqsDeadLetters(sqs, jobs_queue["url"]), container.job_store,
                     container.settings.job_deadline_for)
    assert (report.requeued, report.resent, report.dropped, report.unreadable) == (1, 0, 0, 1)
    with Workers(sqs, jobs_queue):
        (job,) = wait_final([job_id])
    assert job.status is JobStatus.FINISHED and job.attempts == 1 and job.error is None
    assert calls_for(fake_llm, poison) == MAX_RECEIVE * 3 + 1


@pytest.mark.usefixtures("env")
def test_a_job_whose_message_is_never_processed_fails_at_its_deadline(
    sqs: Any, jobs_queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    """A message this worker cannot read (say, from a newer API mid-deploy) is dead-lettered;
    its job fails once its deadline passes, with a reason, instead of staying queued."""
    store = get_container().job_store
    job = new_job("chat", {"query": "q"}, deadline_seconds=4)
    store.create(job)
    sqs.send_message(QueueUrl=jobs_queue["url"], MessageBody=json.dumps({"job_id": job.job_id, "kind": "summary"}))
    with Workers(sqs, jobs_queue):
        deadline = time.monotonic() + 30
        while queue_depth(sqs, jobs_queue["dlq_url"]) < 1 and time.monotonic() < deadline:
            time.sleep(0.5)
    assert queue_depth(sqs, jobs_queue["dlq_url"]) == 1
    time.sleep(max(0.0, job.deadline_at - time.time()) + 0.1)
    failed = settle_overdue(current_job(store, job.job_id), store, get_container().document_store)
    assert failed.status is JobStatus.FAILED and failed.error == OVERDUE_ERROR
    assert fake_llm.calls == 0


def test_a_worker_killed_mid_job_is_replaced_and_the_job_completes(
    env: dict[str, str], jobs_queue: dict[str, str], fake_llm: FakeLLM, tmp_path: Any
) -> None:
    fake_llm.script = [Reply(delay=30)]  # the first worker is inside this call when it dies
    job_id = submit("When was Skerry Point Lighthouse first lit?")
    index = tmp_path / "workers-qdrant"  # the workers' own: this process holds the other open
    first = _worker_process(env, jobs_queue["url"], index)  # its LLM timeout is 30 s: it waits
    try:
        _wait_for(lambda: fake_llm.in_flight == 1, 60, "the first worker to call the LLM")
        first.kill()  # SIGKILL: no cleanup, as when Lambda's sandbox dies
        first.wait(10)
        assert get_container().job_store.get(job_id).status is JobStatus.STARTED
        second = _worker_process(env, jobs_queue["url"], index)
        try:
            (job,) = wait_final([job_id], timeout=60)
        finally:
            second.kill()
            second.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert job.status is JobStatus.FINISHED
    assert job.attempts == 2  # re-claimed once the dead worker's lease ran out
    assert fake_llm.calls == 2  # the killed call, and the one that answered


def _worker_process(function_env: dict[str, str], queue_url: str, qdrant_path: Any) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.worker_process", queue_url],
        cwd=ROOT,
        env={**os.environ, **function_env, "POWERTOOLS_LOG_LEVEL": "WARNING", "QDRANT_PATH": str(qdrant_path),
             "LLM_TIMEOUT_SECONDS": "30"},
        stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def own_valkey(tmp_path: Any, configure: Configure, env: dict[str, str]) -> Iterator[ValkeyService]:
    """A Valkey of this test's own, to stop and start without disturbing the others."""
    service = ValkeyService("127.0.0.1", free_port(), tmp_path / "valkey")
    service.start()
    configure(valkey_url=service.url, dependency_timeout_seconds=0.5)
    try:
        yield service
    finally:
        service.stop()


def test_valkey_restarting_while_the_api_takes_requests(
    own_valkey: ValkeyService, sqs: Any, jobs_queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    ask = {"query": "When was Skerry Point Lighthouse first lit?"}
    with local_api() as http:
        before = [http.post("/chat", json=ask) for _ in range(3)]
        assert [r.status_code for r in before] == [202] * 3
        accepted = [r.json()["job_id"] for r in before]

        own_valkey.stop()
        for response in (http.post("/chat", json=ask), http.get(f"/job-status/{accepted[0]}")):
            assert response.status_code == 503 and response.headers["Retry-After"]
            assert response.json()["error"]["code"] == "dependency_unavailable"
        health = http.get("/")
        assert health.status_code == 503 and health.json()["checks"]["valkey"]["status"] == "unavailable"
        with Workers(sqs, jobs_queue):
            time.sleep(2)  # deliveries while Valkey is down fail and go back to the queue
            assert fake_llm.calls == 0

            own_valkey.start()  # same port and data directory: the AOF brings the jobs back
            after = http.post("/chat", json=ask)
            assert after.status_code == 202
            accepted.append(after.json()["job_id"])
            jobs = wait_final(accepted)
    assert [j.status for j in jobs] == [JobStatus.FINISHED] * 4
    assert fake_llm.calls == 4
    assert queue_depth(sqs, jobs_queue["dlq_url"]) == 0

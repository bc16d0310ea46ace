"""The offline stack's own observability: ``GET /metrics`` on the local gateway in Prometheus
text format (the same catalogue the Lambda functions emit as EMF), and ``ragcore stats``
run as a command against the running stack. Real Valkey, LocalStack SQS, the embedded
Qdrant, the worker pollers; the fake LLM over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ragcore.bootstrap import aws_client
from ragcore.cli.ingest import ingest_through_api
from ragcore.local.attach import local_queue_name
from ragcore.local.stack import DevStack
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.paths import ROOT, SAMPLES
from tests.support.stack import fake_llm_stack

FAILING_QUESTION = "Please fail this one"


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as llm:
        llm.reply_for = lambda body: (
            Reply(status=400, code="context_length_exceeded") if FAILING_QUESTION in json.dumps(body) else None
        )
        yield llm


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, fake_llm: FakeLLM) -> Iterator[DevStack]:
    with fake_llm_stack(fake_llm, tmp_path_factory.mktemp("obs-stack"), "fake-model",
                        visibility_timeout=5) as running:
        yield running


def samples(http: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text) for s in family.samples
    }


def wait_final(http: httpx.Client, job_id: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = http.get(f"/job-status/{job_id}").json()["status"]
        if status not in ("queued", "started"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {status}")


@pytest.fixture(scope="module")
def ran(stack: DevStack) -> dict[str, Any]:
    """Before and after: one document ingested, one question answered, one failed."""
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        before = samples(http)
        report = ingest_through_api([SAMPLES / "skerry-point-lighthouse.md"], "default", stack.api_url,
                                    show_progress=False)
        assert report.outcomes == {"created": 1}, report
        answered = http.post("/chat", json={"query": "When was Skerry Point Lighthouse first lit?", "top_k": 3})
        failed = http.post("/chat", json={"query": FAILING_QUESTION})
        assert answered.status_code == failed.status_code == 202
        assert wait_final(http, answered.json()["job_id"]) == "finished"
        assert wait_final(http, failed.json()["job_id"]) == "failed"
        result = http.get(f"/result/{answered.json()['job_id']}").json()
        return {"before": before, "after": samples(http), "result": result}


def test_metrics_counts_the_jobs_it_ran(ran: dict[str, Any]) -> None:
    before, after = ran["before"], ran["after"]

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("ragcore_jobs_submitted_total", kind="chat") == 2
    assert delta("ragcore_jobs_submitted_total", kind="ingest") == 1
    assert delta("ragcore_jobs_finished_total", kind="chat") == 1
    assert delta("ragcore_jobs_finished_total", kind="ingest") == 1
    assert delta("ragcore_jobs_failed_total", kind="chat") == 1
    assert delta("ragcore_queue_wait_milliseconds_count", kind="chat") == 2  # both were started
    assert delta("ragcore_total_latency_milliseconds_count") == 1  # only the answer has timings
    total_ms = ran["result"]["timings_ms"]["total_ms"]
    assert delta("ragcore_total_latency_milliseconds_sum") == pytest.approx(total_ms)
    assert delta("ragcore_llm_latency_milliseconds_count", model="fake-model") == 1
    assert delta("ragcore_llm_tokens_in_total", model="fake-model") == 50
    assert delta("ragcore_llm_tokens_out_total", model="fake-model") == 10


def test_metrics_is_answered_by_the_runner_not_the_api(stack: DevStack) -> None:
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        assert http.post("/metrics").status_code == 403  # no such API route: the gateway's answer
        assert "ragcore_jobs_submitted" in http.get("/metrics").text


def test_ragcore_stats_prints_queue_depths_jobs_by_state_and_percentiles(stack: DevStack, ran: dict[str, Any]) -> None:
    sqs = aws_client(stack.settings, "sqs")
    dlq = sqs.get_queue_url(QueueName=f"{local_queue_name('JobsQueue')}-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="a dead letter")
    env = {**os.environ, "DEV_HOST": "127.0.0.1", "DEV_VALKEY_PORT": str(stack.options.valkey_port),
           "DEV_LOCALSTACK_PORT": str(stack.options.localstack_port)}
    command = [str(ROOT / ".venv/bin/ragcore"), "stats"]
    printed = subprocess.run([*command, "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr
    stats = json.loads(printed.stdout)
    assert stats["jobs"] == {
        "chat": {"queued": 0, "started": 0, "finished": 1, "failed": 1, "stopped": 0},
        "ingest": {"queued": 0, "started": 0, "finished": 1, "failed": 0, "stopped": 0},
    }
    assert stats["queues"]["jobs-dlq"]["visible"] == 1
    assert set(stats["queues"]) == {"jobs", "jobs-dlq", "ingest", "ingest-dlq"}
    assert all(stats["queues"][name]["visible"] == 0 for name in ("jobs", "ingest", "ingest-dlq"))
    latency = stats["latency_ms"]
    assert latency["queue_wait_ms"]["count"] == 3  # every started job: two chats, one ingest
    total_ms = ran["result"]["timings_ms"]["total_ms"]
    assert latency["total_ms"]["count"] == 1
    assert latency["total_ms"]["p50"] == latency["total_ms"]["p99"] == pytest.approx(total_ms)
    assert latency["llm_ms"]["p95"] == pytest.approx(ran["result"]["timings_ms"]["llm_ms"])

    table = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert table.returncode == 0, table.stderr
    assert "jobs-dlq" in table.stdout and "p95" in table.stdout and "total_ms" in table.stdout

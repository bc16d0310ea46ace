"""What the Lambda handlers emit, on the real parts (Valkey, LocalStack SQS, embedded Qdrant,
the fake LLM over HTTP): CloudWatch EMF documents on stdout for jobs submitted, finished,
failed and stopped with their timings and tokens, and JSON log lines carrying the API
Gateway request id and the job id."""

from __future__ import annotations

import io
import json
from typing import Any, Iterator

import pytest

from ragcore.bootstrap import get_container
from ragcore.domain.jobs import JobStatus
from tests.integration.test_api_handler import call, chat_event, with_job_id
from tests.integration.test_worker_handler import batch, message, queued_job, run
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.logs import captured_json_logs, log_lines
from tests.support.paths import SAMPLES

pytestmark = pytest.mark.usefixtures("lambda_env")


@pytest.fixture(autouse=True)
def ingested_samples(lambda_env: dict[str, str]) -> None:
    from ragcore.services.ingest import index_files

    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index)


def emf_documents(out: str) -> list[dict[str, Any]]:
    """The EMF documents among stdout's lines (each one JSON object with an ``_aws`` key)."""
    documents = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metric_values(documents: list[dict[str, Any]], name: str) -> list[tuple[float, dict[str, str]]]:
    """Every value of ``name``, with the dimensions of the document that carried it."""
    found = []
    for doc in documents:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "ragcore"
        if name in {metric["Name"] for metric in directive["Metrics"]}:
            dimensions = {key: doc[key] for key in directive["Dimensions"][0]}
            found += [(value, dimensions) for value in doc[name]]
    return found


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    with captured_json_logs() as sink:
        yield sink


def test_a_finished_chat_job_emits_its_counts_timings_and_tokens(
    fake_llm: FakeLLM, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    status, body, _ = call(chat_event({"query": "When was Skerry Point Lighthouse first lit?", "top_k": 3}))
    assert status == 202
    submitted = emf_documents(capsys.readouterr().out)
    assert metric_values(submitted, "JobsSubmitted") == [(1.0, {"kind": "chat", "service": "ragcore"})]

    job_id = body["job_id"]
    assert run(batch(message(job_id))) == {"batchItemFailures": []}
    documents = emf_documents(capsys.readouterr().out)
    result = get_container().job_store.get_result(job_id)
    assert metric_values(documents, "JobsFinished") == [(1.0, {"kind": "chat", "service": "ragcore"})]
    ((wait, wait_dimensions),) = metric_values(documents, "QueueWait")
    assert wait_dimensions == {"kind": "chat", "service": "ragcore"} and wait > 0
    job = get_container().job_store.get(job_id)
    assert wait == pytest.approx((job.started_at - job.created_at) * 1000, abs=1)
    plain = {"service": "ragcore"}
    assert metric_values(documents, "RetrievalLatency") == [(result["timings_ms"]["retrieval_ms"], plain)]
    assert metric_values(documents, "TotalLatency") == [(result["timings_ms"]["total_ms"], plain)]
    ((end_to_end, e2e_dimensions),) = metric_values(documents, "EndToEndLatency")  # what the user waited
    assert e2e_dimensions == {"kind": "chat", "service": "ragcore"}
    assert end_to_end == pytest.approx((job.finished_at - job.created_at) * 1000, abs=1)
    assert end_to_end >= wait + result["timings_ms"]["total_ms"] - 1
    by_model = {"model": "fake-model", "service": "ragcore"}
    assert metric_values(documents, "LlmLatency") == [(result["timings_ms"]["llm_ms"], by_model)]
    assert metric_values(documents, "LlmTokensIn") == [(50.0, by_model)]  # the fake LLM's usage
    assert metric_values(documents, "LlmTokensOut") == [(10.0, by_model)]
    assert metric_values(documents, "JobsFailed") == metric_values(documents, "JobsStopped") == []
    for doc in documents:  # never a job id as a dimension, nor anywhere in a metric document
        assert job_id not in json.dumps(doc)

    run(batch(message(job_id)))  # a redelivery: nothing counted twice
    assert metric_values(emf_documents(capsys.readouterr().out), "JobsFinished") == []


def test_failed_and_stopped_jobs_are_counted(fake_llm: FakeLLM, capsys: pytest.CaptureFixture[str]) -> None:
    fake_llm.script = [Reply(status=400, code="context_length_exceeded")]
    failing = queued_job()
    run(batch(message(failing)))
    assert get_container().job_store.get(failing).status is JobStatus.FAILED
    _, body, _ = call(chat_event({"query": "Who built the lighthouse?"}))
    status, stopped, _ = call(with_job_id("api_job_status.json", body["job_id"]) | {
        "httpMethod": "POST", "resource": "/jobs/{job_id}/cancel",
        "path": f"/jobs/{body['job_id']}/cancel"})
    assert status == 200 and stopped["status"] == "stopped"
    documents = emf_documents(capsys.readouterr().out)
    assert metric_values(documents, "JobsFailed") == [(1.0, {"kind": "chat", "service": "ragcore"})]
    assert metric_values(documents, "JobsStopped") == [(1.0, {"kind": "chat", "service": "ragcore"})]
    assert metric_values(documents, "JobsFinished") == []


def test_a_job_stopped_after_its_llm_call_still_counts_the_tokens_it_spent(
    fake_llm: FakeLLM, capsys: pytest.CaptureFixture[str]
) -> None:
    _, body, _ = call(chat_event({"query": "When was Skerry Point Lighthouse first lit?"}))
    job_id = body["job_id"]

    def cancel_while_answering(request: dict) -> None:
        get_container().job_store.request_cancel(job_id)  # the job is started: flagged
        return None  # then answer as usual

    fake_llm.reply_for = cancel_while_answering
    capsys.readouterr()
    run(batch(message(job_id)))
    assert get_container().job_store.get(job_id).status is JobStatus.STOPPED
    assert get_container().job_store.get_result(job_id) is None  # the answer was dropped...
    documents = emf_documents(capsys.readouterr().out)
    by_model = {"model": "fake-model", "service": "ragcore"}
    assert metric_values(documents, "LlmTokensIn") == [(50.0, by_model)]  # ...its cost was not
    assert metric_values(documents, "LlmTokensOut") == [(10.0, by_model)]
    assert metric_values(documents, "JobsStopped") == [(1.0, {"kind": "chat", "service": "ragcore"})]
    assert metric_values(documents, "JobsFinished") == metric_values(documents, "EndToEndLatency") == []


def test_log_lines_carry_the_request_id_and_the_job_id(fake_llm: FakeLLM, json_logs: io.StringIO) -> None:
    event = chat_event({"query": "When was Skerry Point Lighthouse first lit?"})
    request_id = event["requestContext"]["requestId"]
    status, body, _ = call(event)
    assert status == 202
    job_id = body["job_id"]
    run(batch(message(job_id), "not json at all"))

    records = log_lines(json_logs)
    (request,) = [r for r in records if r["message"] == "request"]
    assert request["service"] == "ragcore-api" and request["correlation_id"] == request_id
    assert (request["method"], request["route"], request["status"], request["job_id"]) == ("POST", "/chat", 202, job_id)
    assert "cold_start" in request and request["function_name"] == "ApiFunction"

    (processed,) = [r for r in records if r["message"] == "job processed"]
    assert processed["service"] == "ragcore-worker"
    assert processed["job_id"] == processed["correlation_id"] == job_id
    assert (processed["kind"], processed["outcome"], processed["message_id"]) == ("chat", "finished", "message-0")
    assert "cold_start" in processed and processed["duration_ms"] > 0
    # The other record of the batch logs under its own message id, without this job's keys.
    (garbage,) = [r for r in records if r["message"].startswith("message is not a job message")]
    assert garbage["message_id"] == "message-1" and "job_id" not in garbage
    for record in records:  # what the API logs of a request: never its body, headers or keys
        assert "Skerry Point" not in json.dumps(record)
        assert "headers" not in record and "body" not in record

"""The whole path, offline: real HTTP -> API handler -> Valkey -> SQS (LocalStack) -> worker
handler -> embedded Qdrant -> local LLM (SmolLM2 on llama.cpp) -> result."""

from __future__ import annotations

import json
import re
import time
from typing import Any, Iterator

import boto3
import httpx
import pytest

from ragcore.cli.ingest import ingest_through_api
from ragcore.local.stack import DevStack
from tests.support.paths import SAMPLES
from tests.support.stack import free_stack_options
from tests.support.documents import make_pdf

QUESTION = "When was Skerry Point Lighthouse first lit?"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    options = free_stack_options(tmp_path_factory.mktemp("stack"), llm_threads=2, visibility_timeout=5)
    with DevStack(options) as running:
        report = ingest_through_api([SAMPLES], "default", running.api_url, show_progress=False)
        assert report.outcomes == {"created": 5}, report
        yield running


@pytest.fixture(scope="module")
def http(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client


def wait_for_final(http: httpx.Client, job_id: str, timeout: float = 180) -> tuple[dict[str, Any], set[str]]:
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = http.get(f"/job-status/{job_id}").json()
        seen.add(status["status"])
        if status["status"] not in ("queued", "started"):
            return status, seen
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not final after {timeout}s: {status}")


@pytest.fixture(scope="module")
def answered(http: httpx.Client) -> dict[str, Any]:
    accepted = http.post("/chat", json={"query": QUESTION, "top_k": 3})
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    assert http.get(accepted.json()["links"]["status"]).status_code == 200  # links work as given
    status, seen = wait_for_final(http, job_id)
    assert status["status"] == "finished", status
    assert seen <= {"queued", "started", "finished"}
    return {"job_id": job_id, "status": status, "result": http.get(f"/result/{job_id}").json()}


def test_health_and_openapi_over_http(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    spec = http.get("/openapi.json").json()
    assert {"/chat", "/job-status/{job_id}", "/result/{job_id}"} <= set(spec["paths"])


def test_answer_states_the_fact_and_cites_the_right_document(answered: dict[str, Any]) -> None:
    result = answered["result"]
    assert "1874" in result["answer"]
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", result["answer"])}
    assert cited, f"no [n] citation in {result['answer']!r}"
    by_number = {s["n"]: s for s in result["sources"]}
    assert all(by_number[n]["document_id"] == "skerry-point-lighthouse" for n in cited)
    assert result["sources"][0]["document_id"] == "skerry-point-lighthouse"
    assert "12 October 1874" in result["sources"][0]["snippet"]
    assert result["model"] == "smollm2-135m-instruct"
    assert result["usage"]["total_tokens"] > 0
    # The bundled model only rewords the sentence the service chose (ANSWER_MODE unset offline).
    assert result["method"] in {"quoted", "rephrased"} and result["grounded"] == 1.0
    assert all(s["supported"] and s["citations"] for s in result["sentences"])
    assert result["timings_ms"]["total_ms"] >= result["timings_ms"]["llm_ms"] > 0


def test_status_document_of_a_finished_job(answered: dict[str, Any]) -> None:
    status = answered["status"]
    assert status["attempts"] == 1 and status["error"] is None
    assert status["created_at"] <= status["started_at"] <= status["finished_at"]


def test_redelivered_message_leaves_the_finished_job_alone(
    stack: DevStack, http: httpx.Client, answered: dict[str, Any]
) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=stack.env["AWS_ENDPOINT_URL"],
                       aws_access_key_id="test", aws_secret_access_key="test")
    sqs.send_message(QueueUrl=stack.queue_urls["JobsQueue"], MessageBody=json.dumps({"job_id": answered["job_id"], "kind": "chat"}))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        attrs = sqs.get_queue_attributes(
            QueueUrl=stack.queue_urls["JobsQueue"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the redelivered message was not consumed")
    assert http.get(f"/job-status/{answered['job_id']}").json() == answered["status"]
    assert http.get(f"/result/{answered['job_id']}").json() == answered["result"]


def test_client_mistakes_over_http(http: httpx.Client) -> None:
    assert http.get("/job-status/" + "0" * 32).status_code == 404
    bad = http.post("/chat", json={"query": " "})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "query"
    assert http.post("/chat", content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
    assert http.get("/nowhere").status_code == 403  # as API Gateway answers an unknown route


def test_an_uploaded_document_is_answerable_through_chat(http: httpx.Client) -> None:
    pdf = make_pdf("Marrow Hill Observatory", ["The Marrow Hill telescope has a mirror 2.4 metres wide."])
    accepted = http.post("/documents", files={"file": ("marrow-hill.pdf", pdf, "application/pdf")},
                         data={"document_id": "marrow-hill"})
    assert accepted.status_code == 202, accepted.text
    status, _ = wait_for_final(http, accepted.json()["job_id"])
    assert status["status"] == "finished", status
    assert http.get("/documents/marrow-hill").json()["status"] == "ready"

    asked = http.post("/chat", json={"query": "How wide is the mirror of the Marrow Hill telescope?", "top_k": 3})
    status, _ = wait_for_final(http, asked.json()["job_id"])
    assert status["status"] == "finished", status
    result = http.get(f"/result/{asked.json()['job_id']}").json()
    assert result["sources"][0]["document_id"] == "marrow-hill"
    assert "2.4" in result["answer"], result["answer"]

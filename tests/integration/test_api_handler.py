"""The API Lambda handler, invoked with the events/ files, against real Valkey and SQS."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ragcore.bootstrap import get_container
from ragcore.domain.jobs import JobStatus
from ragcore.local.handlers import invoke, load_handler
from ragcore.local.template import load_template
from tests.support.paths import ROOT, load_event
from tests.support.settings import Configure

pytestmark = pytest.mark.usefixtures("lambda_env")


API = load_template(ROOT / "template.yaml").api


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    # As Lambda calls it: on a thread with an event loop (a worker test may have closed the
    # main thread's), with the function's own timeout in the context.
    response = invoke(API, load_handler(API), event)
    return response["statusCode"], json.loads(response["body"]), response.get("headers", {})


def chat_event(body: Any, content_type: str = "application/json") -> dict[str, Any]:
    event = copy.deepcopy(load_event("api_chat.json"))
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    event["headers"]["Content-Type"] = content_type
    event["multiValueHeaders"]["Content-Type"] = [content_type]
    return event


def with_job_id(name: str, job_id: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event(name))
    event["path"] = event["path"].rsplit("/", 1)[0] + f"/{job_id}"
    event["pathParameters"] = {"job_id": job_id}
    return event


def test_health_checks_each_dependency() -> None:
    status, body, _ = call(load_event("api_health.json"))
    assert status == 200
    assert body["status"] == "ok"
    assert body["checks"]["valkey"]["status"] == "ok" and body["checks"]["queue"]["status"] == "ok"


def test_every_sample_event_gets_a_json_answer_and_no_server_error() -> None:
    from tests.support.paths import EVENTS

    names = sorted(p.name for p in EVENTS.glob("api_*.json"))
    assert len(names) == 5
    for name in names:
        status, body, _ = call(load_event(name))
        assert status < 500, (name, body)


def test_openapi_document_lists_the_routes() -> None:
    status, body, _ = call(load_event("api_openapi.json"))
    assert status == 200
    assert {"/", "/chat", "/job-status/{job_id}", "/result/{job_id}"} <= set(body["paths"])


def test_openapi_declares_only_the_errors_each_route_can_give() -> None:
    """The fuzz test (test_api_fuzz.py) proves no route gives an undeclared status; this, that
    no route declares one it cannot give, and that Retry-After is declared where it is sent."""
    _, body, _ = call(load_event("api_openapi.json"))
    declared = {(method.upper(), path): {int(s) for s in op["responses"]}
                for path, ops in body["paths"].items() for method, op in ops.items()}
    keyed = {401, 429, 503}
    assert declared[("GET", "/")] == {200, 503}  # public: no key to refuse, no body to read
    # 400, 409, 422: also a malformed Idempotency-Key, one in flight, one reused (rag_api.idempotency)
    assert declared[("POST", "/chat")] == {202, 400, 404, 409, 413, 415, 422} | keyed
    assert declared[("GET", "/job-status/{job_id}")] == {200, 404, 422} | keyed
    assert declared[("POST", "/chat/batch")] == {202, 400, 404, 409, 413, 415, 422} | keyed
    assert declared[("GET", "/jobs")] == {200, 422} | keyed  # an unknown id is listed, never a 404
    assert declared[("POST", "/jobs/{job_id}/cancel")] == {200, 202, 404, 409, 422} | keyed
    assert declared[("GET", "/result/{job_id}")] == {200, 202, 404, 409, 422} | keyed
    assert declared[("GET", "/documents")] == {200, 422} | keyed
    assert declared[("DELETE", "/documents/{document_id}")] == {202, 404, 422} | keyed
    for (method, path), statuses in declared.items():
        operation = body["paths"][path][method.lower()]["responses"]
        for status in statuses & {429, 503} - ({503} if path == "/" else set()):
            assert operation[str(status)]["headers"]["Retry-After"]["required"], (method, path, status)
    assert "Retry-After" in body["paths"]["/result/{job_id}"]["get"]["responses"]["202"]["headers"]


def test_chat_queues_a_job_and_sends_one_message(sqs: Any, queue: dict[str, str]) -> None:
    status, body, _ = call(load_event("api_chat.json"))
    assert status == 202
    assert body["status"] == "queued"
    job_id = body["job_id"]
    # The sample event came through the execute-api URL of stage v1: links carry the stage.
    assert body["links"] == {"status": f"/v1/job-status/{job_id}", "result": f"/v1/result/{job_id}"}
    job = get_container().job_store.get(job_id)
    assert job.status is JobStatus.QUEUED
    assert job.request == {
        "query": "When was Skerry Point Lighthouse first lit?", "top_k": 3, "collection": "default", "mode": "hybrid",
        "filter": None, "conversation_id": body["conversation_id"],  # a new conversation, named in the 202
        "callback_url": None,
    }
    assert get_container().conversations.get(body["conversation_id"]).turns[0].job_id == job_id
    messages = sqs.receive_message(QueueUrl=queue["url"], WaitTimeSeconds=2)["Messages"]
    assert [json.loads(m["Body"])["job_id"] for m in messages] == [job_id]


def test_status_and_result_while_queued() -> None:
    _, accepted, _ = call(load_event("api_chat.json"))
    status, body, _ = call(with_job_id("api_job_status.json", accepted["job_id"]))
    assert status == 200
    assert body["status"] == "queued" and body["attempts"] == 0 and body["error"] is None
    assert body["created_at"].endswith("+00:00") and body["started_at"] is None
    status, body, headers = call(with_job_id("api_result.json", accepted["job_id"]))
    assert status == 202
    assert body["status"] == "queued" and "poll again" in body["message"]
    assert headers["retry-after"] == "2"


def test_result_of_a_finished_job() -> None:
    _, accepted, _ = call(load_event("api_chat.json"))
    store = get_container().job_store
    claim = store.claim(accepted["job_id"], 60)
    answer = {
        "answer": "It was first lit in 1874 [1].",
        "sources": [{"n": 1, "chunk_id": "c", "document_id": "d", "title": "T", "source": "d.md",
                     "score": 0.8, "snippet": "first lit on 12 October 1874"}],
        "model": "m", "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        "timings_ms": {"embed_ms": 1.0, "retrieval_ms": 2.0, "llm_ms": 3.0, "total_ms": 6.0},
    }
    store.finish(accepted["job_id"], claim.attempt, answer)
    status, body, _ = call(with_job_id("api_result.json", accepted["job_id"]))
    assert status == 200
    assert body["status"] == "finished" and body["answer"] == answer["answer"]
    assert body["timings_ms"]["total_ms"] == 6.0
    # A result stored before the citation check (records live 7 days) reads with its defaults.
    assert body["sources"] == [{**answer["sources"][0], "text": ""}]
    assert body["sentences"] == [] and body["grounded"] is None and body["method"] == "generated"


def test_result_of_a_failed_job_is_a_409_with_the_reason() -> None:
    _, accepted, _ = call(load_event("api_chat.json"))
    store = get_container().job_store
    store.fail(accepted["job_id"], store.claim(accepted["job_id"], 60).attempt, "LLM request failed with HTTP 500")
    status, body, _ = call(with_job_id("api_result.json", accepted["job_id"]))
    assert status == 409
    assert body["error"]["code"] == "job_failed" and "HTTP 500" in body["error"]["message"]


@pytest.mark.parametrize("name", ["api_job_status.json", "api_result.json"])
def test_unknown_job_is_404_json(name: str) -> None:
    status, body, _ = call(load_event(name))
    assert status == 404
    assert body["error"]["code"] == "job_not_found"


@pytest.mark.parametrize("bad_id", ["nope", "0123456789ABCDEF0123456789ABCDEF", "1" * 33])
def test_malformed_job_id_is_422(bad_id: str) -> None:
    status, body, _ = call(with_job_id("api_job_status.json", bad_id))
    assert status == 422
    assert body["error"]["details"][0]["field"] == "path.job_id"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"query": "   "}, "query"),
        ({"query": ""}, "query"),
        ({"query": "x" * 2001}, "query"),
        ({"query": "ok", "top_k": 0}, "top_k"),
        ({"query": "ok", "top_k": 21}, "top_k"),
        ({"query": "ok", "collection": "../etc"}, "collection"),
        ({"query": "ok", "colection": "typo"}, "colection"),
        ({"query": "bell\x07"}, "query"),
        ({}, "query"),
    ],
)
def test_invalid_chat_bodies_are_422_and_queue_nothing(
    payload: dict[str, Any], field: str, sqs: Any, queue: dict[str, str]
) -> None:
    status, body, _ = call(chat_event(payload))
    assert status == 422
    assert body["error"]["code"] == "invalid_request"
    assert field in [d["field"] for d in body["error"]["details"]]
    assert "Messages" not in sqs.receive_message(QueueUrl=queue["url"], WaitTimeSeconds=0)


def test_invalid_json_is_400() -> None:
    status, body, _ = call(chat_event('{"query": '))
    assert status == 400
    assert body["error"]["code"] == "invalid_json"


def test_wrong_content_type_is_415() -> None:
    status, body, _ = call(chat_event("query=hello", content_type="application/x-www-form-urlencoded"))
    assert status == 415
    assert body["error"]["code"] == "unsupported_media_type"


def test_valkey_down_is_503_and_nothing_is_enqueued(
    configure: Configure, sqs: Any, queue: dict[str, str]
) -> None:
    configure(valkey_url="redis://127.0.0.1:1/0", dependency_timeout_seconds=0.5)
    status, body, headers = call(load_event("api_chat.json"))
    assert status == 503
    assert body["error"]["code"] == "dependency_unavailable" and "valkey" in body["error"]["message"]
    assert headers["retry-after"] == "5"
    assert "Messages" not in sqs.receive_message(QueueUrl=queue["url"], WaitTimeSeconds=0)
    status, body, _ = call(load_event("api_health.json"))
    assert status == 503 and body["checks"]["valkey"]["status"] == "unavailable"


def test_queue_down_is_503_and_leaves_no_job_record(configure: Configure) -> None:
    store = get_container().job_store
    keys_before = set(store._client.keys("ragcore:job:*"))
    configure(aws_endpoint_url="http://127.0.0.1:1", dependency_timeout_seconds=0.5)
    status, body, _ = call(load_event("api_chat.json"))
    assert status == 503
    assert "queue" in body["error"]["message"]
    assert set(store._client.keys("ragcore:job:*")) == keys_before


def test_openapi_describes_the_checked_citations_of_a_result() -> None:
    _, body, _ = call(load_event("api_openapi.json"))
    schemas = body["components"]["schemas"]
    result = schemas["ResultView"]["properties"]
    assert {"sentences", "grounded", "abstained", "method"} <= set(result)
    assert set(schemas["AnswerSentence"]["required"]) >= {"text", "citations", "model_citations", "support",
                                                          "supported", "changed"}
    assert schemas["AnswerMethod"]["enum"] == ["generated", "rephrased", "quoted", "declined"]
    assert "text" in schemas["Source"]["properties"]

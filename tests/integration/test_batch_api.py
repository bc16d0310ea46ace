"""``POST /chat/batch`` and ``GET /jobs`` over real HTTP (the local gateway), with real Valkey
in cluster mode, LocalStack SQS, the embedded Qdrant and the worker handler on a real poller;
the LLM is the fake one."""

from __future__ import annotations

import time
from typing import Any, Iterator

import httpx
import pytest

from ragcore.bootstrap import get_container
from ragcore.domain.jobs import new_job, new_job_id
from ragcore.services.auth import create_key
from ragcore.services.ingest import index_files
from tests.support.api import local_api
from tests.support.fake_llm import FakeLLM
from tests.support.paths import SAMPLES
from tests.support.settings import Configure
from tests.support.workers import Workers

ASK = {"query": "When was Skerry Point Lighthouse first lit?"}


@pytest.fixture
def http(lambda_env: dict[str, str]) -> Iterator[httpx.Client]:
    with local_api() as client:
        yield client


@pytest.fixture
def keyed(configure: Configure) -> Iterator[httpx.Client]:
    configure(auth_disabled=False)
    with local_api() as client:
        yield client


def bearer(name: str, **limits: Any) -> dict[str, str]:
    container = get_container()
    return {"Authorization": f"Bearer {create_key(container.key_store, container.api_key_pepper, name, **limits)[1]}"}


def statuses(http: httpx.Client, ids: list[str], **request: Any) -> httpx.Response:
    return http.get("/jobs", params={"ids": ",".join(ids)}, **request)


def test_a_hundred_questions_make_a_hundred_jobs_and_all_are_answered(
    http: httpx.Client, sqs: Any, queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index)
    questions = [{"query": f"Question {i}: when was Skerry Point Lighthouse first lit?", "top_k": 2}
                 for i in range(100)]
    accepted = http.post("/chat/batch", json={"questions": questions})
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["queued"] == 100 and body["refused"] == 0
    assert [item["index"] for item in body["items"]] == list(range(100))
    ids = [item["job_id"] for item in body["items"]]
    assert len(set(ids)) == 100
    assert body["items"][7]["links"] == {"status": f"/job-status/{ids[7]}", "result": f"/result/{ids[7]}"}
    assert [container.job_store.get(i).request["query"] for i in ids] == [q["query"] for q in questions]
    with Workers(sqs, queue, instances=2, batch_size=10):
        deadline = time.monotonic() + 180
        while True:
            seen = statuses(http, ids).json()
            if all(job["status"] == "finished" for job in seen["jobs"]) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert seen["not_found"] == [] and [job["job_id"] for job in seen["jobs"]] == ids
    assert {job["status"] for job in seen["jobs"]} == {"finished"}
    for job_id in ids[::25]:
        result = http.get(f"/result/{job_id}").json()
        assert result["answer"] == fake_llm.answer and len(result["sources"]) == 2


def test_each_invalid_question_is_refused_alone(http: httpx.Client) -> None:
    overflowing = {**ASK, "filter": {"metadata": {"year": {"gte": 10**400}}}}  # once a 500 for the whole batch
    questions = [ASK, {"query": ""}, "just text", {**ASK, "top_k": 99}, {**ASK, "typo": 1}, ASK, overflowing]
    accepted = http.post("/chat/batch", json={"questions": questions})
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert (body["queued"], body["refused"]) == (2, 5)
    items = body["items"]
    assert [("job_id" in item) for item in items] == [True, False, False, False, False, True, False]
    assert all(item["status"] == "queued" for item in (items[0], items[5]))
    refused = {item["index"]: item["error"] for item in items if "error" in item}
    assert {e["code"] for e in refused.values()} == {"invalid_request"}
    assert {item["status"] for item in items if "error" in item} == {422}
    assert [d["field"] for d in refused[1]["details"]] == ["questions.1.query"]
    assert [d["field"] for d in refused[2]["details"]] == ["questions.2"]
    assert [d["field"] for d in refused[3]["details"]] == ["questions.3.top_k"]
    assert [d["field"] for d in refused[4]["details"]] == ["questions.4.typo"]
    assert [d["field"] for d in refused[6]["details"]] == ["questions.6.filter.metadata.year.gte"]


def test_a_question_its_conversation_refuses_is_refused_alone(http: httpx.Client) -> None:
    """As POST /chat would refuse it (404 conversation_not_found); the others are queued, each
    in a new conversation. A batch none of whose questions is queued answers as POST /chat
    would its first question (an invalid one first), naming each."""
    unknown = {**ASK, "conversation_id": "f" * 32}
    body = http.post("/chat/batch", json={"questions": [ASK, unknown, ASK]}).json()
    assert body["items"][1]["error"]["code"] == "conversation_not_found" and body["items"][1]["status"] == 404
    queued = [body["items"][0], body["items"][2]]
    assert all(item["conversation_id"] for item in queued)
    assert queued[0]["conversation_id"] != queued[1]["conversation_id"]
    alone = http.post("/chat/batch", json={"questions": [unknown, {"query": ""}]})
    assert alone.status_code == 422, alone.text
    assert [d["field"] for d in alone.json()["error"]["details"]] == ["questions.0", "questions.1.query"]
    only = http.post("/chat/batch", json={"questions": [unknown, unknown]})  # as POST /chat answers it
    assert only.status_code == 404 and only.json()["error"]["code"] == "conversation_not_found"
    assert [d["field"] for d in only.json()["error"]["details"]] == ["questions.0", "questions.1"]


@pytest.mark.parametrize(("body", "field"), [
    ({"questions": [ASK] * 101}, "questions"),
    ({"questions": []}, "questions"),
    ({}, "questions"),
    ({"questions": [ASK], "extra": 1}, "extra"),
    ({"questions": [{"query": ""}, {"top_k": 3}]}, "questions.0.query"),  # none valid: the request's 422
])
def test_a_batch_out_of_bounds_or_wholly_invalid_is_a_422(http: httpx.Client, body: dict, field: str) -> None:
    refused = http.post("/chat/batch", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_request"
    assert refused.json()["error"]["details"][0]["field"] == field


def test_a_batch_that_cannot_be_queued_is_a_503_and_leaves_no_job(configure: Configure, sqs: Any) -> None:
    container = configure(jobs_queue_url=deleted_queue_url(sqs))
    client = container.valkey_client()
    before = len(list(client.scan_iter(match="ragcore:job:*")))
    with local_api() as http:
        refused = http.post("/chat/batch", json={"questions": [ASK] * 12})
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "dependency_unavailable" and refused.headers["Retry-After"]
    assert len(list(client.scan_iter(match="ragcore:job:*"))) == before


def deleted_queue_url(sqs: Any) -> str:
    """A queue's URL after the queue is deleted: SQS refuses every send to it."""
    url = sqs.create_queue(QueueName=f"gone-{new_job_id()[:12]}")["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    return url


def test_the_rate_limit_counts_questions_and_refuses_only_those_past_it(keyed: httpx.Client) -> None:
    """The request's own token pays for the first question; the key's burst of 5 admits four
    more, and the other three are refused in place with when to send them again."""
    key = bearer("batch", rate_per_second=0.05, burst=5)
    answer = keyed.post("/chat/batch", json={"questions": [ASK] * 8}, headers=key)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["queued"], body["refused"]) == (5, 3)
    refused = [item for item in body["items"] if "error" in item]
    assert [item["index"] for item in refused] == [5, 6, 7]
    assert {(item["status"], item["error"]["code"]) for item in refused} == {(429, "rate_limited")}
    assert all(item["error"]["retry_after"] >= 20 for item in refused)  # 3 tokens at 0.05/s: 60 s
    assert int(answer.headers["Retry-After"]) == refused[0]["error"]["retry_after"]
    assert keyed.post("/chat", json=ASK, headers=key).status_code == 429  # the bucket is empty


def test_the_daily_quota_counts_questions(keyed: httpx.Client) -> None:
    key = bearer("quota", daily_quota=4, burst=100)
    body = keyed.post("/chat/batch", json={"questions": [ASK] * 6}, headers=key).json()
    assert [item.get("error", {}).get("code") for item in body["items"]] == [None] * 4 + ["quota_exceeded"] * 2
    assert keyed.post("/chat/batch", json={"questions": [ASK]}, headers=key).status_code == 429


def test_many_statuses_in_one_call_only_the_callers(keyed: httpx.Client) -> None:
    mine, theirs = bearer("mine"), bearer("theirs")
    ids = [item["job_id"] for item in
           keyed.post("/chat/batch", json={"questions": [ASK] * 3}, headers=mine).json()["items"]]
    other = keyed.post("/chat", json=ASK, headers=theirs).json()["job_id"]
    unknown = new_job_id()
    seen = statuses(keyed, [ids[0], unknown, other, ids[2], ids[0], ids[1]], headers=mine)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert [job["job_id"] for job in body["jobs"]] == [ids[0], ids[2], ids[1]]  # as asked, each once
    assert {job["status"] for job in body["jobs"]} == {"queued"} and body["jobs"][0]["kind"] == "chat"
    assert body["not_found"] == [unknown, other]  # another tenant's job is as unknown as no job
    assert statuses(keyed, [other], headers=theirs).json()["not_found"] == []


@pytest.mark.parametrize("ids", [
    "nothex", "0" * 31, "A" * 32, f"{'0' * 32},", ",".join([new_job_id() for _ in range(101)]), "",
])
def test_malformed_ids_are_a_422(http: httpx.Client, ids: str) -> None:
    refused = http.get("/jobs", params={"ids": ids})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"][0]["field"] == "query.ids"


def test_ids_are_required(http: httpx.Client) -> None:
    refused = http.get("/jobs")
    assert refused.status_code == 422 and refused.json()["error"]["details"][0]["field"] == "query.ids"


def test_an_overdue_job_is_settled_as_its_status_route_settles_it(http: httpx.Client) -> None:
    store = get_container().job_store
    overdue = new_job("chat", ASK, 0.05)
    store.create(overdue)
    time.sleep(0.1)
    (job,) = statuses(http, [overdue.job_id]).json()["jobs"]
    assert job["status"] == "failed" and job["error"]
    assert store.get(overdue.job_id).status.value == "failed"

"""Conversations through the real offline stack: the local API Gateway with keys on, Valkey in
cluster mode, SQS on LocalStack (redelivery, visibility changes), the embedded Qdrant with the
sample documents, the worker handler in extractive mode (the offline default). Only the LLM is
a stand-in: it answers every call with the same cited sentence, so a follow-up's rewrite is
never usable and the fallback makes the standalone query."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from typing import Any, Iterator

import boto3
import httpx
import pytest

from ragcore.bootstrap import get_container
from ragcore.client import Client, NotFound
from ragcore.domain.messages import ChatRequest
from ragcore.local.stack import DevStack
from ragcore.services.auth import create_key
from ragcore.services.submit import record_chat
from tests.support.fake_llm import FakeLLM
from tests.support.paths import ROOT, SAMPLES
from tests.support.stack import fake_llm_stack

FIRST = "When was Skerry Point Lighthouse first lit?"
FOLLOW_UP = "When was it automated?"
LLM_SECONDS = 1.5  # each LLM call: the follow-up arrives while the first turn is being answered


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM(delay=LLM_SECONDS) as llm:
        yield llm


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, fake_llm: FakeLLM) -> Iterator[DevStack]:
    settings = {"auth_disabled": False, "answer_mode": "extractive"}
    with fake_llm_stack(fake_llm, tmp_path_factory.mktemp("conversations"), "fake-model", settings,
                        visibility_timeout=5) as running:
        yield running


def _client(stack: DevStack, tenant: str) -> httpx.Client:
    container = get_container()
    _, key = create_key(container.key_store, container.api_key_pepper, tenant, rate_per_second=50, burst=100,
                        tenant=tenant)
    return httpx.Client(base_url=stack.api_url, timeout=30, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture(scope="module")
def http(stack: DevStack) -> Iterator[httpx.Client]:
    with _client(stack, "tenant-a") as client:
        for name in ("skerry-point-lighthouse.md", "sourdough-starter.md"):
            path = SAMPLES / name
            accepted = client.post("/documents", data={"document_id": path.stem},
                                   files={"file": (path.name, path.read_bytes(), "text/markdown")})
            assert accepted.status_code == 202, accepted.text
            assert wait_final(client, accepted.json()["job_id"])["status"] == "finished"
        yield client


@pytest.fixture(scope="module")
def other_tenant(stack: DevStack) -> Iterator[httpx.Client]:
    with _client(stack, "tenant-b") as client:
        yield client


def wait_final(http: httpx.Client, job_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = http.get(f"/job-status/{job_id}").json()
        if status["status"] not in ("queued", "started"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {status['status']} after {timeout}s")


def ask(http: httpx.Client, query: str, conversation_id: str | None = None) -> dict[str, Any]:
    body = {"query": query, "top_k": 3, **({"conversation_id": conversation_id} if conversation_id else {})}
    accepted = http.post("/chat", json=body)
    assert accepted.status_code == 202, accepted.text
    return accepted.json()


@pytest.fixture(scope="module")
def conversation(http: httpx.Client) -> dict[str, Any]:
    """Two turns sent back to back: the follow-up reaches a worker while the first is answered."""
    first = ask(http, FIRST)
    conversation_id = first["conversation_id"]
    second = ask(http, FOLLOW_UP, conversation_id)
    assert second["conversation_id"] == conversation_id and len(conversation_id) == 32
    statuses = [wait_final(http, first["job_id"]), wait_final(http, second["job_id"])]
    assert [s["status"] for s in statuses] == ["finished", "finished"], statuses
    return {"id": conversation_id, "jobs": [first["job_id"], second["job_id"]], "statuses": statuses}


def test_a_follow_up_is_searched_for_with_the_first_turns_subject(
    http: httpx.Client, conversation: dict[str, Any]
) -> None:
    first, second = (http.get(f"/result/{job_id}").json() for job_id in conversation["jobs"])
    assert first["standalone_query"] == FIRST
    assert second["standalone_query"].startswith(FOLLOW_UP) and "Skerry Point Lighthouse" in second["standalone_query"]
    assert second["sources"][0]["document_id"] == "skerry-point-lighthouse"
    assert "1991" in second["answer"] and "1874" in first["answer"]


def test_turns_sent_back_to_back_are_answered_in_order(conversation: dict[str, Any]) -> None:
    first, second = conversation["statuses"]
    assert second["started_at"] >= first["finished_at"]
    assert second["attempts"] == 1  # its waits took no attempt


def test_the_conversation_lists_its_turns(http: httpx.Client, conversation: dict[str, Any]) -> None:
    listed = http.get(f"/conversations/{conversation['id']}")
    assert listed.status_code == 200, listed.text
    turns = listed.json()["turns"]
    assert [t["job_id"] for t in turns] == conversation["jobs"]
    assert [t["question"] for t in turns] == [FIRST, FOLLOW_UP]
    assert [t["status"] for t in turns] == ["finished", "finished"]
    result = http.get(f"/result/{conversation['jobs'][1]}").json()
    assert turns[1]["answer"] == result["answer"] and turns[1]["standalone_query"] == result["standalone_query"]
    assert [s["document_id"] for s in turns[1]["sources"]] == [s["document_id"] for s in result["sources"]]


def test_a_redelivered_job_records_its_turn_once(
    stack: DevStack, http: httpx.Client, fake_llm: FakeLLM, conversation: dict[str, Any]
) -> None:
    before = http.get(f"/conversations/{conversation['id']}").json()
    calls = fake_llm.calls
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=stack.env["AWS_ENDPOINT_URL"],
                       aws_access_key_id="test", aws_secret_access_key="test")
    queue_url = stack.queue_urls["JobsQueue"]
    for job_id in conversation["jobs"]:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"job_id": job_id, "kind": "chat"}))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        if set(attrs.values()) == {"0"}:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the redelivered messages were not consumed")
    assert http.get(f"/conversations/{conversation['id']}").json() == before
    assert fake_llm.calls == calls


def test_another_tenant_cannot_see_use_or_delete_the_conversation(
    other_tenant: httpx.Client, http: httpx.Client, conversation: dict[str, Any]
) -> None:
    path = f"/conversations/{conversation['id']}"
    for response in (other_tenant.get(path), other_tenant.delete(path),
                     other_tenant.post("/chat", json={"query": FOLLOW_UP, "conversation_id": conversation["id"]})):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "conversation_not_found"
    assert len(http.get(path).json()["turns"]) == 2  # untouched


def test_a_malformed_conversation_id_is_a_422(http: httpx.Client) -> None:
    bad = http.post("/chat", json={"query": FOLLOW_UP, "conversation_id": "not-an-id"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "conversation_id"
    assert http.get("/conversations/NOT-AN-ID").status_code == 422
    unknown = http.post("/chat", json={"query": FOLLOW_UP, "conversation_id": "0" * 32})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "conversation_not_found"


def test_a_turn_failed_at_its_deadline_by_a_read_is_shown_failed(http: httpx.Client) -> None:
    """No worker will record it (its worker died on the last delivery; here its message is
    never sent): the read of its job past the deadline fails the job, and the conversation
    shows the turn as the job stands."""
    opened = ask(http, FIRST)
    wait_final(http, opened["job_id"])
    container = get_container()
    request = ChatRequest(query=FOLLOW_UP, top_k=3, conversation_id=opened["conversation_id"])
    job_id = record_chat(request, container.job_store, container.conversations, -1, "tenant-a").job_id
    settled = http.get(f"/job-status/{job_id}").json()
    assert settled["status"] == "failed" and settled["error"]
    turns = http.get(f"/conversations/{opened['conversation_id']}").json()["turns"]
    assert [t["status"] for t in turns] == ["finished", "failed"]
    assert turns[1]["error"] == settled["error"] and turns[1]["finished_at"] == settled["finished_at"]


def test_a_turn_past_its_deadline_is_settled_by_reading_the_conversation(http: httpx.Client) -> None:
    """Nobody reads the job itself: the conversation's read fails it as GET /job-status would,
    so a turn no worker will ever run is never shown queued for ever."""
    opened = ask(http, FIRST)
    wait_final(http, opened["job_id"])
    container = get_container()
    request = ChatRequest(query=FOLLOW_UP, top_k=3, conversation_id=opened["conversation_id"])
    job_id = record_chat(request, container.job_store, container.conversations, -1, "tenant-a").job_id
    turns = http.get(f"/conversations/{opened['conversation_id']}").json()["turns"]
    assert [t["status"] for t in turns] == ["finished", "failed"] and turns[1]["error"]
    assert http.get(f"/job-status/{job_id}").json()["status"] == "failed"


def test_a_deleted_conversation_is_gone_but_its_jobs_stay(http: httpx.Client) -> None:
    opened = ask(http, FIRST)
    wait_final(http, opened["job_id"])
    path = f"/conversations/{opened['conversation_id']}"
    deleted = http.delete(path)
    assert deleted.status_code == 204 and deleted.content == b""
    assert http.get(path).status_code == 404
    assert http.delete(path).status_code == 404
    follow_up = http.post("/chat", json={"query": FOLLOW_UP, "conversation_id": opened["conversation_id"]})
    assert follow_up.status_code == 404
    assert http.get(f"/result/{opened['job_id']}").status_code == 200


def test_ragcore_chat_keeps_the_conversation_with_questions_piped_in(stack: DevStack, http: httpx.Client) -> None:
    key = http.headers["Authorization"].split()[1]
    env = {**os.environ, "RAGCORE_API_KEY": key, "RAGCORE_API_URL": stack.api_url}
    session = subprocess.run([sys.executable, "-m", "ragcore.cli", "chat", "--top-k", "3"], cwd=ROOT, env=env,
                             input=f"{FIRST}\n\n{FOLLOW_UP}\n", capture_output=True, text=True, timeout=180)
    assert session.returncode == 0, session.stderr
    first, second = session.stdout.split(f"\n\n[1] ", 1)[0], session.stdout.split("\n\n", 2)[-1]
    assert "1874" in first
    assert "1991" in second and "[1] Skerry Point Lighthouse" in second
    assert f"(searched for: {FOLLOW_UP} Skerry Point Lighthouse)" in session.stdout
    conversation_id = re.search(r"\(conversation ([0-9a-f]{32})", session.stderr).group(1)  # type: ignore[union-attr]
    turns = http.get(f"/conversations/{conversation_id}").json()["turns"]
    assert [t["question"] for t in turns] == [FIRST, FOLLOW_UP]
    assert session.stderr.count("(conversation ") == 1  # one conversation for the whole session


def test_ragcore_chat_goes_on_after_a_refused_question_and_a_deleted_conversation(
    stack: DevStack, http: httpx.Client
) -> None:
    """The session starts in a conversation deleted before it: the first question is refused
    (404) and the next one opens a new conversation; an over-long question between two good ones
    is refused (422) and the follow-up after it is still a turn of that conversation."""
    deleted = ask(http, FIRST)["conversation_id"]
    assert http.delete(f"/conversations/{deleted}").status_code == 204
    key = http.headers["Authorization"].split()[1]
    env = {**os.environ, "RAGCORE_API_KEY": key, "RAGCORE_API_URL": stack.api_url}
    too_long = "x" * 2001
    session = subprocess.run([sys.executable, "-m", "ragcore.cli", "chat", "--top-k", "3", "--conversation", deleted],
                             cwd=ROOT, env=env, input=f"{FIRST}\n{FIRST}\n{too_long}\n{FOLLOW_UP}\n",
                             capture_output=True, text=True, timeout=180)
    assert session.returncode == 0, session.stderr
    assert "(the API refused the question: 404 conversation_not_found: " in session.stderr
    assert "(a new conversation starts with the next question)" in session.stderr
    refused = next(line for line in session.stderr.splitlines() if "422" in line)
    assert refused.startswith("(the API refused the question: 422 invalid_request: ") and "(query: " in refused
    assert session.stdout.count("[1] Skerry Point Lighthouse") == 2  # two answers, the follow-up's as one:
    assert f"(searched for: {FOLLOW_UP} Skerry Point Lighthouse)" in session.stdout
    (conversation_id,) = re.findall(r"\(conversation ([0-9a-f]{32})", session.stderr)
    assert conversation_id != deleted
    turns = http.get(f"/conversations/{conversation_id}").json()["turns"]
    assert [t["question"] for t in turns] == [FIRST, FOLLOW_UP]


def test_ragcore_chat_ends_at_a_key_the_api_refuses(stack: DevStack) -> None:
    """Every question would be refused alike: exit 3 at the first, the rest unread."""
    env = {**os.environ, "RAGCORE_API_KEY": "rk_nope_nope", "RAGCORE_API_URL": stack.api_url}
    session = subprocess.run([sys.executable, "-m", "ragcore.cli", "chat"], cwd=ROOT, env=env,
                             input=f"{FIRST}\n{FOLLOW_UP}\n", capture_output=True, text=True, timeout=60)
    assert session.returncode == 3 and session.stdout == ""
    assert session.stderr.splitlines() == [session.stderr.strip()]  # one line, once
    assert session.stderr.startswith("ragcore: the API refused the request: 401 unauthorized: ")


def test_the_python_client_asks_follow_ups_reads_and_deletes_a_conversation(stack: DevStack, http: httpx.Client) -> None:
    key = http.headers["Authorization"].split()[1]
    with Client(stack.api_url, key) as api:
        first = api.submit(FIRST, top_k=3)
        follow_up = api.ask(FOLLOW_UP, conversation_id=first.conversation_id, top_k=3,
                            filter={"document_ids": ["skerry-point-lighthouse"]})
        assert "1991" in follow_up.answer and "Skerry Point Lighthouse" in (follow_up.standalone_query or "")
        turns = api.conversation(first.conversation_id).turns  # type: ignore[arg-type]
        assert [t.job_id for t in turns][0] == first.job_id and turns[1].answer == follow_up.answer
        api.delete_conversation(first.conversation_id)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            api.conversation(first.conversation_id)  # type: ignore[arg-type]

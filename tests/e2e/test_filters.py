"""``POST /chat`` with a ``filter``, through the whole offline stack: real HTTP -> API ->
Valkey -> SQS -> worker -> embedded Qdrant -> local LLM. The sample documents are added with
metadata; each filtered question's sources come only from the documents its filter allows."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any, Iterator

import httpx
import pytest

from ragcore.local.stack import DevStack
from tests.e2e.test_pipeline import wait_for_final
from tests.support.paths import ROOT, SAMPLES
from tests.support.stack import free_stack_options

COLLECTION = "filtered"
QUESTION = "When was Skerry Point Lighthouse first lit?"
METADATA = {
    "skerry-point-lighthouse": {"topic": "coast", "year": 1874, "tags": ["lighthouse", "history"],
                                "published": "2024-03-01"},
    "tidal-pool-ecology": {"topic": "coast", "year": 2019, "tags": ["ecology"], "published": "2024-06-15"},
    "honeybee-waggle-dance": {"topic": "nature", "year": 1973, "tags": ["ecology", "history"],
                              "published": "2023-11-20T09:00:00Z"},
    "sourdough-starter": {"topic": "kitchen", "year": 2020, "published": "2022-05-05"},
    "about-ragcore": {"topic": "software", "year": 2026, "draft": True},
}


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    options = free_stack_options(tmp_path_factory.mktemp("stack"), llm_threads=2, visibility_timeout=5)
    with DevStack(options) as running, httpx.Client(base_url=running.api_url, timeout=30) as client:
        jobs = []
        for document_id, metadata in METADATA.items():
            text = (SAMPLES / f"{document_id}.md").read_text()
            accepted = client.post("/documents", json={
                "text": text, "document_id": document_id, "metadata": metadata, "collection": COLLECTION})
            assert accepted.status_code == 202, accepted.text
            jobs.append(accepted.json()["job_id"])
        for job_id in jobs:
            assert wait_for_final(client, job_id)[0]["status"] == "finished"
        yield client


def ask(http: httpx.Client, chat_filter: dict[str, Any] | None, query: str = QUESTION) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query, "top_k": 5, "collection": COLLECTION}
    if chat_filter is not None:
        body["filter"] = chat_filter
    accepted = http.post("/chat", json=body)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    status, _ = wait_for_final(http, job_id)
    assert status["status"] == "finished", status
    return http.get(f"/result/{job_id}").json()


def sources(result: dict[str, Any]) -> set[str]:
    return {source["document_id"] for source in result["sources"]}


def test_without_a_filter_the_lighthouse_comes_first(http: httpx.Client) -> None:
    result = ask(http, None)
    assert result["sources"][0]["document_id"] == "skerry-point-lighthouse"
    assert len(sources(result)) > 1  # other documents fill the five passages


@pytest.mark.parametrize(("chat_filter", "allowed"), [
    ({"document_ids": ["honeybee-waggle-dance", "sourdough-starter"]},
     {"honeybee-waggle-dance", "sourdough-starter"}),
    ({"metadata": {"topic": {"eq": "coast"}}}, {"skerry-point-lighthouse", "tidal-pool-ecology"}),
    ({"metadata": {"tags": {"any": ["ecology"]}}}, {"tidal-pool-ecology", "honeybee-waggle-dance"}),
    ({"metadata": {"year": {"gte": 1900, "lt": 2020}}}, {"tidal-pool-ecology", "honeybee-waggle-dance"}),
    ({"metadata": {"published": {"gte": "2024-01-01"}}}, {"skerry-point-lighthouse", "tidal-pool-ecology"}),
    ({"metadata": {"draft": {"eq": True}}}, {"about-ragcore"}),
    ({"document_ids": ["skerry-point-lighthouse", "tidal-pool-ecology"],
      "metadata": {"tags": {"eq": "ecology"}}}, {"tidal-pool-ecology"}),
], ids=["document_ids", "eq", "any", "number range", "date range", "bool", "combined"])
def test_sources_come_only_from_the_documents_the_filter_allows(
    http: httpx.Client, chat_filter: dict[str, Any], allowed: set[str]
) -> None:
    found = sources(ask(http, chat_filter))
    assert found and found <= allowed, found


def test_a_filter_nothing_meets_gives_an_answer_without_sources(http: httpx.Client) -> None:
    result = ask(http, {"metadata": {"topic": {"eq": "astronomy"}}})
    assert result["sources"] == []


def test_a_bad_filter_is_a_422_naming_the_field_over_http(http: httpx.Client) -> None:
    mixed = {"metadata": {"year": {"gte": 1900, "lt": "2020-01-01"}}}
    response = http.post("/chat", json={"query": QUESTION, "filter": mixed})
    assert response.status_code == 422
    (problem,) = response.json()["error"]["details"]
    assert problem["field"] == "filter.metadata.year" and "all numbers or all dates" in problem["problem"]


def test_ragcore_ask_takes_a_filter_and_document_ids(http: httpx.Client) -> None:
    chat_filter = json.dumps({"metadata": {"tags": {"any": ["ecology"]}}})
    asked = subprocess.run(
        [sys.executable, "-m", "ragcore.cli", "ask", QUESTION, "--collection", COLLECTION,
         "--filter", chat_filter, "--document-id", "honeybee-waggle-dance",
         "--document-id", "sourdough-starter", "--json",
         "--api", str(http.base_url).rstrip("/")],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert asked.returncode == 0, asked.stderr
    assert sources(json.loads(asked.stdout)) == {"honeybee-waggle-dance"}  # in both; sourdough has no tag


def test_ragcore_chat_takes_the_same_filter_and_document_ids(http: httpx.Client) -> None:
    chat_filter = json.dumps({"metadata": {"tags": {"any": ["ecology"]}}})
    session = subprocess.run(
        [sys.executable, "-m", "ragcore.cli", "chat", "--collection", COLLECTION, "--filter", chat_filter,
         "--document-id", "honeybee-waggle-dance", "--document-id", "sourdough-starter",
         "--api", str(http.base_url).rstrip("/")],
        cwd=ROOT, input=f"{QUESTION}\n", capture_output=True, text=True, timeout=180,
    )
    assert session.returncode == 0, session.stderr
    conversation_id = re.search(r"\(conversation ([0-9a-f]{32})", session.stderr).group(1)  # type: ignore[union-attr]
    (turn,) = http.get(f"/conversations/{conversation_id}").json()["turns"]
    assert turn["status"] == "finished" and sources(turn) == {"honeybee-waggle-dance"}


def test_ragcore_ask_refuses_a_filter_that_is_not_a_json_object() -> None:
    asked = subprocess.run([sys.executable, "-m", "ragcore.cli", "ask", QUESTION, "--filter", "[1]"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert asked.returncode == 2 and "--filter: takes a JSON object" in asked.stderr

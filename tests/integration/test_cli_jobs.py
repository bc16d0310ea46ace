"""``ragcore ask/status/result/cancel`` as subprocesses against the real API handler (local
gateway, real Valkey and SQS, the worker handler on a real poller) with the fake LLM, which
can be scripted to fail. With the real local LLM: tests/e2e/test_cli_jobs.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Iterator

import pytest

from ragcore.bootstrap import get_container
from ragcore.services.ingest import index_files
from tests.support.api import local_api
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.paths import ROOT, SAMPLES
from tests.support.settings import Configure
from tests.support.workers import Workers

QUESTION = "When was Skerry Point Lighthouse first lit?"
UNKNOWN = "0" * 32


@pytest.fixture
def api_url(lambda_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("RAGCORE_API_KEY", raising=False)
    monkeypatch.delenv("RAGCORE_API_URL", raising=False)
    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index)
    with local_api() as http:
        yield str(http.base_url).rstrip("/")


def ragcore(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ragcore.cli", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def test_ask_prints_the_result_json_and_the_status_lines_go_to_stderr(
    api_url: str, sqs: Any, queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    with Workers(sqs, queue):
        asked = ragcore("ask", QUESTION, "--top-k", "2", "--json", "--api", api_url)
    assert asked.returncode == 0, asked.stderr
    result = json.loads(asked.stdout)
    assert result["answer"] == fake_llm.answer and len(result["sources"]) == 2
    assert asked.stderr.splitlines()[0] == f"job {result['job_id']}: queued"  # no TTY: plain lines
    assert "\r" not in asked.stderr


def test_a_failed_job_exits_1_with_its_reason_on_one_line(
    api_url: str, sqs: Any, queue: dict[str, str], fake_llm: FakeLLM
) -> None:
    fake_llm.script = [Reply(status=400, code="context_length_exceeded")]
    with Workers(sqs, queue):
        asked = ragcore("ask", QUESTION, "--api", api_url)
    assert asked.returncode == 1 and asked.stdout == ""
    job_id = asked.stderr.splitlines()[0].split()[1].rstrip(":")
    assert asked.stderr.splitlines()[-1] == (
        f"ragcore: job {job_id} failed: the question and its passages do not fit the model's context window"
    )
    assert ragcore("result", job_id, "--api", api_url).returncode == 1
    status = ragcore("status", job_id, "--json", "--api", api_url)
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "failed"


def test_a_wait_that_times_out_exits_4_and_the_job_can_be_cancelled(api_url: str, fake_llm: FakeLLM) -> None:
    asked = ragcore("ask", QUESTION, "--timeout", "1", "--api", api_url)  # no workers: stays queued
    assert asked.returncode == 4
    job_id = asked.stderr.splitlines()[0].split()[1].rstrip(":")
    assert asked.stderr.splitlines()[-1] == (
        f"ragcore: job {job_id} is still queued after 1 s; it keeps running (`ragcore status {job_id}`)"
    )
    early = ragcore("result", job_id, "--api", api_url)
    assert early.returncode == 4 and "still queued" in early.stderr
    cancelled = ragcore("cancel", job_id, "--api", api_url)
    assert cancelled.returncode == 0 and cancelled.stdout == f"job {job_id} stopped\n"
    stopped = ragcore("result", job_id, "--api", api_url)
    assert stopped.returncode == 1
    assert stopped.stderr == f"ragcore: job {job_id} stopped: stopped on request\n"
    assert fake_llm.calls == 0


def test_unknown_ids_and_bad_keys_exit_3_with_the_apis_reason(api_url: str, configure: Configure) -> None:
    for command in ("status", "result", "cancel"):
        missing = ragcore(command, UNKNOWN, "--api", api_url)
        assert missing.returncode == 3 and missing.stdout == ""
        assert missing.stderr.startswith("ragcore: the API refused the request: 404 job_not_found: ")
        assert len(missing.stderr.splitlines()) == 1
    configure(auth_disabled=False)  # the in-process API now wants keys
    refused = ragcore("ask", QUESTION, "--api", api_url, RAGCORE_API_KEY="rk_nope_nope")
    assert refused.returncode == 3
    assert refused.stderr.startswith("ragcore: the API refused the request: 401 unauthorized: ")
    assert "rk_nope_nope" not in refused.stderr


def test_ask_flags_a_sentence_no_source_supports(
    api_url: str, sqs: Any, queue: dict[str, str], fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_llm, "answer", "It was first lit on 12 October 1874 [3]. Its keeper was Angus Reid [1].")
    with Workers(sqs, queue):
        asked = ragcore("ask", QUESTION, "--top-k", "3", "--api", api_url)
    assert asked.returncode == 0, asked.stderr
    lines = asked.stdout.splitlines()
    assert lines[0].startswith("It was first lit on 12 October 1874 [") and "[3]" not in lines[0]
    assert lines[0].endswith("Its keeper was Angus Reid.")
    assert lines[1] == "  ! not supported by the sources: Its keeper was Angus Reid."

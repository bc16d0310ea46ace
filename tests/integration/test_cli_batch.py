"""``ragcore ask --file`` as a subprocess against the real API handler (local gateway, real
Valkey in cluster mode, LocalStack SQS, the embedded Qdrant, the worker handler on a real
poller) with the fake LLM; and the Python client's batch calls it is built on."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any, Iterator

import pytest

from ragcore.bootstrap import get_container
from ragcore.client import AsyncClient, BatchQueued, BatchRefused, Client
from ragcore.services.auth import create_key
from ragcore.services.ingest import index_files
from tests.support.api import local_api
from tests.support.fake_llm import FakeLLM
from tests.support.paths import ROOT, SAMPLES
from tests.support.settings import Configure
from tests.support.workers import Workers

QUESTION = "When was Skerry Point Lighthouse first lit?"


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
                          capture_output=True, text=True, timeout=300)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_file_of_questions_is_answered_line_by_line_in_order(
    api_url: str, sqs: Any, queue: dict[str, str], fake_llm: FakeLLM, tmp_path: Path
) -> None:
    lines = [json.dumps({"query": f"{QUESTION} ({i})"}) for i in range(3)]
    questions = write_lines(tmp_path / "q.jsonl", [
        lines[0], json.dumps({"query": ""}), "", "not json", lines[1], json.dumps({"query": QUESTION, "top_k": 1}),
        lines[2]])
    out = tmp_path / "answers.jsonl"
    with Workers(sqs, queue):
        asked = ragcore("ask", "--file", str(questions), "--output", str(out), "--top-k", "2", "--api", api_url)
    assert asked.returncode == 1, asked.stderr  # two lines were refused
    assert asked.stdout == "" and "\r" not in asked.stderr  # no TTY: no progress bar
    assert asked.stderr.splitlines()[-1] == "ragcore: 6 questions: 4 finished, 2 refused"
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in records] == [1, 2, 4, 5, 6, 7]  # the blank line is no question
    assert [r["status"] for r in records] == ["finished", "refused", "refused", "finished", "finished", "finished"]
    assert records[1]["error"]["code"] == "invalid_request"
    assert records[1]["error"]["details"][0]["field"] == "questions.1.query"
    assert records[2]["error"] == {"code": "invalid_line", "message": "line 4 is not JSON: Expecting value"}
    answered = [r for r in records if r["status"] == "finished"]
    assert all(r["result"]["answer"] == fake_llm.answer for r in answered)
    assert [len(r["result"]["sources"]) for r in answered] == [2, 2, 1, 2]  # --top-k fills what a line leaves
    assert [r["query"] for r in answered] == [f"{QUESTION} (0)", f"{QUESTION} (1)", QUESTION, f"{QUESTION} (2)"]


def test_questions_past_the_rate_limit_are_sent_again_when_the_api_says(
    api_url: str, configure: Configure, sqs: Any, queue: dict[str, str], tmp_path: Path
) -> None:
    """A key with a burst of 3 and 2 tokens a second: the first request queues three of the
    seven questions, the others are refused ``rate_limited`` and sent again after their
    ``retry_after``, until every one is answered. Results go to stdout."""
    configure(auth_disabled=False)
    container = get_container()
    _, secret = create_key(container.key_store, container.api_key_pepper, "cli", rate_per_second=2, burst=3)
    questions = write_lines(tmp_path / "q.jsonl", [json.dumps({"query": f"{QUESTION} {i}"}) for i in range(7)])
    with Workers(sqs, queue):
        asked = ragcore("ask", "--file", str(questions), "--api", api_url, RAGCORE_API_KEY=secret)
    assert asked.returncode == 0, asked.stderr
    records = [json.loads(line) for line in asked.stdout.splitlines()]
    assert [r["status"] for r in records] == ["finished"] * 7
    assert len({r["job_id"] for r in records}) == 7


def test_a_terminal_shows_a_progress_bar(
    api_url: str, sqs: Any, queue: dict[str, str], tmp_path: Path
) -> None:
    """stderr on a terminal (a pseudo-terminal here): tqdm's bar, redrawn in place, up to every
    question answered; the results still go to stdout as plain JSON lines."""
    questions = write_lines(tmp_path / "q.jsonl", [json.dumps({"query": f"{QUESTION} {i}"}) for i in range(4)])
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal's size
    with Workers(sqs, queue):
        asked = subprocess.run([sys.executable, "-m", "ragcore.cli", "ask", "--file", str(questions), "--api", api_url],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=terminal, text=True, timeout=300)
    os.close(terminal)
    shown = b""
    while select.select([controller], [], [], 0.5)[0]:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert asked.returncode == 0
    assert [json.loads(line)["status"] for line in asked.stdout.splitlines()] == ["finished"] * 4
    assert b"\r" in shown and b"answered: 100%" in shown and b"4/4" in shown


def test_unanswered_questions_exit_4_and_are_listed_with_their_status(api_url: str, tmp_path: Path) -> None:
    questions = write_lines(tmp_path / "q.jsonl", [json.dumps({"query": QUESTION})] * 2)
    asked = ragcore("ask", "--file", str(questions), "--timeout", "2", "--api", api_url)  # no workers
    assert asked.returncode == 4, asked.stderr
    assert [json.loads(line)["status"] for line in asked.stdout.splitlines()] == ["queued", "queued"]


def test_a_chunk_none_of_whose_questions_is_valid_is_refused_line_by_line(api_url: str, tmp_path: Path) -> None:
    questions = write_lines(tmp_path / "q.jsonl", [json.dumps({"query": ""}), json.dumps({"query": QUESTION, "top_k": 0})])
    asked = ragcore("ask", "--file", str(questions), "--api", api_url)
    assert asked.returncode == 1, asked.stderr
    records = [json.loads(line) for line in asked.stdout.splitlines()]
    assert [(r["status"], r["error"]["code"]) for r in records] == [("refused", "invalid_request")] * 2
    assert [r["error"]["details"][0]["field"] for r in records] == ["questions.0.query", "questions.1.top_k"]


def test_a_missing_file_is_refused(api_url: str, tmp_path: Path) -> None:
    asked = ragcore("ask", "--file", str(tmp_path / "none.jsonl"), "--api", api_url)
    assert asked.returncode == 3 and "cannot read" in asked.stderr


def test_the_clients_batch_calls(api_url: str) -> None:
    with Client(api_url) as client:
        accepted = client.submit_batch([QUESTION, {"query": QUESTION, "top_k": 2}, {"query": ""}])
        assert [type(item) for item in accepted.items] == [BatchQueued, BatchQueued, BatchRefused]
        ids = [item.job_id for item in accepted.items if isinstance(item, BatchQueued)]
        seen = client.statuses([*ids, "0" * 32])
    assert [job.job_id for job in seen.jobs] == ids and seen.not_found == ["0" * 32]

    async def through_async() -> tuple[int, list[str]]:
        async with AsyncClient(api_url) as client:
            queued = await client.submit_batch([QUESTION] * 3)
            statuses = await client.statuses([item.job_id for item in queued.items])  # type: ignore[union-attr]
        return queued.queued, [job.status.value for job in statuses.jobs]

    assert asyncio.run(through_async()) == (3, ["queued"] * 3)

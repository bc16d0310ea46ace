"""``ragcore ask/status/result/cancel`` as a user runs them: subprocesses against a running
``ragcore dev`` stack (real HTTP, Valkey, LocalStack SQS, embedded Qdrant, the local LLM)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.e2e.test_dev_command import dev_env, start_dev
from tests.support.paths import ROOT

QUESTION = "When was Skerry Point Lighthouse first lit?"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a running ``ragcore dev`` whose sample documents are all ingested;
    ``ragcore`` finds the stack from it (DEV_API_PORT), with no --api."""
    data = tmp_path_factory.mktemp("dev")
    process, ports = start_dev(data)
    env = {name: value for name, value in dev_env(data, ports).items()
           if name not in ("RAGCORE_API_URL", "RAGCORE_API_KEY")}
    try:
        deadline = time.monotonic() + 300
        documents: list[dict] = []
        while time.monotonic() < deadline:
            listed = httpx.get(f"http://127.0.0.1:{ports['API']}/documents", timeout=10)
            documents = listed.json()["documents"]
            if len(documents) == 5 and all(d["status"] == "ready" for d in documents):
                break
            time.sleep(1)
        assert [d["status"] for d in documents] == ["ready"] * 5
        env["API_URL"] = f"http://127.0.0.1:{ports['API']}"
        yield env
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def ragcore(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ragcore.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def job_id_of(stderr: str) -> str:
    """From ``ask``'s first status line, ``job <id>: queued``."""
    return stderr.splitlines()[0].split()[1].rstrip(":")


def test_ask_prints_the_answer_and_numbered_sources_then_status_and_result_agree(
    stack: dict[str, str],
) -> None:
    asked = ragcore(stack, "ask", QUESTION, "--top-k", "3")
    assert asked.returncode == 0, asked.stderr
    answer, *rest = asked.stdout.splitlines()
    notes, sources = rest[: rest.index("")], rest[rest.index("") + 1 :]
    assert "1874" in answer and all(note.startswith("  ") for note in notes)  # what the check found
    assert [line.split("]")[0] for line in sources] == ["[1", "[2", "[3"]
    assert any("Skerry Point Lighthouse (skerry-point-lighthouse.md, score " in line for line in sources)
    job_id = job_id_of(asked.stderr)

    status = ragcore(stack, "status", job_id)
    assert status.returncode == 0
    assert status.stdout.startswith(f"job {job_id}: finished (chat, 1 attempt, created ")
    result = ragcore(stack, "result", job_id, "--json")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert document["answer"] == answer and document["status"] == "finished" and len(document["sources"]) == 3


def test_cancel_from_another_shell_stops_a_waiting_ask(stack: dict[str, str]) -> None:
    # Questions ahead of ours keep the one local LLM busy, so ours is still waiting when the
    # cancel arrives: it stops at its next step and its answer is never written.
    for n in range(3):
        assert httpx.post(f"{stack['API_URL']}/chat", json={"query": f"Who kept the light in year {n}?"},
                          timeout=30).status_code == 202
    asking = subprocess.Popen([sys.executable, "-m", "ragcore.cli", "ask", QUESTION], cwd=ROOT, env=stack,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert asking.stderr is not None
        first = asking.stderr.readline()
        job_id = job_id_of(first)
        cancelled = ragcore(stack, "cancel", job_id)
        assert cancelled.returncode == 0, cancelled.stderr
        assert cancelled.stdout in (
            f"job {job_id} stopped\n",
            f"job {job_id} is started: it stops at its next step and writes no answer\n",
        )
        out, err = asking.communicate(timeout=300)
    finally:
        if asking.poll() is None:
            asking.kill()
    assert asking.returncode == 1 and out == ""
    assert err.splitlines()[-1] == f"ragcore: job {job_id} stopped: stopped on request"
    result = ragcore(stack, "result", job_id)
    assert result.returncode == 1 and result.stderr == f"ragcore: job {job_id} stopped: stopped on request\n"
    status = json.loads(ragcore(stack, "status", job_id, "--json").stdout)
    assert status["status"] == "stopped" and status["error"] == "stopped on request"


def test_a_failed_document_job_exits_1_and_unknown_ids_exit_3(stack: dict[str, str]) -> None:
    accepted = httpx.post(f"{stack['API_URL']}/documents", timeout=30,
                          files={"file": ("broken.pdf", b"%PDF-1.4 junk", "application/pdf")})
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    deadline = time.monotonic() + 120
    while ragcore(stack, "result", job_id).returncode == 4 and time.monotonic() < deadline:
        time.sleep(0.5)
    failed = ragcore(stack, "result", job_id)
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.startswith(f"ragcore: job {job_id} failed: the PDF could not be read")
    missing = ragcore(stack, "status", "0" * 32)
    assert missing.returncode == 3 and "404 job_not_found" in missing.stderr
    unreachable = ragcore({**stack, "DEV_API_PORT": "9"}, "status", "0" * 32)
    assert unreachable.returncode == 3
    assert unreachable.stderr.startswith("ragcore: cannot reach the API at http://127.0.0.1:9: ")


def test_ask_file_answers_every_line_with_the_local_model(stack: dict[str, str], tmp_path: Path) -> None:
    """Three questions through POST /chat/batch and GET /jobs, answered by the bundled model,
    one JSON line each in the file's order."""
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps({"query": q}) for q in (
        QUESTION, "When was Skerry Point Lighthouse automated?", "How tall is Skerry Point Lighthouse?")) + "\n")
    asked = ragcore(stack, "ask", "--file", str(questions), "--top-k", "3", "--timeout", "280")
    assert asked.returncode == 0, asked.stderr
    records = [json.loads(line) for line in asked.stdout.splitlines()]
    assert [(r["line"], r["status"]) for r in records] == [(1, "finished"), (2, "finished"), (3, "finished")]
    assert "1874" in records[0]["result"]["answer"]
    assert all(len(r["result"]["sources"]) == 3 for r in records)
    assert asked.stderr.splitlines()[-1] == "ragcore: 3 questions: 3 finished"

"""Issue 19, item 4: time from the LLM's first token to the first partial text a client sees
(docs/PERFORMANCE.md, "Partial answers").

    .venv/bin/python bench/streaming.py [--jobs 30] [--poll-ms 10] [--token-ms 20]

Through the offline stack (the API behind the local gateway, Valkey in cluster mode, LocalStack
SQS, the worker handler behind its poller) and a fake LLM that streams its answer a word every
``--token-ms`` and records when it sent each stream's first word. One chat job at a time, each
followed by a client the two ways a client can follow it:

- polling: ``GET /job-status/{id}`` every ``--poll-ms`` until ``partial_answer`` is not empty;
- SSE: ``GET /jobs/{id}/events`` opened right after ``POST /chat``, until the first ``delta``.

Each figure is the client's clock at that moment less the fake's first-token time (one
machine, one clock); "stored" is the first delta's stream entry id (Valkey's clock, in whole
ms, so within 1 ms either way) less the same, the worker's part. Each client then follows its
job to the end (polling: until it is final; SSE: until the ``result`` event) and checks the
answer. Target: p50 <= 100 ms, polling and SSE. About a minute.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import env  # noqa: E402

env.apply()

import httpx  # noqa: E402
from httpx_sse import connect_sse  # noqa: E402

from bench.harness.report import Figure, Report  # noqa: E402
from ragcore.bootstrap import get_container  # noqa: E402
from ragcore.domain.job_events import DELTA, event_order  # noqa: E402
from tests.support.fake_llm import FakeLLM  # noqa: E402
from tests.support.stack import fake_llm_stack  # noqa: E402

QUESTION = "When was Skerry Point Lighthouse first lit?"
ANSWER = ("Skerry Point Lighthouse was first lit on 12 October 1874 [1], after four years of building on the "
          "rock, and its keepers stayed until the light was automated [2].")


def _ask(http: httpx.Client, n: int, mode: str) -> tuple[str, str]:
    question = f"{QUESTION} ({mode} job {n})"
    accepted = http.post("/chat", json={"query": question})
    assert accepted.status_code == 202, accepted.text
    return accepted.json()["job_id"], question


def _first_token(llm: FakeLLM, question: str) -> float:
    (sent,) = [at for prompt, at in llm.first_tokens.items() if question in prompt]
    return sent


def _stored(job_id: str) -> float:
    """When the job's first delta was stored: its entry id's milliseconds (Valkey's clock)."""
    events = get_container().job_store.read_events(job_id, None)
    first = next(e for e in events if e.type == DELTA)
    return event_order(first.id)[0] / 1000


def _polled(http: httpx.Client, job_id: str, poll: float) -> float:
    """When a poll first showed partial text; then polls on until the job is final."""
    seen = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = http.get(f"/job-status/{job_id}").json()
        if seen is None and status["partial_answer"]:
            seen = time.time()
        if status["status"] in ("finished", "failed", "stopped"):
            assert status["status"] == "finished" and seen is not None, status
            assert http.get(f"/result/{job_id}").json()["answer"]
            return seen
        time.sleep(poll)
    raise RuntimeError(f"job {job_id} not final within 60 s")


def _followed(http: httpx.Client, job_id: str) -> float:
    """When the event stream first carried a delta with text; then reads it to its result."""
    seen = None
    with connect_sse(http, "GET", f"/jobs/{job_id}/events") as source:
        for event in source.iter_sse():
            if event.event == "delta" and seen is None and json.loads(event.data)["text"]:
                seen = time.time()
            if event.event in ("result", "error"):
                assert event.event == "result" and json.loads(event.data)["answer"], event.data
                assert seen is not None
                return seen
    raise RuntimeError(f"the event stream of {job_id} ended without its result")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(jobs: int, poll_ms: float, token_ms: float) -> Report:
    report = Report("streaming", "Partial answers: the LLM's first token to the first text a client sees",
                    f".venv/bin/python bench/streaming.py --jobs {jobs} --poll-ms {poll_ms:g} "
                    f"--token-ms {token_ms:g}")
    ms: dict[str, list[float]] = {name: [] for name in ("polling", "SSE", "stored (polling runs)",
                                                          "stored (SSE runs)")}
    with FakeLLM(answer=ANSWER, token_delay=token_ms / 1000) as llm, \
            tempfile.TemporaryDirectory(prefix="ragcore-streaming-") as tmp:
        with fake_llm_stack(llm, Path(tmp)) as stack, \
                httpx.Client(base_url=stack.api_url, timeout=60) as http:
            for mode in ("polling", "SSE"):
                for n in range(jobs + 1):  # the first warms the path: clients built, scripts loaded
                    job_id, question = _ask(http, n, mode)
                    polling = mode == "polling"
                    seen = _polled(http, job_id, poll_ms / 1000) if polling else _followed(http, job_id)
                    if n:
                        sent = _first_token(llm, question)
                        ms[mode].append((seen - sent) * 1000)
                        ms[f"stored ({mode} runs)"].append((_stored(job_id) - sent) * 1000)
    for name, values in ms.items():
        target = ("<=", 100.0) if name in ("polling", "SSE") else None
        report.add(
            Figure(f"{name}: p50", statistics.median(values), "ms", target),
            Figure(f"{name}: p95", _quantile(values, 0.95), "ms"),
        )
    report.details = {name: [round(v, 1) for v in values] for name, values in ms.items()}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=30, help="jobs per way of following")
    parser.add_argument("--poll-ms", type=float, default=10, help="the polling client's interval")
    parser.add_argument("--token-ms", type=float, default=20, help="the fake LLM's delay between words")
    args = parser.parse_args()
    started = time.monotonic()
    report = measure(args.jobs, args.poll_ms, args.token_ms)
    report.details["seconds"] = round(time.monotonic() - started, 1)
    report.finish()


if __name__ == "__main__":
    main()

"""Load on the offline stack: submit many chat jobs at once over real HTTP, wait for all of
them, and prove none was lost or answered twice (the fake LLM counts every call and sees each
job's unique query). Prints a table; exits 1 if any check fails.

    .venv/bin/python bench/load_test.py [--jobs 1000] [--concurrency 50]

Runs on its own free ports and data directory, with a fast fake LLM instead of the local model,
so the numbers are the pipeline's (HTTP, Valkey, SQS, embedding, retrieval), not the model's.
tests/e2e/test_load.py runs the same check in CI.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ragcore.cli.ingest import ingest_through_api  # noqa: E402
from ragcore.observability.stats import percentile  # noqa: E402
from ragcore.local.stack import DevStack  # noqa: E402
from tests.support.fake_llm import FakeLLM  # noqa: E402
from tests.support.paths import SAMPLES  # noqa: E402
from tests.support.stack import fake_llm_stack  # noqa: E402

QUESTION = "When was Skerry Point Lighthouse first lit?"
PENDING = ("queued", "started", "unknown")
TAG = re.compile(r"\(load job (\d+)\)")
# At least the worker's 60 s Timeout, so no batch still within it is redelivered while it runs;
# short enough that a batch that truly failed comes back well inside the run's time budget.
VISIBILITY_TIMEOUT = 60


@contextmanager
def load_stack(data_dir: Path) -> Iterator[tuple[DevStack, FakeLLM]]:
    """The offline stack without the local model, its worker calling the fake LLM, with the
    samples ingested."""
    with FakeLLM() as llm, fake_llm_stack(llm, data_dir, visibility_timeout=VISIBILITY_TIMEOUT) as stack:
        report = ingest_through_api([SAMPLES], "default", stack.api_url, show_progress=False)
        if report.outcomes != {"created": 5}:
            raise RuntimeError(f"sample ingestion failed: {report.outcomes}")
        yield stack, llm


@dataclass
class LoadReport:
    jobs: int
    submit_seconds: float
    finish_seconds: float  # first submission -> last job finished (server clock)
    rejected: dict[int, str]  # job index -> why POST /chat did not answer 202
    statuses: list[dict[str, Any]]  # final /job-status documents of the accepted jobs
    llm_queries: Counter[int] = field(default_factory=Counter)  # job index -> LLM calls for it
    llm_calls: int = 0

    @property
    def accepted(self) -> set[int]:
        return set(range(self.jobs)) - set(self.rejected)

    @property
    def lost(self) -> int:
        """Accepted jobs that never reached a final status before the timeout."""
        return len(self.accepted) - len(self.statuses)

    @property
    def unfinished(self) -> list[dict[str, Any]]:
        return [s for s in self.statuses if s["status"] != "finished"]

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.llm_queries.values() if n > 1)

    @property
    def latencies_ms(self) -> list[float]:
        """Created -> finished, by the jobs' own times."""
        return [(_epoch(s["finished_at"]) - _epoch(s["created_at"])) * 1000
                for s in self.statuses if s["status"] == "finished"]

    def problems(self) -> list[str]:
        """Every way the run fell short of 'each job accepted and answered exactly once'."""
        found = []
        if self.rejected:
            index, reason = min(self.rejected.items())
            found.append(f"{len(self.rejected)} submissions failed, e.g. #{index}: {reason}")
        if self.lost:
            found.append(f"{self.lost} accepted jobs never reached a final status")
        if self.unfinished:
            found.append(f"{len(self.unfinished)} jobs not finished, e.g. {self.unfinished[0]}")
        if self.llm_calls != len(self.accepted):
            found.append(f"{self.llm_calls} LLM calls for {len(self.accepted)} accepted jobs")
        missing = self.accepted - set(self.llm_queries)
        if missing:
            found.append(f"{len(missing)} accepted jobs never reached the LLM, e.g. #{min(missing)}")
        if self.duplicates:
            found.append(f"{self.duplicates} duplicate LLM calls")
        return found

    def table(self) -> str:
        latencies = self.latencies_ms or [float("nan")]
        rows = [
            ("jobs", f"{self.jobs}"),
            ("submit time", f"{self.submit_seconds:.1f} s"),
            ("submit rate", f"{self.jobs / self.submit_seconds:.0f} req/s"),
            ("time to all finished", f"{self.finish_seconds:.1f} s"),
            ("throughput", f"{len(self.latencies_ms) / self.finish_seconds:.1f} jobs/s"),
            ("job latency p50", f"{percentile(latencies, 0.5):.0f} ms"),
            ("job latency p95", f"{percentile(latencies, 0.95):.0f} ms"),
            ("redelivered (attempts > 1)", f"{sum(s['attempts'] > 1 for s in self.statuses)}"),
            ("LLM calls", f"{self.llm_calls}"),
            ("duplicates", f"{self.duplicates}"),
            ("failures", f"{len(self.rejected) + self.lost + len(self.unfinished)}"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value:>14}" for name, value in rows)


def run_load(api_url: str, llm: FakeLLM, jobs: int, concurrency: int, timeout: float = 600) -> LoadReport:
    """Submits ``jobs`` questions ``concurrency`` at a time, then waits until every accepted job
    is final or ``timeout`` passes. Each query carries its index, so the LLM's requests show
    which job they were for."""
    calls_before = llm.calls
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=api_url, timeout=60, limits=limits) as http:
        started_at, started = time.time(), time.perf_counter()
        submitted = _submit_all(http, jobs, concurrency)
        submit_seconds = time.perf_counter() - started
        accepted = [job_id for job_id in submitted if not job_id.startswith("!")]
        final = _wait_until_final(http, accepted, concurrency, time.monotonic() + timeout)
    finished = [_epoch(s["finished_at"]) for s in final if s["finished_at"]]
    queries = [_job_index(request) for request in llm.requests[calls_before:]]
    return LoadReport(
        jobs=jobs,
        submit_seconds=submit_seconds,
        finish_seconds=(max(finished) - started_at) if finished else float("nan"),
        rejected={i: job_id[1:] for i, job_id in enumerate(submitted) if job_id.startswith("!")},
        statuses=final,
        llm_queries=Counter(q for q in queries if q is not None),
        llm_calls=llm.calls - calls_before,
    )


SUBMIT_TRIES = 3


def _submit_all(http: httpx.Client, jobs: int, concurrency: int) -> list[str]:
    """Each job's id, or '!' and why its submission failed, in job order. Each question carries
    an Idempotency-Key and is sent again with it after a transport error, as the Python client
    does: an answer lost on the way back (it happens under this load: the job was made, the
    client saw a closed socket) gives the first job back, so the exactly-once checks still hold."""

    def submit(index: int) -> str:
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        for attempt in range(SUBMIT_TRIES):
            try:
                response = http.post("/chat", json={"query": f"{QUESTION} (load job {index})", "top_k": 3},
                                     headers=headers)
                break
            except httpx.TransportError as exc:
                if attempt == SUBMIT_TRIES - 1:
                    return f"!{type(exc).__name__}: {exc}"
        return response.json()["job_id"] if response.status_code == 202 else f"!{response.status_code}"

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(submit, range(jobs)))


def _wait_until_final(
    http: httpx.Client, job_ids: list[str], concurrency: int, deadline: float
) -> list[dict[str, Any]]:
    """Polls only the last job sent until it is final (queues are roughly first in, first
    out, so it is about the last to finish), then reads every pending job's status at once,
    and repeats for those still pending. Polling stays light while the stack works, and the
    timings come from the jobs' own times, not from when a poll saw them. A job still pending
    at the deadline is left out (the report counts it as lost)."""
    pending, final = list(job_ids), []
    with ThreadPoolExecutor(concurrency) as pool:
        while pending and time.monotonic() < deadline:
            if _status(http, pending[-1])["status"] in PENDING:
                time.sleep(0.2)
                continue
            statuses = list(pool.map(lambda job_id: _status(http, job_id), pending))
            final += [s for s in statuses if s["status"] not in PENDING]
            pending = [s["job_id"] for s in statuses if s["status"] in PENDING]
    return final


def _status(http: httpx.Client, job_id: str) -> dict[str, Any]:
    try:
        return http.get(f"/job-status/{job_id}").json()
    except httpx.TransportError:
        return {"job_id": job_id, "status": "unknown"}  # still pending, as far as we know


def _epoch(iso_time: str) -> float:
    return datetime.fromisoformat(iso_time).timestamp()


def _job_index(request: dict[str, Any]) -> int | None:
    match = TAG.search(request["messages"][-1]["content"])
    return int(match.group(1)) if match else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for all jobs")
    args = parser.parse_args()
    # As `make` and the tests do, before numpy and onnxruntime load; and a log line per job
    # would drown the table.
    for name, value in (("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1"),
                        ("HF_HUB_OFFLINE", "1"), ("POWERTOOLS_LOG_LEVEL", "WARNING")):
        os.environ.setdefault(name, value)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as data_dir, \
            load_stack(Path(data_dir)) as (stack, llm):
        report = run_load(stack.api_url, llm, args.jobs, args.concurrency, args.timeout)
    print(f"{args.jobs} chat jobs, {args.concurrency} concurrent clients, offline stack, fake LLM\n")
    print(report.table())
    for problem in report.problems():
        print(f"FAIL: {problem}")
    sys.exit(1 if report.problems() else 0)


if __name__ == "__main__":
    main()

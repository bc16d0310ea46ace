"""The two systems under test, behind one interface: ragcore (API gateway + worker handler on
SQS) and the baseline (uvicorn + FastAPI + one RQ worker, bench/baselines/). Each can start its
API and its worker as processes, enqueue jobs without the API (for worker throughput), and
read a job's timeline: when it was created, started and finished, and its stage timings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.harness.services import WORKER_CPU, Server

QUESTION = "When was Skerry Point Lighthouse first lit?"


@dataclass
class Timeline:
    status: str
    created: float  # epoch seconds, the system's own clock (same machine as the client)
    started: float | None
    finished: float | None
    attempts: int
    timings_ms: dict[str, float]  # embed_ms, retrieval_ms, llm_ms (from the result)

    @property
    def ok(self) -> bool:
        return self.status == "finished"


class Ragcore:
    name = "ragcore"

    def __init__(self, server_env: dict[str, str], tmp: Path) -> None:
        from ragcore.bootstrap import get_container

        self._env, self._logs = server_env, tmp / "logs"
        self._container = get_container()  # this process: the same Valkey and queue as the servers
        self._sqs: Any = None

    def api(self, port: int) -> Server:
        return Server("ragcore-api", ["bench.harness.serve", "api", str(port)], self._env, self._logs)

    def worker(self) -> Server:
        return Server("ragcore-worker", ["bench.harness.serve", "worker"], self._env, self._logs, cpu=WORKER_CPU)

    def enqueue(self, queries: list[str]) -> list[str]:
        """As POST /chat does (record, then message), without the API in the way."""
        from ragcore.domain.messages import ChatRequest
        from ragcore.services.submit import submit_chat

        store, queue = self._container.job_store, self._container.queue
        conversations, deadline = self._container.conversations, self._container.settings.job_deadline_seconds
        return [submit_chat(ChatRequest(query=q, top_k=3), store, conversations, queue, deadline).job_id
                for q in queries]

    def settled(self) -> bool:
        """The jobs queue is empty, in flight included: the worker has deleted every message
        it ran (stopping it earlier would leave messages to come back in a later run)."""
        from tests.support.workers import queue_depth

        if self._sqs is None:
            from ragcore.bootstrap import aws_client

            self._sqs = aws_client(self._container.settings, "sqs")
        return queue_depth(self._sqs, self._env["JOBS_QUEUE_URL"]) == 0

    def timeline(self, job_id: str) -> Timeline | None:
        job = self._container.job_store.get(job_id)
        if not job.status.is_terminal:
            return None
        result = self._container.job_store.get_result(job_id) or {}
        return Timeline(job.status.value, job.created_at, job.started_at, job.finished_at, job.attempts,
                        result.get("timings_ms", {}))


class Baseline:
    name = "baseline"

    def __init__(self, server_env: dict[str, str], tmp: Path, url: str) -> None:
        """``url``: the baseline's own Valkey (``services.baseline_valkey``)."""
        from redis import Redis
        from rq import Queue

        self._env = {**server_env, "BASELINE_REDIS_URL": url, "QDRANT_PATH": str(tmp / "baseline-qdrant")}
        self._logs = tmp / "logs"
        self._redis = Redis.from_url(url)
        self._queue = Queue("chat", connection=self._redis)

    def api(self, port: int) -> Server:
        return Server("baseline-api", ["bench.baselines.rq_app", str(port)], self._env, self._logs)

    def worker(self) -> Server:
        return Server("baseline-worker", ["bench.baselines.rq_worker"], self._env, self._logs, cpu=WORKER_CPU)

    def enqueue(self, queries: list[str]) -> list[str]:
        return [self._queue.enqueue("bench.baselines.rq_tasks.answer", q, 3, job_timeout=60, result_ttl=86400).id
                for q in queries]

    def settled(self) -> bool:
        return True  # RQ takes a job off its list when it starts it

    def timeline(self, job_id: str) -> Timeline | None:
        from rq.job import Job

        job = Job.fetch(job_id, connection=self._redis)
        raw = job.get_status(refresh=False)
        status = getattr(raw, "value", raw)
        if status not in ("finished", "failed", "stopped", "canceled"):
            return None
        value: Any = job.return_value() if status == "finished" else None
        return Timeline(status, _epoch(job.enqueued_at), _epoch(job.started_at), _epoch(job.ended_at),
                        1, (value or {}).get("timings_ms", {}))


def _epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def wait_final(system: Ragcore | Baseline, job_ids: list[str], timeout: float, poll: float = 0.005
               ) -> list[Timeline | None]:
    """Every job's timeline once final (None for one still unfinished at the timeout)."""
    found: dict[str, Timeline] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(job_ids) and time.monotonic() < deadline:
        for job_id in job_ids:
            if job_id not in found:
                timeline = system.timeline(job_id)
                if timeline is None:
                    break  # jobs finish roughly in order: look again later
                found[job_id] = timeline
        else:
            continue
        time.sleep(poll)
    return [found.get(job_id) for job_id in job_ids]

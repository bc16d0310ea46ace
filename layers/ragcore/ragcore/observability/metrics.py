"""The one list of ragcore's metrics, and what turns a job's life into measurements of them.

Every metric is named here once, with its kind, unit and dimensions; the sinks only render
that list: CloudWatch EMF in Lambda (``emf.py``), a Prometheus registry offline
(``prometheus.py``). Pure code: no AWS, no I/O.

Dimensions are kept few and of low cardinality (CloudWatch bills every combination as a
metric): the job kind (chat, ingest, delete) and the LLM model. A job id is never one; it
goes in the logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, Sequence

from ragcore.domain.answers import Usage
from ragcore.domain.jobs import JobStatus

NAMESPACE = "ragcore"  # the CloudWatch namespace, and the Prometheus prefix
SERVICE = "ragcore"  # the EMF "service" dimension every metric carries


class Kind(StrEnum):
    COUNTER = "counter"  # summed: CloudWatch Sum, a Prometheus counter
    TIMER = "timer"  # a distribution in milliseconds: CloudWatch percentiles, a Prometheus histogram


@dataclass(frozen=True)
class Metric:
    name: str  # the CloudWatch metric name, CamelCase
    kind: Kind
    dimensions: tuple[str, ...]
    description: str

    @property
    def unit(self) -> str:
        """The CloudWatch unit."""
        return "Milliseconds" if self.kind is Kind.TIMER else "Count"

    @property
    def prometheus_name(self) -> str:
        """``JobsSubmitted`` -> ``ragcore_jobs_submitted`` (the client adds ``_total``);
        ``QueueWait`` -> ``ragcore_queue_wait_milliseconds``: the unit in the name, as
        Prometheus' naming rules ask."""
        snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", self.name).lower()
        suffix = "_milliseconds" if self.kind is Kind.TIMER else ""
        return f"{NAMESPACE}_{snake}{suffix}"


# A job ends once per life, but a failed job can be redriven from the dead-letter queue
# (``ragcore dlq redrive``) and then end again: it counts in JobsFailed when it fails (the
# failure happened, and the alarm on it was right) and in JobsFinished when the redrive
# finishes it. So Finished + Failed + Stopped may exceed Submitted by the redriven jobs.
JOBS_SUBMITTED = Metric("JobsSubmitted", Kind.COUNTER, ("kind",), "jobs accepted and queued")
JOBS_FINISHED = Metric(
    "JobsFinished", Kind.COUNTER, ("kind",), "jobs that ended finished (a redriven job too, after failing)")
JOBS_FAILED = Metric(
    "JobsFailed", Kind.COUNTER, ("kind",),
    "jobs that ended failed (each failure: a job redriven and then finished counts here and in JobsFinished)")
JOBS_STOPPED = Metric("JobsStopped", Kind.COUNTER, ("kind",), "jobs stopped on request (each stop once)")
JOBS_RETRIED = Metric(
    "JobsRetried", Kind.COUNTER, ("kind",),
    "attempts that failed transiently (the LLM or a store down) and sent their job back for a redelivery")
QUEUE_WAIT = Metric(
    "QueueWait", Kind.TIMER, ("kind",),
    "from a job entering the queue (its submission, or a redrive's requeue) to its first start from there")
END_TO_END_LATENCY = Metric(
    "EndToEndLatency", Kind.TIMER, ("kind",),
    "a finished job's submission to its end: what its user waited (queue, retries and any redrive included)")
EMBED_LATENCY = Metric("EmbedLatency", Kind.TIMER, (), "embedding a chat job's question")
RETRIEVAL_LATENCY = Metric("RetrievalLatency", Kind.TIMER, (), "the vector search of a chat job")
LLM_LATENCY = Metric("LlmLatency", Kind.TIMER, ("model",), "the LLM call of a chat job")
TOTAL_LATENCY = Metric(
    "TotalLatency", Kind.TIMER, (),
    "a finished chat job's worker compute: embed, search and LLM call (no queue wait: see EndToEndLatency)")
LLM_TOKENS_IN = Metric(
    "LlmTokensIn", Kind.COUNTER, ("model",), "prompt tokens of every completed LLM call, whatever became of its job")
LLM_TOKENS_OUT = Metric(
    "LlmTokensOut", Kind.COUNTER, ("model",), "completion tokens of every completed LLM call, whatever became of its job")

CATALOGUE: tuple[Metric, ...] = (
    JOBS_SUBMITTED, JOBS_FINISHED, JOBS_FAILED, JOBS_STOPPED, JOBS_RETRIED, QUEUE_WAIT, END_TO_END_LATENCY,
    EMBED_LATENCY, RETRIEVAL_LATENCY, LLM_LATENCY, TOTAL_LATENCY, LLM_TOKENS_IN, LLM_TOKENS_OUT,
)

_ENDED = {JobStatus.FINISHED: JOBS_FINISHED, JobStatus.FAILED: JOBS_FAILED, JobStatus.STOPPED: JOBS_STOPPED}
_MAX_DIMENSION_CHARS = 64


@dataclass(frozen=True)
class Measurement:
    metric: Metric
    value: float
    dimensions: tuple[tuple[str, str], ...] = ()  # in the metric's order

    def labels(self) -> dict[str, str]:
        return dict(self.dimensions)


def measure(metric: Metric, value: float, **dimensions: str) -> Measurement:
    """Refuses dimensions the catalogue does not name for the metric, so a sink never sees
    one it did not declare (Prometheus would refuse it; CloudWatch would bill it)."""
    if set(dimensions) != set(metric.dimensions):
        raise ValueError(f"{metric.name} takes dimensions {metric.dimensions}, got {tuple(dimensions)}")
    values = tuple((name, (str(dimensions[name]) or "unknown")[:_MAX_DIMENSION_CHARS]) for name in metric.dimensions)
    return Measurement(metric, float(value), values)


class MetricsSink(Protocol):
    """Where measurements go: EMF on stdout in Lambda, a Prometheus registry offline."""

    def record(self, measurements: Sequence[Measurement]) -> None: ...


class NullMetrics:
    def record(self, measurements: Sequence[Measurement]) -> None:
        pass


def submitted(kind: str) -> list[Measurement]:
    return [measure(JOBS_SUBMITTED, 1, kind=kind)]


def ended(kind: str, status: JobStatus) -> list[Measurement]:
    """One count for a job reaching a final status; nothing for any other status."""
    metric = _ENDED.get(status)
    return [measure(metric, 1, kind=kind)] if metric else []


def retried(kind: str) -> list[Measurement]:
    return [measure(JOBS_RETRIED, 1, kind=kind)]


def queue_wait(kind: str, enqueued_at: float, started_at: float | None) -> list[Measurement]:
    if started_at is None:
        return []
    return [measure(QUEUE_WAIT, max(0.0, (started_at - enqueued_at) * 1000), kind=kind)]


def end_to_end(kind: str, created_at: float, finished_at: float | None) -> list[Measurement]:
    if finished_at is None:
        return []
    return [measure(END_TO_END_LATENCY, max(0.0, (finished_at - created_at) * 1000), kind=kind)]


def answered(result: dict[str, Any]) -> list[Measurement]:
    """A finished chat job's stage timings, from its stored result (the ``Answer`` document:
    ``timings_ms``, ``model``); nothing for other results. Its tokens are counted by the call
    that spent them (``spent``), finished job or not."""
    timings = result.get("timings_ms")
    if not isinstance(timings, dict):
        return []
    model = str(result.get("model") or "unknown")
    return [
        measure(EMBED_LATENCY, timings.get("embed_ms", 0)),
        measure(RETRIEVAL_LATENCY, timings.get("retrieval_ms", 0)),
        measure(LLM_LATENCY, timings.get("llm_ms", 0), model=model),
        measure(TOTAL_LATENCY, timings.get("total_ms", 0)),
    ]


def spent(model: str, usage: Usage) -> list[Measurement]:
    """The tokens of one completed LLM call: a cost, whether or not its job then finished."""
    model = model or "unknown"
    return [
        measure(LLM_TOKENS_IN, usage.prompt_tokens, model=model),
        measure(LLM_TOKENS_OUT, usage.completion_tokens, model=model),
    ]

"""What ``ragcore stats`` prints, computed from the job records themselves and the queues'
counters: jobs by kind and state, and latency percentiles. Pure code; the records and
depths are read by ``adapters/valkey_job_records.py`` and ``adapters/sqs_depth.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy

from ragcore.domain.jobs import JobStatus
from ragcore.ports import JobRecord, QueueDepth

PERCENTILES = (50, 95, 99)
# Queue wait (last enqueue -> start) and end to end (submission -> finished, what a user
# waits) from the record's times; the rest from a finished chat job's timings_ms (the
# worker's compute: total_ms is embed + search + LLM).
LATENCIES = ("queue_wait_ms", "end_to_end_ms", "retrieval_ms", "llm_ms", "total_ms")
_FROM_TIMINGS = ("retrieval_ms", "llm_ms", "total_ms")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of ``values``, q in [0, 1] (0.95 is p95), interpolated linearly
    between the closest ranks: numpy's default method, the same as ``statistics.quantiles(...,
    method="inclusive")`` (not nearest rank, which jumps to the largest value of a small
    sample). The one definition: ``ragcore stats``, ``ragcore eval`` and ``bench/`` report
    with it, so their figures of the same data agree. None for no values; ValueError for a q
    outside [0, 1]."""
    return float(numpy.quantile(values, q)) if len(values) else None


@dataclass(frozen=True)
class Latency:
    count: int
    p50: float | None
    p95: float | None
    p99: float | None


@dataclass
class Stats:
    queues: dict[str, QueueDepth] = field(default_factory=dict)  # "jobs", "jobs-dlq", ...
    jobs: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> status -> count
    latencies: dict[str, Latency] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "queues": {name: {"visible": q.visible, "in_flight": q.in_flight, "delayed": q.delayed}
                       for name, q in self.queues.items()},
            "jobs": self.jobs,
            "latency_ms": {name: {"count": l.count, "p50": l.p50, "p95": l.p95, "p99": l.p99}
                           for name, l in self.latencies.items()},
        }


def summarize(records: Iterable[JobRecord], queues: dict[str, QueueDepth]) -> Stats:
    jobs: dict[str, dict[str, int]] = {}
    samples: dict[str, list[float]] = {name: [] for name in LATENCIES}
    for record in records:
        by_status = jobs.setdefault(record.kind, {s.value: 0 for s in JobStatus})
        by_status[record.status.value] += 1
        if record.started_at is not None:
            samples["queue_wait_ms"].append(max(0.0, (record.started_at - record.enqueued_at) * 1000))
        if record.status is JobStatus.FINISHED and record.finished_at is not None:
            samples["end_to_end_ms"].append(max(0.0, (record.finished_at - record.created_at) * 1000))
        for name in _FROM_TIMINGS:
            value = (record.timings_ms or {}).get(name)
            if isinstance(value, (int, float)):
                samples[name].append(float(value))
    latencies = {
        name: Latency(len(values), *(percentile(values, p / 100) for p in PERCENTILES))
        for name, values in samples.items()
    }
    return Stats(queues=queues, jobs=dict(sorted(jobs.items())), latencies=latencies)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render(stats: Stats) -> str:
    lines = ["queues            waiting  in flight  delayed"]
    for name, q in stats.queues.items():
        lines.append(f"  {name:<16}{q.visible:>7}{q.in_flight:>11}{q.delayed:>9}")
    statuses = [s.value for s in JobStatus]
    lines += ["", "jobs      " + "".join(f"{s:>10}" for s in statuses) + "     total"]
    for kind, counts in stats.jobs.items():
        lines.append(f"  {kind:<8}" + "".join(f"{counts[s]:>10}" for s in statuses) + f"{sum(counts.values()):>10}")
    if not stats.jobs:
        lines.append("  (no job records)")
    lines += ["", "latency (ms)        count       p50       p95       p99"]
    for name, l in stats.latencies.items():
        lines.append(f"  {name:<16}{l.count:>8}{_ms(l.p50):>10}{_ms(l.p95):>10}{_ms(l.p99):>10}")
    return "\n".join(lines)

"""Metrics offline: the same catalogue as Prometheus counters and histograms, in one registry
per process (the local runner runs the API and the workers in one process), served at
``/metrics`` by the local gateway (``ragcore.local.metrics_endpoint``). Needs the ``local``
extra (``prometheus_client``); never loaded in Lambda."""

from __future__ import annotations

import threading
from typing import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from ragcore.observability.metrics import CATALOGUE, Kind, Measurement, Metric

# Milliseconds: from an embedding (a few ms) to a slow local LLM answer (minutes).
BUCKETS_MS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000)

REGISTRY = CollectorRegistry(auto_describe=True)
_collectors: dict[str, Counter | Histogram] = {}
_lock = threading.Lock()


def _collector(metric: Metric) -> Counter | Histogram:
    """Made once per process from the catalogue (a registry refuses a name twice, and the
    local runner rebuilds its container on every start)."""
    with _lock:
        if metric.name not in _collectors:
            if metric.kind is Kind.TIMER:
                _collectors[metric.name] = Histogram(
                    metric.prometheus_name, metric.description, metric.dimensions,
                    buckets=BUCKETS_MS, registry=REGISTRY,
                )
            else:
                _collectors[metric.name] = Counter(
                    metric.prometheus_name, metric.description, metric.dimensions, registry=REGISTRY
                )
        return _collectors[metric.name]


class PrometheusMetrics:
    """Implements ``MetricsSink``."""

    def __init__(self) -> None:
        for metric in CATALOGUE:  # every metric shows in /metrics from the start
            _collector(metric)

    def record(self, measurements: Sequence[Measurement]) -> None:
        for m in measurements:
            collector = _collector(m.metric)
            child = collector.labels(**m.labels()) if m.dimensions else collector
            if isinstance(child, Histogram):
                child.observe(m.value)
            else:
                child.inc(m.value)


def exposition() -> tuple[str, bytes]:
    """The registry in Prometheus' text format: (content type, body)."""
    return CONTENT_TYPE_LATEST, generate_latest(REGISTRY)

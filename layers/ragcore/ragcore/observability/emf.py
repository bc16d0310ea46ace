"""Metrics in Lambda: CloudWatch Embedded Metric Format, written by Powertools Metrics to
stdout, from where CloudWatch Logs turns each line into metrics (no API call, no latency).

One EMF document per dimension set: a document carries one set of dimensions for all its
metrics, and the catalogue gives, e.g., ``LlmLatency`` the model but ``TotalLatency`` none.
Each ``record`` call uses its own ``EphemeralMetrics`` (no state shared between the
concurrent records of a batch). Its document is serialized here and written as one
``sys.stdout.write`` of the JSON and its newline, under a lock: Powertools' own
``flush_metrics`` prints the JSON and the newline as two writes, between which a log line
from another thread (the Logger writes each line in one call) could land, gluing the two into
one line CloudWatch can parse as neither.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Sequence

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from ragcore.observability.metrics import NAMESPACE, SERVICE, Measurement

_print_lock = threading.Lock()


class EmfMetrics:
    """Implements ``MetricsSink``."""

    def __init__(self, namespace: str = NAMESPACE, service: str = SERVICE) -> None:
        self._namespace = namespace
        self._service = service

    def record(self, measurements: Sequence[Measurement]) -> None:
        if is_metrics_disabled():  # POWERTOOLS_METRICS_DISABLED, as flush_metrics honours it
            return
        groups: dict[tuple[tuple[str, str], ...], list[Measurement]] = {}
        for m in measurements:
            groups.setdefault(m.dimensions, []).append(m)
        for dimensions, group in groups.items():
            document = EphemeralMetrics(namespace=self._namespace, service=self._service)
            for name, value in dimensions:
                document.add_dimension(name=name, value=value)
            for m in group:
                document.add_metric(name=m.metric.name, unit=MetricUnit(m.metric.unit), value=m.value)
            line = json.dumps(document.serialize_metric_set(), separators=(",", ":")) + "\n"
            document.clear_metrics()
            with _print_lock:
                sys.stdout.write(line)

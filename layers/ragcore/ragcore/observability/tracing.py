"""X-Ray traces through Powertools Tracer: the handlers open the invocation's segment
(``capture_lambda_handler``), botocore and httpx calls are patched (SQS, S3, Secrets
Manager; the LLM and Qdrant over HTTP), and ``bootstrap`` wraps each adapter so every call
to Valkey, SQS, S3, Qdrant, the embedder and the LLM is a subsegment named after it.

Outside Lambda (offline, tests) Powertools disables the tracer itself (no
``LAMBDA_TASK_ROOT``) and the adapters are left unwrapped: no daemon is called, nothing is
added to a call.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from aws_lambda_powertools import Tracer

T = TypeVar("T")

# Only what ragcore calls through: the SDK (SQS, S3, Secrets Manager) and httpx (OpenAI, Qdrant).
PATCHED_MODULES = ("botocore", "httpx")


def tracer(service: str | None = None) -> Tracer:
    """Tracer keeps one configuration per process; the first call patches the modules."""
    return Tracer(service=service, patch_modules=PATCHED_MODULES)


class Traced:
    """Calls through to the adapter, each public method call in a subsegment
    ``## <dependency>.<method>`` annotated with the dependency (to filter traces by it)."""

    def __init__(self, inner: Any, dependency: str, open_subsegment: Callable[[str], Any]) -> None:
        self._traced_inner = inner
        self._traced_dependency = dependency
        self._traced_open = open_subsegment

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._traced_inner, name)
        if name.startswith("_") or not callable(value):
            return value

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._traced_open(f"## {self._traced_dependency}.{name}") as subsegment:
                subsegment.put_annotation(key="dependency", value=self._traced_dependency)
                return value(*args, **kwargs)

        return call


def traced(adapter: T, dependency: str) -> T:
    """The adapter in a ``Traced`` wrapper when the tracer is on; the adapter itself otherwise."""
    active = tracer()
    if active.disabled:
        return adapter
    return Traced(adapter, dependency, active.provider.in_subsegment)  # type: ignore[return-value]

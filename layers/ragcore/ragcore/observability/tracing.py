"""X-Ray traces through Powertools Tracer: the handlers open the invocation's segment
(``capture_lambda_handler``), botocore and httpx calls are patched (SQS, S3, Secrets
Manager; the LLM and Qdrant over HTTP), and ``bootstrap`` wraps each adapter so every call
to Valkey, SQS, S3, Qdrant, the embedder and the LLM is a subsegment named after it.

Outside Lambda (offline, tests), or with ``POWERTOOLS_TRACE_DISABLED``, tracing is off by
Powertools' own rule and ``tracer`` gives a no-op stand-in instead of a Tracer: building a
Tracer imports the X-Ray SDK and its sampling connector (botocore), ~240 ms of a cold start,
even when it then disables itself. The adapters are left unwrapped: no daemon is called,
nothing is added to a call.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from aws_lambda_powertools import Tracer

T = TypeVar("T")

# Only what ragcore calls through: the SDK (SQS, S3, Secrets Manager) and httpx (OpenAI, Qdrant).
PATCHED_MODULES = ("botocore", "httpx")


class TracingOff:
    """What the handlers use of a Tracer, when tracing is off: the handler is left as it is."""

    disabled = True

    def capture_lambda_handler(self, lambda_handler: Any = None, **_: Any) -> Any:
        if lambda_handler is None:  # used with arguments: @tracer.capture_lambda_handler(...)
            return lambda handler: handler
        return lambda_handler

    capture_method = capture_lambda_handler

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        pass


def tracer(service: str | None = None) -> Tracer | TracingOff:
    """Tracer keeps one configuration per process; the first call patches the modules.
    Where Powertools would build a disabled Tracer (its own rule, read from the environment
    at each call as it does), ``TracingOff`` instead: the X-Ray SDK is imported only where it
    traces."""
    if Tracer._is_tracer_disabled():
        return TracingOff()
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

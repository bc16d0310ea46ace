"""Structured logs: Powertools Logger's JSON, with correlation keys that follow one request or
one job.

Keys are set with ``thread_safe_append_keys``, which Powertools keeps in a context variable:
each record of a worker batch (an asyncio task, then a thread) and each request of the
local gateway (a thread) carries its own ``job_id`` / ``correlation_id`` even while others
run at once. What is logged is chosen here, field by field: methods, route templates,
statuses, ids, timings, never headers, bodies, query strings or keys.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Callable

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

CORE_LOGGER = "ragcore"


def route_core_logs(logger: Logger, in_lambda: bool | None = None) -> None:
    """In Lambda, ``ragcore.*`` modules (standard logging) write through the function's
    Powertools handler: the same JSON and the same correlation keys. Offline they keep the
    command line's own format (``ragcore dev`` prints them for a person)."""
    if in_lambda is None:
        in_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    if in_lambda:
        logging.getLogger(CORE_LOGGER)  # registered, so the copy finds it
        copy_config_to_registered_loggers(source_logger=logger, include={CORE_LOGGER})


def correlate(logger: Logger, **keys: Any) -> None:
    """Keys on every log line of this request or job (this context only)."""
    logger.thread_safe_append_keys(**{k: v for k, v in keys.items() if v is not None})


def _job_id_of(event: dict[str, Any], response: dict[str, Any]) -> str | None:
    """The job a request is about: the path's, or the one a 202 just made."""
    job_id = (event.get("pathParameters") or {}).get("job_id")
    if job_id or response.get("statusCode") != 202 or response.get("isBase64Encoded"):
        return job_id
    try:
        body = json.loads(response.get("body") or "{}")
    except ValueError:
        return None
    return body.get("job_id") if isinstance(body, dict) and isinstance(body.get("job_id"), str) else None


def logged_request(
    logger: Logger, event: dict[str, Any], serve: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Serves one API Gateway (REST) event and logs it in one line: method, route template,
    status, duration, and the job it concerns; correlated by API Gateway's request id."""
    context = event.get("requestContext") or {}
    # Not a repeat of ``inject_lambda_context(correlation_id_path=...)``: that one sets the key
    # with ``append_keys``, on the logger for every thread; this sets it for this context only,
    # and context keys win. In Lambda (one request at a time) they agree; in the local gateway,
    # where requests run at once on threads, only this keeps each line on its own request.
    correlate(logger, correlation_id=context.get("requestId"))
    started = time.perf_counter()
    status = 500
    response: dict[str, Any] = {}
    try:
        response = serve()
        status = int(response.get("statusCode", 500))
        return response
    finally:
        fields = {
            "method": event.get("httpMethod"),
            "route": event.get("resource"),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        job_id = _job_id_of(event, response)
        if job_id:
            fields["job_id"] = job_id
        (logger.error if status >= 500 else logger.info)("request", **fields)

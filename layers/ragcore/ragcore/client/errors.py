"""What can go wrong when calling the API, as exceptions a program can tell apart.

Every error the API answers is ``{"error": {"code", "message", ...}}``; each becomes an
``ApiError`` subclass chosen by HTTP status (and, for a failed or stopped job, by ``code``),
carrying the status, the code, the message and ``Retry-After``. The API key is never part of
an exception: it travels in a header, and no message here quotes a request's headers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import ValidationError

from ragcore.api_schema import ErrorBody, ErrorDetail
from ragcore.domain.jobs import JobStatus


class RagcoreError(Exception):
    """Base of every error the client raises."""


class ApiUnreachable(RagcoreError):
    """No answer from the API: it could not be reached, or the connection failed or timed
    out. ``request_sent`` is False only when the request surely never left (the connection
    was never made), so even a non-idempotent request may be sent again."""

    def __init__(self, method: str, path: str, cause: httpx.TransportError) -> None:
        super().__init__(f"{method} {path}: {type(cause).__name__}: {cause}")
        never_sent = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
        self.request_sent = not isinstance(cause, never_sent)


class UnexpectedResponse(RagcoreError):
    """An answer that is not what the API sends: a success whose body is not the expected
    document (a proxy's HTML page, a captive portal), redirects without end, or a result of
    the wrong kind. Nothing to resend; the URL is probably not the API's."""

    def __init__(self, method: str, path: str, problem: str) -> None:
        super().__init__(f"{method} {path}: {problem}")


class ApiError(RagcoreError):
    """An error answer. ``info`` holds any further fields of the error (a failed job's
    ``job_id`` and ``status``)."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: float | None = None,
        details: list[ErrorDetail] | None = None, info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.details = details or []
        self.info = info or {}


class BadRequest(ApiError):
    """400, 413, 415, 422: the request itself is wrong; sending it again will not help."""


class Unauthorized(ApiError):
    """401: no API key, or one that is unknown or revoked."""


class Forbidden(ApiError):
    """403: API Gateway's answer to a path it does not route (or a key it refuses)."""


class NotFound(ApiError):
    """404: no such job or document, or not one this key's tenant can see."""


class Conflict(ApiError):
    """409: the job or upload is not in a state that allows the request."""


class JobFailed(Conflict):
    """The job failed; ``message`` is the reason the worker recorded."""

    @property
    def job_id(self) -> str | None:
        return self.info.get("job_id")


class JobStopped(Conflict):
    """The job was stopped on request (``POST /jobs/{id}/cancel``)."""

    @property
    def job_id(self) -> str | None:
        return self.info.get("job_id")


class RateLimited(ApiError):
    """429: the key's rate limit or daily quota is spent, or API Gateway throttled the call."""


class ServerError(ApiError):
    """5xx."""


class Unavailable(ServerError):
    """503: a dependency of the API is down for now; ``retry_after`` says when to try again."""


class WaitTimeout(RagcoreError):
    """The job was still queued or started when ``wait`` gave up; it keeps running."""

    def __init__(self, job_id: str, status: JobStatus, timeout: float) -> None:
        super().__init__(f"job {job_id} is still {status.value} after {timeout:g} s")
        self.job_id = job_id
        self.status = status
        self.timeout = timeout


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: BadRequest,
    415: BadRequest, 422: BadRequest, 429: RateLimited, 503: Unavailable,
}
_BY_CODE: dict[str, type[ApiError]] = {"job_failed": JobFailed, "job_stopped": JobStopped}


def error_from_response(response: httpx.Response) -> ApiError:
    """The exception for an error answer. A body that is not the API's error shape (a proxy's
    HTML page) still gives an error with the status, and ``http_<status>`` as its code."""
    return error_from_body(response.status_code, response.content, response.reason_phrase,
                           parse_retry_after(response.headers.get("Retry-After")))


def error_from_body(status: int, body: bytes | str, reason: str = "", retry_after: float | None = None) -> ApiError:
    """The exception for an error document answered with HTTP ``status``; also what a job's
    event stream ends with when the job failed or was stopped (its ``error`` event carries the
    document ``GET /result`` would answer, a 409)."""
    try:
        error = ErrorBody.model_validate_json(body).error
    except ValidationError:
        kind = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
        return kind(status, f"http_{status}", reason or "error", retry_after)
    kind = _BY_CODE.get(error.code) or _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return kind(status, error.code, error.message, retry_after, error.details, error.model_extra)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait, from ``Retry-After`` as seconds or as an HTTP date; None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())

"""The client's retry and polling schedules, and which refusals each kind of request may send
again (``ragcore.client.backoff``), on tenacity with a recording sleep."""

from __future__ import annotations

from typing import Callable

import httpx
import pytest
from tenacity import RetryCallState, Retrying

from ragcore.api_schema import Links, NotReady
from ragcore.client import backoff
from ragcore.client.errors import (
    ApiUnreachable,
    BadRequest,
    Conflict,
    JobFailed,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    WaitTimeout,
)
from ragcore.domain.jobs import JobStatus

JOB = "a" * 32
GATEWAY_TIMEOUT = ServerError(504, "INTEGRATION_TIMEOUT", "Endpoint request timed out")
APP_UNAVAILABLE = Unavailable(503, "dependency_unavailable", "queue is unavailable", retry_after=5)
OTHER_UNAVAILABLE = Unavailable(503, "http_503", "Service Unavailable")
THROTTLED = RateLimited(429, "rate_limited", "too many requests; retry after 2 s", retry_after=2)
QUOTA_SPENT = RateLimited(429, "quota_exceeded", "daily quota used up", retry_after=40_000)
NEVER_SENT = ApiUnreachable("POST", "/chat", httpx.ConnectError("connection refused"))
LOST_REPLY = ApiUnreachable("POST", "/chat", httpx.ReadTimeout("timed out"))
UNAUTHORIZED = Unauthorized(401, "unauthorized", "send a valid API key")
INVALID = BadRequest(422, "invalid_request", "the request is not valid")


IN_FLIGHT = Conflict(409, "idempotency_key_in_flight", "still in progress", retry_after=1)
UPLOAD_INCOMPLETE = Conflict(409, "upload_incomplete", "the file has not arrived")


@pytest.mark.parametrize(("error", "idempotent", "keyed"), [
    (THROTTLED, True, True),
    (QUOTA_SPENT, False, False),  # hours away: the caller decides, not a hidden sleep
    (APP_UNAVAILABLE, True, True),
    (OTHER_UNAVAILABLE, True, True),
    (GATEWAY_TIMEOUT, True, True),  # the job may exist: a keyed resend gets it back, not a second
    (NEVER_SENT, True, True),
    (LOST_REPLY, True, True),
    (IN_FLIGHT, False, True),  # the first send of a keyed request is still running
    (UPLOAD_INCOMPLETE, False, False),
    (UNAUTHORIZED, False, False),
    (INVALID, False, False),
    (ServerError(500, "internal_error", "unexpected"), False, False),  # may have made a job, freed its key
])
def test_which_refusals_each_kind_of_request_sends_again(error: Exception, idempotent: bool, keyed: bool) -> None:
    assert backoff.idempotent(error) is idempotent
    assert backoff.keyed(error) is keyed


def failing(*errors: Exception) -> Callable[[], str]:
    """Raises each error in turn, then answers."""
    pending = list(errors)

    def call() -> str:
        if pending:
            raise pending.pop(0)
        return "answer"

    return call


def test_retry_after_is_honoured_and_backoff_fills_in_without_it() -> None:
    sleeps: list[float] = []
    retrying = Retrying(**backoff.resending(backoff.idempotent, retries=3), sleep=sleeps.append)
    assert retrying(failing(APP_UNAVAILABLE, OTHER_UNAVAILABLE, THROTTLED)) == "answer"
    assert sleeps[0] == 5 and sleeps[2] == 2
    assert 0.5 <= sleeps[1] <= 1.5  # exponential from 0.5 s, second attempt: 1 s, up to 0.5 s jitter


def test_the_last_error_is_raised_once_retries_are_spent() -> None:
    sleeps: list[float] = []
    retrying = Retrying(**backoff.resending(backoff.idempotent, retries=2), sleep=sleeps.append)
    with pytest.raises(Unavailable):
        retrying(failing(APP_UNAVAILABLE, APP_UNAVAILABLE, APP_UNAVAILABLE))
    assert sleeps == [5, 5]


def test_a_refusal_the_policy_does_not_allow_is_raised_at_once() -> None:
    sleeps: list[float] = []
    retrying = Retrying(**backoff.resending(backoff.keyed), sleep=sleeps.append)
    with pytest.raises(BadRequest) as raised:
        retrying(failing(INVALID))
    assert raised.value is INVALID and sleeps == []


def not_ready(status: JobStatus = JobStatus.STARTED) -> NotReady:
    return NotReady(job_id=JOB, status=status, message="wait", links=Links(status="s", result="r"))


def test_polling_backs_off_from_a_quarter_second_to_the_apis_two_seconds() -> None:
    sleeps: list[float] = []
    outcomes = [not_ready()] * 6 + ["answer"]
    retrying = Retrying(**backoff.polling(JOB, timeout=60), sleep=sleeps.append)
    assert retrying(lambda: outcomes.pop(0)) == "answer"
    assert sleeps == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_polling_never_sleeps_past_the_timeout() -> None:
    state = RetryCallState(Retrying(), None, (), {})
    state.attempt_number = 5
    state.outcome_timestamp = state.start_time + 9.5
    assert backoff.poll_wait(10)(state) == 0.5
    state.outcome_timestamp = state.start_time + 11
    assert backoff.poll_wait(10)(state) == 0


def test_polling_ends_with_a_timeout_naming_the_last_status() -> None:
    retrying = Retrying(**backoff.polling(JOB, timeout=0.3))
    with pytest.raises(WaitTimeout) as raised:
        retrying(lambda: not_ready(JobStatus.QUEUED))
    assert raised.value.status is JobStatus.QUEUED and raised.value.job_id == JOB
    assert str(raised.value) == f"job {JOB} is still queued after 0.3 s"


def test_a_failed_job_ends_polling_at_once() -> None:
    sleeps: list[float] = []
    failed = JobFailed(409, "job_failed", "the model refused", info={"job_id": JOB, "status": "failed"})
    with pytest.raises(JobFailed):
        Retrying(**backoff.polling(JOB, timeout=60), sleep=sleeps.append)(failing(failed))
    assert sleeps == []

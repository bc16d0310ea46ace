"""When the client sends a request again, how long it waits first, and how it polls a job.

Both are tenacity policies, shared by ``Client`` and ``AsyncClient`` (tenacity's ``Retrying``
and ``AsyncRetrying`` take the same arguments).

Which refusals may be sent again depends on the request:

- ``idempotent`` (every GET, and ``POST /jobs/{id}/cancel``, which the API makes idempotent:
  stopping a stopped job answers 200 again): 429, 502, 503, 504 and lost connections.
- ``keyed`` (``POST /chat``, ``POST /documents`` and the upload calls, which make a job or a
  ticket each time they get through): each is sent with an ``Idempotency-Key`` (``calls.idempotency``),
  the same on every resend, and the API answers a resend of a request it has answered with that
  first answer (same job) rather than making another (``rag_api.idempotency``). So what
  ``idempotent`` resends is safe here too, a lost answer and a gateway's 502/504 included, and
  so is ``409 idempotency_key_in_flight`` (the first send is still running; its ``Retry-After``
  is short). A 500 is not resent: the first send may have made a job and freed its key.

A ``Retry-After`` longer than ``MAX_RETRY_AFTER`` (a spent daily quota) is not slept through:
the error is raised for the caller to decide.

Within ``wait`` (and ``ask``) every request, and every resend of it, fits in what is left of
the caller's timeout: a request's own timeout is cut to it, and a resend whose wait would not
end before it is not made (``resending(budget=...)``), so ``ask --timeout 10`` ends in about
10 s whatever the API answers.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable, Iterator, NoReturn

import httpx
from tenacity import (
    RetryCallState,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from ragcore.api_schema import JobResult, NotReady
from ragcore.client.errors import ApiError, ApiUnreachable, Conflict, RateLimited, ServerError, WaitTimeout
from ragcore.domain.jobs import JobStatus

Replayable = Callable[[BaseException], bool]

RETRIES = 3  # resends after the first attempt
MAX_RETRY_AFTER = 30.0
# Without Retry-After: 0.5 s, 1 s, 2 s ... (each up to 0.5 s more, so clients spread out).
BACKOFF_FIRST, BACKOFF_MAX, BACKOFF_JITTER = 0.5, 8.0, 0.5
_BACKOFF = wait_exponential_jitter(initial=BACKOFF_FIRST, max=BACKOFF_MAX, jitter=BACKOFF_JITTER)
# Polling a job: 0.25 s, 0.5 s, 1 s, then every 2 s. Fixed here, not read from the 202's
# Retry-After (which says 2 today): polling starts faster than the API suggests, so a quick
# answer is seen at once.
POLL_FIRST, POLL_MAX = 0.25, 2.0
# The least a request is given near the end of a budget: a last poll gets a real chance.
MIN_REQUEST_SECONDS = 1.0
_POLL = wait_exponential(multiplier=POLL_FIRST, max=POLL_MAX)


def _waits_short(exc: BaseException) -> bool:
    return not isinstance(exc, ApiError) or exc.retry_after is None or exc.retry_after <= MAX_RETRY_AFTER


def idempotent(exc: BaseException) -> bool:
    transient = isinstance(exc, (RateLimited, ApiUnreachable)) or (
        isinstance(exc, ServerError) and exc.status in (502, 503, 504)
    )
    return transient and _waits_short(exc)


def keyed(exc: BaseException) -> bool:
    in_flight = isinstance(exc, Conflict) and exc.code == "idempotency_key_in_flight"
    return idempotent(exc) or (in_flight and _waits_short(exc))


class wait_retry_after(wait_base):  # noqa: N801 - named like tenacity's strategies
    """The error's ``Retry-After`` if it has one, else exponential backoff with jitter."""

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, ApiError) and exc.retry_after is not None:
            return exc.retry_after
        return _BACKOFF(retry_state)


class _stop_out_of_time(stop_base):  # noqa: N801 - named like tenacity's strategies
    """Stops when the next resend's wait would end past ``budget`` seconds from the first
    attempt (tenacity computes the wait before asking the stop)."""

    def __init__(self, budget: float) -> None:
        self.budget = budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        return (retry_state.seconds_since_start or 0.0) + retry_state.upcoming_sleep >= self.budget


def resending(
    replayable: Replayable, retries: int = RETRIES, budget: float | None = None,
    out_of_time: Callable[[BaseException], NoReturn] | None = None,
) -> dict[str, Any]:
    """Arguments for ``Retrying``/``AsyncRetrying`` around one request: the last error is
    raised as it is once the policy says no or the retries are spent. With ``budget``
    (seconds), no resend is made that would start after it; if that, not the count, ended the
    resends, ``out_of_time`` gets the last error (to raise its own instead)."""
    attempts = stop_after_attempt(retries + 1)
    if budget is None:
        return dict(retry=retry_if_exception(replayable), wait=wait_retry_after(), stop=attempts,
                    reraise=True)

    def give_up(retry_state: RetryCallState) -> Any:
        outcome = retry_state.outcome  # an error: only errors are retried
        exc = outcome.exception() if outcome else None
        if exc is not None and out_of_time is not None and not attempts(retry_state):
            out_of_time(exc)
        return outcome.result() if outcome else None  # raises the last error as it is

    return dict(retry=retry_if_exception(replayable), wait=wait_retry_after(),
                stop=attempts | _stop_out_of_time(max(0.0, budget)), retry_error_callback=give_up)


def reconnect_wait(quiet: int) -> float:
    """Before reconnecting to a job's event stream after ``quiet`` connections in a row that
    brought no event: none after one that did, else the resends' backoff (with its jitter)."""
    if quiet <= 0:
        return 0.0
    return min(BACKOFF_FIRST * 2 ** (quiet - 1), BACKOFF_MAX) + random.uniform(0, BACKOFF_JITTER)


def request_timeout(default: httpx.Timeout, deadline: float | None) -> httpx.Timeout:
    """The client's timeouts, each cut to what is left before ``deadline`` (``time.monotonic``),
    though never below ``MIN_REQUEST_SECONDS``."""
    if deadline is None:
        return default
    left = max(MIN_REQUEST_SECONDS, deadline - time.monotonic())

    def cut(value: float | None) -> float:
        return left if value is None else min(value, left)

    return httpx.Timeout(connect=cut(default.connect), read=cut(default.read), write=cut(default.write),
                         pool=cut(default.pool))


def poll_wait(timeout: float) -> Callable[[RetryCallState], float]:
    """The polling backoff, never sleeping past ``timeout`` (so the last poll is at it)."""
    def wait(retry_state: RetryCallState) -> float:
        remaining = timeout - (retry_state.seconds_since_start or 0.0)
        return max(0.0, min(_POLL(retry_state), remaining))

    return wait


def poll_pauses() -> Iterator[float]:
    """The pauses between polls of ``polling``, for a caller that polls itself (the events of
    a server without the events route)."""
    pause = POLL_FIRST
    while True:
        yield pause
        pause = min(pause * 2, POLL_MAX)


def polling(job_id: str, timeout: float, remaining: float | None = None) -> dict[str, Any]:
    """Arguments for ``Retrying``/``AsyncRetrying`` that call ``result`` until it is not a
    ``NotReady``; a failed or stopped job's error is raised at once, and ``WaitTimeout`` once
    ``remaining`` seconds (default ``timeout``, which the error names) have passed."""
    left = timeout if remaining is None else max(0.0, remaining)

    def give_up(retry_state: RetryCallState) -> None:
        last = retry_state.outcome.result() if retry_state.outcome else None
        raise WaitTimeout(job_id, last.status if isinstance(last, NotReady) else JobStatus.QUEUED, timeout)

    return dict(retry=retry_if_result(lambda outcome: isinstance(outcome, NotReady)),
                wait=poll_wait(left), stop=stop_after_delay(left), retry_error_callback=give_up)


StatusCallback = Callable[[JobStatus], None]


class WaitProgress:
    """What a wait has seen of its job: the last status, which ``WaitTimeout`` names when a
    poll's own resends run out of time, and which ``on_status`` hears at each poll."""

    def __init__(self, job_id: str, timeout: float, on_status: StatusCallback | None) -> None:
        self.job_id = job_id
        self.timeout = timeout
        self.on_status = on_status
        self.last = JobStatus.QUEUED

    def seen(self, outcome: JobResult | NotReady) -> JobResult | NotReady:
        if isinstance(outcome, NotReady):
            self.last = outcome.status
            if self.on_status:
                self.on_status(outcome.status)
        return outcome

    def out_of_time(self, exc: BaseException) -> NoReturn:
        raise WaitTimeout(self.job_id, self.last, self.timeout) from exc

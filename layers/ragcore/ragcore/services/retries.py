"""Retrying transient failures: inside one invocation, within its time budget, then by
redelivery after a growing delay.

Tenacity does the looping. This module says what is transient (``DependencyUnavailableError``:
an LLM 429/5xx/timeout, the vector store or Valkey unreachable), how long to wait (exponential
with jitter, or the server's Retry-After when that is longer) and when to give up: out of
tries, or the wait would leave too little of the budget for another try. The message then
goes back to the queue for a later delivery, hidden for ``RedeliveryPolicy.delay`` seconds
rather than the queue's whole visibility timeout (docs/RELIABILITY.md has the timeline).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from ragcore.domain.budget import Budget
from ragcore.domain.errors import DependencyUnavailableError

if TYPE_CHECKING:
    from ragcore.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    tries: int = 3  # per invocation, the first one included
    initial_wait: float = 0.5  # then doubling, plus up to as much again of jitter
    max_wait: float = 8.0
    min_try_seconds: float = 2.0  # no new try with less time than this left


def retrying(policy: RetryPolicy, budget: Budget) -> Retrying:
    backoff = wait_exponential_jitter(
        multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.initial_wait
    )

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hinted = getattr(error, "retry_after", None) or 0.0
        return max(backoff(state), hinted)

    def stop(state: RetryCallState) -> bool:
        out_of_tries = state.attempt_number >= policy.tries
        out_of_time = state.upcoming_sleep + policy.min_try_seconds > budget.remaining()
        return out_of_tries or out_of_time

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("transient failure, retrying in %.1f s: %s", state.upcoming_sleep, error)

    return Retrying(
        retry=retry_if_exception_type(DependencyUnavailableError),
        wait=wait,
        stop=stop,
        before_sleep=before_sleep,
        reraise=True,
    )


@dataclass(frozen=True)
class RedeliveryPolicy:
    """How long a job's message stays hidden after delivery ``n`` failed transiently:
    ``initial_delay`` x 3^(n-1), at most ``max_delay`` (10, 30, 90, 120, ... s by default).

    Short outages are ridden out by the early, quick redeliveries; a lasting one reaches the
    last delivery (and a ``failed`` verdict) in bounded time instead of n x the visibility
    timeout. Whole seconds: SQS's ChangeMessageVisibility takes nothing finer."""

    initial_delay: int = 10
    max_delay: int = 120

    @classmethod
    def from_settings(cls, settings: Settings) -> RedeliveryPolicy:
        """The one way the worker and the checks of its schedule build it (REDELIVERY_*)."""
        return cls(settings.redelivery_initial_seconds, settings.redelivery_max_seconds)

    def delay(self, delivery: int) -> int:
        return min(self.max_delay, self.initial_delay * 3 ** max(0, delivery - 1))

    def time_to_verdict(self, max_attempts: int, invocation_seconds: float) -> float:
        """The longest a job whose dependency stays down can take to end ``failed``: every
        delivery runs a whole invocation, and each but the last waits its delay. (A message
        whose job store is down, so nothing could be recorded, is not on this schedule: it
        comes back after the queue's own visibility timeout.)"""
        waits = sum(self.delay(n) for n in range(1, max_attempts))
        return waits + max_attempts * invocation_seconds

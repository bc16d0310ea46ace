"""The time an invocation has left, so retries and timeouts end before Lambda's own timeout
kills the worker mid-write."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    deadline: float  # on the time.monotonic() clock

    @classmethod
    def of(cls, seconds: float) -> "Budget":
        return cls(time.monotonic() + max(0.0, seconds))

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

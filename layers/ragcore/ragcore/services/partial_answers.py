"""Partial answers: the text an answer's LLM stream has written so far, kept on its job so a
client polling ``GET /job-status`` or following ``GET /jobs/{id}/events`` sees it grow.

The first piece is written at once (a client's first sight of the answer is what it waits
for), later ones at most every ``interval_ms`` (setting ``PARTIAL_ANSWER_INTERVAL_MS``: one
store write per interval, however fast the model writes). Text held back by the interval is
written when the interval ends, by a timer, so what the model wrote before a pause is seen
during the pause, not at its next token; the rest is written when the stream ends. A write is
a convenience, never the job's work: one that fails is logged and skipped, and once the store
refuses one (another attempt owns the job now) this writer stops.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Callable, Protocol

from ragcore.ports import JobStore

log = logging.getLogger(__name__)


class Timer(Protocol):
    """``threading.Timer``'s shape; tests hand in one they fire themselves."""

    def start(self) -> None: ...
    def cancel(self) -> None: ...


def _daemon_timer(seconds: float, call: Callable[[], None]) -> Timer:
    timer = threading.Timer(seconds, call)
    timer.daemon = True  # never holds the process; the writer's exit cancels it anyway
    return timer


class PartialAnswers:
    """One LLM stream's writer, used as ``with PartialAnswers(...) as w: chat.stream(...,
    w.update)``: the end of a stream that completed writes what is left; a stream that failed
    only stops the timer (its attempt's retry starts the text again)."""

    def __init__(
        self, store: JobStore, job_id: str, attempt: int, interval_ms: int,
        clock: Callable[[], float] = time.monotonic,
        timer: Callable[[float, Callable[[], None]], Timer] = _daemon_timer,
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._attempt = attempt
        self._interval = interval_ms / 1000
        self._clock = clock
        self._new_timer = timer
        self._lock = threading.Lock()  # the stream's thread and the timer's both write
        self._timer: Timer | None = None
        self._pending = ""
        self._written = ""
        self._written_at: float | None = None
        self._done = False

    def __enter__(self) -> PartialAnswers:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        with self._lock:
            self._stop_timer()
            if kind is None and self._pending != self._written:
                self._write()
            self._done = True

    def update(self, text: str) -> None:
        with self._lock:
            self._pending = text
            wait = 0.0 if self._written_at is None else self._written_at + self._interval - self._clock()
            if wait <= 0:
                self._stop_timer()
                self._write()
            elif self._timer is None:
                timer = self._new_timer(wait, lambda: self._on_timer(timer))
                self._timer = timer
                timer.start()

    def _on_timer(self, timer: Timer) -> None:
        with self._lock:
            if self._timer is not timer:  # stopped, or a write came first and a newer one waits
                return
            self._timer = None
            if self._pending != self._written:
                self._write()  # nothing, once the writer is done

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _write(self) -> None:
        if self._done:
            return
        text = self._pending
        try:
            refused = not self._store.write_partial(self._job_id, self._attempt, text)
        except Exception:
            log.warning("partial answer not written; the next one carries it", exc_info=True,
                        extra={"job_id": self._job_id})
        else:
            self._written = text
            self._done = refused
        self._written_at = self._clock()

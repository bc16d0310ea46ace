"""Partial answers: the text an answer's LLM stream has written so far, kept on its job so a
client polling ``GET /job-status`` or following ``GET /jobs/{id}/events`` sees it grow.

The first piece is written at once (a client's first sight of the answer is what it waits
for), later ones at most every ``interval_ms`` (setting ``PARTIAL_ANSWER_INTERVAL_MS``: one
store write per interval, however fast the model writes), and the rest when the stream ends.
A write is a convenience, never the job's work: one that fails is logged and skipped, and
once the store refuses one (another attempt owns the job now) this writer stops.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from ragcore.ports import JobStore

log = logging.getLogger(__name__)


class PartialAnswers:
    """One LLM stream's writer: ``update`` is its ``on_text``, ``flush`` follows its end."""

    def __init__(
        self, store: JobStore, job_id: str, attempt: int, interval_ms: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._attempt = attempt
        self._interval = interval_ms / 1000
        self._clock = clock
        self._pending = ""
        self._written = ""
        self._written_at: float | None = None
        self._refused = False

    def update(self, text: str) -> None:
        self._pending = text
        if self._written_at is None or self._clock() - self._written_at >= self._interval:
            self._write()

    def flush(self) -> None:
        if self._pending != self._written:
            self._write()

    def _write(self) -> None:
        if self._refused:
            return
        text = self._pending
        try:
            self._refused = not self._store.write_partial(self._job_id, self._attempt, text)
        except Exception:
            log.warning("partial answer not written; the next one carries it", exc_info=True,
                        extra={"job_id": self._job_id})
        else:
            self._written = text
        self._written_at = self._clock()

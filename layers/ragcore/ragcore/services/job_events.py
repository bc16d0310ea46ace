"""Following one job for a client (``GET /jobs/{id}/events``): the job's event stream
(``domain/job_events.py``) turned into what the client is sent, from where it left off.

Every event sent carries the id of the stream entry it reports, so a client that reconnects
with the last id it saw gets exactly the events after it. Where the stream no longer holds
what the client missed (trimmed), or a fresh client would start in the middle of an answer,
it gets a snapshot instead: the job's status and its whole answer so far (a ``delta`` at
offset 0), named by the newest entry's id. The last event is the job's final document
(``result``, or ``error`` for a failed or stopped job), what ``GET /result`` answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ragcore.api_schema import final_document
from ragcore.domain.errors import JobNotFoundError
from ragcore.domain.job_events import DELTA, STATUS, JobEvent, event_order
from ragcore.domain.jobs import Job, JobStatus
from ragcore.ports import DocumentStore, JobStore
from ragcore.services.jobs import settle_overdue

PAGE = 100  # entries read per poll: bounded work, however far behind the client is
START = "0-0"  # the id before every entry: where a client that has seen nothing stands
# While nothing happens, how often the job itself is read again: settled if it is overdue
# (as GET /job-status does), and the stream ended if the job has gone.
RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class Outgoing:
    """One server-sent event: ``event`` is status, delta, result or error."""

    id: str
    event: str
    data: dict[str, Any]


class JobFollower:
    """One client's view of one job, polled until ``done``. ``job``: the job as the client
    may see it, read (and settled) just before; ``after``: the last id the client saw."""

    def __init__(self, store: JobStore, documents: DocumentStore, job: Job, after: str | None) -> None:
        self._store = store
        self._documents = documents
        self._job_id = job.job_id
        self._job = job
        self._after = after
        self._cursor = after or START
        self._opened = False
        self._checked_at = time.monotonic()
        self.done = False

    def poll(self, block_ms: int) -> list[Outgoing]:
        """The next events; waits up to ``block_ms`` for one when there is none (not on the
        first poll, which answers at once)."""
        if self.done:
            return []
        if not self._opened:
            self._opened = True
            return self._open()
        events = self._store.read_events(self._job_id, self._cursor, block_ms=block_ms, count=PAGE)
        return self._relay(events) if events else self._idle()

    def _open(self) -> list[Outgoing]:
        first = self._store.read_events(self._job_id, None, count=1)
        if first and self._missed(first[0]):
            return self._snapshot()
        events = self._store.read_events(self._job_id, self._cursor, count=PAGE)
        if events:
            return self._relay(events)
        return self._ending(self._job) if self._job.status.is_terminal else []

    def _missed(self, oldest: JobEvent) -> bool:
        """Whether the client would miss answer text: it resumes before the oldest entry kept
        (older ones were trimmed), or, new, would start at a delta in the middle of an answer."""
        if self._after is not None:
            return event_order(self._after) < event_order(oldest.id)
        return oldest.type == DELTA and oldest.data.get("offset", 0) > 0

    def _snapshot(self) -> list[Outgoing]:
        """The job as it stands, named by the newest entry's id: the entries up to it are read
        first, so the job read after them holds at least what they report (a later delta sent
        again rewrites the same text at the same offset)."""
        newest = self._cursor
        while page := self._store.read_events(self._job_id, newest, count=PAGE):
            newest = page[-1].id
        self._cursor = newest
        job = self._current()
        if job is None:
            return []
        if job.status.is_terminal:
            return self._ending(job)
        sent = [self._status(newest, job.status.value, job.attempts)]
        if job.partial_answer:
            sent.append(Outgoing(newest, "delta", {"offset": 0, "text": job.partial_answer}))
        return sent

    def _relay(self, events: list[JobEvent]) -> list[Outgoing]:
        sent: list[Outgoing] = []
        for event in events:
            self._cursor = event.id
            if event.type == DELTA:
                sent.append(Outgoing(event.id, "delta", {"offset": event.data["offset"], "text": event.data["text"]}))
            elif event.type == STATUS:
                sent.append(self._status(event.id, event.data["status"], event.data.get("attempt", 0)))
                if JobStatus(event.data["status"]).is_terminal:
                    job = self._current()
                    final = self._final(job) if job is not None else None
                    if final is not None:
                        sent.append(final)
                    if self.done:  # its final document sent, or the job gone; else redriven since
                        break
        return sent

    def _idle(self) -> list[Outgoing]:
        """Nothing new: now and then the job is read again. An overdue job is settled (its
        failure then arrives as an event); a final job whose end the stream does not show
        (the client resumed after it) is ended here; a job gone ends the stream."""
        if time.monotonic() - self._checked_at < RECHECK_SECONDS:
            return []
        self._checked_at = time.monotonic()
        job = self._current()
        if job is None:
            return []
        job = settle_overdue(job, self._store, self._documents)
        if not job.status.is_terminal:
            return []
        events = self._store.read_events(self._job_id, self._cursor, count=PAGE)
        return self._relay(events) if events else self._ending(job)

    def _current(self) -> Job | None:
        """The job as stored now; None once it has gone (expired, or deleted), which ends the
        stream: there is nothing more to follow, and a reconnection is answered 404."""
        try:
            return self._store.get(self._job_id)
        except JobNotFoundError:
            self.done = True
            return None

    def _ending(self, job: Job) -> list[Outgoing]:
        """A final job's status and document, named by the last id the client has."""
        final = self._final(job)
        return [self._status(self._cursor, job.status.value, job.attempts), final] if final else []

    def _final(self, job: Job) -> Outgoing | None:
        if not job.status.is_terminal:
            return None
        outcome = self._store.get_result(self._job_id) if job.status is JobStatus.FINISHED else None
        self.done = True
        try:
            status, document = final_document(job, outcome)
        except JobNotFoundError:  # gone since it was read: the stream ends, as in _current
            return None
        return Outgoing(self._cursor, "result" if status == 200 else "error", document)

    def _status(self, event_id: str, status: str, attempt: int) -> Outgoing:
        return Outgoing(event_id, "status", {"job_id": self._job_id, "status": status, "attempt": attempt})

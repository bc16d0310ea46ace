"""What a redrive does with each kind of dead letter."""

from __future__ import annotations

import time

from ragcore.domain.jobs import JobStatus, new_job, new_job_id
from ragcore.domain.messages import JobMessage
from ragcore.ports import DeadLetter
from ragcore.services.redrive import redrive
from tests.support.fakes import InMemoryJobStore


class ListDeadLetters:
    def __init__(self, bodies: list[str]) -> None:
        self.waiting = [DeadLetter(body=b, handle=str(i)) for i, b in enumerate(bodies)]
        self.sent_back: list[str] = []
        self.discarded: list[str] = []

    def receive(self) -> list[DeadLetter]:
        batch, self.waiting = self.waiting[:2], self.waiting[2:]
        return batch

    def send_back(self, letter: DeadLetter) -> None:
        self.sent_back.append(letter.body)

    def discard(self, letter: DeadLetter) -> None:
        self.discarded.append(letter.body)


def job_in(store: InMemoryJobStore, status: JobStatus) -> str:
    job = new_job("chat", {"query": "q"}, 60)
    store.create(job.model_copy(update={"status": status, "attempts": 3, "error": "gave up"}))
    return job.job_id


def body(job_id: str) -> str:
    return JobMessage(job_id=job_id).model_dump_json()


def test_each_letter_is_requeued_resent_dropped_or_left() -> None:
    store = InMemoryJobStore()
    failed, queued = job_in(store, JobStatus.FAILED), job_in(store, JobStatus.QUEUED)
    dead_worker, busy = job_in(store, JobStatus.STARTED), job_in(store, JobStatus.STARTED)
    store.jobs[busy].lease_until = time.time() + 60  # a worker holds this one right now
    finished, expired = job_in(store, JobStatus.FINISHED), new_job_id()
    letters = ListDeadLetters(
        [body(j) for j in (failed, queued, dead_worker, busy, finished, expired)] + ["garbage"]
    )
    report = redrive(letters, store, lambda kind: 900)
    assert (report.requeued, report.resent, report.dropped, report.unreadable) == (3, 1, 2, 1)
    assert letters.sent_back == [body(failed), body(queued), body(dead_worker), body(busy)]
    assert letters.discarded == [body(finished), body(expired)]  # "garbage" stays for a person
    for job_id in (failed, queued, dead_worker):
        requeued = store.get(job_id)
        assert requeued.status is JobStatus.QUEUED and requeued.attempts == 0 and requeued.error is None
        assert requeued.deadline_at is not None and requeued.deadline_at > time.time() + 800
    assert store.get(busy).status is JobStatus.STARTED and store.get(busy).attempts == 3


def test_a_job_asked_to_stop_is_stopped_not_rerun() -> None:
    store = InMemoryJobStore()
    job_id = job_in(store, JobStatus.STARTED)
    store.request_cancel(job_id)
    letters = ListDeadLetters([body(job_id)])
    assert redrive(letters, store, lambda kind: 900).dropped == 1
    assert store.get(job_id).status is JobStatus.STOPPED and letters.sent_back == []

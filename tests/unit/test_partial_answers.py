"""A stream's partial answers: the first piece at once, then one write per interval, the rest
at the end; a failed write is skipped, a refused one ends the writing."""

from __future__ import annotations

from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.jobs import new_job
from ragcore.services.partial_answers import PartialAnswers
from tests.support.fakes import InMemoryJobStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def started() -> tuple[InMemoryJobStore, str, int]:
    store = InMemoryJobStore()
    job = new_job("chat", {"query": "q"}, 600)
    store.create(job)
    return store, job.job_id, store.claim(job.job_id, 60).attempt


def deltas(store: InMemoryJobStore, job_id: str) -> list[str]:
    return [e.data["text"] for e in store.read_events(job_id, None) if e.type == "delta"]


def test_the_first_piece_at_once_then_one_write_per_interval_and_the_rest_at_the_end() -> None:
    store, job_id, attempt = started()
    clock = Clock()
    writer = PartialAnswers(store, job_id, attempt, interval_ms=100, clock=clock)
    writer.update("The")
    assert store.get(job_id).partial_answer == "The"  # not held back for the interval
    clock.now = 0.05
    writer.update("The light")
    writer.update("The light was")
    assert store.get(job_id).partial_answer == "The"
    clock.now = 0.1
    writer.update("The light was first")
    assert store.get(job_id).partial_answer == "The light was first"
    clock.now = 0.15
    writer.update("The light was first lit.")
    writer.flush()
    writer.flush()  # nothing new: nothing written
    assert store.get(job_id).partial_answer == "The light was first lit."
    assert deltas(store, job_id) == ["The", " light was first", " lit."]


def test_a_zero_interval_writes_every_piece() -> None:
    store, job_id, attempt = started()
    writer = PartialAnswers(store, job_id, attempt, interval_ms=0, clock=Clock())
    for text in ("a", "a b", "a b c"):
        writer.update(text)
    assert deltas(store, job_id) == ["a", " b", " c"]


class FlakyStore(InMemoryJobStore):
    def __init__(self) -> None:
        super().__init__()
        self.fail_next = 0

    def write_partial(self, job_id: str, attempt: int, text: str) -> bool:
        if self.fail_next:
            self.fail_next -= 1
            raise DependencyUnavailableError("valkey", "timeout")
        return super().write_partial(job_id, attempt, text)


def test_a_failed_write_is_skipped_and_the_next_carries_its_text() -> None:
    store = FlakyStore()
    job = new_job("chat", {"query": "q"}, 600)
    store.create(job)
    attempt = store.claim(job.job_id, 60).attempt
    store.fail_next = 1
    writer = PartialAnswers(store, job.job_id, attempt, interval_ms=0, clock=Clock())
    writer.update("one")  # fails: logged, not raised
    writer.update("one two")
    assert deltas(store, job.job_id) == ["one two"]
    store.fail_next = 1
    writer.update("one two three")
    writer.flush()  # the failed text is written at the end
    assert store.get(job.job_id).partial_answer == "one two three"


def test_a_writer_whose_attempt_lost_the_job_stops_writing() -> None:
    store, job_id, attempt = started()
    writer = PartialAnswers(store, job_id, attempt + 1, interval_ms=0, clock=Clock())
    calls = []
    store.write_partial = lambda *args: calls.append(args) or False  # type: ignore[method-assign]
    writer.update("a")
    writer.update("a b")
    writer.flush()
    assert len(calls) == 1

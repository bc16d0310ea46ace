"""A stream's partial answers: the first piece at once, then one write per interval, text held
back by the interval written when it ends (a timer) and the rest at the end of a stream that
completed; a failed write is skipped, a refused one ends the writing."""

from __future__ import annotations

import threading
from typing import Callable

import pytest

from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.jobs import new_job
from ragcore.services.partial_answers import PartialAnswers
from tests.support.fakes import InMemoryJobStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Timers:
    """Timers the test fires itself: ``due`` holds the started, uncancelled ones."""

    def __init__(self) -> None:
        self.due: list[Timers.Timer] = []

    class Timer:
        def __init__(self, owner: Timers, seconds: float, call: Callable[[], None]) -> None:
            self.owner, self.seconds, self.call = owner, seconds, call

        def start(self) -> None:
            self.owner.due.append(self)

        def cancel(self) -> None:
            self.owner.due.remove(self)

    def __call__(self, seconds: float, call: Callable[[], None]) -> Timers.Timer:
        return Timers.Timer(self, seconds, call)

    def fire(self) -> None:
        timer = self.due.pop(0)
        timer.call()


def started(store: InMemoryJobStore | None = None) -> tuple[InMemoryJobStore, str, int]:
    store = store or InMemoryJobStore()
    job = new_job("chat", {"query": "q"}, 600)
    store.create(job)
    return store, job.job_id, store.claim(job.job_id, 60).attempt


def deltas(store: InMemoryJobStore, job_id: str) -> list[str]:
    return [e.data["text"] for e in store.read_events(job_id, None) if e.type == "delta"]


def test_the_first_piece_at_once_then_one_write_per_interval_and_the_rest_at_the_end() -> None:
    store, job_id, attempt = started()
    clock, timers = Clock(), Timers()
    with PartialAnswers(store, job_id, attempt, interval_ms=100, clock=clock, timer=timers) as writer:
        writer.update("The")
        assert store.get(job_id).partial_answer == "The"  # not held back for the interval
        clock.now = 0.05
        writer.update("The light")
        writer.update("The light was")
        assert store.get(job_id).partial_answer == "The"
        assert [t.seconds for t in timers.due] == [pytest.approx(0.05)]  # one timer, to the interval's end
        clock.now = 0.1
        writer.update("The light was first")  # a piece at the interval's end writes, and stops the timer
        assert store.get(job_id).partial_answer == "The light was first" and timers.due == []
        clock.now = 0.15
        writer.update("The light was first lit.")
    assert store.get(job_id).partial_answer == "The light was first lit." and timers.due == []
    assert deltas(store, job_id) == ["The", " light was first", " lit."]


def test_text_held_back_is_written_when_the_interval_ends_without_another_piece() -> None:
    store, job_id, attempt = started()
    clock, timers = Clock(), Timers()
    with PartialAnswers(store, job_id, attempt, interval_ms=100, clock=clock, timer=timers) as writer:
        writer.update("The")
        clock.now = 0.02
        writer.update("The light")  # then the model pauses
        clock.now = 0.1
        timers.fire()
        assert store.get(job_id).partial_answer == "The light"
        clock.now = 0.15
        writer.update("The light was")
        assert store.get(job_id).partial_answer == "The light"
        assert [t.seconds for t in timers.due] == [pytest.approx(0.05)]
    assert deltas(store, job_id) == ["The", " light", " was"]


def test_the_real_timer_writes_during_a_pause() -> None:
    class Signalling(InMemoryJobStore):
        def __init__(self) -> None:
            super().__init__()
            self.wrote = threading.Event()

        def write_partial(self, job_id: str, attempt: int, text: str) -> bool:
            written = super().write_partial(job_id, attempt, text)
            if text == "one two":
                self.wrote.set()
            return written

    store, job_id, attempt = started(Signalling())
    with PartialAnswers(store, job_id, attempt, interval_ms=20) as writer:
        writer.update("one")
        writer.update("one two")
        assert store.wrote.wait(5), "the held-back text was not written during the pause"
    assert deltas(store, job_id) == ["one", " two"]


def test_a_stream_that_failed_stops_the_timer_and_writes_no_more() -> None:
    store, job_id, attempt = started()
    clock, timers = Clock(), Timers()
    with pytest.raises(DependencyUnavailableError):
        with PartialAnswers(store, job_id, attempt, interval_ms=100, clock=clock, timer=timers) as writer:
            writer.update("The")
            writer.update("The light")
            raise DependencyUnavailableError("llm", "the stream broke off")
    assert timers.due == []
    writer.update("The light was")  # a late piece from the broken stream: ignored
    assert deltas(store, job_id) == ["The"]


def test_a_zero_interval_writes_every_piece() -> None:
    store, job_id, attempt = started()
    with PartialAnswers(store, job_id, attempt, interval_ms=0, clock=Clock()) as writer:
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
    store, job_id, attempt = started(FlakyStore())
    store.fail_next = 1
    with PartialAnswers(store, job_id, attempt, interval_ms=0, clock=Clock()) as writer:
        writer.update("one")  # fails: logged, not raised
        writer.update("one two")
        assert deltas(store, job_id) == ["one two"]
        store.fail_next = 1
        writer.update("one two three")
    assert store.get(job_id).partial_answer == "one two three"  # the failed text is written at the end


def test_a_writer_whose_attempt_lost_the_job_stops_writing() -> None:
    store, job_id, attempt = started()
    calls = []
    store.write_partial = lambda *args: calls.append(args) or False  # type: ignore[method-assign]
    with PartialAnswers(store, job_id, attempt + 1, interval_ms=0, clock=Clock()) as writer:
        writer.update("a")
        writer.update("a b")
    assert len(calls) == 1

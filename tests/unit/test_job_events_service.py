"""``JobFollower`` on the in-memory store (the Valkey stream's rules): the events a client is
sent from each place it may start, and how a connection ends."""

from __future__ import annotations

import time

import pytest

import ragcore.services.job_events as job_events
from ragcore.api_schema import ResultView, final_document
from ragcore.domain.errors import JobNotFoundError
from ragcore.domain.job_events import EVENTS_KEPT
from ragcore.domain.messages import ChatRequest
from ragcore.services.job_events import JobFollower, Outgoing
from ragcore.services.submit import submit_chat
from tests.support.fakes import InMemoryConversationStore, InMemoryDocumentStore, InMemoryJobStore, RecordingQueue

RESULT = {k: v for k, v in ResultView.model_config["json_schema_extra"]["examples"][0].items()  # type: ignore[index]
          if k not in ("job_id", "kind", "status", "created_at", "finished_at")}


def queued(store: InMemoryJobStore, deadline: int = 600) -> str:
    return submit_chat(ChatRequest(query="hi"), store, InMemoryConversationStore(), RecordingQueue(), deadline).job_id


def follower(store: InMemoryJobStore, job_id: str, after: str | None = None) -> JobFollower:
    return JobFollower(store, InMemoryDocumentStore(), store.get(job_id), after)


def drain(follow: JobFollower, polls: int = 50) -> list[Outgoing]:
    sent: list[Outgoing] = []
    for _ in range(polls):
        if follow.done:
            break
        sent += follow.poll(0)
    return sent


def shown(sent: list[Outgoing]) -> list[tuple[str, object]]:
    return [(e.event, e.data.get("status", e.data.get("text"))) for e in sent]


def test_a_job_from_its_start_to_its_result() -> None:
    store = InMemoryJobStore()
    job_id = queued(store)
    attempt = store.claim(job_id, 60).job.attempts  # type: ignore[union-attr]
    for text in ("A", "An an", "An answer"):
        store.write_partial(job_id, attempt, text)
    store.finish(job_id, attempt, RESULT)
    sent = drain(follower(store, job_id))
    assert shown(sent) == [("status", "queued"), ("status", "started"), ("delta", "A"), ("delta", "n an"),
                           ("delta", "swer"), ("status", "finished"), ("result", "finished")]
    assert [e.id for e in sent[:-1]] == [e.id for e in store.events[job_id]]
    assert sent[-1].id == sent[-2].id
    assert sent[-1].data == final_document(store.get(job_id), RESULT)[1]


def test_each_poll_reads_a_bounded_page() -> None:
    store = InMemoryJobStore()
    job_id = queued(store)
    attempt = store.claim(job_id, 60).job.attempts  # type: ignore[union-attr]
    for n in range(250):
        store.write_partial(job_id, attempt, "x" * (n + 1))
    follow = follower(store, job_id)
    assert [len(follow.poll(0)) for _ in range(4)] == [job_events.PAGE] * 2 + [52, 0]


def test_resuming_after_an_id_sends_what_follows_it_only() -> None:
    store = InMemoryJobStore()
    job_id = queued(store)
    attempt = store.claim(job_id, 60).job.attempts  # type: ignore[union-attr]
    store.write_partial(job_id, attempt, "One")
    kept = [e.id for e in store.events[job_id]]
    store.write_partial(job_id, attempt, "One two")
    sent = follower(store, job_id, after=kept[-1]).poll(0)
    assert shown(sent) == [("delta", " two")] and sent[0].data == {"offset": 3, "text": " two"}


def test_a_client_behind_the_oldest_kept_event_gets_a_snapshot() -> None:
    store = InMemoryJobStore()
    job_id = queued(store)
    first = store.events[job_id][0].id
    attempt = store.claim(job_id, 60).job.attempts  # type: ignore[union-attr]
    text = ""
    for n in range(EVENTS_KEPT + 1):
        text += f"{n} "
        store.write_partial(job_id, attempt, text)
    newest = store.events[job_id][-1].id
    for after in (first, None):  # resuming before the oldest kept; new, where it is mid-answer
        sent = follower(store, job_id, after).poll(0)
        assert [(e.event, e.id) for e in sent] == [("status", newest), ("delta", newest)]
        assert sent[0].data == {"job_id": job_id, "status": "started", "attempt": attempt}
        assert sent[1].data == {"offset": 0, "text": text}


def test_a_final_job_whose_end_the_client_has_seen_ends_at_once() -> None:
    store = InMemoryJobStore()
    job_id = queued(store)
    store.request_cancel(job_id)
    last = store.events[job_id][-1].id
    sent = follower(store, job_id, after=last).poll(0)
    assert shown(sent) == [("status", "stopped"), ("error", None)]
    assert [e.id for e in sent] == [last, last]
    assert sent[-1].data == final_document(store.get(job_id), None)[1]


def test_a_job_redriven_after_its_failure_is_followed_on() -> None:
    """The stream says failed, but the job is queued again (``ragcore dlq redrive``) by the
    time it is read: no final event yet, the next attempt is followed."""
    store = InMemoryJobStore()
    job_id = queued(store)
    attempt = store.claim(job_id, 60).job.attempts  # type: ignore[union-attr]
    store.fail(job_id, attempt, "llm down")
    store.requeue(job_id, time.time() + 600)
    follow = follower(store, job_id)
    assert shown(follow.poll(0)) == [("status", "queued"), ("status", "started"), ("status", "failed"),
                                     ("status", "queued")]
    assert not follow.done


def test_while_nothing_happens_an_overdue_job_is_settled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_events, "RECHECK_SECONDS", 0.0)
    store = InMemoryJobStore()
    job_id = queued(store, deadline=1)
    follow = follower(store, job_id)
    assert shown(follow.poll(0)) == [("status", "queued")]
    assert follow.poll(0) == []  # not overdue yet
    time.sleep(1.1)
    assert shown(follow.poll(0)) == [("status", "failed"), ("error", None)]  # settled, as its event says
    assert follow.done


def test_a_job_gone_ends_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_events, "RECHECK_SECONDS", 0.0)
    store = InMemoryJobStore()
    job_id = queued(store)
    follow = follower(store, job_id)
    follow.poll(0)
    store.delete(job_id)
    assert follow.poll(0) == [] and follow.done


def test_a_job_gone_while_its_stream_is_read_ends_it() -> None:
    """The job's record expires (or is deleted) while its events are still read: the events
    read so far are sent, then the stream ends, as when the job is gone while nothing happens."""
    store = InMemoryJobStore()
    job_id = queued(store)
    attempt = store.claim(job_id, 60).job.attempts  # type: ignore[union-attr]
    store.write_partial(job_id, attempt, "An answer")
    store.finish(job_id, attempt, RESULT)
    ended = follower(store, job_id)
    behind = follower(store, job_id, after="0-1")  # before the oldest kept: a snapshot
    del store.jobs[job_id]  # the record gone, its stream still there
    assert shown(ended.poll(0)) == [("status", "queued"), ("status", "started"), ("delta", "An answer"),
                                    ("status", "finished")]
    assert ended.done and ended.poll(0) == []
    assert behind.poll(0) == [] and behind.done


def test_a_finished_job_whose_result_is_gone_ends_the_stream_without_a_document() -> None:
    """The job expires between its read and its result's: no result event (there is no
    document to send), the stream ends, as for a job gone."""
    store = InMemoryJobStore()
    job_id = queued(store)
    attempt = store.claim(job_id, 60).job.attempts  # type: ignore[union-attr]
    store.finish(job_id, attempt, RESULT)
    del store.results[job_id]
    sent = drain(follower(store, job_id))
    assert shown(sent) == [("status", "queued"), ("status", "started"), ("status", "finished")]
    with pytest.raises(JobNotFoundError):
        final_document(store.get(job_id), None)

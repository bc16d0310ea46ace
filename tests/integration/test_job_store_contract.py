"""The job store contract, run against real Valkey and against the in-memory fake that unit
tests use, so the fake cannot drift from the real thing: every transition atomic and guarded.
Valkey is a cluster, as ElastiCache Serverless is: one node owning every slot, and three."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from ragcore.adapters.valkey_client import connect
from ragcore.adapters.valkey_jobs import ValkeyJobStore
from ragcore.domain.errors import DependencyUnavailableError, JobNotFoundError
from ragcore.domain.job_events import EVENTS_KEPT, EVENTS_KEPT_AFTER_END_SECONDS, event_order
from ragcore.domain.jobs import Job, JobStatus, new_job, new_job_id
from ragcore.domain.lifecycle import CANCELLED_ERROR, OVERDUE_ERROR, Outcome
from tests.support.fakes import InMemoryJobStore
from tests.support.valkey_cluster import VALKEY_FIXTURES, keys_per_node
from tests.support.transitions import cancel, moved_to


def _valkey_store(url: str) -> ValkeyJobStore:
    return ValkeyJobStore(connect(url, timeout_seconds=5), ttl_seconds=3600, prefix=f"test:{uuid.uuid4().hex[:8]}:")


@pytest.fixture
def valkey_store(cluster_url: str) -> ValkeyJobStore:
    return _valkey_store(cluster_url)


@pytest.fixture(params=[*VALKEY_FIXTURES, "in-memory fake"])
def store(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if request.param == "in-memory fake":
        return InMemoryJobStore()
    return _valkey_store(request.getfixturevalue(VALKEY_FIXTURES[request.param]))


def _queued(store: ValkeyJobStore, deadline_seconds: float = 600) -> Job:
    job = new_job("chat", {"query": "q"}, deadline_seconds)
    store.create(job)
    return job


def test_create_then_get_round_trips(store: ValkeyJobStore) -> None:
    job = _queued(store)
    loaded = store.get(job.job_id)
    assert loaded.status is JobStatus.QUEUED
    assert loaded.request == {"query": "q"}
    assert loaded.attempts == 0 and loaded.started_at is None
    assert loaded.deadline_at == job.deadline_at and not loaded.cancel_requested
    assert loaded.queued_at is None and loaded.enqueued_at == loaded.created_at  # queued at creation


def test_record_expires_after_the_ttl(valkey_store: ValkeyJobStore) -> None:
    job = _queued(valkey_store)
    ttl = valkey_store._client.ttl(valkey_store._key(job.job_id))
    assert 3500 < ttl <= 3600


def test_unknown_job_is_not_found(store: ValkeyJobStore) -> None:
    with pytest.raises(JobNotFoundError):
        store.get(new_job_id())
    assert store.claim(new_job_id(), 60).outcome is Outcome.MISSING


def test_claim_finish_and_redelivery(store: ValkeyJobStore) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    assert claim.outcome is Outcome.APPLIED and claim.attempt == 1
    assert moved_to(store.finish(job.job_id, claim.attempt, {"answer": "a"})) is JobStatus.FINISHED
    finished = store.get(job.job_id)
    assert finished.status is JobStatus.FINISHED and finished.finished_at is not None
    assert store.get_result(job.job_id) == {"answer": "a"}
    # A redelivered message finds the job final and may not touch it.
    assert store.claim(job.job_id, 60).outcome is Outcome.REFUSED
    assert store.get(job.job_id).attempts == 1


def test_only_one_of_many_concurrent_claims_wins(store: ValkeyJobStore) -> None:
    job = _queued(store)
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(lambda _: store.claim(job.job_id, 60).outcome, range(32)))
    assert outcomes.count(Outcome.APPLIED) == 1
    assert outcomes.count(Outcome.BUSY) == 31


def test_expired_lease_is_reclaimed_and_the_stale_attempt_cannot_write(store: ValkeyJobStore) -> None:
    job = _queued(store)
    first = store.claim(job.job_id, lease_seconds=1)
    time.sleep(1.1)
    second = store.claim(job.job_id, lease_seconds=60)
    assert second.outcome is Outcome.APPLIED and second.attempt == 2
    assert moved_to(store.finish(job.job_id, first.attempt, {"answer": "stale"})) is None
    assert moved_to(store.finish(job.job_id, second.attempt, {"answer": "fresh"})) is JobStatus.FINISHED
    assert store.get_result(job.job_id) == {"answer": "fresh"}


def test_fail_records_a_readable_error(store: ValkeyJobStore) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    assert moved_to(store.fail(job.job_id, claim.attempt, "LLM returned an empty answer")) is JobStatus.FAILED
    failed = store.get(job.job_id)
    assert failed.status is JobStatus.FAILED and failed.error == "LLM returned an empty answer"
    assert moved_to(store.finish(job.job_id, claim.attempt, {"answer": "late"})) is None


def test_a_queued_job_stops_at_once_and_is_never_claimed(store: ValkeyJobStore) -> None:
    job = _queued(store)
    assert cancel(store, job.job_id) == (JobStatus.STOPPED, True)
    stopped = store.get(job.job_id)
    assert stopped.status is JobStatus.STOPPED and stopped.error == CANCELLED_ERROR
    assert store.claim(job.job_id, 60).outcome is Outcome.REFUSED
    # Asking twice is harmless, and the second call says it changed nothing.
    assert cancel(store, job.job_id) == (JobStatus.STOPPED, False)


def test_of_many_concurrent_cancels_of_a_queued_job_exactly_one_stops_it(store: ValkeyJobStore) -> None:
    job = _queued(store)
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: store.request_cancel(job.job_id), range(32)))
    assert all(a.status is JobStatus.STOPPED for a in answers)
    assert sum(a.ended for a in answers) == 1


def test_a_started_job_is_flagged_and_its_late_result_is_not_written(store: ValkeyJobStore) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    assert not store.cancel_requested(job.job_id)
    assert cancel(store, job.job_id) == (JobStatus.STARTED, False)  # flagged only
    assert store.cancel_requested(job.job_id) and store.get(job.job_id).cancel_requested
    assert moved_to(store.finish(job.job_id, claim.attempt, {"answer": "late"})) is JobStatus.STOPPED
    assert store.get(job.job_id).status is JobStatus.STOPPED
    assert store.get_result(job.job_id) is None


def test_the_worker_stops_a_flagged_job_at_a_step_boundary(store: ValkeyJobStore) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    store.request_cancel(job.job_id)
    assert store.honour_cancel(job.job_id, claim.attempt).moved
    assert store.get(job.job_id).status is JobStatus.STOPPED


def test_each_transition_answers_what_it_did_and_the_job_as_it_now_stands(store: ValkeyJobStore) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    assert claim.outcome is Outcome.APPLIED and claim.job == store.get(job.job_id)
    assert claim.job.request == {"query": "q"} and claim.job.started_at is not None  # all the worker reads
    busy = store.claim(job.job_id, 60)
    assert busy.outcome is Outcome.BUSY and busy.job == store.get(job.job_id)
    assert store.finish(job.job_id, claim.attempt + 1, {"answer": "a"}).outcome is Outcome.STALE
    flagged = store.request_cancel(job.job_id)
    assert flagged.outcome is Outcome.APPLIED and flagged.status is JobStatus.STARTED and not flagged.ended
    assert flagged.job.cancel_requested
    cancelled = store.fail(job.job_id, claim.attempt, "llm is unavailable")
    assert cancelled.outcome is Outcome.CANCELLED and cancelled.ended and cancelled.job == store.get(job.job_id)
    assert cancelled.job.finished_at is not None and cancelled.job.error == CANCELLED_ERROR
    late = store.finish(job.job_id, claim.attempt, {"answer": "late"})
    assert late.outcome is Outcome.REFUSED and late.status is JobStatus.STOPPED and not late.ended
    assert store.fail_overdue(_queued(store).job_id).outcome is Outcome.REFUSED  # not due yet
    held = _queued(store, deadline_seconds=-1)
    store.claim(held.job_id, 60)
    assert store.fail_overdue(held.job_id).outcome is Outcome.BUSY  # due, but a worker is on it
    for missing in (store.claim(new_job_id(), 60), store.fail_overdue(new_job_id()),
                    store.request_cancel(new_job_id()), store.requeue(new_job_id(), time.time())):
        assert missing.outcome is Outcome.MISSING and missing.job is None


def test_a_final_job_cannot_be_stopped(store: ValkeyJobStore) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    store.finish(job.job_id, claim.attempt, {"answer": "a"})
    assert cancel(store, job.job_id) == (JobStatus.FINISHED, False)
    assert store.get(job.job_id).status is JobStatus.FINISHED


def test_a_job_past_its_deadline_is_still_claimed_by_its_message(store: ValkeyJobStore) -> None:
    job = _queued(store, deadline_seconds=-1)
    assert store.claim(job.job_id, 60).outcome is Outcome.APPLIED


def test_a_stop_request_wins_over_a_failure(store: ValkeyJobStore) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    store.request_cancel(job.job_id)
    assert moved_to(store.fail(job.job_id, claim.attempt, "llm is unavailable")) is JobStatus.STOPPED
    assert store.get(job.job_id).error == CANCELLED_ERROR


def test_an_overdue_job_is_failed_only_when_no_live_lease_holds_it(store: ValkeyJobStore) -> None:
    job = _queued(store, deadline_seconds=1)
    claim = store.claim(job.job_id, lease_seconds=60)
    time.sleep(1.1)  # past the deadline, but a worker holds the job: it may still finish
    assert moved_to(store.fail_overdue(job.job_id)) is None
    assert moved_to(store.finish(job.job_id, claim.attempt, {"answer": "a"})) is JobStatus.FINISHED

    stuck = _queued(store, deadline_seconds=1)
    store.claim(stuck.job_id, lease_seconds=1)  # its worker dies; nothing redelivers it
    time.sleep(1.1)
    assert moved_to(store.fail_overdue(stuck.job_id)) is JobStatus.FAILED
    assert store.get(stuck.job_id).error == OVERDUE_ERROR
    assert moved_to(store.fail_overdue(stuck.job_id)) is None
    assert moved_to(store.fail_overdue(_queued(store).job_id)) is None  # not due yet


def test_a_failed_job_is_requeued_fresh_by_a_redrive(store: ValkeyJobStore) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    store.fail(job.job_id, claim.attempt, "gave up")
    deadline = time.time() + 900
    assert moved_to(store.requeue(job.job_id, deadline)) is JobStatus.QUEUED
    again = store.get(job.job_id)
    assert again.status is JobStatus.QUEUED and again.attempts == 0 and again.error is None
    assert again.finished_at is None and again.deadline_at == pytest.approx(deadline)
    assert again.queued_at is not None and again.queued_at >= again.created_at  # queue wait starts here
    assert again.enqueued_at == again.queued_at
    claim = store.claim(job.job_id, 60)
    assert claim.attempt == 1
    assert moved_to(store.requeue(job.job_id, deadline)) is None  # a worker holds it now
    store.finish(job.job_id, claim.attempt, {"answer": "a"})
    assert moved_to(store.requeue(job.job_id, deadline)) is None  # finished jobs stay finished


def test_a_job_left_started_by_a_dead_worker_is_requeued_unless_asked_to_stop(store: ValkeyJobStore) -> None:
    job = _queued(store)
    store.claim(job.job_id, lease_seconds=1)
    time.sleep(1.1)
    assert moved_to(store.requeue(job.job_id, time.time() + 900)) is JobStatus.QUEUED
    stopping = _queued(store)
    store.claim(stopping.job_id, lease_seconds=1)
    store.request_cancel(stopping.job_id)
    time.sleep(1.1)
    assert moved_to(store.requeue(stopping.job_id, time.time() + 900)) is JobStatus.STOPPED


def test_a_requeued_record_gets_a_fresh_ttl(valkey_store: ValkeyJobStore) -> None:
    job = _queued(valkey_store)
    valkey_store._client.expire(valkey_store._key(job.job_id), 100)
    claim = valkey_store.claim(job.job_id, 60)
    valkey_store.fail(job.job_id, claim.attempt, "gave up")
    valkey_store.requeue(job.job_id, time.time() + 900)
    assert valkey_store._client.ttl(valkey_store._key(job.job_id)) > 3500


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "redis://127.0.0.1:1/0?cluster=true"])
def test_unreachable_valkey_is_reported_as_unavailable(url: str) -> None:
    dead = ValkeyJobStore(connect(url, timeout_seconds=0.5), ttl_seconds=60)
    with pytest.raises(DependencyUnavailableError, match="valkey"):
        dead.ping()
    with pytest.raises(DependencyUnavailableError, match="valkey"):
        dead.create(new_job("chat", {"query": "q"}, 600))


def test_every_key_of_a_job_is_its_own_and_jobs_spread_over_shards(three_node_valkey_url: str) -> None:
    store = _valkey_store(three_node_valkey_url)
    jobs = [_queued(store) for _ in range(30)]
    for job in jobs:
        store.claim(job.job_id, 60)
    spread = keys_per_node(store._client, f"{store._prefix}*")
    assert sum(spread.values()) == 30 and len([n for n in spread.values() if n]) >= 2


def test_a_valkey_that_refuses_writes_is_reported_as_unavailable(valkey_store: ValkeyJobStore) -> None:
    client = valkey_store._client
    client.config_set("maxmemory", "1", target_nodes=client.PRIMARIES)  # every write now fails with OOM
    try:
        with pytest.raises(DependencyUnavailableError, match="OutOfMemoryError"):
            _queued(valkey_store)
    finally:
        client.config_set("maxmemory", "0", target_nodes=client.PRIMARIES)


def test_a_transient_failure_sends_the_job_back_saying_why_and_when(store: ValkeyJobStore) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    retry_at = time.time() + 30
    reason = "llm is unavailable: HTTP 500"
    assert moved_to(store.retry_later(job.job_id, claim.attempt, reason, retry_at)) is JobStatus.QUEUED
    waiting = store.get(job.job_id)
    assert waiting.status is JobStatus.QUEUED and waiting.attempts == 1 and waiting.error is None
    assert waiting.last_error == "llm is unavailable: HTTP 500" and waiting.retry_at == retry_at
    # A repeat of the call (its reply was lost) is answered as the call was.
    assert moved_to(store.retry_later(job.job_id, claim.attempt, reason, retry_at)) is JobStatus.QUEUED
    # The lease is released: the next delivery claims it at once, and the wait is over.
    again = store.claim(job.job_id, 60)
    assert again.outcome is Outcome.APPLIED and again.attempt == 2
    started = store.get(job.job_id)
    assert started.retry_at is None and started.last_error == "llm is unavailable: HTTP 500"
    # Only the attempt that owns the job may hand it back.
    assert moved_to(store.retry_later(job.job_id, claim.attempt, "stale", retry_at)) is None
    assert moved_to(store.finish(job.job_id, again.attempt, {"answer": "a"})) is JobStatus.FINISHED
    assert moved_to(store.retry_later(job.job_id, again.attempt, "late", retry_at)) is None


def test_a_job_waiting_for_a_retry_stops_at_once_and_a_flagged_one_is_not_retried(
    store: ValkeyJobStore,
) -> None:
    waiting = _queued(store)
    claim = store.claim(waiting.job_id, 60)
    store.retry_later(waiting.job_id, claim.attempt, "llm is unavailable", time.time() + 30)
    assert cancel(store, waiting.job_id) == (JobStatus.STOPPED, True)
    assert store.get(waiting.job_id).retry_at is None  # a final job has no next attempt
    assert store.claim(waiting.job_id, 60).outcome is Outcome.REFUSED
    flagged = _queued(store)
    claim = store.claim(flagged.job_id, 60)
    store.request_cancel(flagged.job_id)
    ended = store.retry_later(flagged.job_id, claim.attempt, "llm is unavailable", time.time())
    assert moved_to(ended) is JobStatus.STOPPED
    assert store.get(flagged.job_id).error == CANCELLED_ERROR


def test_a_redrive_clears_the_last_retry(store: ValkeyJobStore) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    store.retry_later(job.job_id, claim.attempt, "llm is unavailable", time.time() + 30)
    assert moved_to(store.requeue(job.job_id, time.time() + 600)) is JobStatus.QUEUED
    fresh = store.get(job.job_id)
    assert fresh.attempts == 0 and fresh.last_error is None and fresh.retry_at is None


def test_a_job_waiting_for_a_retry_past_its_deadline_fails_with_no_next_attempt(store: ValkeyJobStore) -> None:
    job = _queued(store, deadline_seconds=1)
    claim = store.claim(job.job_id, 60)
    store.retry_later(job.job_id, claim.attempt, "llm is unavailable", time.time() + 30)
    time.sleep(1.1)
    assert moved_to(store.fail_overdue(job.job_id)) is JobStatus.FAILED
    failed = store.get(job.job_id)
    assert failed.error == OVERDUE_ERROR and failed.retry_at is None
    assert failed.last_error == "llm is unavailable"


def test_many_jobs_are_read_at_once_and_missing_ones_left_out(store: ValkeyJobStore) -> None:
    """On three nodes the ids spread over every shard: one pipeline, split by node."""
    jobs = [_queued(store) for _ in range(30)]
    store.claim(jobs[0].job_id, 60)
    unknown = new_job_id()
    found = store.get_many([unknown, *(j.job_id for j in jobs)])
    assert set(found) == {j.job_id for j in jobs}
    assert found[jobs[0].job_id].status is JobStatus.STARTED and found[jobs[0].job_id].attempts == 1
    assert all(found[j.job_id] == store.get(j.job_id) for j in jobs)
    assert store.get_many([]) == {}


# --- The job's event stream (domain/job_events.py) ---


def _statuses(store: ValkeyJobStore, job_id: str) -> list[tuple[str, int]]:
    return [(e.data["status"], e.data["attempt"]) for e in store.read_events(job_id, None) if e.type == "status"]


def test_every_status_change_and_every_claim_adds_a_status_event_in_order(store: ValkeyJobStore) -> None:
    job = _queued(store)
    first = store.claim(job.job_id, 1)
    store.retry_later(job.job_id, first.attempt, "llm is unavailable", time.time())
    second = store.claim(job.job_id, 1)
    time.sleep(1.1)  # its worker dies: the next claim is a new attempt of a started job
    third = store.claim(job.job_id, 60)
    store.request_cancel(job.job_id)  # only flags a started job: no status change, no event
    store.finish(job.job_id, third.attempt, {"answer": "a"})  # the cancel wins
    store.finish(job.job_id, third.attempt, {"answer": "a"})  # refused: nothing changes
    assert second.attempt == 2
    assert _statuses(store, job.job_id) == [
        ("queued", 0), ("started", 1), ("queued", 1), ("started", 2), ("started", 3), ("stopped", 3),
    ]
    events = store.read_events(job.job_id, None)
    assert [event_order(e.id) for e in events] == sorted({event_order(e.id) for e in events})  # increasing


def test_partial_answers_are_kept_and_streamed_as_deltas(store: ValkeyJobStore) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    assert store.get(job.job_id).partial_answer is None
    for text in ("Skerry", "Skerry Point wä", "Skerry Point wäs lit", "Skerry Point wäs lit"):
        assert store.write_partial(job.job_id, claim.attempt, text)
    assert store.write_partial(job.job_id, claim.attempt, "Rewritten")  # not an extension: from 0
    assert store.get(job.job_id).partial_answer == "Rewritten"
    deltas = [e.data for e in store.read_events(job.job_id, None) if e.type == "delta"]
    assert deltas == [  # offsets in code points; a repeat adds nothing
        {"offset": 0, "text": "Skerry", "attempt": 1}, {"offset": 6, "text": " Point wä", "attempt": 1},
        {"offset": 15, "text": "s lit", "attempt": 1}, {"offset": 0, "text": "Rewritten", "attempt": 1},
    ]
    partial = ""
    for delta in deltas:
        partial = partial[: delta["offset"]] + delta["text"]
    assert partial == "Rewritten"


def test_only_the_attempt_that_holds_the_job_started_writes_partial_text(store: ValkeyJobStore) -> None:
    job = _queued(store)
    assert not store.write_partial(job.job_id, 0, "queued")  # not started
    assert not store.write_partial(new_job_id(), 1, "unknown")
    first = store.claim(job.job_id, lease_seconds=1)
    assert store.write_partial(job.job_id, first.attempt, "first attempt's")
    time.sleep(1.1)
    second = store.claim(job.job_id, 60)
    assert store.get(job.job_id).partial_answer is None  # a new attempt starts again
    assert not store.write_partial(job.job_id, first.attempt, "first attempt's, and more")  # stale
    assert store.write_partial(job.job_id, second.attempt, "second")
    assert store.get(job.job_id).partial_answer == "second"
    store.retry_later(job.job_id, second.attempt, "llm is unavailable", time.time())
    assert store.get(job.job_id).partial_answer is None  # only a started job has one
    third = store.claim(job.job_id, 60)
    assert store.write_partial(job.job_id, third.attempt, "second")
    store.finish(job.job_id, third.attempt, {"answer": "second, checked"})
    assert store.get(job.job_id).partial_answer is None  # the result replaces it
    assert not store.write_partial(job.job_id, third.attempt, "second, late")
    deltas = [e.data for e in store.read_events(job.job_id, None) if e.type == "delta"]
    assert deltas == [{"offset": 0, "text": "first attempt's", "attempt": 1},
                      {"offset": 0, "text": "second", "attempt": 2},
                      {"offset": 0, "text": "second", "attempt": 3}]


def test_events_are_read_after_an_id_in_pages_and_a_blocked_read_wakes_on_a_write(
    store: ValkeyJobStore,
) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    for n in range(1, 6):
        store.write_partial(job.job_id, claim.attempt, "x" * n)
    every = store.read_events(job.job_id, None)
    assert [e.type for e in every] == ["status", "status", *["delta"] * 5]
    assert store.read_events(job.job_id, every[2].id) == every[3:]
    assert store.read_events(job.job_id, every[2].id, count=2) == every[3:5]
    assert store.read_events(job.job_id, every[-1].id) == []
    assert store.read_events(new_job_id(), None) == []
    started = time.monotonic()
    assert store.read_events(job.job_id, every[-1].id, block_ms=300) == []  # nothing came
    assert 0.25 < time.monotonic() - started < 2
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(store.read_events, job.job_id, every[-1].id, 5000)
        time.sleep(0.2)
        store.write_partial(job.job_id, claim.attempt, "xxxxxx!")
        started = time.monotonic()
        woke = waiting.result(timeout=5)
    assert time.monotonic() - started < 1
    assert [e.data for e in woke] == [{"offset": 5, "text": "x!", "attempt": 1}]


def test_a_job_keeps_its_newest_events_only(store: ValkeyJobStore) -> None:
    job = _queued(store)
    claim = store.claim(job.job_id, 60)
    for n in range(1, EVENTS_KEPT + 6):
        store.write_partial(job.job_id, claim.attempt, "x" * n)
    kept: list = []
    while page := store.read_events(job.job_id, kept[-1].id if kept else None, count=400):
        kept += page
    assert len(kept) == EVENTS_KEPT
    # 2 status events and 1,005 deltas: the 7 oldest went.
    assert kept[0].data["offset"] == 5 and kept[-1].data["offset"] == EVENTS_KEPT + 4


def test_an_ended_jobs_events_are_kept_an_hour_its_record_for_its_ttl(cluster_url: str) -> None:
    store = ValkeyJobStore(connect(cluster_url, timeout_seconds=5), ttl_seconds=86400,
                           prefix=f"test:{uuid.uuid4().hex[:8]}:")
    job = _queued(store)
    hash_key, events_key = store._keys(job.job_id)
    claim = store.claim(job.job_id, 60)
    store.write_partial(job.job_id, claim.attempt, "text")
    assert store._client.ttl(events_key) > 86000
    store.fail(job.job_id, claim.attempt, "gave up")
    assert EVENTS_KEPT_AFTER_END_SECONDS - 10 < store._client.ttl(events_key) <= EVENTS_KEPT_AFTER_END_SECONDS
    assert store._client.ttl(hash_key) > 86000
    store.requeue(job.job_id, time.time() + 900)  # a redrive: it runs again, its events kept as long as it
    assert store._client.ttl(events_key) > 86000


def test_the_event_stream_expires_with_its_job(valkey_store: ValkeyJobStore) -> None:
    job = _queued(valkey_store)
    hash_key, events_key = valkey_store._keys(job.job_id)
    assert 3500 < valkey_store._client.ttl(events_key) <= 3600
    claim = valkey_store.claim(job.job_id, 60)
    valkey_store._client.expire(hash_key, 100)
    valkey_store.write_partial(job.job_id, claim.attempt, "text")
    assert 90 < valkey_store._client.ttl(events_key) <= 100  # the job's own expiry, not a new one
    valkey_store.fail(job.job_id, claim.attempt, "gave up")
    valkey_store.requeue(job.job_id, time.time() + 900)  # a fresh TTL for both
    assert valkey_store._client.ttl(events_key) > 3500
    valkey_store.delete(job.job_id)
    assert valkey_store.read_events(job.job_id, None) == []

"""``GET /jobs/{id}/events`` over real HTTP: the local gateway streams it from the app served
by uvicorn (as the Lambda Web Adapter serves it), the job's events in real Valkey. The job is
moved by the store's own transitions and ``write_partial`` (what a worker calls), so each test
controls exactly when every event happens."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import rag_api.event_routes as event_routes
from ragcore.api_schema import ResultView
from ragcore.bootstrap import get_container
from ragcore.domain.job_events import EVENTS_KEPT
from ragcore.domain.jobs import JobStatus
from ragcore.services.auth import create_key
from ragcore.services.ingest import index_files
from tests.support.api import local_api
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.logs import captured_json_logs, log_lines
from tests.support.paths import SAMPLES
from tests.support.settings import Configure
from tests.support.stack import fake_llm_stack
from tests.support.workers import Workers

ASK = {"query": "When was Skerry Point Lighthouse first lit?"}
# A finished chat job's stored result: the result document's example, less the job's fields.
RESULT = {k: v for k, v in ResultView.model_config["json_schema_extra"]["examples"][0].items()  # type: ignore[index]
          if k not in ("job_id", "kind", "status", "created_at", "finished_at")}
ANSWER = RESULT["answer"]


@dataclass
class Event:
    id: str | None
    event: str
    data: Any


def events_of(response: httpx.Response) -> Iterator[Event]:
    """Server-sent events as they arrive (the format's rules, for what the route sends)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if fields:
                yield Event(fields.get("id"), fields.get("event", "message"), json.loads(fields.get("data", "null")))
            fields = {}
        elif not line.startswith(":"):  # else a comment: a heartbeat
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value


def follow(http: httpx.Client, job_id: str, stop_after: int | None = None, into: list[Event] | None = None,
           **headers: str) -> list[Event]:
    """The events of one connection (added to ``into`` as they arrive): all of them until
    the server closes, or the first ``stop_after`` (then the client hangs up)."""
    seen: list[Event] = [] if into is None else into
    with http.stream("GET", f"/jobs/{job_id}/events", headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in events_of(response):
            seen.append(event)
            if stop_after is not None and len(seen) >= stop_after:
                break
    return seen


def text_of(events: list[Event], partial: str = "") -> str:
    """The answer a client builds from the deltas: ``partial[:offset] + text``."""
    for event in events:
        if event.event == "delta":
            partial = partial[: event.data["offset"]] + event.data["text"]
    return partial


@pytest.fixture
def http(lambda_env: dict[str, str]) -> Iterator[httpx.Client]:
    with local_api() as client:
        yield client


def new_job(http: httpx.Client, headers: dict[str, str] | None = None) -> str:
    response = http.post("/chat", json=ASK, headers=headers or {})
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def claim(job_id: str) -> int:
    moved = get_container().job_store.claim(job_id, lease_seconds=60)
    assert moved.job is not None and moved.job.status is JobStatus.STARTED
    return moved.job.attempts


def written(job_id: str, attempt: int, *texts: str) -> None:
    for text in texts:
        assert get_container().job_store.write_partial(job_id, attempt, text)


def stored_events(job_id: str) -> list[str]:
    return [e.id for e in get_container().job_store.read_events(job_id, None, count=10_000)]


def test_events_arrive_as_they_are_written_not_when_the_job_ends(http: httpx.Client) -> None:
    """Each write waits until the client has seen the one before: were the answer buffered
    anywhere (gateway, adapter, app), the first delta would never arrive and this would time
    out."""
    job_id = new_job(http)
    seen: list[Event] = []
    arrived = threading.Condition()

    def reader() -> None:
        with httpx.Client(base_url=str(http.base_url), timeout=30) as client:
            with client.stream("GET", f"/jobs/{job_id}/events") as response:
                for event in events_of(response):
                    with arrived:
                        seen.append(event)
                        arrived.notify_all()

    def wait_for(count: int) -> None:
        with arrived:
            assert arrived.wait_for(lambda: len(seen) >= count, timeout=10), [e.event for e in seen]

    thread = threading.Thread(target=reader)
    thread.start()
    wait_for(1)  # queued
    attempt = claim(job_id)
    wait_for(2)  # started
    pieces = ["The lighthouse", "The lighthouse was first lit", "The lighthouse was first lit on 12 October 1874"]
    for n, text in enumerate(pieces, start=3):
        written(job_id, attempt, text)
        wait_for(n)
        assert text_of(seen) == text
    store = get_container().job_store
    assert store.finish(job_id, attempt, RESULT).job.status is JobStatus.FINISHED  # type: ignore[union-attr]
    thread.join(timeout=10)
    assert not thread.is_alive()  # the server closed the stream after the result
    assert [e.event for e in seen] == ["status", "status", "delta", "delta", "delta", "status", "result"]
    assert [e.data["status"] for e in seen if e.event == "status"] == ["queued", "started", "finished"]
    assert [e.id for e in seen[:-1]] == stored_events(job_id)  # every event is its entry
    assert seen[-1].id == seen[-2].id  # the result is named by the final status's entry
    assert seen[-1].data == http.get(f"/result/{job_id}").json()


def test_reconnecting_with_last_event_id_gets_exactly_what_was_missed(http: httpx.Client) -> None:
    """From every point of a job's stream, by header and by query: the events after it and
    nothing else, and the answer rebuilt from them is whole."""
    job_id = new_job(http)
    attempt = claim(job_id)
    words = ANSWER.split(" ")
    written(job_id, attempt, *(" ".join(words[: n + 1]) for n in range(len(words))))
    get_container().job_store.finish(job_id, attempt, RESULT)
    everything = follow(http, job_id)
    ids = stored_events(job_id)
    assert [e.id for e in everything[:-1]] == ids and everything[-1].event == "result"
    assert text_of(everything) == ANSWER
    for cut in range(1, len(everything) - 1):
        last = everything[cut - 1].id
        assert last is not None
        rest = follow(http, job_id, **{"Last-Event-ID": last}) if cut % 2 else \
            [*follow_query(http, job_id, last)]
        assert [e.id for e in rest[:-1]] == ids[cut:], cut  # no duplicate, no gap
        assert rest[-1].event == "result" and rest[-1].data == everything[-1].data
        assert text_of(rest, text_of(everything[:cut])) == ANSWER


def follow_query(http: httpx.Client, job_id: str, last: str) -> list[Event]:
    with http.stream("GET", f"/jobs/{job_id}/events", params={"last_event_id": last}) as response:
        assert response.status_code == 200
        return list(events_of(response))


def test_a_client_that_drops_mid_answer_resumes_where_it_was(http: httpx.Client) -> None:
    """While the job runs: the client hangs up, more is written, it reconnects with the last
    id it saw and gets the rest, live, up to the result."""
    job_id = new_job(http)
    attempt = claim(job_id)
    written(job_id, attempt, "The lighthouse", "The lighthouse was first lit")
    first = follow(http, job_id, stop_after=3)  # queued, started, one delta
    written(job_id, attempt, "The lighthouse was first lit on 12 October 1874 [1].", ANSWER)
    resumed: list[Event] = []

    def reader() -> None:
        resumed.extend(follow(http, job_id, **{"Last-Event-ID": first[-1].id or ""}))

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.3)
    get_container().job_store.finish(job_id, attempt, RESULT)
    thread.join(timeout=10)
    assert [e.id for e in first] + [e.id for e in resumed[:-1]] == stored_events(job_id)
    assert text_of(first + resumed) == ANSWER
    assert resumed[-1].event == "result"


def test_a_finished_job_answers_its_status_and_result_at_once(http: httpx.Client) -> None:
    job_id = new_job(http)
    attempt = claim(job_id)
    get_container().job_store.finish(job_id, attempt, RESULT)
    started = time.monotonic()
    with captured_json_logs() as logs:
        seen = follow(http, job_id)
        assert time.monotonic() - started < 2
        while not (lines := [line for line in log_lines(logs) if line["message"] == "events"]):
            assert time.monotonic() - started < 5  # written as the stream closes
            time.sleep(0.01)
    (line,) = lines  # one per stream
    assert {k: line[k] for k in ("job_id", "events", "final", "resumed")} == {
        "job_id": job_id, "events": len(seen), "final": True, "resumed": False}
    assert line["correlation_id"]  # API Gateway's request id, from x-amzn-request-context
    assert [(e.event, e.data.get("status")) for e in seen][-2:] == [("status", "finished"), ("result", "finished")]
    # Resumed after its end, it answers the same ending again, no event twice.
    again = follow(http, job_id, **{"Last-Event-ID": seen[-1].id or ""})
    assert [e.event for e in again] == ["status", "result"] and again[-1].data == seen[-1].data
    assert again[-1].id == seen[-1].id


def test_a_stopped_job_ends_with_the_error_get_result_answers(http: httpx.Client) -> None:
    job_id = new_job(http)
    seen: list[Event] = []
    thread = threading.Thread(target=lambda: seen.extend(follow(http, job_id)))
    thread.start()
    time.sleep(0.3)
    assert http.post(f"/jobs/{job_id}/cancel").status_code == 200
    thread.join(timeout=10)
    refused = http.get(f"/result/{job_id}")
    assert refused.status_code == 409
    assert [e.event for e in seen] == ["status", "status", "error"]
    assert seen[-1].data == refused.json() and seen[-1].data["error"]["code"] == "job_stopped"


def test_an_overdue_job_is_settled_as_get_job_status_settles_it(http: httpx.Client, configure: Configure) -> None:
    configure(job_deadline_seconds=1)
    job_id = new_job(http)
    time.sleep(1.2)  # past its deadline, held by no worker
    seen = follow(http, job_id)
    assert [e.event for e in seen] == ["status", "status", "error"]
    assert seen[-1].data["error"]["code"] == "job_failed"
    assert http.get(f"/job-status/{job_id}").json()["status"] == "failed"


def many_deltas(job_id: str, attempt: int, mark: str) -> str:
    """More deltas than the stream keeps: its oldest entries are trimmed. The answer so far."""
    text = ""
    for n in range(EVENTS_KEPT + 5):
        text += f"{mark}{n} "
        written(job_id, attempt, text)
    assert len(stored_events(job_id)) == EVENTS_KEPT
    return text


def following(http: httpx.Client, job_id: str, **headers: str) -> tuple[threading.Thread, list[Event]]:
    seen: list[Event] = []
    thread = threading.Thread(target=follow, args=(http, job_id), kwargs={"into": seen, **headers})
    thread.start()
    time.sleep(0.3)
    return thread, seen


def test_a_client_resuming_before_the_oldest_kept_event_gets_a_snapshot(http: httpx.Client) -> None:
    """What it missed is gone: it gets the status and the whole answer so far (a delta at
    offset 0, both named by the newest entry), then what follows, live."""
    job_id = new_job(http)
    attempt = claim(job_id)
    first = follow(http, job_id, stop_after=2)  # queued, started
    text = many_deltas(job_id, attempt, "w")
    newest = stored_events(job_id)[-1]
    thread, seen = following(http, job_id, **{"Last-Event-ID": first[-1].id or ""})
    written(job_id, attempt, text + "more")
    get_container().job_store.finish(job_id, attempt, RESULT)
    thread.join(timeout=10)
    assert [(e.event, e.id) for e in seen[:2]] == [("status", newest), ("delta", newest)]
    assert seen[0].data["status"] == "started" and seen[1].data == {"offset": 0, "text": text}
    assert [e.event for e in seen[2:]] == ["delta", "status", "result"]
    assert text_of(seen, "stale text the client held") == text + "more"


def test_a_new_client_arriving_mid_answer_gets_a_snapshot(http: httpx.Client) -> None:
    """The oldest kept entry is a delta in the middle of the answer: starting there would
    build a wrong text."""
    job_id = new_job(http)
    attempt = claim(job_id)
    text = many_deltas(job_id, attempt, "v")
    thread, seen = following(http, job_id)
    get_container().job_store.finish(job_id, attempt, RESULT)
    thread.join(timeout=10)
    assert [e.event for e in seen] == ["status", "delta", "status", "result"]
    assert seen[1].data == {"offset": 0, "text": text}


def test_heartbeats_while_the_job_waits(http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_routes, "PING_SECONDS", 0.2)
    job_id = new_job(http)
    lines: list[str] = []
    with http.stream("GET", f"/jobs/{job_id}/events") as response:
        started = time.monotonic()
        for line in response.iter_lines():
            lines.append(line)
            if lines.count(": ping") == 3:
                break
        assert time.monotonic() - started < 5
    # The job still waits: its status, then comments only (no id, no event).
    assert [line for line in lines if line] == [
        f"id: {stored_events(job_id)[0]}", "event: status",
        f'data: {{"job_id":"{job_id}","status":"queued","attempt":0}}', ": ping", ": ping", ": ping",
    ]


def test_a_connection_ends_after_events_max_seconds_and_resumes(http: httpx.Client, configure: Configure) -> None:
    configure(events_max_seconds=1)
    job_id = new_job(http)
    started = time.monotonic()
    first = follow(http, job_id)
    assert 1 <= time.monotonic() - started < 4
    assert [e.event for e in first] == ["status"]
    attempt = claim(job_id)
    get_container().job_store.finish(job_id, attempt, RESULT)
    rest = follow(http, job_id, **{"Last-Event-ID": first[-1].id or ""})
    assert [e.event for e in rest] == ["status", "status", "result"]


def test_unknown_jobs_and_malformed_ids_are_json_errors(http: httpx.Client) -> None:
    unknown = http.get(f"/jobs/{'0' * 32}/events")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "job_not_found"
    assert http.get("/jobs/not-a-job/events").status_code == 422
    job_id = new_job(http)
    for bad in ({"headers": {"Last-Event-ID": "yesterday"}}, {"params": {"last_event_id": "1-2-3"}}):
        refused = http.get(f"/jobs/{job_id}/events", **bad)  # type: ignore[arg-type]
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request"


def test_an_id_valkey_would_refuse_is_a_json_error_before_the_stream(http: httpx.Client) -> None:
    """A part past 2**64-1 is not a Valkey id: refused with a 422, not by XREAD inside a stream
    already answered 200. The largest id the route takes is read."""
    job_id = new_job(http)
    for bad in ({"headers": {"Last-Event-ID": f"{2**64}-0"}}, {"params": {"last_event_id": f"1-{10**20 - 1}"}}):
        refused = http.get(f"/jobs/{job_id}/events", **bad)  # type: ignore[arg-type]
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request", refused.text
    get_container().job_store.finish(job_id, claim(job_id), RESULT)
    largest = f"{10**19 - 1}-{10**19 - 1}"
    assert [e.event for e in follow(http, job_id, **{"Last-Event-ID": largest})] == ["status", "result"]


def test_another_tenants_job_is_not_found(lambda_env: dict[str, str], configure: Configure) -> None:
    configure(auth_disabled=False)
    container = get_container()
    mine, theirs = (
        {"x-api-key": create_key(container.key_store, container.api_key_pepper, name, tenant=name)[1]}
        for name in ("mine", "theirs")
    )
    with local_api() as http:
        job_id = new_job(http, mine)
        refused = http.get(f"/jobs/{job_id}/events", headers=theirs)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "job_not_found"
        assert http.get(f"/jobs/{job_id}/events").status_code == 401
        with http.stream("GET", f"/jobs/{job_id}/events", headers=mine) as response:
            assert response.status_code == 200
            assert next(events_of(response)).data == {"job_id": job_id, "status": "queued", "attempt": 0}


STREAMED = "Skerry Point Lighthouse was first lit on 12 October 1874 [1], after four years of building."


@contextmanager
def answering(fake_llm: FakeLLM, sqs: Any, queue: dict[str, str]) -> Iterator[tuple[httpx.Client, str]]:
    """A question asked of the API and answered by the real worker (real SQS), the fake LLM
    streaming ``STREAMED``; the job's id, while the workers run."""
    fake_llm.answer = STREAMED
    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index)
    with local_api() as http, Workers(sqs, queue):
        yield http, new_job(http)


def test_a_question_answered_by_the_worker_is_followed_word_by_word(
    lambda_env: dict[str, str], fake_llm: FakeLLM, sqs: Any, queue: dict[str, str]
) -> None:
    """The model holds after four words: the client has all four (and no result) while it
    holds, the first at once and the rest when the write interval ends, though no word came
    after them; then the rest, the result (GET /result's), and the stream ends."""
    release = threading.Event()
    fake_llm.script = [Reply(hold=(4, release))]
    with answering(fake_llm, sqs, queue) as (http, job_id):
        thread, seen = following(http, job_id)
        deadline = time.monotonic() + 30
        while len(text_of(seen).split()) < 4:
            assert time.monotonic() < deadline, [(e.event, e.data) for e in seen]
            time.sleep(0.01)
        assert STREAMED.startswith(text_of(seen)) and len(text_of(seen).split()) == 4  # the words before the pause
        assert [e.event for e in seen if e.event in ("result", "error")] == []
        release.set()
        thread.join(timeout=30)
        result = http.get(f"/result/{job_id}").json()
    assert text_of(seen) == STREAMED  # the raw text; the result holds the checked answer
    assert [e.data["status"] for e in seen if e.event == "status"] == ["queued", "started", "finished"]
    assert seen[-1].event == "result" and seen[-1].data == result


def test_a_retried_attempt_starts_its_text_again(http: httpx.Client) -> None:
    """The first attempt's text is dropped when the job goes back to the queue: the next
    attempt's first delta is at offset 0, and the client ends with that attempt's text."""
    job_id = new_job(http)
    store = get_container().job_store
    first = claim(job_id)
    written(job_id, first, "A first try", "A first try that failed")
    store.retry_later(job_id, first, "llm unavailable", time.time())
    second = claim(job_id)
    written(job_id, second, "The second", "The second one")
    store.finish(job_id, second, RESULT)
    seen = follow(http, job_id)
    assert [(e.event, e.data.get("attempt", e.data.get("offset"))) for e in seen] == [
        ("status", 0), ("status", first), ("delta", 0), ("delta", 11), ("status", first),
        ("status", second), ("delta", 0), ("delta", 10), ("status", second), ("result", None)]
    assert text_of(seen) == "The second one"


def test_the_dev_stack_streams_the_events_and_a_dropped_client_resumes(tmp_path: Path) -> None:
    """``ragcore dev``'s stack (its own services, the pollers and gateway it builds from the
    template): a client that hangs up after the first delta resumes with its last id and gets
    the rest, to GET /result's document."""
    release = threading.Event()
    with FakeLLM(answer=STREAMED) as llm, fake_llm_stack(llm, tmp_path) as stack:
        llm.script = [Reply(hold=(3, release))]
        with httpx.Client(base_url=stack.api_url, timeout=60) as http:
            job_id = new_job(http)
            first: list[Event] = []
            with http.stream("GET", f"/jobs/{job_id}/events") as response:
                for event in events_of(response):
                    first.append(event)
                    if event.event == "delta":
                        break
            release.set()
            rest = follow(http, job_id, **{"Last-Event-ID": first[-1].id or ""})
            result = http.get(f"/result/{job_id}").json()
    ids = [e.id for e in first + rest]
    assert len(ids) - 1 == len(set(ids))  # no event twice (the result shares its status's id)
    assert text_of(first + rest) == STREAMED
    assert rest[-1].event == "result" and rest[-1].data == result

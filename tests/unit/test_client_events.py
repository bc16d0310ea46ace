"""A job's events in the Python client (``Client.events``, ``wait(on_text=...)``), from recorded
event-stream text over ``httpx.MockTransport``: typed events, the answer folded from its deltas,
reconnection with ``Last-Event-ID`` after a drop or the server's close, and polling a server
without the route. The client against the real stack: tests/integration/test_client_events.py."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable, Iterator

import httpx
import pytest

from ragcore.client import (
    ApiUnreachable, AsyncClient, Client, JobFailed, Unauthorized, UnexpectedResponse, WaitTimeout,
)
from ragcore.client import backoff
from ragcore.client.events import AnswerText, DeltaEvent, ErrorEvent, ResultEvent, StatusEvent
from ragcore.domain.jobs import JobStatus
from tests.unit.test_client import ANSWER, JOB, LINKS, error

EVENTS = f"/jobs/{JOB}/events"
# What the server sends (docs: the SSE wire format), a heartbeat comment included.
RECORDED = [
    f'id: 1-0\nevent: status\ndata: {{"job_id": "{JOB}", "status": "queued", "attempt": 0}}\n\n',
    ": ping\n\n",
    f'id: 2-0\nevent: status\ndata: {{"job_id": "{JOB}", "status": "started", "attempt": 1}}\n\n',
    'id: 3-0\nevent: delta\ndata: {"offset": 0, "text": "In 18"}\n\n',
    'id: 4-0\nevent: delta\ndata: {"offset": 5, "text": "74 [1]."}\n\n',
    f'id: 5-0\nevent: status\ndata: {{"job_id": "{JOB}", "status": "finished", "attempt": 1}}\n\n',
    f"id: 5-0\nevent: result\ndata: {json.dumps(ANSWER)}\n\n",
]
FAILED = json.dumps({"error": {"code": "job_failed", "message": "the LLM failed", "job_id": JOB,
                               "status": "failed"}})


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body sent in pieces, then cut (``drop``) as a lost connection is."""

    def __init__(self, chunks: list[str], drop: bool = False) -> None:
        self.chunks = [c.encode() for c in chunks]
        self.drop = drop

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.drop:
            raise httpx.ReadError("connection reset")

    async def __aiter__(self) -> Any:
        for chunk in self.chunks:
            yield chunk
        if self.drop:
            raise httpx.ReadError("connection reset")


def stream(chunks: list[str], drop: bool = False) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Chunks(chunks, drop))


Handler = Callable[[httpx.Request], httpx.Response]


def serving(*responses: httpx.Response | Handler) -> tuple[list[httpx.Request], Handler]:
    """A transport handler answering each request with the next response; the requests seen."""
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = queue.pop(0)
        return reply(request) if callable(reply) else reply

    return seen, handle


def client(handle: Handler) -> Client:
    return Client("http://api", "rk_test", transport=httpx.MockTransport(handle))


def test_events_are_typed_and_end_with_the_result() -> None:
    seen, handle = serving(stream(RECORDED))
    with client(handle) as api:
        events = list(api.events(JOB))
    assert [type(e) for e in events] == [StatusEvent, StatusEvent, DeltaEvent, DeltaEvent, StatusEvent, ResultEvent]
    assert events[1] == StatusEvent("2-0", JobStatus.STARTED, 1)
    assert events[3] == DeltaEvent("4-0", 5, "74 [1].")
    assert events[-1].result.answer == ANSWER["answer"] and events[-1].id == "5-0"
    [request] = seen
    assert request.url.path == EVENTS and request.headers["accept"] == "text/event-stream"
    assert request.headers["authorization"] == "Bearer rk_test" and "last-event-id" not in request.headers


def test_wait_with_on_text_hears_the_answer_as_it_is_written() -> None:
    _, handle = serving(stream(RECORDED))
    texts: list[str] = []
    statuses: list[JobStatus] = []
    with client(handle) as api:
        result = api.wait(JOB, on_text=texts.append, on_status=statuses.append)
    assert texts == ["In 18", "In 1874 [1]."]
    assert statuses == [JobStatus.QUEUED, JobStatus.STARTED, JobStatus.FINISHED]
    assert result.answer == "In 1874 [1]."


def test_a_dropped_connection_resumes_after_the_last_event_without_repeats() -> None:
    seen, handle = serving(stream(RECORDED[:4], drop=True), stream(RECORDED[4:]))
    with client(handle) as api:
        events = list(api.events(JOB))
    assert [e.id for e in events] == ["1-0", "2-0", "3-0", "4-0", "5-0", "5-0"]
    assert [r.headers.get("last-event-id") for r in seen] == [None, "3-0"]


def test_the_servers_close_of_a_long_connection_is_reconnected_and_a_given_id_resumes() -> None:
    seen, handle = serving(stream(RECORDED[2:3]), stream([": ping\n\n"]), stream(RECORDED[3:]))
    with client(handle) as api:
        events = list(api.events(JOB, last_event_id="1-0"))
    assert [e.id for e in events] == ["2-0", "3-0", "4-0", "5-0", "5-0"]
    assert [r.headers.get("last-event-id") for r in seen] == ["1-0", "2-0", "2-0"]


def test_a_retried_attempt_restarts_the_text_at_offset_zero() -> None:
    text = AnswerText()
    assert text.add(DeltaEvent("1-0", 0, "The light was"))
    assert text.add(DeltaEvent("2-0", 0, "In 18"))  # attempt 2 starts again
    assert text.add(DeltaEvent("3-0", 5, "74"))
    assert not text.add(DeltaEvent(None, 5, "74"))
    assert text.text == "In 1874"


def test_a_failed_job_ends_with_its_error() -> None:
    _, handle = serving(stream([RECORDED[0], f"id: 9-0\nevent: error\ndata: {FAILED}\n\n"]))
    with client(handle) as api:
        *_, last = api.events(JOB)
        assert isinstance(last, ErrorEvent) and isinstance(last.error, JobFailed)
        assert last.error.job_id == JOB and last.error.message == "the LLM failed"
    _, handle = serving(stream([f"id: 9-0\nevent: error\ndata: {FAILED}\n\n"]))
    with client(handle) as api, pytest.raises(JobFailed):
        api.wait(JOB, on_text=print)


def test_unknown_event_kinds_are_skipped_and_a_bad_document_is_unexpected() -> None:
    _, handle = serving(stream(['id: 1-0\nevent: newer\ndata: {}\n\n', *RECORDED[5:]]))
    with client(handle) as api:
        assert [type(e) for e in api.events(JOB)] == [StatusEvent, ResultEvent]
    _, handle = serving(stream(['id: 1-0\nevent: delta\ndata: {"text": 1}\n\n']))
    with client(handle) as api, pytest.raises(UnexpectedResponse):
        list(api.events(JOB))
    _, handle = serving(httpx.Response(200, html="<html>portal</html>"))
    with client(handle) as api, pytest.raises(UnexpectedResponse):
        list(api.events(JOB))


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polls a millisecond apart: the order of the requests is tested, not the backoff's waits."""
    monkeypatch.setattr(backoff, "POLL_FIRST", 0.001)
    monkeypatch.setattr(backoff, "POLL_MAX", 0.001)


def polls(*partials: str | None) -> list[httpx.Response]:
    """GET /result answers of a started job writing its answer, then the result."""
    not_ready = [httpx.Response(202, json={"job_id": JOB, "status": "started", "message": "m", "links": LINKS,
                                           "attempts": 1, "partial_answer": p}) for p in partials]
    return [*not_ready, httpx.Response(200, json=ANSWER)]


@pytest.mark.parametrize("no_route", [
    httpx.Response(404, json={"detail": "Not Found"}),
    httpx.Response(405, json={"detail": "Method Not Allowed"}),
    httpx.Response(501, text="not implemented"),
    error(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"),
])
def test_a_server_without_the_route_is_polled_for_its_partial_answer(no_route: httpx.Response) -> None:
    seen, handle = serving(no_route, *polls(None, "In 18", "In 18", "In 1874"))
    texts: list[str] = []
    with client(handle) as api:
        result = api.wait(JOB, on_text=texts.append)
    assert result.answer == ANSWER["answer"]
    assert texts == ["In 18", "In 1874"]
    assert [r.url.path for r in seen] == [EVENTS] + [f"/result/{JOB}"] * 5


def test_polled_events_have_no_ids_and_a_refusal_is_not_a_missing_route() -> None:
    _, handle = serving(httpx.Response(405), *polls("In 18"))
    with client(handle) as api:
        events = list(api.events(JOB))
    assert events == [StatusEvent(None, JobStatus.STARTED, 1), DeltaEvent(None, 0, "In 18"), events[-1]]
    assert isinstance(events[-1], ResultEvent)
    _, handle = serving(error(401, "unauthorized"))
    with client(handle) as api, pytest.raises(Unauthorized):
        list(api.events(JOB))


def test_an_unreachable_api_is_retried_then_raised() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    seen, handle = serving(refuse, refuse)
    with Client("http://api", transport=httpx.MockTransport(handle), retries=1) as api:
        with pytest.raises(ApiUnreachable):
            list(api.events(JOB))
    assert len(seen) == 2


def test_the_async_client_follows_and_resumes_the_same_way() -> None:
    seen, handle = serving(stream(RECORDED[:4], drop=True), stream(RECORDED[4:]))
    texts: list[str] = []

    async def run() -> Any:
        async with AsyncClient("http://api", transport=httpx.MockTransport(handle)) as api:
            return await api.wait(JOB, on_text=texts.append)

    assert asyncio.run(run()).answer == ANSWER["answer"]
    assert texts == ["In 18", "In 1874 [1]."]
    assert [r.headers.get("last-event-id") for r in seen] == [None, "3-0"]

    _, handle = serving(httpx.Response(404), *polls("In 18"))

    async def listed() -> list[Any]:
        async with AsyncClient("http://api", transport=httpx.MockTransport(handle)) as api:
            return [event async for event in api.events(JOB)]

    assert [type(e) for e in asyncio.run(listed())] == [StatusEvent, DeltaEvent, ResultEvent]


def test_a_stream_waits_out_two_heartbeats_whatever_the_clients_read_timeout() -> None:
    seen, handle = serving(stream(RECORDED), *polls())
    with Client("http://api", transport=httpx.MockTransport(handle), timeout=5) as api:
        list(api.events(JOB))
        api.result(JOB)
    assert seen[0].extensions["timeout"]["read"] == 30.0  # the server's heartbeat comes every 15 s
    assert seen[1].extensions["timeout"]["read"] == 5  # other requests keep the client's


class Writing(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A job writing its answer for a minute: a delta every 20 ms, then the result."""

    def __init__(self) -> None:
        self.deltas = [f'id: {n}-0\nevent: delta\ndata: {{"offset": {n}, "text": "x"}}\n\n'.encode()
                       for n in range(3000)]

    def __iter__(self) -> Iterator[bytes]:
        for delta in self.deltas:
            time.sleep(0.02)
            yield delta
        yield RECORDED[-1].encode()

    async def __aiter__(self) -> Any:
        for delta in self.deltas:
            await asyncio.sleep(0.02)
            yield delta
        yield RECORDED[-1].encode()


def writing() -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Writing())


def test_the_callers_timeout_ends_a_stream_that_keeps_sending() -> None:
    """The deadline is checked at each event, not only between connections: the answer is
    still being written when ``timeout`` has passed, and ``WaitTimeout`` says so."""
    texts: list[str] = []
    _, handle = serving(writing())
    started = time.monotonic()
    with client(handle) as api, pytest.raises(WaitTimeout) as timed_out:
        api.wait(JOB, timeout=0.5, on_text=texts.append)
    assert 0.5 <= time.monotonic() - started < 2 and 10 < len(texts) < 100
    assert timed_out.value.timeout == 0.5 and timed_out.value.job_id == JOB

    _, handle = serving(writing())

    async def run() -> Any:
        async with AsyncClient("http://api", transport=httpx.MockTransport(handle)) as api:
            return [event async for event in api.events(JOB, timeout=0.5)]

    started = time.monotonic()
    with pytest.raises(WaitTimeout):
        asyncio.run(run())
    assert 0.5 <= time.monotonic() - started < 2

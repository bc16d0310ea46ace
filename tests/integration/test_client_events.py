"""A job's events in ``ragcore.client`` against the real API (the local gateway streaming
``GET /jobs/{id}/events`` from the app under the web adapter's stand-in), real Valkey and SQS,
the worker handler on a real poller, and the fake LLM streaming its answer a word at a time.
The same parsing from recorded event text: tests/unit/test_client_events.py."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
import termios
import threading
import time
from typing import Any, Callable, Iterator

import httpx
import pytest

from ragcore.bootstrap import get_container
from ragcore.client import AsyncClient, Client, WaitTimeout
from ragcore.client.events import AnswerText, DeltaEvent, Event, ResultEvent, StatusEvent
from ragcore.domain.jobs import JobStatus
from ragcore.services.ingest import index_files
from tests.support.api import local_api
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.paths import ROOT, SAMPLES
from tests.support.settings import Configure
from tests.support.workers import Workers

QUESTION = "When was Skerry Point Lighthouse first lit?"
ANSWER = "Skerry Point Lighthouse was first lit on 12 October 1874 and automated in 1991 [1]."
WORD_SECONDS = 0.05  # between the fake's words: a stream the worker writes out in several pieces
HELD_WORDS = 6  # where a held answer stops: its first word is written at once, so a client sees it


@pytest.fixture
def streaming_llm(fake_llm: FakeLLM) -> FakeLLM:
    fake_llm.answer = ANSWER
    fake_llm.token_delay = WORD_SECONDS
    return fake_llm


def held_at(llm: FakeLLM, words: int) -> threading.Event:
    """The next answer stops after ``words`` words until the event is set: a client must show
    the answer so far before it can go on (a condition, not a timing)."""
    release = threading.Event()
    llm.script = [Reply(hold=(words, release))]
    return release


def serving(streaming: bool = True) -> Iterator[str]:
    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index)
    with local_api(streaming) as http:
        yield str(http.base_url).rstrip("/")


@pytest.fixture
def api_url(lambda_env: dict[str, str], streaming_llm: FakeLLM) -> Iterator[str]:
    yield from serving()


@pytest.fixture
def bounded_api_url(configure: Configure, streaming_llm: FakeLLM) -> Iterator[str]:
    """The API with each events connection closed by the server after 1 s (EVENTS_MAX_SECONDS),
    configured before anything opens the stores."""
    configure(events_max_seconds=1)
    yield from serving()


@pytest.fixture
def older_api_url(lambda_env: dict[str, str], streaming_llm: FakeLLM) -> Iterator[str]:
    """The same API as a server from before the events route: API Gateway answers the path
    with its 403 MISSING_AUTHENTICATION_TOKEN."""
    yield from serving(streaming=False)


@pytest.fixture
def workers(sqs: Any, queue: dict[str, str]) -> Iterator[Workers]:
    with Workers(sqs, queue) as running:
        yield running


def folded(events: list[Event]) -> str:
    text = AnswerText()
    for event in events:
        if isinstance(event, DeltaEvent):
            text.add(event)
    return text.text


def test_the_client_hears_the_answer_written_before_the_result(api_url: str, workers: Workers) -> None:
    with Client(api_url) as client:
        accepted = client.submit(QUESTION)
        events = list(client.events(accepted.job_id, timeout=120))
    statuses = [e.status for e in events if isinstance(e, StatusEvent)]
    assert statuses == [JobStatus.QUEUED, JobStatus.STARTED, JobStatus.FINISHED]
    deltas = [i for i, e in enumerate(events) if isinstance(e, DeltaEvent)]
    finished = next(i for i, e in enumerate(events) if isinstance(e, StatusEvent) and e.status.is_terminal)
    assert deltas and max(deltas) < finished  # written while started, before the result
    assert ANSWER.startswith(folded(events)) and folded(events)
    assert isinstance(events[-1], ResultEvent) and events[-1].result.answer == ANSWER
    ids = [e.id for e in events]
    assert all(ids) and ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))


class Connections(httpx.HTTPTransport):
    """The real transport, recording each events request's ``Last-Event-ID`` and setting
    ``reconnected`` at the second; with ``cut``, the first events connection is cut once it has
    carried answer text: a connection lost mid-answer."""

    def __init__(self, reconnected: threading.Event, cut: bool) -> None:
        super().__init__()
        self.resumed_after: list[str | None] = []
        self._reconnected = reconnected
        self._cut = cut

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            self.resumed_after.append(request.headers.get("last-event-id"))
        response = super().handle_request(request)
        if not request.url.path.endswith("/events"):
            return response
        if len(self.resumed_after) > 1:
            self._reconnected.set()
            return response
        if not self._cut:
            return response
        return httpx.Response(response.status_code, headers=response.headers, stream=_Cut(response.stream),
                              extensions=response.extensions)


class _Cut(httpx.SyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            yield chunk
            if b"event: delta" in chunk:
                raise httpx.ReadError("connection reset mid-answer")

    def close(self) -> None:
        self._stream.close()


def resumed(api_url: str, llm: FakeLLM, cut: bool) -> None:
    """Follows a question whose answer waits until the client has connected a second time: the
    client must connect again after the last event it saw, and hear each event once."""
    release = held_at(llm, HELD_WORDS)
    transport = Connections(reconnected=release, cut=cut)
    with Client(api_url, transport=transport) as client:
        accepted = client.submit(QUESTION)
        seen = list(client.events(accepted.job_id, timeout=120))
    assert len(transport.resumed_after) >= 2 and transport.resumed_after[0] is None
    assert transport.resumed_after[1] in [e.id for e in seen]
    pairs = [(type(e).__name__, e.id) for e in seen]
    assert len(pairs) == len(set(pairs))  # nothing heard twice
    assert folded(seen) == ANSWER and isinstance(seen[-1], ResultEvent)


def test_a_connection_lost_mid_answer_resumes_after_the_last_event_without_repeats(
    api_url: str, workers: Workers, streaming_llm: FakeLLM
) -> None:
    resumed(api_url, streaming_llm, cut=True)


def test_the_servers_close_of_a_connection_is_followed_by_a_reconnection(
    bounded_api_url: str, workers: Workers, streaming_llm: FakeLLM
) -> None:
    resumed(bounded_api_url, streaming_llm, cut=False)


def test_ask_with_on_text_and_the_async_client(api_url: str, workers: Workers) -> None:
    texts: list[str] = []
    with Client(api_url) as client:
        answer = client.ask(QUESTION, on_text=texts.append, timeout=120)
    assert answer.answer == ANSWER and texts and all(ANSWER.startswith(t) for t in texts)

    async def run() -> tuple[Any, list[str]]:
        heard: list[str] = []
        async with AsyncClient(api_url) as client:
            return await client.ask(QUESTION, on_text=heard.append, timeout=120), heard

    answer, heard = asyncio.run(run())
    assert answer.answer == ANSWER and heard and all(ANSWER.startswith(t) for t in heard)


def test_waiting_ends_at_its_timeout_while_the_answer_is_still_written(
    api_url: str, workers: Workers, streaming_llm: FakeLLM
) -> None:
    """Once the answer is being written (a long one, a word every 50 ms: seconds of deltas),
    ``wait(timeout=1.5, on_text=...)`` gives up after 1.5 s with the text so far, though the
    stream never went quiet."""
    streaming_llm.answer = " ".join([ANSWER] * 10)
    texts: list[str] = []
    with Client(api_url) as client:
        job_id = client.submit(QUESTION).job_id
        stream = client.events(job_id, timeout=60)
        next(e for e in stream if isinstance(e, DeltaEvent))  # started writing
        stream.close()
        started = time.monotonic()
        with pytest.raises(WaitTimeout) as timed_out:
            client.wait(job_id, timeout=1.5, on_text=texts.append)
        assert 1.5 <= time.monotonic() - started < 3
        assert timed_out.value.status is JobStatus.STARTED and len(texts) > 2
        assert streaming_llm.answer.startswith(texts[-1]) and texts[-1] != streaming_llm.answer
        client.cancel(job_id)


def test_a_server_without_the_events_route_is_followed_by_polling_its_partial_answer(
    older_api_url: str, workers: Workers, streaming_llm: FakeLLM
) -> None:
    release = held_at(streaming_llm, HELD_WORDS)
    texts: list[str] = []

    def heard(text: str) -> None:
        texts.append(text)
        release.set()  # the answer so far was seen: the model may go on

    with Client(older_api_url) as client:
        answer = client.ask(QUESTION, on_text=heard, timeout=120)
        assert client.status(answer.job_id).status is JobStatus.FINISHED
    assert answer.answer == ANSWER
    assert texts and ANSWER.startswith(texts[0]) and texts[0] != ANSWER


def read_until(controller: int, written: bytes, done: Callable[[bytes], bool]) -> bytes:
    """What the terminal shows, read until ``done`` says so or the command closes its end (a
    minute without output fails the test rather than hanging it)."""
    while not done(written):
        ready, _, _ = select.select([controller], [], [], 60)
        assert ready, f"nothing more on the terminal after {written.decode()!r}"
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the command ended and closed its end
            return written
        if not chunk:
            return written
        written += chunk
    return written


@pytest.mark.parametrize("command", ["ask", "chat"])
def test_ragcore_on_a_terminal_shows_the_answer_as_it_is_written(
    api_url: str, workers: Workers, streaming_llm: FakeLLM, command: str
) -> None:
    """``ragcore ask`` and, by the same code, each answer of ``ragcore chat`` (the question typed
    at the terminal, then Ctrl-D)."""
    release = held_at(streaming_llm, HELD_WORDS)
    first_word = ANSWER.split()[0]
    controller, terminal = pty.openpty()
    quiet = termios.tcgetattr(terminal)
    quiet[3] &= ~termios.ECHO  # what is typed is not shown: the output is only the command's
    termios.tcsetattr(terminal, termios.TCSANOW, quiet)
    env = {**os.environ, "COLUMNS": "200", "RAGCORE_API_URL": api_url}
    env.pop("RAGCORE_API_KEY", None)
    args = ["ask", QUESTION] if command == "ask" else ["chat"]
    running = subprocess.Popen([sys.executable, "-m", "ragcore.cli", *args], cwd=ROOT, env=env,
                               stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    try:
        if command == "chat":
            os.write(controller, f"{QUESTION}\n\x04".encode())
        # The answer's start, shown while it is written (the rest waits for the release).
        shown_early = read_until(controller, b"", lambda written: first_word.encode() in written)
        release.set()
        output = read_until(controller, shown_early, lambda written: False)
        assert running.wait(timeout=120) == 0
    finally:
        release.set()
        running.kill()
        os.close(controller)
    assert first_word.encode() in shown_early and ANSWER.encode() not in shown_early
    final = output[len(shown_early):].decode()
    assert "\x1b[J" in final  # the live text erased, then the final answer with its sources
    assert ANSWER in final and "[1] Skerry Point Lighthouse" in final

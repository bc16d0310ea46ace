"""A job's events as the client hands them out: what ``GET /jobs/{id}/events`` streams
(server-sent events), or, from a server without that route, what polling ``GET /result`` shows.

``Client.events`` and ``AsyncClient.events`` only add the I/O; what an event means, where a
reconnection resumes, when the route is missing and how polls become events is decided here
once, so the two cannot disagree.

Events: ``StatusEvent`` (each change of status), ``DeltaEvent`` (new answer text: the text so
far is ``partial[:offset] + text``, which ``AnswerText`` keeps; a retried attempt starts again
at offset 0), then one ``ResultEvent`` (the ``GET /result`` document) or ``ErrorEvent`` (the job
failed or was stopped: its ``JobFailed``/``JobStopped``), after which the events end.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Union

import httpx
from httpx_sse import ServerSentEvent
from pydantic import TypeAdapter, ValidationError

from ragcore.api_schema import JobResult, NotReady
from ragcore.client.backoff import StatusCallback, reconnect_wait
from ragcore.client.errors import ApiError, UnexpectedResponse, error_from_body, error_from_response
from ragcore.domain.job_events import delta_after
from ragcore.domain.jobs import JobStatus

_RESULT = TypeAdapter(JobResult)
# What an older server answers for the events route: API Gateway's answer to a path it does
# not route (403 MISSING_AUTHENTICATION_TOKEN), the app's own 404 or 405, a proxy's 501.
# A 404 may also be an unknown job: the polling that follows then raises the API's NotFound.
_NO_ROUTE_STATUSES = (404, 405, 501)
_GATEWAY_NO_ROUTE = "MISSING_AUTHENTICATION_TOKEN"
# The status GET /result answers a failed or stopped job with; an error event carries its body.
_ENDED_STATUS = 409

# The server sends a heartbeat every 15 s (whatever else it sends): a stream's reads wait at least
# two of them (whatever the client's own read timeout) before the connection counts as lost.
STREAM_READ_SECONDS = 30.0

TextCallback = Callable[[str], None]


def stream_timeout(client_timeout: httpx.Timeout) -> httpx.Timeout:
    """The client's timeouts for an event stream, its reads given at least ``STREAM_READ_SECONDS``."""
    read = client_timeout.read
    if read is None or read >= STREAM_READ_SECONDS:
        return client_timeout
    return httpx.Timeout(connect=client_timeout.connect, read=STREAM_READ_SECONDS, write=client_timeout.write,
                         pool=client_timeout.pool)


@dataclass(frozen=True)
class StatusEvent:
    id: str | None  # the stream entry id; None for an event made from a poll
    status: JobStatus
    attempt: int


@dataclass(frozen=True)
class DeltaEvent:
    id: str | None
    offset: int  # in characters (code points) of the answer so far
    text: str


@dataclass(frozen=True)
class ResultEvent:
    id: str | None
    result: JobResult


@dataclass(frozen=True)
class ErrorEvent:
    id: str | None
    error: ApiError  # JobFailed or JobStopped, as GET /result would raise it


Event = Union[StatusEvent, DeltaEvent, ResultEvent, ErrorEvent]


def route_missing(response: httpx.Response) -> bool:
    """True when the server has no events route (an older one): follow the job by polling.
    The response's body must have been read."""
    if response.status_code in _NO_ROUTE_STATUSES:
        return True
    return response.status_code == 403 and error_from_response(response).code == _GATEWAY_NO_ROUTE


def read_event(sse: ServerSentEvent, path: str) -> Event | None:
    """The event one server-sent event is; None for a kind this client does not know (a newer
    server's), which is skipped. A known kind whose data is not its document is an
    ``UnexpectedResponse``."""
    event_id = sse.id or None
    try:
        if sse.event == "result":
            return ResultEvent(event_id, _RESULT.validate_json(sse.data))
        if sse.event == "error":
            return ErrorEvent(event_id, error_from_body(_ENDED_STATUS, sse.data))
        if sse.event not in ("status", "delta"):
            return None
        data: dict[str, Any] = json.loads(sse.data)
        if sse.event == "status":
            return StatusEvent(event_id, JobStatus(data["status"]), int(data.get("attempt") or 0))
        return DeltaEvent(event_id, int(data["offset"]), str(data["text"]))
    except (ValidationError, ValueError, KeyError, TypeError) as exc:
        raise UnexpectedResponse("GET", path, f"a {sse.event!r} event that is not the API's: {exc}") from exc


class AnswerText:
    """The answer written so far, from its deltas."""

    def __init__(self) -> None:
        self.text = ""

    def add(self, delta: DeltaEvent) -> bool:
        """Folds ``delta`` in; True if the text changed."""
        text = self.text[:delta.offset] + delta.text
        changed, self.text = text != self.text, text
        return changed


class Resume:
    """Where a job's event stream picks up again: after the last event seen (sent as
    ``Last-Event-ID``), so a reconnection after a dropped connection, or after the server's
    bounded close, gets the events it missed (or a snapshot, where the server no longer keeps
    them: docs/STREAMING.md). Also counts the connections in a row that brought no event, which
    the pause before the next one grows with."""

    def __init__(self, last_event_id: str | None) -> None:
        self.last_event_id = last_event_id
        self.quiet = 0  # connections in a row that brought no event
        self.heard = False  # the current connection brought an event
        self.status = JobStatus.QUEUED  # the last status seen, which WaitTimeout names

    def headers(self) -> dict[str, str]:
        resumed = {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}
        return {"Accept": "text/event-stream", "Cache-Control": "no-store", **resumed}

    def connected(self) -> None:
        self.heard = False

    def seen(self, event: Event) -> None:
        self.heard = True
        if event.id:
            self.last_event_id = event.id
        if isinstance(event, StatusEvent):
            self.status = event.status

    def pause(self) -> float:
        """Seconds to wait before connecting again: none after a connection that brought
        events, else the client's backoff (0.5 s, 1 s, 2 s ... up to 8 s)."""
        self.quiet = 0 if self.heard else self.quiet + 1
        return reconnect_wait(self.quiet)


def is_final(event: Event) -> bool:
    return isinstance(event, (ResultEvent, ErrorEvent))


def past(deadline: float | None, pause: float = 0.0) -> bool:
    """Whether ``deadline`` (``time.monotonic``; None: none) is reached once ``pause`` has passed.
    Checked at each server-sent event (a heartbeat too), not only between connections: a
    stream that keeps sending would otherwise run to the server's close."""
    return deadline is not None and time.monotonic() + pause >= deadline


class Polled:
    """A server without the events route, followed by polling ``GET /result``: each poll's
    outcome as the events the stream would have sent (a new status, new text of
    ``partial_answer``, the result or the job's error); these events have no id."""

    def __init__(self) -> None:
        self._status: JobStatus | None = None
        self._attempt = 0
        self._partial = ""

    def outcome(self, outcome: JobResult | NotReady) -> Iterator[Event]:
        if not isinstance(outcome, NotReady):
            yield ResultEvent(None, outcome)
            return
        if (outcome.status, outcome.attempts) != (self._status, self._attempt):
            self._status, self._attempt = outcome.status, outcome.attempts
            yield StatusEvent(None, outcome.status, outcome.attempts)
        partial = outcome.partial_answer or ""
        if partial != self._partial:
            offset, added = delta_after(self._partial, partial)
            self._partial = partial
            yield DeltaEvent(None, offset, added)

    @staticmethod
    def ended(error: ApiError) -> ErrorEvent:
        return ErrorEvent(None, error)


class Watch:
    """A wait that follows a job's events: each status to ``on_status``, the answer so far to
    ``on_text`` whenever it changes; the result at the end, or the job's error raised."""

    def __init__(self, on_status: StatusCallback | None, on_text: TextCallback | None) -> None:
        self._on_status = on_status
        self._on_text = on_text
        self.answer = AnswerText()

    def heard(self, event: Event) -> JobResult | None:
        if isinstance(event, StatusEvent) and self._on_status:
            self._on_status(event.status)
        elif isinstance(event, DeltaEvent) and self.answer.add(event) and self._on_text:
            self._on_text(self.answer.text)
        elif isinstance(event, ErrorEvent):
            raise event.error
        elif isinstance(event, ResultEvent):
            return event.result
        return None

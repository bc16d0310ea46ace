"""``Client``: the API from synchronous code."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator, Mapping, NoReturn, Sequence, TypeVar

import httpx
from httpx_sse import EventSource, SSEError
from tenacity import Retrying

from ragcore.api_schema import (
    Accepted,
    BatchAccepted,
    ConversationView,
    DocumentAccepted,
    JobResult,
    JobStatuses,
    JobStatusView,
    NotReady,
    ResultView,
)
from ragcore.client import backoff, calls, events
from ragcore.client.backoff import StatusCallback
from ragcore.client.connection import DEFAULT_TIMEOUT, Described, http_options
from ragcore.client.errors import JobFailed, JobStopped, UnexpectedResponse, WaitTimeout, error_from_response
from ragcore.client.events import Event, TextCallback

T = TypeVar("T")
DEFAULT_WAIT = 300.0


class Client(Described):
    """``Client()`` talks to ``RAGCORE_API_URL`` (default: the local ``ragcore dev`` stack)
    with ``RAGCORE_API_KEY``; both can be given instead. Use it as a context manager, or
    ``close()`` it. Errors are ``ragcore.client.errors`` exceptions; refused requests are
    sent again only where that is safe (``ragcore.client.backoff``)."""

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT,
        retries: int = backoff.RETRIES, transport: httpx.BaseTransport | None = None,
    ) -> None:
        options = http_options(base_url, api_key, timeout)
        self._http = httpx.Client(**options, transport=transport)
        self._retries = retries
        self._authenticated = "Authorization" in options["headers"]

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: calls.Call[T], deadline: float | None = None,
              out_of_time: Callable[[BaseException], NoReturn] | None = None) -> T:
        """One request, sent again where its policy allows; with ``deadline``
        (``time.monotonic``), the request and its resends fit before it."""
        budget = None if deadline is None else deadline - time.monotonic()
        policy = backoff.resending(call.replayable, self._retries, budget, out_of_time)
        return Retrying(**policy)(self._send_once, call, deadline)

    def _send_once(self, call: calls.Call[T], deadline: float | None = None) -> T:
        timeout = backoff.request_timeout(self._http.timeout, deadline)
        try:
            response = self._http.request(call.method, call.path, json=call.body, headers=call.headers,
                                        timeout=timeout)
        except httpx.RequestError as exc:
            raise call.failure(exc) from exc
        return call.answer(response)

    def submit(self, query: str, *, collection: str | None = None, top_k: int | None = None,
               mode: str | None = None, timeout: float | None = None,
               idempotency_key: str | None = None, conversation_id: str | None = None,
               filter: Mapping[str, Any] | None = None, callback_url: str | None = None) -> Accepted:
        """Queue a question (``POST /chat``); ``wait`` for its answer. ``timeout``: seconds
        the submission may take, resends included (default: each request the client's).
        ``idempotency_key``: sent as ``Idempotency-Key`` on the request and each resend (default:
        a new UUID per call), so a resend never makes a second job; give your own to make your
        own resends of the call safe too. ``conversation_id``: ask a follow-up in the conversation
        an earlier ``Accepted`` named (default: a new conversation); ``filter``: only passages
        of some documents (``document_ids``, ``metadata`` conditions; see docs/RETRIEVAL.md);
        ``callback_url``: an https URL the service POSTs the job's result to, signed, when it
        ends (docs/WEBHOOKS.md)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return self._send(calls.submit(query, collection, top_k, mode, idempotency_key,
                                       conversation_id=conversation_id, filter=filter,
                                       callback_url=callback_url), deadline)

    def submit_batch(self, questions: Sequence[str | Mapping[str, Any]], *,
                     idempotency_key: str | None = None) -> BatchAccepted:
        """Queue up to ``MAX_BATCH`` (100) questions in one request (``POST /chat/batch``), each
        a query or a ``POST /chat`` body. ``items`` holds each question's job, or its error:
        a question refused ``rate_limited`` (the key's limit counts questions) may be sent
        again after its ``retry_after``."""
        return self._send(calls.submit_batch(questions, idempotency_key))

    def statuses(self, job_ids: Sequence[str]) -> JobStatuses:
        """The status documents of up to ``MAX_BATCH`` jobs in one request (``GET /jobs``);
        ids of no job this key may see are listed in ``not_found``."""
        return self._send(calls.statuses(job_ids))

    def status(self, job_id: str) -> JobStatusView:
        """The job's status document (``GET /job-status/{id}``)."""
        return self._send(calls.status(job_id))

    def result(self, job_id: str) -> JobResult | NotReady:
        """The result, or ``NotReady`` while the job is queued or started; ``JobFailed`` or
        ``JobStopped`` if it ended otherwise."""
        return self._send(calls.result(job_id))

    def cancel(self, job_id: str) -> JobStatusView:
        """Stop a chat job: ``stopped`` at once if it was queued, ``cancel_requested`` if it
        is started (it stops at its next step)."""
        return self._send(calls.cancel(job_id))

    def conversation(self, conversation_id: str) -> ConversationView:
        """A conversation's turns (``GET /conversations/{id}``), in the order they were asked."""
        return self._send(calls.conversation(conversation_id))

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation (``DELETE /conversations/{id}``); its turns' jobs stay readable."""
        self._send(calls.delete_conversation(conversation_id))

    def events(self, job_id: str, last_event_id: str | None = None, *,
               timeout: float | None = None) -> Iterator[Event]:
        """The job's events as they happen (``GET /jobs/{id}/events``): ``StatusEvent``s,
        ``DeltaEvent``s of the answer being written, then a ``ResultEvent`` or ``ErrorEvent``,
        after which the iterator ends (``ragcore.client.events``). A dropped connection, or the
        server's close of a long one, is reconnected with ``Last-Event-ID``: no event is lost, and
        none repeated but where the server answers with a snapshot (docs/STREAMING.md, "Ids and
        resuming"). ``last_event_id`` resumes after an event of an earlier call. From a server
        without the route, the events come from polling ``GET /result`` instead (without ids).
        With ``timeout``, ``WaitTimeout`` once that many seconds have passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return self._events(job_id, last_event_id, deadline, timeout)

    def _events(self, job_id: str, last_event_id: str | None, deadline: float | None,
                timeout: float | None) -> Iterator[Event]:
        resume = events.Resume(last_event_id)
        path = calls.events_path(job_id)
        while True:
            response = self._open_events(path, resume, deadline)
            if response is None:
                yield from self._polled_events(job_id, deadline, timeout)
                return
            resume.connected()
            try:
                for sse in EventSource(response).iter_sse():
                    event = events.read_event(sse, path)
                    if event is not None:
                        resume.seen(event)
                        yield event
                        if events.is_final(event):
                            return
                    if events.past(deadline):
                        raise WaitTimeout(job_id, resume.status, timeout or 0.0)
            except SSEError as exc:
                raise UnexpectedResponse("GET", path, str(exc)) from exc
            except httpx.TransportError:
                pass  # dropped: connect again, after the last event seen
            finally:
                response.close()
            pause = resume.pause()
            if events.past(deadline, pause):
                raise WaitTimeout(job_id, resume.status, timeout or 0.0)
            time.sleep(pause)

    def _open_events(self, path: str, resume: events.Resume, deadline: float | None) -> httpx.Response | None:
        """The stream's response, opened (and opened again) as a GET is sent; None if the
        server has no events route."""
        call: calls.Call[None] = calls.Call("GET", path, lambda response: None)

        def once() -> httpx.Response | None:
            request = self._http.build_request("GET", path, headers=resume.headers(),
                                               timeout=backoff.request_timeout(events.stream_timeout(self._http.timeout), deadline))
            try:
                response = self._http.send(request, stream=True)
            except httpx.RequestError as exc:
                raise call.failure(exc) from exc
            if response.is_success:
                return response
            response.read()
            response.close()
            if events.route_missing(response):
                return None
            raise error_from_response(response)

        budget = None if deadline is None else deadline - time.monotonic()
        return Retrying(**backoff.resending(call.replayable, self._retries, budget))(once)

    def _polled_events(self, job_id: str, deadline: float | None, timeout: float | None) -> Iterator[Event]:
        """``events`` from a server without the route: ``GET /result`` polled, with the
        polling backoff, its ``partial_answer`` as deltas."""
        polled = events.Polled()
        progress = backoff.WaitProgress(job_id, timeout or 0.0, None)
        out_of_time = progress.out_of_time if deadline is not None else None
        for pause in backoff.poll_pauses():
            try:
                outcome = progress.seen(self._send(calls.result(job_id), deadline, out_of_time))
            except (JobFailed, JobStopped) as exc:
                yield polled.ended(exc)
                return
            yield from polled.outcome(outcome)
            if not isinstance(outcome, NotReady):
                return
            if events.past(deadline, pause):
                raise WaitTimeout(job_id, progress.last, timeout or 0.0)
            time.sleep(pause)

    def wait(self, job_id: str, *, timeout: float = DEFAULT_WAIT,
             on_status: StatusCallback | None = None, on_text: TextCallback | None = None) -> JobResult:
        """Poll until the job is final: its result, or ``JobFailed``/``JobStopped``, or
        ``WaitTimeout`` after ``timeout`` seconds (the job keeps running); each poll, and any
        resend of it, fits in what is left of ``timeout``. ``on_status`` hears the status at
        each poll. With ``on_text``, the job's ``events`` are followed instead, and ``on_text``
        gets the answer written so far each time it grows (or restarts, on a retried attempt)."""
        return self._wait(job_id, time.monotonic() + timeout, timeout, on_status, on_text)

    def _wait(self, job_id: str, deadline: float, timeout: float,
              on_status: StatusCallback | None, on_text: TextCallback | None = None) -> JobResult:
        if on_text is not None:
            watch = events.Watch(on_status, on_text)  # the events end with the result or its error
            stream = self._events(job_id, None, deadline, timeout)
            try:
                return next(result for event in stream if (result := watch.heard(event)) is not None)
            finally:
                stream.close()
        progress = backoff.WaitProgress(job_id, timeout, on_status)

        def poll() -> JobResult | NotReady:
            return progress.seen(self._send(calls.result(job_id), deadline, progress.out_of_time))

        return Retrying(**backoff.polling(job_id, timeout, deadline - time.monotonic()))(poll)

    def ask(self, query: str, *, collection: str | None = None, top_k: int | None = None,
            mode: str | None = None, timeout: float = DEFAULT_WAIT,
            on_status: StatusCallback | None = None, idempotency_key: str | None = None,
            conversation_id: str | None = None, filter: Mapping[str, Any] | None = None,
            on_text: TextCallback | None = None, callback_url: str | None = None) -> ResultView:
        """``submit`` then ``wait``: the answer with its sources, both within ``timeout``;
        ``on_text`` as for ``wait``."""
        deadline = time.monotonic() + timeout
        accepted = self._send(calls.submit(query, collection, top_k, mode, idempotency_key,
                                           conversation_id=conversation_id, filter=filter,
                                           callback_url=callback_url), deadline)
        if on_status:
            on_status(accepted.status)
        answer = self._wait(accepted.job_id, deadline, timeout, on_status, on_text)
        return calls.chat_answer(answer, accepted.job_id)

    def add_document(self, text: str, *, content_type: str | None = None, idempotency_key: str | None = None,
                     **fields: Any) -> DocumentAccepted:
        """Queue a text document (``POST /documents``); ``fields``: ``collection``,
        ``document_id``, ``title``, ``source``, ``metadata``; ``idempotency_key`` as for ``submit``."""
        return self._send(calls.add_document(text, content_type, idempotency_key, **fields))

    def upload_document(self, data: bytes, filename: str, *, idempotency_key: str | None = None,
                        **fields: Any) -> DocumentAccepted:
        """Queue a file of any size or type (a PDF, say) through a presigned upload.
        ``idempotency_key`` as for ``submit``, sent on both API calls (the API keeps a key per
        path, so one key serves both)."""
        key = calls.logical_key(idempotency_key)
        ticket = self._send(calls.create_upload(filename, key, **fields))
        with httpx.Client(timeout=self._http.timeout) as plain:  # no API key for S3
            try:
                response = plain.send(calls.post_upload(ticket, data, filename))
            except httpx.RequestError as exc:
                raise calls.UPLOADED.failure(exc) from exc
        calls.UPLOADED.answer(response)
        return self._send(calls.complete_upload(ticket.upload_id, key))

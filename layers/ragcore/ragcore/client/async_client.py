"""``AsyncClient``: the API from asyncio code, with the same operations as ``Client``.

Each method behaves as its synchronous twin in ``sync_client.Client`` (same requests, same
resends, same errors: both are built from ``calls`` and ``backoff``); its docstring says why
it exists, the twin's says the rest."""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable, Mapping, NoReturn, Sequence, TypeVar

import httpx
from httpx_sse import EventSource, SSEError
from tenacity import AsyncRetrying

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
from ragcore.client.connection import DEFAULT_TIMEOUT, Described, http_options
from ragcore.client.backoff import StatusCallback
from ragcore.client.errors import JobFailed, JobStopped, UnexpectedResponse, WaitTimeout, error_from_response
from ragcore.client.events import Event, TextCallback
from ragcore.client.sync_client import DEFAULT_WAIT

T = TypeVar("T")


class AsyncClient(Described):
    """See ``Client``; use it as an async context manager, or ``await aclose()``."""

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT,
        retries: int = backoff.RETRIES, transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        options = http_options(base_url, api_key, timeout)
        self._http = httpx.AsyncClient(**options, transport=transport)
        self._retries = retries
        self._authenticated = "Authorization" in options["headers"]

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: calls.Call[T], deadline: float | None = None,
                    out_of_time: Callable[[BaseException], NoReturn] | None = None) -> T:
        """As ``Client._send``: resends only where safe, all within ``deadline`` if given."""
        budget = None if deadline is None else deadline - time.monotonic()
        policy = backoff.resending(call.replayable, self._retries, budget, out_of_time)
        return await AsyncRetrying(**policy)(self._send_once, call, deadline)

    async def _send_once(self, call: calls.Call[T], deadline: float | None = None) -> T:
        timeout = backoff.request_timeout(self._http.timeout, deadline)
        try:
            response = await self._http.request(call.method, call.path, json=call.body, headers=call.headers,
                                              timeout=timeout)
        except httpx.RequestError as exc:
            raise call.failure(exc) from exc
        return call.answer(response)

    async def submit(self, query: str, *, collection: str | None = None, top_k: int | None = None,
                     mode: str | None = None, timeout: float | None = None,
                     idempotency_key: str | None = None, conversation_id: str | None = None,
                     filter: Mapping[str, Any] | None = None, callback_url: str | None = None) -> Accepted:
        """Queue a question without blocking the event loop; see ``Client.submit``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return await self._send(calls.submit(query, collection, top_k, mode, idempotency_key,
                                             conversation_id=conversation_id, filter=filter,
                                             callback_url=callback_url), deadline)

    async def submit_batch(self, questions: Sequence[str | Mapping[str, Any]], *,
                           idempotency_key: str | None = None) -> BatchAccepted:
        """See ``Client.submit_batch``."""
        return await self._send(calls.submit_batch(questions, idempotency_key))

    async def statuses(self, job_ids: Sequence[str]) -> JobStatuses:
        """See ``Client.statuses``."""
        return await self._send(calls.statuses(job_ids))

    async def status(self, job_id: str) -> JobStatusView:
        """See ``Client.status``."""
        return await self._send(calls.status(job_id))

    async def result(self, job_id: str) -> JobResult | NotReady:
        """See ``Client.result``: ``NotReady`` while the job runs."""
        return await self._send(calls.result(job_id))

    async def cancel(self, job_id: str) -> JobStatusView:
        """See ``Client.cancel``."""
        return await self._send(calls.cancel(job_id))

    async def conversation(self, conversation_id: str) -> ConversationView:
        """See ``Client.conversation``."""
        return await self._send(calls.conversation(conversation_id))

    async def delete_conversation(self, conversation_id: str) -> None:
        """See ``Client.delete_conversation``."""
        await self._send(calls.delete_conversation(conversation_id))

    def events(self, job_id: str, last_event_id: str | None = None, *,
               timeout: float | None = None) -> AsyncIterator[Event]:
        """``async for event in client.events(job_id)``; see ``Client.events``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return self._events(job_id, last_event_id, deadline, timeout)

    async def _events(self, job_id: str, last_event_id: str | None, deadline: float | None,
                      timeout: float | None) -> AsyncIterator[Event]:
        resume = events.Resume(last_event_id)
        path = calls.events_path(job_id)
        while True:
            response = await self._open_events(path, resume, deadline)
            if response is None:
                async for event in self._polled_events(job_id, deadline, timeout):
                    yield event
                return
            resume.connected()
            try:
                async for sse in EventSource(response).aiter_sse():
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
                await response.aclose()
            pause = resume.pause()
            if events.past(deadline, pause):
                raise WaitTimeout(job_id, resume.status, timeout or 0.0)
            await asyncio.sleep(pause)

    async def _open_events(self, path: str, resume: events.Resume,
                           deadline: float | None) -> httpx.Response | None:
        """See ``Client._open_events``."""
        call: calls.Call[None] = calls.Call("GET", path, lambda response: None)

        async def once() -> httpx.Response | None:
            request = self._http.build_request("GET", path, headers=resume.headers(),
                                               timeout=backoff.request_timeout(events.stream_timeout(self._http.timeout), deadline))
            try:
                response = await self._http.send(request, stream=True)
            except httpx.RequestError as exc:
                raise call.failure(exc) from exc
            if response.is_success:
                return response
            await response.aread()
            await response.aclose()
            if events.route_missing(response):
                return None
            raise error_from_response(response)

        budget = None if deadline is None else deadline - time.monotonic()
        return await AsyncRetrying(**backoff.resending(call.replayable, self._retries, budget))(once)

    async def _polled_events(self, job_id: str, deadline: float | None,
                             timeout: float | None) -> AsyncIterator[Event]:
        """See ``Client._polled_events``."""
        polled = events.Polled()
        progress = backoff.WaitProgress(job_id, timeout or 0.0, None)
        out_of_time = progress.out_of_time if deadline is not None else None
        for pause in backoff.poll_pauses():
            try:
                outcome = progress.seen(await self._send(calls.result(job_id), deadline, out_of_time))
            except (JobFailed, JobStopped) as exc:
                yield polled.ended(exc)
                return
            for event in polled.outcome(outcome):
                yield event
            if not isinstance(outcome, NotReady):
                return
            if events.past(deadline, pause):
                raise WaitTimeout(job_id, progress.last, timeout or 0.0)
            await asyncio.sleep(pause)

    async def wait(self, job_id: str, *, timeout: float = DEFAULT_WAIT,
                   on_status: StatusCallback | None = None, on_text: TextCallback | None = None) -> JobResult:
        """Polls without holding the event loop, so many jobs can be awaited at once (e.g.
        with ``asyncio.gather``); otherwise as ``Client.wait``, within ``timeout`` in all."""
        return await self._wait(job_id, time.monotonic() + timeout, timeout, on_status, on_text)

    async def _wait(self, job_id: str, deadline: float, timeout: float,
                    on_status: StatusCallback | None, on_text: TextCallback | None = None) -> JobResult:
        if on_text is not None:
            watch = events.Watch(on_status, on_text)  # the events end with the result or its error
            stream = self._events(job_id, None, deadline, timeout)
            try:
                return await anext(result async for event in stream if (result := watch.heard(event)) is not None)
            finally:
                await stream.aclose()
        progress = backoff.WaitProgress(job_id, timeout, on_status)

        async def poll() -> JobResult | NotReady:
            return progress.seen(await self._send(calls.result(job_id), deadline, progress.out_of_time))

        return await AsyncRetrying(**backoff.polling(job_id, timeout, deadline - time.monotonic()))(poll)

    async def ask(self, query: str, *, collection: str | None = None, top_k: int | None = None,
                  mode: str | None = None, timeout: float = DEFAULT_WAIT,
                  on_status: StatusCallback | None = None, idempotency_key: str | None = None,
                  conversation_id: str | None = None, filter: Mapping[str, Any] | None = None,
                  on_text: TextCallback | None = None, callback_url: str | None = None) -> ResultView:
        """``submit`` then ``wait`` within ``timeout``, for many questions at once; see ``Client.ask``."""
        deadline = time.monotonic() + timeout
        accepted = await self._send(calls.submit(query, collection, top_k, mode, idempotency_key,
                                                 conversation_id=conversation_id, filter=filter,
                                                 callback_url=callback_url), deadline)
        if on_status:
            on_status(accepted.status)
        answer = await self._wait(accepted.job_id, deadline, timeout, on_status, on_text)
        return calls.chat_answer(answer, accepted.job_id)

    async def add_document(self, text: str, *, content_type: str | None = None,
                           idempotency_key: str | None = None, **fields: Any) -> DocumentAccepted:
        """See ``Client.add_document``."""
        return await self._send(calls.add_document(text, content_type, idempotency_key, **fields))

    async def upload_document(self, data: bytes, filename: str, *, idempotency_key: str | None = None,
                              **fields: Any) -> DocumentAccepted:
        """See ``Client.upload_document``; the file's PUT does not block the event loop either."""
        key = calls.logical_key(idempotency_key)
        ticket = await self._send(calls.create_upload(filename, key, **fields))
        async with httpx.AsyncClient(timeout=self._http.timeout) as plain:  # no API key for S3
            try:
                response = await plain.send(calls.post_upload(ticket, data, filename))
            except httpx.RequestError as exc:
                raise calls.UPLOADED.failure(exc) from exc
        calls.UPLOADED.answer(response)
        return await self._send(calls.complete_upload(ticket.upload_id, key))

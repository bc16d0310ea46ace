"""``Client``: the API from synchronous code."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import httpx
from tenacity import Retrying

from ragcore.api_schema import (
    Accepted,
    DocumentAccepted,
    JobResult,
    JobStatusView,
    NotReady,
    ResultView,
)
from ragcore.client import backoff, calls
from ragcore.client.connection import DEFAULT_TIMEOUT, http_options
from ragcore.client.errors import ApiUnreachable, error_from_response
from ragcore.domain.jobs import JobStatus

T = TypeVar("T")
StatusCallback = Callable[[JobStatus], None]
DEFAULT_WAIT = 300.0


class Client:
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

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def __repr__(self) -> str:  # never the key itself
        return f"Client({self.base_url!r}, api_key={'set' if self._authenticated else 'unset'})"

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: calls.Call[T]) -> T:
        return Retrying(**backoff.resending(call.replayable, self._retries))(self._send_once, call)

    def _send_once(self, call: calls.Call[T]) -> T:
        try:
            response = self._http.request(call.method, call.path, json=call.body)
        except httpx.TransportError as exc:
            raise ApiUnreachable(call.method, call.path, exc) from exc
        return call.read(response)

    def submit(self, query: str, *, collection: str | None = None, top_k: int | None = None,
               mode: str | None = None) -> Accepted:
        """Queue a question (``POST /chat``); ``wait`` for its answer."""
        return self._send(calls.submit(query, collection, top_k, mode))

    def status(self, job_id: str) -> JobStatusView:
        return self._send(calls.status(job_id))

    def result(self, job_id: str) -> JobResult | NotReady:
        """The result, or ``NotReady`` while the job is queued or started; ``JobFailed`` or
        ``JobStopped`` if it ended otherwise."""
        return self._send(calls.result(job_id))

    def cancel(self, job_id: str) -> JobStatusView:
        """Stop a chat job: ``stopped`` at once if it was queued, ``cancel_requested`` if it
        is started (it stops at its next step)."""
        return self._send(calls.cancel(job_id))

    def wait(self, job_id: str, *, timeout: float = DEFAULT_WAIT,
             on_status: StatusCallback | None = None) -> JobResult:
        """Poll until the job is final: its result, or ``JobFailed``/``JobStopped``, or
        ``WaitTimeout`` after ``timeout`` seconds (the job keeps running). ``on_status`` hears
        the status at each poll."""
        def poll() -> JobResult | NotReady:
            outcome = self.result(job_id)
            if isinstance(outcome, NotReady) and on_status:
                on_status(outcome.status)
            return outcome

        return Retrying(**backoff.polling(job_id, timeout))(poll)

    def ask(self, query: str, *, collection: str | None = None, top_k: int | None = None,
            mode: str | None = None, timeout: float = DEFAULT_WAIT,
            on_status: StatusCallback | None = None) -> ResultView:
        """``submit`` then ``wait``: the answer with its sources."""
        accepted = self.submit(query, collection=collection, top_k=top_k, mode=mode)
        if on_status:
            on_status(accepted.status)
        answer = self.wait(accepted.job_id, timeout=timeout, on_status=on_status)
        assert isinstance(answer, ResultView)  # a chat job's result (the API's ``kind``)
        return answer

    def add_document(self, text: str, *, content_type: str | None = None, **fields: Any) -> DocumentAccepted:
        """Queue a text document (``POST /documents``); ``fields``: ``collection``,
        ``document_id``, ``title``, ``source``, ``metadata``."""
        return self._send(calls.add_document(text, content_type, **fields))

    def upload_document(self, data: bytes, filename: str, **fields: Any) -> DocumentAccepted:
        """Queue a file of any size or type (a PDF, say) through a presigned upload."""
        ticket = self._send(calls.create_upload(filename, **fields))
        with httpx.Client(timeout=self._http.timeout) as plain:  # no API key for S3
            try:
                response = plain.send(calls.put_upload(ticket, data))
            except httpx.TransportError as exc:
                raise ApiUnreachable("PUT", "the upload URL", exc) from exc
        if response.is_error:
            raise error_from_response(response)
        return self._send(calls.complete_upload(ticket.upload_id))

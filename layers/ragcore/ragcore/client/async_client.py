"""``AsyncClient``: the API from asyncio code, with the same operations as ``Client``."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying

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
from ragcore.client.sync_client import DEFAULT_WAIT, StatusCallback

T = TypeVar("T")


class AsyncClient:
    """See ``Client``; use it as an async context manager, or ``await aclose()``."""

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT,
        retries: int = backoff.RETRIES, transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        options = http_options(base_url, api_key, timeout)
        self._http = httpx.AsyncClient(**options, transport=transport)
        self._retries = retries
        self._authenticated = "Authorization" in options["headers"]

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def __repr__(self) -> str:  # never the key itself
        return f"AsyncClient({self.base_url!r}, api_key={'set' if self._authenticated else 'unset'})"

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: calls.Call[T]) -> T:
        return await AsyncRetrying(**backoff.resending(call.replayable, self._retries))(self._send_once, call)

    async def _send_once(self, call: calls.Call[T]) -> T:
        try:
            response = await self._http.request(call.method, call.path, json=call.body)
        except httpx.TransportError as exc:
            raise ApiUnreachable(call.method, call.path, exc) from exc
        return call.read(response)

    async def submit(self, query: str, *, collection: str | None = None, top_k: int | None = None,
                     mode: str | None = None) -> Accepted:
        return await self._send(calls.submit(query, collection, top_k, mode))

    async def status(self, job_id: str) -> JobStatusView:
        return await self._send(calls.status(job_id))

    async def result(self, job_id: str) -> JobResult | NotReady:
        return await self._send(calls.result(job_id))

    async def cancel(self, job_id: str) -> JobStatusView:
        return await self._send(calls.cancel(job_id))

    async def wait(self, job_id: str, *, timeout: float = DEFAULT_WAIT,
                   on_status: StatusCallback | None = None) -> JobResult:
        async def poll() -> JobResult | NotReady:
            outcome = await self.result(job_id)
            if isinstance(outcome, NotReady) and on_status:
                on_status(outcome.status)
            return outcome

        return await AsyncRetrying(**backoff.polling(job_id, timeout))(poll)

    async def ask(self, query: str, *, collection: str | None = None, top_k: int | None = None,
                  mode: str | None = None, timeout: float = DEFAULT_WAIT,
                  on_status: StatusCallback | None = None) -> ResultView:
        accepted = await self.submit(query, collection=collection, top_k=top_k, mode=mode)
        if on_status:
            on_status(accepted.status)
        answer = await self.wait(accepted.job_id, timeout=timeout, on_status=on_status)
        assert isinstance(answer, ResultView)  # a chat job's result (the API's ``kind``)
        return answer

    async def add_document(self, text: str, *, content_type: str | None = None,
                           **fields: Any) -> DocumentAccepted:
        return await self._send(calls.add_document(text, content_type, **fields))

    async def upload_document(self, data: bytes, filename: str, **fields: Any) -> DocumentAccepted:
        ticket = await self._send(calls.create_upload(filename, **fields))
        async with httpx.AsyncClient(timeout=self._http.timeout) as plain:  # no API key for S3
            try:
                response = await plain.send(calls.put_upload(ticket, data))
            except httpx.TransportError as exc:
                raise ApiUnreachable("PUT", "the upload URL", exc) from exc
        if response.is_error:
            raise error_from_response(response)
        return await self._send(calls.complete_upload(ticket.upload_id))

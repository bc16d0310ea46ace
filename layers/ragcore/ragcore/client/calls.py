"""Each API operation as data: method, path, body, how to read the answer and which
refusals may be sent again. ``Client`` and ``AsyncClient`` only add the I/O, so the two
cannot disagree about the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Mapping, Sequence, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

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
    UploadTicketView,
)
from ragcore.client import backoff
from ragcore.client.errors import ApiUnreachable, UnexpectedResponse, error_from_response

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_RESULT = TypeAdapter(JobResult)


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[httpx.Response], T]
    body: dict[str, Any] | None = None
    replayable: backoff.Replayable = field(default=backoff.idempotent)
    headers: dict[str, str] | None = None

    def answer(self, response: httpx.Response) -> T:
        """The answer read, or the error it means; a body that is not the expected document
        is an ``UnexpectedResponse``, never a pydantic error."""
        try:
            return self.read(response)
        except ValidationError as exc:
            kind = response.headers.get("content-type", "no content type")
            raise UnexpectedResponse(self.method, self.path, f"HTTP {response.status_code} ({kind}) "
                                     f"is not the API's document ({exc.error_count()} problem(s))") from exc

    def failure(self, exc: httpx.RequestError) -> Exception:
        """What an httpx error while sending means: the API unreachable (the connection), or
        an answer that is not the API's (redirects without end, a body that cannot be decoded)."""
        if isinstance(exc, httpx.TransportError):
            return ApiUnreachable(self.method, self.path, exc)
        return UnexpectedResponse(self.method, self.path, f"{type(exc).__name__}: {exc}")


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    def read(response: httpx.Response) -> M:
        if response.is_error:
            raise error_from_response(response)
        return model.model_validate_json(response.content)

    return read


def _read_result(response: httpx.Response) -> JobResult | NotReady:
    if response.is_error:
        raise error_from_response(response)
    if response.status_code == 202:
        return NotReady.model_validate_json(response.content)
    return _RESULT.validate_json(response.content)


def _segment(value: str) -> str:
    """An id as one path segment: an id with ``/`` or ``..`` in it cannot reach another route."""
    return quote(value, safe="")


def _present(**fields: Any) -> dict[str, Any]:
    """The fields the caller gave; the rest take the API's defaults."""
    return {name: value for name, value in fields.items() if value is not None}


def logical_key(key: str | None) -> str:
    """The ``Idempotency-Key`` of one logical call: the caller's, or a new random one. A
    ``Call`` is built once per logical call and every resend of it sends the same headers, so
    the API answers a resend with the first answer instead of making a second job."""
    return key or str(uuid.uuid4())


def _keyed(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": logical_key(key)}


def submit(query: str, collection: str | None = None, top_k: int | None = None,
           mode: str | None = None, idempotency_key: str | None = None, *,
           conversation_id: str | None = None, filter: Mapping[str, Any] | None = None,
           callback_url: str | None = None) -> Call[Accepted]:
    # Not validated here: the API is the one judge of a request (its limits may be newer
    # than this client), and its 422 names each bad field.
    body = _present(query=query, collection=collection, top_k=top_k, mode=mode, conversation_id=conversation_id,
                    filter=None if filter is None else dict(filter), callback_url=callback_url)
    return Call("POST", "/chat", _model(Accepted), body, backoff.keyed, _keyed(idempotency_key))


def submit_batch(questions: Sequence[str | Mapping[str, Any]],
                 idempotency_key: str | None = None) -> Call[BatchAccepted]:
    """Each question a query, or a ``POST /chat`` body (``query``, ``top_k``, ...)."""
    body = {"questions": [{"query": q} if isinstance(q, str) else dict(q) for q in questions]}
    return Call("POST", "/chat/batch", _model(BatchAccepted), body, backoff.keyed, _keyed(idempotency_key))


def statuses(job_ids: Sequence[str]) -> Call[JobStatuses]:
    return Call("GET", f"/jobs?ids={','.join(_segment(i) for i in job_ids)}", _model(JobStatuses))


def conversation(conversation_id: str) -> Call[ConversationView]:
    return Call("GET", f"/conversations/{_segment(conversation_id)}", _model(ConversationView))


def delete_conversation(conversation_id: str) -> Call[None]:
    return Call("DELETE", f"/conversations/{_segment(conversation_id)}", _stored)


def status(job_id: str) -> Call[JobStatusView]:
    return Call("GET", f"/job-status/{_segment(job_id)}", _model(JobStatusView))


def result(job_id: str) -> Call[JobResult | NotReady]:
    return Call("GET", f"/result/{_segment(job_id)}", _read_result)


def events_path(job_id: str) -> str:
    """``GET /jobs/{id}/events``: read as a stream (``events``), not as one ``Call``."""
    return f"/jobs/{_segment(job_id)}/events"


def cancel(job_id: str) -> Call[JobStatusView]:
    return Call("POST", f"/jobs/{_segment(job_id)}/cancel", _model(JobStatusView))


def add_document(text: str, content_type: str | None = None, idempotency_key: str | None = None,
                 **fields: Any) -> Call[DocumentAccepted]:
    body = _present(text=text, content_type=content_type, **fields)
    return Call("POST", "/documents", _model(DocumentAccepted), body, backoff.keyed, _keyed(idempotency_key))


def create_upload(filename: str, idempotency_key: str | None = None, **fields: Any) -> Call[UploadTicketView]:
    body = _present(filename=filename, **fields)
    return Call("POST", "/documents/uploads", _model(UploadTicketView), body, backoff.keyed,
                _keyed(idempotency_key))


def complete_upload(upload_id: str, idempotency_key: str | None = None) -> Call[DocumentAccepted]:
    return Call("POST", f"/documents/uploads/{_segment(upload_id)}/complete", _model(DocumentAccepted),
                replayable=backoff.keyed, headers=_keyed(idempotency_key))


def post_upload(ticket: UploadTicketView, data: bytes, filename: str) -> httpx.Request:
    """The file's form POST to its presigned URL (fields first, the file last, as S3 requires):
    sent without the API's key, which S3 must not see."""
    return httpx.Request(ticket.method, ticket.url, data=ticket.fields, files={"file": (filename, data)})


def _stored(response: httpx.Response) -> None:
    if response.is_error:
        raise error_from_response(response)


# How the POST's answer and its httpx errors are read: like an API call's, named for the URL.
UPLOADED: Call[None] = Call("POST", "the upload URL", _stored)


def chat_answer(answer: JobResult, job_id: str) -> ResultView:
    """``ask``'s answer: a chat job's result has the chat's shape."""
    if not isinstance(answer, ResultView):
        raise UnexpectedResponse("GET", f"/result/{job_id}", "not a chat job's result")
    return answer

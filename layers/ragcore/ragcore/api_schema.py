"""The HTTP API's wire format: every document the API answers with.

It lives in the core package, not in the API function, so the API (which builds these
documents) and ``ragcore.client`` (which reads them) share one definition and cannot drift.
The ``examples`` end up in the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragcore.domain.answers import Answer, Source
from ragcore.domain.callbacks import WebhookDelivery, WebhookState
from ragcore.domain.documents import DocumentRecord
from ragcore.domain.errors import JobNotFoundError
from ragcore.domain.jobs import Job, JobStatus
from ragcore.domain.job_kinds import JobKind, ResultShape, policy
from ragcore.domain.tenancy import unscoped

# A job's kind as the OpenAPI document has always shown it: an inline enum of the values.
KindName = Literal[tuple(kind.value for kind in JobKind)]  # type: ignore[valid-type]

_JOB_ID = "3f2b8c1e9d4a4f6b8e2c7a1d5b9e0f42"
_CONVERSATION_ID = "9c4e1f0a7b3d4e2c8f6a5b1d0e9c7a34"
_CREATED = "2025-01-07T10:15:02.114000+00:00"


def iso(ts: float | None) -> str | None:
    """Times on the wire: ISO 8601 in UTC."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat() if ts is not None else None


class Links(BaseModel):
    status: str = Field(description="GET it for the job's status")
    result: str = Field(description="GET it for the job's result (202 until it is ready)")


def links_for(job_id: str, base_path: str = "") -> Links:
    return Links(status=f"{base_path}/job-status/{job_id}", result=f"{base_path}/result/{job_id}")


_LINKS = {"status": f"/job-status/{_JOB_ID}", "result": f"/result/{_JOB_ID}"}


class Accepted(BaseModel):
    """``POST /chat``'s 202: the job is queued; poll ``links``. Send ``conversation_id`` with
    a follow-up question to ask it in the same conversation."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{"job_id": _JOB_ID, "status": "queued", "links": _LINKS, "conversation_id": _CONVERSATION_ID}],
    })

    job_id: str
    status: JobStatus
    links: Links
    conversation_id: str = Field(
        description="the conversation the question is a turn of (a new one unless one was sent)"
    )

    @classmethod
    def of(cls, job: Job, base_path: str = "") -> "Accepted":
        return cls(job_id=job.job_id, status=job.status, links=links_for(job.job_id, base_path),
                   conversation_id=job.request["conversation_id"])


_PARTIAL_ANSWER = (
    "while started: the answer as the model has written it so far (raw, before the citation check; the "
    "result's answer replaces it); null otherwise")


class WebhookView(BaseModel):
    """A job's completion webhook: ``pending`` until the job ends and a delivery is tried,
    ``retrying`` after a failed attempt, then ``delivered`` (a 2xx) or ``failed`` (410, a refused
    address, or every attempt used)."""

    id: str = Field(description="the ``webhook-id`` header of every attempt: one per job")
    state: WebhookState
    attempts: int
    last_status: int | None = Field(description="the receiver's HTTP status on the last attempt")
    last_error: str | None
    delivered_at: str | None

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> "WebhookView":
        return cls(**delivery.model_dump(exclude={"delivered_at"}), delivered_at=iso(delivery.delivered_at))


class JobStatusView(BaseModel):
    """``status`` ``queued`` with a ``retry_at`` is a job waiting to be retried: its last
    attempt failed for a reason that may pass (``last_error``), and its message comes back
    then. It fails for good after the last delivery (``error``)."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{
            "job_id": _JOB_ID, "kind": "chat", "status": "started", "created_at": _CREATED,
            "started_at": "2025-01-07T10:15:02.301000+00:00", "finished_at": None, "attempts": 1,
            "error": None,
            "deadline_at": "2025-01-07T10:55:02.114000+00:00", "cancel_requested": False,
            "last_error": None, "retry_at": None, "partial_answer": "Skerry Point Lighthouse was first lit",
        }, {
            "job_id": _JOB_ID, "kind": "chat", "status": "queued", "created_at": _CREATED,
            "started_at": "2025-01-07T10:15:02.301000+00:00", "finished_at": None, "attempts": 2,
            "error": None,
            "deadline_at": "2025-01-07T10:55:02.114000+00:00", "cancel_requested": False,
            "last_error": "llm is unavailable: InternalServerError",
            "retry_at": "2025-01-07T10:15:47.950000+00:00",
        }],
    })

    job_id: str
    kind: KindName
    status: JobStatus
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    attempts: int = Field(description="deliveries a worker claimed so far")
    error: str | None = Field(description="why the job failed or stopped")
    deadline_at: str | None = Field(description="unfinished by then (and held by no worker), the job fails")
    cancel_requested: bool = Field(description="a stop was asked for; a started job stops at its next step")
    last_error: str | None = Field(
        default=None,
        description="why the latest attempt failed, when it may be retried (the LLM or a store down)",
    )
    retry_at: str | None = Field(
        default=None, description="while queued after a failed attempt: when the next attempt is due"
    )
    webhook: WebhookView | None = Field(
        default=None, description="the completion webhook's delivery, for a job with a callback_url")
    partial_answer: str | None = Field(default=None, description=_PARTIAL_ANSWER)

    @classmethod
    def of(cls, job: Job, webhook: WebhookDelivery | None = None) -> "JobStatusView":
        return cls(
            webhook=WebhookView.of(webhook) if webhook is not None else None,
            job_id=job.job_id,
            kind=job.kind,
            status=job.status,
            created_at=iso(job.created_at),
            started_at=iso(job.started_at),
            finished_at=iso(job.finished_at),
            attempts=job.attempts,
            error=job.error,
            deadline_at=iso(job.deadline_at),
            cancel_requested=job.cancel_requested,
            last_error=job.last_error,
            retry_at=iso(job.retry_at),
            partial_answer=job.partial_answer,
        )


class NotReady(BaseModel):
    """Returned with 202 (and ``Retry-After``) while the job is queued or started; a job
    waiting to be retried says why and when (as in ``JobStatusView``)."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{
            "job_id": _JOB_ID, "status": "started", "message": "the job is started; poll again in a moment",
            "links": _LINKS, "attempts": 1, "partial_answer": "Skerry Point Lighthouse was first lit",
        }, {
            "job_id": _JOB_ID, "status": "queued",
            "message": "attempt 1 failed (llm is unavailable: InternalServerError); attempt 2 is due "
                       "at 2025-01-07T10:15:12.950000+00:00",
            "links": _LINKS, "attempts": 1, "last_error": "llm is unavailable: InternalServerError",
            "retry_at": "2025-01-07T10:15:12.950000+00:00",
        }],
    })

    job_id: str
    status: JobStatus
    message: str
    links: Links
    attempts: int = Field(default=0, description="deliveries a worker claimed so far")
    last_error: str | None = Field(default=None, description="as in the status document")
    retry_at: str | None = Field(default=None, description="as in the status document")
    partial_answer: str | None = Field(default=None, description=_PARTIAL_ANSWER)
    webhook: WebhookView | None = Field(default=None, description="as in the status document")

    @classmethod
    def of(cls, job: Job, links: Links, webhook: WebhookDelivery | None = None) -> "NotReady":
        if job.status is JobStatus.QUEUED and job.retry_at is not None:
            message = (f"attempt {job.attempts} failed ({job.last_error}); attempt {job.attempts + 1} "
                       f"is due at {iso(job.retry_at)}")
        else:
            message = f"the job is {job.status.value}; poll again in a moment"
        return cls(job_id=job.job_id, status=job.status, message=message, links=links, attempts=job.attempts,
                   last_error=job.last_error, retry_at=iso(job.retry_at), partial_answer=job.partial_answer,
                   webhook=WebhookView.of(webhook) if webhook is not None else None)


class ResultView(Answer):
    """A finished chat job: ``[n]`` in ``answer`` cites ``sources[n-1]``. Every citation has
    been checked against its passage: ``sentences`` says, per sentence, what the model cited,
    what the answer now cites, and whether a source supports it; ``grounded`` is the share of
    claims supported."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{
            "job_id": _JOB_ID, "kind": "chat", "status": "finished", "created_at": _CREATED,
            "finished_at": "2025-01-07T10:15:04.020000+00:00",
            "answer": "The lighthouse was first lit on 12 October 1874 [1]. Its first keeper was Angus Reid.",
            "sources": [{
                "n": 1, "chunk_id": "0b6f3c0e-6c55-5d8e-9d0f-2f4c8a6b1e73",
                "document_id": "skerry-point-lighthouse", "title": "Skerry Point Lighthouse",
                "source": "skerry-point-lighthouse.md", "score": 1.63,
                "snippet": "Skerry Point Lighthouse: It was first lit on 12 October 1874 and was automated in 1991...",
                "text": "Skerry Point Lighthouse\nIt was first lit on 12 October 1874 and was automated in 1991, "
                        "when its last keeper left.",
            }],
            "method": "generated",
            "sentences": [
                {"text": "The lighthouse was first lit on 12 October 1874.", "citations": [1],
                 "model_citations": [3], "support": 0.78, "supported": True, "changed": True, "declines": False},
                {"text": "Its first keeper was Angus Reid.", "citations": [], "model_citations": [1],
                 "support": 0.21, "supported": False, "changed": True, "declines": False},
            ],
            "grounded": 0.5,
            "abstained": False,
            "model": "gpt-4.1-mini",
            "usage": {"prompt_tokens": 612, "completion_tokens": 19, "total_tokens": 631},
            "timings_ms": {"rewrite_ms": 0.0, "embed_ms": 7.7, "retrieval_ms": 0.5, "llm_ms": 1704.0,
                           "check_ms": 96.3, "total_ms": 1808.5},
        }],
    })

    job_id: str
    kind: Literal["chat"] = "chat"
    status: JobStatus
    created_at: str | None
    finished_at: str | None


class TurnView(BaseModel):
    """One question of a conversation: its job, and once that is final what came of it."""

    job_id: str
    question: str
    standalone_query: str | None = Field(description="what retrieval searched for; null until answered")
    status: JobStatus
    answer: str | None
    sources: list[Source] = Field(description="as in the job's result, without each passage's whole text")
    error: str | None = Field(default=None, description="why the turn's job failed or stopped")
    created_at: str | None
    finished_at: str | None = None


class ConversationView(BaseModel):
    """``GET /conversations/{id}``: the turns in the order they were asked. A conversation
    expires with its newest turn's job."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{
            "conversation_id": _CONVERSATION_ID, "created_at": _CREATED,
            "turns": [{
                "job_id": _JOB_ID, "question": "When was Skerry Point Lighthouse first lit?",
                "standalone_query": "When was Skerry Point Lighthouse first lit?", "status": "finished",
                "answer": "Skerry Point Lighthouse was first lit on 12 October 1874 [1].",
                "sources": [{"n": 1, "chunk_id": "0b6f3c0e-6c55-5d8e-9d0f-2f4c8a6b1e73",
                             "document_id": "skerry-point-lighthouse", "title": "Skerry Point Lighthouse",
                             "source": "skerry-point-lighthouse.md", "score": 1.63,
                             "snippet": "Skerry Point Lighthouse: It was first lit on 12 October 1874...",
                             "text": ""}],
                "error": None, "created_at": _CREATED, "finished_at": "2025-01-07T10:15:04.020000+00:00",
            }, {
                "job_id": "5d0c9e8b7a6f4e3d2c1b0a9f8e7d6c5b", "question": "When was it automated?",
                "standalone_query": None, "status": "queued", "answer": None, "sources": [], "error": None,
                "created_at": "2025-01-07T10:15:09.500000+00:00", "finished_at": None,
            }],
        }],
    })

    conversation_id: str
    created_at: str | None
    turns: list[TurnView]


class DocumentResultView(BaseModel):
    """What an ingest or delete job did. ``action``: created, replaced, unchanged (same
    content hash, nothing re-embedded), deleted, or superseded (a newer job for the same
    document came first, so this one left the index alone)."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{
            "job_id": _JOB_ID, "kind": "ingest", "status": "finished", "created_at": _CREATED,
            "finished_at": "2025-01-07T10:15:03.480000+00:00", "document_id": "skerry-point-lighthouse",
            "collection": "default", "action": "created", "chunks": 4, "title": "Skerry Point Lighthouse",
        }],
    })

    job_id: str
    kind: Literal["ingest", "delete"]
    status: JobStatus
    created_at: str | None
    finished_at: str | None
    document_id: str
    collection: str
    action: Literal["created", "replaced", "unchanged", "deleted", "superseded"]
    chunks: int | None = None
    title: str | None = None


# ``GET /result/{id}``'s 200: which of the two ``kind`` says.
JobResult = Annotated[ResultView | DocumentResultView, Field(discriminator="kind")]
# The view of each kind's result (``domain.job_kinds``: a kind's policy names its shape).
RESULT_VIEWS: dict[ResultShape, type[ResultView] | type[DocumentResultView]] = {
    ResultShape.ANSWER: ResultView, ResultShape.DOCUMENT: DocumentResultView,
}


def final_document(job: Job, outcome: dict | None) -> tuple[int, dict]:
    """What ``GET /result`` answers for a final job, and its HTTP status: 200 with the result,
    or 409 with the error document of a failed or stopped job. One definition, because a
    completion webhook POSTs the same document (``services/webhooks.py``). A document job's
    collection is shown as the job's tenant names it. A finished job without its result has
    expired (or been deleted) since it was read: ``JobNotFoundError``, as a read now would be."""
    if job.status is not JobStatus.FINISHED:
        error = ErrorInfo(code=f"job_{job.status.value}", message=job.error or f"the job was {job.status.value}",
                          job_id=job.job_id, status=job.status.value)
        return 409, ErrorBody(error=error).model_dump(exclude_none=True)
    if outcome is None:
        raise JobNotFoundError(job.job_id)
    view = RESULT_VIEWS[policy(job.kind).result](
        job_id=job.job_id, kind=job.kind, status=job.status, created_at=iso(job.created_at),
        finished_at=iso(job.finished_at), **outcome,
    )
    if isinstance(view, DocumentResultView):
        shown = view.model_copy(update={"collection": unscoped(job.owner, view.collection)})
        return 200, shown.model_dump(exclude_none=True)
    return 200, view.model_dump()


class Check(BaseModel):
    status: Literal["ok", "unavailable", "error"]
    latency_ms: float | None = None
    error: str | None = None


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={
        "examples": [{"status": "ok", "checks": {"valkey": {"status": "ok", "latency_ms": 0.4},
                                                 "queue": {"status": "ok", "latency_ms": 6.1}}}],
    })

    status: Literal["ok", "degraded"]
    checks: dict[str, Check]


class DocumentAccepted(BaseModel):
    """Returned with 202 when document work is queued; poll ``links`` like a chat job."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{
            "document_id": "skerry-point-lighthouse", "collection": "default", "job_id": _JOB_ID,
            "status": "queued", "links": _LINKS,
            "document": "/documents/skerry-point-lighthouse?collection=default",
        }],
    })

    document_id: str
    collection: str
    job_id: str
    status: JobStatus
    links: Links
    document: str = Field(description="where the document's registry entry is")


class UploadTicketView(BaseModel):
    """POST ``fields`` and then the file, as ``multipart/form-data`` (the file part last, named
    ``file``), to ``url``; then POST to ``complete``. The form's signed policy bounds the file
    to ``max_bytes``: S3 refuses a larger one (``EntityTooLarge``)."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{
            "upload_id": _JOB_ID, "document_id": "annual-report", "method": "POST",
            "url": "https://s3.eu-west-1.amazonaws.com/ragcore-documents",
            "fields": {"key": f"uploads/{_JOB_ID}", "Content-Type": "application/pdf",
                       "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-credential": "...",
                       "x-amz-date": "20260101T000000Z", "policy": "eyJ...", "x-amz-signature": "..."},
            "max_bytes": 52428800, "expires_in": 900, "complete": f"/documents/uploads/{_JOB_ID}/complete",
        }],
    })

    upload_id: str
    document_id: str
    url: str
    method: Literal["POST"]
    fields: dict[str, str] = Field(description="form fields to send, as they are, before the file")
    max_bytes: int = Field(description="the largest file the form accepts")
    expires_in: int = Field(description="seconds the form stays valid")
    complete: str


class DocumentList(BaseModel):
    documents: list[DocumentRecord]
    total: int
    next_offset: int | None = Field(description="pass as ``offset`` for the next page; null on the last")


class ErrorDetail(BaseModel):
    field: str = Field(description="e.g. ``query``, ``path.job_id``, ``query.limit``")
    problem: str


class ErrorInfo(BaseModel):
    """``code`` is for programs and stays stable; ``message`` is for people. Some errors add
    fields of their own (a failed job's ``job_id`` and ``status``), hence ``extra="allow"``."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorBody(BaseModel):
    """Every 4xx and 5xx the API itself sends (and those API Gateway sends, with its response
    type as ``code``)."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [
            {"error": {"code": "job_not_found",
                       "message": f"no job with id '{_JOB_ID}'; it may never have existed or has expired"}},
            {"error": {"code": "invalid_request", "message": "the request is not valid",
                       "details": [{"field": "top_k",
                                    "problem": "Input should be less than or equal to 20"}]}},
            {"error": {"code": "job_failed", "message": "the model's context is too short for this prompt",
                       "job_id": _JOB_ID, "status": "failed"}},
        ],
    })

    error: ErrorInfo


# ``POST /chat/batch`` takes this many questions at most, ``GET /jobs`` this many ids.
MAX_BATCH = 100


class BatchQueued(BaseModel):
    """A batch's question that became a job, as ``POST /chat`` would answer it."""

    index: int = Field(description="the question's place in the request, from 0")
    job_id: str
    conversation_id: str
    status: JobStatus
    links: Links


class BatchRefused(BaseModel):
    """A batch's question that made no job, and why: ``invalid_request`` (``details`` as a
    422's), ``rate_limited`` or ``quota_exceeded`` (send it again after ``retry_after``
    seconds), ``dependency_unavailable`` (its message could not be queued; send it again)."""

    index: int
    status: int = Field(description="the HTTP status POST /chat would have answered the question with")
    error: ErrorInfo


class BatchAccepted(BaseModel):
    """``POST /chat/batch``'s 202: one entry per question, in the request's order; at least one
    is queued."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{
            "queued": 1, "refused": 1,
            "items": [
                {"index": 0, "job_id": _JOB_ID, "conversation_id": _CONVERSATION_ID, "status": "queued",
                 "links": _LINKS},
                {"index": 1, "status": 422,
                 "error": {"code": "invalid_request", "message": "the question is not valid",
                                       "details": [{"field": "top_k",
                                                    "problem": "Input should be less than or equal to 20"}]}},
            ],
        }],
    })

    queued: int
    refused: int
    items: list[BatchQueued | BatchRefused]


class JobStatuses(BaseModel):
    """``GET /jobs``: the status document of each id found, in the order asked (each id once);
    ids of no job the caller may see (unknown, expired, another tenant's) in ``not_found``."""

    jobs: list[JobStatusView]
    not_found: list[str]

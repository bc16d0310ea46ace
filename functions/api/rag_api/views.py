"""Response documents of the API, kept apart from routes so they can be read in one place."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ragcore.domain.answers import Answer
from ragcore.domain.documents import DocumentRecord
from ragcore.domain.jobs import Job, JobStatus


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat() if ts is not None else None


class Links(BaseModel):
    status: str
    result: str


def links_for(job_id: str, base_path: str = "") -> Links:
    return Links(status=f"{base_path}/job-status/{job_id}", result=f"{base_path}/result/{job_id}")


class Accepted(BaseModel):
    job_id: str
    status: JobStatus
    links: Links


class JobStatusView(BaseModel):
    job_id: str
    kind: str
    status: JobStatus
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    attempts: int
    error: str | None
    deadline_at: str | None  # unfinished by then (and held by no worker), the job fails
    cancel_requested: bool  # a stop was asked for; a started job stops at its next step

    @classmethod
    def of(cls, job: Job) -> "JobStatusView":
        return cls(
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
        )


class NotReady(BaseModel):
    """Returned with 202 while the job is queued or started."""

    job_id: str
    status: JobStatus
    message: str
    links: Links


class ResultView(Answer):
    job_id: str
    kind: Literal["chat"] = "chat"
    status: JobStatus
    created_at: str | None
    finished_at: str | None


class DocumentResultView(BaseModel):
    """What an ingest or delete job did. ``action``: created, replaced, unchanged (same
    content hash, nothing re-embedded), deleted, or superseded (a newer job for the same
    document came first, so this one left the index alone)."""

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


class Check(BaseModel):
    status: str
    latency_ms: float | None = None
    error: str | None = None


class Health(BaseModel):
    status: str
    checks: dict[str, Check]


class DocumentAccepted(BaseModel):
    """Returned with 202 when document work is queued; poll ``links`` like a chat job."""

    document_id: str
    collection: str
    job_id: str
    status: JobStatus
    links: Links
    document: str  # where the document's registry entry is


class UploadTicketView(BaseModel):
    """PUT the file to ``url`` with ``headers``, then POST to ``complete``."""

    upload_id: str
    document_id: str
    url: str
    method: str
    headers: dict[str, str]
    expires_in: int
    complete: str


class DocumentList(BaseModel):
    documents: list[DocumentRecord]
    total: int
    next_offset: int | None


class ErrorDetail(BaseModel):
    field: str  # e.g. ``query``, ``path.job_id``, ``query.limit``
    problem: str


class ErrorInfo(BaseModel):
    """``code`` is for programs and stays stable; ``message`` is for people. Some errors add
    fields of their own (a failed job's ``job_id`` and ``status``), hence ``extra="allow"``."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorBody(BaseModel):
    """Every 4xx and 5xx the API itself sends."""

    error: ErrorInfo

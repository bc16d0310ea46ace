"""Ingest and delete jobs in the worker (claiming and recording are ``job_runner``'s).

Each holds the document's lock while it touches the index, and acts only if it is still the
document's newest job: with the queue free to deliver in any order, an older ingest must not
resurrect a deleted document or overwrite a newer version.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ragcore.domain.documents import DocumentRecord, DocumentStatus
from ragcore.domain.errors import InvalidDocumentError, JobBusyError
from ragcore.domain.job_kinds import JobKind
from ragcore.domain.jobs import Job
from ragcore.domain.messages import DeleteRequest, IngestRequest, JobMessage
from ragcore.ports import BlobStore, DocumentStore, Embedder, JobStore, VectorIndex
from ragcore.services.documents import mark_document_failed
from ragcore.services.ingest import document_from_bytes, index_documents
from ragcore.services.job_runner import JobLimits, MessageOutcome, Run, run_job
from ragcore.services.parsing import ParseLimits


@dataclass(frozen=True)
class DocumentJobPorts:
    store: JobStore
    documents: DocumentStore
    blobs: BlobStore
    embedder: Embedder
    index: VectorIndex
    max_bytes: int  # the upload limit, checked again here: a presigned URL can be re-used
    parse_limits: ParseLimits = ParseLimits()


def run_document_job(
    message: JobMessage, ports: DocumentJobPorts, limits: JobLimits, delivery: int = 1,
    redeliver_in: Callable[[int], None] | None = None,
) -> MessageOutcome:
    """Document jobs cannot be cancelled (``domain.job_kinds``: ``POST /jobs/{id}/cancel``
    refuses them), so they have no step boundaries: a half-written version would be left behind."""
    work = _WORK[message.kind]

    def guarded(run: Run) -> dict[str, Any]:
        return work(run.job, ports, limits.lease_seconds)

    def failed(job: Job, error: str) -> None:
        mark_document_failed(ports.documents, job, error)

    return run_job(
        message, ports.store, guarded, limits, delivery, on_failed=failed, redeliver_in=redeliver_in
    )


@contextmanager
def _document_lock(
    documents: DocumentStore, collection: str, document_id: str, job_id: str, seconds: int
) -> Iterator[None]:
    if not documents.lock(collection, document_id, job_id, seconds):
        raise JobBusyError(f"document {document_id!r} is being changed by another job")
    try:
        yield
    finally:
        documents.unlock(collection, document_id, job_id)


def _current(documents: DocumentStore, collection: str, document_id: str, job: Job) -> DocumentRecord | None:
    record = documents.get(collection, document_id)
    return record if record is not None and record.job_id == job.job_id else None


def _ingest(job: Job, ports: DocumentJobPorts, lease_seconds: int) -> dict[str, Any]:
    request = IngestRequest.model_validate(job.request)
    outcome: dict[str, Any] = {"document_id": request.document_id, "collection": request.collection}
    with _document_lock(ports.documents, request.collection, request.document_id, job.job_id, lease_seconds):
        record = _current(ports.documents, request.collection, request.document_id, job)
        if record is None:
            return {**outcome, "action": "superseded"}
        head = ports.blobs.head(request.blob_key)
        if head is None or head.size > ports.max_bytes:
            raise InvalidDocumentError(
                "the uploaded file is missing" if head is None
                else f"the file is {head.size} bytes; the limit is {ports.max_bytes}"
            )
        document = document_from_bytes(
            ports.blobs.get(request.blob_key, request.blob_etag),
            request.content_type,
            document_id=request.document_id,
            fallback_title=(request.filename or request.document_id).rsplit(".", 1)[0],
            source=request.source or request.filename or "",
            metadata=request.metadata,
            title=request.title,
            limits=ports.parse_limits,
        )
        version = document.content_hash()
        if record.content_hash == version:
            action, chunks = "unchanged", record.chunks
        else:
            action = "replaced" if record.content_hash else "created"
            chunks = index_documents(
                [document], request.collection, ports.embedder, ports.index, limits=ports.parse_limits
            ).chunks
        ready = record.model_copy(update={
            "status": DocumentStatus.READY, "title": document.title, "source": document.source,
            "metadata": document.metadata, "content_hash": version, "chunks": chunks,
            "error": None, "updated_at": time.time(),
        })
        if not ports.documents.replace_if(request.collection, request.document_id, job.job_id, ready):
            # A newer job arrived while this one indexed; it runs after this lock is released
            # and brings the index to its own state.
            return {**outcome, "action": "superseded"}
    return {**outcome, "action": action, "chunks": chunks, "title": document.title}


def _delete(job: Job, ports: DocumentJobPorts, lease_seconds: int) -> dict[str, Any]:
    request = DeleteRequest.model_validate(job.request)
    outcome: dict[str, Any] = {"document_id": request.document_id, "collection": request.collection}
    with _document_lock(ports.documents, request.collection, request.document_id, job.job_id, lease_seconds):
        if _current(ports.documents, request.collection, request.document_id, job) is None:
            return {**outcome, "action": "superseded"}
        ports.index.delete_document(request.collection, request.document_id)
        if not ports.documents.replace_if(request.collection, request.document_id, job.job_id, None):
            return {**outcome, "action": "superseded"}  # re-ingested meanwhile: that job re-indexes
    return {**outcome, "action": "deleted"}


_WORK: dict[JobKind, Callable[[Job, DocumentJobPorts, int], dict[str, Any]]] = {
    JobKind.INGEST: _ingest, JobKind.DELETE: _delete,
}

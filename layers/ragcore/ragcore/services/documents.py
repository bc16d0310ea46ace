"""Accepting document work in the API: store the file, register the document, queue a job.

Every change to a document's chunks (ingest, replace, delete) runs in the worker through the
job queue, so the index has one writer path, with the same status endpoints as chat jobs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ragcore.domain.documents import DocumentRecord, DocumentStatus, new_document_id
from ragcore.domain.errors import (
    DependencyUnavailableError,
    DocumentNotFoundError,
    InvalidDocumentError,
    JobNotFoundError,
)
from ragcore.domain.jobs import Job, new_job, new_job_id
from ragcore.domain.messages import (
    DeleteRequest,
    DocumentFields,
    IngestRequest,
    JobKind,
    JobMessage,
    SavedUpload,
    UploadCreate,
)
from ragcore.ports import BlobStore, DocumentStore, JobQueue, JobStore
from ragcore.services.parsing import content_type_for

UPLOAD_URL_SECONDS = 900


@dataclass(frozen=True)
class DocumentPorts:
    jobs: JobStore
    queue: JobQueue
    documents: DocumentStore
    blobs: BlobStore
    deadline_seconds: float  # of each document job (see ``Job.deadline_at``)
    owner: str | None = None  # the caller's tenant, recorded on the jobs


@dataclass(frozen=True)
class UploadTicket:
    upload_id: str
    document_id: str
    url: str
    content_type: str
    expires_in: int


class UploadIncompleteError(InvalidDocumentError):
    """The presigned upload has not arrived in the bucket (yet)."""


class UploadNotFoundError(InvalidDocumentError):
    """No such upload: never created, or its ticket expired."""


class UploadCompletedError(InvalidDocumentError):
    """``complete`` was called twice: a replay must not queue the old file again."""


class TooLargeError(InvalidDocumentError):
    pass


def submit_file(
    fields: DocumentFields, data: bytes, filename: str | None, content_type: str, ports: DocumentPorts
) -> tuple[DocumentRecord, Job]:
    """A file sent in the request itself: stored first, then queued like an upload."""
    if not data.strip():
        raise InvalidDocumentError("the document is empty")
    job_id = new_job_id()
    blob_key = _blob_key(job_id)
    ports.blobs.put(blob_key, data, content_type)
    return _queue_ingest(fields, blob_key, filename, content_type, len(data), ports, job_id)


def create_upload(request: UploadCreate, ports: DocumentPorts) -> UploadTicket:
    """A presigned PUT for files too large for the API; the client then calls ``complete_upload``."""
    content_type = content_type_for(request.filename, request.content_type)
    upload_id = new_job_id()
    saved = SavedUpload.model_validate({
        **request.model_dump(), "document_id": request.document_id or new_document_id(),
        "content_type": content_type, "owner": ports.owner,
    })
    url = ports.blobs.presign_put(_blob_key(upload_id), content_type, UPLOAD_URL_SECONDS)
    ports.documents.save_upload(upload_id, saved.model_dump(), UPLOAD_URL_SECONDS + 3600)
    return UploadTicket(upload_id, str(saved.document_id), url, content_type, UPLOAD_URL_SECONDS)


def complete_upload(upload_id: str, max_bytes: int, ports: DocumentPorts) -> tuple[DocumentRecord, Job]:
    saved = ports.documents.load_upload(upload_id)
    upload = SavedUpload.model_validate(saved) if saved is not None else None
    if upload is None or upload.owner != ports.owner:  # another tenant's is not found either
        raise UploadNotFoundError(f"no upload {upload_id!r}; it may never have been created or has expired")
    try:
        ports.jobs.get(upload_id)  # the upload's job takes the upload's id
    except JobNotFoundError:
        pass
    else:
        raise UploadCompletedError(f"upload {upload_id!r} was completed already; its job is {upload_id}")
    blob_key = _blob_key(upload_id)
    size = ports.blobs.size(blob_key)
    if size is None:
        raise UploadIncompleteError("the file has not been uploaded yet: PUT it to the upload URL first")
    if size > max_bytes:
        raise TooLargeError(f"the file is {size} bytes; the limit is {max_bytes}")
    return _queue_ingest(upload, blob_key, upload.filename, upload.content_type, size, ports, upload_id)


def submit_delete(collection: str, document_id: str, ports: DocumentPorts) -> tuple[DocumentRecord, Job]:
    record = ports.documents.get(collection, document_id)
    if record is None:
        raise DocumentNotFoundError(collection, document_id)
    request = DeleteRequest(collection=collection, document_id=document_id)
    job = new_job("delete", request.model_dump(), ports.deadline_seconds, owner=ports.owner)
    updated = record.model_copy(update={"status": DocumentStatus.DELETING, "job_id": job.job_id,
                                        "updated_at": job.created_at, "error": None})
    _register_and_send(job, "delete", record, updated, ports)
    return updated, job


def _queue_ingest(
    fields: DocumentFields,
    blob_key: str,
    filename: str | None,
    content_type: str,
    size: int,
    ports: DocumentPorts,
    job_id: str,
) -> tuple[DocumentRecord, Job]:
    document_id = fields.document_id or new_document_id()
    request = IngestRequest(
        collection=fields.collection, document_id=document_id, blob_key=blob_key, filename=filename,
        content_type=content_type, title=fields.title, source=fields.source, metadata=fields.metadata,
    )
    job = new_job("ingest", request.model_dump(), ports.deadline_seconds, job_id, owner=ports.owner)
    previous = ports.documents.get(fields.collection, document_id)
    base = previous or DocumentRecord(
        document_id=document_id, collection=fields.collection, status=DocumentStatus.INGESTING,
        job_id=job.job_id, created_at=job.created_at, updated_at=job.created_at,
    )
    updated = base.model_copy(update={
        "status": DocumentStatus.INGESTING, "job_id": job.job_id, "updated_at": job.created_at,
        "filename": filename, "content_type": content_type, "size_bytes": size, "error": None,
    })
    _register_and_send(job, "ingest", previous, updated, ports)
    return updated, job


def mark_document_failed(documents: DocumentStore, job: Job, error: str) -> None:
    """A failed ingest or delete job leaves its document ``failed`` with the reason, if the
    entry still belongs to that job (a newer request may own it)."""
    if job.kind == "chat":
        return
    collection, document_id = job.request["collection"], job.request["document_id"]
    record = documents.get(collection, document_id)
    if record is not None:
        documents.replace_if(collection, document_id, job.job_id, record.model_copy(update={
            "status": DocumentStatus.FAILED, "error": error, "updated_at": time.time()
        }))


def _blob_key(upload_id: str) -> str:
    """Uploads live under ``uploads/`` (the prefix the template's IAM and lifecycle rule use),
    keyed by the id of the job that ingests them."""
    return f"uploads/{upload_id}"


def _register_and_send(
    job: Job, kind: JobKind, previous: DocumentRecord | None, updated: DocumentRecord, ports: DocumentPorts
) -> None:
    """Job and registry first, message last; if the send fails both are put back as they were,
    so nothing is left waiting for a job that will never run."""
    ports.jobs.create(job)
    ports.documents.put(updated)
    try:
        ports.queue.send(JobMessage(job_id=job.job_id, kind=kind))
    except DependencyUnavailableError:
        ports.jobs.delete(job.job_id)
        # Put the entry back only if it is still ours: a concurrent request may own it now.
        ports.documents.replace_if(updated.collection, updated.document_id, job.job_id, previous)
        raise

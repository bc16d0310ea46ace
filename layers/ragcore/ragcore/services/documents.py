"""Accepting document work in the API: store the file, register the document, queue a job.

Every change to a document's chunks (ingest, replace, delete) runs in the worker through the
job queue, so the index has one writer path, with the same status endpoints as chat jobs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from ragcore.domain.documents import DocumentRecord, DocumentStatus, new_document_id
from ragcore.domain.errors import (
    CollectionLimitError,
    DependencyUnavailableError,
    DocumentLimitError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    InvalidDocumentError,
    JobNotFoundError,
    UploadCompletedError,
    UploadIncompleteError,
    UploadNotFoundError,
)
from ragcore.domain.job_kinds import JobKind, policy
from ragcore.domain.jobs import Job, new_job, new_job_id
from ragcore.domain.messages import (
    DeleteRequest,
    DocumentFields,
    IngestRequest,
    JobMessage,
    SavedUpload,
    UploadCreate,
)
from ragcore.ports import BlobStore, DocumentStore, JobQueue, JobStore, PresignedPost
from ragcore.services.parsing import content_type_for

UPLOAD_URL_SECONDS = 900


@dataclass(frozen=True)
class DocumentLimits:
    """What one tenant's adds may cost: an upload's size (signed into its URL), its number of
    collections (each an index shard) and of documents per collection (config.py)."""

    max_upload_bytes: int
    max_collections: int
    max_documents: int


@dataclass(frozen=True)
class DocumentPorts:
    jobs: JobStore
    queue: JobQueue
    documents: DocumentStore
    blobs: BlobStore
    deadline_for: Callable[[JobKind], float]  # each job's time to its deadline (``Job.deadline_at``)
    limits: DocumentLimits
    owner: str | None = None  # the caller's tenant, recorded on the jobs


@dataclass(frozen=True)
class UploadTicket:
    upload_id: str
    document_id: str
    form: PresignedPost
    content_type: str
    max_bytes: int
    expires_in: int


def submit_file(
    fields: DocumentFields, data: bytes, filename: str | None, content_type: str, ports: DocumentPorts
) -> tuple[DocumentRecord, Job]:
    """A file sent in the request itself: stored first, then queued like an upload."""
    if not data.strip():
        raise InvalidDocumentError("the document is empty")
    _check_room(fields.collection, fields.document_id, ports)
    job_id = new_job_id()
    blob_key = _blob_key(job_id)
    ports.blobs.put(blob_key, data, content_type)
    return _queue_ingest(fields, blob_key, filename, content_type, len(data), ports, job_id)


def create_upload(request: UploadCreate, ports: DocumentPorts) -> UploadTicket:
    """A presigned POST for files too large for the API, bounded in size by its signed policy;
    the client then calls ``complete_upload``. The caps are checked now, before the client
    sends the file, and again (atomically) when it completes."""
    content_type = content_type_for(request.filename, request.content_type)
    _check_room(request.collection, request.document_id, ports)
    upload_id = new_job_id()
    saved = SavedUpload.model_validate({
        **request.model_dump(), "document_id": request.document_id or new_document_id(),
        "content_type": content_type, "owner": ports.owner,
    })
    max_bytes = ports.limits.max_upload_bytes
    form = ports.blobs.presign_post(_blob_key(upload_id), content_type, max_bytes, UPLOAD_URL_SECONDS)
    ports.documents.save_upload(upload_id, saved.model_dump(), UPLOAD_URL_SECONDS + 3600)
    return UploadTicket(upload_id, str(saved.document_id), form, content_type, max_bytes, UPLOAD_URL_SECONDS)


def complete_upload(upload_id: str, ports: DocumentPorts) -> tuple[DocumentRecord, Job]:
    """Queues the file as it is now: it is copied server-side (only if its ETag is still the
    one whose size was checked) to ``completed/<upload_id>``, a key no upload form can write,
    and the worker reads that copy. A POST of the form after this (it stays valid for its
    15 minutes; a presigned POST cannot be revoked) only recreates ``uploads/<upload_id>``,
    an orphan the bucket's lifecycle rule expires: it changes neither the document nor the job."""
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
    head = ports.blobs.head(blob_key)
    if head is None:
        raise UploadIncompleteError("the file has not been uploaded yet: POST it to the upload URL first")
    if head.size > ports.limits.max_upload_bytes:  # the policy's bound, checked again
        raise DocumentTooLargeError(
            f"the file is {head.size} bytes; the limit is {ports.limits.max_upload_bytes}"
        )
    _check_room(upload.collection, upload.document_id, ports)
    completed_key = _completed_key(upload_id)
    etag = ports.blobs.copy(blob_key, completed_key, head.etag)  # exactly what was size-checked
    queued = _queue_ingest(upload, completed_key, upload.filename, upload.content_type, head.size, ports,
                           upload_id, blob_etag=etag)
    try:  # only now: had queueing failed, ``complete`` could be called again
        ports.blobs.delete(blob_key)
    except (DependencyUnavailableError, InvalidDocumentError):
        pass  # best effort: the lifecycle rule expires it, and nothing reads it any more
    return queued


def submit_delete(collection: str, document_id: str, ports: DocumentPorts) -> tuple[DocumentRecord, Job]:
    record = ports.documents.get(collection, document_id)
    if record is None:
        raise DocumentNotFoundError(collection, document_id)
    request = DeleteRequest(collection=collection, document_id=document_id)
    job = new_job(JobKind.DELETE, request.model_dump(), ports.deadline_for(JobKind.DELETE), owner=ports.owner)
    updated = record.model_copy(update={"status": DocumentStatus.DELETING, "job_id": job.job_id,
                                        "updated_at": job.created_at, "error": None})
    _register_and_send(job, record, updated, ports)
    return updated, job


def _queue_ingest(
    fields: DocumentFields,
    blob_key: str,
    filename: str | None,
    content_type: str,
    size: int,
    ports: DocumentPorts,
    job_id: str,
    blob_etag: str | None = None,
) -> tuple[DocumentRecord, Job]:
    document_id = fields.document_id or new_document_id()
    request = IngestRequest(
        collection=fields.collection, document_id=document_id, blob_key=blob_key, filename=filename,
        content_type=content_type, title=fields.title, source=fields.source, metadata=fields.metadata,
        blob_etag=blob_etag, callback_url=fields.callback_url,
    )
    job = new_job(JobKind.INGEST, request.model_dump(), ports.deadline_for(JobKind.INGEST), job_id, owner=ports.owner)
    previous = ports.documents.get(fields.collection, document_id)
    base = previous or DocumentRecord(
        document_id=document_id, collection=fields.collection, status=DocumentStatus.INGESTING,
        job_id=job.job_id, created_at=job.created_at, updated_at=job.created_at,
    )
    updated = base.model_copy(update={
        "status": DocumentStatus.INGESTING, "job_id": job.job_id, "updated_at": job.created_at,
        "filename": filename, "content_type": content_type, "size_bytes": size, "error": None,
    })
    _register_and_send(job, previous, updated, ports)
    return updated, job


def mark_document_failed(documents: DocumentStore, job: Job, error: str) -> None:
    """A failed ingest or delete job leaves its document ``failed`` with the reason, if the
    entry still belongs to that job (a newer request may own it)."""
    if not policy(job.kind).fails_document:
        return
    collection, document_id = job.request["collection"], job.request["document_id"]
    record = documents.get(collection, document_id)
    if record is not None:
        documents.replace_if(collection, document_id, job.job_id, record.model_copy(update={
            "status": DocumentStatus.FAILED, "error": error, "updated_at": time.time()
        }))


def _check_room(collection: str, document_id: str | None, ports: DocumentPorts) -> None:
    """Refuses a new collection past the tenant's cap (atomically: the claim is one script) and,
    early, a new document in a full collection (``_register_and_send`` decides atomically)."""
    known = document_id is not None and ports.documents.get(collection, document_id) is not None
    held = ports.documents.count(collection)
    if not ports.documents.claim_collection(collection, ports.limits.max_collections, existing=held > 0):
        raise CollectionLimitError(
            f"this key's tenant has {ports.limits.max_collections} collections, the most it may have; "
            "add documents to one of those"
        )
    if not known and held >= ports.limits.max_documents:
        raise _full(ports)


def _full(ports: DocumentPorts) -> DocumentLimitError:
    return DocumentLimitError(f"the collection holds {ports.limits.max_documents} documents, the most it may "
                              "hold; delete some or use another collection")


def _blob_key(upload_id: str) -> str:
    """Uploads live under ``uploads/`` (the prefix the template's IAM and lifecycle rule use),
    keyed by the id of the job that ingests them."""
    return f"uploads/{upload_id}"


def _completed_key(upload_id: str) -> str:
    """A completed upload's copy: under ``completed/``, which no presigned form is signed for
    (each form's policy holds its exact ``uploads/`` key); expired by its own lifecycle rule."""
    return f"completed/{upload_id}"


def _register_and_send(
    job: Job, previous: DocumentRecord | None, updated: DocumentRecord, ports: DocumentPorts
) -> None:
    """Job and registry first, message last; if the send fails both are put back as they were,
    so nothing is left waiting for a job that will never run. A new document in a full
    collection is refused here, atomically, with nothing queued."""
    ports.jobs.create(job)
    if not ports.documents.admit(updated, ports.limits.max_documents):  # new, and the collection is full
        ports.jobs.delete(job.job_id)
        raise _full(ports)
    try:
        ports.queue.send(JobMessage(job_id=job.job_id, kind=job.kind))
    except DependencyUnavailableError:
        ports.jobs.delete(job.job_id)
        # Put the entry back only if it is still ours: a concurrent request may own it now.
        ports.documents.replace_if(updated.collection, updated.document_id, job.job_id, previous)
        raise

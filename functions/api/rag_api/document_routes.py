"""Document routes: parse, call the core, shape the response (``async def``: see routes.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from ragcore.api_schema import DocumentAccepted, DocumentList, UploadTicketView, links_for
from ragcore.bootstrap import Container
from ragcore.domain.api_keys import ApiKey
from ragcore.domain.documents import DOCUMENT_ID_PATTERN, DocumentRecord
from ragcore.domain.errors import DocumentNotFoundError
from ragcore.domain.jobs import JOB_ID_PATTERN, Job
from ragcore.domain.messages import CollectionName, DocumentCreate, DocumentFields, UploadCreate
from ragcore.services import documents as service
from ragcore.services.parsing import SUPPORTED_TYPES, content_type_for

from .auth import Caller, as_shown, in_scope, owner_of, scope
from .errors import JSON_BODY, KEYED, responses
from .routes import ContainerDep, require_json, base_path

router = APIRouter(tags=["documents"])

DocumentIdPath = Annotated[str, Path(pattern=DOCUMENT_ID_PATTERN.pattern)]
CollectionQuery = Annotated[CollectionName, Query(description="the collection the document is in")]
UploadId = Annotated[str, Path(pattern=JOB_ID_PATTERN.pattern)]
MAX_LIST_OFFSET = 1_000_000_000

_FIELDS = DocumentFields.model_json_schema()["properties"]
_CAPS = ("a new collection past the tenant's cap (`too_many_collections`, MAX_COLLECTIONS_PER_TENANT) or a "
         "new document in a full collection (`too_many_documents`, MAX_DOCUMENTS_PER_COLLECTION)")


def _form_part(name: str) -> dict[str, Any]:
    """A field of ``DocumentFields`` as a form sends it: never null, so its non-null schema."""
    spec = _FIELDS[name]
    return next(s for s in spec.get("anyOf", [spec]) if s.get("type") != "null")


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": DocumentCreate.model_json_schema(),
                "examples": {
                    "markdown": {"summary": "a Markdown document", "value": {
                        "text": "# Skerry Point Lighthouse\n\nThe light was first lit on 12 October 1874.",
                        "document_id": "skerry-point-lighthouse", "source": "skerry-point-lighthouse.md",
                        "metadata": {"region": "north"}}},
                },
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": ".txt, .md, .html or .pdf"},
                        **{name: _form_part(name) for name in _FIELDS},
                    },
                },
                # The file's type comes from its part's Content-Type or else its name's suffix.
                "encoding": {
                    "file": {"contentType": ", ".join(sorted(SUPPORTED_TYPES))},
                    "metadata": {"contentType": "application/json"},
                },
            },
        },
    }
}


def _ports(container: Container, key: ApiKey | None) -> service.DocumentPorts:
    s = container.settings
    limits = service.DocumentLimits(s.max_upload_bytes, s.max_collections_per_tenant,
                                    s.max_documents_per_collection)
    return service.DocumentPorts(
        jobs=container.job_store, queue=container.queue,
        documents=container.document_store, blobs=container.blob_store,
        deadline_for=s.job_deadline_for, limits=limits, owner=owner_of(key),
    )


def _accepted(record: DocumentRecord, job: Job, request: Request, key: ApiKey | None) -> DocumentAccepted:
    prefix, record = base_path(request), as_shown(record, key)
    return DocumentAccepted(
        document_id=record.document_id, collection=record.collection, job_id=job.job_id,
        status=job.status, links=links_for(job.job_id, prefix),
        document=f"{prefix}/documents/{record.document_id}?collection={record.collection}",
    )


def _validation_error(exc: ValidationError) -> RequestValidationError:
    return RequestValidationError(exc.errors(include_url=False))


def _form_values(form: FormData) -> dict[str, Any]:
    """The text fields of a form. A field sent twice, or sent as a file, is refused: picking
    one of the values for the client would hide its mistake."""
    problems = [
        {"loc": ("body", name), "msg": "given more than once", "type": "duplicate"}
        for name in form if len(form.getlist(name)) > 1
    ] + [
        {"loc": ("body", name), "msg": "must be a text field, not a file", "type": "string_type"}
        for name, value in form.items() if name != "file" and not isinstance(value, str)
    ]
    if problems:
        raise RequestValidationError(problems)
    return {name: value for name, value in form.items() if name != "file"}


async def _read_request(request: Request, limit: int) -> tuple[DocumentFields, bytes, str | None, str]:
    """(fields, content, file name, content type) from a JSON or a multipart body."""
    body = await request.body()
    if len(body) > limit:
        raise HTTPException(413, f"the body is larger than {limit} bytes; use POST /documents/uploads")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("application/json", "multipart/form-data"):
        raise HTTPException(415, "send JSON (application/json) or a file (multipart/form-data)")
    if not body:  # as FastAPI answers a missing body on the other routes
        raise RequestValidationError([{"loc": ("body",), "msg": "Field required", "type": "missing"}])
    if media_type == "application/json":
        try:
            created = DocumentCreate.model_validate_json(body)
        except ValidationError as exc:
            raise _validation_error(exc) from exc
        fields = DocumentFields.model_validate(created.model_dump(exclude={"text", "content_type"}))
        return fields, created.text.encode(), None, created.content_type
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise RequestValidationError([{"loc": ("body", "file"), "msg": "a file field is required",
                                       "type": "missing"}])
    values: dict[str, Any] = _form_values(form)
    try:
        if "metadata" in values:
            values["metadata"] = json.loads(values["metadata"])
        fields = DocumentFields.model_validate(values)
    except ValidationError as exc:  # before ValueError: it is one
        raise _validation_error(exc) from exc
    except (ValueError, RecursionError) as exc:  # not JSON, or too deep or long for json.loads
        raise RequestValidationError([{"loc": ("body", "metadata"), "msg": "must be a JSON object",
                                       "type": "json_invalid_field"}]) from exc
    filename = upload.filename or "upload"
    content_type = content_type_for(filename, upload.content_type)
    return fields, await upload.read(), filename, content_type


@router.post(
    "/documents",
    status_code=202,
    response_model=DocumentAccepted,
    responses=responses(*KEYED, *JSON_BODY, 409, s415="Neither JSON nor multipart/form-data, or a file type "
                                                      "that is not read (.txt, .md, .html, .pdf)",
                        s409=_CAPS),
    summary="Add or replace a document: JSON text or an uploaded file; ingested by the worker",
    openapi_extra=_BODY_DOC,
)
async def add_document(request: Request, container: ContainerDep, key: Caller) -> DocumentAccepted:
    fields, data, filename, content_type = await _read_request(
        request, container.settings.max_inline_document_bytes
    )
    ports = _ports(container, key)
    record, job = service.submit_file(in_scope(fields, key), data, filename, content_type, ports)
    return _accepted(record, job, request, key)


@router.post(
    "/documents/uploads",
    status_code=201,
    response_model=UploadTicketView,
    responses=responses(*KEYED, *JSON_BODY, 409, s415="The body is not JSON, or the file's type is not read "
                                                      "(.txt, .md, .html, .pdf)",
                        s409=_CAPS),
    dependencies=[Depends(require_json)],
    summary="Get a presigned POST (size-bounded form upload) for a file too large to send to the API",
)
async def create_upload(
    body: Annotated[UploadCreate, Body(openapi_examples={"pdf": {"summary": "a PDF too large to send inline",
                                                          "value": {"filename": "annual-report.pdf"}}})],
    request: Request, container: ContainerDep, key: Caller
) -> UploadTicketView:
    ticket = service.create_upload(in_scope(body, key), _ports(container, key))
    return UploadTicketView(
        upload_id=ticket.upload_id, document_id=ticket.document_id, url=ticket.form.url, method="POST",
        fields=ticket.form.fields, max_bytes=ticket.max_bytes, expires_in=ticket.expires_in,
        complete=f"{base_path(request)}/documents/uploads/{ticket.upload_id}/complete",
    )


@router.post(
    "/documents/uploads/{upload_id}/complete",
    status_code=202,
    response_model=DocumentAccepted,
    responses=responses(
        *KEYED, 404, 409, 413, 422,
        s409="The file has not been uploaded yet (`upload_incomplete`), the upload was completed "
             "already (`upload_already_completed`), or " + _CAPS,
        s413="The uploaded file is larger than the upload limit",
    ),
    summary="Queue the ingestion of a file uploaded to its presigned URL",
)
async def complete_upload(
    upload_id: UploadId, request: Request, container: ContainerDep, key: Caller
) -> DocumentAccepted:
    record, job = service.complete_upload(upload_id, _ports(container, key))
    return _accepted(record, job, request, key)


@router.get("/documents", response_model=DocumentList, responses=responses(*KEYED, 422),
            summary="Documents of a collection, oldest first")
async def list_documents(
    container: ContainerDep,
    key: Caller,
    collection: CollectionQuery = "default",
    # Bounded so it stays a 64-bit integer for Valkey; no collection comes near it.
    offset: Annotated[int, Query(ge=0, le=MAX_LIST_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DocumentList:
    records, total = container.document_store.list(scope(collection, key), offset, limit)
    more = offset + len(records) < total
    return DocumentList(documents=[as_shown(r, key) for r in records], total=total,
                        next_offset=offset + len(records) if more else None)


@router.get("/documents/{document_id}", response_model=DocumentRecord, responses=responses(*KEYED, 404, 422))
async def get_document(document_id: DocumentIdPath, container: ContainerDep, key: Caller,
                       collection: CollectionQuery = "default") -> DocumentRecord:
    record = container.document_store.get(scope(collection, key), document_id)
    if record is None:
        raise DocumentNotFoundError(collection, document_id)
    return as_shown(record, key)


@router.delete(
    "/documents/{document_id}",
    status_code=202,
    response_model=DocumentAccepted,
    responses=responses(*KEYED, 404, 422),
    summary="Delete a document and its chunks (done by the worker; poll the job)",
)
async def delete_document(document_id: DocumentIdPath, request: Request, container: ContainerDep, key: Caller,
                          collection: CollectionQuery = "default") -> DocumentAccepted:
    record, job = service.submit_delete(scope(collection, key), document_id, _ports(container, key))
    return _accepted(record, job, request, key)

"""What clients send and what travels on the queue."""

from __future__ import annotations

import json

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ragcore.domain.documents import DocumentId
from ragcore.domain.retrieval import RetrievalMode

MAX_QUERY_CHARS = 2000
MAX_TOP_K = 20

CollectionName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
]


class ChatRequest(BaseModel):
    """Body of ``POST /chat``; unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)
    collection: CollectionName = "default"
    mode: RetrievalMode = RetrievalMode.HYBRID

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("query must contain some non-whitespace text")
        if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in stripped):
            raise ValueError("query must not contain control characters")
        return stripped


MAX_METADATA_CHARS = 4000
TextType = Literal["text/plain", "text/markdown", "text/html"]


class DocumentFields(BaseModel):
    """What a client may say about a document besides its content."""

    model_config = ConfigDict(extra="forbid")

    collection: CollectionName = "default"
    document_id: DocumentId | None = Field(
        default=None, description="reuse an id to replace that document; omitted: a new id"
    )
    title: str | None = Field(default=None, max_length=500, description="default: the first heading")
    source: str | None = Field(default=None, max_length=1000, description="e.g. a URL or file name")
    metadata: dict[str, Any] = Field(default_factory=dict, description="kept on every chunk")

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > MAX_METADATA_CHARS:
            raise ValueError(f"metadata must serialise to at most {MAX_METADATA_CHARS} characters")
        return value


class DocumentCreate(DocumentFields):
    """JSON body of ``POST /documents``."""

    text: str = Field(min_length=1)
    content_type: TextType = "text/markdown"


class UploadCreate(DocumentFields):
    """Body of ``POST /documents/uploads``: ask for a presigned URL for a large file."""

    filename: str = Field(min_length=1, max_length=255)
    content_type: str | None = Field(default=None, description="default: from the file name")


class IngestRequest(BaseModel):
    """The request of an ingest job, kept on the job record; the file itself is in the blob store."""

    collection: str
    document_id: str
    blob_key: str
    filename: str | None
    content_type: str
    title: str | None = None
    source: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class DeleteRequest(BaseModel):
    collection: str
    document_id: str


JobKind = Literal["chat", "ingest", "delete"]


class JobMessage(BaseModel):
    """The SQS message body. The job record in Valkey is the source of truth for the request;
    the message only says which job to run."""

    job_id: str
    kind: JobKind = "chat"

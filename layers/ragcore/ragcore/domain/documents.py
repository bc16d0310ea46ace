"""Documents, the chunks they are split into for retrieval, and the registry record of each."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

# Fixed namespace so a chunk's id depends only on (document, version, position): ingesting the
# same content twice writes the same points instead of duplicates.
_CHUNK_NAMESPACE = uuid.UUID("6f1d5a80-4c1e-4b8e-9f57-3c1f0e6b2a11")
# Bump when chunking changes, so unchanged documents are re-chunked rather than skipped.
CHUNKER_VERSION = "3"  # 3: headings and chunks bounded (issue 15)

DOCUMENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
DocumentId = Annotated[str, StringConstraints(pattern=DOCUMENT_ID_PATTERN.pattern)]


def new_document_id() -> str:
    return uuid.uuid4().hex


def document_id_from_name(name: str) -> str:
    """A stable id from a file name, so re-ingesting the same file replaces it."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:128]
    return slug or new_document_id()


class SourceDocument(BaseModel):
    """A document as it arrives for ingestion, after parsing and before chunking."""

    document_id: str
    title: str
    text: str
    source: str
    metadata: dict[str, Any] = Field(default_factory=dict)

    def content_hash(self) -> str:
        """Everything that ends up in the chunks; equal hashes mean re-ingesting changes nothing."""
        canonical = json.dumps(
            [CHUNKER_VERSION, self.title, self.source, self.metadata, self.text],
            sort_keys=True, ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class Chunk(BaseModel):
    chunk_id: str
    document_id: str
    version: str  # the content hash of the document version this chunk belongs to
    title: str
    source: str
    position: int
    text: str
    context: str = ""  # the chunk with its neighbours; what BM25 indexes (not stored)
    metadata: dict[str, Any] = Field(default_factory=dict)


def chunk_id_for(document_id: str, version: str, position: int) -> str:
    return str(uuid.uuid5(_CHUNK_NAMESPACE, f"{document_id}#{version}#{position}"))


class DocumentStatus(StrEnum):
    INGESTING = "ingesting"  # a job is parsing, embedding or indexing it
    READY = "ready"  # searchable
    FAILED = "failed"  # the last ingestion failed; an earlier version may still be searchable
    DELETING = "deleting"


class DocumentRecord(BaseModel):
    """One registry entry. ``job_id`` is the newest job for the document: an older job that
    finds it has been superseded leaves the index alone."""

    document_id: str
    collection: str
    status: DocumentStatus
    job_id: str
    title: str = ""
    source: str = ""
    filename: str | None = None
    content_type: str | None = None
    size_bytes: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    content_hash: str | None = None  # of the version that is searchable
    chunks: int = 0
    error: str | None = None
    created_at: float
    updated_at: float

"""Documents and the chunks they are split into for retrieval."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

# Fixed namespace so a chunk's id is the same every time its document is ingested:
# re-ingesting overwrites points instead of duplicating them.
_CHUNK_NAMESPACE = uuid.UUID("6f1d5a80-4c1e-4b8e-9f57-3c1f0e6b2a11")


class SourceDocument(BaseModel):
    """A document as it arrives for ingestion, before chunking."""

    document_id: str
    title: str
    text: str
    source: str


class Chunk(BaseModel):
    chunk_id: str
    document_id: str
    title: str
    source: str
    position: int
    text: str


def chunk_id_for(document_id: str, position: int) -> str:
    return str(uuid.uuid5(_CHUNK_NAMESPACE, f"{document_id}#{position}"))

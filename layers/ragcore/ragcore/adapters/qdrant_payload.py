"""The payload layout shared by both Qdrant adapters, so embedded and server hold the same data."""

from __future__ import annotations

from typing import Any

from ragcore.domain.answers import Passage
from ragcore.domain.documents import Chunk

DENSE_VECTOR = "dense"


def payload_of(chunk: Chunk) -> dict[str, Any]:
    return chunk.model_dump()


def passage_of(payload: dict[str, Any], score: float) -> Passage:
    return Passage(
        chunk_id=str(payload["chunk_id"]),
        document_id=str(payload["document_id"]),
        title=str(payload.get("title", "")),
        source=str(payload.get("source", "")),
        text=str(payload.get("text", "")),
        score=float(score),
    )

"""The collection layout shared by both Qdrant adapters, so embedded and server hold the same
data and rank the same way: named vectors, payload fields and the BM25 model. What they ask of
it is in ``qdrant_requests.py``."""

from __future__ import annotations

from typing import Any

from ragcore.domain.answers import Passage
from ragcore.domain.documents import Chunk

DENSE_VECTOR = "dense"
# BM25 of each chunk together with its neighbours (``Chunk.context``): sparse, with the IDF
# modifier, so Qdrant supplies the IDF at query time.
SPARSE_VECTOR = "bm25"
# "pending" while a new document version is being written, "live" once published. A keyword,
# not a bool: qdrant-edge's Python binding turns True into 1, which never matches a bool.
STATE_FIELD = "state"
LIVE, PENDING = "live", "pending"
INDEXED_KEYWORDS = ("document_id", "version", STATE_FIELD)
# A chunk's document metadata, an object in the payload (``payload_of``): a filter names its
# fields as ``metadata.<field>``. Not indexed: its fields are whatever clients send.
METADATA_FIELD = "metadata"

# Qdrant's own BM25 (the same `Bm25Config` shape on qdrant-edge and on a server), so tokens,
# stemming and stop words are identical in both. These are Qdrant's defaults; avg_len 256 is
# longer than a chunk's context, which softens length normalisation — better on SciFact than
# the measured length (nDCG@10 0.7017 vs 0.6973, docs/RETRIEVAL.md).
BM25_CONFIG: dict[str, Any] = {"language": "english", "k": 1.2, "b": 0.75, "avg_len": 256.0}


def payload_of(chunk: Chunk) -> dict[str, Any]:
    return {**chunk.model_dump(exclude={"context"}), STATE_FIELD: PENDING}


def passage_of(payload: dict[str, Any], score: float) -> Passage:
    return Passage(
        chunk_id=str(payload["chunk_id"]),
        document_id=str(payload["document_id"]),
        title=str(payload.get("title", "")),
        source=str(payload.get("source", "")),
        text=str(payload.get("text", "")),
        score=float(score),
    )

"""A Qdrant server (self-hosted or Qdrant Cloud) through ``qdrant-client``: used in AWS."""

from __future__ import annotations

from typing import Sequence

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from ragcore.adapters.qdrant_payload import DENSE_VECTOR, passage_of, payload_of
from ragcore.domain.answers import Passage
from ragcore.domain.documents import Chunk
from ragcore.domain.errors import DependencyUnavailableError


class QdrantServerIndex:
    """Implements ``ports.VectorIndex``; one Qdrant collection per ragcore collection."""

    def __init__(self, client: QdrantClient, dimension: int) -> None:
        self._client = client
        self._dimension = dimension
        self._known: set[str] = set()  # collections seen to exist: saves a round trip per query

    def _exists(self, collection: str) -> bool:
        if collection not in self._known and self._client.collection_exists(collection):
            self._known.add(collection)
        return collection in self._known

    def _ensure_collection(self, collection: str) -> None:
        if self._exists(collection):
            return
        self._client.create_collection(
            collection,
            vectors_config={
                DENSE_VECTOR: models.VectorParams(size=self._dimension, distance=models.Distance.COSINE)
            },
        )
        self._client.create_payload_index(
            collection, "document_id", field_schema=models.PayloadSchemaType.KEYWORD
        )
        self._known.add(collection)

    def upsert(self, collection: str, chunks: Sequence[Chunk], vectors: Sequence[list[float]]) -> None:
        try:
            self._ensure_collection(collection)
            self._client.upsert(
                collection,
                points=[
                    models.PointStruct(id=c.chunk_id, vector={DENSE_VECTOR: v}, payload=payload_of(c))
                    for c, v in zip(chunks, vectors, strict=True)
                ],
                wait=True,
            )
        except (ResponseHandlingException, UnexpectedResponse) as exc:
            raise DependencyUnavailableError("qdrant", type(exc).__name__) from exc

    def search(self, collection: str, vector: list[float], limit: int) -> list[Passage]:
        try:
            if not self._exists(collection):
                return []
            response = self._client.query_points(
                collection, query=vector, using=DENSE_VECTOR, limit=limit, with_payload=True
            )
        except (ResponseHandlingException, UnexpectedResponse) as exc:
            raise DependencyUnavailableError("qdrant", type(exc).__name__) from exc
        return [passage_of(point.payload or {}, point.score) for point in response.points]

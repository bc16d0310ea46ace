"""A Qdrant server (self-hosted or Qdrant Cloud) through ``qdrant-client``: used in AWS.

BM25 vectors are made by the server itself (``Document`` objects with model ``qdrant/bm25``),
with the same configuration as the embedded engine's, so the Lambda layer needs no tokeniser.
That needs Qdrant ≥ 1.15.2 and a client built with ``cloud_inference=True``, which only means
"send documents to the server" (see ``bootstrap.py``).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from ragcore.adapters.qdrant_schema import (
    BM25_CONFIG,
    DENSE_VECTOR,
    INDEXED_KEYWORDS,
    LIVE,
    STATE_FIELD,
    SPARSE_VECTOR,
    passage_of,
    payload_of,
    prefetch_limit,
)
from ragcore.domain.answers import Passage
from ragcore.domain.documents import Chunk
from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.retrieval import RetrievalMode, SearchQuery

BM25_MODEL = "qdrant/bm25"
_ERRORS = (ResponseHandlingException, UnexpectedResponse)


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


_LIVE = models.Filter(must=[_match(STATE_FIELD, LIVE)])


def _bm25(text: str) -> models.Document:
    return models.Document(text=text, model=BM25_MODEL, options=BM25_CONFIG)


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
        try:
            self._client.create_collection(
                collection,
                vectors_config={
                    DENSE_VECTOR: models.VectorParams(size=self._dimension, distance=models.Distance.COSINE)
                },
                sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            )
        except UnexpectedResponse as exc:
            if exc.status_code != 409:  # 409: another worker created it first, which is fine
                raise
        for field in INDEXED_KEYWORDS:
            self._client.create_payload_index(collection, field, models.PayloadSchemaType.KEYWORD)
        self._known.add(collection)

    def upsert(self, collection: str, chunks: Sequence[Chunk], vectors: Sequence[list[float]]) -> None:
        with _unavailable_on_error():
            self._ensure_collection(collection)
            self._client.upsert(
                collection,
                points=[
                    models.PointStruct(
                        id=c.chunk_id,
                        vector={DENSE_VECTOR: v, SPARSE_VECTOR: _bm25(c.context or c.text)},
                        payload=payload_of(c),
                    )
                    for c, v in zip(chunks, vectors, strict=True)
                ],
                wait=True,
            )

    def publish(self, collection: str, document_id: str, version: str) -> None:
        # Old versions go first, then the new one turns live: a query sees neither, never both.
        with _unavailable_on_error():
            self._ensure_collection(collection)
            self._client.delete(collection, models.FilterSelector(filter=models.Filter(
                must=[_match("document_id", document_id)], must_not=[_match("version", version)]
            )), wait=True)
            self._client.set_payload(
                collection, {STATE_FIELD: LIVE},
                points=models.Filter(must=[_match("document_id", document_id), _match("version", version)]),
                wait=True,
            )

    def delete_document(self, collection: str, document_id: str) -> None:
        with _unavailable_on_error():
            if self._exists(collection):
                self._client.delete(collection, models.FilterSelector(
                    filter=models.Filter(must=[_match("document_id", document_id)])
                ), wait=True)

    def search(self, collection: str, query: SearchQuery, limit: int) -> list[Passage]:
        with _unavailable_on_error():
            if not self._exists(collection):
                return []
            response = self._client.query_points(collection, **self.request(query, limit), with_payload=True)
        return [passage_of(point.payload or {}, point.score) for point in response.points]

    @staticmethod
    def request(query: SearchQuery, limit: int) -> dict:
        """The arguments of ``query_points``, mirroring the embedded adapter's request."""
        if query.mode is RetrievalMode.DENSE:
            return {"query": query.vector, "using": DENSE_VECTOR, "query_filter": _LIVE, "limit": limit}
        if query.mode is RetrievalMode.SPARSE:
            return {"query": _bm25(query.text), "using": SPARSE_VECTOR, "query_filter": _LIVE, "limit": limit}
        pool = prefetch_limit(limit)
        return {
            "prefetch": [
                models.Prefetch(query=query.vector, using=DENSE_VECTOR, filter=_LIVE, limit=pool),
                models.Prefetch(query=_bm25(query.text), using=SPARSE_VECTOR, filter=_LIVE, limit=pool),
            ],
            "query": models.FusionQuery(fusion=models.Fusion.DBSF),
            "limit": limit,
        }


@contextmanager
def _unavailable_on_error() -> Iterator[None]:
    """Qdrant transport and server errors become ``DependencyUnavailableError`` (retryable)."""
    try:
        yield
    except _ERRORS as exc:
        raise DependencyUnavailableError("qdrant", type(exc).__name__) from exc

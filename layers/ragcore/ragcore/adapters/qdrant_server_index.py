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

from ragcore.adapters.qdrant_requests import (
    LIVE_PAYLOAD,
    Condition,
    IndexKind,
    Match,
    Where,
    metadata_indexes,
    points_of,
    publishing,
    search_of,
    whole_document,
)
from ragcore.adapters.qdrant_schema import (
    BM25_CONFIG,
    DENSE_VECTOR,
    INDEXED_KEYWORDS,
    SPARSE_VECTOR,
    passage_of,
)
from ragcore.domain.answers import Passage
from ragcore.domain.documents import Chunk
from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.retrieval import SearchQuery

BM25_MODEL = "qdrant/bm25"
_ERRORS = (ResponseHandlingException, UnexpectedResponse)


def _condition(condition: Condition) -> models.FieldCondition:
    if isinstance(condition, Match):
        values = condition.values
        if len(values) == 1:
            return models.FieldCondition(key=condition.key, match=models.MatchValue(value=values[0]))
        return models.FieldCondition(key=condition.key, match=models.MatchAny(any=list(values)))
    bounds = {"gt": condition.gt, "gte": condition.gte, "lt": condition.lt, "lte": condition.lte}
    if condition.dates:
        return models.FieldCondition(key=condition.key, range=models.DatetimeRange(**bounds))
    return models.FieldCondition(key=condition.key, range=models.Range(**bounds))


def _filter(where: Where) -> models.Filter:
    return models.Filter(must=[_condition(c) for c in where.must],
                         must_not=[_condition(c) for c in where.must_not] or None)


_INDEX_SCHEMA: dict[IndexKind, models.PayloadSchemaType] = {
    "keyword": models.PayloadSchemaType.KEYWORD, "bool": models.PayloadSchemaType.BOOL,
}


def _bm25(text: str) -> models.Document:
    return models.Document(text=text, model=BM25_MODEL, options=BM25_CONFIG)


class QdrantServerIndex:
    """Implements ``ports.VectorIndex``; one Qdrant collection per ragcore collection."""

    def __init__(self, client: QdrantClient, dimension: int) -> None:
        self._client = client
        self._dimension = dimension
        self._known: set[str] = set()  # collections seen to exist: saves a round trip per query
        self._indexed: dict[str, set[str]] = {}  # payload fields indexed, read once per collection

    def _exists(self, collection: str) -> bool:
        if collection not in self._known and self._client.collection_exists(collection):
            self._known.add(collection)
        return collection in self._known

    def _ensure_collection(self, collection: str) -> None:
        if self._exists(collection):
            if collection not in self._indexed:
                self._indexed[collection] = set(self._client.get_collection(collection).payload_schema)
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
        self._indexed[collection] = set(INDEXED_KEYWORDS)

    def _index_metadata(self, collection: str, chunks: Sequence[Chunk]) -> None:
        """``metadata_indexes``' new ones; creating one another worker made already is a no-op."""
        indexed = self._indexed[collection]
        for key, kind in metadata_indexes(chunks, indexed):
            self._client.create_payload_index(collection, key, _INDEX_SCHEMA[kind], wait=True)
            indexed.add(key)

    def upsert(self, collection: str, chunks: Sequence[Chunk], vectors: Sequence[list[float]]) -> None:
        with _unavailable_on_error():
            self._ensure_collection(collection)
            self._index_metadata(collection, chunks)
            self._client.upsert(
                collection,
                points=[
                    models.PointStruct(
                        id=p.id, vector={DENSE_VECTOR: p.dense, SPARSE_VECTOR: _bm25(p.text)},
                        payload=p.payload,
                    )
                    for p in points_of(chunks, vectors)
                ],
                wait=True,
            )

    def publish(self, collection: str, document_id: str, version: str) -> None:
        old, new = publishing(document_id, version)
        with _unavailable_on_error():
            self._ensure_collection(collection)
            self._client.delete(collection, models.FilterSelector(filter=_filter(old)), wait=True)
            self._client.set_payload(collection, LIVE_PAYLOAD, points=_filter(new), wait=True)

    def delete_document(self, collection: str, document_id: str) -> None:
        with _unavailable_on_error():
            if self._exists(collection):
                self._client.delete(
                    collection, models.FilterSelector(filter=_filter(whole_document(document_id))), wait=True
                )

    def search(self, collection: str, query: SearchQuery, limit: int) -> list[Passage]:
        with _unavailable_on_error():
            if not self._exists(collection):
                return []
            response = self._client.query_points(collection, **self.request(query, limit), with_payload=True)
        return [passage_of(point.payload or {}, point.score) for point in response.points]

    @staticmethod
    def request(query: SearchQuery, limit: int) -> dict:
        """The arguments of ``query_points`` for ``qdrant_requests.search_of``."""
        search = search_of(query, limit)

        def nearest(using: str) -> list[float] | models.Document:
            return _bm25(query.text) if using == SPARSE_VECTOR else query.vector

        def params(using: str) -> models.SearchParams | None:
            return models.SearchParams(exact=True) if search.exact and using == DENSE_VECTOR else None

        where = _filter(search.where)
        if search.pool is None:
            (using,) = search.using
            return {"query": nearest(using), "using": using, "query_filter": where, "limit": search.limit,
                    "search_params": params(using)}
        return {
            "prefetch": [
                models.Prefetch(query=nearest(using), using=using, filter=where, limit=search.pool,
                                params=params(using))
                for using in search.using
            ],
            "query": models.FusionQuery(fusion=models.Fusion.DBSF),
            "limit": search.limit,
        }


@contextmanager
def _unavailable_on_error() -> Iterator[None]:
    """Qdrant transport and server errors become ``DependencyUnavailableError`` (retryable)."""
    try:
        yield
    except _ERRORS as exc:
        raise DependencyUnavailableError("qdrant", type(exc).__name__) from exc

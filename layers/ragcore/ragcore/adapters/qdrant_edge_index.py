"""Embedded, persistent Qdrant (``qdrant-edge-py``): the real engine in-process, for offline use.

One Edge shard per collection, each in its own folder under the data directory. A shard is
locked by the process that opens it, so only one process may use a data directory at a time.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

from qdrant_edge import (
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeVectorParams,
    PayloadSchemaType,
    Point,
    Query,
    QueryRequest,
    UpdateOperation,
)

from ragcore.adapters.qdrant_payload import DENSE_VECTOR, passage_of, payload_of
from ragcore.domain.answers import Passage
from ragcore.domain.documents import Chunk
from ragcore.domain.errors import DependencyUnavailableError


class QdrantEdgeIndex:
    """Implements ``ports.VectorIndex``."""

    def __init__(self, data_dir: Path, dimension: int) -> None:
        self._data_dir = data_dir
        self._dimension = dimension
        self._shards: dict[str, EdgeShard] = {}
        self._lock = threading.Lock()

    def _config(self) -> EdgeConfig:
        return EdgeConfig(
            vectors={DENSE_VECTOR: EdgeVectorParams(size=self._dimension, distance=Distance.Cosine)}
        )

    def _shard(self, collection: str, create: bool) -> EdgeShard | None:
        with self._lock:
            if collection in self._shards:
                return self._shards[collection]
            path = self._data_dir / collection
            try:
                if (path / "wal").exists():
                    shard = EdgeShard.load(str(path))
                elif create:
                    shard = EdgeShard.create(str(path), self._config())
                    shard.update(
                        UpdateOperation.create_field_index("document_id", PayloadSchemaType.Keyword)
                    )
                else:
                    return None
            except Exception as exc:  # the binding raises a bare Exception subclass
                raise DependencyUnavailableError(
                    "embedded qdrant", f"cannot open {path} ({exc}); is another process using it?"
                ) from exc
            self._shards[collection] = shard
            return shard

    def upsert(self, collection: str, chunks: Sequence[Chunk], vectors: Sequence[list[float]]) -> None:
        shard = self._shard(collection, create=True)
        assert shard is not None
        points = [
            Point(chunk.chunk_id, {DENSE_VECTOR: vector}, payload_of(chunk))
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        # No flush per batch: an update is in the shard's write-ahead log once it returns.
        shard.update(UpdateOperation.upsert_points(points))

    def search(self, collection: str, vector: list[float], limit: int) -> list[Passage]:
        shard = self._shard(collection, create=False)
        if shard is None:
            return []
        hits = shard.query(
            QueryRequest(limit=limit, query=Query.Nearest(vector, using=DENSE_VECTOR), with_payload=True)
        )
        return [passage_of(hit.payload or {}, hit.score) for hit in hits]

    def close(self) -> None:
        with self._lock:
            for shard in self._shards.values():
                shard.close()
            self._shards.clear()

"""The one retrieval path, shared by chat answers and the evaluation harness."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ragcore.domain.answers import Passage
from ragcore.domain.filters import ChatFilter
from ragcore.domain.retrieval import RetrievalMode, SearchQuery
from ragcore.ports import Embedder, VectorIndex


@dataclass(frozen=True)
class Retrieval:
    passages: list[Passage]
    embed_seconds: float
    search_seconds: float


def retrieve(
    text: str, collection: str, limit: int, mode: RetrievalMode, embedder: Embedder, index: VectorIndex,
    chat_filter: ChatFilter | None = None,
) -> Retrieval:
    """The ``limit`` best passages of those ``chat_filter`` allows (the index applies it)."""
    started = time.perf_counter()
    vector = None if mode is RetrievalMode.SPARSE else embedder.embed([text])[0]
    embedded = time.perf_counter()
    query = SearchQuery(text=text, vector=vector, mode=mode, filter=chat_filter)
    passages = index.search(collection, query, limit)
    return Retrieval(passages, embedded - started, time.perf_counter() - embedded)

"""The one retrieval path, shared by chat answers and the evaluation harness."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ragcore.domain.answers import Passage
from ragcore.domain.retrieval import RetrievalMode, SearchQuery
from ragcore.ports import Embedder, VectorIndex


@dataclass(frozen=True)
class Retrieval:
    passages: list[Passage]
    embed_seconds: float
    search_seconds: float


def retrieve(
    text: str, collection: str, limit: int, mode: RetrievalMode, embedder: Embedder, index: VectorIndex
) -> Retrieval:
    started = time.perf_counter()
    vector = None if mode is RetrievalMode.SPARSE else embedder.embed([text])[0]
    embedded = time.perf_counter()
    passages = index.search(collection, SearchQuery(text=text, vector=vector, mode=mode), limit)
    return Retrieval(passages, embedded - started, time.perf_counter() - embedded)

"""How a query is matched against the index."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ragcore.domain.filters import ChatFilter


class RetrievalMode(StrEnum):
    HYBRID = "hybrid"  # dense and BM25, fused inside Qdrant
    DENSE = "dense"
    SPARSE = "sparse"  # BM25 only


@dataclass(frozen=True)
class SearchQuery:
    text: str  # for BM25, tokenised by the index's own BM25 model
    vector: list[float] | None  # dense query vector; None in sparse mode
    mode: RetrievalMode
    filter: ChatFilter | None = None  # which chunks may be returned; None: every live one

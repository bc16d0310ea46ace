"""The requests both Qdrant adapters spell in their own client's types (``qdrant_requests``):
what each retrieval mode looks up, and what ``publish`` changes in which order."""

from __future__ import annotations

from ragcore.adapters.qdrant_requests import MIN_PREFETCH, Where, publishing, search_of
from ragcore.adapters.qdrant_schema import DENSE_VECTOR, SPARSE_VECTOR
from ragcore.domain.retrieval import RetrievalMode, SearchQuery


def test_each_mode_looks_up_its_vectors_and_hybrid_fuses_a_deep_pool_of_each() -> None:
    def search(mode: RetrievalMode, limit: int) -> tuple[tuple[str, ...], int, int | None]:
        found = search_of(SearchQuery("lamp", None if mode is RetrievalMode.SPARSE else [1.0], mode), limit)
        return found.using, found.limit, found.pool

    assert search(RetrievalMode.DENSE, 5) == ((DENSE_VECTOR,), 5, None)
    assert search(RetrievalMode.SPARSE, 5) == ((SPARSE_VECTOR,), 5, None)
    assert search(RetrievalMode.HYBRID, 5) == ((DENSE_VECTOR, SPARSE_VECTOR), 5, MIN_PREFETCH)
    assert search(RetrievalMode.HYBRID, MIN_PREFETCH + 1)[2] == MIN_PREFETCH + 1


def test_publish_deletes_the_other_versions_then_marks_this_one_live() -> None:
    delete, mark_live = publishing("north", "v2")
    assert delete == Where((("document_id", "north"),), unequal=(("version", "v2"),))
    assert mark_live == Where((("document_id", "north"), ("version", "v2")))

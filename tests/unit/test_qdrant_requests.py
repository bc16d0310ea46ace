"""The requests both Qdrant adapters spell in their own client's types (``qdrant_requests``):
what each retrieval mode looks up, what ``publish`` changes in which order, what a chat's
filter selects, and which metadata fields get payload indexes."""

from __future__ import annotations

from datetime import datetime, timezone

from ragcore.adapters.qdrant_requests import (
    LIVE_ONLY,
    MAX_METADATA_INDEXES,
    MIN_PREFETCH,
    Between,
    Match,
    Where,
    metadata_indexes,
    publishing,
    search_of,
    selecting,
)
from ragcore.adapters.qdrant_schema import DENSE_VECTOR, LIVE, SPARSE_VECTOR, STATE_FIELD
from ragcore.domain.documents import Chunk
from ragcore.domain.filters import ChatFilter
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
    assert delete == Where((Match("document_id", ("north",)),), must_not=(Match("version", ("v2",)),))
    assert mark_live == Where((Match("document_id", ("north",)), Match("version", ("v2",))))


def test_a_search_without_a_filter_selects_the_live_points() -> None:
    for mode in RetrievalMode:
        assert search_of(SearchQuery("lamp", [1.0], mode), 5).where == LIVE_ONLY
    assert LIVE_ONLY == Where((Match(STATE_FIELD, (LIVE,)),))


def test_a_filter_selects_live_points_of_its_documents_meeting_each_metadata_condition() -> None:
    chat_filter = ChatFilter.model_validate({
        "document_ids": ["north", "east"],
        "metadata": {"lang": {"eq": "en"}, "draft": {"eq": False}, "tags": {"any": ["x", "y"]},
                     "year": {"gte": 1850, "lt": 1900}, "author.born": {"gt": "1800-01-01T12:00:00+02:00"}},
    })
    assert selecting(chat_filter) == Where((
        Match(STATE_FIELD, (LIVE,)),
        Match("document_id", ("north", "east")),
        Match("metadata.lang", ("en",)),
        Match("metadata.draft", (False,)),
        Match("metadata.tags", ("x", "y")),
        Between("metadata.year", gte=1850.0, lt=1900.0),
        Between("metadata.author.born", gt=datetime(1800, 1, 1, 10, tzinfo=timezone.utc)),
    ))
    assert not selecting(chat_filter).must[-2].dates and selecting(chat_filter).must[-1].dates


def test_every_retriever_of_a_search_applies_the_filter() -> None:
    chat_filter = ChatFilter(document_ids=["north"])
    for mode in RetrievalMode:
        search = search_of(SearchQuery("lamp", [1.0], mode, chat_filter), 5)
        assert search.where == selecting(chat_filter) != LIVE_ONLY


def _chunk(metadata: dict) -> Chunk:
    return Chunk(chunk_id="c", document_id="d", version="v", title="t", source="s", position=0, text="x",
                 metadata=metadata)


def test_text_and_boolean_metadata_fields_get_keyword_and_bool_indexes_numbers_and_dates_none() -> None:
    chunks = [
        _chunk({"lang": "en", "draft": True, "year": 1874, "score": 2.5, "tags": ["x", "y"],
                "author": {"name": "Ann", "born": 1801}, "a b": "unfilterable", "empty": [],
                "nothing": None}),
        _chunk({"lang": "fr", "year": "1874", "codes": [1, 2], "flags": [False]}),  # year: text here
    ]
    assert metadata_indexes(chunks, {"document_id", "version", "state"}) == [
        ("metadata.lang", "keyword"), ("metadata.draft", "bool"), ("metadata.tags", "keyword"),
        ("metadata.author.name", "keyword"), ("metadata.year", "keyword"), ("metadata.flags", "bool"),
    ]
    indexed = {"metadata.lang", "metadata.draft", "metadata.tags", "metadata.author.name", "metadata.year",
               "metadata.flags"}
    assert metadata_indexes(chunks, indexed) == []


def test_metadata_indexes_stop_at_the_cap_and_beyond_the_deepest_filterable_field() -> None:
    many = _chunk({f"f{i}": "v" for i in range(MAX_METADATA_INDEXES + 5)})
    assert len(metadata_indexes([many], {"document_id"})) == MAX_METADATA_INDEXES
    assert len(metadata_indexes([many], {"document_id", "metadata.other"})) == MAX_METADATA_INDEXES - 1
    deep = _chunk({"a": {"b": {"c": {"d": {"e": "five", "f": {"g": "six"}}}}}})
    assert metadata_indexes([deep], set()) == [("metadata.a.b.c.d.e", "keyword")]


def test_a_filtered_search_scans_and_an_unfiltered_one_walks_the_graph() -> None:
    by_text = ChatFilter.model_validate({"metadata": {"lang": {"eq": "en"}}})
    for chat_filter in (ChatFilter(document_ids=["north"]), by_text):
        for mode in RetrievalMode:
            assert search_of(SearchQuery("lamp", [1.0], mode, chat_filter), 5).exact
    for mode in RetrievalMode:
        assert not search_of(SearchQuery("lamp", [1.0], mode), 5).exact

"""The vector index on the real Qdrant engine (qdrant-edge): dense, BM25 and hybrid search,
hidden-until-published versions, deletion, collection isolation and persistence.

The server adapter builds the same query through qdrant-client; no Qdrant server runs on this
machine (and qdrant-client's local mode cannot make BM25 vectors offline), so only the shape
of its requests is checked here."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from qdrant_client import models

from ragcore.adapters.qdrant_edge_index import QdrantEdgeIndex
from ragcore.adapters.qdrant_schema import DENSE_VECTOR, STATE_FIELD, SPARSE_VECTOR
from ragcore.adapters.qdrant_server_index import BM25_MODEL, QdrantServerIndex
from ragcore.domain.documents import Chunk, SourceDocument, chunk_id_for
from ragcore.domain.filters import ChatFilter
from ragcore.domain.retrieval import RetrievalMode, SearchQuery

VECTORS = {"north": [1.0, 0.0, 0.0], "east": [0.0, 1.0, 0.0], "up": [0.0, 0.0, 1.0], "ne": [0.7, 0.7, 0.0]}
TEXTS = {
    "north": "the lighthouse keeper trimmed the lamp wicks",
    "east": "honeybees dance to show where the nectar is",
    "up": "sourdough starter needs flour and water daily",
    "ne": "tidal pools shelter anemones at low tide",
}


def _chunks(version: str = "v1", names: list[str] | None = None) -> list[Chunk]:
    return [
        Chunk(chunk_id=chunk_id_for(name, version, 0), document_id=name, version=version,
              title=name.title(), source=f"{name}.md", position=0, text=f"{TEXTS[name]} ({version})")
        for name in names or list(VECTORS)
    ]


def _load(index: QdrantEdgeIndex, collection: str = "docs", version: str = "v1") -> None:
    chunks = _chunks(version)
    index.upsert(collection, chunks, [VECTORS[c.document_id] for c in chunks])
    for chunk in chunks:
        index.publish(collection, chunk.document_id, version)


def _query(text: str, vector: list[float] | None, mode: RetrievalMode = RetrievalMode.HYBRID) -> SearchQuery:
    return SearchQuery(text=text, vector=vector, mode=mode)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[QdrantEdgeIndex]:
    edge = QdrantEdgeIndex(tmp_path, dimension=3)
    yield edge
    edge.close()


def test_dense_search_returns_nearest_chunks_with_their_payload(index: QdrantEdgeIndex) -> None:
    _load(index)
    hits = index.search("docs", _query("", [0.9, 0.1, 0.0], RetrievalMode.DENSE), limit=2)
    assert [h.document_id for h in hits] == ["north", "ne"]
    assert hits[0].title == "North" and hits[0].source == "north.md"
    assert hits[0].text.startswith("the lighthouse keeper")
    assert hits[0].score > hits[1].score


def test_sparse_search_matches_words_with_stemming(index: QdrantEdgeIndex) -> None:
    _load(index)
    hits = index.search("docs", _query("dancing honeybee", None, RetrievalMode.SPARSE), limit=4)
    assert [h.document_id for h in hits] == ["east"]  # BM25 returns only chunks sharing a term


def test_hybrid_fuses_both_retrievers(index: QdrantEdgeIndex) -> None:
    _load(index)
    # The words point at "up" (sourdough), the vector at "north": both come back, above the rest.
    hits = index.search("docs", _query("sourdough flour", [1.0, 0.0, 0.0]), limit=4)
    assert {h.document_id for h in hits[:2]} == {"up", "north"}


def test_chunks_are_hidden_until_their_version_is_published(index: QdrantEdgeIndex) -> None:
    chunks = _chunks("v1", ["north"])
    index.upsert("docs", chunks, [VECTORS["north"]])
    assert index.search("docs", _query("lighthouse", [1.0, 0.0, 0.0]), limit=5) == []
    index.publish("docs", "north", "v1")
    assert [h.document_id for h in index.search("docs", _query("lighthouse", [1.0, 0.0, 0.0]), limit=5)] == ["north"]


def test_a_new_version_replaces_the_old_without_a_mix(index: QdrantEdgeIndex) -> None:
    _load(index, version="v1")
    new = _chunks("v2", ["north"])
    index.upsert("docs", new, [VECTORS["north"]])
    # Written but not published: readers still see only v1.
    hits = index.search("docs", _query("lighthouse lamp", [1.0, 0.0, 0.0]), limit=10)
    assert [h.text for h in hits if h.document_id == "north"] == [f"{TEXTS['north']} (v1)"]
    index.publish("docs", "north", "v2")
    hits = index.search("docs", _query("lighthouse lamp", [1.0, 0.0, 0.0]), limit=10)
    assert [h.text for h in hits if h.document_id == "north"] == [f"{TEXTS['north']} (v2)"]


def test_delete_document_removes_all_its_chunks(index: QdrantEdgeIndex) -> None:
    _load(index)
    index.delete_document("docs", "north")
    for mode in RetrievalMode:
        hits = index.search("docs", _query("lighthouse", [1.0, 0.0, 0.0], mode), limit=10)
        assert "north" not in {h.document_id for h in hits}
    index.delete_document("never-created", "north")  # a missing collection is not an error


def test_collections_are_separate_and_missing_ones_are_empty(index: QdrantEdgeIndex) -> None:
    _load(index, collection="a")
    assert index.search("b", _query("lighthouse", [1.0, 0.0, 0.0]), limit=5) == []
    assert len(index.search("a", _query("lighthouse", [1.0, 0.0, 0.0]), limit=5)) >= 1


def test_embedded_index_persists_across_reopen(tmp_path: Path) -> None:
    first = QdrantEdgeIndex(tmp_path, dimension=3)
    _load(first)
    first.close()
    reopened = QdrantEdgeIndex(tmp_path, dimension=3)
    assert reopened.search("docs", _query("", [0.0, 0.0, 1.0], RetrievalMode.DENSE), limit=1)[0].document_id == "up"
    reopened.close()


def test_server_adapter_asks_the_same_question() -> None:
    request = QdrantServerIndex.request(_query("lamp", [1.0, 0.0, 0.0]), limit=10)
    assert request["query"] == models.FusionQuery(fusion=models.Fusion.DBSF)
    dense, sparse = request["prefetch"]
    assert dense.using == DENSE_VECTOR and sparse.using == SPARSE_VECTOR
    assert isinstance(sparse.query, models.Document) and sparse.query.model == BM25_MODEL
    assert sparse.query.options["language"] == "english"
    for prefetch in (dense, sparse):
        assert prefetch.filter.must[0].key == STATE_FIELD and prefetch.limit >= 10
    only_dense = QdrantServerIndex.request(_query("lamp", [1.0, 0.0, 0.0], RetrievalMode.DENSE), limit=3)
    assert only_dense["using"] == DENSE_VECTOR and only_dense["limit"] == 3


def test_a_collection_from_an_older_layout_is_refused_with_a_clear_reason(tmp_path: Path) -> None:
    from qdrant_edge import Distance, EdgeConfig, EdgeShard, EdgeVectorParams

    from ragcore.domain.errors import IndexOutdatedError

    EdgeShard.create(str(tmp_path / "old"), EdgeConfig(
        vectors={DENSE_VECTOR: EdgeVectorParams(size=3, distance=Distance.Cosine)}
    )).close()
    assert QdrantEdgeIndex.is_outdated(tmp_path / "old")
    index = QdrantEdgeIndex(tmp_path, dimension=3)
    with pytest.raises(IndexOutdatedError, match="ingest its documents again"):
        index.search("old", _query("lamp", [1.0, 0.0, 0.0]), limit=3)


# Bulk loads build the HNSW graph (docs/PERFORMANCE.md): the engine indexes a collection once
# its vectors pass ~10 MB, so wide vectors keep the test small (700 × 4,096 floats).
WIDE, CLUSTERS, PER_CLUSTER = 4096, 70, 10
WORDS = "amber basalt cedar delta ember fjord garnet harbor indigo juniper".split()


class _ClusterEmbedder:
    """Chunk ``c-i`` lies near centre ``c``: each centre's 10 nearest chunks are its own."""

    dimension = WIDE

    def __init__(self) -> None:
        rng = np.random.default_rng(7)
        self.centres = rng.normal(size=(CLUSTERS, WIDE))
        self._rng = rng

    def embed(self, texts: list[str]) -> list[list[float]]:
        rows = [self.centres[int(t.split()[1])] + 0.3 * self._rng.normal(size=WIDE) for t in texts]
        return [list(r / np.linalg.norm(r)) for r in rows]


def _bulk_documents() -> list[SourceDocument]:
    return [
        SourceDocument(document_id=f"d{c}-{i}", title=f"d{c}-{i}", source="bulk",
                       text=f"cluster {c} item {i} {WORDS[c % 10]} {WORDS[i]}")
        for c in range(CLUSTERS) for i in range(PER_CLUSTER)
    ]


def _answers(index: QdrantEdgeIndex, collection: str, centres: np.ndarray) -> list[list[tuple[str, float]]]:
    found = []
    for c in range(0, CLUSTERS, 7):
        vector = list(centres[c] / np.linalg.norm(centres[c]))
        for mode in (RetrievalMode.DENSE, RetrievalMode.HYBRID):
            query = SearchQuery(text=f"{WORDS[c % 10]} amber", vector=vector, mode=mode)
            hits = index.search(collection, query, 10)
            found.append([(p.document_id, round(p.score, 4)) for p in hits])
    return found


def _indexed(path: Path) -> tuple[int, int]:
    from qdrant_edge import EdgeShard

    shard = EdgeShard.load(str(path))
    try:
        info = shard.info()
        return info.points_count, info.indexed_vectors_count
    finally:
        shard.close()


def test_a_bulk_load_builds_the_hnsw_index_and_keeps_the_results(tmp_path: Path) -> None:
    from ragcore.local.stack import _build_vector_indexes
    from ragcore.services.ingest import index_documents

    embedder = _ClusterEmbedder()
    index = QdrantEdgeIndex(tmp_path, dimension=WIDE)
    for collection, optimize in (("plain", False), ("bulk", True)):
        embedder._rng = np.random.default_rng(11)  # the same vectors in both collections
        summary = index_documents(_bulk_documents(), collection, embedder, index, optimize=optimize)
        assert summary.chunks == CLUSTERS * PER_CLUSTER
    scanned, indexed = _answers(index, "plain", embedder.centres), _answers(index, "bulk", embedder.centres)
    index.close()

    assert indexed == scanned
    assert all(len(hits) == 10 and {d.split("-")[0] for d, _ in hits} == {hits[0][0].split("-")[0]}
               for hits in scanned[::2])  # dense: a centre's own 10 chunks
    # Until the build, only the sparse (BM25) vectors are indexed; after it the dense ones too.
    assert _indexed(tmp_path / "plain") == (700, 700)
    assert _indexed(tmp_path / "bulk") == (700, 1400)

    _build_vector_indexes(tmp_path)  # the offline stack, before it serves
    assert _indexed(tmp_path / "plain") == (700, 1400)
    reopened = QdrantEdgeIndex(tmp_path, dimension=WIDE)
    try:
        assert _answers(reopened, "plain", embedder.centres) == scanned
    finally:
        reopened.close()


# Filters (domain/filters.py) on the real engine: each condition kind, document ids, both
# together, a filter nothing meets. "ne" holds a number and a date as strings, which neither a
# number nor a date condition may take for one.
METADATA = {
    "north": {"year": 1874, "lang": "en", "tags": ["lighthouse", "coast"], "published": "2024-01-05",
              "draft": False, "author": {"name": "Ann"}},
    "east": {"year": 1999, "lang": "fr", "tags": ["bees"], "published": "2024-03-01T10:00:00Z", "draft": True,
             "score": 2.5},
    "up": {"year": 2012, "lang": "en", "published": "2023-12-31T23:00:00-02:00", "score": 0.5},  # 01:00 UTC
    "ne": {"year": "1874", "lang": "de", "published": "not a date", "score": "2.5"},
}
EVERY_WORD = "lighthouse honeybees sourdough tidal"  # each document shares a word with it, for BM25

FILTERS: list[tuple[dict, set[str]]] = [
    ({"document_ids": ["north", "up"]}, {"north", "up"}),
    ({"document_ids": ["north", "missing"]}, {"north"}),
    ({"metadata": {"lang": {"eq": "en"}}}, {"north", "up"}),
    ({"metadata": {"draft": {"eq": True}}}, {"east"}),
    ({"metadata": {"draft": {"eq": False}}}, {"north"}),
    ({"metadata": {"year": {"eq": 1874}}}, {"north"}),
    ({"metadata": {"tags": {"eq": "coast"}}}, {"north"}),  # a list matches by any element
    ({"metadata": {"tags": {"any": ["coast", "bees"]}}}, {"north", "east"}),
    ({"metadata": {"year": {"any": [1999, 2012]}}}, {"east", "up"}),
    ({"metadata": {"year": {"gte": 1900}}}, {"east", "up"}),
    ({"metadata": {"year": {"gt": 1874, "lte": 1999}}}, {"east"}),
    ({"metadata": {"score": {"gt": 1}}}, {"east"}),
    ({"metadata": {"published": {"gte": "2024-01-01"}}}, {"north", "east", "up"}),
    ({"metadata": {"published": {"lt": "2024-01-01T02:00:00+00:30"}}}, {"up"}),  # 01:00 UTC before 01:30 UTC
    ({"metadata": {"published": {"lt": "2024-01-01T01:00:00Z"}}}, set()),  # not before itself
    ({"metadata": {"published": {"gt": "2024-01-05", "lt": "2024-06-01"}}}, {"east"}),
    ({"metadata": {"author.name": {"eq": "Ann"}}}, {"north"}),
    ({"document_ids": ["north", "east", "up"], "metadata": {"lang": {"eq": "en"}, "year": {"lt": 2000}}},
     {"north"}),
    ({"metadata": {"lang": {"eq": "xx"}}}, set()),
    ({"document_ids": ["east"], "metadata": {"lang": {"eq": "en"}}}, set()),
]


def _load_with_metadata(index: QdrantEdgeIndex) -> None:
    chunks = [chunk.model_copy(update={"metadata": METADATA[chunk.document_id]}) for chunk in _chunks()]
    index.upsert("docs", chunks, [VECTORS[c.document_id] for c in chunks])
    for chunk in chunks:
        index.publish("docs", chunk.document_id, "v1")


@pytest.mark.parametrize(("chat_filter", "expected"), FILTERS, ids=[str(f) for f, _ in FILTERS])
def test_a_filter_returns_exactly_the_chunks_it_allows_in_every_mode(
    index: QdrantEdgeIndex, chat_filter: dict, expected: set[str]
) -> None:
    _load_with_metadata(index)
    query_filter = ChatFilter.model_validate(chat_filter)
    for mode in RetrievalMode:
        vector = None if mode is RetrievalMode.SPARSE else [0.5, 0.5, 0.5]
        query = SearchQuery(EVERY_WORD, vector, mode, query_filter)
        assert {h.document_id for h in index.search("docs", query, limit=10)} == expected, mode


def test_the_top_results_all_meet_the_filter_even_when_better_matches_do_not(index: QdrantEdgeIndex) -> None:
    _load_with_metadata(index)
    only_up = ChatFilter.model_validate({"metadata": {"year": {"gte": 2000}}})
    for mode in RetrievalMode:
        # Both the words and the vector point at "north"; the filter allows only "up".
        vector = None if mode is RetrievalMode.SPARSE else [1.0, 0.0, 0.0]
        text = "lighthouse keeper sourdough" if mode is RetrievalMode.SPARSE else "lighthouse keeper"
        unfiltered = index.search("docs", SearchQuery(text, vector, mode), limit=1)
        assert [h.document_id for h in unfiltered] == ["north"], mode
        hits = index.search("docs", SearchQuery(text, vector, mode, only_up), limit=1)
        assert [h.document_id for h in hits] == ["up"], mode


def test_a_filter_never_returns_an_unpublished_version(index: QdrantEdgeIndex) -> None:
    _load_with_metadata(index)
    pending = _chunks("v2", ["north"])[0].model_copy(update={"metadata": METADATA["north"]})
    index.upsert("docs", [pending], [VECTORS["north"]])
    hits = index.search("docs", SearchQuery("lighthouse", [1.0, 0.0, 0.0], RetrievalMode.HYBRID,
                                            ChatFilter(document_ids=["north"])), limit=10)
    assert [h.text for h in hits] == [f"{TEXTS['north']} (v1)"]


def test_text_and_boolean_metadata_is_indexed_and_the_filters_still_select_the_same(tmp_path: Path) -> None:
    from qdrant_edge import EdgeShard

    index = QdrantEdgeIndex(tmp_path, dimension=3)
    _load_with_metadata(index)
    index.close()
    shard = EdgeShard.load(str(tmp_path / "docs"))
    try:
        schema = {key: str(info.data_type) for key, info in shard.info().payload_schema.items()}
    finally:
        shard.close()
    # "year" and "score" hold text in "ne": keyword-indexed, and the number filters above still
    # find the numbers (FILTERS runs on this layout).
    assert {k: v.rsplit(".", 1)[-1].lower() for k, v in schema.items() if k.startswith("metadata.")} == {
        "metadata.lang": "keyword", "metadata.tags": "keyword", "metadata.published": "keyword",
        "metadata.author.name": "keyword", "metadata.draft": "bool", "metadata.year": "keyword",
        "metadata.score": "keyword",
    }


# "mixed" gets a keyword index (its first text), "flag" a bool one (its first value).
MIXED = {"north": (1999, True), "east": ("1999", "yes"), "up": (True, 3),
         "ne": (["2024-01-05", 2.5], [False, 2.5])}
MIXED_FILTERS = [
    {"eq": 1999}, {"eq": "1999"}, {"eq": True}, {"eq": False}, {"eq": "2024-01-05"}, {"eq": "yes"},
    {"any": ["1999", "yes"]}, {"any": [1999, 3]}, {"gte": 2}, {"lt": 2100}, {"gte": "2024-01-01"},
    {"lt": "2025-01-01T00:00:00Z"},
]


def test_a_metadata_index_never_changes_what_a_filter_selects(tmp_path: Path) -> None:
    """The guarantee ``metadata_indexes`` relies on, on a field holding every kind of value:
    the same filters on the same points, with and without the indexes the adapter makes."""
    from qdrant_edge import EdgeShard, UpdateOperation

    def mixed(chunk: Chunk) -> Chunk:
        value, flag = MIXED[chunk.document_id]
        metadata = {**METADATA[chunk.document_id], "mixed": value, "flag": flag}
        return chunk.model_copy(update={"metadata": metadata})

    index = QdrantEdgeIndex(tmp_path, dimension=3)
    for collection in ("indexed", "plain"):
        chunks = [mixed(c) for c in _chunks()]
        index.upsert(collection, chunks, [VECTORS[c.document_id] for c in chunks])
        for chunk in chunks:
            index.publish(collection, chunk.document_id, "v1")
    index.close()
    shard = EdgeShard.load(str(tmp_path / "plain"))
    dropped = [key for key in shard.info().payload_schema if key.startswith("metadata.")]
    for key in dropped:
        shard.update(UpdateOperation.delete_field_index(key))
    shard.close()
    assert {"metadata.mixed", "metadata.flag", "metadata.lang"} <= set(dropped)

    index = QdrantEdgeIndex(tmp_path, dimension=3)
    try:
        conditions = [{field: c} for field in ("mixed", "flag") for c in MIXED_FILTERS]
        conditions += [f["metadata"] for f, _ in FILTERS if "metadata" in f]
        for condition in conditions:
            query = SearchQuery("", [0.5, 0.5, 0.5], RetrievalMode.DENSE, ChatFilter.model_validate(
                {"metadata": condition}))
            found = [{h.document_id for h in index.search(c, query, limit=10)} for c in ("indexed", "plain")]
            assert found[0] == found[1], condition
    finally:
        index.close()

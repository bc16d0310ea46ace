"""Both vector index adapters hold and return the same data: the embedded Qdrant engine
(qdrant-edge) and qdrant-client (here in its local mode, the same code path as a server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from ragcore.adapters.qdrant_edge_index import QdrantEdgeIndex
from ragcore.adapters.qdrant_server_index import QdrantServerIndex
from ragcore.domain.documents import Chunk, chunk_id_for

# qdrant-client's local mode ignores payload indexes and says so; a server honours them.
pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect")

VECTORS = {"north": [1.0, 0.0, 0.0], "east": [0.0, 1.0, 0.0], "up": [0.0, 0.0, 1.0], "ne": [0.7, 0.7, 0.0]}


def _chunks() -> list[Chunk]:
    return [
        Chunk(chunk_id=chunk_id_for(name, 0), document_id=name, title=name.title(), source=f"{name}.md",
              position=0, text=f"text about {name}")
        for name in VECTORS
    ]


@pytest.fixture(params=["edge", "client"])
def index(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "edge":
        edge = QdrantEdgeIndex(tmp_path, dimension=3)
        yield edge
        edge.close()
    else:
        yield QdrantServerIndex(QdrantClient(location=":memory:"), dimension=3)


def test_search_returns_nearest_chunks_with_their_payload(index) -> None:  # type: ignore[no-untyped-def]
    index.upsert("docs", _chunks(), list(VECTORS.values()))
    hits = index.search("docs", [0.9, 0.1, 0.0], limit=2)
    assert [h.document_id for h in hits] == ["north", "ne"]
    assert hits[0].title == "North" and hits[0].source == "north.md" and hits[0].text == "text about north"
    assert hits[0].score > hits[1].score


def test_collections_are_separate_and_missing_ones_are_empty(index) -> None:  # type: ignore[no-untyped-def]
    index.upsert("a", _chunks()[:1], [VECTORS["north"]])
    assert index.search("b", [1.0, 0.0, 0.0], limit=5) == []
    assert len(index.search("a", [1.0, 0.0, 0.0], limit=5)) == 1


def test_reingesting_overwrites_instead_of_duplicating(index) -> None:  # type: ignore[no-untyped-def]
    index.upsert("docs", _chunks(), list(VECTORS.values()))
    index.upsert("docs", _chunks(), list(VECTORS.values()))
    assert len(index.search("docs", [1.0, 0.0, 0.0], limit=10)) == len(VECTORS)


def test_embedded_index_persists_across_reopen(tmp_path: Path) -> None:
    first = QdrantEdgeIndex(tmp_path, dimension=3)
    first.upsert("docs", _chunks(), list(VECTORS.values()))
    first.close()
    reopened = QdrantEdgeIndex(tmp_path, dimension=3)
    assert reopened.search("docs", [0.0, 0.0, 1.0], limit=1)[0].document_id == "up"
    reopened.close()

"""What both Qdrant adapters ask, said once: which points a write or a search selects, in
what order ``publish`` changes them, which vectors a search looks up and how it fuses them,
and what a point holds. Plain values, which each adapter only spells in its own client's
types (qdrant-edge's or qdrant-client's), so the embedded engine and a server cannot be asked
different questions (``scripts/qdrant_congruence.py`` checks that they answer alike)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Collection, Iterator, Literal, Sequence

from ragcore.adapters.qdrant_schema import (
    DENSE_VECTOR,
    LIVE,
    METADATA_FIELD,
    SPARSE_VECTOR,
    STATE_FIELD,
    payload_of,
)
from ragcore.domain.documents import Chunk
from ragcore.domain.filters import FIELD_SEGMENT, MAX_FIELD_DEPTH, ChatFilter
from ragcore.domain.retrieval import RetrievalMode, SearchQuery

# Candidates each retriever hands to the fusion. DBSF normalises each retriever's scores by
# their spread over its candidates, so a deep pool makes that estimate steadier (SciFact
# nDCG@10 0.7455 with 400, 0.7477 with 1000), at a few milliseconds per query.
MIN_PREFETCH = 1000


Value = str | int | bool


@dataclass(frozen=True)
class Match:
    """The field holds one of ``values`` (a list field: one of its elements does). Strings
    match on keyword-indexed fields; metadata fields are not indexed (docs/RETRIEVAL.md)."""

    key: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Between:
    """The field's number (``dates`` False) or ISO 8601 date (True) lies within the bounds
    given. Dates are compared as instants, by Qdrant's datetime range."""

    key: str
    gt: float | datetime | None = None
    gte: float | datetime | None = None
    lt: float | datetime | None = None
    lte: float | datetime | None = None

    @property
    def dates(self) -> bool:
        return any(isinstance(b, datetime) for b in (self.gt, self.gte, self.lt, self.lte))


Condition = Match | Between


@dataclass(frozen=True)
class Where:
    """A payload filter: every ``must`` condition holds and no ``must_not`` one does."""

    must: tuple[Condition, ...]
    must_not: tuple[Condition, ...] = ()


def _is(key: str, value: str) -> Match:
    return Match(key, (value,))


LIVE_ONLY = Where((_is(STATE_FIELD, LIVE),))  # what every search keeps: published versions only
LIVE_PAYLOAD = {STATE_FIELD: LIVE}


def whole_document(document_id: str) -> Where:
    return Where((_is("document_id", document_id),))


def publishing(document_id: str, version: str) -> tuple[Where, Where]:
    """What ``publish`` changes, in this order: the points to delete (the document's other
    versions), then those to mark live (this version). Old versions go first, so between the
    two steps a query sees neither version, never both."""
    return (
        Where((_is("document_id", document_id),), must_not=(_is("version", version),)),
        Where((_is("document_id", document_id), _is("version", version))),
    )


def selecting(chat_filter: ChatFilter | None) -> Where:
    """What a search selects: live points, of one of the filter's documents if it names any,
    whose document's metadata (``metadata.<field>`` in the payload) meets each of its
    conditions. Each retriever of a search applies it inside Qdrant, before ranking, so every
    one of the ``limit`` results satisfies it."""
    if chat_filter is None:
        return LIVE_ONLY
    must: list[Condition] = [*LIVE_ONLY.must]
    if chat_filter.document_ids:
        must.append(Match("document_id", tuple(chat_filter.document_ids)))
    for field, condition in (chat_filter.metadata or {}).items():
        key = f"{METADATA_FIELD}.{field}"
        if condition.eq is not None:
            must.append(Match(key, (condition.eq,)))
        elif condition.any is not None:
            must.append(Match(key, tuple(condition.any)))
        else:
            must.append(Between(key, condition.gt, condition.gte, condition.lt, condition.lte))
    return Where(tuple(must))


# Payload indexes on metadata fields, at most this many per collection: each costs the engine
# memory and work on every write. Fields past it are still filtered, by a scan.
MAX_METADATA_INDEXES = 32
IndexKind = Literal["keyword", "bool"]


def metadata_indexes(chunks: Sequence[Chunk], indexed: Collection[str]) -> list[tuple[str, IndexKind]]:
    """The payload indexes to add for the chunks' metadata, beside those ``indexed`` already:
    a keyword index on each field that holds text, a bool index on each that holds booleans
    (first seen wins), within ``MAX_METADATA_INDEXES``. An index turns a filter's ``eq`` or
    ``any`` from a check of every candidate's payload into a lookup (20k chunks: 38 ms to
    0.2-0.5 ms, bench/filtered_search.py) and, of these two kinds, never changes what a filter
    selects. Numbers and dates stay unindexed because their indexes would: on a field holding
    several kinds, an integer index drops decimals from a range, a float index drops dates, a
    datetime index drops numbers (qdrant-edge 0.9, docs/RETRIEVAL.md "Filters")."""
    room = MAX_METADATA_INDEXES - sum(1 for key in indexed if key.startswith(f"{METADATA_FIELD}."))
    wanted: dict[str, IndexKind] = {}
    for chunk in chunks:
        for path, value in _leaves(chunk.metadata, METADATA_FIELD, 1):
            if len(wanted) >= room:
                return list(wanted.items())
            kind = _index_kind(value)
            if kind is not None and path not in indexed and path not in wanted:
                wanted[path] = kind
    return list(wanted.items())


def _index_kind(value: Any) -> IndexKind | None:
    if isinstance(value, bool):
        return "bool"
    return "keyword" if isinstance(value, str) else None


def _leaves(metadata: dict[str, Any], prefix: str, depth: int) -> Iterator[tuple[str, Any]]:
    """Each value a filter can name (a list's elements each), with its payload path."""
    for key, value in metadata.items():
        if not FIELD_SEGMENT.fullmatch(key):
            continue  # a name a filter cannot spell
        path = f"{prefix}.{key}"
        if isinstance(value, dict):
            if depth < MAX_FIELD_DEPTH:
                yield from _leaves(value, path, depth + 1)
        else:
            yield from ((path, item) for item in (value if isinstance(value, list) else [value]))


@dataclass(frozen=True)
class PointData:
    id: str
    dense: list[float]
    text: str  # what its BM25 vector is made from: the chunk with its neighbours
    payload: dict[str, Any]


def points_of(chunks: Sequence[Chunk], vectors: Sequence[list[float]]) -> list[PointData]:
    return [
        PointData(chunk.chunk_id, vector, chunk.context or chunk.text, payload_of(chunk))
        for chunk, vector in zip(chunks, vectors, strict=True)
    ]


@dataclass(frozen=True)
class Search:
    """A search on the points ``where`` selects: one named vector alone (``pool`` None), or
    each of several as a prefetch of ``pool`` candidates, each prefetch filtered by ``where``,
    fused by DBSF. ``DENSE_VECTOR`` is looked up with the query's vector, ``SPARSE_VECTOR``
    with the BM25 vector of its text; ``exact``: the dense lookup scans instead of walking the
    HNSW graph (``scans``)."""

    using: tuple[str, ...]
    limit: int
    pool: int | None = None
    where: Where = LIVE_ONLY
    exact: bool = False


def search_of(query: SearchQuery, limit: int) -> Search:
    where = selecting(query.filter)
    exact = scans(query.filter)
    if query.mode is RetrievalMode.DENSE:
        return Search((DENSE_VECTOR,), limit, where=where, exact=exact)
    if query.mode is RetrievalMode.SPARSE:
        return Search((SPARSE_VECTOR,), limit, where=where, exact=exact)
    return Search((DENSE_VECTOR, SPARSE_VECTOR), limit, max(limit, MIN_PREFETCH), where, exact)


def scans(chat_filter: ChatFilter | None) -> bool:
    """Whether a dense search scans the points its filter keeps rather than walk the HNSW
    graph: whenever there is a filter. A graph walk through a filter's points misses many of
    the true nearest when the filter keeps more than a few thousand points yet a small share,
    unless a payload index on every condition's field was there when the graph was built: at
    100,000 chunks it found 18% of the exact top 10 for a range keeping 10%, 7% for a text
    match and a range keeping 7.5% (bench/filtered_search.py --graph-walk, docs/RETRIEVAL.md
    "Filters"). Metadata fields appear, and get indexes, whenever documents bring them, so the
    scan is always taken: exact, at the cost of the distances to the points the filter keeps
    (at most a full scan, 17 ms at 100,000 chunks)."""
    return chat_filter is not None

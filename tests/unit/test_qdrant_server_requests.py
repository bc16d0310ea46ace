"""Every request the Qdrant server adapter sends, checked against qdrant-client's own REST models.

No Qdrant server runs here, so the adapter drives a real ``QdrantClient`` (with cloud
inference, as ``bootstrap`` builds it) whose HTTP transport is an ``httpx.MockTransport``: it
records each request and answers as a server would. The bodies checked are therefore exactly
what qdrant-client puts on the wire, after all of its own conversions, rather than a copy of
them. Each body is parsed with the model the REST API declares for its endpoint
(``extra="forbid"`` refuses unknown fields, enums refuse unknown values), then checked against
the collection the adapter itself created, for what the models leave open but a server does
not: a query names a declared vector and sends what that vector takes (floats of its size, or a
``qdrant/bm25`` Document whose options parse as ``Bm25Config``; ``Document.options`` accepts any
dict), a filter matches strings on keyword-indexed fields (anything else is refused by a
strict-mode server or silently matches nothing), and a chat's filter reaches every retriever,
its metadata conditions as Qdrant's match, match-any, range and datetime range on
``metadata.<field>`` (not indexed, docs/RETRIEVAL.md).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Callable

import httpx
import pytest
from qdrant_client import QdrantClient, models

from ragcore.adapters.qdrant_schema import DENSE_VECTOR, SPARSE_VECTOR
from ragcore.adapters.qdrant_server_index import BM25_MODEL, QdrantServerIndex
from ragcore.domain.documents import Chunk, chunk_id_for
from ragcore.domain.filters import ChatFilter
from ragcore.domain.retrieval import RetrievalMode, SearchQuery

COLLECTION = "docs"
DIMENSION = 3
FILTER = ChatFilter.model_validate({"document_ids": ["d", "e"], "metadata": {
    "lang": {"eq": "en"}, "draft": {"eq": False}, "year": {"any": [1874, 1875]}, "tags": {"any": ["x", "y"]},
    "score": {"gt": 0.5, "lte": 2}, "published": {"gte": "2024-01-01", "lt": "2024-07-01T12:00:00+02:00"},
}})

# The body each endpoint takes, as qdrant-client's REST API declares it (``http/api/*.py``).
# Inserting points takes ``PointInsertOperations`` and deleting ``PointsSelector``, unions whose
# member the adapter uses is named here, so a body of the other member is refused too.
BODY_MODELS: dict[tuple[str, str], type[models.BaseModel]] = {
    ("PUT", ""): models.CreateCollection,
    ("PUT", "/index"): models.CreateFieldIndex,
    ("PUT", "/points"): models.PointsList,
    ("POST", "/points/delete"): models.FilterSelector,
    ("POST", "/points/payload"): models.SetPayload,
    ("POST", "/points/query"): models.QueryRequest,
}


@dataclass
class Sent:
    method: str
    endpoint: str  # the path after /collections/<name>
    body: dict[str, Any] | None


def _info(payload_schema: dict[str, str]) -> dict[str, Any]:
    """A collection's description (``GET /collections/<name>``) as a server gives it."""
    return {"status": "green", "optimizer_status": "ok", "segments_count": 1, "config": {
        "params": {}, "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000},
        "optimizer_config": {"default_segment_number": 0, "flush_interval_sec": 5}},
        "payload_schema": {key: {"data_type": kind, "points": 0} for key, kind in payload_schema.items()}}


def _reply(method: str, endpoint: str, existing: dict[str, str] | None) -> Any:
    if endpoint == "/exists":
        return {"exists": existing is not None}
    if endpoint == "" and method == "GET":
        assert existing is not None
        return _info(existing)
    if endpoint == "":
        return True  # collection created
    if endpoint == "/points/query":
        payload = {"chunk_id": "c", "document_id": "d", "title": "T", "source": "s", "text": "x"}
        point = {"id": chunk_id_for("d", "v1", 0), "version": 1, "score": 0.5, "payload": payload}
        return {"points": [point]}
    return {"operation_id": 1, "status": "completed"}


def _recording_client(sent: list[Sent], existing: dict[str, str] | None = None) -> QdrantClient:
    """``existing``: the collection exists, with these payload indexes (field -> type)."""
    prefix = f"/collections/{COLLECTION}"

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path.startswith(prefix), request.url.path
        endpoint = request.url.path.removeprefix(prefix)
        sent.append(Sent(request.method, endpoint, json.loads(request.content) if request.content else None))
        reply = _reply(request.method, endpoint, existing)
        return httpx.Response(200, json={"result": reply, "status": "ok", "time": 0.0})

    return QdrantClient(url="http://qdrant.test:6333", timeout=5, cloud_inference=True,
                        check_compatibility=False, transport=httpx.MockTransport(handle))


def _chunk(version: str, position: int) -> Chunk:
    return Chunk(chunk_id=chunk_id_for("d", version, position), document_id="d", version=version,
                 title="T", source="d.md", position=position, text=f"text {position}",
                 context=f"context {position}", metadata={"lang": "en", "draft": False, "year": 1874})


@pytest.fixture
def sent() -> list[Sent]:
    """Every request of a document's life: its first write (which creates the collection), a
    new version, publishing, searches in each mode, with a filter in each mode, deletion."""
    sent: list[Sent] = []
    index = QdrantServerIndex(_recording_client(sent), DIMENSION)
    index.upsert(COLLECTION, [_chunk("v1", 0), _chunk("v1", 1)], [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]])
    index.publish(COLLECTION, "d", "v1")
    for mode in RetrievalMode:  # hybrid, dense, sparse
        vector = None if mode is RetrievalMode.SPARSE else [0.5, 0.5, 0.0]
        for chat_filter in (None, FILTER):
            query = SearchQuery(text="text", vector=vector, mode=mode, filter=chat_filter)
            hits = index.search(COLLECTION, query, limit=5)
            assert [(h.chunk_id, h.score) for h in hits] == [("c", 0.5)]
    index.delete_document(COLLECTION, "d")
    return sent


class Collection:
    """The collection as the adapter declared it; later requests must fit it."""

    def __init__(self) -> None:
        self.dense: dict[str, int] = {}  # vector name -> size
        self.sparse: set[str] = set()
        self.keywords: set[str] = set()

    def check(self, request: models.BaseModel) -> None:
        match request:
            case models.CreateCollection(vectors=dict() as dense, sparse_vectors=dict() as sparse):
                self.dense = {name: params.size for name, params in dense.items()}
                self.sparse = set(sparse)
            case models.CreateFieldIndex(field_schema=models.PayloadSchemaType.KEYWORD):
                self.keywords.add(request.field_name)
            case models.CreateFieldIndex(field_schema=models.PayloadSchemaType.BOOL) if (
                request.field_name.startswith("metadata.")
            ):
                pass  # a metadata field of booleans: checked as one below
            case models.PointsList():
                for point in request.points:
                    assert isinstance(point.vector, dict)
                    for using, vector in point.vector.items():
                        self._vector(using, vector)
                    self._keyword_values(point.payload or {})
            case models.FilterSelector():
                self._filter(request.filter)
            case models.SetPayload(filter=models.Filter() as where, points=None):
                self._filter(where)
                self._keyword_values(request.payload)
            case models.QueryRequest(prefetch=list() as prefetches, query=models.FusionQuery()):
                for prefetch in prefetches:
                    self._query(prefetch.using, prefetch.query, prefetch.filter)
            case models.QueryRequest(prefetch=None):
                self._query(request.using, request.query, request.filter)
            case _:
                raise ValueError(f"not a request this adapter should send: {request!r}")

    def _query(self, using: str | None, query: Any, where: models.Filter | None) -> None:
        self._vector(using, query.nearest if isinstance(query, models.NearestQuery) else query)
        if where is None:
            raise ValueError("every search must filter on the published state")
        self._filter(where)

    def _vector(self, using: str | None, value: Any) -> None:
        if using in self.dense:
            if not (isinstance(value, list) and len(value) == self.dense[using]):
                raise ValueError(f"vector {using!r} takes {self.dense[using]} floats, not {value!r}")
        elif using in self.sparse:
            if not (isinstance(value, models.Document) and value.model == BM25_MODEL):
                raise ValueError(f"sparse vector {using!r} is made by the server from a BM25 Document")
            models.Bm25Config.model_validate(value.options)
        else:
            raise ValueError(f"the collection has no vector named {using!r}")

    def _filter(self, where: models.Filter) -> None:
        for conditions in (where.must, where.must_not, where.should):  # each a list, one or None
            for condition in conditions if isinstance(conditions, list) else filter(None, [conditions]):
                if not isinstance(condition, models.FieldCondition):
                    raise ValueError(f"not a field condition: {condition!r}")
                if condition.key in self.keywords:
                    self._keyword_match(condition)
                elif condition.key.startswith("metadata."):
                    self._metadata_condition(condition)
                else:
                    raise ValueError(f"a filter on a field neither indexed nor metadata: {condition!r}")

    @staticmethod
    def _keyword_match(condition: models.FieldCondition) -> None:
        match condition.match:
            case models.MatchValue(value=str()):
                return
            case models.MatchAny(any=list() as values) if values and all(isinstance(v, str) for v in values):
                return
        raise ValueError(f"not a string match on a keyword index: {condition!r}")

    @staticmethod
    def _metadata_condition(condition: models.FieldCondition) -> None:
        """One of the four conditions a metadata filter uses, with values of its kinds."""
        match condition:
            case models.FieldCondition(match=models.MatchValue(value=str() | int() | bool()), range=None):
                return
            case models.FieldCondition(match=models.MatchAny(any=list() as values), range=None) if (
                values and len({type(v) for v in values}) == 1 and type(values[0]) in (str, int)
            ):
                return
            case models.FieldCondition(
                match=None, range=models.Range() | models.DatetimeRange() as bounds
            ) if any(b is not None for b in (bounds.gt, bounds.gte, bounds.lt, bounds.lte)):
                return
        raise ValueError(f"not a metadata condition this adapter sends: {condition!r}")

    def _keyword_values(self, payload: dict[str, Any]) -> None:
        wrong = {k: v for k, v in payload.items() if k in self.keywords and not isinstance(v, str)}
        if wrong:
            raise ValueError(f"keyword-indexed fields must hold strings: {wrong}")


def validate(sent: list[Sent]) -> None:
    """Raises ``ValueError`` (pydantic's ``ValidationError`` is one) at the first request a
    server would refuse or misread."""
    collection = Collection()
    for request in sent:
        if request.body is not None:  # only GET .../exists has none
            collection.check(BODY_MODELS[request.method, request.endpoint].model_validate(request.body))


def test_the_adapter_sends_these_requests_and_each_is_valid(sent: list[Sent]) -> None:
    assert [(r.method, r.endpoint) for r in sent] == [
        ("GET", "/exists"),  # once: the adapter remembers collections it has seen
        ("PUT", ""),
        *[("PUT", "/index")] * 3,
        *[("PUT", "/index")] * 2,  # metadata.lang (keyword), metadata.draft (bool); no number index
        ("PUT", "/points"),
        ("POST", "/points/delete"), ("POST", "/points/payload"),  # publish
        *[("POST", "/points/query")] * 6,  # hybrid, dense, sparse; each without and with a filter
        ("POST", "/points/delete"),
    ]
    validate(sent)


def test_an_existing_collection_has_its_indexes_read_once_and_only_new_fields_indexed() -> None:
    sent: list[Sent] = []
    index = QdrantServerIndex(_recording_client(sent, {"document_id": "keyword", "metadata.lang": "keyword"}),
                              DIMENSION)
    for version in ("v1", "v2"):
        index.upsert(COLLECTION, [_chunk(version, 0)], [[0.1, 0.2, 0.3]])
    assert [(r.method, r.endpoint) for r in sent] == [
        ("GET", "/exists"), ("GET", ""), ("PUT", "/index"), ("PUT", "/points"), ("PUT", "/points")]
    assert sent[2].body == {"field_name": "metadata.draft", "field_schema": "bool"}


def _query(sent: list[Sent], mode: RetrievalMode, filtered: bool = False) -> dict[str, Any]:
    queries = [r.body for r in sent if r.endpoint == "/points/query"]
    return queries[2 * list(RetrievalMode).index(mode) + filtered]


def test_the_filter_reaches_every_retriever_as_qdrant_conditions(sent: list[Sent]) -> None:
    def conditions(where: dict[str, Any]) -> list[dict[str, Any]]:
        return where["must"]

    expected = [
        {"key": "state", "match": {"value": "live"}},
        {"key": "document_id", "match": {"any": ["d", "e"]}},
        {"key": "metadata.lang", "match": {"value": "en"}},
        {"key": "metadata.draft", "match": {"value": False}},
        {"key": "metadata.year", "match": {"any": [1874, 1875]}},
        {"key": "metadata.tags", "match": {"any": ["x", "y"]}},
        {"key": "metadata.score", "range": {"gt": 0.5, "lte": 2.0}},
        {"key": "metadata.published",
         "range": {"gte": "2024-01-01T00:00:00Z", "lt": "2024-07-01T10:00:00Z"}},
    ]
    hybrid = _query(sent, RetrievalMode.HYBRID, filtered=True)
    assert "filter" not in hybrid  # the fusion ranks only what the filtered prefetches found
    assert [conditions(p["filter"]) for p in hybrid["prefetch"]] == [expected, expected]
    for mode in (RetrievalMode.DENSE, RetrievalMode.SPARSE):
        assert conditions(_query(sent, mode, filtered=True)["filter"]) == expected
    assert conditions(_query(sent, RetrievalMode.DENSE)["filter"]) == expected[:1]
    # A filtered dense lookup scans the points the filter keeps (qdrant_requests.scans).
    assert [p.get("params") for p in hybrid["prefetch"]] == [{"exact": True}, None]
    assert _query(sent, RetrievalMode.DENSE, filtered=True)["params"] == {"exact": True}
    assert _query(sent, RetrievalMode.SPARSE, filtered=True).get("params") is None
    assert _query(sent, RetrievalMode.DENSE).get("params") is None


def _first(sent: list[Sent], endpoint: str) -> dict[str, Any]:
    return next(r.body for r in sent if r.endpoint == endpoint)


def _swap_using(sent: list[Sent]) -> None:
    _query(sent, RetrievalMode.SPARSE)["using"] = DENSE_VECTOR


def _dense_on_sparse(sent: list[Sent]) -> None:
    _query(sent, RetrievalMode.DENSE)["using"] = SPARSE_VECTOR


def _unknown_fusion(sent: list[Sent]) -> None:
    _query(sent, RetrievalMode.HYBRID)["query"] = {"fusion": "dbfs"}


def _client_argument_name(sent: list[Sent]) -> None:
    body = _query(sent, RetrievalMode.DENSE)
    body["query_filter"] = body.pop("filter")  # the Python argument's name is not the REST field's


def _bad_bm25_option(sent: list[Sent]) -> None:
    _first(sent, "/points")["points"][0]["vector"][SPARSE_VECTOR]["options"]["k1"] = 1.2


def _wrong_dimension(sent: list[Sent]) -> None:
    _first(sent, "/points")["points"][0]["vector"][DENSE_VECTOR].append(0.0)


def _unindexed_filter(sent: list[Sent]) -> None:
    _first(sent, "/points/delete")["filter"]["must"][0]["key"] = "title"


def _boolean_state(sent: list[Sent]) -> None:
    _first(sent, "/points/payload")["payload"]["state"] = True


def _unknown_range_operator(sent: list[Sent]) -> None:
    _query(sent, RetrievalMode.DENSE, filtered=True)["filter"]["must"][-1]["range"]["after"] = "2024-01-01"


def _text_match_on_metadata(sent: list[Sent]) -> None:
    _query(sent, RetrievalMode.DENSE, filtered=True)["filter"]["must"][2]["match"] = {"text": "en"}


def _metadata_outside_its_object(sent: list[Sent]) -> None:
    _query(sent, RetrievalMode.SPARSE, filtered=True)["filter"]["must"][2]["key"] = "lang"


@pytest.mark.parametrize("break_it", [
    _swap_using, _dense_on_sparse, _unknown_fusion, _client_argument_name,
    _bad_bm25_option, _wrong_dimension, _unindexed_filter, _boolean_state,
    _unknown_range_operator, _text_match_on_metadata, _metadata_outside_its_object,
])
def test_a_wrong_request_is_refused(sent: list[Sent], break_it: Callable[[list[Sent]], None]) -> None:
    broken = copy.deepcopy(sent)
    break_it(broken)
    with pytest.raises(ValueError):
        validate(broken)

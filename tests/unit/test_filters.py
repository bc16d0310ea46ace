"""``POST /chat``'s ``filter`` (domain/filters.py): what it accepts, how a stored request reads
back, and each mistake refused with the field it concerns."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from ragcore.domain.filters import MAX_ANY_VALUES, MAX_FILTER_DOCUMENTS, MAX_FILTER_FIELDS, ChatFilter
from ragcore.domain.messages import ChatJob, ChatRequest

FULL = {
    "document_ids": ["north", "east"],
    "metadata": {"year": {"gte": 2000, "lt": 2010}, "lang": {"eq": "en"}, "draft": {"eq": False},
                 "tags": {"any": ["x", "y"]}, "codes": {"any": [1, 2]}, "published": {"gte": "2024-01-01"},
                 "author.name": {"eq": "Ann"}},
}


def _filter(value: object) -> ChatFilter:
    request = ChatRequest.model_validate({"query": "q", "filter": value})
    assert request.filter is not None
    return request.filter


def test_a_filter_of_every_kind_is_read_and_stored_as_written() -> None:
    chat_filter = _filter(FULL)
    assert chat_filter.metadata is not None and chat_filter.metadata["draft"].eq is False
    stored = json.loads(ChatRequest(query="q", filter=chat_filter).model_dump_json())["filter"]
    as_written = {"year": {"gte": 2000.0, "lt": 2010.0}, "published": {"gte": "2024-01-01T00:00:00Z"}}
    assert stored == {**FULL, "metadata": {**FULL["metadata"], **as_written}}
    # The worker reads the job's request back, from JSON or from the Python dump.
    assert ChatJob.model_validate({"query": "q", "filter": stored}).filter == chat_filter
    dumped = ChatRequest(query="q", filter=chat_filter).model_dump()
    assert json.loads(json.dumps(dumped))["filter"] == stored  # what the job store writes
    assert ChatJob.model_validate(dumped).filter == chat_filter


def test_without_a_filter_the_request_is_as_before() -> None:
    assert ChatRequest(query="q").filter is None
    assert ChatRequest.model_validate({"query": "q", "filter": None}).filter is None


@pytest.mark.parametrize(("given", "instant"), [
    ("2024-01-31", datetime(2024, 1, 31, tzinfo=timezone.utc)),  # a date: its midnight, UTC
    ("2024-01-31T12:30:00", datetime(2024, 1, 31, 12, 30, tzinfo=timezone.utc)),  # no offset: UTC
    ("2024-01-31T12:30:00+02:00", datetime(2024, 1, 31, 10, 30, tzinfo=timezone.utc)),
    ("2024-01-31T12:30:00.250Z", datetime(2024, 1, 31, 12, 30, 0, 250000, tzinfo=timezone.utc)),
])
def test_dates_are_instants_in_utc(given: str, instant: datetime) -> None:
    condition = _filter({"metadata": {"at": {"lt": given}}}).metadata["at"]  # type: ignore[index]
    assert condition.lt == instant
    assert condition.lt.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_a_whole_number_written_as_a_decimal_is_that_integer() -> None:
    chat_filter = _filter({"metadata": {"year": {"eq": 1874.0}, "codes": {"any": [1.0, 2]}}})
    assert chat_filter.metadata is not None
    assert chat_filter.metadata["year"].eq == 1874 and chat_filter.metadata["codes"].any == [1, 2]


def test_the_limits_are_inclusive() -> None:
    _filter({"document_ids": [f"d{i}" for i in range(MAX_FILTER_DOCUMENTS)]})
    _filter({"metadata": {f"f{i}": {"eq": i} for i in range(MAX_FILTER_FIELDS)}})
    _filter({"metadata": {"n": {"any": list(range(MAX_ANY_VALUES))}}})
    _filter({"metadata": {"n": {"gte": 5, "lte": 5}}})  # one value is a range too


M = "filter.metadata"
BAD = [
    ({}, "filter", "needs document_ids, metadata or both"),
    ("en", "filter", "valid dictionary"),
    ({"documents": ["a"]}, "filter.documents", "Extra inputs"),
    ({"document_ids": []}, "filter.document_ids", "at least 1"),
    ({"document_ids": [f"d{i}" for i in range(MAX_FILTER_DOCUMENTS + 1)]}, "filter.document_ids",
     "at most 100"),
    ({"document_ids": ["a b"]}, "filter.document_ids.0", "pattern"),
    ({"document_ids": "north"}, "filter.document_ids", "valid list"),
    ({"metadata": {}}, M, "at least 1"),
    ({"metadata": {f"f{i}": {"eq": 1} for i in range(MAX_FILTER_FIELDS + 1)}}, M, "at most 16"),
    ({"metadata": {"a b": {"eq": "x"}}}, f"{M}.a b.[key]", "a metadata field is"),
    ({"metadata": {"a..b": {"eq": "x"}}}, f"{M}.a..b.[key]", "a metadata field is"),
    ({"metadata": {"a.b.c.d.e.f": {"eq": "x"}}}, f"{M}.a.b.c.d.e.f.[key]", "at most 5 deep"),
    ({"metadata": {"lang": "en"}}, f"{M}.lang", "valid dictionary"),
    ({"metadata": {"lang": {}}}, f"{M}.lang", "exactly one condition"),
    ({"metadata": {"lang": {"eq": None}}}, f"{M}.lang", "exactly one condition"),
    ({"metadata": {"lang": {"like": "en"}}}, f"{M}.lang.like", "Extra inputs"),
    ({"metadata": {"lang": {"eq": "en", "any": ["fr"]}}}, f"{M}.lang", "exactly one condition"),
    ({"metadata": {"year": {"eq": 1874, "gte": 1800}}}, f"{M}.year", "exactly one condition"),
    ({"metadata": {"score": {"eq": 2.5}}}, f"{M}.score.eq", "for decimals use a range"),
    ({"metadata": {"tags": {"eq": ["x"]}}}, f"{M}.tags.eq", "a string, an integer or a boolean"),
    ({"metadata": {"n": {"eq": 2**63}}}, f"{M}.n.eq", "64 bits"),
    ({"metadata": {"s": {"eq": "x" * 1001}}}, f"{M}.s.eq", "at most 1000"),
    ({"metadata": {"s": {"eq": "\ud800"}}}, f"{M}.s.eq", "lone surrogate"),
    ({"metadata": {"tags": {"any": []}}}, f"{M}.tags.any", "1 to 100 values"),
    ({"metadata": {"tags": {"any": list(range(101))}}}, f"{M}.tags.any", "1 to 100 values"),
    ({"metadata": {"tags": {"any": "x"}}}, f"{M}.tags.any", "a list of strings"),
    ({"metadata": {"tags": {"any": ["x", 1]}}}, f"{M}.tags.any", "all of one kind"),
    ({"metadata": {"tags": {"any": [True, False]}}}, f"{M}.tags.any", "not booleans"),
    ({"metadata": {"tags": {"any": [1.5]}}}, f"{M}.tags.any", "decimals"),
    ({"metadata": {"year": {"gte": 1800, "lt": "2024-01-01"}}}, f"{M}.year", "all numbers or all dates"),
    ({"metadata": {"year": {"gte": True}}}, f"{M}.year.gte", "not a boolean"),
    ({"metadata": {"year": {"gte": [1]}}}, f"{M}.year.gte", "a number or an ISO 8601 date"),
    ({"metadata": {"year": {"gt": 1, "gte": 2}}}, f"{M}.year", "at most one lower bound"),
    ({"metadata": {"year": {"lt": 1, "lte": 2}}}, f"{M}.year", "at most one lower bound"),
    ({"metadata": {"year": {"gte": 2010, "lt": 2000}}}, f"{M}.year", "the range is empty"),
    ({"metadata": {"year": {"gt": 5, "lte": 5}}}, f"{M}.year", "the range is empty"),
    ({"metadata": {"at": {"gte": "2024-02-01", "lte": "2024-01-31"}}}, f"{M}.at", "the range is empty"),
    ({"metadata": {"at": {"gte": "2024-13-01"}}}, f"{M}.at.gte", "not an ISO 8601 date"),
    ({"metadata": {"at": {"gte": "yesterday"}}}, f"{M}.at.gte", "not an ISO 8601 date"),
    ({"metadata": {"at": {"gte": "20240101"}}}, f"{M}.at.gte", "not an ISO 8601 date"),
    ({"metadata": {"at": {"gte": "2024-01-01T25:00"}}}, f"{M}.at.gte", "not an ISO 8601 date"),
]


@pytest.mark.parametrize(("given", "field", "problem"), BAD, ids=[f"{f}:{p}" for _, f, p in BAD])
def test_each_mistake_is_refused_naming_its_field(given: object, field: str, problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ChatRequest.model_validate({"query": "q", "filter": given})
    errors = [(".".join(map(str, e["loc"])), e["msg"]) for e in refused.value.errors()]
    assert len(errors) == 1 and errors[0][0] == field and problem in errors[0][1], errors


@pytest.mark.parametrize("bound", [float("nan"), float("inf")])
def test_a_range_bound_must_be_finite(bound: float) -> None:
    with pytest.raises(ValidationError, match="finite"):
        _filter({"metadata": {"score": {"gte": bound}}})


@pytest.mark.parametrize("bound, problem", [
    (10**400, "finite"),  # past float's range: Python raises OverflowError, not ValueError
    ("0001-01-01T00:00:00+01:00", "outside the dates"),  # before year 1 in UTC
    ("9999-12-31T23:59:59-01:00", "outside the dates"),  # after year 9999 in UTC
])
def test_a_bound_out_of_range_is_a_validation_error_not_a_crash(bound: object, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        _filter({"metadata": {"y": {"gte": bound}}})

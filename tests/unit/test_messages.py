import pytest
from pydantic import ValidationError

from ragcore.domain.messages import MAX_QUERY_CHARS, MAX_TOP_K, ChatRequest


def test_defaults_and_trimming() -> None:
    request = ChatRequest(query="  What is a waggle dance?\n")
    assert request.query == "What is a waggle dance?"
    assert request.top_k == 5 and request.collection == "default"


@pytest.mark.parametrize(
    "fields",
    [
        {"query": " \t\n "},
        {"query": "x" * (MAX_QUERY_CHARS + 1)},
        {"query": "ok", "top_k": 0},
        {"query": "ok", "top_k": MAX_TOP_K + 1},
        {"query": "ok", "collection": ""},
        {"query": "ok", "collection": "a/b"},
        {"query": "ok", "collection": "x" * 65},
        {"query": "null\x00byte"},
        {"query": "ok", "unexpected": 1},
        {"query": 42},
    ],
)
def test_rejects(fields: dict) -> None:
    with pytest.raises(ValidationError):
        ChatRequest(**fields)


def test_accepts_the_limits() -> None:
    assert ChatRequest(query="x" * MAX_QUERY_CHARS, top_k=MAX_TOP_K, collection="tenant_a-1").top_k == MAX_TOP_K
    assert ChatRequest(query="line one\nline two\ttabbed").query == "line one\nline two\ttabbed"

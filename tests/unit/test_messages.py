import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ragcore.domain.messages import (
    MAX_QUERY_CHARS,
    MAX_TOP_K,
    PLAIN_TEXT_PATTERN,
    QUERY_PATTERN,
    ChatRequest,
    DocumentFields,
)


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
        {"query": "del\x7f"},
        {"query": "c1\x85control"},
        {"query": "ok", "top_k": True},
        {"query": "ok", "top_k": "5"},
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


def _accepted(build: type, **fields: str) -> bool:
    try:
        build(**fields)
    except ValidationError:
        return False
    return True


# No lone surrogates: a JSON Schema string cannot hold one, so the pattern cannot say it.
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=300, derandomize=True, database=None)
@given(_TEXT | st.sampled_from([" ", "\t\n", "\u3000", "a\x00", "\x85", "b\x7f"]))
def test_the_documented_patterns_say_what_the_validators_accept(text: str) -> None:
    """The OpenAPI document's patterns are written by hand from the validators' rules."""
    assert bool(re.search(QUERY_PATTERN, text)) == _accepted(ChatRequest, query=text)
    assert bool(re.search(PLAIN_TEXT_PATTERN, text)) == _accepted(DocumentFields, title=text)

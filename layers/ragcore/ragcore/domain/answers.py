"""The result document of a finished chat job."""

from __future__ import annotations

from pydantic import BaseModel


class Passage(BaseModel):
    """A retrieved chunk, as the vector index returns it."""

    chunk_id: str
    document_id: str
    title: str
    source: str
    text: str
    score: float


class Source(BaseModel):
    """A passage as shown to the client; ``n`` is the number the answer cites as ``[n]``."""

    n: int
    chunk_id: str
    document_id: str
    title: str
    source: str
    score: float
    snippet: str


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Completion(BaseModel):
    """What the chat model returns."""

    text: str
    model: str
    usage: Usage


class Timings(BaseModel):
    embed_ms: float
    retrieval_ms: float
    llm_ms: float
    total_ms: float


class Answer(BaseModel):
    answer: str
    sources: list[Source]
    model: str
    usage: Usage
    timings_ms: Timings

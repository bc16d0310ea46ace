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


class Truncation(BaseModel):
    """What the prompt's token budget cut (``services/prompting.py``): passages left out from
    the lowest-ranked up, passages shortened to the per-passage bound, and the prompt's size as
    estimated before the call (an upper bound on its tokens)."""

    passages_dropped: int
    passages_cut: int
    prompt_tokens_estimated: int


class Answer(BaseModel):
    answer: str
    sources: list[Source]
    model: str
    usage: Usage
    timings_ms: Timings
    # Set only when the budget cut something; the sources are then the passages that were sent.
    truncated: Truncation | None = None

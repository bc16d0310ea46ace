"""The result document of a finished chat job."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


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
    text: str = ""  # the whole passage (a chunk: at most 2,000 characters), for checking a citation


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        """Two LLM calls' tokens together (a follow-up's rewrite and its answer)."""
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class Completion(BaseModel):
    """What the chat model returns."""

    text: str
    model: str
    usage: Usage


class Timings(BaseModel):
    rewrite_ms: float = 0.0  # a follow-up's rewrite into a standalone query (services/standalone_query.py)
    embed_ms: float
    retrieval_ms: float
    llm_ms: float
    check_ms: float = 0.0  # choosing a sentence to quote, and the citation check
    total_ms: float


class Truncation(BaseModel):
    """What the prompt's token budget cut (``services/prompting.py``): passages left out from
    the lowest-ranked up, passages shortened to the per-passage bound, and the prompt's size as
    estimated before the call (an upper bound on its tokens)."""

    passages_dropped: int
    passages_cut: int
    prompt_tokens_estimated: int


class AnswerMode(StrEnum):
    """How the service answers (setting ``ANSWER_MODE``)."""

    GENERATED = "generated"  # the LLM writes from the passages; the citation check follows
    EXTRACTIVE = "extractive"  # the service chooses a passage sentence; the LLM may only reword it


class AnswerMethod(StrEnum):
    """How the answer's words were made (setting ``ANSWER_MODE``; ``services/answer.py``)."""

    GENERATED = "generated"  # the LLM wrote it from the passages; its citations were checked
    REPHRASED = "rephrased"  # the LLM reworded the passage sentence chosen; the check accepted it
    QUOTED = "quoted"  # the passage sentence chosen, verbatim
    DECLINED = "declined"  # no passage sentence answers the question: the service says so


class AnswerSentence(BaseModel):
    """One sentence of the answer as the citation check judged it (``services/citation_check.py``)."""

    text: str = Field(description="the sentence, without its citation markers")
    citations: list[int] = Field(description="the sources ([n]) that support it, as the answer now cites them")
    model_citations: list[int] = Field(description="what the model cited, before the check")
    support: float = Field(ge=0, le=1, description="how well its best source supports it (0 to 1)")
    supported: bool = Field(description="a cited source supports it; false for a claim no source backs")
    changed: bool = Field(description="the check moved, added or removed a citation")
    declines: bool = Field(default=False, description="says the sources do not answer (part of) the question")
    claim: bool = Field(
        default=True, description="states something a source should back (false for a bare decline or 'Sources:')"
    )
    start: int = Field(default=0, ge=0, description="where it starts in `answer` (characters)")
    end: int = Field(default=0, ge=0, description="where it ends in `answer`, its citation included")


class Answer(BaseModel):
    answer: str
    sources: list[Source]
    model: str
    usage: Usage
    timings_ms: Timings
    # Set only when the budget cut something; the sources are then the passages that were sent.
    truncated: Truncation | None = None
    method: AnswerMethod = AnswerMethod.GENERATED
    sentences: list[AnswerSentence] = []
    grounded: float | None = Field(
        default=None, ge=0, le=1,
        description="share of the answer's claims a cited source supports; null when it makes none",
    )
    abstained: bool = Field(default=False, description="the answer says the sources do not answer the question")
    standalone_query: str | None = Field(
        default=None, description="what retrieval searched for: the question, or a follow-up rewritten to stand alone"
    )

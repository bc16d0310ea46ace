"""The baseline's job: embed the question, retrieve, ask the LLM, return the answer (RQ stores
the return value). The same embedder, vector engine, retrieval call and prompt as ragcore's
worker; the OpenAI SDK called directly, as a tutorial would."""

from __future__ import annotations

import os
import time

from openai import OpenAI

from ragcore.bootstrap import get_container
from ragcore.domain.retrieval import RetrievalMode
from ragcore.services.prompting import build_prompt, sources_of
from ragcore.services.retrieve import retrieve

_client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="unused", max_retries=0, timeout=15)


def warm() -> None:
    """Builds the embedder and the index before the first job."""
    container = get_container()
    container.embedder.embed(["warm up"])
    container.vector_index  # noqa: B018


def answer(query: str, top_k: int) -> dict:
    started = time.perf_counter()
    container = get_container()
    found = retrieve(query, "default", top_k, RetrievalMode.HYBRID, container.embedder, container.vector_index)
    prompt = build_prompt(query, found.passages)
    llm_started = time.perf_counter()
    reply = _client.chat.completions.create(
        model=os.environ.get("LLM_MODEL", "fake"), messages=prompt.messages,
        max_tokens=400, temperature=0,
    )
    llm_ms = (time.perf_counter() - llm_started) * 1000
    return {
        "answer": reply.choices[0].message.content,
        "sources": [s.model_dump() for s in sources_of(prompt.passages)],
        "timings_ms": {"embed_ms": found.embed_seconds * 1000, "retrieval_ms": found.search_seconds * 1000,
                       "llm_ms": llm_ms, "total_ms": (time.perf_counter() - started) * 1000},
    }

"""A chat job: retrieve, prompt, call the LLM (claiming and recording are ``job_runner``'s)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from ragcore.domain.answers import Answer, Timings
from ragcore.domain.messages import ChatJob, JobMessage
from ragcore.ports import ChatModel, Embedder, JobStore, VectorIndex
from ragcore.services.job_runner import JobLimits, MessageOutcome, Run, run_job
from ragcore.services.prompting import PromptLimits, build_prompt, sources_of
from ragcore.services.retrieve import retrieve


@dataclass(frozen=True)
class AnswerPorts:
    store: JobStore
    embedder: Embedder
    index: VectorIndex
    chat: ChatModel
    prompt_limits: PromptLimits = PromptLimits()  # the token budget every LLM call is held to


def answer_job(
    message: JobMessage, ports: AnswerPorts, limits: JobLimits, delivery: int = 1,
    redeliver_in: Callable[[int], None] | None = None,
) -> MessageOutcome:
    def work(run: Run) -> dict[str, Any]:
        return _answer(ChatJob.model_validate(run.job.request), ports, run).model_dump()

    return run_job(message, ports.store, work, limits, delivery, redeliver_in=redeliver_in)


def _answer(request: ChatJob, ports: AnswerPorts, run: Run) -> Answer:
    run.checkpoint()
    found = retrieve(
        request.query, request.collection, request.top_k, request.mode, ports.embedder, ports.index
    )
    run.checkpoint()  # the LLM call is the costly step: skip it for a stopped job
    started = time.perf_counter()
    prompt = build_prompt(request.query, found.passages, ports.prompt_limits)
    completion = ports.chat.complete(prompt.messages, run.budget.remaining())
    llm_seconds = time.perf_counter() - started
    return Answer(
        answer=completion.text,
        sources=sources_of(prompt.passages),
        model=completion.model,
        usage=completion.usage,
        timings_ms=Timings(
            embed_ms=_ms(found.embed_seconds),
            retrieval_ms=_ms(found.search_seconds),
            llm_ms=_ms(llm_seconds),
            total_ms=_ms(found.embed_seconds + found.search_seconds + llm_seconds),
        ),
        truncated=prompt.truncated,
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)

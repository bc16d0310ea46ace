"""A chat job: retrieve, answer, check the citations (claiming and recording are ``job_runner``'s)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from ragcore.domain.answers import Answer, AnswerMethod, AnswerMode, Timings, Usage
from ragcore.domain.messages import ChatJob, JobMessage
from ragcore.ports import ChatModel, Embedder, JobStore, VectorIndex
from ragcore.services.citation_check import CHECK_SECONDS, check_citations
from ragcore.services.extractive import extractive_answer
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
    mode: AnswerMode = AnswerMode.GENERATED  # setting ANSWER_MODE


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
    # The prompt's budget decides which passages the answer may cite, in either mode.
    prompt = build_prompt(request.query, found.passages, ports.prompt_limits)
    if ports.mode is AnswerMode.EXTRACTIVE:
        extracted = extractive_answer(
            request.query, prompt.passages, ports.embedder, ports.chat, run.budget.remaining()
        )
        checked, method, completion = extracted.checked, extracted.method, extracted.completion
        llm_seconds = extracted.llm_seconds
    else:
        completion = ports.chat.complete(prompt.messages, max(0.0, run.budget.remaining() - CHECK_SECONDS))
        llm_seconds = time.perf_counter() - started
        checked = check_citations(completion.text, prompt.passages, ports.embedder)
        method = AnswerMethod.GENERATED
    answer_seconds = time.perf_counter() - started
    return Answer(
        answer=checked.text,
        sources=sources_of(prompt.passages),
        model=completion.model if completion else "none",
        usage=completion.usage if completion else Usage(),
        timings_ms=Timings(
            embed_ms=_ms(found.embed_seconds),
            retrieval_ms=_ms(found.search_seconds),
            llm_ms=_ms(llm_seconds),
            check_ms=_ms(answer_seconds - llm_seconds),
            total_ms=_ms(found.embed_seconds + found.search_seconds + answer_seconds),
        ),
        truncated=prompt.truncated,
        method=method,
        sentences=checked.sentences,
        grounded=checked.grounded,
        abstained=checked.abstained,
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)

"""A chat job: retrieve, answer, check the citations (claiming and recording are ``job_runner``'s;
a conversation's order and its turns are ``conversation_turns``')."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from tenacity import Retrying

from ragcore.domain.answers import Answer, AnswerMethod, AnswerMode, Timings, Usage
from ragcore.domain.conversations import Turn, history_window
from ragcore.domain.errors import JobNotFoundError, TurnNotReadyError
from ragcore.domain.jobs import Job
from ragcore.domain.messages import ChatJob, JobMessage
from ragcore.ports import ChatModel, ConversationStore, Embedder, JobStore, VectorIndex
from ragcore.services.citation_check import CHECK_SECONDS, check_citations
from ragcore.services.conversation_turns import (
    WAIT_IN_PLACE_SECONDS,
    earlier_turns_done,
    may_wait,
    record_turn,
    wait_seconds,
)
from ragcore.services.extractive import extractive_answer
from ragcore.services.job_runner import JobLimits, MessageOutcome, Run, run_job
from ragcore.services.partial_answers import PartialAnswers
from ragcore.services.prompting import PromptLimits, build_prompt, sources_of
from ragcore.services.retrieve import retrieve
from ragcore.services.standalone_query import standalone_query

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnswerPorts:
    store: JobStore
    embedder: Embedder
    index: VectorIndex
    chat: ChatModel
    conversations: ConversationStore  # every chat job's turn (a job queued before conversations has none)
    prompt_limits: PromptLimits = PromptLimits()  # the token budget every LLM call is held to
    mode: AnswerMode = AnswerMode.GENERATED  # setting ANSWER_MODE
    wait_in_place_seconds: float = WAIT_IN_PLACE_SECONDS  # for an earlier turn, before handing back
    partial_interval_ms: int = 100  # setting PARTIAL_ANSWER_INTERVAL_MS (services/partial_answers.py)


def answer_job(
    message: JobMessage, ports: AnswerPorts, limits: JobLimits, delivery: int = 1,
    redeliver_in: Callable[[int], None] | None = None,
) -> MessageOutcome:
    """A job of a conversation waits for the turns before it (in place a few seconds, then
    ``TurnNotReadyError``: its message comes back after ``redeliver_in``'s delay, the job
    unclaimed). Whatever the delivery came to, a job it leaves final has its turn recorded
    after (``conversation_turns`` says what records one this misses)."""
    read = limits.recording()  # a Valkey blip is ridden out here as the claim rides it out
    job = read(_job, ports.store, message.job_id)
    if job is None or not job.request.get("conversation_id"):  # expired, or queued before conversations
        return run_job(message, ports.store, _work(ports), limits, delivery, redeliver_in=redeliver_in)
    if may_wait(delivery, limits.max_attempts):
        in_place = min(ports.wait_in_place_seconds, limits.budget.remaining() / 4)
        if not earlier_turns_done(job, ports.store, ports.conversations, in_place):
            if redeliver_in is not None:
                redeliver_in(wait_seconds(delivery))
            raise TurnNotReadyError(f"job {message.job_id} waits for an earlier turn of its conversation")
    try:
        return run_job(message, ports.store, _work(ports), limits, delivery, redeliver_in=redeliver_in)
    finally:  # the last delivery's failure is final and still raised (to dead-letter the message)
        _record_turn(message.job_id, ports, read)


def _work(ports: AnswerPorts) -> Callable[[Run], dict[str, Any]]:
    def work(run: Run) -> dict[str, Any]:
        return _answer(ChatJob.model_validate(run.job.request), ports, run).model_dump()
    return work


def _record_turn(job_id: str, ports: AnswerPorts, read: Retrying) -> None:
    """Best effort, and never in the way of what the delivery came to: what raises here is
    logged, the delivery's own outcome or error stands."""
    try:
        final = read(_job, ports.store, job_id)
        if final is not None:
            read(record_turn, final, ports.store, ports.conversations)
    except Exception:
        log.warning("turn not recorded; a later delivery or the next turn records it",
                    exc_info=True, extra={"job_id": job_id})


def _job(store: JobStore, job_id: str) -> Job | None:
    try:
        return store.get(job_id)
    except JobNotFoundError:
        return None


def _history(request: ChatJob, ports: AnswerPorts, job_id: str) -> list[Turn]:
    """The conversation's answered turns before this one that the prompts carry."""
    if not request.conversation_id:
        return []
    conversation = ports.conversations.get(request.conversation_id)
    return history_window(conversation.before(job_id)) if conversation else []


def _answer(request: ChatJob, ports: AnswerPorts, run: Run) -> Answer:
    run.checkpoint()
    history = _history(request, ports, run.job.job_id)
    # A follow-up is searched for as a standalone question (the LLM's rewrite, or its fallback);
    # in extractive mode the sentence is chosen for it too. The answer prompt keeps the question
    # as asked, with the history beside it.
    rewrite = standalone_query(request.query, history, ports.chat, run.budget.remaining() - CHECK_SECONDS)
    query = rewrite.text
    run.checkpoint()
    found = retrieve(
        query, request.collection, request.top_k, request.mode, ports.embedder, ports.index,
        request.filter,
    )
    run.checkpoint()  # the LLM call is the costly step: skip it for a stopped job
    started = time.perf_counter()
    # The prompt's budget decides which passages the answer may cite, in either mode.
    prompt = build_prompt(request.query, found.passages, ports.prompt_limits, history)
    if ports.mode is AnswerMode.EXTRACTIVE:
        extracted = extractive_answer(
            query, prompt.passages, ports.embedder, ports.chat, run.budget.remaining()
        )
        checked, method, completion = extracted.checked, extracted.method, extracted.completion
        llm_seconds = extracted.llm_seconds
    else:
        # The answer is streamed and kept on the job as it is written, raw; the checked answer
        # replaces it in the result.
        with PartialAnswers(ports.store, run.job.job_id, run.job.attempts, ports.partial_interval_ms) as partial:
            completion = ports.chat.stream(prompt.messages, partial.update,
                                           max(0.0, run.budget.remaining() - CHECK_SECONDS))
        llm_seconds = time.perf_counter() - started
        checked = check_citations(completion.text, prompt.passages, ports.embedder)
        method = AnswerMethod.GENERATED
    answer_seconds = time.perf_counter() - started
    # Usage counts both LLM calls, the rewrite's and the answer's; model and llm_ms are the
    # answer's ("none": its words were made without the LLM).
    calls = [c for c in (rewrite.completion, completion) if c is not None]
    return Answer(
        answer=checked.text,
        sources=sources_of(prompt.passages),
        model=completion.model if completion else "none",
        usage=sum((c.usage for c in calls), Usage()),
        timings_ms=Timings(
            rewrite_ms=_ms(rewrite.seconds),
            embed_ms=_ms(found.embed_seconds),
            retrieval_ms=_ms(found.search_seconds),
            llm_ms=_ms(llm_seconds),
            check_ms=_ms(answer_seconds - llm_seconds),
            total_ms=_ms(rewrite.seconds + found.embed_seconds + found.search_seconds + answer_seconds),
        ),
        truncated=prompt.truncated,
        method=method,
        sentences=checked.sentences,
        grounded=checked.grounded,
        abstained=checked.abstained,
        standalone_query=query,
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)

"""A follow-up's standalone retrieval query: the LLM's rewrite when it is usable, else the
fallback (the question with the previous question's content words)."""

from __future__ import annotations

import time

from ragcore.domain.conversations import Turn
from ragcore.domain.errors import AnswerGenerationError, DependencyUnavailableError
from ragcore.domain.jobs import JobStatus, new_job_id
from ragcore.services.prompting import estimate_tokens
from ragcore.services.standalone_query import (
    REWRITE_SECONDS,
    StandaloneQuery,
    fallback_query,
    rewrite_messages,
    standalone_query,
    usable_rewrite,
)
from tests.support.fakes import ScriptedChat

FIRST = "When was Skerry Point Lighthouse first lit?"
FOLLOW_UP = "When was it automated?"


def answered(question: str = FIRST, answer: str = "It was first lit on 12 October 1874 [1].") -> Turn:
    return Turn(job_id=new_job_id(), question=question, created_at=time.time(), status=JobStatus.FINISHED,
                answer=answer)


def test_a_first_question_is_its_own_query_and_costs_no_llm_call() -> None:
    chat = ScriptedChat()
    assert standalone_query(FOLLOW_UP, [], chat, 30) == StandaloneQuery(FOLLOW_UP, None, 0.0)
    assert chat.calls == []


def test_a_usable_rewrite_is_the_query_and_the_call_has_a_small_time_budget() -> None:
    chat = ScriptedChat(text="Standalone query: When was Skerry Point Lighthouse automated?\n",
                        on_call=lambda: time.sleep(0.05))
    rewrite = standalone_query(FOLLOW_UP, [answered()], chat, 30)
    assert rewrite.text == "When was Skerry Point Lighthouse automated?"
    # What it cost, for the job's usage and timings: the call's reply and time.
    assert rewrite.completion is not None and rewrite.completion.usage.total_tokens == 7
    assert 0.05 <= rewrite.seconds < 1
    assert chat.timeouts == [REWRITE_SECONDS]
    assert standalone_query(FOLLOW_UP, [answered()], chat, 1.0).text and chat.timeouts[-1] == 1.0


def test_the_fallback_names_the_previous_questions_subject() -> None:
    assert fallback_query(FOLLOW_UP, [answered()]) == "When was it automated? Skerry Point Lighthouse"
    # Only words the question lacks, each once.
    assert fallback_query("Who built the Lighthouse?", [answered()]) == \
        "Who built the Lighthouse? Skerry Point"
    # A question without names lends its content words.
    assert fallback_query("How long does it last?", [answered("what is the waggle dance?")]) == \
        "How long does it last? waggle dance"


def test_a_slow_failing_or_junk_rewrite_gives_the_fallback() -> None:
    expected = fallback_query(FOLLOW_UP, [answered()])
    for chat in (
        ScriptedChat(error=DependencyUnavailableError("llm", "timed out")),  # slow: the adapter's timeout
        ScriptedChat(error=AnswerGenerationError("empty answer")),
        ScriptedChat(text="The light was first lit in 1874 [1]."),  # an answer, not a query
        ScriptedChat(text="   "),
        ScriptedChat(text="Bananas are yellow and rich in potassium."),  # about something else
        ScriptedChat(text="When " + "very " * 200 + "automated?"),  # rambling
        ScriptedChat(text="When was it automated?"),  # an echo: nothing resolved
        ScriptedChat(text="Skerry Point Lighthouse was automated in 1991."),  # answered, not rewritten
    ):
        rewrite = standalone_query(FOLLOW_UP, [answered()], chat, 30)
        assert rewrite.text == expected, chat.text
        # A call that answered cost its tokens though its reply was not used; a failed one, time.
        assert (rewrite.completion is not None) is (chat.error is None), chat.text
        assert rewrite.seconds > 0


def test_without_time_left_or_for_a_long_question_the_llm_is_not_asked() -> None:
    chat = ScriptedChat(text="When was Skerry Point Lighthouse automated?")
    assert standalone_query(FOLLOW_UP, [answered()], chat, 0.2) == \
        StandaloneQuery(fallback_query(FOLLOW_UP, [answered()]), None, 0.0)
    long_question = "And then " + "what happened next there " * 40 + "?"
    assert standalone_query(long_question, [answered()], chat, 30).text.startswith(long_question)
    assert chat.calls == []


def test_the_rewrite_prompt_is_bounded_whatever_the_history_holds() -> None:
    huge = "x" * 2000
    history = [answered(huge, huge + " [1]") for _ in range(3)]
    messages = rewrite_messages("q" * 600, history)
    assert "[1]" not in messages[-1]["content"]  # the earlier answer's markers named its own passages
    assert estimate_tokens(messages) <= 2_672


def test_usable_rewrite_reads_the_first_line_without_quotes_or_a_label() -> None:
    assert usable_rewrite('"When was Skerry Point Lighthouse automated?"\nBecause...', FOLLOW_UP,
                          [answered()]) == "When was Skerry Point Lighthouse automated?"
    assert usable_rewrite("Rewritten question: When was Skerry Point automated?", FOLLOW_UP, [answered()]) == \
        "When was Skerry Point automated?"

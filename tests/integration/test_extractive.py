"""The extractive answer mode with the product's own embedder (``services/extractive.py``):
the passage sentence that answers is quoted, reworded only when the check accepts the
rewording, and the service declines when no sentence answers."""

from __future__ import annotations

import pytest

from ragcore.domain.answers import AnswerMethod
from ragcore.domain.errors import AnswerGenerationError, DependencyUnavailableError
from ragcore.services.extractive import DECLINED, extractive_answer, holds_kind
from tests.integration.test_citation_check import embedder, passages  # noqa: F401  (fixtures)
from tests.support.fakes import ScriptedChat


def test_the_sentence_that_answers_is_quoted_with_its_passage(embedder, passages) -> None:
    result = extractive_answer("When was Skerry Point Lighthouse first lit?", passages, embedder, None)
    assert result.method is AnswerMethod.QUOTED
    assert result.checked.text == (
        "It was first lit on 12 October 1874 and was automated in 1991, when its last keeper left [1]."
    )
    assert result.checked.grounded == 1.0


def test_a_question_for_a_number_skips_sentences_without_one(embedder, passages) -> None:
    result = extractive_answer("How tall is the tower?", passages, embedder, None)
    assert "31 metres" in result.checked.text and result.checked.text.endswith("[2].")


def test_an_accepted_rewording_is_kept(embedder, passages) -> None:
    chat = ScriptedChat("The lighthouse was first lit on 12 October 1874 [1].")
    result = extractive_answer("When was Skerry Point Lighthouse first lit?", passages, embedder, chat)
    assert result.method is AnswerMethod.REPHRASED and result.checked.text == chat.text
    assert "It was first lit on 12 October 1874" in chat.calls[0][1]["content"]
    assert result.completion is not None and result.completion.model == "scripted"


@pytest.mark.parametrize("reworded", [
    "The fog signal was first lit on 12 October 1875 [1].",  # a number the sentence lacks
    "The lighthouse was first lit [1].",  # the date the question asks for is gone
    "I do not know.",
    "The answer is: 12 October 1874 [1].",  # words of its own
    "It was not lit until 1991 [1].",  # a negation the sentence lacks
    "It was automated in 1991, when it was first lit [1].",  # the sentence's words, out of order
])
def test_a_rewording_the_check_refuses_falls_back_to_the_quote(embedder, passages, reworded) -> None:
    result = extractive_answer("When was Skerry Point Lighthouse first lit?", passages, embedder, ScriptedChat(reworded))
    assert result.method is AnswerMethod.QUOTED
    assert result.checked.text.startswith("It was first lit on 12 October 1874")


def test_no_sentence_answers_an_unrelated_question(embedder, passages) -> None:
    chat = ScriptedChat("Canberra [1].")
    result = extractive_answer("What is the capital of Australia?", passages, embedder, chat)
    assert result.method is AnswerMethod.DECLINED and result.checked.text == DECLINED
    assert result.checked.abstained and chat.calls == []  # no LLM call for a decline


def test_a_sentence_sharing_only_names_with_the_question_does_not_answer_it(embedder, passages) -> None:
    """The headland sentence names the lighthouse but says nothing of who designed it."""
    result = extractive_answer("Who designed Skerry Point Lighthouse?", passages, embedder, ScriptedChat())
    assert result.method is AnswerMethod.DECLINED


@pytest.mark.parametrize("error", [
    DependencyUnavailableError("llm", "no answer within 15.0 s"), AnswerGenerationError("empty answer"),
])
def test_an_llm_that_cannot_reword_costs_the_wording_not_the_answer(embedder, passages, error) -> None:
    chat = ScriptedChat(error=error)
    result = extractive_answer("When was Skerry Point Lighthouse first lit?", passages, embedder, chat, timeout=50)
    assert result.method is AnswerMethod.QUOTED and result.completion is None
    assert result.checked.text.startswith("It was first lit on 12 October 1874")
    assert chat.timeouts == [15.0]  # a rewording never takes the job's whole budget


def test_a_job_with_no_time_left_gives_the_rewording_none(embedder, passages) -> None:
    chat = ScriptedChat()
    extractive_answer("When was Skerry Point Lighthouse first lit?", passages, embedder, chat, timeout=0.0)
    assert chat.timeouts == [0.0]


@pytest.mark.parametrize(("question", "sentence", "holds"), [
    ("When was it lit?", "It was lit in 1874.", True),
    ("When was it lit?", "It was lit by the keeper.", False),
    ("At what oven temperature should bread be baked?", "It gives bread a sour taste.", False),
    ("What is the farthest a bee will fly?", "Bees fly to flowers.", False),
    ("Which part of the dance tells how far away the food is?", "The waggle run tells it.", True),  # not asked first
    ("Who decoded the dance?", "Karl von Frisch decoded it.", True),
    ("Who designed Skerry Point Lighthouse?", "Skerry Point Lighthouse stands in October.", False),
    ("What colour is the tower?", "The tower is red.", True),
])
def test_what_a_question_asks_for_is_read_from_how_it_starts(question: str, sentence: str, holds: bool) -> None:
    assert holds_kind(question, sentence) is holds

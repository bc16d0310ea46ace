"""``declines``: the decline phrases models use, and answers that merely sound negative."""

import pytest

from ragcore.domain.abstention import declines


@pytest.mark.parametrize("answer", [
    "I do not know.",
    "I don't know who designed the lighthouse.",
    "I don\u2019t know [1].",  # a typographic apostrophe
    "I dont know",
    "Sorry, I cannot answer that from these passages.",
    "I can't tell from the passages.",
    "I am unable to determine the architect.",
    "The passages do not say who designed it.",
    "The provided passages don't mention the oven temperature.",
    "The passage does not contain the answer.",
    "The context does not specify where the experiments took place.",
    "The documents do not provide this information.",
    "The name is not mentioned in the passages.",
    "There is no information about the cost.",
    "There is no mention of a keeper's name.",
    "There is not enough information to answer.",
    "This cannot be answered from the passages.",
    "The lighthouse was first lit in 1874 [1]. The passages do not say who designed it.",  # partly
    "I DO NOT KNOW",
])
def test_declines(answer: str) -> None:
    assert declines(answer)


@pytest.mark.parametrize("answer", [
    "The lighthouse was first lit on 12 October 1874 [1].",
    "Bees judge distance by optic flow, not by energy spent [2].",
    "A message that fails five times moves to the dead-letter queue [1].",
    "Feed the starter once a day; do not let it dry out [1].",
    "The number of species fell sharply [3].",
    "Nobody knows more about bees than Karl von Frisch [1].",
    "",
])
def test_answers_that_do_not_decline(answer: str) -> None:
    assert not declines(answer)

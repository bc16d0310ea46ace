"""What the citation check reads in a sentence and a passage (``domain/attribution.py``)."""

from __future__ import annotations

from ragcore.domain.attribution import (
    SUPPORTED, Cited, cited_sentences, coverage, missing_facts, support, terms, with_citations,
)
from ragcore.domain.sentences import split_sentences


def test_sentences_end_at_a_full_stop_before_a_capital_digit_or_bracket() -> None:
    assert split_sentences("It opened in 1932. It is long! Is it? 3 lanes. e.g. not here") == [
        "It opened in 1932.", "It is long!", "Is it?", "3 lanes. e.g. not here",
    ]


def test_markers_are_taken_out_of_the_text_and_kept_in_order_once() -> None:
    [one, two] = cited_sentences("It opened in 1932 [2]. The bridge [1, 2] is long [3][1]!")
    assert one == Cited("It opened in 1932.", (2,), 17)
    assert two.text == "The bridge is long!" and two.citations == (1, 2, 3)


def test_a_marker_after_the_full_stop_belongs_to_the_sentence_before() -> None:
    [one, two] = cited_sentences("It opened in 1932. [2] The bridge is long.")
    assert (one.text, one.citations) == ("It opened in 1932.", (2,))
    assert (two.text, two.citations) == ("The bridge is long.", ())


def test_citations_go_back_where_the_last_marker_was_or_before_the_closing_stop() -> None:
    [inline] = cited_sentences("Opened [2] in 1932.")
    assert with_citations(inline, [1]) == "Opened [1] in 1932."
    [after_stop] = cited_sentences("It opened in 1932. [2]")
    assert with_citations(after_stop, [1, 3]) == "It opened in 1932 [1, 3]."
    [uncited] = cited_sentences("It opened in 1932")
    assert with_citations(uncited, [4]) == "It opened in 1932 [4]"
    assert with_citations(inline, []) == "Opened in 1932."  # the words unchanged, the marker gone


def test_terms_are_content_words_numbers_in_digits_and_names_after_the_first_word() -> None:
    said = terms("The lights show two flashes every 15 seconds near Gannet Sound, 1,200 metres out")
    assert said.numbers == {"2", "15", "1200"}
    assert said.names == {"gannet", "sound"}
    assert {"light", "flash", "second", "metre"} <= said.words and "the" not in said.words


def test_a_passage_lacking_a_number_or_name_of_the_claim_cannot_support_it() -> None:
    claim = terms("The fog signal was first lit on 12 October 1874.")
    fog = terms("A diaphone fog horn sounded one long blast every minute in fog until 2005.")
    light = terms("It was first lit on 12 October 1874 and was automated in 1991.")
    assert missing_facts(claim, fog) == {"12", "1874", "october"}
    assert support(0.9, claim, fog) == 0.0
    assert missing_facts(claim, light) == set()
    assert coverage(claim, light) == 5 / 7  # fog and signal are not in it
    assert support(0.6, claim, light) == round(0.5 * 0.6 + 0.5 * 5 / 7, 4) >= SUPPORTED


def test_similarity_is_clamped_and_an_empty_claim_is_not_covered() -> None:
    claim, passage = terms("Bees dance."), terms("Bees dance in the hive.")
    assert support(1.7, claim, passage) == 1.0 and support(-1.0, claim, passage) == 0.5
    assert coverage(terms("It is."), passage) == 0.0


def test_a_range_of_citations_is_read_as_its_numbers_and_a_huge_one_is_bounded() -> None:
    [sentence] = cited_sentences("Bees dance [1-3].")
    assert sentence.citations == (1, 2, 3) and sentence.text == "Bees dance."
    [huge] = cited_sentences("Bees dance [2–99].")
    assert huge.citations == tuple(range(2, 22))


def test_markers_as_models_write_them_are_read_and_a_year_in_brackets_is_not_one() -> None:
    [sentence] = cited_sentences("Lit [ 9 ], [Passage 2], ［3］, 【4】 and [1; 5] in [1874].")
    assert sentence.citations == (9, 2, 3, 4, 1, 5)
    assert sentence.text == "Lit,,, and in [1874]."


def test_a_leading_marker_goes_to_the_end_of_its_sentence() -> None:
    [sentence] = cited_sentences("[2] The lighthouse was lit in 1874.")
    assert with_citations(sentence, [1]) == "The lighthouse was lit in 1874 [1]."

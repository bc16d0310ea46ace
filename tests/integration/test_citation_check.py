"""The citation check with the product's own embedder, on the sample lighthouse document's
chunks as the index returns them (``services/citation_check.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragcore.adapters.onnx_embedder import OnnxEmbedder
from ragcore.config import DEFAULT_MODEL_DIR
from ragcore.domain.answers import Passage
from ragcore.domain.chunking import chunk_text
from ragcore.services.citation_check import check_citations

LIGHTHOUSE = Path(__file__).parents[2] / "samples" / "docs" / "skerry-point-lighthouse.md"


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder(DEFAULT_MODEL_DIR, threads=1)


@pytest.fixture(scope="module")
def passages() -> list[Passage]:
    """[1] first lit 1874, automated 1991; [2] the light: 31 m, two flashes every fifteen
    seconds; [3] the fog signal: a horn until 2005."""
    chunks = chunk_text(LIGHTHOUSE.read_text())[:3]
    assert "1874" in chunks[0].text and "31 metres" in chunks[1].text and "fog horn" in chunks[2].text
    return [Passage(chunk_id=f"c{i}", document_id="lighthouse", title="Skerry Point Lighthouse",
                    source="skerry-point-lighthouse.md", text=c.text, score=1.0) for i, c in enumerate(chunks)]


def test_the_demos_wrong_citation_moves_to_the_passage_that_holds_the_date(embedder, passages) -> None:
    checked = check_citations("The fog signal was first lit on 12 October 1874 [3].", passages, embedder)
    assert checked.text == "The fog signal was first lit on 12 October 1874 [1]."
    [sentence] = checked.sentences
    assert sentence.model_citations == [3] and sentence.citations == [1]
    assert sentence.changed and sentence.supported and checked.grounded == 1.0 and not checked.abstained


def test_a_right_citation_stays_and_an_invented_number_is_replaced(embedder, passages) -> None:
    checked = check_citations(
        "The tower is 31 metres tall [2]. Its light flashes twice every fifteen seconds [7].", passages, embedder
    )
    assert checked.text == "The tower is 31 metres tall [2]. Its light flashes twice every fifteen seconds [2]."
    assert [s.changed for s in checked.sentences] == [False, True]
    assert all(s.support >= 0.55 for s in checked.sentences)


def test_an_uncited_supported_sentence_gets_its_passage(embedder, passages) -> None:
    checked = check_citations("The fog horn sounded until 2005.", passages, embedder)
    assert checked.text == "The fog horn sounded until 2005 [3]."
    assert checked.sentences[0].changed and checked.sentences[0].model_citations == []


def test_a_claim_no_passage_supports_loses_its_citation_and_is_marked(embedder, passages) -> None:
    checked = check_citations(
        "The lighthouse was automated in 1991 [1]. Its keeper was Angus Reid, born in 1850 [1].", passages, embedder
    )
    assert checked.text == "The lighthouse was automated in 1991 [1]. Its keeper was Angus Reid, born in 1850."
    assert [s.supported for s in checked.sentences] == [True, False]
    assert checked.sentences[1].citations == [] and checked.sentences[1].changed
    assert checked.grounded == 0.5


def test_an_off_topic_claim_is_unsupported_and_never_cited(embedder, passages) -> None:
    checked = check_citations("The capital city of Mongolia is Khanty [2].", passages, embedder)
    assert checked.text == "The capital city of Mongolia is Khanty."
    assert checked.grounded == 0.0 and not checked.abstained


def test_a_decline_is_no_claim_and_the_answer_abstained(embedder, passages) -> None:
    checked = check_citations("The passages do not say who designed it [1].", passages, embedder)
    assert checked.text == "The passages do not say who designed it."
    assert checked.sentences[0].declines and checked.grounded is None and checked.abstained


def test_paragraphs_keep_their_line_breaks(embedder, passages) -> None:
    checked = check_citations("The tower is 31 metres tall [2].\nThe fog horn sounded until 2005 [2].",
                              passages, embedder)
    assert checked.text == "The tower is 31 metres tall [2].\nThe fog horn sounded until 2005 [3]."


def test_no_passages_leaves_every_claim_unsupported(embedder) -> None:
    checked = check_citations("It was lit in 1874 [1].", [], embedder)
    assert checked.text == "It was lit in 1874." and checked.grounded == 0.0


def test_a_fact_beside_a_decline_keeps_its_citation(embedder, passages) -> None:
    checked = check_citations(
        "The documents do not say who designed it, but it was first lit on 12 October 1874 [1].", passages, embedder
    )
    [sentence] = checked.sentences
    assert sentence.declines and sentence.claim and sentence.supported and sentence.citations == [1]
    assert checked.grounded == 1.0 and not checked.abstained


def test_a_sentence_drawing_on_two_cited_passages_keeps_both(embedder, passages) -> None:
    checked = check_citations("The 31 metre tower was first lit in 1874 [1, 2].", passages, embedder)
    [sentence] = checked.sentences
    assert sentence.supported and sentence.citations == [1, 2] and not sentence.changed


def test_markers_on_a_line_of_their_own_and_a_sources_line_are_not_claims(embedder, passages) -> None:
    checked = check_citations(
        "The tower is 31 metres tall.\n[2]\nSources: [2], [9]", passages, embedder
    )
    assert [s.text for s in checked.sentences] == ["The tower is 31 metres tall.", "Sources:,"]
    assert checked.sentences[0].citations == [2] and checked.sentences[0].supported
    assert not checked.sentences[1].claim and checked.sentences[1].citations == [2]  # 9 is no source
    assert checked.grounded == 1.0 and "[9]" not in checked.text


def test_each_sentence_says_where_it_stands_in_the_answer(embedder, passages) -> None:
    checked = check_citations("The tower is 31 metres tall [1].\nThe fog horn sounded until 2005 [3].",
                              passages, embedder)
    assert [checked.text[s.start : s.end] for s in checked.sentences] == [
        "The tower is 31 metres tall [2].", "The fog horn sounded until 2005 [3].",
    ]


def test_a_decline_that_reads_like_a_passage_is_not_given_its_citation(embedder, passages) -> None:
    checked = check_citations("The documents do not say when Skerry Point Lighthouse was first lit.", passages, embedder)
    assert checked.text == "The documents do not say when Skerry Point Lighthouse was first lit."
    assert checked.abstained and checked.sentences[0].citations == []

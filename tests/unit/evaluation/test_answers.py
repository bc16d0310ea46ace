"""Scoring answers against hand-written result documents: every decision the scorer makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ragcore.domain.attribution import citation_numbers
from ragcore.evaluation.answers import (
    Question,
    contains,
    load_questions,
    normalised,
    parse_question,
    score,
    summarize,
)

EVIDENCE = "It was first lit on 12 October 1874 and was automated in 1991, when its last keeper left."
LIT = Question("lighthouse-first-lit", "When did Skerry Point Lighthouse first shine?",
               ("12 October 1874", "October 12, 1874"), EVIDENCE, "skerry-point-lighthouse.md")
ARCHITECT = Question("unanswerable-architect", "Who designed Skerry Point Lighthouse?")

# Passages as the LLM gets them: heading trail first, quoted, line breaks flattened.
RIGHT = '"Skerry Point Lighthouse\nSkerry Point Lighthouse stands on a basalt headland. It was\nfirst lit on 12 October 1874 and was automated in 1991, when its last keeper left."'
OTHER = '"Skerry Point Lighthouse › The light\nThe tower is 31 metres tall."'


def source(n: int, text: str, **fields: Any) -> dict[str, Any]:
    return {"n": n, "chunk_id": f"c{n}", "document_id": "d", "title": "t", "source": "s.md", "score": 1.0,
            "snippet": " ".join(text.split())[:40], "text": text, **fields}


def result(answer: str, *texts: str, **fields: Any) -> dict[str, Any]:
    return {"answer": answer, "sources": [source(n, t) for n, t in enumerate(texts, start=1)],
            "timings_ms": {"embed_ms": 1, "retrieval_ms": 1, "llm_ms": 10, "total_ms": 12}, **fields}


def test_normalised_ignores_case_punctuation_quotes_and_spacing() -> None:
    assert normalised("October 12,  1874!") == "october 12 1874"
    assert normalised("\u201cfly towards the sun\u201d") == normalised('"fly towards the sun"') == "fly towards the sun"
    assert normalised("1:5:5") == "1 5 5"
    assert normalised("24\u00a0°C") == "24 c"


def test_contains_matches_whole_words_only() -> None:
    assert contains("It fails five times [1].", "five")
    assert contains("It fails 5 times.", "5")
    assert not contains("It fails 15 times.", "5")
    assert not contains("anything", "  ")  # an empty phrase matches nothing


def test_citation_numbers_in_order_with_lists() -> None:
    assert citation_numbers("A [2]. B [1, 3]. C [2][4]. D [x] [].") == [2, 1, 3, 2, 4]
    assert citation_numbers("no markers") == []


def test_fact_and_right_citation() -> None:
    s = score(LIT, result("It was first lit on October 12, 1874 [2].", OTHER, RIGHT), end_to_end_ms=900.0)
    assert s.answerable and s.fact and s.retrieved and s.evidence_in == (2,) and not s.declined
    assert s.citations is not None and s.citations.numbers == (2,) and s.citations.correct
    assert s.citations.invalid == 0 and s.fact_and_citation
    assert (s.end_to_end_ms, s.worker_ms) == (900.0, 12)
    assert s.model_citations is None  # no sentences in the result


def test_fact_with_the_wrong_passage_cited() -> None:
    s = score(LIT, result("It was first lit on 12 October 1874 [1].", OTHER, RIGHT))
    assert s.fact and s.retrieved and s.citations is not None and not s.citations.correct
    assert not s.fact_and_citation


def test_right_citation_without_the_fact() -> None:
    s = score(LIT, result("It was first lit in 1875 [1].", RIGHT))
    assert not s.fact and s.citations is not None and s.citations.correct and not s.fact_and_citation


def test_no_citation_at_all() -> None:
    s = score(LIT, result("12 October 1874.", RIGHT))
    assert s.fact and s.citations is not None and s.citations.numbers == () and not s.citations.correct


def test_invalid_numbers_are_counted_and_never_correct() -> None:
    # [3] and [0] are outside two sources; [3] twice counts twice. The right passage is [2] but not cited.
    s = score(LIT, result("12 October 1874 [3]. Also [0] and [3] again.", OTHER, RIGHT))
    assert s.citations is not None and s.citations.invalid == 3 and not s.citations.correct


def test_evidence_not_retrieved() -> None:
    s = score(LIT, result("I do not know.", OTHER))
    assert not s.retrieved and s.evidence_in == () and not s.fact and s.declined


def test_evidence_cut_off_in_the_passage_is_not_held() -> None:
    cut = '"Skerry Point Lighthouse\nIt was first lit on 12 October 1874 and was…"'
    s = score(LIT, result("12 October 1874 [1].", cut))
    assert not s.retrieved and s.citations is not None and not s.citations.correct


def test_snippet_when_the_result_has_no_passage_text() -> None:
    sources = [{"n": 1, "chunk_id": "c", "document_id": "d", "title": "t", "source": "s", "score": 1.0,
                "snippet": "Skerry Point Lighthouse: " + EVIDENCE}]
    s = score(LIT, {"answer": "12 October 1874 [1]", "sources": sources})
    assert s.retrieved and s.citations is not None and s.citations.correct and s.worker_ms is None


def test_declines_by_phrase_or_by_the_abstained_flag() -> None:
    assert score(ARCHITECT, result("The passages do not say who designed it.", RIGHT)).declined
    assert score(ARCHITECT, result("Nobody is named.", RIGHT, abstained=True)).declined
    undeclined = score(ARCHITECT, result("It was designed by Thomas Stevenson [7].", RIGHT))
    assert not undeclined.declined and not undeclined.answerable and not undeclined.fact
    assert undeclined.citations is not None and undeclined.citations.invalid == 1


def test_false_decline_on_an_answerable_question() -> None:
    s = score(LIT, result("I don't know.", RIGHT, abstained=False))
    assert s.declined and s.answerable and s.retrieved


def test_citations_as_the_model_wrote_them() -> None:
    sentences = [
        {"text": "It was first lit on 12 October 1874 [2].", "citations": [2], "model_citations": [1],
         "support": 0.9, "supported": True, "changed": True},
        {"text": "It is tall.", "citations": [], "model_citations": [5], "support": 0.1, "supported": False,
         "changed": True},
    ]
    s = score(LIT, result("It was first lit on 12 October 1874 [2]. It is tall.", OTHER, RIGHT, sentences=sentences))
    assert s.citations is not None and s.citations.correct and s.citations.invalid == 0
    assert s.model_citations is not None and s.model_citations.numbers == (1, 5)
    assert not s.model_citations.correct and s.model_citations.invalid == 1


def test_summary_counts_and_percentiles() -> None:
    scores = [
        score(LIT, result("12 October 1874 [2].", OTHER, RIGHT), 1000.0),  # fact + right citation
        score(LIT, result("12 October 1874 [1] [9].", OTHER, RIGHT), 2000.0),  # fact, wrong citation, 1 invalid
        score(LIT, result("I do not know.", OTHER), 3000.0),  # not retrieved, false decline
        score(ARCHITECT, result("I do not know.", RIGHT), 4000.0),  # declined
        score(ARCHITECT, result("Thomas Stevenson [4] [5].", RIGHT), 5000.0),  # not declined, 2 invalid
    ]
    summary = summarize(scores).as_dict()
    latency = summary.pop("latency_ms")
    assert summary == {
        "answerable": 3, "fact": 2, "citation_correct": 1, "fact_and_citation": 1, "retrieved": 2,
        "invalid_citations": 3, "answers_with_invalid_citations": 2, "false_declines": 1,
        "unanswerable": 2, "declined": 1,
        "model_citation_correct": None, "model_fact_and_citation": None, "model_invalid_citations": None,
    }
    assert latency == {"end_to_end": {"p50": 3000.0, "p95": 4800.0}, "worker": {"p50": 12.0, "p95": 12.0}}


def test_summary_with_sentences_reports_the_model_citations() -> None:
    def sentences(*written: list[int]) -> list[dict[str, Any]]:
        return [{"text": "x", "citations": [], "model_citations": w, "support": 0, "supported": False,
                 "changed": False} for w in written]

    scores = [
        score(LIT, result("12 October 1874 [2].", OTHER, RIGHT, sentences=sentences([2]))),
        score(LIT, result("12 October 1874 [2].", OTHER, RIGHT, sentences=sentences([1], [3]))),
        score(ARCHITECT, result("I do not know.", RIGHT, sentences=sentences([8]))),
    ]
    summary = summarize(scores)
    assert (summary.citation_correct, summary.fact_and_citation, summary.invalid_citations) == (2, 2, 0)
    assert (summary.model_citation_correct, summary.model_fact_and_citation, summary.model_invalid_citations) == (1, 1, 2)
    assert summary.latency_ms["end_to_end"] == {"p50": None, "p95": None}


def test_parse_question_lines() -> None:
    line = json.dumps({"id": "a", "question": "q?", "answers": ["x"], "evidence": "X is so.", "document": "d.md"})
    assert parse_question(line) == Question("a", "q?", ("x",), "X is so.", "d.md")
    assert parse_question(json.dumps({"id": "b", "question": "q?", "answerable": False})) == Question("b", "q?")
    assert not Question("b", "q?").answerable


@pytest.mark.parametrize("row", [
    {"question": "q?", "answers": ["x"], "evidence": "e", "document": "d"},  # no id
    {"id": "a", "question": "q?", "answers": [], "evidence": "e", "document": "d"},
    {"id": "a", "question": "q?", "answers": ["?"], "evidence": "e", "document": "d"},  # nothing left normalised
    {"id": "a", "question": "q?", "answers": ["x"], "document": "d"},
    {"id": "a", "question": "q?", "answers": ["x"], "evidence": "e"},
    {"id": "a", "question": "q?", "answerable": False, "answers": ["x"]},
    ["not", "an", "object"],
])
def test_parse_question_refuses_malformed_lines(row: Any) -> None:
    with pytest.raises(ValueError):
        parse_question(json.dumps(row))


def test_load_questions_names_the_line_and_refuses_repeated_ids(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    good = json.dumps({"id": "a", "question": "q?", "answerable": False})
    path.write_text(f"{good}\n\n{{broken\n")
    with pytest.raises(ValueError, match=r"q\.jsonl:3"):
        load_questions(path)
    path.write_text(f"{good}\n{good}\n")
    with pytest.raises(ValueError, match="repeated ids"):
        load_questions(path)
    path.write_text(f"{good}\n\n")
    assert [q.id for q in load_questions(path)] == ["a"]

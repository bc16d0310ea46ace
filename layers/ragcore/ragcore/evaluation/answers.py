"""Scoring answers to a question set (``ragcore eval answers``): pure code, from the result
documents the API returns (``GET /result``), so what is scored is what a client gets.

A question set is JSON Lines, one question a line::

    {"id": "lighthouse-first-lit", "question": "When did Skerry Point Lighthouse first shine?",
     "answers": ["12 October 1874", "October 12, 1874"],
     "evidence": "It was first lit on 12 October 1874 and was automated in 1991, ...",
     "document": "skerry-point-lighthouse.md"}
    {"id": "unanswerable-lighthouse-architect", "question": "Who designed Skerry Point Lighthouse?",
     "answerable": false}

``answers`` are the short gold answer and its aliases (any one stated counts); ``evidence`` is
the sentence that holds it, verbatim from ``document`` (a file name; ``samples/questions``'
tests check both). A question with ``"answerable": false`` has neither: the documents do not
say, and the right answer declines.

Per answerable question:

- fact: some alias appears in the answer, compared as word sequences after normalising case,
  Unicode forms and punctuation (``normalised``): "October 12, 1874" matches "october 12 1874",
  and "5" does not match "15";
- cited: the numbers in ``[n]`` (or ``[n, m]``) markers in the answer; invalid: those outside
  1..len(sources), every occurrence counted;
- citation correct: some validly cited source's passage holds the evidence sentence. The
  passage is the source's ``text`` (the passage as the LLM got it) or, in a result without it,
  its ``snippet``; the evidence must appear whole in it (normalised as above, so a heading-trail
  prefix, line breaks and the prompt's quoting do not matter);
- retrieved: some source, cited or not, holds the evidence (``evidence_in``: which ones); a miss
  here is retrieval's, not the model's;
- declined (``domain.abstention.declines`` or the result's ``abstained``), a false decline.

A result with ``sentences`` (the citation check's per-sentence record) is also scored with
the citations as the model wrote them (each sentence's ``model_citations``), so one run shows
the check's effect; without it those figures are absent.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ragcore.domain.abstention import declines
from ragcore.domain.attribution import citation_numbers
from ragcore.observability.stats import percentile

_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...] = ()
    evidence: str | None = None
    document: str | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def parse_question(line: str) -> Question:
    """One line of a question set; ValueError names what is wrong with it."""
    row = json.loads(line)
    if not (isinstance(row, dict) and isinstance(row.get("id"), str) and isinstance(row.get("question"), str)):
        raise ValueError("needs string 'id' and 'question'")
    if row.get("answerable", True) is False:
        if row.keys() - {"id", "question", "answerable"}:
            raise ValueError(f"{row['id']}: an unanswerable question has only id, question, answerable")
        return Question(row["id"], row["question"])
    answers, evidence, document = row.get("answers"), row.get("evidence"), row.get("document")
    if not (isinstance(answers, list) and answers
            and all(isinstance(a, str) and normalised(a) for a in answers)):
        raise ValueError(f"{row['id']}: 'answers' must be a non-empty list of non-empty strings")
    if not (isinstance(evidence, str) and normalised(evidence) and isinstance(document, str)):
        raise ValueError(f"{row['id']}: an answerable question needs 'evidence' and 'document' strings")
    return Question(row["id"], row["question"], tuple(answers), evidence, document)


def load_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                questions.append(parse_question(line))
            except ValueError as exc:  # json.JSONDecodeError is one
                raise ValueError(f"{path}:{number}: {exc}") from exc
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: repeated ids {sorted({i for i in ids if ids.count(i) > 1})}")
    return questions


def normalised(text: str) -> str:
    """Case-folded words separated by single spaces: every run of punctuation, quotes and
    whitespace is one space (so curly and straight quotes, "1:5:5" and "1 5 5" are alike)."""
    return " ".join(_NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def contains(text: str, phrase: str) -> bool:
    """``phrase`` appears in ``text`` as whole words, both normalised."""
    wanted = normalised(phrase)
    return bool(wanted) and f" {wanted} " in f" {normalised(text)} "


@dataclass(frozen=True)
class Citations:
    """One way of reading an answer's citations: which passages it points at."""

    numbers: tuple[int, ...]
    invalid: int  # occurrences of numbers outside 1..len(sources)
    correct: bool  # a valid cited passage holds the evidence


@dataclass(frozen=True)
class Score:
    id: str
    answerable: bool
    declined: bool
    end_to_end_ms: float | None  # submission to result, queueing included
    worker_ms: float | None  # the worker's embed + search + LLM (timings_ms.total_ms)
    fact: bool = False
    evidence_in: tuple[int, ...] = ()  # the sources ([n]) holding the evidence
    citations: Citations | None = None
    model_citations: Citations | None = None  # as the model wrote them, when the result has sentences

    @property
    def retrieved(self) -> bool:
        return bool(self.evidence_in)

    @property
    def fact_and_citation(self) -> bool:
        return self.fact and self.citations is not None and self.citations.correct


def passage_of(source: Mapping[str, Any]) -> str:
    return str(source.get("text") or source.get("snippet") or "")


def _citations(numbers: Sequence[int], sources: Sequence[Mapping[str, Any]], evidence: str | None) -> Citations:
    valid = [n for n in numbers if 1 <= n <= len(sources)]
    correct = evidence is not None and any(contains(passage_of(sources[n - 1]), evidence) for n in valid)
    return Citations(tuple(numbers), len(numbers) - len(valid), correct)


def score(question: Question, result: Mapping[str, Any], end_to_end_ms: float | None = None) -> Score:
    """How ``result`` (a chat job's result document) answers ``question``; ``end_to_end_ms``:
    submission to result, as the client measured it."""
    worker_ms = (result.get("timings_ms") or {}).get("total_ms")
    answer = str(result.get("answer") or "")
    sources = list(result.get("sources") or [])
    declined = bool(result.get("abstained")) or declines(answer)
    # Markers read as the citation check reads them, so both count the same citations.
    citations = _citations(citation_numbers(answer), sources, question.evidence)
    sentences = result.get("sentences")
    model = None
    if sentences is not None:
        written = [n for sentence in sentences for n in sentence.get("model_citations") or []]
        model = _citations(written, sources, question.evidence)
    if not question.answerable:
        return Score(question.id, False, declined, end_to_end_ms, worker_ms, citations=citations,
                     model_citations=model)
    evidence = question.evidence or ""
    return Score(
        question.id, True, declined, end_to_end_ms, worker_ms,
        fact=any(contains(answer, alias) for alias in question.answers),
        evidence_in=tuple(n for n, s in enumerate(sources, start=1) if contains(passage_of(s), evidence)),
        citations=citations, model_citations=model,
    )


@dataclass(frozen=True)
class Summary:
    answerable: int
    fact: int
    citation_correct: int
    fact_and_citation: int  # the goal: the fact stated and a cited passage holding it
    retrieved: int
    invalid_citations: int  # citation numbers outside the sources, every occurrence
    answers_with_invalid_citations: int  # over all questions
    false_declines: int  # answerable questions declined
    unanswerable: int
    declined: int  # unanswerable questions declined
    # p50 and p95 of end_to_end_ms and worker_ms (see Score)
    latency_ms: dict[str, dict[str, float | None]] = field(default_factory=dict)
    # As the model wrote its citations (results with ``sentences``); None otherwise.
    model_citation_correct: int | None = None
    model_fact_and_citation: int | None = None
    model_invalid_citations: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(scores: Iterable[Score]) -> Summary:
    scores = list(scores)
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]
    with_model = [s for s in scores if s.model_citations is not None]
    model_figures: dict[str, int | None] = dict.fromkeys(
        ("model_citation_correct", "model_fact_and_citation", "model_invalid_citations")
    )
    if with_model and len(with_model) == len(scores):  # every result had sentences
        model_figures = {
            "model_citation_correct": sum(s.model_citations.correct for s in answerable if s.model_citations),
            "model_fact_and_citation": sum(
                s.fact and s.model_citations.correct for s in answerable if s.model_citations
            ),
            "model_invalid_citations": sum(s.model_citations.invalid for s in with_model if s.model_citations),
        }
    return Summary(
        answerable=len(answerable),
        fact=sum(s.fact for s in answerable),
        citation_correct=sum(bool(s.citations and s.citations.correct) for s in answerable),
        fact_and_citation=sum(s.fact_and_citation for s in answerable),
        retrieved=sum(s.retrieved for s in answerable),
        invalid_citations=sum(s.citations.invalid for s in scores if s.citations),
        answers_with_invalid_citations=sum(bool(s.citations and s.citations.invalid) for s in scores),
        false_declines=sum(s.declined for s in answerable),
        unanswerable=len(unanswerable),
        declined=sum(s.declined for s in unanswerable),
        latency_ms={"end_to_end": _percentiles([s.end_to_end_ms for s in scores]),
                    "worker": _percentiles([s.worker_ms for s in scores])},
        **model_figures,
    )


def _percentiles(values: Sequence[float | None]) -> dict[str, float | None]:
    known = [v for v in values if v is not None]
    return {"p50": percentile(known, 0.5), "p95": percentile(known, 0.95)}
